//! The four flows: A replicator, B multiplicative weights, C entropic replicator, D entropic
//! mirror ascent. Closed forms work on log-weights so faces stay exact: a `-inf` entry of
//! `log_p0` is returned as `-inf` for every time, whatever the coefficients (no `-inf·0`).

use super::lanes;
use super::simplex::{expected_score, logsumexp, max_of, softmax_into};

/// Which flow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Flow {
    /// A: `dp_i/dt = p_i (s_i - <p,s>)/T` — the paper's ODE; converges to the argmax face.
    Replicator,
    /// B: `p ∝ p·exp(eta s/T)` — samples Flow A exactly at `t = k·eta`.
    MultiplicativeWeights,
    /// C: `dp_i/dt = kappa p_i (g_i - <p,g>)`, `g = s - T log p` — converges to `pi_T`.
    Entropic,
    /// D: `p ∝ p^(1 - eta T) exp(eta s)` — discrete Flow C; diverges for `eta T >= 2`.
    EntropicMirror,
}

impl Flow {
    /// B and D are iterated maps (time `k·eta`), A and C are ODEs.
    pub fn is_discrete(self) -> bool {
        matches!(self, Flow::MultiplicativeWeights | Flow::EntropicMirror)
    }
}

/// Time-scale choice for Flow C.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kappa {
    /// kappa = 1.
    One,
    /// kappa = 1/T (matches the paper's 1/T prefactor).
    InvT,
}

/// Numerical value of kappa at temperature `temp`.
pub fn kappa_value(k: Kappa, temp: f64) -> f64 {
    match k {
        Kappa::One => 1.0,
        Kappa::InvT => 1.0 / temp,
    }
}

/// `a·x` with `0·x = 0` even for infinite x (a coefficient that is exactly zero means "absent").
#[inline]
fn mul0(a: f64, x: f64) -> f64 {
    if a == 0.0 {
        0.0
    } else {
        a * x
    }
}

/// Every closed form is `u = a·log p0 + b·s` (unnormalised log-weights, `-inf` entries of
/// `log p0` staying `-inf`): the coefficients `(a, b)` of `flow` at time `t` (A, C) or step `k`
/// (B, D), or None when Flow D's `r^k` overflows (diverged).
///
/// - A: `a = 1`, `b = t/T`; B: Flow A at `t = k·eta`.
/// - C: `lambda = exp(-kappa T t)`, `a = lambda`, `b = (1 - lambda)/T` with
///   `1 - lambda = -expm1(-kappa T t)` at short times (`kappa T t <= 0.5`), so they keep full relative
///   accuracy; later `1 - lambda` itself, which is then accurate to a few 1e-16.
/// - D: `a = r^k`, `b = (1 - r^k)/T` for `r = 1 - eta T` ([`mirror_weights`]).
pub fn closed_coefficients(
    flow: Flow,
    temp: f64,
    kappa: f64,
    eta: f64,
    t: f64,
    k: u64,
) -> Option<(f64, f64)> {
    match flow {
        Flow::Replicator => Some((1.0, t / temp)),
        Flow::MultiplicativeWeights => Some((1.0, k as f64 * eta / temp)),
        Flow::Entropic => {
            // lambda by our exp (the platform's expm1 costs ~35 ns in the page, per sample);
            // expm1 only where 1 - lambda would lose digits (lambda > e^-0.5: 1 - lambda is then
            // accurate to a few 1e-16 relative).
            let x = -kappa * temp * t;
            let lambda = lanes::exp_nonpos_scalar(x);
            let one_minus = if x < -0.5 { 1.0 - lambda } else { -x.exp_m1() };
            Some((lambda, one_minus / temp))
        }
        Flow::EntropicMirror => {
            let (a, b) = mirror_weights(eta * temp, k);
            (a.is_finite() && b.is_finite()).then_some((a, b / temp))
        }
    }
}

/// Flow A closed form: `u = log p0 + t·s/T` (unnormalised; normalise with softmax).
pub fn replicator_closed(log_p0: &[f64], s: &[f64], temp: f64, t: f64, out: &mut [f64]) {
    interpolate(log_p0, s, 1.0, t / temp, out);
}

/// Flow C closed form (see [`closed_coefficients`]).
pub fn entropic_closed(log_p0: &[f64], s: &[f64], temp: f64, kappa: f64, t: f64, out: &mut [f64]) {
    if let Some((a, b)) = closed_coefficients(Flow::Entropic, temp, kappa, 0.0, t, 0) {
        interpolate(log_p0, s, a, b, out);
    }
}

/// `u = a·log p0 + b·s` keeping `-inf` (off-face) entries at `-inf`.
fn interpolate(log_p0: &[f64], s: &[f64], a: f64, b: f64, out: &mut [f64]) {
    for ((o, &l), &si) in out.iter_mut().zip(log_p0).zip(s) {
        *o = if l == f64::NEG_INFINITY {
            f64::NEG_INFINITY
        } else {
            mul0(a, l) + mul0(b, si)
        };
    }
}

/// Flow B closed form after k steps: exactly Flow A at `t = k·eta`.
pub fn mw_closed(log_p0: &[f64], s: &[f64], temp: f64, eta: f64, k: u64, out: &mut [f64]) {
    replicator_closed(log_p0, s, temp, k as f64 * eta, out);
}

/// Log-weights whose spread exceeds this are declared diverged (Flow D, `eta T >= 2`).
pub const DIVERGENCE_RANGE: f64 = 1e250;

/// Spread `max - min` over the finite entries (`-inf` = off the face, ignored); `inf` if any entry
/// is NaN or `+inf`.
pub(crate) fn finite_range(u: &[f64]) -> f64 {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &x in u {
        if x == f64::NEG_INFINITY {
            continue;
        }
        if !x.is_finite() {
            return f64::INFINITY;
        }
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if hi >= lo {
        hi - lo
    } else {
        0.0
    }
}

/// Flow D closed form after k steps: `r = 1 - eta T`,
/// `u = r^k log p0 + (1 - r^k) s/T`. For `0 < r < 1`, `1 - r^k = -expm1(k ln r)` keeps small
/// steps accurate. Returns false (diverged) if `r^k` overflows or the spread of `u` exceeds
/// [`DIVERGENCE_RANGE`]; `out` then holds no NaN (it is left untouched on overflow).
pub fn mirror_closed(
    log_p0: &[f64],
    s: &[f64],
    temp: f64,
    eta: f64,
    k: u64,
    out: &mut [f64],
) -> bool {
    let Some((a, b)) = closed_coefficients(Flow::EntropicMirror, temp, 0.0, eta, 0.0, k) else {
        return false;
    };
    interpolate(log_p0, s, a, b, out);
    finite_range(out) <= DIVERGENCE_RANGE
}

/// `(r^k, 1 - r^k)` for `r = 1 - eta·T`, accurately.
pub fn mirror_weights(eta_t: f64, k: u64) -> (f64, f64) {
    if k == 0 {
        return (1.0, 0.0);
    }
    let r = 1.0 - eta_t;
    let kf = k as f64;
    if r > 0.0 {
        let lr = (-eta_t).ln_1p();
        let x = kf * lr;
        (x.exp(), -x.exp_m1())
    } else if r == 0.0 {
        (0.0, 1.0)
    } else {
        let mag = (-r).powf(kf);
        let a = if k % 2 == 1 { -mag } else { mag };
        (a, 1.0 - a)
    }
}

/// Qualitative regime of Flow D at step-size·temperature `eta·T` (so the interface can say
/// "this will diverge" long before the numbers overflow).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MirrorRegime {
    /// `0 < eta T < 1`: monotone convergence to `pi_T`.
    Monotone,
    /// `eta T = 1` (within 1e-12): `pi_T` after one step.
    OneStep,
    /// `1 < eta T < 2`: oscillating convergence.
    Oscillating,
    /// `eta T >= 2` (or `eta T <= 0`): no convergence; deviations grow like `|1 - eta T|^k`.
    Divergent,
}

/// Classify `eta·T` for Flow D.
pub fn mirror_regime(eta: f64, temp: f64) -> MirrorRegime {
    let x = eta * temp;
    if (x - 1.0).abs() <= 1e-12 {
        MirrorRegime::OneStep
    } else if x > 0.0 && x < 1.0 {
        MirrorRegime::Monotone
    } else if x > 1.0 && x < 2.0 {
        MirrorRegime::Oscillating
    } else {
        MirrorRegime::Divergent
    }
}

/// One multiplicative-weights step in place: `log p += eta s/T`, then subtract the log-sum-exp.
pub fn mw_step(log_p: &mut [f64], s: &[f64], temp: f64, eta: f64) {
    let c = eta / temp;
    for (l, &si) in log_p.iter_mut().zip(s) {
        if *l != f64::NEG_INFINITY {
            *l += mul0(c, si);
        }
    }
    renormalise(log_p);
}

/// Subtract the log-sum-exp so `log_p` is a normalised log-distribution (-inf entries stay).
fn renormalise(log_p: &mut [f64]) {
    let l = logsumexp(log_p);
    if l.is_finite() {
        log_p.iter_mut().for_each(|x| *x -= l);
    }
}

/// One entropic mirror step in place: `u <- (1 - eta T) u + eta s`, then subtract the
/// log-sum-exp. Returns false, leaving `log_p` unchanged, when the new spread of log-weights
/// would exceed [`DIVERGENCE_RANGE`] or overflow (diverged; never NaN).
pub fn mirror_step(log_p: &mut [f64], s: &[f64], temp: f64, eta: f64) -> bool {
    let r = 1.0 - eta * temp;
    let new = |l: f64, si: f64| mul0(r, l) + mul0(eta, si);
    // First pass: check the result without writing, so a diverged state is never stored.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (&l, &si) in log_p.iter().zip(s) {
        if l == f64::NEG_INFINITY {
            continue;
        }
        let u = new(l, si);
        if !u.is_finite() {
            return false;
        }
        lo = lo.min(u);
        hi = hi.max(u);
    }
    if hi >= lo && hi - lo > DIVERGENCE_RANGE {
        return false;
    }
    for (l, &si) in log_p.iter_mut().zip(s) {
        if *l != f64::NEG_INFINITY {
            *l = new(*l, si);
        }
    }
    renormalise(log_p);
    true
}

/// Log of p with `-inf` for zero entries.
fn log_of(p: &[f64]) -> Vec<f64> {
    p.iter()
        .map(|&x| if x > 0.0 { x.ln() } else { f64::NEG_INFINITY })
        .collect()
}

/// Vector field for arrows: `dp/dt` for A and C, `p_{k+1} - p` for B and D (zero if the D step
/// diverges). Zero-mass tokens get exactly 0 (faces are invariant).
pub fn velocity(
    flow: Flow,
    p: &[f64],
    s: &[f64],
    temp: f64,
    kappa: f64,
    eta: f64,
    out: &mut [f64],
) {
    match flow {
        Flow::Replicator => {
            let m = expected_score(p, s);
            for ((o, &pi), &si) in out.iter_mut().zip(p).zip(s) {
                *o = if pi > 0.0 { pi * (si - m) / temp } else { 0.0 };
            }
        }
        Flow::Entropic => {
            // g = s - T log p, held in `out` (no allocation: the field calls this per grid point).
            for ((o, &pi), &si) in out.iter_mut().zip(p).zip(s) {
                *o = if pi > 0.0 { si - temp * pi.ln() } else { 0.0 };
            }
            let m = expected_score(p, out);
            for (o, &pi) in out.iter_mut().zip(p) {
                *o = if pi > 0.0 { kappa * pi * (*o - m) } else { 0.0 };
            }
        }
        Flow::MultiplicativeWeights | Flow::EntropicMirror => {
            let mut lp = log_of(p);
            let ok = if flow == Flow::MultiplicativeWeights {
                mw_step(&mut lp, s, temp, eta);
                true
            } else {
                mirror_step(&mut lp, s, temp, eta)
            };
            if !ok || !max_of(&lp).is_finite() {
                out.iter_mut().for_each(|o| *o = 0.0);
                return;
            }
            softmax_into(&lp.clone(), &mut lp);
            for ((o, &q), &pi) in out.iter_mut().zip(&lp).zip(p) {
                *o = q - pi;
            }
        }
    }
}
