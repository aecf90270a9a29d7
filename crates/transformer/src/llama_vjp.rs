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

use super::forward::Patch;
use super::llama::{
    forward_llama_patched, forward_llama_with, rms_norm_f64, rotary_tables_from, LlamaLayer,
    LlamaWeights,
};
use super::steer::rms_norm_vjp;
use super::vjp::{lin, lin_vjp, LayeredModel};

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

impl LayeredModel for LlamaWeights {
    fn sizes(&self) -> (usize, usize, usize, usize) {
        let c = self.config;
        (c.n_layer, c.d_model, c.context, c.vocab)
    }
    fn forward_keeping_residuals(&self, tokens: &[u32]) -> Result<crate::Forward, String> {
        forward_llama_with(self, tokens, true)
    }
    fn forward_with_patch(&self, tokens: &[u32], patch: &Patch) -> Result<crate::Forward, String> {
        forward_llama_patched(self, tokens, false, Some(patch))
    }
    fn block_vjp(&self, l: usize, xs: &[f64], t: usize, g: &[f64]) -> Vec<f64> {
        block_vjp(self, &self.layers[l], xs, t, g)
    }
}
