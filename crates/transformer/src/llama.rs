//! The Llama family's forward pass (`LlamaForCausalLM`: SmolLM, SmolLM2, Llama): RMSNorm, rotary
//! positions, SwiGLU, grouped-query attention, a tied or untied unembedding.
//!
//! It returns the same [`Forward`] as the GPT-2 pass (`h_pre`, `h_post` after the final RMSNorm,
//! f64 logits and log-probabilities), so the energy statistics run on it unchanged. Per block:
//! `a = RMSNorm(x)`, `q, k, v = a·Wq, a·Wk, a·Wv` (no biases), rotary positions on q and k,
//! causal attention where query head `h` reads key/value head `h / (n_head / n_kv_head)`,
//! `x += att·Wo`; then `a = RMSNorm(x)`, `x += (silu(a·Wg) ⊙ a·Wu)·Wd`.
//!
//! As in Hugging Face's implementation: `RMSNorm(x) = g ⊙ (x · 1/sqrt(mean(x²) + eps))` (the mean
//! accumulated here in f64); rotary frequencies `θ^(-2i/hd)` rounded to f32, the pair
//! `(i, i + hd/2)` of each head rotated by the angle `t·freq_i` (`rotate_half`), attention
//! scaled by `1/sqrt(hd)`. Weights are stored input-major (`[in, out]`), as the GPT-2 blocks'
//! are: a checkpoint's `[out, in]` `nn.Linear` matrices are transposed once when read.
//!
//! Determinism: f32 products and sums in a fixed order, the exponentials by td-lanes' `exp`
//! (the same bits on every target); the rotary angles' `sin` and `cos` are the platform's (f64,
//! rounded to f32), so a page and a native run may differ there by one f32 rounding.

use td_lanes::{exp_with, ExpConsts, L2};
use td_rng::Source;

use super::config::{
    MAX_CONTEXT, MAX_D_MODEL, MAX_HEADS, MAX_LAYERS, MAX_MLP, MAX_PARAMS, MAX_VOCAB,
};
use super::forward::{
    linear, log_softmax_in_place, readout_matrix, scaled_scores, softmax_scores, weighted_rows,
    Forward, Patch, PatchSite,
};
use super::matrix::{Dtype, Matrix, TensorRef};

/// Sizes and settings of a Llama-family model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LlamaConfig {
    pub vocab: usize,
    pub d_model: usize,
    pub n_layer: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention: each serves `n_head / n_kv_head` query heads).
    pub n_kv_head: usize,
    pub context: usize,
    /// SwiGLU width (`intermediate_size`).
    pub mlp: usize,
    pub rms_eps: f64,
    pub rope_theta: f64,
    /// Whether the unembedding is the token embedding (`tie_word_embeddings`).
    pub tied: bool,
    /// Standard deviation of the random-weight twin's matrices (`initializer_range`: 0.02 by
    /// default, 0.0417 for SmolLM2); not used by the forward pass.
    pub init_std: f64,
}

impl LlamaConfig {
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head.max(1)
    }

    /// Width of the keys (and values): `n_kv_head · head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_head * self.head_dim()
    }

    pub fn validate(&self) -> Result<(), String> {
        let checks: [(&str, usize, usize, usize); 7] = [
            ("vocab", self.vocab, 2, MAX_VOCAB),
            ("d_model", self.d_model, 2, MAX_D_MODEL),
            ("n_layer", self.n_layer, 1, MAX_LAYERS),
            ("n_head", self.n_head, 1, MAX_HEADS),
            ("n_kv_head", self.n_kv_head, 1, MAX_HEADS),
            ("context", self.context, 1, MAX_CONTEXT),
            ("mlp", self.mlp, 1, MAX_MLP),
        ];
        for (name, value, lo, hi) in checks {
            if value < lo || value > hi {
                return Err(format!("{name} = {value} is outside {lo}..={hi}"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_head) || !self.head_dim().is_multiple_of(2) {
            return Err(format!(
                "n_head = {} must divide d_model = {} into heads of an even size",
                self.n_head, self.d_model
            ));
        }
        if !self.n_head.is_multiple_of(self.n_kv_head) {
            return Err(format!(
                "n_kv_head = {} does not divide n_head = {}",
                self.n_kv_head, self.n_head
            ));
        }
        if !(self.rms_eps.is_finite() && self.rms_eps > 0.0 && self.rms_eps < 1.0) {
            return Err(format!("rms_norm_eps = {} is not in (0, 1)", self.rms_eps));
        }
        if !(self.init_std.is_finite() && self.init_std > 0.0 && self.init_std < 1.0) {
            return Err(format!(
                "initializer_range = {} is not in (0, 1)",
                self.init_std
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 1.0) {
            return Err(format!("rope_theta = {} is not above 1", self.rope_theta));
        }
        if self.n_params() > MAX_PARAMS {
            return Err(format!(
                "{} parameters exceed the limit of {MAX_PARAMS}",
                self.n_params()
            ));
        }
        Ok(())
    }

    pub fn n_params(&self) -> usize {
        let (d, m, kv) = (self.d_model, self.mlp, self.kv_dim());
        let per_layer = 2 * d + d * d + 2 * d * kv + d * d + 3 * d * m;
        let embed = self.vocab.saturating_mul(d);
        embed
            .saturating_add(if self.tied { 0 } else { embed })
            .saturating_add(self.n_layer.saturating_mul(per_layer))
            .saturating_add(d)
    }
}

/// One block's weights, input-major: the matrices in their stored precision, the RMSNorm gains
/// in f32.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaLayer {
    pub input_norm: Vec<f32>,
    pub wq: Matrix,
    pub wk: Matrix,
    pub wv: Matrix,
    pub wo: Matrix,
    pub post_norm: Vec<f32>,
    pub gate: Matrix,
    pub up: Matrix,
    pub down: Matrix,
}

/// Every weight of a Llama-family model.
#[derive(Clone, Debug, PartialEq)]
pub struct LlamaWeights {
    pub config: LlamaConfig,
    /// `[vocab, d]` token embedding.
    pub embed: Matrix,
    pub layers: Vec<LlamaLayer>,
    /// Final RMSNorm gain.
    pub norm: Vec<f32>,
    /// `[vocab, d]` unembedding when untied.
    pub lm_head: Option<Matrix>,
}

/// Our name and shape (input-major) of every tensor, in order: `embed`, per layer `input_norm`,
/// `wq`, `wk`, `wv`, `wo`, `post_norm`, `gate`, `up`, `down`, then `norm` and (untied) `lm_head`.
pub fn tensor_specs(c: &LlamaConfig) -> Vec<(String, Vec<usize>)> {
    let (v, d, m, kv) = (c.vocab, c.d_model, c.mlp, c.kv_dim());
    let mut out = vec![("embed".to_string(), vec![v, d])];
    for l in 0..c.n_layer {
        for (name, shape) in [
            ("input_norm", vec![d]),
            ("wq", vec![d, d]),
            ("wk", vec![d, kv]),
            ("wv", vec![d, kv]),
            ("wo", vec![d, d]),
            ("post_norm", vec![d]),
            ("gate", vec![d, m]),
            ("up", vec![d, m]),
            ("down", vec![m, d]),
        ] {
            out.push((format!("h{l}.{name}"), shape));
        }
    }
    out.push(("norm".to_string(), vec![d]));
    if !c.tied {
        out.push(("lm_head".to_string(), vec![v, d]));
    }
    out
}

impl LlamaWeights {
    /// Builds the weights from f32 tensors in [`tensor_specs`] order, checking count and lengths.
    pub fn from_tensors(config: LlamaConfig, tensors: Vec<Vec<f32>>) -> Result<Self, String> {
        Self::from_stored(config, tensors.into_iter().map(Matrix::F32).collect())
    }

    /// [`LlamaWeights::from_tensors`] from tensors in any stored precision: the matrices keep
    /// theirs, the RMSNorm gains are widened to f32 (exactly).
    pub fn from_stored(config: LlamaConfig, tensors: Vec<Matrix>) -> Result<Self, String> {
        config.validate()?;
        let specs = tensor_specs(&config);
        if tensors.len() != specs.len() {
            return Err(format!(
                "expected {} tensors, got {}",
                specs.len(),
                tensors.len()
            ));
        }
        for ((name, shape), t) in specs.iter().zip(&tensors) {
            let len: usize = shape.iter().product();
            if t.len() != len {
                return Err(format!(
                    "tensor {name}: expected {len} values, got {}",
                    t.len()
                ));
            }
        }
        let mut it = tensors.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let embed = next();
        let layers = (0..config.n_layer)
            .map(|_| LlamaLayer {
                input_norm: next().into_f32(),
                wq: next(),
                wk: next(),
                wv: next(),
                wo: next(),
                post_norm: next().into_f32(),
                gate: next(),
                up: next(),
                down: next(),
            })
            .collect();
        let norm = next().into_f32();
        let lm_head = (!config.tied).then(next);
        Ok(LlamaWeights {
            config,
            embed,
            layers,
            norm,
            lm_head,
        })
    }

    /// The architecture's standard initialisation (Hugging Face's `LlamaPreTrainedModel`):
    /// every matrix `normal(0, init_std)` (the config's `initializer_range`), every RMSNorm gain
    /// 1; one seeded source drawn in tensor order, element by element (as
    /// [`crate::Weights::random`]).
    pub fn random(config: LlamaConfig, seed: u64) -> Result<Self, String> {
        Self::random_in(config, seed, Dtype::F32)
    }

    /// [`LlamaWeights::random`] with every matrix rounded (to nearest, ties to even) to `dtype`:
    /// a model of a checkpoint's shape and precision without the checkpoint (the benchmark's).
    /// The RMSNorm gains (exact ones) stay f32.
    pub fn random_in(config: LlamaConfig, seed: u64, dtype: Dtype) -> Result<Self, String> {
        Self::random_stored(config, seed, |_| dtype)
    }

    /// [`LlamaWeights::random`] with every tensor rounded (to nearest, ties to even, as
    /// PyTorch's `.to(torch.bfloat16)`) to the dtype of the same tensor of `self`: the random
    /// twin of a checkpoint takes the memory the checkpoint does. The draws are those of
    /// [`LlamaWeights::random`]; one tensor at a time is held in f32.
    pub fn random_like(&self, seed: u64) -> Result<Self, String> {
        let dtypes: Vec<Dtype> = self.tensor_refs().iter().map(|t| t.dtype()).collect();
        Self::random_stored(self.config, seed, |i| {
            dtypes.get(i).copied().unwrap_or(Dtype::F32)
        })
    }

    /// The seeded draws of [`LlamaWeights::random`], tensor `i` rounded to `dtype(i)`.
    fn random_stored(
        config: LlamaConfig,
        seed: u64,
        dtype: impl Fn(usize) -> Dtype,
    ) -> Result<Self, String> {
        config.validate()?;
        let mut src = Source::new(seed);
        let tensors = tensor_specs(&config)
            .into_iter()
            .enumerate()
            .map(|(i, (name, shape))| {
                let len: usize = shape.iter().product();
                let values = if name.ends_with("norm") {
                    vec![1.0; len]
                } else {
                    (0..len)
                        .map(|_| (config.init_std * src.normal()) as f32)
                        .collect()
                };
                Matrix::from_f32(values, dtype(i))
            })
            .collect();
        Self::from_stored(config, tensors)
    }

    /// The `[vocab, d]` unembedding: `lm_head`, or the embedding when tied.
    pub fn unembedding(&self) -> &Matrix {
        self.lm_head.as_ref().unwrap_or(&self.embed)
    }

    /// Every tensor as held, in [`tensor_specs`] order.
    pub fn tensor_refs(&self) -> Vec<TensorRef<'_>> {
        use TensorRef::{Matrix as M, Vector as V};
        let mut out = vec![M(&self.embed)];
        for l in &self.layers {
            out.extend([
                V(&l.input_norm),
                M(&l.wq),
                M(&l.wk),
                M(&l.wv),
                M(&l.wo),
                V(&l.post_norm),
                M(&l.gate),
                M(&l.up),
                M(&l.down),
            ]);
        }
        out.push(V(&self.norm));
        out.extend(self.lm_head.as_ref().map(M));
        out
    }

    /// Bytes the weights take in memory.
    pub fn bytes(&self) -> usize {
        self.tensor_refs().iter().map(TensorRef::bytes).sum()
    }

    /// The same weights with every matrix stored as f32 (the values are unchanged).
    pub fn widened(&self) -> Self {
        let layers = self
            .layers
            .iter()
            .map(|l| LlamaLayer {
                wq: l.wq.widened(),
                wk: l.wk.widened(),
                wv: l.wv.widened(),
                wo: l.wo.widened(),
                gate: l.gate.widened(),
                up: l.up.widened(),
                down: l.down.widened(),
                input_norm: l.input_norm.clone(),
                post_norm: l.post_norm.clone(),
            })
            .collect();
        LlamaWeights {
            config: self.config,
            embed: self.embed.widened(),
            layers,
            norm: self.norm.clone(),
            lm_head: self.lm_head.as_ref().map(Matrix::widened),
        }
    }
}

/// `out = g ⊙ (x · rstd)` per row, `rstd = 1/sqrt(mean(x²) + eps)` (mean in f64, rstd rounded to f32).
fn rms_norm_rows(x: &[f32], d: usize, g: &[f32], eps: f64, out: &mut [f32]) {
    for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mean_sq = row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / d as f64;
        let rstd = (1.0 / (mean_sq + eps).sqrt()) as f32;
        for ((oi, &v), &gi) in o.iter_mut().zip(row).zip(g) {
            *oi = gi * (v * rstd);
        }
    }
}

/// Rotary tables: `cos` and `sin` of `t·freq_i` for `t < n`, `i < hd/2` (f32).
fn rotary_tables(c: &LlamaConfig, n: usize) -> (Vec<f32>, Vec<f32>) {
    rotary_tables_from(c, 0, n)
}

/// Rotary tables for positions `first..n`.
pub(crate) fn rotary_tables_from(c: &LlamaConfig, first: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let hd = c.head_dim();
    let half = hd / 2;
    let freqs: Vec<f32> = (0..half)
        .map(|i| (1.0 / c.rope_theta.powf((2 * i) as f64 / hd as f64)) as f32)
        .collect();
    let mut cos = Vec::with_capacity((n - first) * half);
    let mut sin = Vec::with_capacity((n - first) * half);
    for t in first..n {
        for &f in &freqs {
            let angle = (t as f32 * f) as f64;
            cos.push(angle.cos() as f32);
            sin.push(angle.sin() as f32);
        }
    }
    (cos, sin)
}

/// Rotates every head of every row of `m` (`n × heads·hd`) by its position's angles.
fn apply_rotary(m: &mut [f32], heads: usize, hd: usize, cos: &[f32], sin: &[f32]) {
    let half = hd / 2;
    for (t, row) in m.chunks_exact_mut(heads * hd).enumerate() {
        let (c, s) = (
            &cos[t * half..(t + 1) * half],
            &sin[t * half..(t + 1) * half],
        );
        for head in row.chunks_exact_mut(hd) {
            let (a, b) = head.split_at_mut(half);
            for i in 0..half {
                let (x1, x2) = (a[i], b[i]);
                a[i] = x1 * c[i] + (-x2) * s[i];
                b[i] = x2 * c[i] + x1 * s[i];
            }
        }
    }
}

/// Attention output of row `t` over rows `0..=t`: query head `h` reads key/value head
/// `h / group`; softmax as in the GPT-2 pass (f64 exp, rounded to f32, sum in order).
fn attention_row(
    c: &LlamaConfig,
    (q_row, k, v): (&[f32], &[f32], &[f32]),
    t: usize,
    scores: &mut [f32],
    out: &mut [f32],
) {
    let (hd, kv) = (c.head_dim(), c.kv_dim());
    let group = c.n_head / c.n_kv_head;
    let scale = (1.0 / (hd as f64).sqrt()) as f32;
    let (exp2, exp1) = (ExpConsts::<L2>::hoisted(), ExpConsts::<f64>::inline());
    for h in 0..c.n_head {
        let kvh = h / group;
        let qh = &q_row[h * hd..(h + 1) * hd];
        let sc = &mut scores[..=t];
        let key = |s: usize| &k[s * kv + kvh * hd..s * kv + (kvh + 1) * hd];
        let max = scaled_scores(qh, key, scale, sc);
        softmax_scores(sc, max, &exp2, &exp1);
        let o = &mut out[h * hd..(h + 1) * hd];
        let off = kvh * hd;
        let mut j0 = 0;
        while j0 + 8 <= hd {
            weighted_rows::<8>(sc, v, kv, off + j0, &mut o[j0..j0 + 8]);
            j0 += 8;
        }
        for (j, oj) in o.iter_mut().enumerate().skip(j0) {
            let mut acc = 0f32;
            for (s, &p) in sc.iter().enumerate() {
                acc += p * v[s * kv + off + j];
            }
            *oj = acc;
        }
    }
}

/// `gate ← silu(gate) ⊙ up`, silu in f64 (`x / (1 + exp(-x))`, td-lanes' exp), rounded to f32.
fn swiglu_in_place(gate: &mut [f32], up: &[f32]) {
    let c = ExpConsts::<f64>::inline();
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g as f64;
        let silu = (x / (1.0 + exp_with(-x, &c))) as f32;
        *g = silu * u;
    }
}

/// `g ⊙ x/sqrt(mean(x²) + eps)` in f64 (the final norm applied to any state, e.g. a layer's
/// residual stream for the logit lens).
pub fn rms_norm_f64(x: &[f64], g: &[f32], eps: f64) -> Vec<f64> {
    let mean_sq = x.iter().map(|v| v * v).sum::<f64>() / x.len().max(1) as f64;
    let rstd = 1.0 / (mean_sq + eps).sqrt();
    x.iter()
        .zip(g)
        .map(|(&v, &gi)| gi as f64 * (v * rstd))
        .collect()
}

/// The full forward pass over `tokens` (1 ..= context tokens, each < vocab).
pub fn forward_llama(w: &LlamaWeights, tokens: &[u32]) -> Result<Forward, String> {
    forward_llama_with(w, tokens, false)
}

/// [`forward_llama`], keeping the residual stream entering every block when `keep_residuals`
/// (as the GPT-2 pass: block `l` of `Forward::residuals` enters layer `l`, block `n_layer` is
/// `h_pre`).
pub fn forward_llama_with(
    w: &LlamaWeights,
    tokens: &[u32],
    keep_residuals: bool,
) -> Result<Forward, String> {
    forward_llama_patched(w, tokens, keep_residuals, None)
}

/// The tokens' embedding rows (1 ..= context tokens, each < vocab).
fn embed_tokens(w: &LlamaWeights, tokens: &[u32]) -> Result<Vec<f32>, String> {
    let c = w.config;
    let (d, n) = (c.d_model, tokens.len());
    if n == 0 || n > c.context {
        return Err(format!("{n} tokens: the model takes 1 to {}", c.context));
    }
    let mut x = Vec::with_capacity(n * d);
    for &tok in tokens {
        let tok = tok as usize;
        if tok >= c.vocab {
            return Err(format!(
                "token {tok} is outside the vocabulary of {}",
                c.vocab
            ));
        }
        x.extend_from_slice(&w.embed.slice_f32(tok * d, d));
    }
    Ok(x)
}

/// Adds `delta` to one row of an f32 stream (each value rounded once, as the GPT-2 pass does).
fn add_to_row(x: &mut [f32], delta: &[f64]) {
    for (v, &dv) in x.iter_mut().zip(delta) {
        *v = (*v as f64 + dv) as f32;
    }
}

/// [`forward_llama_with`] with a steering patch, as the GPT-2 family's
/// [`forward_patched`](crate::forward::forward_patched): δ added to the residual stream entering
/// block `l` at its position (`l = n_layer`: `h_pre`, before the final norm; the kept residuals
/// and `h_pre` include it, and later positions attend to it), or to the final post-norm state
/// (only that position's logits change). `None` is [`forward_llama_with`], bit for bit.
pub fn forward_llama_patched(
    w: &LlamaWeights,
    tokens: &[u32],
    keep_residuals: bool,
    patch: Option<&Patch>,
) -> Result<Forward, String> {
    let c = w.config;
    if let Some(p) = patch {
        p.validate_for(c.n_layer, c.d_model, tokens.len())?;
    }
    let residual_patch = |layer: usize| {
        patch
            .filter(|p| p.site == PatchSite::Residual(layer))
            .map(|p| (p.position, &p.delta[..]))
    };
    let (d, kv, m, n) = (c.d_model, c.kv_dim(), c.mlp, tokens.len());
    let mut x = embed_tokens(w, tokens)?;
    let (cos, sin) = rotary_tables(&c, n);
    let zeros = vec![0f32; d.max(m)];
    let mut pack = Vec::new();
    let (mut a, mut q, mut att, mut tmp) = (
        vec![0f32; n * d],
        vec![0f32; n * d],
        vec![0f32; n * d],
        vec![0f32; n * d],
    );
    let (mut k, mut v) = (vec![0f32; n * kv], vec![0f32; n * kv]);
    let (mut gate, mut up) = (vec![0f32; n * m], vec![0f32; n * m]);
    let mut scores = vec![0f32; n];
    let mut residuals = Vec::new();
    for (li, l) in w.layers.iter().enumerate() {
        if let Some((t, delta)) = residual_patch(li) {
            add_to_row(&mut x[t * d..(t + 1) * d], delta);
        }
        if keep_residuals {
            residuals.extend(x.iter().map(|&v| v as f64));
        }
        rms_norm_rows(&x, d, &l.input_norm, c.rms_eps, &mut a);
        linear(&a, n, d, &l.wq, &zeros[..d], d, &mut q, &mut pack);
        linear(&a, n, d, &l.wk, &zeros[..kv], kv, &mut k, &mut pack);
        linear(&a, n, d, &l.wv, &zeros[..kv], kv, &mut v, &mut pack);
        apply_rotary(&mut q, c.n_head, c.head_dim(), &cos, &sin);
        apply_rotary(&mut k, c.n_kv_head, c.head_dim(), &cos, &sin);
        for t in 0..n {
            let q_row = &q[t * d..(t + 1) * d];
            attention_row(
                &c,
                (q_row, &k, &v),
                t,
                &mut scores,
                &mut att[t * d..(t + 1) * d],
            );
        }
        linear(&att, n, d, &l.wo, &zeros[..d], d, &mut tmp, &mut pack);
        for (xi, &ti) in x.iter_mut().zip(&tmp) {
            *xi += ti;
        }
        rms_norm_rows(&x, d, &l.post_norm, c.rms_eps, &mut a);
        linear(&a, n, d, &l.gate, &zeros[..m], m, &mut gate, &mut pack);
        linear(&a, n, d, &l.up, &zeros[..m], m, &mut up, &mut pack);
        swiglu_in_place(&mut gate, &up);
        linear(&gate, n, m, &l.down, &zeros[..d], d, &mut tmp, &mut pack);
        for (xi, &ti) in x.iter_mut().zip(&tmp) {
            *xi += ti;
        }
    }
    if let Some((t, delta)) = residual_patch(c.n_layer) {
        add_to_row(&mut x[t * d..(t + 1) * d], delta);
    }
    rms_norm_rows(&x, d, &w.norm, c.rms_eps, &mut a);
    let h_pre: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    if keep_residuals {
        residuals.extend_from_slice(&h_pre);
    }
    let mut h_post: Vec<f64> = a.iter().map(|&v| v as f64).collect();
    if let Some(p) = patch.filter(|p| p.site == PatchSite::PostNorm) {
        let row = &mut h_post[p.position * d..(p.position + 1) * d];
        row.iter_mut().zip(&p.delta).for_each(|(h, dv)| *h += dv);
    }
    let logits = readout_matrix(w.unembedding(), d, c.vocab, &h_post, n);
    let mut log_probs = logits.clone();
    for row in log_probs.chunks_exact_mut(c.vocab) {
        log_softmax_in_place(row);
    }
    Ok(Forward {
        n,
        d,
        vocab: c.vocab,
        n_layer: c.n_layer,
        h_pre,
        h_post,
        logits,
        log_probs,
        first_layer: 0,
        residuals,
    })
}

/// Keys and values of the positions seen so far, per layer: decoding one token at a time gives
/// the same bits as a full pass (every row is computed by the same per-row arithmetic).
pub struct LlamaCache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    n: usize,
}

impl LlamaCache {
    pub fn new(w: &LlamaWeights) -> LlamaCache {
        LlamaCache {
            keys: vec![Vec::new(); w.config.n_layer],
            values: vec![Vec::new(); w.config.n_layer],
            n: 0,
        }
    }

    /// Positions seen so far.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Feeds the next token; returns the log-probabilities of the token after it.
    pub fn extend(&mut self, w: &LlamaWeights, token: u32) -> Result<Vec<f64>, String> {
        self.extend_patched(w, token, None)
    }

    /// [`LlamaCache::extend`] with a steering patch, applied if it is at this position (as
    /// [`forward_llama_patched`] applies it: the cached keys and values of a residual patch
    /// carry it to later positions; a post-norm patch changes only this position's
    /// log-probabilities).
    pub fn extend_patched(
        &mut self,
        w: &LlamaWeights,
        token: u32,
        patch: Option<&Patch>,
    ) -> Result<Vec<f64>, String> {
        let c = w.config;
        let here = patch.filter(|p| p.position == self.n);
        if let Some(p) = here {
            p.validate_for(c.n_layer, c.d_model, self.n + 1)?;
        }
        let residual_patch = |layer: usize| {
            here.filter(|p| p.site == PatchSite::Residual(layer))
                .map(|p| &p.delta[..])
        };
        let post_norm_delta = here
            .filter(|p| p.site == PatchSite::PostNorm)
            .map(|p| &p.delta[..]);
        let (d, kv, m, t) = (c.d_model, c.kv_dim(), c.mlp, self.n);
        if t >= c.context {
            return Err(format!("the context of {} tokens is full", c.context));
        }
        let tok = token as usize;
        if tok >= c.vocab {
            return Err(format!(
                "token {tok} is outside the vocabulary of {}",
                c.vocab
            ));
        }
        let mut x = w.embed.slice_f32(tok * d, d).into_owned();
        let (cos, sin) = rotary_tables_from(&c, t, t + 1);
        let zeros = vec![0f32; d.max(m)];
        let mut pack = Vec::new();
        let (mut a, mut q, mut att, mut tmp) =
            (vec![0f32; d], vec![0f32; d], vec![0f32; d], vec![0f32; d]);
        let (mut k, mut v) = (vec![0f32; kv], vec![0f32; kv]);
        let (mut gate, mut up) = (vec![0f32; m], vec![0f32; m]);
        let mut scores = vec![0f32; t + 1];
        for (li, l) in w.layers.iter().enumerate() {
            if let Some(delta) = residual_patch(li) {
                add_to_row(&mut x, delta);
            }
            rms_norm_rows(&x, d, &l.input_norm, c.rms_eps, &mut a);
            linear(&a, 1, d, &l.wq, &zeros[..d], d, &mut q, &mut pack);
            linear(&a, 1, d, &l.wk, &zeros[..kv], kv, &mut k, &mut pack);
            linear(&a, 1, d, &l.wv, &zeros[..kv], kv, &mut v, &mut pack);
            apply_rotary(&mut q, c.n_head, c.head_dim(), &cos, &sin);
            apply_rotary(&mut k, c.n_kv_head, c.head_dim(), &cos, &sin);
            self.keys[li].extend_from_slice(&k);
            self.values[li].extend_from_slice(&v);
            let rows = (&q[..], &self.keys[li][..], &self.values[li][..]);
            attention_row(&c, rows, t, &mut scores, &mut att);
            linear(&att, 1, d, &l.wo, &zeros[..d], d, &mut tmp, &mut pack);
            for (xi, &ti) in x.iter_mut().zip(&tmp) {
                *xi += ti;
            }
            rms_norm_rows(&x, d, &l.post_norm, c.rms_eps, &mut a);
            linear(&a, 1, d, &l.gate, &zeros[..m], m, &mut gate, &mut pack);
            linear(&a, 1, d, &l.up, &zeros[..m], m, &mut up, &mut pack);
            swiglu_in_place(&mut gate, &up);
            linear(&gate, 1, m, &l.down, &zeros[..d], d, &mut tmp, &mut pack);
            for (xi, &ti) in x.iter_mut().zip(&tmp) {
                *xi += ti;
            }
        }
        self.n += 1;
        if let Some(delta) = residual_patch(c.n_layer) {
            add_to_row(&mut x, delta);
        }
        rms_norm_rows(&x, d, &w.norm, c.rms_eps, &mut a);
        let mut h_post: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        if let Some(delta) = post_norm_delta {
            h_post.iter_mut().zip(delta).for_each(|(h, d)| *h += d);
        }
        let mut lp = readout_matrix(w.unembedding(), d, c.vocab, &h_post, 1);
        log_softmax_in_place(&mut lp);
        Ok(lp)
    }
}

/// Generates up to `n_new` tokens after `prompt` (capped by the context) with the key/value
/// cache, sampling as [`crate::Generator`] does (one seeded uniform per token, the same
/// [`Sampling`](crate::Sampling) rules); returns prompt + generated tokens.
pub fn generate_llama(
    w: &LlamaWeights,
    prompt: &[u32],
    n_new: usize,
    sampling: crate::Sampling,
    seed: u64,
) -> Result<Vec<u32>, String> {
    generate_llama_steered(w, prompt, n_new, sampling, seed, None)
}

/// [`generate_llama`] with a steering patch applied on every pass, as the GPT-2 family's
/// [`crate::generate()`] does (the cache decodes with the bits of [`forward_llama_patched`]
/// over the tokens so far). At the final post-norm state ([`PatchSite::PostNorm`]) it changes
/// only its position's log-probabilities, so at the prompt's last position it steers the first
/// generated token and the rest follow from it; in the residual stream it also reaches every
/// later position through the cached keys and values.
pub fn generate_llama_steered(
    w: &LlamaWeights,
    prompt: &[u32],
    n_new: usize,
    sampling: crate::Sampling,
    seed: u64,
    patch: Option<&Patch>,
) -> Result<Vec<u32>, String> {
    sampling.validate()?;
    if let Some(p) = patch {
        p.validate_for(w.config.n_layer, w.config.d_model, prompt.len())?;
    }
    let c = w.config;
    if prompt.is_empty() || prompt.len() > c.context {
        return Err(format!(
            "prompt of {} tokens: need 1..={}",
            prompt.len(),
            c.context
        ));
    }
    let n_new = n_new.min(c.context - prompt.len());
    let mut cache = LlamaCache::new(w);
    let mut log_probs = Vec::new();
    for &tok in prompt {
        log_probs = cache.extend_patched(w, tok, patch)?;
    }
    let mut source = Source::new(seed);
    let mut tokens = prompt.to_vec();
    for i in 0..n_new {
        let probs = crate::generate::sampling_distribution(&log_probs, &sampling);
        let token = crate::generate::draw(&probs, source.uniform()) as u32;
        tokens.push(token);
        if i + 1 < n_new {
            log_probs = cache.extend(w, token)?;
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_with_the_cache_gives_the_full_pass_bits() {
        let w = LlamaWeights::random(tiny(false), 5).unwrap();
        let tokens = [3, 1, 4, 1, 5, 9, 2, 6];
        let full = forward_llama(&w, &tokens).unwrap();
        let mut cache = LlamaCache::new(&w);
        for (t, &tok) in tokens.iter().enumerate() {
            let lp = cache.extend(&w, tok).unwrap();
            let bits: Vec<u64> = lp.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u64> = full.log_probs_at(t).iter().map(|v| v.to_bits()).collect();
            assert_eq!(bits, want, "position {t}");
        }
        // Greedy generation is the argmax of full passes (lowest index on ties), token by token.
        let out = generate_llama(&w, &tokens[..3], 4, crate::Sampling::greedy(), 1).unwrap();
        let mut seq = tokens[..3].to_vec();
        for _ in 0..4 {
            let f = forward_llama(&w, &seq).unwrap();
            let lp = f.log_probs_at(seq.len() - 1);
            let best = (0..lp.len())
                .rev()
                .max_by(|&a, &b| lp[a].total_cmp(&lp[b]))
                .unwrap();
            seq.push(best as u32);
        }
        assert_eq!(out, seq);
        // Seeded sampling: the same seed, the same tokens; the context caps the length.
        let a = generate_llama(&w, &[1], 50, crate::Sampling::default(), 9).unwrap();
        assert_eq!(
            a,
            generate_llama(&w, &[1], 50, crate::Sampling::default(), 9).unwrap()
        );
        assert_eq!(a.len(), 12);
        assert!(generate_llama(&w, &[], 3, crate::Sampling::default(), 9).is_err());
    }

    #[test]
    fn a_post_norm_patch_steers_the_first_generated_token_and_the_rest_follow_from_it() {
        use crate::forward::{Patch, PatchSite};
        for tied in [false, true] {
            let w = LlamaWeights::random(tiny(tied), 5).unwrap();
            let (d, prompt) = (w.config.d_model, [3u32, 1, 4, 1]);
            let greedy = crate::Sampling::greedy();
            let plain = generate_llama(&w, &prompt, 4, greedy, 1).unwrap();
            let patch = |position: usize, delta: Vec<f64>| Patch {
                site: PatchSite::PostNorm,
                position,
                delta,
            };
            // Nothing added, or added where no generated token reads it: the plain continuation.
            for p in [patch(3, vec![0.0; d]), patch(1, vec![5.0; d])] {
                let out = generate_llama_steered(&w, &prompt, 4, greedy, 1, Some(&p)).unwrap();
                assert_eq!(out, plain);
            }
            // Far along the target's unembedding row: the first token is the target, and the
            // rest is the plain continuation of the prompt followed by it.
            let target = (0..w.config.vocab as u32).find(|&t| t != plain[4]).unwrap();
            let row = w.unembedding().slice_f32(target as usize * d, d);
            let push = patch(3, row.iter().map(|&x| 1e3 * x as f64).collect());
            let steered = generate_llama_steered(&w, &prompt, 4, greedy, 1, Some(&push)).unwrap();
            assert_eq!(steered[4], target, "tied {tied}");
            let after = generate_llama(&w, &steered[..5], 3, greedy, 1).unwrap();
            assert_eq!(steered, after);
            // Refused: a block past the last, a position past the prompt, a wrong length.
            let bad = [
                Patch {
                    site: PatchSite::Residual(3),
                    ..push.clone()
                },
                patch(4, vec![0.0; d]),
                patch(3, vec![0.0; d - 1]),
            ];
            for p in bad {
                assert!(generate_llama_steered(&w, &prompt, 4, greedy, 1, Some(&p)).is_err());
            }
        }
    }

    #[test]
    fn a_patched_cache_decodes_with_the_patched_full_passs_bits() {
        use crate::forward::{Patch, PatchSite};
        let w = LlamaWeights::random(tiny(true), 9).unwrap();
        let tokens = [3, 1, 4, 1, 5, 9];
        let d = w.config.d_model;
        let delta: Vec<f64> = (0..d).map(|i| 0.05 * (i as f64 - 7.0)).collect();
        let plain = forward_llama(&w, &tokens).unwrap();
        for site in [
            PatchSite::Residual(0),
            PatchSite::Residual(1),
            PatchSite::Residual(2),
            PatchSite::PostNorm,
        ] {
            let patch = Patch {
                site,
                position: 2,
                delta: delta.clone(),
            };
            let full = forward_llama_patched(&w, &tokens, true, Some(&patch)).unwrap();
            let mut cache = LlamaCache::new(&w);
            for (t, &tok) in tokens.iter().enumerate() {
                let lp = cache.extend_patched(&w, tok, Some(&patch)).unwrap();
                assert_eq!(lp, full.log_probs_at(t), "{site:?}, position {t}");
                // Before the patch nothing moves; at it always; after it only through the blocks
                // (h_pre and the post-norm state feed no later position).
                let moved = lp != plain.log_probs_at(t);
                let through_blocks = matches!(site, PatchSite::Residual(l) if l < w.config.n_layer);
                let expected = t == 2 || (t > 2 && through_blocks);
                assert_eq!(moved, expected, "{site:?}, position {t}");
            }
            if let PatchSite::Residual(l) = site {
                // The kept residual entering block l includes δ.
                let kept = full.residual(l, 2).unwrap();
                let before = forward_llama_with(&w, &tokens, true).unwrap();
                let was = before.residual(l, 2).unwrap();
                for ((k, b), dv) in kept.iter().zip(was).zip(&delta) {
                    assert_eq!(*k, ((*b + dv) as f32) as f64);
                }
            }
        }
        assert_eq!(
            forward_llama_patched(&w, &tokens, false, None).unwrap(),
            plain
        );
    }

    fn tiny(tied: bool) -> LlamaConfig {
        LlamaConfig {
            vocab: 50,
            d_model: 16,
            n_layer: 2,
            n_head: 4,
            n_kv_head: 2,
            context: 12,
            mlp: 24,
            rms_eps: 1e-5,
            rope_theta: 10_000.0,
            tied,
            init_std: 0.02,
        }
    }

    #[test]
    fn sizes_are_validated() {
        assert!(tiny(true).validate().is_ok());
        for bad in [
            LlamaConfig {
                n_kv_head: 3,
                ..tiny(true)
            },
            LlamaConfig {
                n_head: 3,
                ..tiny(true)
            },
            LlamaConfig {
                rms_eps: 0.0,
                ..tiny(true)
            },
            LlamaConfig {
                rope_theta: f64::NAN,
                ..tiny(true)
            },
            LlamaConfig {
                vocab: 1,
                ..tiny(true)
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        // SmolLM2-135M: 134,515,008 parameters (tied).
        let smol = LlamaConfig {
            vocab: 49_152,
            d_model: 576,
            n_layer: 30,
            n_head: 9,
            n_kv_head: 3,
            context: 8192,
            mlp: 1536,
            rms_eps: 1e-5,
            rope_theta: 100_000.0,
            tied: true,
            init_std: 0.041_666_666_666_666_664,
        };
        assert!(smol.validate().is_ok());
        assert_eq!(smol.n_params(), 134_515_008);
    }

    #[test]
    fn the_pass_is_causal_and_finite() {
        for tied in [true, false] {
            let w = LlamaWeights::random(tiny(tied), 3).unwrap();
            assert_eq!(w.lm_head.is_some(), !tied);
            let a = forward_llama(&w, &[1, 2, 3, 4, 5]).unwrap();
            let b = forward_llama(&w, &[1, 2, 3, 9, 9]).unwrap();
            // Positions before the change are unaffected; later ones are.
            assert_eq!(a.logits[..3 * 50], b.logits[..3 * 50]);
            assert_ne!(a.logits[3 * 50..], b.logits[3 * 50..]);
            assert!(a.log_probs.iter().all(|v| v.is_finite()));
            assert!(forward_llama(&w, &[50]).is_err());
            assert!(forward_llama(&w, &[]).is_err());
            assert!(forward_llama(&w, &[0; 13]).is_err());
        }
    }
}
