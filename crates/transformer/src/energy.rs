//! Hidden-state "energy" statistics (`docs/maths/hidden-state-energy.md`). The paper's exact
//! definitions were not available; every choice is a switch in [`EnergyOptions`].
//!
//! For n positions with final hidden states h_0..h_{n-1} (pre- or post-norm) and tokens x_0..x_{n-1}:
//! - velocity `v_t = h_{t+1} - h_t`, for t = 0..n-2;
//! - kinetic `K_t = ½·m·‖v_t‖²`;
//! - potential `U_t = -log p(x_{t+1} | x_<=t)` (surprisal) or `H(p_t)` (predictive entropy);
//! - energy `E_t = K_t + U_t` (additive) or `ln(2·K_t) + U_t` (product form, `ln(m‖v‖²·PP)`).
//!
//! The series run over t = skip..=n-2 (both v_t and U_t exist there). Statistics use population
//! moments (divide by the count): `CV = std/|mean|`, drift = least-squares slope of E against t,
//! `corr(K,U)`, and `Var(E)/(Var(E−U)+Var(U))`: the variance of E against the sum of its two terms'
//! variances, `Var(K)+Var(U)` in the additive form and `Var(ln 2K)+Var(U)` in the product form, so
//! that below 1 means, in either form, that the terms entering E trade off (negative covariance).
//! Degenerate cases give `None`, never NaN.

use super::forward::{Forward, HiddenState};

/// The mass m in `K = ½·m·‖v‖²`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Mass {
    One,
    /// `1/d` (default).
    #[default]
    InvD,
    /// `m* = -Cov(K₁,U)/Var(K₁)` with `K₁ = ½‖v‖²` (the m minimising Var(m·K₁ + U)), computed on the
    /// series after `skip`. Falls back to 1/d (flagged in [`MassUsed`]) when Var(K₁) = 0, when m* is
    /// not finite, or when m* <= 0, in every form: a mass that is not positive is no mass (it
    /// would make the kinetic term negative, and the product form needs ln m). [`decoupled_null`]
    /// refits m* on every shuffled pairing, with the same fallback.
    Fitted,
}

/// The potential U_t.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Potential {
    /// `-log p(x_{t+1} | x_<=t)` (log point-perplexity; default).
    #[default]
    Surprisal,
    /// Predictive entropy `H(p_t)`.
    Entropy,
}

/// How K and U combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EnergyForm {
    /// `E = K + U` (default).
    #[default]
    Additive,
    /// `E = ln(2K) + U`. Positions with K_t = 0 (or a non-finite ln) are dropped from all three
    /// series and counted in [`EnergySeries::dropped`].
    Product,
}

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct EnergyOptions {
    pub state: HiddenState,
    pub mass: Mass,
    pub potential: Potential,
    pub form: EnergyForm,
    /// Skip the first `skip` positions (t < skip).
    pub skip: usize,
}

/// The mass actually used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MassUsed {
    pub value: f64,
    /// m* when `Mass::Fitted` was asked for and it was computable (even if not used).
    pub fitted: Option<f64>,
    /// true when `Mass::Fitted` was asked for but 1/d was used instead.
    pub fell_back: bool,
    /// 1/d: the fallback of a fitted mass (the null's refits fall back to it too).
    pub inv_d: f64,
}

impl MassUsed {
    /// Whether the value is a fitted m* (asked for, positive and used).
    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some() && !self.fell_back
    }
}

/// `m* = -Cov(K₁,U)/Var(K₁)` when it is finite (usable as a mass only when also positive).
fn fit_mass(k1: &[f64], u: &[f64]) -> Option<f64> {
    match (covariance(k1, u), variance(k1)) {
        (Some(c), Some(v)) if v > 0.0 => Some(-c / v).filter(|m| m.is_finite()),
        _ => None,
    }
}

/// Per-position series (aligned: `t[i]`, `k[i]`, `u[i]`, `e[i]`).
#[derive(Clone, Debug, PartialEq)]
pub struct EnergySeries {
    pub t: Vec<usize>,
    pub k: Vec<f64>,
    pub u: Vec<f64>,
    pub e: Vec<f64>,
    pub mass: MassUsed,
    /// Positions dropped by the product form (K_t = 0).
    pub dropped: usize,
}

/// Summary statistics of one sequence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnergySummary {
    /// Number of points.
    pub count: usize,
    pub mean_k: Option<f64>,
    pub mean_u: Option<f64>,
    pub mean_e: Option<f64>,
    pub cv_e: Option<f64>,
    pub cv_k: Option<f64>,
    pub cv_u: Option<f64>,
    /// Least-squares slope of E against t (per position).
    pub drift_slope: Option<f64>,
    pub corr_ku: Option<f64>,
    /// `Var(E)/(Var(E−U)+Var(U))`, E−U being the kinetic term as it enters E (K, or ln 2K in the
    /// product form); below 1 exactly when that term and U have a negative covariance.
    pub var_ratio: Option<f64>,
}

/// Series from a forward pass over `tokens` (the same tokens, `tokens.len() == fwd.n`).
pub fn energy_series(
    fwd: &Forward,
    tokens: &[u32],
    opts: &EnergyOptions,
) -> Result<EnergySeries, String> {
    if tokens.len() != fwd.n {
        return Err(format!(
            "{} tokens for a forward pass over {} positions",
            tokens.len(),
            fwd.n
        ));
    }
    let n = fwd.n;
    let mut t_idx = Vec::new();
    let mut v2 = Vec::new();
    let mut u = Vec::new();
    let h = fwd.hidden(opts.state);
    let d = fwd.d;
    for t in opts.skip..n.saturating_sub(1) {
        let a = &h[t * d..(t + 1) * d];
        let b = &h[(t + 1) * d..(t + 2) * d];
        v2.push(a.iter().zip(b).map(|(x, y)| (y - x) * (y - x)).sum::<f64>());
        u.push(match opts.potential {
            Potential::Surprisal => fwd.surprisal(t, tokens[t + 1]),
            Potential::Entropy => fwd.entropy(t),
        });
        t_idx.push(t);
    }
    Ok(series_from_parts(&t_idx, &v2, &u, d, opts.mass, opts.form))
}

/// Series from squared speeds `‖v_t‖²` and potentials `U_t` at positions `t` (already skipped):
/// the part of [`energy_series`] after the forward pass, for hand-made inputs. `d` sets the 1/d mass.
pub fn series_from_parts(
    t: &[usize],
    speed2: &[f64],
    u: &[f64],
    d: usize,
    mass: Mass,
    form: EnergyForm,
) -> EnergySeries {
    let len = t.len().min(speed2.len()).min(u.len());
    let k1: Vec<f64> = speed2[..len].iter().map(|v| 0.5 * v).collect();
    let inv_d = 1.0 / d.max(1) as f64;
    let used = match mass {
        Mass::One => MassUsed {
            value: 1.0,
            fitted: None,
            fell_back: false,
            inv_d,
        },
        Mass::InvD => MassUsed {
            value: inv_d,
            fitted: None,
            fell_back: false,
            inv_d,
        },
        Mass::Fitted => {
            let fitted = fit_mass(&k1, &u[..len]);
            let usable = fitted.filter(|&m| m > 0.0);
            MassUsed {
                value: usable.unwrap_or(inv_d),
                fitted,
                fell_back: usable.is_none(),
                inv_d,
            }
        }
    };
    let m = used.value;
    let mut out = EnergySeries {
        t: Vec::with_capacity(len),
        k: Vec::with_capacity(len),
        u: Vec::with_capacity(len),
        e: Vec::with_capacity(len),
        mass: used,
        dropped: 0,
    };
    for i in 0..len {
        let k = m * k1[i];
        let e = match form {
            EnergyForm::Additive => k + u[i],
            EnergyForm::Product => (2.0 * k).ln() + u[i],
        };
        if !e.is_finite() {
            out.dropped += 1;
            continue;
        }
        out.t.push(t[i]);
        out.k.push(k);
        out.u.push(u[i]);
        out.e.push(e);
    }
    out
}

/// Summary statistics of a series.
pub fn summarize(s: &EnergySeries) -> EnergySummary {
    let tf: Vec<f64> = s.t.iter().map(|&t| t as f64).collect();
    let var_u = variance(&s.u);
    // The kinetic term as it enters E (K itself, to rounding, in the additive form; ln 2K in the
    // product form): Var(E) = Var(E−U) + Var(U) + 2 Cov(E−U, U).
    let kinetic_term: Vec<f64> = s.e.iter().zip(&s.u).map(|(e, u)| e - u).collect();
    let var_kinetic_term = variance(&kinetic_term);
    EnergySummary {
        count: s.e.len(),
        mean_k: mean(&s.k),
        mean_u: mean(&s.u),
        mean_e: mean(&s.e),
        cv_e: cv(&s.e),
        cv_k: cv(&s.k),
        cv_u: cv(&s.u),
        drift_slope: slope(&tf, &s.e),
        corr_ku: correlation(&s.k, &s.u),
        var_ratio: match (variance(&s.e), var_kinetic_term, var_u) {
            (Some(ve), Some(vk), Some(vu)) if vk + vu > 0.0 => Some(ve / (vk + vu)),
            _ => None,
        },
    }
}

/// Mean; None for an empty slice or a non-finite result.
pub fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    Some(x.iter().sum::<f64>() / x.len() as f64).filter(|m| m.is_finite())
}

/// Population covariance (two-pass); None for fewer than 2 points or mismatched lengths.
pub fn covariance(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 2 || x.len() != y.len() {
        return None;
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let c = x
        .iter()
        .zip(y)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / x.len() as f64;
    Some(c).filter(|c| c.is_finite())
}

/// Population variance (two-pass); None for fewer than 2 points.
pub fn variance(x: &[f64]) -> Option<f64> {
    covariance(x, x)
}

/// `std/|mean|` (population std); None for fewer than 2 points or a zero mean.
pub fn cv(x: &[f64]) -> Option<f64> {
    let m = mean(x)?;
    let v = variance(x)?;
    if m == 0.0 {
        return None;
    }
    Some(v.sqrt() / m.abs()).filter(|c| c.is_finite())
}

/// Pearson correlation; None for fewer than 2 points or a zero variance. Clamped to [-1, 1].
pub fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let c = covariance(x, y)?;
    let (vx, vy) = (variance(x)?, variance(y)?);
    if vx <= 0.0 || vy <= 0.0 {
        return None;
    }
    Some((c / (vx.sqrt() * vy.sqrt())).clamp(-1.0, 1.0)).filter(|r| r.is_finite())
}

/// Least-squares slope of y against x; None for fewer than 2 points or constant x.
pub fn slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let c = covariance(x, y)?;
    let v = variance(x)?;
    if v <= 0.0 {
        return None;
    }
    Some(c / v).filter(|s| s.is_finite())
}

/// The "no coupling" null beside the headline CV(E): what CV(E) looks like when the kinetic and
/// potential terms keep their own values but lose their pairing (U shuffled against K).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecoupledNull {
    /// Shuffles drawn.
    pub draws: usize,
    /// Mean CV(E) over the shuffles.
    pub cv_e_mean: Option<f64>,
    /// Fraction of shuffles whose CV(E) is at most the observed one (a one-sided p-value: small
    /// means E is more constant than the terms alone explain).
    pub p_value: Option<f64>,
    /// `sqrt(Var(K') + Var(U)) / |mean E|`, the CV(E) if K' and U were uncorrelated, with
    /// K' = K (additive) or ln(2K) (product form).
    pub cv_e_independent: Option<f64>,
}

/// [`DecoupledNull`] of a series: `draws` seeded Fisher–Yates shuffles of U against K.
pub fn decoupled_null(
    s: &EnergySeries,
    form: EnergyForm,
    draws: usize,
    seed: u64,
) -> DecoupledNull {
    let kinetic: Vec<f64> = match form {
        EnergyForm::Additive => s.k.clone(),
        EnergyForm::Product => s.k.iter().map(|k| (2.0 * k).ln()).collect(),
    };
    let observed = cv(&s.e);
    let independent = match (variance(&kinetic), variance(&s.u), mean(&s.e)) {
        (Some(vk), Some(vu), Some(m)) if m != 0.0 => {
            Some((vk + vu).sqrt() / m.abs()).filter(|c| c.is_finite())
        }
        _ => None,
    };
    if s.e.len() < 2 || draws == 0 {
        return DecoupledNull {
            draws: 0,
            cv_e_mean: None,
            p_value: None,
            cv_e_independent: independent,
        };
    }
    let mut rng = td_rng::Source::new(seed);
    let mut u = s.u.clone();
    let mut e = vec![0.0; u.len()];
    // A fitted mass is fitted again on every shuffled pairing: the observed CV(E) had m* chosen
    // for its pairing, and a null that kept it would compare a fitted statistic with unfitted ones.
    let k1: Option<Vec<f64>> = s
        .mass
        .is_fitted()
        .then(|| s.k.iter().map(|k| k / s.mass.value).collect());
    let (mut sum, mut count, mut at_most) = (0.0, 0usize, 0usize);
    for _ in 0..draws {
        for i in (1..u.len()).rev() {
            let j = ((rng.uniform() * (i + 1) as f64) as usize).min(i);
            u.swap(i, j);
        }
        if let Some(k1) = &k1 {
            let m = fit_mass(k1, &u)
                .filter(|&m| m > 0.0)
                .unwrap_or(s.mass.inv_d);
            for (slot, (k, v)) in e.iter_mut().zip(k1.iter().zip(&u)) {
                *slot = match form {
                    EnergyForm::Additive => m * k + v,
                    EnergyForm::Product => (2.0 * m * k).ln() + v,
                };
            }
        } else {
            for (slot, (k, v)) in e.iter_mut().zip(kinetic.iter().zip(&u)) {
                *slot = k + v;
            }
        }
        if let Some(c) = cv(&e) {
            sum += c;
            count += 1;
            if observed.is_some_and(|o| c <= o) {
                at_most += 1;
            }
        }
    }
    DecoupledNull {
        draws,
        cv_e_mean: (count > 0).then(|| sum / count as f64),
        p_value: (count > 0 && observed.is_some()).then(|| at_most as f64 / count as f64),
        cv_e_independent: independent,
    }
}
