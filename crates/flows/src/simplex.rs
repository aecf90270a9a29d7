//! Log-sum-exp and friends on the probability simplex.
//!
//! Every function treats `f64::NEG_INFINITY` entries of a log vector as "masked / zero mass" and
//! skips zero-probability terms, so `0·log 0`, `-inf·0` and `inf - inf` never arise.

use td_lanes::exp_nonpos_scalar;

use crate::lanes::exp_shifted;

/// `exp(x)` for `x <= 0` (and `-inf`): td-lanes' `exp`, within 1 ulp of glibc's, the same bits
/// natively and in the page, where the platform `exp` is a slow scalar call (and slower still
/// on the subnormal tails of a large, sharpened distribution).
#[inline]
pub fn exp_nonpos(x: f64) -> f64 {
    exp_nonpos_scalar(x)
}

/// Largest entry (`-inf` for an empty slice); NaN-free for finite or `-inf` inputs.
pub fn max_of(x: &[f64]) -> f64 {
    x.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// `log Σ exp(x_i)`, shifted by the max so nothing overflows. All `-inf` (or empty) gives `-inf`.
pub fn logsumexp(x: &[f64]) -> f64 {
    let m = max_of(x);
    if !m.is_finite() {
        // -inf: no mass at all; +inf: the sum is infinite (never from finite inputs).
        return m;
    }
    // A scalar pass, no buffer: the integrator calls this at every step.
    let sum: f64 = x.iter().map(|&xi| exp_nonpos(xi - m)).sum();
    m + sum.ln()
}

/// `softmax(x)` written into `out`. If every entry is `-inf` (no mass anywhere) the result is the
/// uniform distribution rather than NaN, so callers always get a point of the simplex.
pub fn softmax_into(x: &[f64], out: &mut [f64]) {
    assert_eq!(x.len(), out.len(), "softmax_into: length mismatch");
    let m = max_of(x);
    if !m.is_finite() {
        let u = 1.0 / x.len().max(1) as f64;
        out.iter_mut().for_each(|o| *o = u);
        return;
    }
    let sum = exp_shifted(x, m, out);
    // sum >= 1 because the max entry contributes exp(0) = 1.
    let inv = 1.0 / sum;
    out.iter_mut().for_each(|o| *o *= inv);
}

/// `softmax(x)` as a new vector (see [`softmax_into`]).
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    softmax_into(x, &mut out);
    out
}

/// `log softmax(x) = x - logsumexp(x)`; `-inf` entries stay `-inf`. All `-inf` gives uniform logs.
pub fn log_softmax(x: &[f64]) -> Vec<f64> {
    let l = logsumexp(x);
    if !l.is_finite() {
        let u = -(x.len().max(1) as f64).ln();
        return vec![u; x.len()];
    }
    x.iter().map(|&xi| xi - l).collect()
}

/// Normalise log-weights in place (subtract their log-sum-exp) and write the probabilities to
/// `p`. Returns the subtracted log-normaliser. Used by the flows so one `exp` pass gives both
/// `log p` and `p`.
pub fn normalise_log_into(u: &mut [f64], p: &mut [f64]) -> f64 {
    assert_eq!(u.len(), p.len(), "normalise_log_into: length mismatch");
    let m = max_of(u);
    if !m.is_finite() {
        let n = u.len().max(1) as f64;
        u.iter_mut().for_each(|x| *x = -n.ln());
        p.iter_mut().for_each(|x| *x = 1.0 / n);
        return m;
    }
    let sum = exp_shifted(u, m, p);
    let inv = 1.0 / sum;
    p.iter_mut().for_each(|x| *x *= inv);
    let l = m + sum.ln();
    u.iter_mut().for_each(|x| *x -= l);
    l
}

/// Shannon entropy `-Σ p_i log p_i` with `0·log 0 = 0`.
pub fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&pi| pi > 0.0)
        .map(|&pi| pi * pi.ln())
        .sum::<f64>()
}

/// `KL(p || q)`; zero-mass terms of `p` are skipped, `+inf` when `p_i > 0` where `q_i = 0`.
/// Clamped at 0 so rounding never reports a (meaningless) negative divergence.
pub fn kl(p: &[f64], q: &[f64]) -> f64 {
    let mut acc = 0.0;
    for (&pi, &qi) in p.iter().zip(q) {
        if pi > 0.0 {
            if qi <= 0.0 {
                return f64::INFINITY;
            }
            acc += pi * (pi.ln() - qi.ln());
        }
    }
    acc.max(0.0)
}

/// `KL(p || q)` from normalised log-probabilities: exact even where `p` or `q` underflow in linear
/// space (a token with log-probability -800 still counts). `+inf` when `q` has `-inf` where `p`
/// does not. Clamped at 0.
pub fn kl_log(log_p: &[f64], log_q: &[f64]) -> f64 {
    let mut acc = 0.0;
    for (&lp, &lq) in log_p.iter().zip(log_q) {
        if lp == f64::NEG_INFINITY {
            continue;
        }
        if lq == f64::NEG_INFINITY {
            return f64::INFINITY;
        }
        let pi = lp.exp();
        if pi > 0.0 {
            acc += pi * (lp - lq);
        }
    }
    acc.max(0.0)
}

/// `<p, s>`, skipping zero-mass tokens (so masked scores never meet a zero weight).
pub fn expected_score(p: &[f64], s: &[f64]) -> f64 {
    p.iter()
        .zip(s)
        .filter(|(&pi, _)| pi > 0.0)
        .map(|(&pi, &si)| pi * si)
        .sum()
}

/// Free energy `F(p) = <p,s> + T·H(p)`; its maximiser over the simplex is `pi_T`.
pub fn free_energy(p: &[f64], s: &[f64], temp: f64) -> f64 {
    expected_score(p, s) + temp * entropy(p)
}

/// `T·logsumexp(s/T)`, computed as `max s + T·log Σ exp((s_i - max s)/T)` so it is accurate and
/// overflow-free for T down to 1e-3 and |s| up to 1e6 (the argmax limit is `max s`).
pub fn tempered_log_partition(s: &[f64], temp: f64) -> f64 {
    let m = max_of(s);
    if !m.is_finite() {
        return m;
    }
    let sum: f64 = s.iter().map(|&si| exp_nonpos((si - m) / temp)).sum();
    m + temp * sum.ln()
}

/// `pi_T = softmax(s/T)`, shifting by `max s` before dividing by T so nothing overflows.
pub fn tempered_softmax(s: &[f64], temp: f64) -> Vec<f64> {
    let m = max_of(s);
    if !m.is_finite() {
        return softmax(s);
    }
    let u: Vec<f64> = s.iter().map(|&si| (si - m) / temp).collect();
    softmax(&u)
}

/// `log pi_T` (normalised), with the same shifting as [`tempered_softmax`].
pub fn tempered_log_softmax(s: &[f64], temp: f64) -> Vec<f64> {
    let m = max_of(s);
    if !m.is_finite() {
        return log_softmax(s);
    }
    let u: Vec<f64> = s.iter().map(|&si| (si - m) / temp).collect();
    log_softmax(&u)
}

/// Total variation distance `½ Σ |p_i - q_i|`.
pub fn total_variation(p: &[f64], q: &[f64]) -> f64 {
    0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>()
}

/// Indices attaining `max s` (ties within `1e-12·max(1, |max|)`): the face Flow A converges to.
/// Every index when all scores are `-inf` (or the slice is empty).
pub fn argmax_face(s: &[f64]) -> Vec<usize> {
    let m = max_of(s);
    if !m.is_finite() {
        return (0..s.len()).collect();
    }
    let tol = 1e-12 * m.abs().max(1.0);
    (0..s.len()).filter(|&i| s[i] >= m - tol).collect()
}
