//! The forward pass: f32 arithmetic in a fixed order, f64 outputs.
//!
//! Per position t: `h_pre` (the residual stream after the last block, before the final LayerNorm),
//! `h_post` (after it), the logits `z = h_post · wteᵀ` (computed in f64 from the f32 `h_post`) and
//! `log p = z - logsumexp(z)` (f64). Optionally the residual stream entering every block.
//!
//! Cross-target determinism: only IEEE-exact operations (+, ·, /, sqrt) are done in f32, in a fixed
//! order (no FMA contraction in Rust); the transcendental functions (exp in the attention softmax,
//! the GELU sigmoid) are evaluated in f64 by td-lanes' `exp` (the same function on every target)
//! and rounded to f32; so are the exps of the logits' f64 log-sum-exp. Only its `ln` (one per
//! position) is the platform's, whose last bit may differ between glibc and the wasm libm.
//!
//! [`forward_patched`] adds a steering vector to one position's state (the residual stream entering
//! a block, or the final post-norm state); the crate-private `Cache` decodes one token at a time
//! with the keys and values of earlier positions kept, bit-identical to a full pass (it reuses the
//! per-row arithmetic of the full pass: every output row is computed in the same order whatever
//! the number of rows).

use td_lanes::{exp_narrow, exp_nonpos_with, exp_with, ExpConsts, Lane, F4, L2, NARROW_EXP_MIN};

use super::config::{Config, LN_EPS};
use super::matrix::{dispatch, widen_slice, Element, Matrix};
use super::strips::{pack_columns, LayerStrips, Strips, STRIP};
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

/// Where a steering vector is added by [`forward_patched`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchSite {
    /// The residual stream entering block `l` (`0..=n_layer`; `l = n_layer` is `h_pre`, before the
    /// final LayerNorm). Later positions attend to the patched one, so they change too.
    Residual(usize),
    /// The final post-norm state (f64, just before the readout): only that position's logits change.
    PostNorm,
}

/// A steering vector `delta` (length d) added at one position.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    pub site: PatchSite,
    pub position: usize,
    pub delta: Vec<f64>,
}

/// Largest |δ_i| a [`Patch`] may carry (keeps the f32 stream far from overflow).
pub const MAX_PATCH: f64 = 1e12;

impl Patch {
    /// Checks the patch against a model and a sequence length `n`: `position < n`, layer ≤
    /// n_layer, `delta.len() = d`, every value finite with |δ_i| ≤ [`MAX_PATCH`].
    pub fn validate(&self, config: &Config, n: usize) -> Result<(), String> {
        self.validate_for(config.n_layer, config.d_model, n)
    }

    /// [`Patch::validate`] for any model of `n_layer` blocks and width `d_model` (the Llama
    /// family's too).
    pub fn validate_for(&self, n_layer: usize, d_model: usize, n: usize) -> Result<(), String> {
        if self.position >= n {
            return Err(format!(
                "patch position {} is outside the {n} tokens",
                self.position
            ));
        }
        if let PatchSite::Residual(l) = self.site {
            if l > n_layer {
                return Err(format!("patch layer {l} > n_layer = {n_layer}"));
            }
        }
        if self.delta.len() != d_model {
            return Err(format!(
                "patch has {} values, d_model = {d_model}",
                self.delta.len()
            ));
        }
        if self
            .delta
            .iter()
            .any(|v| !v.is_finite() || v.abs() > MAX_PATCH)
        {
            return Err(format!(
                "patch values must be finite with |δ| <= {MAX_PATCH:e}"
            ));
        }
        Ok(())
    }
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

/// In place: `z - (max + ln Σ exp(z - max))`, the exps by td-lanes two at a time (the platform
/// `exp` is a scalar call in the page, and differs from glibc's in the last bit), summed in index
/// order; the maximum by comparisons (`f64::max` is a call in the page).
pub(crate) fn log_softmax_in_place(z: &mut [f64]) {
    let max = z
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let c = ExpConsts::<L2>::hoisted();
    let mut sum = 0.0;
    let (pairs, tail) = z.as_chunks::<2>();
    for pair in pairs {
        let e = exp_nonpos_with(L2::new(pair[0] - max, pair[1] - max), &c).lanes();
        sum += e[0];
        sum += e[1];
    }
    for &v in tail {
        sum += td_lanes::exp_nonpos_scalar(v - max);
    }
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
    forward_patched(w, tokens, opts, None)
}

/// [`forward`] with an optional steering [`Patch`]:
/// - `Residual(l)`: `delta` is added to the residual stream of position `position` as it enters
///   block `l`, the sum rounded to f32 once (`((x as f64 + δ) as f32)`, so this equals
///   [`forward_from`] on the stored layer-`l` residuals plus δ at that row); with
///   `l = n_layer` the patched stream is `h_pre`. The kept residuals and `h_pre` include δ; later
///   positions attend to the patched one and change too, earlier ones do not.
/// - `PostNorm`: `delta` is added (f64) to `h_post` at `position` before the readout; only that
///   position's logits change; the returned `h_post` includes δ.
///
/// `forward_patched(.., None)` is [`forward`] (bit for bit). Errors (never panics) as [`forward`],
/// and on a patch failing [`Patch::validate`].
pub fn forward_patched(
    w: &Weights,
    tokens: &[u32],
    opts: ForwardOptions,
    patch: Option<&Patch>,
) -> Result<Forward, String> {
    let x = embed(w, tokens)?;
    if let Some(p) = patch {
        p.validate(&w.config, tokens.len())?;
    }
    Ok(run_from(w, 0, x, tokens.len(), opts, patch, None))
}

/// Checks shapes and tokens; token + position embeddings (f32, `n × d`).
fn embed(w: &Weights, tokens: &[u32]) -> Result<Vec<f32>, String> {
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
        embed_row(w, tok, t, &mut x[t * d..(t + 1) * d]);
    }
    Ok(x)
}

fn embed_row(w: &Weights, tok: u32, t: usize, out: &mut [f32]) {
    let d = w.config.d_model;
    w.wte.widen_into(tok as usize * d, out);
    for (o, b) in out.iter_mut().zip(w.wpe.slice_f32(t * d, d).iter()) {
        *o += b;
    }
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
    Ok(run_from(w, layer, x, n, opts, None, None))
}

fn check_shapes(w: &Weights) -> Result<(), String> {
    w.config.validate()?;
    let specs = super::weights::tensor_specs(&w.config);
    let tensors = w.tensor_refs();
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
    /// Packed weight strip of [`linear`].
    pack: Vec<f32>,
}

/// Adds a residual patch to row `position` of `x` if it targets `layer`.
fn apply_residual_patch(x: &mut [f32], d: usize, layer: usize, patch: Option<&Patch>) {
    if let Some(p) = patch {
        if p.site == PatchSite::Residual(layer) {
            let row = &mut x[p.position * d..(p.position + 1) * d];
            for (v, &dv) in row.iter_mut().zip(&p.delta) {
                *v = (*v as f64 + dv) as f32;
            }
        }
    }
}

/// Blocks `first_layer..`, final norm, readout. `patch` must have been validated; `qkv_sink`, if
/// given, receives the `n × 3d` query/key/value matrix of every block run (for [`Cache`]).
fn run_from(
    w: &Weights,
    first_layer: usize,
    mut x: Vec<f32>,
    n: usize,
    opts: ForwardOptions,
    patch: Option<&Patch>,
    mut qkv_sink: Option<&mut Vec<Vec<f32>>>,
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
        pack: Vec::new(),
    };
    let mut residuals = Vec::new();
    if opts.keep_residuals {
        residuals.reserve((c.n_layer + 1 - first_layer) * n * d);
    }
    // A single row reads W row by row (`linear_row`), not in strips.
    let strips = if n >= 2 { w.layers.strips() } else { None };
    for (li, layer) in w.layers.iter().enumerate().skip(first_layer) {
        apply_residual_patch(&mut x, d, li, patch);
        if opts.keep_residuals {
            residuals.extend(x.iter().map(|&v| v as f64));
        }
        block(&c, layer, strips.and_then(|t| t.get(li)), &mut x, n, &mut s);
        if let Some(sink) = qkv_sink.as_deref_mut() {
            sink.push(s.qkv.clone());
        }
    }
    apply_residual_patch(&mut x, d, c.n_layer, patch);
    if opts.keep_residuals {
        residuals.extend(x.iter().map(|&v| v as f64));
    }
    layer_norm_rows(&x, n, d, &w.lnf_g, &w.lnf_b, &mut s.ln);
    let h_pre: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut h_post: Vec<f64> = s.ln.iter().map(|&v| v as f64).collect();
    if let Some(p) = patch {
        if p.site == PatchSite::PostNorm {
            for (v, dv) in h_post[p.position * d..(p.position + 1) * d]
                .iter_mut()
                .zip(&p.delta)
            {
                *v += dv;
            }
        }
    }
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

/// Incremental decoding state (crate-private, used by `generate`): the query/key/value rows of
/// every position so far, per block. [`Cache::prefill`] runs the full (optionally patched) pass;
/// [`Cache::extend`] appends one token and returns the log-probabilities at the new position,
/// bit-identical to `forward_patched(all tokens).log_probs_at(last)` as long as the patch is at a
/// position of the prefilled tokens (it then never touches a later row: a residual patch reaches
/// later rows only through the cached keys and values, a post-norm patch not at all).
pub(crate) struct Cache {
    config: Config,
    n: usize,
    qkv: Vec<Vec<f32>>,
}

impl Cache {
    /// Full patched pass over `tokens`; returns the cache and the pass.
    pub(crate) fn prefill(
        w: &Weights,
        tokens: &[u32],
        patch: Option<&Patch>,
    ) -> Result<(Cache, Forward), String> {
        let x = embed(w, tokens)?;
        if let Some(p) = patch {
            p.validate(&w.config, tokens.len())?;
        }
        let mut qkv = Vec::with_capacity(w.config.n_layer);
        let fwd = run_from(
            w,
            0,
            x,
            tokens.len(),
            ForwardOptions::default(),
            patch,
            Some(&mut qkv),
        );
        Ok((
            Cache {
                config: w.config,
                n: tokens.len(),
                qkv,
            },
            fwd,
        ))
    }

    /// Appends `token` at position `n` and returns the log-probabilities there (length V).
    pub(crate) fn extend(&mut self, w: &Weights, token: u32) -> Result<Vec<f64>, String> {
        let c = w.config;
        if c != self.config || self.qkv.len() != c.n_layer {
            return Err("the cache was built for other weights".into());
        }
        check_shapes(w)?;
        let t = self.n;
        if t >= c.context {
            return Err(format!("the context of {} tokens is full", c.context));
        }
        if token as usize >= c.vocab {
            return Err(format!(
                "token {token} is outside the vocabulary of {}",
                c.vocab
            ));
        }
        let d = c.d_model;
        let mut x = vec![0f32; d];
        embed_row(w, token, t, &mut x);
        let mut s = Scratch {
            ln: vec![0.0; d],
            qkv: vec![0.0; 3 * d],
            att: vec![0.0; d],
            tmp: vec![0.0; d],
            hidden: vec![0.0; c.mlp],
            scores: vec![0.0; t + 1],
            pack: Vec::new(),
        };
        for (layer, qkv) in w.layers.iter().zip(self.qkv.iter_mut()) {
            layer_norm_rows(&x, 1, d, &layer.ln1_g, &layer.ln1_b, &mut s.ln);
            linear(
                &s.ln,
                1,
                d,
                &layer.attn_w,
                &layer.attn_b,
                3 * d,
                &mut s.qkv,
                &mut s.pack,
            );
            qkv.extend_from_slice(&s.qkv);
            attention_row(&c, qkv, t, &mut s.scores, &mut s.att);
            linear(
                &s.att,
                1,
                d,
                &layer.proj_w,
                &layer.proj_b,
                d,
                &mut s.tmp,
                &mut s.pack,
            );
            for (a, b) in x.iter_mut().zip(&s.tmp) {
                *a += b;
            }
            mlp_sub_block(&c, layer, None, &mut x, 1, &mut s);
        }
        self.n += 1;
        layer_norm_rows(&x, 1, d, &w.lnf_g, &w.lnf_b, &mut s.ln);
        let h_post: Vec<f64> = s.ln.iter().map(|&v| v as f64).collect();
        let mut lp = readout(w, &h_post, 1);
        log_softmax_in_place(&mut lp);
        Ok(lp)
    }
}

/// `n × vocab` logits `h · wteᵀ` in f64: every logit is summed as
/// `0 + h[t,0]·wte[j,0] + h[t,1]·wte[j,1] + …` in index order (f64 products of the weights,
/// each widened exactly to f32 first, whatever their stored precision).
///
/// Blocks of 4 rows use register tiles of 4 rows × 4 tokens over the unembedding transposed to
/// f64, one chunk of 256 tokens at a time (a `d × chunk` copy that stays in cache,
/// instead of a `d × vocab` one: 309 MB for GPT-2 small); the last `n mod 4` rows (all of them
/// for the one-row decoding step, where the transpose would cost as much as the readout) read
/// the rows of `wte` directly, 8 tokens at a time.
pub fn readout(w: &Weights, h: &[f64], n: usize) -> Vec<f64> {
    readout_matrix(&w.wte, w.config.d_model, w.config.vocab, h, n)
}

/// Tokens per transposed chunk of [`readout`].
const READOUT_CHUNK: usize = 256;

/// [`readout`] through any `v × d` unembedding matrix (row j: token j), in the same order.
pub(crate) fn readout_matrix(
    unembed: &Matrix,
    d: usize,
    v: usize,
    h: &[f64],
    n: usize,
) -> Vec<f64> {
    dispatch!(unembed, |u| readout_stored(u, d, v, h, n))
}

/// [`readout_matrix`] over the stored elements (each widened to f32, then to f64).
fn readout_stored<T: Element>(unembed: &[T], d: usize, v: usize, h: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0f64; n * v];
    let blocks = n / 4;
    if blocks > 0 {
        let mut wt = vec![0f64; d * READOUT_CHUNK.min(v)];
        for j0 in (0..v).step_by(READOUT_CHUNK) {
            let cw = READOUT_CHUNK.min(v - j0);
            for (j, row) in unembed[j0 * d..(j0 + cw) * d].chunks_exact(d).enumerate() {
                for (i, &val) in row.iter().enumerate() {
                    wt[i * cw + j] = val.widen() as f64;
                }
            }
            for tb in 0..blocks {
                let t = 4 * tb;
                readout_rows4(
                    &h[t * d..(t + 4) * d],
                    &wt[..d * cw],
                    d,
                    cw,
                    &mut out[t * v..(t + 4) * v],
                    (v, j0),
                );
            }
        }
    }
    for t in 4 * blocks..n {
        readout_row(
            unembed,
            &h[t * d..(t + 1) * d],
            &mut out[t * v..(t + 1) * v],
        );
    }
    out
}

/// Four rows of [`readout`] for the `cw` tokens of the transposed chunk `wt` (`d × cw`): tiles
/// of 4 rows × 4 tokens. `out` holds the 4 rows (`stride` = vocab apart); the chunk's first
/// token is `j_off`.
fn readout_rows4(
    h: &[f64],
    wt: &[f64],
    d: usize,
    cw: usize,
    out: &mut [f64],
    (stride, j_off): (usize, usize),
) {
    const C: usize = 4;
    let mut j0 = 0;
    while j0 + C <= cw {
        let mut acc = [[0f64; C]; 4];
        for (i, wrow) in wt.chunks_exact(cw).take(d).enumerate() {
            let wv: [f64; C] = wrow[j0..j0 + C].try_into().unwrap_or([0.0; C]);
            for (r, row) in acc.iter_mut().enumerate() {
                let a = h[r * d + i];
                for c in 0..C {
                    row[c] += a * wv[c];
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            let at = r * stride + j_off + j0;
            out[at..at + C].copy_from_slice(row);
        }
        j0 += C;
    }
    for j in j0..cw {
        for r in 0..4 {
            let mut acc = 0f64;
            for i in 0..d {
                acc += h[r * d + i] * wt[i * cw + j];
            }
            out[r * stride + j_off + j] = acc;
        }
    }
}

/// One row of [`readout`] straight from `wte` (`v × d`): 8 tokens' sums at a time.
fn readout_row<T: Element>(wte: &[T], h: &[f64], out: &mut [f64]) {
    const J: usize = 8;
    let d = h.len();
    let mut blocks = wte.chunks_exact(J * d);
    let mut outs = out.chunks_exact_mut(J);
    for (rows, z) in (&mut blocks).zip(&mut outs) {
        let mut acc = [0f64; J];
        for (i, &a) in h.iter().enumerate() {
            for (jj, aj) in acc.iter_mut().enumerate() {
                *aj += a * rows[jj * d + i].widen() as f64;
            }
        }
        z.copy_from_slice(&acc);
    }
    for (row, z) in blocks
        .remainder()
        .chunks_exact(d)
        .zip(outs.into_remainder())
    {
        let mut acc = 0f64;
        for (&a, &wv) in h.iter().zip(row) {
            acc += a * wv.widen() as f64;
        }
        *z = acc;
    }
}

/// One block on `n` rows; `strips`, if the model keeps them, are `l`'s.
fn block(
    c: &Config,
    l: &Layer,
    strips: Option<&LayerStrips>,
    x: &mut [f32],
    n: usize,
    s: &mut Scratch,
) {
    let d = c.d_model;
    // Attention sub-block.
    layer_norm_rows(x, n, d, &l.ln1_g, &l.ln1_b, &mut s.ln);
    linear_in_strips(
        &s.ln,
        n,
        d,
        &l.attn_w,
        strips.map(|t| &t.attn),
        &l.attn_b,
        3 * d,
        &mut s.qkv,
        &mut s.pack,
    );
    attention(c, &s.qkv, n, &mut s.scores, &mut s.att);
    linear_in_strips(
        &s.att,
        n,
        d,
        &l.proj_w,
        strips.map(|t| &t.proj),
        &l.proj_b,
        d,
        &mut s.tmp,
        &mut s.pack,
    );
    for (a, b) in x.iter_mut().zip(&s.tmp) {
        *a += b;
    }
    mlp_sub_block(c, l, strips, x, n, s);
}

/// `x += MLP(LN2(x))` on `n` rows.
fn mlp_sub_block(
    c: &Config,
    l: &Layer,
    strips: Option<&LayerStrips>,
    x: &mut [f32],
    n: usize,
    s: &mut Scratch,
) {
    let d = c.d_model;
    layer_norm_rows(x, n, d, &l.ln2_g, &l.ln2_b, &mut s.ln);
    linear_in_strips(
        &s.ln,
        n,
        d,
        &l.fc_w,
        strips.map(|t| &t.fc),
        &l.fc_b,
        c.mlp,
        &mut s.hidden,
        &mut s.pack,
    );
    gelu_in_place(&mut s.hidden);
    linear_in_strips(
        &s.hidden,
        n,
        c.mlp,
        &l.fc2_w,
        strips.map(|t| &t.fc2),
        &l.fc2_b,
        d,
        &mut s.tmp,
        &mut s.pack,
    );
    for (a, b) in x.iter_mut().zip(&s.tmp) {
        *a += b;
    }
}

/// `sqrt(2/π)`, as the product of the two constants (rounded once more, as before).
const GELU_SQRT_2_OVER_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;

/// GELU, tanh approximation: `0.5·x·(1 + tanh(u))`, `u = sqrt(2/π)·(x + 0.044715·x³)`, evaluated
/// in f64 through the identity `0.5·(1 + tanh u) = 1/(1 + exp(-2u))` and rounded to f32. The `exp`
/// is td-lanes' (the same bits natively and in the page); the forward pass gives the same bits
/// two at a time.
pub fn gelu(x: f32) -> f32 {
    gelu_lanes(x as f64, &ExpConsts::inline()) as f32
}

/// [`gelu`] in f64 on one number or two lanes (the same operations in the same order).
#[inline(always)]
fn gelu_lanes<V: Lane + core::ops::Div<Output = V>>(x: V, c: &ExpConsts<V>) -> V {
    x / (V::splat(1.0) + exp_with(gelu_exponent(x), c))
}

/// The GELU's exponent `-2u`, `u = sqrt(2/π)·(x + 0.044715·x³)`.
#[inline(always)]
fn gelu_exponent<V: Lane>(x: V) -> V {
    let cubic = V::splat(0.044715) * x * x * x;
    V::splat(-2.0) * (V::splat(GELU_SQRT_2_OVER_PI) * (x + cubic))
}

/// Up to this |x| the GELU's exponent `-2u` stays within `±NARROW_EXP_MIN` (|2u| <= 603 at 20),
/// where `exp_narrow` gives `exp_with`'s bits.
const GELU_NARROW_MAX: f32 = 20.0;

/// [`gelu`] of every entry, two at a time (f64x2 in the page: the platform `exp` there is a
/// scalar call, which cost about a sixth of a forward pass), by blocks of 64. A block whose
/// entries all lie within `GELU_NARROW_MAX` (every block but near outliers) takes the cheaper
/// exp, in two sweeps (the exps, then the quotients: one sweep holding both ran out of
/// registers in the page, 20% slower): the same operations on each entry, the same bits.
fn gelu_in_place(h: &mut [f32]) {
    let c = ExpConsts::<L2>::hoisted();
    let mut exps = [c.zero(); 32];
    let pair_of = |p: &[f32; 2]| L2::new(p[0] as f64, p[1] as f64);
    for block in h.chunks_mut(64) {
        let narrow = block.iter().all(|v| v.abs() <= GELU_NARROW_MAX);
        let (pairs, tail) = block.as_chunks_mut::<2>();
        if narrow {
            for (pair, e) in pairs.iter().zip(exps.iter_mut()) {
                *e = exp_narrow(gelu_exponent(pair_of(pair)), &c);
            }
            for (pair, &e) in pairs.iter_mut().zip(exps.iter()) {
                let g = (pair_of(pair) / (L2::splat(1.0) + e)).lanes();
                *pair = [g[0] as f32, g[1] as f32];
            }
        } else {
            for pair in pairs.iter_mut() {
                let g = gelu_lanes(pair_of(pair), &c).lanes();
                *pair = [g[0] as f32, g[1] as f32];
            }
        }
        for v in tail {
            *v = gelu(*v);
        }
    }
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
///
/// Pairs of rows go through register tiles of 2 rows × 16 outputs (8 vectors of 4 lanes: enough
/// independent sums to hide the add latency, with 2 broadcasts per 8 products). The 16 columns
/// of W a tile reads are one contiguous `k × 16` strip (f32): taken from `strips` when the model
/// keeps them ([`crate::strips`]), otherwise first copied to `pack`; every row pair then runs over
/// that strip while it sits in L1. A single row (the cached decoding step, and the last row when
/// n is odd) is an `axpy` sweep instead, [`linear_row`]. `pack` is scratch space.
#[expect(
    clippy::too_many_arguments,
    reason = "a matrix product: input, its shape, weights, bias, output and one scratch buffer"
)]
pub(crate) fn linear(
    x: &[f32],
    n: usize,
    k: usize,
    w: &Matrix,
    b: &[f32],
    m: usize,
    out: &mut [f32],
    pack: &mut Vec<f32>,
) {
    linear_in_strips(x, n, k, w, None, b, m, out, pack);
}

/// [`linear`], reading `w`'s strips from `strips` when given (and of `w`'s shape).
#[expect(
    clippy::too_many_arguments,
    reason = "linear's arguments and the weights' strips"
)]
fn linear_in_strips(
    x: &[f32],
    n: usize,
    k: usize,
    w: &Matrix,
    strips: Option<&Strips>,
    b: &[f32],
    m: usize,
    out: &mut [f32],
    pack: &mut Vec<f32>,
) {
    const C: usize = STRIP;
    let strips = strips.filter(|s| s.fits(k, m));
    let paired = n - n % 2;
    if paired > 0 {
        let mut o0 = 0;
        while o0 + C <= m {
            let strip: &[f32] = match strips {
                Some(s) => s.strip(o0, C),
                None => {
                    pack_columns(w, m, o0, C, pack);
                    pack
                }
            };
            let bias: [f32; C] = b[o0..o0 + C].try_into().unwrap_or([0.0; C]);
            for t in (0..paired).step_by(2) {
                let (x0, x1) = x[t * k..(t + 2) * k].split_at(k);
                let [z0, z1] = linear_tile2(x0, x1, strip, &bias);
                out[t * m + o0..t * m + o0 + C].copy_from_slice(&z0);
                out[(t + 1) * m + o0..(t + 1) * m + o0 + C].copy_from_slice(&z1);
            }
            o0 += C;
        }
        // Columns left over when m is not a multiple of C (not at the default sizes).
        let rest = m - o0;
        let strip: &[f32] = match strips {
            Some(s) => s.strip(o0, rest),
            None => {
                pack_columns(w, m, o0, rest, pack);
                pack
            }
        };
        for o in o0..m {
            for t in 0..paired {
                let mut acc = b[o];
                for (i, &xv) in x[t * k..(t + 1) * k].iter().enumerate() {
                    acc += xv * strip[i * rest + o - o0];
                }
                out[t * m + o] = acc;
            }
        }
    }
    for t in paired..n {
        let (x, out) = (&x[t * k..(t + 1) * k], &mut out[t * m..(t + 1) * m]);
        dispatch!(w, |w| linear_row(x, w, b, out));
    }
}

/// Two rows `x0`, `x1` (length k) times a packed strip `p` (`k × C`) plus `bias`.
#[inline(always)]
fn linear_tile2<const C: usize>(
    x0: &[f32],
    x1: &[f32],
    p: &[f32],
    bias: &[f32; C],
) -> [[f32; C]; 2] {
    let mut z0 = *bias;
    let mut z1 = *bias;
    for ((&a0, &a1), wv) in x0.iter().zip(x1).zip(p.chunks_exact(C)) {
        let wv: [f32; C] = wv.try_into().unwrap_or([0.0; C]);
        for c in 0..C {
            z0[c] += a0 * wv[c];
        }
        for c in 0..C {
            z1[c] += a1 * wv[c];
        }
    }
    [z0, z1]
}

/// One row of [`linear`] (each output summed as `b[o] + x[0]·W[0,o] + x[1]·W[1,o] + …`): strips
/// of 32 outputs kept in registers (8 vectors) down all k rows of W, so every weight is loaded
/// once and the outputs are stored once (an `axpy` sweep per row of W loads and stores the whole
/// output k times). The outputs left over past the last strip are summed by such a sweep.
fn linear_row<T: Element>(x: &[f32], w: &[T], b: &[f32], out: &mut [f32]) {
    const C: usize = 32;
    let m = out.len();
    let mut o0 = 0;
    while o0 + C <= m {
        let mut acc: [f32; C] = b[o0..o0 + C].try_into().unwrap_or([0.0; C]);
        for (&a, wrow) in x.iter().zip(w.chunks_exact(m)) {
            let mut wv = [0f32; C];
            widen_slice(&wrow[o0..o0 + C], &mut wv);
            for c in 0..C {
                acc[c] += a * wv[c];
            }
        }
        out[o0..o0 + C].copy_from_slice(&acc);
        o0 += C;
    }
    let rest = &mut out[o0..];
    rest.copy_from_slice(&b[o0..]);
    for (&a, wrow) in x.iter().zip(w.chunks_exact(m)) {
        for (o, &wv) in rest.iter_mut().zip(&wrow[o0..]) {
            *o += a * wv.widen();
        }
    }
}

/// Dot product with 8 interleaved partial sums (lane j sums indices ≡ j mod 8), then the lanes in
/// order: a fixed, vectorisable order.
pub(crate) fn dot8(a: &[f32], b: &[f32]) -> f32 {
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

/// [`dot8`] of `q` with four vectors at once (each as long as `q`, a multiple of 8): each result
/// is [`dot8`]'s, bit for bit. The four keys sit in the lanes, so their partial sums are added
/// across lanes after one transpose, not lane by lane per key (which took about half of the
/// attention's time in the page).
#[inline(always)]
pub(crate) fn dot8_x4(q: &[f32], k: [&[f32]; 4]) -> [f32; 4] {
    let zero = F4::splat(0.0);
    let (mut lo, mut hi) = ([zero; 4], [zero; 4]);
    for (c, qc) in q.chunks_exact(8).enumerate() {
        let (q_lo, q_hi) = (F4::load(&qc[..4]), F4::load(&qc[4..]));
        for i in 0..4 {
            let kc = &k[i][8 * c..8 * c + 8];
            lo[i] = lo[i] + q_lo * F4::load(&kc[..4]);
            hi[i] = hi[i] + q_hi * F4::load(&kc[4..]);
        }
    }
    // Column j holds partial sum j of the four keys: per key ((a0 + a1) + (a2 + a3)) +
    // ((a4 + a5) + (a6 + a7)), dot8's order.
    let pairs = |v: [F4; 4]| {
        let [c0, c1, c2, c3] = F4::transpose(v);
        (c0 + c1) + (c2 + c3)
    };
    (pairs(lo) + pairs(hi)).lanes()
}

/// Attention scores `sc[s] = dot8(q, key(s))·scale` for every slot of `sc` (four keys at a time
/// when the head width is a multiple of 8); returns their maximum.
#[inline(always)]
pub(crate) fn scaled_scores<'a>(
    q: &[f32],
    key: impl Fn(usize) -> &'a [f32],
    scale: f32,
    sc: &mut [f32],
) -> f32 {
    let mut max = f32::NEG_INFINITY;
    let quads = if q.len().is_multiple_of(8) {
        sc.len() / 4 * 4
    } else {
        0
    };
    for s0 in (0..quads).step_by(4) {
        let dots = dot8_x4(q, [key(s0), key(s0 + 1), key(s0 + 2), key(s0 + 3)]);
        for (v, dot) in sc[s0..s0 + 4].iter_mut().zip(dots) {
            *v = dot * scale;
            max = larger(max, *v);
        }
    }
    for (s, v) in sc.iter_mut().enumerate().skip(quads) {
        *v = dot8(q, key(s)) * scale;
        max = larger(max, *v);
    }
    max
}

/// `f32::max` for these scores (NaN ignored likewise) by one comparison: in the page `f32::max`
/// and `f32::min` are calls (WebAssembly's `f32.max` differs on NaN), one per key and head.
#[inline(always)]
fn larger(m: f32, v: f32) -> f32 {
    if v > m {
        v
    } else {
        m
    }
}

/// Causal multi-head self-attention on `qkv` (`n × 3d`, q | k | v), result `n × d` (heads concatenated).
fn attention(c: &Config, qkv: &[f32], n: usize, scores: &mut [f32], out: &mut [f32]) {
    let d = c.d_model;
    for t in 0..n {
        attention_row(c, qkv, t, scores, &mut out[t * d..(t + 1) * d]);
    }
}

/// Attention output of row `t` (length d) over rows `0..=t` of `qkv`; `scores` has ≥ t + 1 slots.
///
/// Per head: scores `q·k_s·scale` ([`dot8`]), softmax weights `p_s = exp(score - max)/Σ` as
/// `p_s·(1/Σ)`, then `out[j] = 0 + p_0·v_0[j] + p_1·v_1[j] + …` in order of s, accumulated in
/// registers over blocks of up to 32 output coordinates (accumulated in memory, each step of
/// that chain waited for a store to be forwarded).
fn attention_row(c: &Config, qkv: &[f32], t: usize, scores: &mut [f32], out: &mut [f32]) {
    let d = c.d_model;
    let hd = c.head_dim();
    let stride = 3 * d;
    let scale = (1.0 / (hd as f64).sqrt()) as f32;
    let (exp2, exp1) = (ExpConsts::<L2>::hoisted(), ExpConsts::<f64>::inline());
    for h in 0..c.n_head {
        let q = &qkv[t * stride + h * hd..t * stride + (h + 1) * hd];
        let sc = &mut scores[..=t];
        let key = |s: usize| &qkv[s * stride + d + h * hd..s * stride + d + (h + 1) * hd];
        let max = scaled_scores(q, key, scale, sc);
        softmax_scores(sc, max, &exp2, &exp1);
        let o = &mut out[h * hd..(h + 1) * hd];
        let off = 2 * d + h * hd;
        let mut j0 = 0;
        while j0 + 32 <= hd {
            weighted_rows::<32>(sc, qkv, stride, off + j0, &mut o[j0..j0 + 32]);
            j0 += 32;
        }
        while j0 + 8 <= hd {
            weighted_rows::<8>(sc, qkv, stride, off + j0, &mut o[j0..j0 + 8]);
            j0 += 8;
        }
        for (j, oj) in o.iter_mut().enumerate().skip(j0) {
            let mut acc = 0f32;
            for (s, &p) in sc.iter().enumerate() {
                acc += p * qkv[s * stride + off + j];
            }
            *oj = acc;
        }
    }
}

/// Attention weights from scores in place: `exp(score - max)` in f64 two at a time (td-lanes),
/// rounded to f32, the sum in order of s, then each times `1/sum`. Shared by both families'
/// passes (and their caches), so they weigh positions with the same bits.
pub(crate) fn softmax_scores(
    sc: &mut [f32],
    max: f32,
    exp2: &ExpConsts<L2>,
    exp1: &ExpConsts<f64>,
) {
    let mut sum = 0f32;
    // With every exponent above NARROW_EXP_MIN (scores within ~690 of their maximum, as always
    // but for pathological weights), exp_narrow gives exp_nonpos's bits for less work.
    let lowest = sc
        .iter()
        .fold(f32::INFINITY, |m, &v| if v < m { v } else { m });
    let narrow = (lowest - max) as f64 >= NARROW_EXP_MIN;
    let (pairs, tail) = sc.as_chunks_mut::<2>();
    for pair in pairs {
        let d = L2::new((pair[0] - max) as f64, (pair[1] - max) as f64);
        let e = if narrow {
            exp_narrow(d, exp2)
        } else {
            exp_nonpos_with(d, exp2)
        }
        .lanes();
        *pair = [e[0] as f32, e[1] as f32];
        sum += pair[0];
        sum += pair[1];
    }
    for v in tail {
        *v = exp_nonpos_with((*v - max) as f64, exp1) as f32;
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in sc.iter_mut() {
        *v *= inv;
    }
}

/// `out = 0 + p_0·m[0, off..off+B] + p_1·m[1, off..off+B] + …` (rows of `m` `stride` apart).
#[inline(always)]
pub(crate) fn weighted_rows<const B: usize>(
    p: &[f32],
    m: &[f32],
    stride: usize,
    off: usize,
    out: &mut [f32],
) {
    let mut acc = [0f32; B];
    for (s, &ps) in p.iter().enumerate() {
        let v: [f32; B] = m[s * stride + off..s * stride + off + B]
            .try_into()
            .unwrap_or([0.0; B]);
        for j in 0..B {
            acc[j] += ps * v[j];
        }
    }
    out.copy_from_slice(&acc);
}

#[cfg(test)]
mod readout_tests {
    use super::readout_matrix;

    /// Every logit is the sum `0 + h[t,0]·u[j,0] + …` in index order, bit for bit, across the
    /// transposed chunks, their ragged last chunk, the 4-row tiles and the leftover rows.
    #[test]
    fn chunked_readout_sums_in_index_order() {
        let (d, v, n) = (13, 600, 7);
        let u: Vec<f32> = (0..v * d)
            .map(|i| ((i * 7919 % 1009) as f32 - 504.0) / 97.0)
            .collect();
        let h: Vec<f64> = (0..n * d)
            .map(|i| ((i * 31 % 17) as f64 - 8.0) / 3.3)
            .collect();
        let got = readout_matrix(&u.clone().into(), d, v, &h, n);
        for t in 0..n {
            for j in 0..v {
                let mut acc = 0f64;
                for i in 0..d {
                    acc += h[t * d + i] * u[j * d + i] as f64;
                }
                assert_eq!(got[t * v + j].to_bits(), acc.to_bits(), "t {t}, j {j}");
            }
        }
    }
}

#[cfg(test)]
mod kernel_tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Four keys at a time give each key's dot8 bit for bit.
        #[test]
        fn dot8_x4_is_dot8(
            q in prop::collection::vec(-50.0f32..50.0, 40),
            keys in prop::collection::vec(prop::collection::vec(-50.0f32..50.0, 40), 4),
            eighths in 1usize..=5,
        ) {
            let n = 8 * eighths;
            let k: [&[f32]; 4] = core::array::from_fn(|i| &keys[i][..n]);
            let got = dot8_x4(&q[..n], k);
            for i in 0..4 {
                prop_assert_eq!(got[i].to_bits(), dot8(&q[..n], k[i]).to_bits(), "key {}", i);
            }
        }

        /// The scores of a row, whatever its length and head width, are dot8's times the scale.
        #[test]
        fn scaled_scores_are_dot8s(
            rows in prop::collection::vec(-9.0f32..9.0, 13 * 12),
            hd in 1usize..=12,
            len in 1usize..=13,
        ) {
            let q = &rows[..hd];
            let key = |s: usize| &rows[s * 12..s * 12 + hd];
            let mut sc = vec![0f32; len];
            let max = scaled_scores(q, key, 0.3, &mut sc);
            let want: Vec<f32> = (0..len).map(|s| dot8(q, key(s)) * 0.3).collect();
            prop_assert_eq!(sc.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            prop_assert_eq!(max, want.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)));
        }

        /// The attention weights, by the narrow exp or the full one, are `exp_nonpos` of each
        /// shifted score rounded to f32, times 1/Σ.
        #[test]
        fn softmax_scores_use_exp_nonpos(
            scores in prop::collection::vec(-900.0f32..20.0, 1..40),
        ) {
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut got = scores.clone();
            softmax_scores(&mut got, max, &ExpConsts::hoisted(), &ExpConsts::inline());
            let e: Vec<f32> = scores.iter().map(|&v| td_lanes::exp_nonpos_scalar((v - max) as f64) as f32).collect();
            let inv = 1.0 / e.iter().fold(0f32, |s, &v| s + v);
            for (g, w) in got.iter().zip(&e) {
                prop_assert_eq!(g.to_bits(), (w * inv).to_bits());
            }
        }
    }

    proptest! {
        /// The log-sum-exp by td-lanes' exp is the platform-exp one within 1e-15 (relative to
        /// the row's scale): what the pinned bits of the log-probabilities moved by.
        #[test]
        fn log_softmax_matches_the_platform_exp(z in prop::collection::vec(-60.0f64..60.0, 1..300)) {
            let mut got = z.clone();
            log_softmax_in_place(&mut got);
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + z.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
            for (g, v) in got.iter().zip(&z) {
                prop_assert!((g - (v - lse)).abs() <= 1e-15 * (1.0 + max.abs() + lse.abs()), "{} vs {}", g, v - lse);
            }
        }
    }

    /// Every GELU of a slice (the narrow blocks and the ones with outliers) is the scalar one.
    #[test]
    fn gelu_blocks_are_the_scalar_gelu() {
        let mut h: Vec<f32> = (0..4001).map(|i| (i as f32 - 2000.0) * 0.013).collect();
        // Outliers in some blocks: those take the full-range exp.
        for (i, v) in [(70, 25.0), (300, -31.5), (301, 400.0), (3999, -1e4)] {
            h[i] = v;
        }
        let want: Vec<u32> = h.iter().map(|&x| gelu(x).to_bits()).collect();
        gelu_in_place(&mut h);
        assert_eq!(h.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
    }
}
