//! Jacobian steering at the final post-norm state (the logits `z = W_U·h` are linear in h, no
//! bias: `W_U = wte` for the GPT-2 blocks, the embedding or `lm_head` for the Llama family, both
//! through [`Unembedding`]), and the closed-form vector-Jacobian products of the final norm
//! ([`FinalNorm`]: LayerNorm for GPT-2, RMSNorm for Llama) for steering the state before it.
//! All f64.
//!
//! - `g_y = ∂ log p(y|h)/∂h = W_U[y] - Σ_j p_j·W_U[j]`;
//! - Delta form: `δ = Δ·g_y/‖g_y‖²`, the minimal-norm δ raising log p(y) by Δ to first order;
//! - margin form: `δ = max(0, margin - (z_y - z_c))·w/‖w‖²`, `w = W_U[y] - W_U[c]`, c = the current
//!   top token other than y (lowest index on ties): afterwards `z_y - z_c = margin` exactly (up to
//!   rounding) if it was below, δ = 0 otherwise.

use super::config::LN_EPS;
use super::forward::log_softmax;
use std::borrow::Cow;

use super::llama::LlamaWeights;
use super::matrix::{dispatch, Element, Matrix};
use super::weights::Weights;

/// A model's linear readout at the post-norm state: `v × d` rows `U`, logits `z = U·h`. Steering
/// at the final post-norm state needs nothing else, so it works for both families.
pub trait Unembedding {
    /// The `v × d` rows, row j for token j (in their stored precision).
    fn rows(&self) -> &Matrix;
    fn d_model(&self) -> usize;
    fn vocab(&self) -> usize;
    /// Row `y`, as f32.
    fn row(&self, y: usize) -> Cow<'_, [f32]> {
        let d = self.d_model();
        self.rows().slice_f32(y * d, d)
    }
}

impl Unembedding for Weights {
    fn rows(&self) -> &Matrix {
        &self.wte
    }
    fn d_model(&self) -> usize {
        self.config.d_model
    }
    fn vocab(&self) -> usize {
        self.config.vocab
    }
}

/// A model's final norm, applied (f64) to a state before it and differentiated: what steering
/// before the norm needs. GPT-2 blocks: LayerNorm (`lnf_g`, `lnf_b`, [`LN_EPS`]); Llama: RMSNorm
/// (`norm`, the config's eps).
pub trait FinalNorm {
    /// The final norm of `x` (length d), f64.
    fn final_norm(&self, x: &[f64]) -> Vec<f64>;
    /// `(∂norm/∂x)ᵀ·upstream` at `x`.
    fn final_norm_vjp(&self, x: &[f64], upstream: &[f64]) -> Vec<f64>;
}

impl FinalNorm for Weights {
    fn final_norm(&self, x: &[f64]) -> Vec<f64> {
        let g: Vec<f64> = self.lnf_g.iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = self.lnf_b.iter().map(|&v| v as f64).collect();
        layer_norm(x, &g, &b, LN_EPS as f64)
    }
    fn final_norm_vjp(&self, x: &[f64], upstream: &[f64]) -> Vec<f64> {
        let g: Vec<f64> = self.lnf_g.iter().map(|&v| v as f64).collect();
        layer_norm_vjp(x, &g, LN_EPS as f64, upstream)
    }
}

impl FinalNorm for LlamaWeights {
    fn final_norm(&self, x: &[f64]) -> Vec<f64> {
        crate::llama::rms_norm_f64(x, &self.norm, self.config.rms_eps)
    }
    fn final_norm_vjp(&self, x: &[f64], upstream: &[f64]) -> Vec<f64> {
        let g: Vec<f64> = self.norm.iter().map(|&v| v as f64).collect();
        rms_norm_vjp(x, &g, self.config.rms_eps, upstream)
    }
}

/// Vector-Jacobian product of RMSNorm `g ⊙ x·r`, `r = 1/sqrt(mean(x²) + eps)`: with
/// `a = g ⊙ u`, `grad = r·a - x·r³·(a·x)/n`. Lengths must match (else the shortest is used).
pub fn rms_norm_vjp(x: &[f64], gain: &[f64], eps: f64, upstream: &[f64]) -> Vec<f64> {
    let len = x.len().min(gain.len()).min(upstream.len());
    let (x, gain, upstream) = (&x[..len], &gain[..len], &upstream[..len]);
    if len == 0 {
        return Vec::new();
    }
    let n = len as f64;
    let r = 1.0 / (x.iter().map(|v| v * v).sum::<f64>() / n + eps).sqrt();
    let a: Vec<f64> = gain.iter().zip(upstream).map(|(g, u)| g * u).collect();
    let ax = a.iter().zip(x).map(|(a, x)| a * x).sum::<f64>();
    a.iter()
        .zip(x)
        .map(|(a, xi)| r * a - xi * r * r * r * ax / n)
        .collect()
}

impl Unembedding for LlamaWeights {
    fn rows(&self) -> &Matrix {
        self.unembedding()
    }
    fn d_model(&self) -> usize {
        self.config.d_model
    }
    fn vocab(&self) -> usize {
        self.config.vocab
    }
}

/// A steering step and its effect.
#[derive(Clone, Debug, PartialEq)]
pub struct Steer {
    pub delta: Vec<f64>,
    pub norm: f64,
    pub old_log_p: f64,
    pub new_log_p: f64,
    pub new_p: f64,
    /// 1-based rank of y before / after (1 + number of tokens with a strictly larger logit).
    pub old_rank: usize,
    pub new_rank: usize,
    /// Token c of the margin form (None for the Delta form).
    pub competitor: Option<usize>,
    /// `z_y - z_c` before / after (margin form only).
    pub old_gap: Option<f64>,
    pub new_gap: Option<f64>,
}

/// Logits `W_U·h` (f64, summation in coordinate order).
pub fn logits<U: Unembedding + ?Sized>(w: &U, h: &[f64]) -> Vec<f64> {
    dispatch!(w.rows(), |rows| logits_of(rows, w.d_model(), h))
}

fn logits_of<T: Element>(rows: &[T], d: usize, h: &[f64]) -> Vec<f64> {
    rows.chunks_exact(d)
        .map(|row| row.iter().zip(h).map(|(&a, &b)| a.widen() as f64 * b).sum())
        .collect()
}

/// 1-based rank of `y` among logits `z`.
pub fn rank(z: &[f64], y: usize) -> usize {
    1 + z.iter().filter(|&&v| v > z[y]).count()
}

/// `g_y = W_U[y] - Σ_j p_j W_U[j]` at the post-norm state `h`.
pub fn gradient_log_p<U: Unembedding + ?Sized>(
    w: &U,
    h: &[f64],
    y: usize,
) -> Result<Vec<f64>, String> {
    check(w, h, y)?;
    let lp = log_softmax(&logits(w, h));
    Ok(gradient_from_log_probs(w, &lp, y))
}

fn gradient_from_log_probs<U: Unembedding + ?Sized>(w: &U, lp: &[f64], y: usize) -> Vec<f64> {
    let g: Vec<f64> = w.row(y).iter().map(|&v| v as f64).collect();
    dispatch!(w.rows(), |rows| subtract_mean_row(g, rows, w.d_model(), lp))
}

/// `g - Σ_j p_j·rows[j]` with `p_j = exp(lp[j])`, rows in order.
fn subtract_mean_row<T: Element>(mut g: Vec<f64>, rows: &[T], d: usize, lp: &[f64]) -> Vec<f64> {
    for (row, &l) in rows.chunks_exact(d).zip(lp) {
        let p = l.exp();
        for (gi, &r) in g.iter_mut().zip(row) {
            *gi -= p * r.widen() as f64;
        }
    }
    g
}

fn check<U: Unembedding + ?Sized>(w: &U, h: &[f64], y: usize) -> Result<(), String> {
    if h.len() != w.d_model() {
        return Err(format!(
            "state has {} coordinates, d_model = {}",
            h.len(),
            w.d_model()
        ));
    }
    if y >= w.vocab() {
        return Err(format!("target {y} outside the vocabulary"));
    }
    if h.iter().any(|v| !v.is_finite()) {
        return Err("state contains a non-finite value".into());
    }
    Ok(())
}

fn finish<U: Unembedding + ?Sized>(
    w: &U,
    h: &[f64],
    y: usize,
    delta: Vec<f64>,
    z_old: &[f64],
    c: Option<usize>,
) -> Steer {
    let lp_old = log_softmax(z_old);
    let h_new: Vec<f64> = h.iter().zip(&delta).map(|(a, b)| a + b).collect();
    let z_new = logits(w, &h_new);
    let lp_new = log_softmax(&z_new);
    Steer {
        norm: delta.iter().map(|v| v * v).sum::<f64>().sqrt(),
        delta,
        old_log_p: lp_old[y],
        new_log_p: lp_new[y],
        new_p: lp_new[y].exp(),
        old_rank: rank(z_old, y),
        new_rank: rank(&z_new, y),
        competitor: c,
        old_gap: c.map(|c| z_old[y] - z_old[c]),
        new_gap: c.map(|c| z_new[y] - z_new[c]),
    }
}

/// Delta form: `δ = Δ·g_y/‖g_y‖²` at the post-norm state `h`. Errors when `g_y = 0` (p_y = 1 in
/// floating point, or all unembedding rows equal) and Δ != 0, or Δ is not finite.
pub fn steer_delta<U: Unembedding + ?Sized>(
    w: &U,
    h: &[f64],
    y: usize,
    delta_log_p: f64,
) -> Result<Steer, String> {
    check(w, h, y)?;
    if !delta_log_p.is_finite() {
        return Err("Δ must be finite".into());
    }
    let z = logits(w, h);
    let lp = log_softmax(&z);
    let g = gradient_from_log_probs(w, &lp, y);
    let g2: f64 = g.iter().map(|v| v * v).sum();
    let delta = if delta_log_p == 0.0 {
        vec![0.0; g.len()]
    } else if g2 > 0.0 && g2.is_finite() {
        g.iter().map(|v| delta_log_p * v / g2).collect()
    } else {
        return Err("the gradient of log p(y) is zero: no direction raises it".into());
    };
    Ok(finish(w, h, y, delta, &z, None))
}

/// Margin form: make y beat the current top token c ≠ y by `margin` (logits). Errors when
/// `W_U[y] = W_U[c]` and a step is needed, or margin is not finite.
pub fn steer_margin<U: Unembedding + ?Sized>(
    w: &U,
    h: &[f64],
    y: usize,
    margin: f64,
) -> Result<Steer, String> {
    check(w, h, y)?;
    if !margin.is_finite() {
        return Err("margin must be finite".into());
    }
    let z = logits(w, h);
    let c = (0..z.len())
        .filter(|&j| j != y)
        .fold(None, |best: Option<usize>, j| match best {
            Some(b) if z[b] >= z[j] => Some(b),
            _ => Some(j),
        })
        .ok_or("the vocabulary has a single token")?;
    let need = (margin - (z[y] - z[c])).max(0.0);
    let d = w.d_model();
    let delta = if need == 0.0 {
        vec![0.0; d]
    } else {
        let wv: Vec<f64> = w
            .row(y)
            .iter()
            .zip(w.row(c).iter())
            .map(|(&a, &b)| a as f64 - b as f64)
            .collect();
        let w2: f64 = wv.iter().map(|v| v * v).sum();
        if w2 <= 0.0 {
            return Err(format!("tokens {y} and {c} have the same unembedding row"));
        }
        wv.iter().map(|v| need * v / w2).collect()
    };
    Ok(finish(w, h, y, delta, &z, Some(c)))
}

/// `LN(x) = g ⊙ (x - mean)/sqrt(var + eps) + b` in f64 (biased variance).
pub fn layer_norm(x: &[f64], gain: &[f64], bias: &[f64], eps: f64) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps).sqrt();
    x.iter()
        .zip(gain)
        .zip(bias)
        .map(|((v, g), b)| g * (v - mean) * rstd + b)
        .collect()
}

/// Vector-Jacobian product of LayerNorm: `(∂LN/∂x)ᵀ·u`. With `x̂ = (x - mean)·rstd` and
/// `a = g ⊙ u`: `grad = rstd·(a - mean(a) - x̂·mean(a ⊙ x̂))`. Lengths must match (else the
/// shortest is used).
pub fn layer_norm_vjp(x: &[f64], gain: &[f64], eps: f64, upstream: &[f64]) -> Vec<f64> {
    let len = x.len().min(gain.len()).min(upstream.len());
    let (x, gain, upstream) = (&x[..len], &gain[..len], &upstream[..len]);
    if len == 0 {
        return Vec::new();
    }
    let n = len as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let rstd = 1.0 / (var + eps).sqrt();
    let xhat: Vec<f64> = x.iter().map(|v| (v - mean) * rstd).collect();
    let a: Vec<f64> = gain.iter().zip(upstream).map(|(g, u)| g * u).collect();
    let mean_a = a.iter().sum::<f64>() / n;
    let mean_ax = a.iter().zip(&xhat).map(|(a, x)| a * x).sum::<f64>() / n;
    a.iter()
        .zip(&xhat)
        .map(|(a, xh)| rstd * (a - mean_a - xh * mean_ax))
        .collect()
}

/// `∂ log p(y)/∂h_pre` at a pre-norm state (through the final norm, f64: LayerNorm with
/// `LN_EPS` for the GPT-2 blocks, RMSNorm for Llama).
pub fn gradient_log_p_pre_norm<W: Unembedding + FinalNorm + ?Sized>(
    w: &W,
    h_pre: &[f64],
    y: usize,
) -> Result<Vec<f64>, String> {
    check(w, h_pre, y)?;
    let post = w.final_norm(h_pre);
    let up = gradient_log_p(w, &post, y)?;
    Ok(w.final_norm_vjp(h_pre, &up))
}

/// Delta form before the final norm: `δ = Δ·g/‖g‖²` with g from [`gradient_log_p_pre_norm`]; only
/// first-order accurate (the norm is nonlinear). The returned log-probabilities are evaluated
/// through the f64 final norm at `h_pre` and `h_pre + δ`.
pub fn steer_delta_pre_norm<W: Unembedding + FinalNorm + ?Sized>(
    w: &W,
    h_pre: &[f64],
    y: usize,
    delta_log_p: f64,
) -> Result<Steer, String> {
    if !delta_log_p.is_finite() {
        return Err("Δ must be finite".into());
    }
    let grad = gradient_log_p_pre_norm(w, h_pre, y)?;
    let g2: f64 = grad.iter().map(|v| v * v).sum();
    let delta: Vec<f64> = if delta_log_p == 0.0 {
        vec![0.0; grad.len()]
    } else if g2 > 0.0 && g2.is_finite() {
        grad.iter().map(|v| delta_log_p * v / g2).collect()
    } else {
        return Err("the gradient of log p(y) is zero: no direction raises it".into());
    };
    let post_old = w.final_norm(h_pre);
    let moved: Vec<f64> = h_pre.iter().zip(&delta).map(|(a, b)| a + b).collect();
    let post_new = w.final_norm(&moved);
    let z_old = logits(w, &post_old);
    let z_new = logits(w, &post_new);
    let (lp_old, lp_new) = (log_softmax(&z_old), log_softmax(&z_new));
    Ok(Steer {
        norm: delta.iter().map(|v| v * v).sum::<f64>().sqrt(),
        delta,
        old_log_p: lp_old[y],
        new_log_p: lp_new[y],
        new_p: lp_new[y].exp(),
        old_rank: rank(&z_old, y),
        new_rank: rank(&z_new, y),
        competitor: None,
        old_gap: None,
        new_gap: None,
    })
}

/// Margin steps until the target leads every other byte by `margin` (one step beats the current
/// top byte; another may then lead, so step again, at most 16 times). The deltas add up.
pub fn steer_margin_to_top<U: Unembedding + ?Sized>(
    w: &U,
    h: &[f64],
    y: usize,
    margin: f64,
) -> Result<Steer, String> {
    let mut total = steer_margin(w, h, y, margin)?;
    let mut current: Vec<f64> = h.iter().zip(&total.delta).map(|(a, b)| a + b).collect();
    for _ in 0..16 {
        if total.new_rank == 1 {
            break;
        }
        let next = steer_margin(w, &current, y, margin)?;
        for ((t, c), d) in total
            .delta
            .iter_mut()
            .zip(current.iter_mut())
            .zip(&next.delta)
        {
            *t += d;
            *c += d;
        }
        total.new_log_p = next.new_log_p;
        total.new_p = next.new_p;
        total.new_rank = next.new_rank;
        total.new_gap = next.new_gap;
    }
    total.norm = total.delta.iter().map(|d| d * d).sum::<f64>().sqrt();
    Ok(total)
}
