//! The forward pass: f32 arithmetic in a fixed order, f64 outputs.
//!
//! Per position t: `h_pre` (the residual stream after the last block, before the final LayerNorm),
//! `h_post` (after it), the logits `z = h_post · wteᵀ` (computed in f64 from the f32 `h_post`) and
//! `log p = z - logsumexp(z)` (f64). Optionally the residual stream entering every block.
//!
//! Cross-target determinism: only IEEE-exact operations (+, ·, /, sqrt) are done in f32, in a fixed
//! order (no FMA contraction in Rust); the transcendental functions (exp in the attention softmax,
//! the GELU sigmoid) are evaluated in f64 by td-lanes' `exp` (the same function on every target)
//! and rounded to f32. Only the f64 log-sum-exp of the logits uses the platform's `exp` and `ln`,
//! whose last bit may differ between glibc and the wasm libm.
//!
//! [`forward_patched`] adds a steering vector to one position's state (the residual stream entering
//! a block, or the final post-norm state); the crate-private `Cache` decodes one token at a time
//! with the keys and values of earlier positions kept, bit-identical to a full pass (it reuses the
//! per-row arithmetic of the full pass: every output row is computed in the same order whatever
//! the number of rows).

use td_lanes::{exp_nonpos_with, exp_with, ExpConsts, Lane, L2};

use super::config::{Config, LN_EPS};
use super::matrix::{dispatch, widen_slice, Element, Matrix};
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

pub(crate) fn log_softmax_in_place(z: &mut [f64]) {
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
    for (li, layer) in w.layers.iter().enumerate().skip(first_layer) {
        apply_residual_patch(&mut x, d, li, patch);
        if opts.keep_residuals {
            residuals.extend(x.iter().map(|&v| v as f64));
        }
        block(&c, layer, &mut x, n, &mut s);
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
            mlp_sub_block(&c, layer, &mut x, 1, &mut s);
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

fn block(c: &Config, l: &Layer, x: &mut [f32], n: usize, s: &mut Scratch) {
    let d = c.d_model;
    // Attention sub-block.
    layer_norm_rows(x, n, d, &l.ln1_g, &l.ln1_b, &mut s.ln);
    linear(
        &s.ln,
        n,
        d,
        &l.attn_w,
        &l.attn_b,
        3 * d,
        &mut s.qkv,
        &mut s.pack,
    );
    attention(c, &s.qkv, n, &mut s.scores, &mut s.att);
    linear(
        &s.att,
        n,
        d,
        &l.proj_w,
        &l.proj_b,
        d,
        &mut s.tmp,
        &mut s.pack,
    );
    for (a, b) in x.iter_mut().zip(&s.tmp) {
        *a += b;
    }
    mlp_sub_block(c, l, x, n, s);
}

/// `x += MLP(LN2(x))` on `n` rows.
fn mlp_sub_block(c: &Config, l: &Layer, x: &mut [f32], n: usize, s: &mut Scratch) {
    let d = c.d_model;
    layer_norm_rows(x, n, d, &l.ln2_g, &l.ln2_b, &mut s.ln);
    linear(
        &s.ln,
        n,
        d,
        &l.fc_w,
        &l.fc_b,
        c.mlp,
        &mut s.hidden,
        &mut s.pack,
    );
    gelu_in_place(&mut s.hidden);
    linear(
        &s.hidden,
        n,
        c.mlp,
        &l.fc2_w,
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
    let cubic = V::splat(0.044715) * x * x * x;
    let u = V::splat(GELU_SQRT_2_OVER_PI) * (x + cubic);
    x / (V::splat(1.0) + exp_with(V::splat(-2.0) * u, c))
}

/// [`gelu`] of every entry, two at a time (f64x2 in the page: the platform `exp` there is a
/// scalar call, which cost about a sixth of a forward pass).
fn gelu_in_place(h: &mut [f32]) {
    let c = ExpConsts::<L2>::hoisted();
    let (pairs, tail) = h.as_chunks_mut::<2>();
    for pair in pairs {
        let g = gelu_lanes(L2::new(pair[0] as f64, pair[1] as f64), &c).lanes();
        *pair = [g[0] as f32, g[1] as f32];
    }
    for v in tail {
        *v = gelu(*v);
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
/// of W a tile reads are first copied to `pack` (`k × 16`, contiguous, widened to f32 from the
/// stored precision) and every row pair then runs over that strip while it sits in L1. A single
/// row (the cached decoding step, and the last row when n is odd) is an `axpy` sweep instead,
/// [`linear_row`]. `pack` is scratch space.
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
    const C: usize = 16;
    let paired = n - n % 2;
    if paired > 0 {
        let mut o0 = 0;
        while o0 + C <= m {
            pack_columns(w, m, o0, C, pack);
            let bias: [f32; C] = b[o0..o0 + C].try_into().unwrap_or([0.0; C]);
            for t in (0..paired).step_by(2) {
                let (x0, x1) = x[t * k..(t + 2) * k].split_at(k);
                let [z0, z1] = linear_tile2(x0, x1, pack, &bias);
                out[t * m + o0..t * m + o0 + C].copy_from_slice(&z0);
                out[(t + 1) * m + o0..(t + 1) * m + o0 + C].copy_from_slice(&z1);
            }
            o0 += C;
        }
        // Columns left over when m is not a multiple of C (not at the default sizes).
        let rest = m - o0;
        pack_columns(w, m, o0, rest, pack);
        for o in o0..m {
            for t in 0..paired {
                let mut acc = b[o];
                for (i, &xv) in x[t * k..(t + 1) * k].iter().enumerate() {
                    acc += xv * pack[i * rest + o - o0];
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

/// Columns `o0..o0 + width` of every row of `w` (rows of `m`), widened to f32, into `pack`
/// (`rows × width`, contiguous): the only step of [`linear`]'s tiles that reads the stored
/// precision, so the tiles themselves are compiled once.
fn pack_columns(w: &Matrix, m: usize, o0: usize, width: usize, pack: &mut Vec<f32>) {
    pack.clear();
    dispatch!(w, |w| {
        for wrow in w.chunks_exact(m) {
            pack.extend(wrow[o0..o0 + width].iter().map(|v| v.widen()));
        }
    })
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
        let mut max = f32::NEG_INFINITY;
        for (s, v) in sc.iter_mut().enumerate() {
            let k = &qkv[s * stride + d + h * hd..s * stride + d + (h + 1) * hd];
            *v = dot8(q, k) * scale;
            max = max.max(*v);
        }
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
    let (pairs, tail) = sc.as_chunks_mut::<2>();
    for pair in pairs {
        let d = L2::new((pair[0] - max) as f64, (pair[1] - max) as f64);
        let e = exp_nonpos_with(d, exp2).lanes();
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
