//! Truncation faces (top-k, nucleus/top-p, min-p): the sets S a decoder restricts sampling to.
//!
//! Every flow leaves the face `{p : supp p ⊆ S}` invariant, and on it Flow C converges to the
//! renormalised truncated softmax [`truncated_target`] — what a truncating decoder samples from.

use super::simplex::{max_of, tempered_softmax};

/// Which truncation rule defines the face.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Truncation {
    /// No truncation: the whole simplex.
    None,
    /// The k largest scores (ties by lower index); k is clamped to [1, V].
    TopK(usize),
    /// Nucleus: smallest set of most probable tokens with mass >= p_top, p_top in (0, 1].
    TopP(f64),
    /// min-p: tokens with probability >= p_min · (largest probability).
    MinP(f64),
}

/// Whether temperature is applied before the truncation set is chosen (matters for top-p/min-p).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TruncOrder {
    /// The set is computed from `pi_T` (what HF-style decoders do: temperature warper first).
    TemperatureFirst,
    /// The set is computed from `pi_1 = softmax(s)`; temperature is applied afterwards.
    TruncationFirst,
}

/// Token order by decreasing score, ties broken by lower index (a total, reproducible order).
pub fn order_desc(s: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
    idx
}

/// The active face S, sorted ascending and never empty (for V >= 1).
///
/// top-k ignores T and `order`. top-p with `p_top >= 1` (or NaN) keeps every token; otherwise it
/// accumulates probabilities of `pi_T` (or `pi_1`) in decreasing order until the mass reaches
/// `p_top`. min-p compares in log space, `(s_i - max s)/T >= ln p_min`, which is the same rule
/// without underflow; `p_min <= 0` keeps everything, `p_min >= 1` keeps the argmax ties.
pub fn support(s: &[f64], temp: f64, trunc: &Truncation, order: TruncOrder) -> Vec<usize> {
    let v = s.len();
    let all = || (0..v).collect::<Vec<usize>>();
    if v == 0 {
        return Vec::new();
    }
    let t_eff = match order {
        TruncOrder::TemperatureFirst => temp,
        TruncOrder::TruncationFirst => 1.0,
    };
    let mut set = match *trunc {
        Truncation::None => return all(),
        Truncation::TopK(k) => {
            let k = k.clamp(1, v);
            let mut idx = order_desc(s);
            idx.truncate(k);
            idx
        }
        Truncation::TopP(p_top) => {
            if p_top.is_nan() || p_top >= 1.0 {
                return all();
            }
            let pi = tempered_softmax(s, t_eff);
            // Probabilities are a monotone function of s, so order by s (exact ties stay by index).
            let idx = order_desc(s);
            let mut cum = 0.0;
            let mut n = v;
            for (j, &i) in idx.iter().enumerate() {
                cum += pi[i];
                if cum >= p_top {
                    n = j + 1;
                    break;
                }
            }
            let mut idx = idx;
            idx.truncate(n.max(1));
            idx
        }
        Truncation::MinP(p_min) => {
            if p_min.is_nan() || p_min <= 0.0 {
                return all();
            }
            let m = max_of(s);
            let thr = p_min.min(1.0).ln();
            let sel: Vec<usize> = (0..v).filter(|&i| (s[i] - m) / t_eff >= thr).collect();
            if sel.is_empty() {
                order_desc(s)[..1].to_vec()
            } else {
                sel
            }
        }
    };
    set.sort_unstable();
    set
}

/// `pi_T^S`: `exp(s_i/T) / Σ_{j∈S} exp(s_j/T)` on S, exactly 0 off S, full length V.
/// An empty `support` falls back to the untruncated `pi_T` (never a non-distribution).
pub fn truncated_target(s: &[f64], temp: f64, support: &[usize]) -> Vec<f64> {
    if support.is_empty() {
        return tempered_softmax(s, temp);
    }
    let sub: Vec<f64> = support.iter().map(|&i| s[i]).collect();
    let pi = tempered_softmax(&sub, temp);
    let mut out = vec![0.0; s.len()];
    for (&i, &q) in support.iter().zip(&pi) {
        out[i] = q;
    }
    out
}

/// Restrict `p` to S and renormalise (negative entries count as 0). `None` if S carries no mass.
pub fn project_to_face(p: &[f64], support: &[usize]) -> Option<Vec<f64>> {
    let mass: f64 = support.iter().map(|&i| p[i].max(0.0)).sum();
    if !(mass > 0.0 && mass.is_finite()) {
        return None;
    }
    let mut out = vec![0.0; p.len()];
    for &i in support {
        out[i] = p[i].max(0.0) / mass;
    }
    Some(out)
}
