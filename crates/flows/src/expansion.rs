//! Closed-form samples of a large vocabulary in groups, by a Taylor expansion in the sample's
//! parameter: one `exp` per entry per group of samples instead of one per entry per sample.
//!
//! Flows A, B and C have log-weights on a line: `x_i(θ) = l_i + θ d_i` with `l = log p0`,
//! `θ = b` (the closed form's coefficient of `s`) and `d = s - T'·l` (`T' = 0` for A and B, whose
//! `a` is 1; `T' = T` for C, whose `a = 1 - T b`). Around a centre `θ0`, with
//! `w_i = exp(x_i(θ0) - m0)`, `d_i = d̄ + D y_i` (`|y_i| <= 1`) and `δ' = (θ - θ0) D`:
//!
//! `Σ_i f_i exp(x_i(θ) - m0 - (θ - θ0) d̄) = Σ_k δ'^k / k! · Σ_i w_i f_i y_i^k`.
//!
//! So one pass over V at the centre (the moments `Σ w f y^k`, k <= [`ORDER`], for `f` = 1, `s`,
//! `l`, `log t`) gives every sum behind the diagnostics of every sample with `|δ'| <= 1`. The
//! series' remainder is below `e²/20! ≈ 3e-18` of the sum; cancellation between its terms costs at
//! most a factor `e²` (every term is bounded by `Σ w |f| e^{|δ' y|}`).
//!
//! The total variation `Σ|p - t|` is not a smooth sum, but its sign pattern is a threshold: when
//! `log t_i - l_i = d_i/T + κ0` for every entry (Flow C always; A and B from a uniform start),
//! `p_i > t_i ⟺ (θ - 1/T) d_i > ln Z + κ0`, a prefix or a suffix of the entries sorted by `d`.
//! A second pass in that order gives the prefix moments at each sample's threshold, hence the
//! mass of `p` there; the target's is a prefix sum. Where `log t - l - d/T` is not constant
//! within [`RESIDUAL_MAX`] the run keeps the per-sample kernels ([`Expansion::new`] says None).

use crate::hull::by_both;
use crate::lanes::{exp_nonpos_scalar, Sums};

/// The series' last power (`k = 0..=ORDER`; the sum of `d` needs one more).
pub const ORDER: usize = 19;

/// A group spans `|δ'| <= RADIUS` around its centre.
const RADIUS: f64 = 1.0;

/// Largest spread allowed in `log t_i - l_i - d_i/T` (half of max - min; rounding makes it about
/// `1e-16·|s|/T`, so runs below T ≈ 0.05 fall back to single samples). An entry on the wrong side of
/// the threshold has `|log p_i - log t_i| <= 2·spread`, so it moves `Σ|p - t|` by at most
/// `4·spread·t_i`: summed, at most 2e-13.
pub const RESIDUAL_MAX: f64 = 5e-14;

/// Entries summed on their own before joining the totals.
const BLOCK: usize = 64;

fn add_into(total: &mut [f64], part: &[f64]) {
    for (t, p) in total.iter_mut().zip(part) {
        *t += p;
    }
}

/// What a run's groups share: the entries sorted by `d`, and the target's sums.
#[derive(Debug)]
pub struct Expansion {
    /// `T'` of `d = s - T'·l`.
    t_prime: f64,
    /// `1/T` (the threshold's slope).
    inv_temp: f64,
    /// Sorted by `d` (ascending): `l`, `d`, `y = (d - d̄)/D`, `s`, `log t`.
    l: Vec<f64>,
    d: Vec<f64>,
    y: Vec<f64>,
    s: Vec<f64>,
    log_t: Vec<f64>,
    /// `Σ t` over the first `j` sorted entries, `j = 0..=n`.
    t_prefix: Vec<f64>,
    d_mid: f64,
    d_half: f64,
    /// `log t_i - l_i - d_i/T` (its middle value).
    kappa0: f64,
    /// `Σ t l`, `Σ t d`, `Σ t log t`, `Σ t`.
    t_l: f64,
    t_d: f64,
    t_log_t: f64,
    t_total: f64,
    /// Weights of the current group (sorted order).
    w: Vec<f64>,
}

/// The sums of one sample, as the diagnostics need them.
#[derive(Clone, Copy, Debug)]
pub struct GroupSample {
    pub sums: Sums,
    /// `ln Σ exp(x_i)`: `log p_i = l_i + θ d_i - log_norm`.
    pub log_norm: f64,
}

impl Expansion {
    /// The shared part for a run with `log p0` (all finite), scores `s`, target `t` (all
    /// positive) and `log t`, at temperature `temp`; `t_prime` is `T'` of `d = s - T'·l`. None
    /// when the threshold form of the total variation does not hold (see [`RESIDUAL_MAX`]) or an
    /// input is not finite.
    pub fn new(
        log_p0: &[f64],
        s: &[f64],
        t: &[f64],
        log_t: &[f64],
        temp: f64,
        t_prime: f64,
    ) -> Option<Expansion> {
        let n = log_p0.len();
        if n == 0 || s.len() != n || t.len() != n || log_t.len() != n {
            return None;
        }
        let all_finite = |x: &[f64]| x.iter().all(|v| v.is_finite());
        if !(all_finite(log_p0) && all_finite(s) && all_finite(log_t) && temp > 0.0) {
            return None;
        }
        if t.iter().any(|&v| v.is_nan() || v <= 0.0) {
            return None;
        }
        let inv_temp = 1.0 / temp;
        let d: Vec<f64> = s.iter().zip(log_p0).map(|(s, l)| s - t_prime * l).collect();
        let (mut r_lo, mut r_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..n {
            let r = log_t[i] - log_p0[i] - d[i] * inv_temp;
            r_lo = r_lo.min(r);
            r_hi = r_hi.max(r);
        }
        if r_hi - r_lo > 2.0 * RESIDUAL_MAX || r_hi.is_nan() {
            return None;
        }
        // By d, ties by index (exact as f64).
        let mut keyed: Vec<(f64, f64)> =
            d.iter().enumerate().map(|(i, &v)| (v, i as f64)).collect();
        keyed.sort_unstable_by(by_both);
        let order: Vec<usize> = keyed.iter().map(|&(_, i)| i as usize).collect();
        let pick = |x: &[f64]| order.iter().map(|&i| x[i]).collect::<Vec<f64>>();
        let d_sorted = pick(&d);
        let (d_lo, d_hi) = (d_sorted[0], d_sorted[n - 1]);
        let d_mid = 0.5 * (d_lo + d_hi);
        let d_half = 0.5 * (d_hi - d_lo);
        let y = d_sorted
            .iter()
            .map(|&v| {
                if d_half > 0.0 {
                    (v - d_mid) / d_half
                } else {
                    0.0
                }
            })
            .collect();
        let t_sorted = pick(t);
        let mut t_prefix = Vec::with_capacity(n + 1);
        let (mut done, mut part) = (0.0, 0.0);
        t_prefix.push(0.0);
        for (i, &v) in t_sorted.iter().enumerate() {
            part += v;
            t_prefix.push(done + part);
            if (i + 1) % BLOCK == 0 {
                done += part;
                part = 0.0;
            }
        }
        let (mut t_l, mut t_d, mut t_log_t, mut t_total) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..n {
            t_l += t[i] * log_p0[i];
            t_d += t[i] * d[i];
            t_log_t += t[i] * log_t[i];
            t_total += t[i];
        }
        Some(Expansion {
            t_prime,
            inv_temp,
            l: pick(log_p0),
            y,
            s: pick(s),
            log_t: pick(log_t),
            d: d_sorted,
            t_prefix,
            d_mid,
            d_half,
            kappa0: 0.5 * (r_lo + r_hi),
            t_l,
            t_d,
            t_log_t,
            t_total,
            w: vec![0.0; n],
        })
    }

    /// `T'` of `d = s - T'·l`.
    pub fn t_prime(&self) -> f64 {
        self.t_prime
    }

    /// The widest span of `θ` one group covers.
    pub fn group_span(&self) -> f64 {
        if self.d_half > 0.0 {
            2.0 * RADIUS / self.d_half
        } else {
            f64::INFINITY
        }
    }

    /// The sums of the samples at `thetas` (all within [`Expansion::group_span`] of each
    /// other), in their order: two passes over V. None when the centre's weights do not work
    /// (no finite largest log-weight).
    pub fn group(&mut self, thetas: &[f64]) -> Option<Vec<GroupSample>> {
        let lo = thetas.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = thetas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let theta0 = 0.5 * (lo + hi);
        if !theta0.is_finite() {
            return None;
        }
        let m0 = self
            .l
            .iter()
            .zip(&self.d)
            .map(|(l, d)| l + theta0 * d)
            .fold(f64::NEG_INFINITY, f64::max);
        if !m0.is_finite() {
            return None;
        }
        let moments = self.moments(theta0, m0);
        let mut pending: Vec<Pending> = thetas
            .iter()
            .map(|&theta| self.sample(&moments, theta, theta0, m0))
            .collect();
        self.total_variation(&moments, &mut pending);
        Some(
            pending
                .into_iter()
                .map(|p| GroupSample {
                    sums: p.sums,
                    log_norm: p.log_norm,
                })
                .collect(),
        )
    }

    /// Pass 1: the weights at the centre (kept for pass 2) and the moments `Σ w f y^k`, summed
    /// by blocks (the entries come sorted, so one running sum would gather its rounding one way).
    fn moments(&mut self, theta0: f64, m0: f64) -> Moments {
        let n = self.l.len();
        let mut total = Moments::default();
        for block in (0..n).step_by(BLOCK) {
            let mut part = Moments::default();
            for i in block..(block + BLOCK).min(n) {
                let (l, d, y) = (self.l[i], self.d[i], self.y[i]);
                let w = exp_nonpos_scalar(l + theta0 * d - m0);
                self.w[i] = w;
                let (mut p, mut ps, mut pl, mut plt) = (w, w * self.s[i], w * l, w * self.log_t[i]);
                for k in 0..=rolled(ORDER) {
                    part.one[k] += p;
                    part.s[k] += ps;
                    part.l[k] += pl;
                    part.log_t[k] += plt;
                    p *= y;
                    ps *= y;
                    pl *= y;
                    plt *= y;
                }
                part.one[ORDER + 1] += p;
            }
            add_into(&mut total.one, &part.one);
            add_into(&mut total.s, &part.s);
            add_into(&mut total.l, &part.l);
            add_into(&mut total.log_t, &part.log_t);
        }
        total
    }

    /// One sample's sums from the moments (all but the total variation), and where its
    /// threshold splits the sorted entries.
    fn sample(&self, m: &Moments, theta: f64, theta0: f64, m0: f64) -> Pending {
        let delta = theta - theta0;
        let coef = powers_over_factorials(delta * self.d_half);
        let sa = series(&m.one, &coef);
        let sa1 = series(&m.one[1..], &coef);
        let inv = 1.0 / sa;
        let log_norm = m0 + delta * self.d_mid + sa.ln();
        let mean_d = self.d_mid + self.d_half * (sa1 * inv);
        let mean_x = series(&m.l, &coef) * inv + theta * mean_d;
        let entropy = log_norm - mean_x;
        // p_i > t_i ⟺ g·d_i > ln Z + κ0.
        let g = theta - self.inv_temp;
        let level = log_norm + self.kappa0;
        let (split, suffix) = if g > 0.0 {
            let tau = level / g;
            (self.d.partition_point(|&v| v <= tau), true)
        } else if g < 0.0 {
            let tau = level / g;
            (self.d.partition_point(|&v| v < tau), false)
        } else {
            (if level < 0.0 { 0 } else { self.d.len() }, true)
        };
        Pending {
            coef,
            log_norm,
            sums: Sums {
                expected_score: series(&m.s, &coef) * inv,
                entropy,
                kl_to: -(series(&m.log_t, &coef) * inv) - entropy,
                kl_from: self.t_log_t - (self.t_l + theta * self.t_d) + log_norm * self.t_total,
                abs_diff: 0.0,
            },
            split,
            suffix,
        }
    }

    /// Pass 2: the prefix moments at every sample's split, in order of the splits, give the
    /// mass of `p` on one side; the target's is a prefix sum.
    fn total_variation(&self, m: &Moments, pending: &mut [Pending]) {
        // A few hundred samples at most: an insertion sort (no sort routine of its own in the
        // page's module).
        let mut by_split: Vec<usize> = Vec::with_capacity(pending.len());
        for j in 0..pending.len() {
            let at = by_split.partition_point(|&k| pending[k].split <= pending[j].split);
            by_split.insert(at, j);
        }
        // Completed blocks, and the current block's part (as in pass 1).
        let mut done = [0.0; ORDER + 1];
        let mut part = [0.0; ORDER + 1];
        let mut at = 0;
        for j in by_split {
            let split = pending[j].split;
            while at < split {
                let (w, y) = (self.w[at], self.y[at]);
                let mut p = w;
                for x in part.iter_mut().take(rolled(ORDER + 1)) {
                    *x += p;
                    p *= y;
                }
                at += 1;
                if at % BLOCK == 0 {
                    add_into(&mut done, &part);
                    part = [0.0; ORDER + 1];
                }
            }
            let mut prefix = done;
            add_into(&mut prefix, &part);
            let pj = &mut pending[j];
            let p_prefix = series(&prefix, &pj.coef) / series(&m.one, &pj.coef);
            let t_prefix = self.t_prefix[split];
            let (p_set, t_set) = if pj.suffix {
                (1.0 - p_prefix, self.t_total - t_prefix)
            } else {
                (p_prefix, t_prefix)
            };
            // Σ|p - t| = 2 (P_S - T_S) + Σ t - Σ p, with Σ p = 1 over the entries.
            pj.sums.abs_diff = (2.0 * (p_set - t_set) + (self.t_total - 1.0)).max(0.0);
        }
    }
}

/// The moments `Σ w f y^k` of one centre, `f` = 1 (one power more), `s`, `l`, `log t`.
#[derive(Default)]
struct Moments {
    one: [f64; ORDER + 2],
    s: [f64; ORDER + 1],
    l: [f64; ORDER + 1],
    log_t: [f64; ORDER + 1],
}

/// A sample between the passes.
struct Pending {
    coef: [f64; ORDER + 1],
    log_norm: f64,
    sums: Sums,
    /// Its threshold's position in the sorted entries, and which side has `p > t`.
    split: usize,
    suffix: bool,
}

/// `n`, hidden from the optimiser: it would unroll the series' loops (20 terms, 4 series) into
/// about 7 KB of the page's module, for no measurable speed.
#[inline(always)]
fn rolled(n: usize) -> usize {
    core::hint::black_box(n)
}

/// `x^k / k!` for `k = 0..=ORDER`.
fn powers_over_factorials(x: f64) -> [f64; ORDER + 1] {
    let mut c = [0.0; ORDER + 1];
    let mut term = 1.0;
    for (k, ck) in c.iter_mut().enumerate() {
        *ck = term;
        term *= x / (k + 1) as f64;
    }
    c
}

/// `Σ_k coef_k m_k`, smallest terms first.
fn series(m: &[f64], coef: &[f64; ORDER + 1]) -> f64 {
    (0..=rolled(ORDER)).rev().map(|k| coef[k] * m[k]).sum()
}
