//! The forward pass: f32 arithmetic in a fixed order, f64 outputs.
//!
//! Per position t: `h_pre` (the residual stream after the last block, before the final LayerNorm),
//! `h_post` (after it), the logits `z = h_post · wteᵀ` (computed in f64 from the f32 `h_post`) and
//! `log p = z - logsumexp(z)` (f64). Optionally the residual stream entering every block.
//!
//! Cross-target determinism: only IEEE-exact operations (+, ·, /, sqrt) are done in f32, in a fixed
//! order (no FMA contraction in Rust); the transcendental functions (exp in the attention softmax,
//! the GELU sigmoid) are evaluated in f64 and rounded to f32, so native and wasm builds agree except in
//! the astronomically rare case where the two platforms' f64 `exp`/`tanh` differ by an ulp across an
//! f32 rounding boundary.

use super::config::{Config, LN_EPS};
use super::weights::{Layer, Weights};

/// Which final hidden state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HiddenState {
    /// Before the final LayerNorm (the raw residual stream).
    PreNorm,
    /// After the final LayerNorm (what the unembedding reads; default).
    #[default]
    PostNorm,
}

/// Options of [`forward`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardOptions {
    /// Keep the residual stream entering every block (`(n_layer + 1 - first_layer)·n·d` f64).
    pub keep_residuals: bool,
}

/// Result of a forward pass over `n` positions. All matrices row-major, f64.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    pub n: usize,
    pub d: usize,
    pub vocab: usize,
    pub n_layer: usize,
    /// `n × d`: final residual stream, before the final LayerNorm.
    pub h_pre: Vec<f64>,
    /// `n × d`: after the final LayerNorm.
    pub h_post: Vec<f64>,
    /// `n × vocab` logits.
    pub logits: Vec<f64>,
    /// `n × vocab` log-probabilities (log-sum-exp in f64).
    pub log_probs: Vec<f64>,
    /// First layer whose input is in `residuals` (0 for [`forward`]).
    pub first_layer: usize,
    /// Empty unless `keep_residuals`: blocks of `n × d` for layers `first_layer..=n_layer`; block
    /// `l` is the stream entering layer `l` (`l = 0`: token + position embedding), block `n_layer`
    /// equals `h_pre`.
    pub residuals: Vec<f64>,
}

impl Forward {
    /// Final hidden state at position `t`.
    pub fn h(&self, t: usize, which: HiddenState) -> &[f64] {
        let m = match which {
            HiddenState::PreNorm => &self.h_pre,
            HiddenState::PostNorm => &self.h_post,
        };
        &m[t * self.d..(t + 1) * self.d]
    }

    /// All final hidden states (`n × d`).
    pub fn hidden(&self, which: HiddenState) -> &[f64] {
        match which {
            HiddenState::PreNorm => &self.h_pre,
            HiddenState::PostNorm => &self.h_post,
        }
    }

    pub fn logits_at(&self, t: usize) -> &[f64] {
        &self.logits[t * self.vocab..(t + 1) * self.vocab]
    }

    pub fn log_probs_at(&self, t: usize) -> &[f64] {
        &self.log_probs[t * self.vocab..(t + 1) * self.vocab]
    }

    /// `-log p(token | x_<=t)` (the prediction made at position t).
    pub fn surprisal(&self, t: usize, token: u32) -> f64 {
        -self.log_probs_at(t)[token as usize]
    }

    /// Predictive entropy `H(p_t) = -Σ p log p` (nats; 0·log 0 = 0).
    pub fn entropy(&self, t: usize) -> f64 {
        entropy_of_log_probs(self.log_probs_at(t))
    }

    /// Residual stream entering layer `l` at position `t` (`l = n_layer`: `h_pre`), if kept.
    pub fn residual(&self, l: usize, t: usize) -> Option<&[f64]> {
        if self.residuals.is_empty() || l < self.first_layer || l > self.n_layer || t >= self.n {
            return None;
        }
        let start = ((l - self.first_layer) * self.n + t) * self.d;
        Some(&self.residuals[start..start + self.d])
    }
}

/// Bytes as tokens of the byte-level vocabulary.
pub fn bytes_to_tokens(bytes: &[u8]) -> Vec<u32> {
    bytes.iter().map(|&b| b as u32).collect()
}

/// `log p` of the logits `z` (f64 log-sum-exp, max subtracted first).
pub fn log_softmax(z: &[f64]) -> Vec<f64> {
    let mut out = z.to_vec();
    log_softmax_in_place(&mut out);
    out
}

fn log_softmax_in_place(z: &mut [f64]) {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = z.iter().map(|&v| (v - max).exp()).sum();
    let lse = max + sum.ln();
    for v in z.iter_mut() {
        *v -= lse;
    }
}

/// Entropy of a distribution given by its log-probabilities.
pub fn entropy_of_log_probs(lp: &[f64]) -> f64 {
    lp.iter()
        .filter(|v| v.is_finite())
        .map(|&v| -v.exp() * v)
        .sum()
}

/// The full forward pass over `tokens` (1 ..= context tokens, each < vocab).
pub fn forward(w: &Weights, tokens: &[u32], opts: ForwardOptions) -> Result<Forward, String> {
    let c = w.config;
    check_shapes(w)?;
    let n = tokens.len();
    if n == 0 || n > c.context {
        return Err(format!("{n} tokens: need 1..={}", c.context));
    }
    if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= c.vocab) {
        return Err(format!(
            "token {bad} is outside the vocabulary of {}",
            c.vocab
        ));
    }
    let d = c.d_model;
    let mut x = vec![0f32; n * d];
    for (t, &tok) in tokens.iter().enumerate() {
        let e = &w.wte[tok as usize * d..(tok as usize + 1) * d];
        let p = &w.wpe[t * d..(t + 1) * d];
        for ((o, a), b) in x[t * d..(t + 1) * d].iter_mut().zip(e).zip(p) {
            *o = a + b;
        }
    }
    Ok(run_from(w, 0, x, n, opts))
}

/// Runs layers `layer..n_layer`, the final norm and the readout on a given residual stream
/// (`n × d`, the input of layer `layer`; `layer = n_layer` skips every block). For steering at an
/// earlier layer: perturb `Forward::residual(layer, t)` and continue from here. The input is
/// rounded to f32.
pub fn forward_from(
    w: &Weights,
    layer: usize,
    residual: &[f64],
    n: usize,
    opts: ForwardOptions,
) -> Result<Forward, String> {
    let c = w.config;
    check_shapes(w)?;
    if layer > c.n_layer {
        return Err(format!("layer {layer} > n_layer = {}", c.n_layer));
    }
    if n == 0 || n > c.context {
        return Err(format!("n = {n}: need 1..={}", c.context));
    }
    if residual.len() != n * c.d_model {
        return Err(format!(
            "residual has {} values, expected n·d = {}",
            residual.len(),
            n * c.d_model
        ));
    }
    if residual.iter().any(|v| !v.is_finite()) {
        return Err("residual contains a non-finite value".into());
    }
    let x = residual.iter().map(|&v| v as f32).collect();
    Ok(run_from(w, layer, x, n, opts))
}

fn check_shapes(w: &Weights) -> Result<(), String> {
    w.config.validate()?;
    let specs = super::weights::tensor_specs(&w.config);
    let tensors = w.tensors();
    if specs.len() != tensors.len() {
        return Err("weights have the wrong number of layers".into());
    }
    for ((name, shape, _), t) in specs.iter().zip(tensors) {
        if t.len() != shape.iter().product::<usize>() {
            return Err(format!("tensor {name} has the wrong length"));
        }
    }
    Ok(())
}

/// Reused buffers of one pass (allocated once, never inside the loops).
struct Scratch {
    ln: Vec<f32>,
    qkv: Vec<f32>,
    att: Vec<f32>,
    tmp: Vec<f32>,
    hidden: Vec<f32>,
    scores: Vec<f32>,
}

fn run_from(
    w: &Weights,
    first_layer: usize,
    mut x: Vec<f32>,
    n: usize,
    opts: ForwardOptions,
) -> Forward {
    let c: Config = w.config;
    let d = c.d_model;
    let mut s = Scratch {
        ln: vec![0.0; n * d],
        qkv: vec![0.0; n * 3 * d],
        att: vec![0.0; n * d],
        tmp: vec![0.0; n * d],
        hidden: vec![0.0; n * c.mlp],
        scores: vec![0.0; n],
    };
    let mut residuals = Vec::new();
    if opts.keep_residuals {
        residuals.reserve((c.n_layer + 1 - first_layer) * n * d);
    }
    for layer in &w.layers[first_layer..] {
        if opts.keep_residuals {
            residuals.extend(x.iter().map(|&v| v as f64));
        }
        block(&c, layer, &mut x, n, &mut s);
    }
    if opts.keep_residuals {
        residuals.extend(x.iter().map(|&v| v as f64));
    }
    layer_norm_rows(&x, n, d, &w.lnf_g, &w.lnf_b, &mut s.ln);
    let h_pre: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let h_post: Vec<f64> = s.ln.iter().map(|&v| v as f64).collect();
    let logits = readout(w, &h_post, n);
    let mut log_probs = logits.clone();
    for row in log_probs.chunks_exact_mut(c.vocab) {
        log_softmax_in_place(row);
    }
    Forward {
        n,
        d,
        vocab: c.vocab,
        n_layer: c.n_layer,
        h_pre,
        h_post,
        logits,
        log_probs,
        first_layer,
        residuals,
    }
}

/// `n × vocab` logits `h · wteᵀ` in f64 (wte transposed once to `d × vocab` f64; summation over the
/// d coordinates in index order).
pub fn readout(w: &Weights, h: &[f64], n: usize) -> Vec<f64> {
    let (d, v) = (w.config.d_model, w.config.vocab);
    let mut wt = vec![0f64; d * v];
    for (j, row) in w.wte.chunks_exact(d).enumerate() {
        for (i, &val) in row.iter().enumerate() {
            wt[i * v + j] = val as f64;
        }
    }
    let mut out = vec![0f64; n * v];
    for t in 0..n {
        let z = &mut out[t * v..(t + 1) * v];
        for (i, &a) in h[t * d..(t + 1) * d].iter().enumerate() {
            for (zj, &wij) in z.iter_mut().zip(&wt[i * v..(i + 1) * v]) {
                *zj += a * wij;
            }
        }
    }
    out
}

fn block(c: &Config, l: &Layer, x: &mut [f32], n: usize, s: &mut Scratch) {
    let d = c.d_model;
    // Attention sub-block.
    layer_norm_rows(x, n, d, &l.ln1_g, &l.ln1_b, &mut s.ln);
    linear(&s.ln, n, d, &l.attn_w, &l.attn_b, 3 * d, &mut s.qkv);
    attention(c, &s.qkv, n, &mut s.scores, &mut s.att);
    linear(&s.att, n, d, &l.proj_w, &l.proj_b, d, &mut s.tmp);
    for (a, b) in x.iter_mut().zip(&s.tmp) {
        *a += b;
    }
    // MLP sub-block.
    layer_norm_rows(x, n, d, &l.ln2_g, &l.ln2_b, &mut s.ln);
    linear(&s.ln, n, d, &l.fc_w, &l.fc_b, c.mlp, &mut s.hidden);
    for h in s.hidden.iter_mut() {
        *h = gelu(*h);
    }
    linear(&s.hidden, n, c.mlp, &l.fc2_w, &l.fc2_b, d, &mut s.tmp);
    for (a, b) in x.iter_mut().zip(&s.tmp) {
        *a += b;
    }
}

/// GELU, tanh approximation: `0.5·x·(1 + tanh(u))`, `u = sqrt(2/π)·(x + 0.044715·x³)`, evaluated
/// in f64 through the identity `0.5·(1 + tanh u) = 1/(1 + exp(-2u))` and rounded to f32.
pub fn gelu(x: f32) -> f32 {
    let x = x as f64;
    let u = std::f64::consts::FRAC_2_SQRT_PI
        * std::f64::consts::FRAC_1_SQRT_2
        * (x + 0.044715 * x * x * x);
    (x / (1.0 + (-2.0 * u).exp())) as f32
}

/// LayerNorm of each row: mean and (biased) variance accumulated in f64, then
/// `((x - mean)·rstd)·g + b` in f32 with `rstd = 1/sqrt(var + eps)` rounded to f32.
fn layer_norm_rows(x: &[f32], n: usize, d: usize, g: &[f32], b: &[f32], out: &mut [f32]) {
    for t in 0..n {
        let row = &x[t * d..(t + 1) * d];
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / d as f64;
        let var = row
            .iter()
            .map(|&v| {
                let e = v as f64 - mean;
                e * e
            })
            .sum::<f64>()
            / d as f64;
        let rstd = (1.0 / (var + LN_EPS as f64).sqrt()) as f32;
        let mean = mean as f32;
        for (((o, &v), &gi), &bi) in out[t * d..(t + 1) * d].iter_mut().zip(row).zip(g).zip(b) {
            *o = (v - mean) * rstd * gi + bi;
        }
    }
}

/// `out[t] = b + Σ_i x[t,i]·W[i,:]` for `x: n × k`, `W: k × m` (input-major). Every output is
/// summed as `b[o] + x[t,0]·W[0,o] + x[t,1]·W[1,o] + …` in index order, whatever the tiling.
fn linear(x: &[f32], n: usize, k: usize, w: &[f32], b: &[f32], m: usize, out: &mut [f32]) {
    let mut t = 0;
    while t + 4 <= n {
        linear_rows::<4>(x, t, k, w, b, m, out);
        t += 4;
    }
    while t < n {
        linear_rows::<1>(x, t, k, w, b, m, out);
        t += 1;
    }
}

/// Rows `t..t+R` of [`linear`]: tiles of R rows × 8 outputs kept in registers.
fn linear_rows<const R: usize>(
    x: &[f32],
    t: usize,
    k: usize,
    w: &[f32],
    b: &[f32],
    m: usize,
    out: &mut [f32],
) {
    const C: usize = 8;
    let xs = &x[t * k..(t + R) * k];
    let mut o0 = 0;
    while o0 + C <= m {
        let mut acc = [[0f32; C]; R];
        for row in acc.iter_mut() {
            row.copy_from_slice(&b[o0..o0 + C]);
        }
        for (i, wrow) in w.chunks_exact(m).take(k).enumerate() {
            let wr: [f32; C] = wrow[o0..o0 + C].try_into().unwrap_or([0.0; C]);
            let mut a = [0f32; R];
            for (r, ar) in a.iter_mut().enumerate() {
                *ar = xs[r * k + i];
            }
            for (row, &ar) in acc.iter_mut().zip(&a) {
                for j in 0..C {
                    row[j] += ar * wr[j];
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            out[(t + r) * m + o0..(t + r) * m + o0 + C].copy_from_slice(row);
        }
        o0 += C;
    }
    for o in o0..m {
        for r in 0..R {
            let mut acc = b[o];
            for i in 0..k {
                acc += xs[r * k + i] * w[i * m + o];
            }
            out[(t + r) * m + o] = acc;
        }
    }
}

/// Dot product with 8 interleaved partial sums (lane j sums indices ≡ j mod 8), then the lanes in
/// order: a fixed, vectorisable order.
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    for (j, (x, y)) in ra.iter().zip(rb).enumerate() {
        acc[j] += x * y;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// Causal multi-head self-attention on `qkv` (`n × 3d`, q | k | v), result `n × d` (heads concatenated).
fn attention(c: &Config, qkv: &[f32], n: usize, scores: &mut [f32], out: &mut [f32]) {
    let d = c.d_model;
    let hd = c.head_dim();
    let scale = (1.0 / (hd as f64).sqrt()) as f32;
    for h in 0..c.n_head {
        for t in 0..n {
            let q = &qkv[t * 3 * d + h * hd..t * 3 * d + (h + 1) * hd];
            let sc = &mut scores[..=t];
            let mut max = f32::NEG_INFINITY;
            for (s, v) in sc.iter_mut().enumerate() {
                let k = &qkv[s * 3 * d + d + h * hd..s * 3 * d + d + (h + 1) * hd];
                *v = dot8(q, k) * scale;
                max = max.max(*v);
            }
            let mut sum = 0f32;
            for v in sc.iter_mut() {
                *v = ((*v - max) as f64).exp() as f32;
                sum += *v;
            }
            let inv = 1.0 / sum;
            let o = &mut out[t * d + h * hd..t * d + (h + 1) * hd];
            o.fill(0.0);
            for (s, &p) in sc.iter().enumerate() {
                let vrow = &qkv[s * 3 * d + 2 * d + h * hd..s * 3 * d + 2 * d + (h + 1) * hd];
                let pw = p * inv;
                for (oj, &vj) in o.iter_mut().zip(vrow) {
                    *oj += pw * vj;
                }
            }
        }
    }
}
