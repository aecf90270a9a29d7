//! Steering at earlier layers: closed-form vector-Jacobian products through the blocks (no
//! autodiff), f64.
//!
//! Target: `g = ∂ log p(y | x_≤t) / ∂r`, r = the residual stream entering block `layer` at position
//! t (`layer = n_layer`: `h_pre`), every other position held fixed. Causality makes this a
//! single-position computation: positions s < t never see t, positions s > t do not feed t's
//! output, so in every later block only row t moves. Its perturbation reaches t's output through
//! t's own residual stream and through t's query, key and value in each later block's attention
//! (t attends to s ≤ t; the keys and values of s < t are fixed).
//!
//! Backwards, starting from `steer::gradient_log_p_pre_norm` at `h_pre[t]` (final LayerNorm and
//! readout), then for blocks `n_layer-1` down to `layer`, with upstream `ḡ = ∂L/∂x_out`:
//! - MLP: `m = x + Attn`, `b = LN2(m)`, `u = b·W_fc + b_fc`, `x_out = m + gelu(u)·W_fc2 + b_fc2`:
//!   `ḡ_u = (W_fc2·ḡ) ⊙ gelu'(u)`, `ḡ_m = ḡ + LN2ᵀ(W_fc·ḡ_u)`;
//! - attention: `ḡ_o = W_proj·ḡ_m`; per head with `p = softmax(scale·q_t·k_s)`, `o = Σ_s p_s v_s`:
//!   `ḡ_{v_t} = p_t ḡ_o`, `ḡ_{s} = p_s (ḡ_o·v_s - Σ_r p_r ḡ_o·v_r)`, `ḡ_q = scale Σ_s ḡ_{s} k_s`,
//!   `ḡ_{k_t} = scale ḡ_{t} q_t`; `ḡ_x = ḡ_m + LN1ᵀ(W_attn·[ḡ_q | ḡ_{k_t} | ḡ_{v_t}])`,
//!
//! where `LNᵀ` is `steer::layer_norm_vjp` and `W·ḡ` contracts a linear map's output index. The
//! activations are recomputed in f64 from the forward pass's (f32) residual streams, so the result
//! is the exact gradient of the f64 model at the f32 forward's state.

use super::config::LN_EPS;
use super::forward::{forward, forward_patched, Forward, ForwardOptions, Patch, PatchSite};
use super::matrix::{dispatch, Element, Matrix};
use super::steer::{
    gradient_log_p_pre_norm, layer_norm, layer_norm_vjp, rank, FinalNorm, Unembedding,
};
use super::weights::{Layer, Weights};

/// A steering step at an earlier layer and its effect.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerSteer {
    pub layer: usize,
    pub position: usize,
    pub target: usize,
    /// δ, added to the residual stream entering `layer` at `position`.
    pub delta: Vec<f64>,
    /// ‖δ‖.
    pub norm: f64,
    pub old_log_p: f64,
    /// `old_log_p + Δ` (first order).
    pub predicted_log_p: f64,
    /// Realised by [`forward_patched`] with `PatchSite::Residual(layer)`.
    pub new_log_p: f64,
    pub new_p: f64,
    /// 1-based rank of the target before / after (1 + number of tokens with a strictly larger logit).
    pub old_rank: usize,
    pub new_rank: usize,
}

fn f64v(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// `x·W + b`, W input-major `[x.len() × m]`.
pub(crate) fn lin(x: &[f64], w: &Matrix, b: &[f32], m: usize) -> Vec<f64> {
    dispatch!(w, |w| lin_stored(x, w, b, m))
}

fn lin_stored<T: Element>(x: &[f64], w: &[T], b: &[f32], m: usize) -> Vec<f64> {
    let mut y: Vec<f64> = f64v(b);
    for (&xi, row) in x.iter().zip(w.chunks_exact(m)) {
        for (yo, &wo) in y.iter_mut().zip(row) {
            *yo += xi * wo.widen() as f64;
        }
    }
    y
}

/// `∂(x·W)/∂x` applied to an output gradient: `ḡ_x[i] = Σ_o W[i,o]·ḡ[o]`.
pub(crate) fn lin_vjp(w: &Matrix, m: usize, g: &[f64]) -> Vec<f64> {
    dispatch!(w, |w| lin_vjp_stored(w, m, g))
}

fn lin_vjp_stored<T: Element>(w: &[T], m: usize, g: &[f64]) -> Vec<f64> {
    w.chunks_exact(m)
        .map(|row| row.iter().zip(g).map(|(&a, &b)| a.widen() as f64 * b).sum())
        .collect()
}

const GELU_C: f64 = std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;

/// d/dx of `0.5·x·(1 + tanh(c·(x + 0.044715·x³)))`.
fn gelu_grad(x: f64) -> f64 {
    let th = (GELU_C * (x + 0.044715 * x * x * x)).tanh();
    0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x)
}

/// VJP of one block at row `t`: `xs` holds the block's input rows `0..=t` (`(t+1) × d`), `g` is
/// `∂L/∂x_out[t]`; returns `∂L/∂x[t]` (other rows fixed).
fn block_vjp(w: &Weights, l: &Layer, xs: &[f64], t: usize, g: &[f64]) -> Vec<f64> {
    let c = w.config;
    let (d, hd, mlp) = (c.d_model, c.head_dim(), c.mlp);
    let eps = LN_EPS as f64;
    let (ln1_g, ln1_b) = (f64v(&l.ln1_g), f64v(&l.ln1_b));
    let (ln2_g, ln2_b) = (f64v(&l.ln2_g), f64v(&l.ln2_b));
    // Forward recomputation: q, k, v of rows 0..=t (f64).
    let qkv: Vec<Vec<f64>> = xs
        .chunks_exact(d)
        .take(t + 1)
        .map(|x| {
            lin(
                &layer_norm(x, &ln1_g, &ln1_b, eps),
                &l.attn_w,
                &l.attn_b,
                3 * d,
            )
        })
        .collect();
    let xt = &xs[t * d..(t + 1) * d];
    let scale = 1.0 / (hd as f64).sqrt();
    let mut probs = vec![vec![0.0; t + 1]; c.n_head];
    let mut att = vec![0.0; d];
    for (h, p) in probs.iter_mut().enumerate() {
        let q = &qkv[t][h * hd..(h + 1) * hd];
        for (ps, row) in p.iter_mut().zip(&qkv) {
            let k = &row[d + h * hd..d + (h + 1) * hd];
            *ps = scale * q.iter().zip(k).map(|(a, b)| a * b).sum::<f64>();
        }
        let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for v in p.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in p.iter_mut() {
            *v /= sum;
        }
        for (&ps, row) in p.iter().zip(&qkv) {
            let v = &row[2 * d + h * hd..2 * d + (h + 1) * hd];
            for (o, &vj) in att[h * hd..(h + 1) * hd].iter_mut().zip(v) {
                *o += ps * vj;
            }
        }
    }
    let proj = lin(&att, &l.proj_w, &l.proj_b, d);
    let m: Vec<f64> = xt.iter().zip(&proj).map(|(a, b)| a + b).collect();
    let u = lin(&layer_norm(&m, &ln2_g, &ln2_b, eps), &l.fc_w, &l.fc_b, mlp);

    // MLP backwards.
    let g_hidden = lin_vjp(&l.fc2_w, d, g);
    let g_u: Vec<f64> = g_hidden
        .iter()
        .zip(&u)
        .map(|(a, &x)| a * gelu_grad(x))
        .collect();
    let g_ln2 = lin_vjp(&l.fc_w, mlp, &g_u);
    let g_m: Vec<f64> = g
        .iter()
        .zip(layer_norm_vjp(&m, &ln2_g, eps, &g_ln2))
        .map(|(a, b)| a + b)
        .collect();

    // Attention backwards (row t's query, key and value).
    let g_att = lin_vjp(&l.proj_w, d, &g_m);
    let mut g_qkv = vec![0.0; 3 * d];
    for (h, p) in probs.iter().enumerate() {
        let go = &g_att[h * hd..(h + 1) * hd];
        // ∂L/∂p_s = ḡ_o · v_s, then the softmax VJP.
        let gp: Vec<f64> = qkv
            .iter()
            .map(|row| {
                let v = &row[2 * d + h * hd..2 * d + (h + 1) * hd];
                go.iter().zip(v).map(|(a, b)| a * b).sum::<f64>()
            })
            .collect();
        let mean: f64 = p.iter().zip(&gp).map(|(a, b)| a * b).sum();
        let gs: Vec<f64> = p.iter().zip(&gp).map(|(ps, g)| ps * (g - mean)).collect();
        let q = &qkv[t][h * hd..(h + 1) * hd];
        for (j, gq) in g_qkv[h * hd..(h + 1) * hd].iter_mut().enumerate() {
            *gq = scale
                * gs.iter()
                    .zip(&qkv)
                    .map(|(g, row)| g * row[d + h * hd + j])
                    .sum::<f64>();
        }
        for (gk, &qj) in g_qkv[d + h * hd..d + (h + 1) * hd].iter_mut().zip(q) {
            *gk = scale * gs[t] * qj;
        }
        for (gv, &goj) in g_qkv[2 * d + h * hd..2 * d + (h + 1) * hd]
            .iter_mut()
            .zip(go)
        {
            *gv = p[t] * goj;
        }
    }
    let g_ln1 = lin_vjp(&l.attn_w, 3 * d, &g_qkv);
    g_m.iter()
        .zip(layer_norm_vjp(xt, &ln1_g, eps, &g_ln1))
        .map(|(a, b)| a + b)
        .collect()
}

/// What steering at an earlier layer needs of a model family: its sizes, a forward pass that
/// keeps the residual streams, the same pass with a patch, and its block's VJP at one row. The
/// GPT-2 family implements it here, the Llama family in [`crate::llama_vjp`]; the gradient and
/// the steering step below are written once for both.
pub trait LayeredModel: Unembedding + FinalNorm {
    /// (n_layer, d_model, context, vocab).
    fn sizes(&self) -> (usize, usize, usize, usize);
    fn forward_keeping_residuals(&self, tokens: &[u32]) -> Result<Forward, String>;
    fn forward_with_patch(&self, tokens: &[u32], patch: &Patch) -> Result<Forward, String>;
    /// `∂L/∂x[t]` of block `l` from `g = ∂L/∂x_out[t]`, `xs` its input rows `0..=t`.
    fn block_vjp(&self, l: usize, xs: &[f64], t: usize, g: &[f64]) -> Vec<f64>;
}

impl LayeredModel for Weights {
    fn sizes(&self) -> (usize, usize, usize, usize) {
        let c = self.config;
        (c.n_layer, c.d_model, c.context, c.vocab)
    }
    fn forward_keeping_residuals(&self, tokens: &[u32]) -> Result<Forward, String> {
        forward(
            self,
            tokens,
            ForwardOptions {
                keep_residuals: true,
            },
        )
    }
    fn forward_with_patch(&self, tokens: &[u32], patch: &Patch) -> Result<Forward, String> {
        forward_patched(self, tokens, ForwardOptions::default(), Some(patch))
    }
    fn block_vjp(&self, l: usize, xs: &[f64], t: usize, g: &[f64]) -> Vec<f64> {
        block_vjp(self, &self.layers[l], xs, t, g)
    }
}

fn check_inputs<W: LayeredModel + ?Sized>(
    w: &W,
    tokens: &[u32],
    layer: usize,
    t: usize,
    y: usize,
) -> Result<(), String> {
    let (n_layer, _, context, vocab) = w.sizes();
    if tokens.is_empty() || tokens.len() > context {
        return Err(format!("{} tokens: need 1..={context}", tokens.len()));
    }
    if let Some(&bad) = tokens.iter().find(|&&v| v as usize >= vocab) {
        return Err(format!("token {bad} is outside the vocabulary of {vocab}"));
    }
    if layer > n_layer {
        return Err(format!("layer {layer} > n_layer = {n_layer}"));
    }
    if t >= tokens.len() {
        return Err(format!(
            "position {t} is outside the {} tokens",
            tokens.len()
        ));
    }
    if y >= vocab {
        return Err(format!("target {y} outside the vocabulary"));
    }
    Ok(())
}

/// `∂ log p(y | x_≤t) / ∂r`, r = the residual stream entering block `layer` at position t
/// (`layer = n_layer`: `h_pre`, where this is `steer::gradient_log_p_pre_norm`), every other
/// position held fixed. f64, linearised at the f32 forward pass's state. Errors (never panics):
/// bad tokens, `layer > n_layer`, `t ≥ n`, `y ≥ V`, malformed weights.
pub fn gradient_log_p_at_layer<W: LayeredModel + ?Sized>(
    w: &W,
    tokens: &[u32],
    layer: usize,
    t: usize,
    y: usize,
) -> Result<Vec<f64>, String> {
    check_inputs(w, tokens, layer, t, y)?;
    // Position t's output depends on tokens ≤ t only (and the prefix pass is bit-identical).
    let fwd = w.forward_keeping_residuals(&tokens[..=t])?;
    gradient_from_forward(w, &fwd, layer, t, y)
}

fn gradient_from_forward<W: LayeredModel + ?Sized>(
    w: &W,
    fwd: &Forward,
    layer: usize,
    t: usize,
    y: usize,
) -> Result<Vec<f64>, String> {
    let (n_layer, d, _, _) = w.sizes();
    let rows = |l: usize| -> Vec<f64> {
        (0..=t)
            .flat_map(|s| fwd.residual(l, s).unwrap_or(&[]).iter().copied())
            .collect()
    };
    let h_pre = rows(n_layer);
    if h_pre.len() != (t + 1) * d {
        return Err("the forward pass kept no residuals".into());
    }
    let mut g = gradient_log_p_pre_norm(w, &h_pre[t * d..], y)?;
    for l in (layer..n_layer).rev() {
        g = w.block_vjp(l, &rows(l), t, &g);
    }
    if g.iter().any(|v| !v.is_finite()) {
        return Err("the gradient is not finite".into());
    }
    Ok(g)
}

/// Minimal-norm first-order step `δ = Δ·g/‖g‖²` at (layer, t), g from
/// [`gradient_log_p_at_layer`], realised by the family's patched pass
/// (`PatchSite::Residual(layer)`, the tokens up to t). Errors: as [`gradient_log_p_at_layer`],
/// Δ not finite, `g = 0` with Δ ≠ 0, a step too large for a patch.
pub fn steer_delta_at_layer<W: LayeredModel + ?Sized>(
    w: &W,
    tokens: &[u32],
    layer: usize,
    t: usize,
    y: usize,
    delta_log_p: f64,
) -> Result<LayerSteer, String> {
    check_inputs(w, tokens, layer, t, y)?;
    if !delta_log_p.is_finite() {
        return Err("Δ must be finite".into());
    }
    let prefix = &tokens[..=t];
    let fwd = w.forward_keeping_residuals(prefix)?;
    let g = gradient_from_forward(w, &fwd, layer, t, y)?;
    let g2: f64 = g.iter().map(|v| v * v).sum();
    let delta: Vec<f64> = if delta_log_p == 0.0 {
        vec![0.0; g.len()]
    } else if g2 > 0.0 && g2.is_finite() {
        g.iter().map(|v| delta_log_p * v / g2).collect()
    } else {
        return Err("the gradient of log p(y) is zero: no direction raises it".into());
    };
    let patch = Patch {
        site: PatchSite::Residual(layer),
        position: t,
        delta,
    };
    let new = w.forward_with_patch(prefix, &patch)?;
    let old_log_p = fwd.log_probs_at(t)[y];
    let new_log_p = new.log_probs_at(t)[y];
    Ok(LayerSteer {
        layer,
        position: t,
        target: y,
        norm: patch.delta.iter().map(|v| v * v).sum::<f64>().sqrt(),
        delta: patch.delta,
        old_log_p,
        predicted_log_p: old_log_p + delta_log_p,
        new_log_p,
        new_p: new_log_p.exp(),
        old_rank: rank(fwd.logits_at(t), y),
        new_rank: rank(new.logits_at(t), y),
    })
}
