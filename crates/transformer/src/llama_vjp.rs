//! Steering the Llama family at earlier layers: closed-form vector-Jacobian products through its
//! blocks (RMSNorm, rotary grouped-query attention, SwiGLU), f64, as [`crate::vjp`] does for GPT-2.
//!
//! Target: `g = ∂ log p(y | x_≤t) / ∂r`, r = the residual stream entering block `layer` at
//! position t (`layer = n_layer`: `h_pre`), every other position held fixed; by causality only
//! row t moves in every later block. Backwards from `steer::gradient_log_p_pre_norm` (the final
//! RMSNorm and the readout), for blocks `n_layer-1` down to `layer`, with `ḡ = ∂L/∂x_out[t]`:
//! - MLP: `m = x + Attn`, `b = RMS₂(m)`, `x_out = m + (silu(b·W_gate) ⊙ b·W_up)·W_down`:
//!   `ḡ_h = W_down·ḡ`, `ḡ_gate = ḡ_h ⊙ up ⊙ silu'(gate)`, `ḡ_up = ḡ_h ⊙ silu(gate)`,
//!   `ḡ_m = ḡ + RMS₂ᵀ(W_gate·ḡ_gate + W_up·ḡ_up)`;
//! - attention, query head h reading key/value head `h / group`: `q_t = R_t(a_t·W_q)`,
//!   `k_s = R_s(a_s·W_k)`, `v_s = a_s·W_v`, `p = softmax(q_t·k_s / √hd)`, `o = Σ_s p_s v_s`:
//!   `ḡ_o = W_o·ḡ_m`; `ḡ_s = p_s (ḡ_o·v_s − Σ_r p_r ḡ_o·v_r)`; `ḡ_q = R_tᵀ Σ_s ḡ_s k_s / √hd`;
//!   row t's key and value gather from every query head of their group:
//!   `ḡ_{k_t} = R_tᵀ Σ_h ḡ_{t,h} q_{t,h} / √hd`, `ḡ_{v_t} = Σ_h p_{t,h} ḡ_{o,h}`;
//!   `ḡ_x = ḡ_m + RMS₁ᵀ(W_q·ḡ_q + W_k·ḡ_k + W_v·ḡ_v)`,
//!
//! where `RMSᵀ` is `steer::rms_norm_vjp` and `R_t` the rotary rotation of position t (the
//! forward pass's own f32 cos/sin tables). The activations are recomputed in f64 from the
//! forward pass's f32 residual streams, so the result is the exact gradient of the f64 model at
//! the f32 forward's state (checked against central differences of the f32 pass).

use super::forward::{Patch, PatchSite};
use super::llama::{
    forward_llama_patched, forward_llama_with, rms_norm_f64, rotary_tables_from, LlamaLayer,
    LlamaWeights,
};
use super::steer::{gradient_log_p_pre_norm, rank, rms_norm_vjp};
use super::vjp::{lin, lin_vjp, LayerSteer};

fn f64v(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Rotates each head (`hd` values, halves paired as the forward pass pairs them) by the angles
/// `(cos, sin)`; `inverse` applies the transpose.
fn rotate(x: &mut [f64], hd: usize, cos: &[f64], sin: &[f64], inverse: bool) {
    let half = hd / 2;
    for head in x.chunks_exact_mut(hd) {
        let (a, b) = head.split_at_mut(half);
        for i in 0..half {
            let (x1, x2, s) = (a[i], b[i], if inverse { -sin[i] } else { sin[i] });
            a[i] = x1 * cos[i] - x2 * s;
            b[i] = x2 * cos[i] + x1 * s;
        }
    }
}

fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

fn silu_grad(x: f64) -> f64 {
    let s = 1.0 / (1.0 + (-x).exp());
    s * (1.0 + x * (1.0 - s))
}

/// Row t's quantities in one block, recomputed in f64 for its VJP.
struct RowState {
    /// Rotated keys and the values of rows 0..=t (`kv` each).
    keys: Vec<Vec<f64>>,
    values: Vec<Vec<f64>>,
    /// Row t's rotated query (`d`), and its attention weights per query head.
    q: Vec<f64>,
    probs: Vec<Vec<f64>>,
    /// After attention (`x + Attn`), and the MLP's gate and up projections.
    m: Vec<f64>,
    gate: Vec<f64>,
    up: Vec<f64>,
    /// Row t's rotary angles.
    cos: Vec<f64>,
    sin: Vec<f64>,
}

fn recompute(w: &LlamaWeights, l: &LlamaLayer, xs: &[f64], t: usize) -> RowState {
    let c = w.config;
    let (d, hd, kv, mlp) = (c.d_model, c.head_dim(), c.kv_dim(), c.mlp);
    let (group, half) = (c.n_head / c.n_kv_head, hd / 2);
    let (cos32, sin32) = rotary_tables_from(&c, 0, t + 1);
    let (cos, sin) = (f64v(&cos32), f64v(&sin32));
    let angles = |s: usize| {
        (
            &cos[s * half..(s + 1) * half],
            &sin[s * half..(s + 1) * half],
        )
    };
    let (zero_kv, zero_d, zero_m) = (vec![0f32; kv], vec![0f32; d], vec![0f32; mlp]);
    let normed: Vec<Vec<f64>> = xs
        .chunks_exact(d)
        .take(t + 1)
        .map(|x| rms_norm_f64(x, &l.input_norm, c.rms_eps))
        .collect();
    let keys: Vec<Vec<f64>> = normed
        .iter()
        .enumerate()
        .map(|(s, a)| {
            let mut k = lin(a, &l.wk, &zero_kv, kv);
            let (cs, sn) = angles(s);
            rotate(&mut k, hd, cs, sn, false);
            k
        })
        .collect();
    let values: Vec<Vec<f64>> = normed.iter().map(|a| lin(a, &l.wv, &zero_kv, kv)).collect();
    let mut q = lin(&normed[t], &l.wq, &zero_d, d);
    let (ct, st) = angles(t);
    rotate(&mut q, hd, ct, st, false);
    let scale = 1.0 / (hd as f64).sqrt();
    let mut probs = vec![vec![0.0; t + 1]; c.n_head];
    let mut att = vec![0.0; d];
    for (h, p) in probs.iter_mut().enumerate() {
        let (kvh, qh) = (h / group, &q[h * hd..(h + 1) * hd]);
        for (ps, k) in p.iter_mut().zip(&keys) {
            let kh = &k[kvh * hd..(kvh + 1) * hd];
            *ps = scale * qh.iter().zip(kh).map(|(a, b)| a * b).sum::<f64>();
        }
        let max = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        p.iter_mut().for_each(|v| *v = (*v - max).exp());
        let sum: f64 = p.iter().sum();
        p.iter_mut().for_each(|v| *v /= sum);
        for (&ps, v) in p.iter().zip(&values) {
            let vh = &v[kvh * hd..(kvh + 1) * hd];
            for (o, &vj) in att[h * hd..(h + 1) * hd].iter_mut().zip(vh) {
                *o += ps * vj;
            }
        }
    }
    let m: Vec<f64> = xs[t * d..(t + 1) * d]
        .iter()
        .zip(lin(&att, &l.wo, &zero_d, d))
        .map(|(a, b)| a + b)
        .collect();
    let b = rms_norm_f64(&m, &l.post_norm, c.rms_eps);
    RowState {
        gate: lin(&b, &l.gate, &zero_m, mlp),
        up: lin(&b, &l.up, &zero_m, mlp),
        cos: ct.to_vec(),
        sin: st.to_vec(),
        keys,
        values,
        q,
        probs,
        m,
    }
}

/// `∂L/∂m` from `g = ∂L/∂x_out` through the MLP and its residual.
fn mlp_vjp(w: &LlamaWeights, l: &LlamaLayer, st: &RowState, g: &[f64]) -> Vec<f64> {
    let c = w.config;
    let g_h = lin_vjp(&l.down, c.d_model, g);
    let g_gate: Vec<f64> = (0..c.mlp)
        .map(|i| g_h[i] * st.up[i] * silu_grad(st.gate[i]))
        .collect();
    let g_up: Vec<f64> = (0..c.mlp).map(|i| g_h[i] * silu(st.gate[i])).collect();
    let g_b: Vec<f64> = lin_vjp(&l.gate, c.mlp, &g_gate)
        .iter()
        .zip(lin_vjp(&l.up, c.mlp, &g_up))
        .map(|(a, b)| a + b)
        .collect();
    g.iter()
        .zip(rms_norm_vjp(&st.m, &f64v(&l.post_norm), c.rms_eps, &g_b))
        .map(|(a, b)| a + b)
        .collect()
}

/// `∂L/∂a_t` (row t's normed input) from `g_m = ∂L/∂m` through attention: row t's query, and
/// its key and value, each shared by a group of query heads.
fn attention_vjp(
    w: &LlamaWeights,
    l: &LlamaLayer,
    st: &RowState,
    t: usize,
    g_m: &[f64],
) -> Vec<f64> {
    let c = w.config;
    let (d, hd, kv) = (c.d_model, c.head_dim(), c.kv_dim());
    let group = c.n_head / c.n_kv_head;
    let scale = 1.0 / (hd as f64).sqrt();
    let g_att = lin_vjp(&l.wo, d, g_m);
    let (mut g_q, mut g_k, mut g_v) = (vec![0.0; d], vec![0.0; kv], vec![0.0; kv]);
    for (h, p) in st.probs.iter().enumerate() {
        let kvh = h / group;
        let go = &g_att[h * hd..(h + 1) * hd];
        // ∂L/∂p_s = ḡ_o · v_s, then the softmax VJP.
        let gp: Vec<f64> = st
            .values
            .iter()
            .map(|v| {
                go.iter()
                    .zip(&v[kvh * hd..(kvh + 1) * hd])
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect();
        let mean: f64 = p.iter().zip(&gp).map(|(a, b)| a * b).sum();
        let gs: Vec<f64> = p.iter().zip(&gp).map(|(ps, g)| ps * (g - mean)).collect();
        for (j, gq) in g_q[h * hd..(h + 1) * hd].iter_mut().enumerate() {
            *gq = scale
                * gs.iter()
                    .zip(&st.keys)
                    .map(|(g, k)| g * k[kvh * hd + j])
                    .sum::<f64>();
        }
        let qh = &st.q[h * hd..(h + 1) * hd];
        for (gk, &qj) in g_k[kvh * hd..(kvh + 1) * hd].iter_mut().zip(qh) {
            *gk += scale * gs[t] * qj;
        }
        for (gv, &goj) in g_v[kvh * hd..(kvh + 1) * hd].iter_mut().zip(go) {
            *gv += p[t] * goj;
        }
    }
    // Back through row t's rotation (its query's and its key's), then the projections.
    rotate(&mut g_q, hd, &st.cos, &st.sin, true);
    rotate(&mut g_k, hd, &st.cos, &st.sin, true);
    lin_vjp(&l.wq, d, &g_q)
        .iter()
        .zip(lin_vjp(&l.wk, kv, &g_k))
        .zip(lin_vjp(&l.wv, kv, &g_v))
        .map(|((a, b), c)| a + b + c)
        .collect()
}

/// VJP of one block at row `t`: `xs` holds the block's input rows `0..=t`, `g` is
/// `∂L/∂x_out[t]`; returns `∂L/∂x[t]` (other rows fixed).
fn block_vjp(w: &LlamaWeights, l: &LlamaLayer, xs: &[f64], t: usize, g: &[f64]) -> Vec<f64> {
    let c = w.config;
    let st = recompute(w, l, xs, t);
    let g_m = mlp_vjp(w, l, &st, g);
    let g_a = attention_vjp(w, l, &st, t, &g_m);
    let xt = &xs[t * c.d_model..(t + 1) * c.d_model];
    g_m.iter()
        .zip(rms_norm_vjp(xt, &f64v(&l.input_norm), c.rms_eps, &g_a))
        .map(|(a, b)| a + b)
        .collect()
}

fn check_inputs(
    w: &LlamaWeights,
    tokens: &[u32],
    layer: usize,
    t: usize,
    y: usize,
) -> Result<(), String> {
    let c = w.config;
    if tokens.is_empty() || tokens.len() > c.context {
        return Err(format!("{} tokens: need 1..={}", tokens.len(), c.context));
    }
    if let Some(&bad) = tokens.iter().find(|&&v| v as usize >= c.vocab) {
        return Err(format!(
            "token {bad} is outside the vocabulary of {}",
            c.vocab
        ));
    }
    if layer > c.n_layer {
        return Err(format!("layer {layer} > n_layer = {}", c.n_layer));
    }
    if t >= tokens.len() {
        return Err(format!(
            "position {t} is outside the {} tokens",
            tokens.len()
        ));
    }
    if y >= c.vocab {
        return Err(format!("target {y} outside the vocabulary"));
    }
    Ok(())
}

fn gradient_from_forward(
    w: &LlamaWeights,
    fwd: &crate::Forward,
    layer: usize,
    t: usize,
    y: usize,
) -> Result<Vec<f64>, String> {
    let c = w.config;
    let d = c.d_model;
    let rows = |l: usize| -> Vec<f64> {
        (0..=t)
            .flat_map(|s| fwd.residual(l, s).unwrap_or(&[]).iter().copied())
            .collect()
    };
    let h_pre = rows(c.n_layer);
    if h_pre.len() != (t + 1) * d {
        return Err("the forward pass kept no residuals".into());
    }
    let mut g = gradient_log_p_pre_norm(w, &h_pre[t * d..], y)?;
    for l in (layer..c.n_layer).rev() {
        g = block_vjp(w, &w.layers[l], &rows(l), t, &g);
    }
    if g.iter().any(|v| !v.is_finite()) {
        return Err("the gradient is not finite".into());
    }
    Ok(g)
}

/// `∂ log p(y | x_≤t) / ∂r` of a Llama-family model, r = the residual stream entering block
/// `layer` at position t (`layer = n_layer`: `h_pre`), every other position held fixed. f64,
/// linearised at the f32 forward pass's state. Errors (never panics): bad tokens,
/// `layer > n_layer`, `t ≥ n`, `y ≥ V`.
pub fn llama_gradient_log_p_at_layer(
    w: &LlamaWeights,
    tokens: &[u32],
    layer: usize,
    t: usize,
    y: usize,
) -> Result<Vec<f64>, String> {
    check_inputs(w, tokens, layer, t, y)?;
    let fwd = forward_llama_with(w, &tokens[..=t], true)?;
    gradient_from_forward(w, &fwd, layer, t, y)
}

/// Minimal-norm first-order step `δ = Δ·g/‖g‖²` at (layer, t) of a Llama-family model, realised
/// with [`forward_llama_patched`] (`PatchSite::Residual(layer)`, the tokens up to t): the
/// Llama twin of [`crate::vjp::steer_delta_at_layer`].
pub fn llama_steer_delta_at_layer(
    w: &LlamaWeights,
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
    let fwd = forward_llama_with(w, prefix, true)?;
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
    let new = forward_llama_patched(w, prefix, false, Some(&patch))?;
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
