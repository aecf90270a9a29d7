//! Tokens on the unit sphere S^{d-1}: the normalised self-attention model of Geshkovski, Letrouit,
//! Polyanskiy and Rigollet ("A mathematical perspective on Transformers", arXiv 2312.10794).
//!
//! With o_i(x) = (1/Z_i) Σ_j w_ij(x) V x_j the attention output of token i (softmax weights
//! w_ij = e^{β⟨A x_i, x_j⟩}, or the uniform weights of hardmax and localmax over N_i; A = QᵀK is
//! the key-query matrix, V the value matrix) and P_x y = y − ⟨x, y⟩x the projection on the
//! tangent space at x:
//!
//! - self-attention (SA): dx_i/dt = P_{x_i}(o_i), Z_i = Σ_j w_ij;
//! - unnormalised (USA): the same with Z_i replaced by n.
//!
//! Two time discretisations, both ours (the papers work in continuous time):
//!
//! - [`Time::Ode`]: the ODE above integrated by the Dormand–Prince 5(4) pair with adaptive
//!   sub-steps, local error (max norm over all coordinates) at most `tol` per accepted sub-step,
//!   every token renormalised after each accepted sub-step; states are stored every `h` time units.
//!   Each stage is evaluated at its point renormalised row by row, so the field has no stiff
//!   direction normal to the sphere (the unnormalised model at large β is stiff along the sphere
//!   anyway: its clustering rate is 2e^β, 2512.01868 §6.1, and the sub-steps shrink to match). Hardmax and localmax make the field discontinuous: a sub-step
//!   never gets shorter than h·[`MIN_SUBSTEP_FRACTION_UNIFORM`] for them (h·[`MIN_SUBSTEP_FRACTION`]
//!   for softmax), and sub-steps accepted at that length
//!   above the tolerance are counted ([`OdeReport::forced`]) so the page can say so.
//! - [`Time::Layers`]: post-norm layers x_i ← (x_i + h·o_i)/‖x_i + h·o_i‖ (what layer
//!   normalisation after a residual attention block does), time k·h after k layers. For small h it
//!   is a first-order step of the ODE up to a time change per token.
//!
//! The interaction energy E_β(x) = (1/(2βn²)) Σ_{i,j} e^{β⟨x_i, x_j⟩} (2312.10794; USA with
//! Q = K = V = I is gradient ascent on it, so it cannot decrease along that flow) is reported as
//! the "energy as a mean inner product" ρ_β = (1/β)·ln((1/n²) Σ_{i,j} e^{β⟨x_i,x_j⟩}) = (1/β)·ln(2βE_β):
//! an increasing function of E_β for β > 0, 1 for a single cluster, in [−1, 1], and at β = 0 its
//! limit, the mean inner product ‖x̄‖² (which the β = 0 flow increases). It never overflows.

use super::dynamics::{self, Kernel, Scratch, StepStats, Update};
use super::graph::Bitset;
use super::pairwise::{self, PairDiag, PairScratch};

/// Shortest sub-step of the ODE integrator, as a fraction of the output interval h, for softmax
/// (smooth, but stiff for the unnormalised model at large β).
pub const MIN_SUBSTEP_FRACTION: f64 = 1e-4;
/// The same for hardmax and localmax, whose field jumps where a neighbourhood changes: no sub-step
/// meets a tolerance across a jump, so shrinking further only costs time.
pub const MIN_SUBSTEP_FRACTION_UNIFORM: f64 = 1e-3;
/// Largest output interval h.
pub const MAX_H: f64 = 100.0;
/// Tolerance range of the integrator (local error per sub-step, max norm).
pub const TOL_RANGE: (f64, f64) = (1e-13, 1e-3);

/// 1/Z_i (self-attention) or 1/n (unnormalised).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalisation {
    SelfAttention,
    Unnormalised,
}

/// How time advances between two stored states.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Time {
    /// Post-norm layers of step h.
    Layers { h: f64 },
    /// The ODE, stored every h time units, adaptive sub-steps with local error <= tol.
    Ode { h: f64, tol: f64 },
}

impl Time {
    /// Time between two stored states.
    pub fn h(&self) -> f64 {
        match *self {
            Time::Layers { h } | Time::Ode { h, .. } => h,
        }
    }
}

/// The sphere model's settings (everything else is in [`crate::Spec`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Sphere {
    /// Value matrix V, row-major d×d (identity keeps the gradient-flow structure).
    pub value: Vec<f64>,
    pub normalisation: Normalisation,
    pub time: Time,
    /// β of the interaction energy E_β (the softmax β; reported under every rule).
    pub energy_beta: f64,
}

impl Sphere {
    /// One line naming the active model and discretisation.
    pub fn describe(&self) -> String {
        let norm = match self.normalisation {
            Normalisation::SelfAttention => "self-attention (1/Z_i)",
            Normalisation::Unnormalised => "unnormalised attention (1/n)",
        };
        let time = match self.time {
            Time::Ode { h, tol } => format!(
                "ODE dx_i/dt = P_x_i(V o_i), Dormand–Prince 5(4), local error ≤ {tol:e}, a state every {h} time units"
            ),
            Time::Layers { h } => format!(
                "post-norm layers x_i ← normalise(x_i + {h}·V o_i) (our discretisation)"
            ),
        };
        format!("on the sphere S^(d−1), {norm}: {time}")
    }

    /// Errors for settings the run cannot use.
    pub fn validate(&self, d: usize) -> Result<(), String> {
        if self.value.len() != d * d || self.value.iter().any(|v| !v.is_finite() || v.abs() > 1e100)
        {
            return Err("V must hold d×d finite values (|v| <= 1e100)".into());
        }
        let h = self.time.h();
        if !(h.is_finite() && h > 0.0 && h <= MAX_H) {
            return Err(format!("the step h must be in (0, {MAX_H}]"));
        }
        if let Time::Ode { tol, .. } = self.time {
            if !(TOL_RANGE.0..=TOL_RANGE.1).contains(&tol) {
                return Err(format!(
                    "the integrator tolerance must be in [{:e}, {:e}]",
                    TOL_RANGE.0, TOL_RANGE.1
                ));
            }
        }
        if !(self.energy_beta.is_finite() && self.energy_beta >= 0.0) {
            return Err("the energy's beta must be finite and >= 0".into());
        }
        Ok(())
    }
}

/// Diagnostics of one state on the sphere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SphereDiag {
    /// ρ_β = (1/β)·ln(2βE_β) (mean inner product at β = 0); see the module docs.
    pub energy: f64,
    /// min_{i,j} ⟨x_i, x_j⟩.
    pub min_inner: f64,
}

/// What the integrator did over one output interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OdeReport {
    /// Accepted sub-steps (1 for a layer).
    pub substeps: usize,
    /// Sub-steps accepted at the shortest length although their error estimate exceeded `tol`.
    pub forced: usize,
}

/// Scales every row to unit length. Rows whose norm is 0 or not finite become e_1; returns how
/// many did.
pub fn normalise_rows(x: &mut [f64], d: usize) -> usize {
    let mut bad = 0;
    for row in x.chunks_exact_mut(d) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            row.iter_mut().for_each(|v| *v /= norm);
        } else {
            row.iter_mut().for_each(|v| *v = 0.0);
            row[0] = 1.0;
            bad += 1;
        }
    }
    bad
}

/// Energy and smallest inner product of a state (O(n² d), each pair once, two pairs at a time:
/// [`pairwise::state_sums`], the pairwise kernel's pass).
pub fn diagnostics(x: &[f64], n: usize, d: usize, beta: f64) -> SphereDiag {
    measure(x, n, d, beta).0
}

/// [`diagnostics`] and the state's diameter, measured by the same pass.
pub fn measure(x: &[f64], n: usize, d: usize, beta: f64) -> (SphereDiag, f64) {
    let sums = pairwise::state_sums(x, n, d, beta);
    let diag = SphereDiag {
        energy: energy_of(&sums, n, beta),
        min_inner: sums.min_inner,
    };
    (diag, sums.max_dist2.sqrt())
}

/// ρ_β from a pass's sums: m + ln(1 + excess/n²)/β, or the mean inner product at β = 0.
fn energy_of(sums: &PairDiag, n: usize, beta: f64) -> f64 {
    let pairs = (n * n) as f64;
    if beta > 0.0 {
        sums.shift + (sums.excess / pairs).ln_1p() / beta
    } else {
        sums.inner_sum / pairs
    }
}

/// When the next [`step`] will use the pairwise kernel (softmax with A = I, see [`pairwise`])
/// and its β is the energy's: evaluates the field at `x` now, keeps it for that step (which must
/// start from `x`), and returns the state's diagnostics and diameter, measured by the same pass.
/// None otherwise, and nothing is kept.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    x: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    sphere: &Sphere,
    kernel: Kernel,
    scratch: &mut Scratch,
    ss: &mut SphereScratch,
) -> Option<(SphereDiag, f64)> {
    ss.prepared = None;
    let Kernel::Softmax { beta } = kernel else {
        return None;
    };
    if beta != sphere.energy_beta || !pairwise::is_identity(a, d) {
        return None;
    }
    ss.stages[0].resize(n * d, 0.0);
    let project = matches!(sphere.time, Time::Ode { .. });
    let out = &mut ss.stages[0];
    let (stats, sums) = field(
        x,
        n,
        d,
        a,
        sphere,
        kernel,
        scratch,
        &mut ss.buffers,
        project,
        out,
    );
    let sums = sums?;
    ss.prepared = Some(stats);
    let diag = SphereDiag {
        energy: energy_of(&sums, n, beta),
        min_inner: sums.min_inner,
    };
    Some((diag, sums.max_dist2.sqrt()))
}

/// Reused buffers of the sphere step.
#[derive(Clone, Debug, Default)]
pub struct SphereScratch {
    /// Dormand–Prince stages.
    stages: [Vec<f64>; 7],
    y: Vec<f64>,
    buffers: FieldBuffers,
    /// The last accepted sub-step, where the next interval starts (0: not yet known).
    dt: f64,
    /// Set by [`prepare`]: `stages[0]` and the buffers' graph and flags hold the field at the
    /// state the next [`step`] starts from, with these statistics.
    prepared: Option<StepStats>,
}

/// What one evaluation of the field writes besides its output.
#[derive(Clone, Debug, Default)]
struct FieldBuffers {
    /// The attention outputs before the value matrix.
    mean: Vec<f64>,
    graph: Bitset,
    flags: Vec<u8>,
    pairs: PairScratch,
}

/// `out_i = V·o_i` (project: minus its component along y_i).
#[allow(clippy::too_many_arguments)]
fn field(
    y: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    sphere: &Sphere,
    kernel: Kernel,
    scratch: &mut Scratch,
    buffers: &mut FieldBuffers,
    project: bool,
    out: &mut [f64],
) -> (StepStats, Option<PairDiag>) {
    let FieldBuffers {
        mean,
        graph,
        flags,
        pairs,
    } = buffers;
    mean.resize(n * d, 0.0);
    flags.resize(n, 0);
    let unnormalised = sphere.normalisation == Normalisation::Unnormalised;
    let (stats, pair_diag) = match kernel {
        Kernel::Softmax { beta } if pairwise::is_identity(a, d) => {
            let (stats, diag) = pairwise::attend(
                y,
                n,
                d,
                beta,
                unnormalised,
                dynamics::MAX_UNNORMALISED_EXPONENT,
                pairs,
                graph,
                flags,
                mean,
            );
            (stats, Some(diag))
        }
        _ => {
            let update = Update::Attend { unnormalised };
            let stats = dynamics::step(y, n, d, a, update, kernel, scratch, graph, flags, mean);
            (stats, None)
        }
    };
    let v = &sphere.value;
    for i in 0..n {
        let (mi, yi) = (&mean[i * d..(i + 1) * d], &y[i * d..(i + 1) * d]);
        let oi = &mut out[i * d..(i + 1) * d];
        for r in 0..d {
            oi[r] = v[r * d..(r + 1) * d]
                .iter()
                .zip(mi)
                .map(|(p, q)| p * q)
                .sum();
        }
        if project {
            let along: f64 = oi.iter().zip(yi).map(|(p, q)| p * q).sum();
            for (o, &c) in oi.iter_mut().zip(yi) {
                *o -= along * c;
            }
        }
    }
    (stats, pair_diag)
}

// Dormand–Prince 5(4): the tableau rows a_2..a_7, the 5th-order weights (= a_7) and the
// difference between the 5th- and 4th-order weights (the error estimate).
const DP_A: [&[f64]; 6] = [
    &[1.0 / 5.0],
    &[3.0 / 40.0, 9.0 / 40.0],
    &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
    &[
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
    ],
    &[
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
    ],
    &[
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
const DP_E: [f64; 7] = [
    35.0 / 384.0 - 5179.0 / 57600.0,
    0.0,
    500.0 / 1113.0 - 7571.0 / 16695.0,
    125.0 / 192.0 - 393.0 / 640.0,
    -2187.0 / 6784.0 + 92097.0 / 339200.0,
    11.0 / 84.0 - 187.0 / 2100.0,
    -1.0 / 40.0,
];

/// One output interval: `new` = the state h time units (or one layer) after `old`. `graph` and
/// `flags` receive the attention graph and leader flags at `old` (as in the R^d step).
#[allow(clippy::too_many_arguments)]
pub fn step(
    old: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    sphere: &Sphere,
    kernel: Kernel,
    scratch: &mut Scratch,
    ss: &mut SphereScratch,
    graph: &mut Bitset,
    flags: &mut [u8],
    new: &mut [f64],
) -> (StepStats, OdeReport) {
    let nd = n * d;
    for s in ss.stages.iter_mut() {
        s.resize(nd, 0.0);
    }
    let project = matches!(sphere.time, Time::Ode { .. });
    let stats = match ss.prepared.take() {
        Some(stats) => stats,
        None => {
            let out = &mut ss.stages[0];
            field(
                old,
                n,
                d,
                a,
                sphere,
                kernel,
                scratch,
                &mut ss.buffers,
                project,
                out,
            )
            .0
        }
    };
    // the graph and leaders at `old`; later stages overwrite the buffers' copies
    std::mem::swap(graph, &mut ss.buffers.graph);
    flags[..n].copy_from_slice(&ss.buffers.flags[..n]);
    let report = match sphere.time {
        Time::Layers { h } => {
            for ((o, x), k) in new.iter_mut().zip(old).zip(&ss.stages[0]) {
                *o = x + h * k;
            }
            renormalise(new, old, d);
            OdeReport {
                substeps: 1,
                forced: 0,
            }
        }
        Time::Ode { h, tol } => integrate(old, n, d, a, sphere, kernel, scratch, ss, h, tol, new),
    };
    (stats, report)
}

/// Unit rows; a row of zero or non-finite norm keeps the token where it was (`prev`).
fn renormalise(x: &mut [f64], prev: &[f64], d: usize) {
    for (row, p) in x.chunks_exact_mut(d).zip(prev.chunks_exact(d)) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 && norm.is_finite() {
            row.iter_mut().for_each(|v| *v /= norm);
        } else {
            row.copy_from_slice(p);
        }
    }
}

/// Dormand–Prince from `old` over h; `ss.stages[0]` holds the field at `old` on entry.
#[allow(clippy::too_many_arguments)]
fn integrate(
    old: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    sphere: &Sphere,
    kernel: Kernel,
    scratch: &mut Scratch,
    ss: &mut SphereScratch,
    h: f64,
    tol: f64,
    new: &mut [f64],
) -> OdeReport {
    let min_dt = h * match kernel {
        Kernel::Softmax { .. } => MIN_SUBSTEP_FRACTION,
        Kernel::Uniform { .. } => MIN_SUBSTEP_FRACTION_UNIFORM,
    };
    let mut report = OdeReport::default();
    new.copy_from_slice(old);
    let mut t = 0.0;
    let mut dt = if ss.dt > 0.0 { ss.dt.min(h) } else { h };
    let mut have_k0 = true;
    while t < h {
        let last = h - t <= dt * (1.0 + 1e-12);
        let step_dt = if last { h - t } else { dt.max(min_dt) };
        if !have_k0 {
            field(
                new,
                n,
                d,
                a,
                sphere,
                kernel,
                scratch,
                &mut ss.buffers,
                true,
                &mut ss.stages[0],
            );
            have_k0 = true;
        }
        for (s, row) in DP_A.iter().enumerate() {
            ss.y.clear();
            ss.y.extend_from_slice(new);
            for (c, &coef) in row.iter().enumerate() {
                if coef != 0.0 {
                    for (y, k) in ss.y.iter_mut().zip(&ss.stages[c]) {
                        *y += step_dt * coef * k;
                    }
                }
            }
            // Stages are evaluated at the renormalised point: the field is then tangent and
            // homogeneous of degree 0 off the sphere, with no stiff normal direction.
            renormalise(&mut ss.y, new, d);
            let (_, rest) = ss.stages.split_at_mut(s + 1);
            field(
                &ss.y,
                n,
                d,
                a,
                sphere,
                kernel,
                scratch,
                &mut ss.buffers,
                true,
                &mut rest[0],
            );
        }
        // ss.y is the 5th-order solution (the last tableau row is its weights).
        let mut err = 0.0f64;
        for i in 0..new.len() {
            let e: f64 = (0..7).map(|s| DP_E[s] * ss.stages[s][i]).sum::<f64>() * step_dt;
            // A stage that overflowed gives NaN, which `max` would skip: reject the sub-step.
            if e.is_nan() || e.abs() > err {
                err = e.abs();
            }
        }
        let err = if err.is_finite() { err } else { f64::INFINITY };
        let at_floor = step_dt <= min_dt * (1.0 + 1e-12);
        let factor = if err > 0.0 {
            (0.9 * (tol / err).powf(0.2)).clamp(0.2, 5.0)
        } else {
            5.0
        };
        if err <= tol || at_floor {
            if err > tol {
                report.forced += 1;
            }
            // Already unit rows (a row of zero or non-finite norm kept the last accepted one).
            new.copy_from_slice(&ss.y);
            report.substeps += 1;
            have_k0 = false;
            if last {
                t = h;
            } else {
                t += step_dt;
                ss.dt = (step_dt * factor).max(min_dt);
            }
        }
        dt = (step_dt * factor).max(min_dt);
    }
    report
}

/// Most RK4 steps [`equiangular_solution`] takes before giving up (the interval is too long for
/// the stiffness).
pub const EQUIANGULAR_MAX_STEPS: usize = 4_000_000;

/// ρ(k·h) for k = 0..=steps from the scalar equation of an equiangular configuration with
/// Q = K = V = I (arXiv 2312.10794 Thm 6.8, eqs. (6.9)–(6.10); Rigollet 2512.01868 §6.1):
/// SA ρ' = 2e^{βρ}(1−ρ)((n−1)ρ+1)/(e^β+(n−1)e^{βρ}), USA ρ' = (2/n)e^{βρ}(1−ρ)((n−1)ρ+1).
/// Classical RK4 with sub-steps short against the equation's rate (|g'| <= 2n for SA and
/// 2e^β for USA near ρ = 1); None if that would take more than [`EQUIANGULAR_MAX_STEPS`].
pub fn equiangular_solution(
    rho0: f64,
    n: usize,
    beta: f64,
    normalisation: Normalisation,
    h: f64,
    steps: usize,
) -> Option<Vec<f64>> {
    let nf = n as f64;
    let usa = normalisation == Normalisation::Unnormalised;
    let g = |r: f64| {
        // e^{β(ρ−1)} keeps every exponential <= 1.
        let a = (beta * (r - 1.0)).exp();
        let core = (1.0 - r) * ((nf - 1.0) * r + 1.0);
        if usa {
            2.0 * (beta * r).exp() * core / nf
        } else {
            2.0 * a * core / (1.0 + (nf - 1.0) * a)
        }
    };
    let rate = if usa { 2.0 * nf * beta.exp() } else { 2.0 * nf };
    let per_interval = ((h * rate / 0.05).ceil() as usize).max(4);
    if per_interval.saturating_mul(steps) > EQUIANGULAR_MAX_STEPS || !(rate.is_finite()) {
        return None;
    }
    let dt = h / per_interval as f64;
    let mut out = Vec::with_capacity(steps + 1);
    let mut r = rho0;
    out.push(r);
    for _ in 0..steps {
        for _ in 0..per_interval {
            let k1 = g(r);
            let k2 = g(r + 0.5 * dt * k1);
            let k3 = g(r + 0.5 * dt * k2);
            let k4 = g(r + dt * k3);
            r += dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
        }
        out.push(r);
    }
    out.iter().all(|v| v.is_finite()).then_some(out)
}
