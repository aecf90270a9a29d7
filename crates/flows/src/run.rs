//! One trajectory, computed incrementally so the page can work in chunks
//! ([`Run::advance`]`(budget)`).
//!
//! Internally everything lives on the *active* coordinates: the face S intersected with the
//! support of the projected `p0` (and with the finite scores). Off those coordinates the mass is
//! exactly 0 for every flow (faces are invariant), so they are never touched and `-inf` never
//! meets arithmetic. `s` is only read on the face; `p0` is projected to the face (uniform on it if
//! `p0` has no mass there).
//!
//! # Sampling
//!
//! - Continuous flows (A, C): `samples` equally spaced times in `[0, horizon]`.
//! - Discrete flows (B, D): `K = floor(horizon/eta + 1e-9)` steps; every step is stored if
//!   `K + 1 <= samples`, otherwise `samples` evenly spaced steps (always including 0 and K); the
//!   time of step k is `k·eta`.
//!
//! With [`Adjust::None`] every sample is an exact closed form (each sample independent). With
//! [`Adjust::Matrix`] (`s(p) = s0 + W p`) or [`Adjust::Memory`] (`s = s0 + gamma·c`,
//! `dc/dt = p - mu·c`, `c(0) = 0`):
//!
//! - continuous flows are integrated by fixed-step RK4 in log space, renormalised after each
//!   step, with `h = min(sample spacing, 0.02/L)`. `L` bounds the Lipschitz rate of the
//!   log-space field: `coupling/T` for A and `kappa·(T + coupling)` for C, plus `mu + 1` with
//!   memory, where `coupling = 2·max|W_ij|` (matrix) or `|gamma|` (memory). The step count is
//!   capped by [`MAX_STEPS`] and [`MAX_WORK`], never below one step per sample interval (so memory
//!   scores on V = 50,257 with 500 samples still cost about 3 s natively: use fewer samples there).
//!   When the cap forces `h·(stiff rate) > 1` (stiff rate `kappa·T` for C, `mu` for memory), RK4
//!   would blow up, so the run switches to ETD2RK ([`etd2_step`]), which treats the linear
//!   relaxation exactly and keeps the right fixed point. The 0.02 factor keeps RK4 within 3.3e-10
//!   of the closed forms in `tests/maths_checks.rs` (0.05 gave 1e-8).
//! - discrete flows iterate their map with `s(p_k)` (memory: `c_{k+1} = c_k + eta·(p_k - mu·c_k)`);
//!   K is capped by the same limits.
//!
//! # Divergence
//!
//! Flow D with `eta·T >= 2`, or a discrete memory state growing past 1e250 (`eta·mu > 2`), stops
//! the run: the last good state (step `k* - 1`) is stored as the final sample,
//! [`Run::diverged_at`] returns `k*·eta`, and [`Run::progress`] is 1. Nothing is ever NaN.

use std::sync::Arc;

use super::expansion::{Expansion, GroupSample};
use super::flows::{
    closed_coefficients, finite_range, kappa_value, mirror_step, mw_step, Flow, Kappa,
    DIVERGENCE_RANGE,
};
use super::hull::AffineHull;
use super::integrate::{etd2_step, rk4_step, Rk4Scratch};
use super::lanes::{self, ExpConsts, Reference, L2};
use super::scores::{interior_rest_point, is_antisymmetric, Adjust};
use super::simplex::{logsumexp, max_of, normalise_log_into};
use super::truncation::truncated_target;

/// Hard cap on integration steps (continuous flows) or iterated steps (discrete flows with an
/// adjustment) per run.
pub const MAX_STEPS: usize = 200_000;
/// Cap on total work per run, in "state entries touched by derivative evaluations"; keeps
/// adjusted runs on a real vocabulary bounded (a few seconds at most). Never below `samples - 1`
/// steps.
pub const MAX_WORK: f64 = 5e7;

/// Everything that defines one trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub flow: Flow,
    /// Base scores s0 (logits), length V.
    pub s: Vec<f64>,
    pub temp: f64,
    /// Step size of the discrete flows (B, D); time of step k is `k·eta`.
    pub eta: f64,
    pub kappa: Kappa,
    pub horizon: f64,
    /// Full length V, on the simplex (caller validated); projected to the face here.
    pub p0: Vec<f64>,
    /// Active face (all indices if no truncation), e.g. from `truncation::support`.
    pub support: Vec<usize>,
    pub adjust: Adjust,
    /// Number of stored sample points for continuous flows (>= 2), e.g. 301.
    pub samples: usize,
    /// Tokens tracked individually; the rest is lumped into "other".
    pub corners: [usize; 3],
}

/// Scalar diagnostics at one sample. They use the base scores s0 (not the adjusted s(p)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diagnostics {
    /// `<p, s0>`: Flow A's Lyapunov function.
    pub expected_score: f64,
    pub entropy: f64,
    /// `F(p) = <p,s0> + T·H(p)`.
    pub free_energy: f64,
    /// `KL(p || pi_T^S)` (computed from log-probabilities, so exact even for tiny masses).
    pub kl_to_target: f64,
    /// `KL(pi_T^S || p)`; `+inf` when p has no mass on part of the face.
    pub kl_from_target: f64,
    /// Total variation to the truncated target `pi_T^S`.
    pub dist_to_face_target: f64,
    /// `Σ q_i log p_i` when W is antisymmetric (on the active face) with interior rest point q.
    /// Conserved by Flow A only; reported for every flow so drifts are visible.
    pub conserved: Option<f64>,
}

/// One stored point of the trajectory.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: f64,
    /// p of the 3 corner tokens, then `1 - their sum` (clamped at 0). A corner off the active
    /// face reports 0; a corner listed twice counts once (its later slots report 0).
    pub lumped: [f64; 4],
    pub diag: Diagnostics,
}

/// Progress of a run computed elsewhere (see [`Run::progress_since`] and [`Run::absorb`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RunProgress {
    pub samples: Vec<Sample>,
    pub next: usize,
    pub finished: bool,
    pub final_p: Option<Vec<f64>>,
    pub diverged_at: Option<f64>,
}

/// How samples are produced.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Closed,
    Integrate,
    Iterate,
}

/// Score model on the active coordinates.
#[derive(Clone, Debug)]
enum Model {
    Fixed,
    Matrix(Vec<f64>),
    Memory { gamma: f64, mu: f64 },
}

/// A trajectory being computed.
#[derive(Debug)]
pub struct Run {
    spec: RunSpec,
    temp: f64,
    kappa: f64,
    eta: f64,
    mode: Mode,
    model: Model,
    /// What does not depend on the flow (face, start, target), shared by the runs of a scene
    /// that agree on it (see [`Run::new_sharing`]).
    basis: Arc<Basis>,
    q: Option<Vec<f64>>,
    /// Sample schedule: (time, step index).
    schedule: Vec<(f64, u64)>,
    /// Closed forms: each scheduled sample's coefficients `(a, b)` of `u = a·log p0 + b·s`
    /// (None where Flow D has diverged), shared by the runs of a scene that agree on the flow,
    /// T, κ, η and schedule: the starts of one flow (5 per flow on the default page; 16 in the
    /// bench's V = 3 scenario, where Flow C's exps were a seventh of the time). Empty unless
    /// closed.
    coefficients: Arc<[Option<(f64, f64)>]>,
    next: usize,
    samples: Vec<Sample>,
    final_p: Vec<f64>,
    diverged_at: Option<f64>,
    finished: bool,
    /// Integration / iteration state: normalised log p (n), then memory c (n) if any.
    y: Vec<f64>,
    cur_k: u64,
    h: f64,
    use_etd: bool,
    lambda: Vec<f64>,
    scratch: Rk4Scratch,
    u: Vec<f64>,
    /// The current sample's `p`, as `p_scale · p` (closed forms leave the weights `exp(u - m)`
    /// and their `1/Σ`; the other modes store `p` with `p_scale = 1`).
    p: Vec<f64>,
    p_scale: f64,
    /// `p` holds a sample not yet copied into `final_p` (done once per [`Run::advance`]).
    p_pending: bool,
    /// The samples this run computes, `start..end` of the schedule (all of it, unless it is one
    /// part of a run shared by several workers: [`Run::restrict_to_samples`]).
    start: usize,
    end: usize,
    /// Closed forms: the hull giving each sample's shift and range without a pass over V, built
    /// by the first sample (a page whose worker computes never builds it).
    hull: Option<AffineHull>,
    /// The exp's constants, built once per run (a V = 3 sample is short enough for building them
    /// to show).
    exp_consts: ExpConsts<L2>,
    /// Closed forms of a large vocabulary: the samples computed in groups
    /// ([`crate::expansion`]); None until the first sample, then whether they apply.
    expansion: Option<Option<Box<Expansion>>>,
    /// The groups, as ranges of schedule positions (see [`Run::plan_groups`]).
    group_ranges: Vec<(usize, usize)>,
    /// The current group's samples, for schedule positions `group_start..`.
    group: Vec<GroupSample>,
    group_start: usize,
    /// The coefficients of the last sample computed by a group, whose full distribution is
    /// computed only when the run finishes (a group gives sums, not `p`).
    p_deferred: Option<(f64, f64)>,
    /// Whether samples may be computed in groups (true unless a test compares the two paths).
    allow_expansion: bool,
    /// Closed forms of a few entries (fewer than [`lanes::SCALAR_MAX_LEN`], every `log p0`
    /// finite, not Flow D): samples computed two at a time, one per lane ([`Run::closed_two`]).
    in_twos: bool,
    /// The weights of the samples computed in lanes, entry by entry.
    lane_weights: Vec<L2>,
}

/// Below this many active entries a sample is cheap enough one at a time.
const EXPANSION_MIN_LEN: usize = 2048;

/// A group of fewer samples than this costs more than computing them one at a time (its two
/// passes over V carry about four samples' work).
const EXPANSION_MIN_GROUP: usize = 8;

/// The O(V) part of a run that depends only on the scores, the support, the start, the
/// temperature and the corners, not on the flow: the four flows of a comparison (or the starts'
/// runs of one flow at one temperature) compute it once. On the page's main thread, for
/// V = 50,257, it is the exp/log work of building a run.
#[derive(Debug)]
struct Basis {
    /// Active coordinates (ascending) and the data restricted to them.
    active: Vec<usize>,
    s_c: Vec<f64>,
    p0_c: Vec<f64>,
    log_p0_c: Vec<f64>,
    target: Vec<f64>,
    log_target_c: Vec<f64>,
    target_c: Vec<f64>,
    /// Target mass outside the active coordinates (p0 started on a smaller face).
    target_off_active: f64,
    /// Size of the face carrying target mass (the active coordinates are a subset).
    face_n: usize,
    corner_pos: [Option<usize>; 3],
    /// `Σ t log t` and `Σ t` over the active entries with `t > 0` (closed-form samples).
    target_sums: (f64, f64),
}

impl Basis {
    fn new(spec: &RunSpec, temp: f64) -> Basis {
        let v = spec.s.len();
        let (face, s_of) = finite_face(&spec.s, &spec.support);
        let (active, p0_c) = project_p0(&spec.p0, &face, v);
        let s_c: Vec<f64> = active.iter().map(|&i| s_of[i]).collect();
        let log_p0_c = normalised_log(&p0_c);
        let target = FaceTarget::new(&s_of, temp, &face, &active, &s_c);
        let target_sums = target
            .target_c
            .iter()
            .zip(&target.log_target_c)
            .filter(|(t, _)| **t > 0.0)
            .fold((0.0, 0.0), |(tl, tt), (t, lt)| (tl + t * lt, tt + t));
        Basis {
            corner_pos: corner_positions(spec.corners, &active),
            active,
            s_c,
            p0_c,
            log_p0_c,
            target: target.target,
            log_target_c: target.log_target_c,
            target_c: target.target_c,
            target_off_active: target.off_active,
            face_n: face.len(),
            target_sums,
        }
    }
}

/// Whether two specs give the same [`Basis`] at temperature `temp` (bitwise).
fn same_basis(a: &RunSpec, b: &RunSpec) -> bool {
    let same = |x: &[f64], y: &[f64]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
    };
    // Cheapest and most often different first: the runs of a scene share their scores and
    // support (O(V) to compare when equal) but not, usually, their start.
    a.corners == b.corners && same(&a.p0, &b.p0) && a.support == b.support && same(&a.s, &b.s)
}

/// Largest |entry| (0 for empty).
fn max_abs(x: &[f64]) -> f64 {
    x.iter().fold(0.0f64, |a, &b| a.max(b.abs()))
}

/// The scalar settings of a [`RunSpec`] after defensive normalisation.
#[derive(Clone, Copy, Debug)]
struct Settings {
    /// T clamped to [1e-6, 1e6] (NaN -> 1).
    temp: f64,
    kappa: f64,
    /// 0 unless positive and finite.
    eta: f64,
    /// 0 unless positive and finite.
    horizon: f64,
    /// At least 2.
    n_samples: usize,
}

impl Settings {
    fn of(spec: &RunSpec) -> Settings {
        let temp = if spec.temp.is_nan() {
            1.0
        } else {
            spec.temp.clamp(1e-6, 1e6)
        };
        let positive_or_zero = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        Settings {
            temp,
            kappa: kappa_value(spec.kappa, temp),
            eta: positive_or_zero(spec.eta),
            horizon: positive_or_zero(spec.horizon),
            n_samples: spec.samples.max(2),
        }
    }
}

/// The face: the requested support, in range, deduplicated (all indices if empty), with finite
/// scores only; and the scores with non-finite entries read as 0. With no finite score on the
/// face, the face is kept and every score is 0 (a flat face: uniform target) rather than fail.
fn finite_face(s: &[f64], support: &[usize]) -> (Vec<usize>, Vec<f64>) {
    let v = s.len();
    let mut face: Vec<usize> = support.iter().copied().filter(|&i| i < v).collect();
    face.sort_unstable();
    face.dedup();
    if face.is_empty() {
        face = (0..v).collect();
    }
    let finite_face: Vec<usize> = face.iter().copied().filter(|&i| s[i].is_finite()).collect();
    if finite_face.is_empty() {
        (face, vec![0.0; v])
    } else {
        let s_of = s
            .iter()
            .map(|&x| if x.is_finite() { x } else { 0.0 })
            .collect();
        (finite_face, s_of)
    }
}

/// `p0` projected to the face: the active coordinates (the face's support of `p0`) and the
/// renormalised masses there; uniform on the whole face if `p0` (of length `v`) has no mass on it.
fn project_p0(p0: &[f64], face: &[usize], v: usize) -> (Vec<usize>, Vec<f64>) {
    let mass: f64 = if p0.len() == v {
        face.iter()
            .map(|&i| {
                let x = p0[i];
                if x.is_finite() && x > 0.0 {
                    x
                } else {
                    0.0
                }
            })
            .sum()
    } else {
        0.0
    };
    if mass > 0.0 && mass.is_finite() {
        face.iter()
            .filter(|&&i| p0[i].is_finite() && p0[i] > 0.0)
            .map(|&i| (i, p0[i] / mass))
            .unzip()
    } else {
        let u = 1.0 / face.len() as f64;
        (face.to_vec(), vec![u; face.len()])
    }
}

/// Normalised log-probabilities of the projected `p0`.
fn normalised_log(p0_c: &[f64]) -> Vec<f64> {
    // A uniform start (the usual one at V = 50,257): one log instead of V logs and V exps, with
    // the same bits as the general path (logsumexp of n equal finite values sums n exact ones).
    if let Some((&first, rest)) = p0_c.split_first() {
        if first > 0.0 && first.is_finite() && rest.iter().all(|&x| x == first) {
            let x = first.ln();
            let l = x + (p0_c.len() as f64).ln();
            return vec![x - l; p0_c.len()];
        }
    }
    let mut log_p0_c: Vec<f64> = p0_c.iter().map(|x| x.ln()).collect();
    let l = logsumexp(&log_p0_c);
    log_p0_c.iter_mut().for_each(|x| *x -= l);
    log_p0_c
}

/// The target `pi_T^S` on the (finite) face: full length, and on the active coordinates in log
/// space (for exact KLs) and linear.
struct FaceTarget {
    target: Vec<f64>,
    log_target_c: Vec<f64>,
    target_c: Vec<f64>,
    /// Target mass outside the active coordinates (p0 started on a smaller face).
    off_active: f64,
}

impl FaceTarget {
    fn new(s_of: &[f64], temp: f64, face: &[usize], active: &[usize], s_c: &[f64]) -> FaceTarget {
        let target = truncated_target(s_of, temp, face);
        let m = face
            .iter()
            .map(|&i| s_of[i])
            .fold(f64::NEG_INFINITY, f64::max);
        let lse_face = {
            let u: Vec<f64> = face.iter().map(|&i| (s_of[i] - m) / temp).collect();
            logsumexp(&u)
        };
        let log_target_c: Vec<f64> = s_c.iter().map(|&x| (x - m) / temp - lse_face).collect();
        let target_c: Vec<f64> = active.iter().map(|&i| target[i]).collect();
        let off_active = if active.len() == face.len() {
            0.0
        } else {
            let on: f64 = active.iter().map(|&i| target[i]).sum();
            (1.0 - on).max(0.0)
        };
        FaceTarget {
            target,
            log_target_c,
            target_c,
            off_active,
        }
    }
}

impl Model {
    /// The score adjustment restricted to the active coordinates (non-finite entries read as 0,
    /// a mis-sized W as zero, a negative mu as 0).
    fn restricted(adjust: &Adjust, active: &[usize], v: usize) -> Model {
        let n = active.len();
        match adjust {
            Adjust::None => Model::Fixed,
            Adjust::Matrix { w } if w.len() == v * v => {
                let mut wc = vec![0.0; n * n];
                for (a, &i) in active.iter().enumerate() {
                    for (b, &j) in active.iter().enumerate() {
                        let x = w[i * v + j];
                        wc[a * n + b] = if x.is_finite() { x } else { 0.0 };
                    }
                }
                Model::Matrix(wc)
            }
            Adjust::Matrix { .. } => Model::Matrix(vec![0.0; n * n]),
            Adjust::Memory { gamma, mu } => Model::Memory {
                gamma: if gamma.is_finite() { *gamma } else { 0.0 },
                mu: if mu.is_finite() { mu.max(0.0) } else { 0.0 },
            },
        }
    }

    fn has_memory(&self) -> bool {
        matches!(self, Model::Memory { .. })
    }

    /// Length of the integration state on `n` active coordinates (log p, then memory c if any).
    fn state_len(&self, n: usize) -> usize {
        if self.has_memory() {
            2 * n
        } else {
            n
        }
    }

    /// Cost of one derivative evaluation, in state entries touched.
    fn eval_cost(&self, n: usize) -> f64 {
        self.state_len(n) as f64
            + match self {
                Model::Matrix(_) => (n * n) as f64,
                _ => 0.0,
            }
    }
}

/// The sample schedule, (time, step index): see the module documentation ("Sampling").
fn sample_schedule(discrete: bool, mode: Mode, set: &Settings, eval_cost: f64) -> Vec<(f64, u64)> {
    let n_samples = set.n_samples;
    if !discrete {
        let d = (n_samples - 1) as f64;
        return (0..n_samples)
            .map(|j| (set.horizon * j as f64 / d, 0))
            .collect();
    }
    let mut k_max = if set.eta > 0.0 {
        let x = (set.horizon / set.eta + 1e-9).floor();
        if x >= u64::MAX as f64 {
            u64::MAX / 2
        } else {
            x as u64
        }
    } else {
        0
    };
    if mode == Mode::Iterate {
        let cap = ((MAX_WORK / eval_cost) as usize).clamp(n_samples - 1, MAX_STEPS);
        k_max = k_max.min(cap as u64);
    }
    let ks: Vec<u64> = if k_max < n_samples as u64 {
        (0..=k_max).collect()
    } else {
        let d = (n_samples - 1) as u128;
        (0..n_samples as u128)
            .map(|j| ((j * k_max as u128 + d / 2) / d) as u64)
            .collect()
    };
    ks.into_iter().map(|k| (k as f64 * set.eta, k)).collect()
}

/// How a continuous flow with an adjustment is integrated.
#[derive(Default)]
struct Stepping {
    h: f64,
    use_etd: bool,
    /// Stiff linear rates per state entry (for ETD2RK).
    lambda: Vec<f64>,
}

impl Stepping {
    /// h = min(sample spacing, 0.02 / L) with L a bound on the Lipschitz rate of the log-space
    /// vector field; capped to MAX_STEPS / MAX_WORK in total. Zero unless integrating.
    fn new(flow: Flow, model: &Model, mode: Mode, set: &Settings, n: usize) -> Stepping {
        if mode != Mode::Integrate || set.horizon <= 0.0 {
            return Stepping::default();
        }
        let (coupling, mem_rate, mu) = match model {
            Model::Matrix(wc) => (2.0 * max_abs(wc), 0.0, 0.0),
            Model::Memory { gamma, mu } => (gamma.abs(), mu + 1.0, *mu),
            Model::Fixed => (0.0, 0.0, 0.0),
        };
        let (rate, stiff_p) = match flow {
            Flow::Entropic => (
                set.kappa * (set.temp + coupling) + mem_rate,
                set.kappa * set.temp,
            ),
            _ => (coupling / set.temp + mem_rate, 0.0),
        };
        let spacing = set.horizon / (set.n_samples - 1) as f64;
        let mut h = if rate > 0.0 {
            spacing.min(0.02 / rate)
        } else {
            spacing
        };
        let cap =
            ((MAX_WORK / (4.0 * model.eval_cost(n))) as usize).clamp(set.n_samples - 1, MAX_STEPS);
        if set.horizon / h > cap as f64 {
            h = set.horizon / cap as f64;
        }
        let mut lambda = vec![stiff_p; n];
        if model.has_memory() {
            lambda.extend(std::iter::repeat_n(mu, n));
        }
        Stepping {
            h,
            use_etd: stiff_p.max(mu) * h > 1.0,
            lambda,
        }
    }
}

/// Where each corner token sits among the active coordinates. A corner listed twice (V = 2 has
/// no third token) counts once: later repeats are empty.
fn corner_positions(corners: [usize; 3], active: &[usize]) -> [Option<usize>; 3] {
    std::array::from_fn(|slot| {
        let c = corners[slot];
        if corners[..slot].contains(&c) {
            None
        } else {
            active.binary_search(&c).ok()
        }
    })
}

impl Run {
    /// Set up a run (no samples computed yet; `final_p` is the projected `p0`).
    ///
    /// Defensive normalisation: T is clamped to [1e-6, 1e6] (NaN -> 1), a negative or non-finite
    /// horizon is 0, samples >= 2, non-finite scores count as masked (off the face), a p0 with no
    /// mass on the face becomes uniform on it, a mis-sized W is treated as zero.
    pub fn new(spec: RunSpec) -> Run {
        Run::new_sharing(spec, &[])
    }

    /// A run like [`Run::new`], taking what it can from `earlier` runs: the flow-independent
    /// part (face, start, target: O(V) exp and log) from one built from the same scores,
    /// support, start, corners and temperature, and the closed form's coefficients from one with
    /// the same flow, T, κ, η and schedule. The result is bit for bit the run `Run::new` builds.
    pub fn new_sharing(spec: RunSpec, earlier: &[&Run]) -> Run {
        let v = spec.s.len();
        let set = Settings::of(&spec);
        let basis = match earlier.iter().find(|e| e.shares_basis_with(&spec)) {
            Some(e) => Arc::clone(&e.basis),
            None => Arc::new(Basis::new(&spec, set.temp)),
        };
        let n = basis.active.len();

        let model = Model::restricted(&spec.adjust, &basis.active, v);
        let q = match &model {
            Model::Matrix(wc) if is_antisymmetric(wc, n, 1e-12) => {
                interior_rest_point(&basis.s_c, wc)
            }
            _ => None,
        };
        let mode = match (&model, spec.flow.is_discrete()) {
            (Model::Fixed, _) => Mode::Closed,
            (_, false) => Mode::Integrate,
            (_, true) => Mode::Iterate,
        };
        let schedule = sample_schedule(spec.flow.is_discrete(), mode, &set, model.eval_cost(n));
        let stepping = Stepping::new(spec.flow, &model, mode, &set, n);
        let coefficients = if mode != Mode::Closed {
            Arc::from([])
        } else if let Some(e) = earlier.iter().find(|e| {
            e.mode == Mode::Closed
                && e.spec.flow == spec.flow
                && [e.temp, e.kappa, e.eta].map(f64::to_bits)
                    == [set.temp, set.kappa, set.eta].map(f64::to_bits)
                && e.schedule == schedule
        }) {
            Arc::clone(&e.coefficients)
        } else {
            schedule
                .iter()
                .map(|&(t, k)| closed_coefficients(spec.flow, set.temp, set.kappa, set.eta, t, k))
                .collect()
        };

        let mut y = basis.log_p0_c.clone();
        if model.has_memory() {
            y.extend(std::iter::repeat_n(0.0, n));
        }
        let mut final_p = vec![0.0; v];
        for (&i, &x) in basis.active.iter().zip(&basis.p0_c) {
            final_p[i] = x;
        }

        let schedule_len = schedule.len();
        let in_twos = mode == Mode::Closed
            && spec.flow != Flow::EntropicMirror
            && n < lanes::SCALAR_MAX_LEN
            && basis.log_p0_c.iter().all(|l| l.is_finite());
        Run {
            temp: set.temp,
            kappa: set.kappa,
            eta: set.eta,
            mode,
            q,
            schedule,
            coefficients,
            next: 0,
            // One sample per schedule entry at most: no regrowth (and copy) while recording.
            samples: Vec::with_capacity(schedule_len),
            final_p,
            diverged_at: None,
            finished: false,
            y,
            cur_k: 0,
            h: stepping.h,
            use_etd: stepping.use_etd,
            lambda: stepping.lambda,
            // Only integrated runs step (the steppers size it on first use): five V-long vectors
            // less to allocate for a closed form, which the page builds on its main thread.
            scratch: Rk4Scratch::new(if mode == Mode::Integrate {
                model.state_len(n)
            } else {
                0
            }),
            u: vec![0.0; n],
            p: vec![0.0; n],
            p_scale: 1.0,
            p_pending: false,
            start: 0,
            end: schedule_len,
            hull: None,
            exp_consts: ExpConsts::hoisted(),
            expansion: None,
            group_ranges: Vec::new(),
            group: Vec::new(),
            group_start: 0,
            p_deferred: None,
            allow_expansion: true,
            in_twos,
            lane_weights: vec![L2::splat(0.0); if in_twos { n } else { 0 }],
            basis,
            model,
            spec,
        }
    }

    /// Whether a run of `spec` has this run's face, start and target (see [`Run::new_sharing`]).
    pub fn shares_basis_with(&self, spec: &RunSpec) -> bool {
        self.temp.to_bits() == Settings::of(spec).temp.to_bits() && same_basis(&self.spec, spec)
    }

    /// Compute up to `budget` more samples; true when the run is finished.
    pub fn advance(&mut self, budget: usize) -> bool {
        let mut left = budget;
        while left > 0 {
            if self.finished {
                break;
            }
            if self.next >= self.end {
                self.finished = true;
                break;
            }
            let mode = self.mode;
            left -= match mode {
                Mode::Closed if left >= 2 && self.closed_two() => 2,
                Mode::Closed => {
                    self.closed_sample();
                    1
                }
                Mode::Integrate => {
                    self.integrate_sample();
                    1
                }
                Mode::Iterate => {
                    self.iterate_sample();
                    1
                }
            };
            if self.next >= self.end {
                self.finished = true;
            }
        }
        if self.next >= self.end {
            self.finished = true;
        }
        if self.finished {
            if let Some(coef) = self.p_deferred.take() {
                self.exact_p(coef);
            }
        }
        if self.p_pending {
            self.p_pending = false;
            for (&i, &x) in self.basis.active.iter().zip(&self.p) {
                self.final_p[i] = x * self.p_scale;
            }
        }
        self.finished
    }

    /// How far the run has got, as a worker ships it to its page: the samples from `from` on, the
    /// schedule position, and (once finished) the full distribution and the divergence time.
    pub fn progress_since(&self, from: usize) -> RunProgress {
        RunProgress {
            samples: self.samples[from.min(self.samples.len())..].to_vec(),
            next: self.next,
            finished: self.finished,
            final_p: self.finished.then(|| self.final_p.clone()),
            diverged_at: self.diverged_at,
        }
    }

    /// Whether a run of this spec can be computed in parts (ranges of samples, by several
    /// workers): closed forms, whose samples are independent, except Flow D, whose divergence
    /// is found by bisection over the steps before it.
    pub fn splits_by_samples(spec: &RunSpec) -> bool {
        matches!(spec.adjust, Adjust::None) && spec.flow != Flow::EntropicMirror
    }

    /// Computes only part `part` of `parts` of the schedule (consecutive ranges; see
    /// [`Run::splits_by_samples`], otherwise nothing changes). Its progress is that part's, and
    /// its final distribution the one at the part's last sample.
    pub fn restrict_to_samples(&mut self, part: usize, parts: usize) {
        if Self::splits_by_samples(&self.spec) && parts > 1 {
            let n = self.schedule.len();
            let part = part.min(parts - 1);
            self.start = n * part / parts;
            self.end = n * (part + 1) / parts;
            self.next = self.start;
        }
    }

    /// Takes over progress computed elsewhere (a worker ran the same spec): the page's copy of
    /// the run then reads exactly as if it had computed it.
    pub fn absorb(&mut self, progress: RunProgress) {
        self.samples.extend(progress.samples);
        self.next = progress.next.min(self.schedule.len());
        self.finished = progress.finished;
        if let Some(p) = progress.final_p {
            if p.len() == self.final_p.len() {
                self.final_p = p;
            }
        }
        self.diverged_at = progress.diverged_at;
    }

    /// Fraction of the schedule computed (1 once finished, including after divergence).
    pub fn progress(&self) -> f64 {
        if self.finished {
            1.0
        } else {
            (self.next - self.start) as f64 / (self.end - self.start).max(1) as f64
        }
    }

    /// Stored samples so far.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Full distribution (length V) at the last computed sample (projected p0 before any).
    pub fn final_p(&self) -> &[f64] {
        &self.final_p
    }

    /// Time `k·eta` of the first step at which the iteration diverged (Flow D with `eta T >= 2`,
    /// or a discrete memory state blowing up); samples stop just before it.
    pub fn diverged_at(&self) -> Option<f64> {
        self.diverged_at
    }

    /// The flow's reference point: `pi_T` restricted to the face (= `pi_T` without truncation).
    pub fn target(&self) -> &[f64] {
        &self.basis.target
    }

    /// The spec this run was built from (as given, before defensive normalisation).
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// Log-weights for a closed-form sample into `self.u`, and their max; None if Flow D
    /// diverged there.
    fn closed_u(&mut self, t: f64, k: u64) -> Option<f64> {
        let flow = self.spec.flow;
        let coef = closed_coefficients(flow, self.temp, self.kappa, self.eta, t, k);
        self.closed_u_with(coef)
    }

    /// [`Run::closed_u`] with the sample's coefficients given.
    fn closed_u_with(&mut self, coef: Option<(f64, f64)>) -> Option<f64> {
        let flow = self.spec.flow;
        let (a, b) = coef?;
        let m = lanes::affine_log_weights(&self.basis.log_p0_c, &self.basis.s_c, a, b, &mut self.u);
        if flow == Flow::EntropicMirror && finite_range(&self.u) > DIVERGENCE_RANGE {
            return None;
        }
        Some(m)
    }

    fn closed_sample(&mut self) {
        let (t, k) = self.schedule[self.next];
        let coef = self.coefficients[self.next];
        if self.grouped_sample(t) {
            self.next += 1;
            return;
        }
        if let Some(c) = coef.filter(|_| self.in_twos) {
            if self.closed_in_lanes([c, c], 1) {
                return;
            }
        }
        if self.closed_two_pass(t, coef) {
            self.next += 1;
            return;
        }
        if let Some(m) = self.closed_u_with(coef) {
            self.record_from_u(t, m);
            self.next += 1;
            return;
        }
        // Diverged somewhere in (last stored step, k]: find the first failing step.
        let mut lo = if self.next == 0 {
            0
        } else {
            self.schedule[self.next - 1].1
        };
        let mut hi = k;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.closed_u(mid as f64 * self.eta, mid).is_some() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let last = self.schedule[..self.next].last().map(|x| x.1);
        if hi > 0 && last != Some(lo) {
            if let Some(m) = self.closed_u(lo as f64 * self.eta, lo) {
                self.record_from_u(lo as f64 * self.eta, m);
            }
        }
        self.diverged_at = Some(hi as f64 * self.eta);
        self.finished = true;
    }

    /// The next two samples at once ([`lanes::exp_affine_two`], one per lane) when the run has few
    /// entries and both are plain closed-form samples; false when they are computed one at a time.
    fn closed_two(&mut self) -> bool {
        let at = self.next;
        if !self.in_twos || at + 2 > self.end {
            return false;
        }
        let (Some(first), Some(second)) = (self.coefficients[at], self.coefficients[at + 1]) else {
            return false;
        };
        self.closed_in_lanes([first, second], 2)
    }

    /// The first `count` (1 or 2) of the samples at `coefs` from [`lanes::exp_affine_two`]; false
    /// (nothing recorded) when one of them is out of its range. Lanes do not mix, so a sample gets
    /// the same bits alone (its coefficients in both lanes) as paired with either neighbour: the
    /// pairing follows the budgets of [`Run::advance`] and the parts of a shared run, which must
    /// not change the numbers.
    fn closed_in_lanes(&mut self, coefs: [(f64, f64); 2], count: usize) -> bool {
        let b = &self.basis;
        let reference = Reference {
            s: &b.s_c,
            t: &b.target_c,
            log_t: &b.log_target_c,
        };
        let weights = &mut self.lane_weights;
        let c = &self.exp_consts;
        let two = lanes::exp_affine_two(&b.log_p0_c, &b.s_c, coefs, &reference, weights, c);
        let Some(two) = two else {
            return false;
        };
        let (t_log_t, t_total) = self.basis.target_sums;
        for k in 0..count {
            let mut lumped = [0.0; 4];
            for (slot, pos) in lumped.iter_mut().zip(self.basis.corner_pos) {
                *slot = pos.map_or(0.0, |j| self.lane_weights[j].lanes()[k] * two.inv[k]);
            }
            let sums = two.sums[k].sums_with_ln(two.ln_z[k], t_log_t, t_total, two.abs_diff[k]);
            self.record_with(self.schedule[self.next + k].0, &sums, lumped);
        }
        // The last sample's p, as `record` leaves it.
        let last = count - 1;
        for (p, w) in self.p.iter_mut().zip(&self.lane_weights) {
            *p = w.lanes()[last];
        }
        self.p_scale = two.inv[last];
        self.p_pending = true;
        self.p_deferred = None;
        self.next += count;
        true
    }

    /// Computes every sample from a group of them when the run allows it ([`crate::expansion`]):
    /// false when this sample is computed on its own.
    fn grouped_sample(&mut self, t: f64) -> bool {
        let at = self.next;
        let in_group = at >= self.group_start && at < self.group_start + self.group.len();
        if !in_group && !self.start_group() {
            return false;
        }
        let sample = self.group[at - self.group_start];
        let Some((_, b)) = self.coefficients[at] else {
            return false;
        };
        let expansion = self.expansion.as_ref().and_then(|e| e.as_deref());
        let Some(t_prime) = expansion.map(Expansion::t_prime) else {
            return false;
        };
        let (l, s) = (&self.basis.log_p0_c, &self.basis.s_c);
        let mut lumped = [0.0; 4];
        for (slot, pos) in lumped.iter_mut().zip(self.basis.corner_pos) {
            *slot = pos.map_or(0.0, |j| {
                td_lanes::exp::<f64>(l[j] + b * (s[j] - t_prime * l[j]) - sample.log_norm)
            });
        }
        self.p_deferred = self.coefficients[at];
        self.p_pending = false;
        self.record_with(t, &sample.sums, lumped);
        true
    }

    /// Computes the group of samples that holds `self.next`; false when there is none (small V,
    /// a flow without a line of log-weights, too few samples close enough).
    fn start_group(&mut self) -> bool {
        if self.expansion.is_none() {
            self.plan_groups();
        }
        let Some(Some(expansion)) = self.expansion.as_mut() else {
            return false;
        };
        let at = self.next;
        let index = self.group_ranges.partition_point(|r| r.1 <= at);
        let Some(&(first, end)) = self.group_ranges.get(index).filter(|r| r.0 <= at) else {
            return false;
        };
        let thetas: Vec<f64> = self.coefficients[first..end]
            .iter()
            .map(|c| c.map_or(f64::NAN, |(_, b)| b))
            .collect();
        match expansion.group(&thetas) {
            Some(group) => {
                self.group = group;
                self.group_start = first;
                true
            }
            None => false,
        }
    }

    /// Whether this run's samples go in groups, and which: greedily from the first sample of the
    /// whole schedule, so that a run shared by several workers ([`Run::restrict_to_samples`])
    /// computes each sample from the same group, with the same bits, as one run alone.
    fn plan_groups(&mut self) {
        let t_prime = match self.spec.flow {
            Flow::Replicator | Flow::MultiplicativeWeights => Some(0.0),
            Flow::Entropic => Some(self.temp),
            Flow::EntropicMirror => None,
        };
        let usable = self.allow_expansion
            && self.mode == Mode::Closed
            && self.basis.active.len() >= EXPANSION_MIN_LEN;
        let b = &self.basis;
        let expansion = t_prime.filter(|_| usable).and_then(|tp| {
            Expansion::new(
                &b.log_p0_c,
                &b.s_c,
                &b.target_c,
                &b.log_target_c,
                self.temp,
                tp,
            )
        });
        self.group_ranges.clear();
        if let Some(expansion) = &expansion {
            let span = expansion.group_span();
            let n = self.coefficients.len();
            let mut first = 0;
            while first < n {
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                let mut end = first;
                while let Some(Some((_, b))) = self.coefficients.get(end) {
                    let (l2, h2) = (lo.min(*b), hi.max(*b));
                    if h2 - l2 > span || h2.is_nan() {
                        break;
                    }
                    (lo, hi) = (l2, h2);
                    end += 1;
                }
                if end - first >= EXPANSION_MIN_GROUP {
                    self.group_ranges.push((first, end));
                    first = end;
                } else {
                    first += 1;
                }
            }
        }
        self.expansion = Some(expansion.map(Box::new));
    }

    /// `p` (as `p_scale · p`) at a closed-form sample's coefficients, for `final_p`.
    fn exact_p(&mut self, coef: (f64, f64)) {
        if let Some(m) = self.closed_u_with(Some(coef)) {
            if m.is_finite() {
                let sum = lanes::exp_shifted(&self.u, m, &mut self.p);
                self.p_scale = 1.0 / sum;
                self.p_pending = true;
            }
        }
    }

    /// Whether some of this run's samples were computed in groups ([`crate::expansion`]).
    pub fn used_groups(&self) -> bool {
        !self.group.is_empty()
    }

    /// The run computes every sample on its own (tests compare this with the grouped samples).
    pub fn without_groups(mut self) -> Run {
        self.allow_expansion = false;
        self
    }

    /// The run computes no sample in lanes ([`lanes::exp_affine_two`]; tests compare the two).
    pub fn without_lanes(mut self) -> Run {
        self.in_twos = false;
        self
    }

    /// Whether this run computes its closed-form samples in lanes.
    pub fn uses_lanes(&self) -> bool {
        self.in_twos
    }

    /// A closed-form sample in two passes over V, shift and range from the hull (no stored
    /// log-weights); false when the hull cannot give them (no finite entry, an overflowing
    /// coefficient) or Flow D diverged there: the caller takes the scanning path.
    fn closed_two_pass(&mut self, t: f64, coef: Option<(f64, f64)>) -> bool {
        let flow = self.spec.flow;
        let Some(coef) = coef else {
            return false;
        };
        let (log_p0, s) = (&self.basis.log_p0_c, &self.basis.s_c);
        let hull = self.hull.get_or_insert_with(|| AffineHull::new(log_p0, s));
        let Some(ext) = hull.extremes(coef.0, coef.1) else {
            return false;
        };
        if flow == Flow::EntropicMirror && ext.max - ext.min > DIVERGENCE_RANGE {
            return false;
        }
        let m = ext.max;
        // Zero-mass entries or weights that underflow: the three-pass path, which handles them.
        if ext.has_zero_mass || ext.min - m < lanes::NARROW_EXP_MIN {
            return false;
        }
        let reference = Reference {
            s: &self.basis.s_c,
            t: &self.basis.target_c,
            log_t: &self.basis.log_target_c,
        };
        let w = lanes::exp_affine(
            &self.basis.log_p0_c,
            &self.basis.s_c,
            coef,
            m,
            &reference,
            &mut self.p,
            &self.exp_consts,
        );
        let inv = 1.0 / w.z;
        let abs_diff = lanes::abs_diff(&self.p, inv, &self.basis.target_c);
        let (t_log_t, t_total) = self.basis.target_sums;
        let sums = w.sums(t_log_t, t_total, abs_diff);
        self.p_scale = inv;
        self.record(t, &sums);
        true
    }

    /// Normalise `self.u` (log-weights, largest entry `m`) and store a sample at time t.
    fn record_from_u(&mut self, t: f64, m: f64) {
        let (log_norm, inv) = if m.is_finite() {
            let sum = lanes::exp_shifted(&self.u, m, &mut self.p);
            (m + sum.ln(), 1.0 / sum)
        } else {
            // No mass anywhere (cannot happen on a non-empty face): uniform, as normalise_log_into
            // leaves it (already normalised).
            normalise_log_into(&mut self.u, &mut self.p);
            (0.0, 1.0)
        };
        let reference = Reference {
            s: &self.basis.s_c,
            t: &self.basis.target_c,
            log_t: &self.basis.log_target_c,
        };
        let sums =
            lanes::normalise_and_measure(&mut self.u, &mut self.p, log_norm, inv, &reference);
        self.p_scale = 1.0;
        self.record(t, &sums);
    }

    /// Store a sample from `self.p · self.p_scale`, its sums and (models with a conserved
    /// quantity, never closed forms) `self.u` holding the normalised log p.
    fn record(&mut self, t: f64, sums: &lanes::Sums) {
        let (p, scale) = (&self.p, self.p_scale);
        let mut lumped = [0.0; 4];
        for (slot, pos) in lumped.iter_mut().zip(self.basis.corner_pos) {
            *slot = pos.map_or(0.0, |j| p[j] * scale);
        }
        self.p_pending = true;
        self.p_deferred = None;
        self.record_with(t, sums, lumped);
    }

    /// Store a sample from its sums and its corners' probabilities (`lumped[..3]`).
    fn record_with(&mut self, t: f64, sums: &lanes::Sums, mut lumped: [f64; 4]) {
        let lp = &self.u;
        let h = non_negative(sums.entropy);
        let kl_from = if self.basis.active.len() < self.basis.face_n {
            f64::INFINITY
        } else {
            non_negative(sums.kl_from)
        };
        let conserved = self
            .q
            .as_ref()
            .map(|q| q.iter().zip(lp).map(|(a, b)| a * b).sum::<f64>());
        let diag = Diagnostics {
            expected_score: sums.expected_score,
            entropy: h,
            free_energy: sums.expected_score + self.temp * h,
            kl_to_target: non_negative(sums.kl_to),
            kl_from_target: kl_from,
            dist_to_face_target: 0.5 * (self.basis.target_off_active + sums.abs_diff),
            conserved,
        };
        lumped[3] = non_negative(1.0 - lumped[0] - lumped[1] - lumped[2]);
        self.samples.push(Sample { t, lumped, diag });
    }

    /// Adjusted scores at the current (normalised) p and memory c.
    fn scores_into(model: &Model, s_c: &[f64], p: &[f64], c: &[f64], out: &mut [f64]) {
        let n = s_c.len();
        match model {
            Model::Fixed => out.copy_from_slice(s_c),
            Model::Matrix(w) => {
                for i in 0..n {
                    let row = &w[i * n..(i + 1) * n];
                    out[i] = s_c[i] + row.iter().zip(p).map(|(a, b)| a * b).sum::<f64>();
                }
            }
            Model::Memory { gamma, .. } => {
                for i in 0..n {
                    out[i] = s_c[i] + gamma * c[i];
                }
            }
        }
    }

    fn integrate_sample(&mut self) {
        let (t_target, _) = self.schedule[self.next];
        let t_prev = if self.next == 0 {
            0.0
        } else {
            self.schedule[self.next - 1].0
        };
        let span = t_target - t_prev;
        let n = self.basis.s_c.len();
        if span > 0.0 && self.h > 0.0 {
            let m = ((span / self.h) - 1e-9).ceil().max(1.0) as usize;
            let h = span / m as f64;
            let backup = self.y.clone();
            let flow = self.spec.flow;
            let (temp, kappa) = (self.temp, self.kappa);
            let model = &self.model;
            let s_c = &self.basis.s_c;
            let mem_mu = match model {
                Model::Memory { mu, .. } => Some(*mu),
                _ => None,
            };
            let mut pb = vec![0.0; n];
            let mut lb = vec![0.0; n];
            let mut sb = vec![0.0; n];
            // Full log-space vector field (RK4) or its non-stiff part N (ETD2).
            let mut field = |y: &[f64], dy: &mut [f64], split: bool| {
                lb.copy_from_slice(&y[..n]);
                normalise_log_into(&mut lb, &mut pb);
                let c = if mem_mu.is_some() { &y[n..] } else { &y[..0] };
                Self::scores_into(model, s_c, &pb, c, &mut sb);
                match flow {
                    Flow::Entropic if split => {
                        for i in 0..n {
                            dy[i] = kappa * sb[i];
                        }
                    }
                    Flow::Entropic => {
                        // g = s - T log p; dy = kappa (g - <p,g>)
                        let mut mean = 0.0;
                        for i in 0..n {
                            sb[i] -= temp * lb[i];
                            mean += pb[i] * sb[i];
                        }
                        for i in 0..n {
                            dy[i] = kappa * (sb[i] - mean);
                        }
                    }
                    _ => {
                        let mean: f64 = pb.iter().zip(sb.iter()).map(|(a, b)| a * b).sum();
                        for i in 0..n {
                            dy[i] = (sb[i] - mean) / temp;
                        }
                    }
                }
                if let Some(mu) = mem_mu {
                    for i in 0..n {
                        dy[n + i] = if split { pb[i] } else { pb[i] - mu * y[n + i] };
                    }
                }
            };
            for _ in 0..m {
                if self.use_etd {
                    etd2_step(
                        &mut self.y,
                        h,
                        &self.lambda,
                        &mut |y, dy| field(y, dy, true),
                        &mut self.scratch,
                    );
                } else {
                    rk4_step(
                        &mut self.y,
                        h,
                        &mut |y, dy| field(y, dy, false),
                        &mut self.scratch,
                    );
                }
                let l = logsumexp(&self.y[..n]);
                self.y[..n].iter_mut().for_each(|x| *x -= l);
            }
            if !self.y.iter().all(|x| x.is_finite()) {
                // Numerical breakdown (should not happen): keep the last good state and stop.
                self.y = backup;
                self.diverged_at = Some(t_target);
                self.finished = true;
                return;
            }
        }
        self.u.copy_from_slice(&self.y[..n]);
        self.record_from_u(t_target, max_of(&self.u));
        self.next += 1;
    }

    fn iterate_sample(&mut self) {
        let (t_target, k_target) = self.schedule[self.next];
        let n = self.basis.s_c.len();
        let mut sb = vec![0.0; n];
        let mut pb = vec![0.0; n];
        let mut c_new = vec![
            0.0;
            if matches!(self.model, Model::Memory { .. }) {
                n
            } else {
                0
            }
        ];
        while self.cur_k < k_target {
            let (lp, c) = self.y.split_at_mut(n);
            for (pi, &l) in pb.iter_mut().zip(lp.iter()) {
                *pi = l.exp();
            }
            Self::scores_into(&self.model, &self.basis.s_c, &pb, c, &mut sb);
            let mut ok = max_of(&sb).is_finite();
            if let Model::Memory { mu, .. } = self.model {
                for i in 0..n {
                    c_new[i] = c[i] + self.eta * (pb[i] - mu * c[i]);
                }
                ok &= c_new.iter().all(|x| x.is_finite() && x.abs() <= 1e250);
            }
            if ok {
                ok = match self.spec.flow {
                    Flow::EntropicMirror => mirror_step(lp, &sb, self.temp, self.eta),
                    _ => {
                        mw_step(lp, &sb, self.temp, self.eta);
                        lp.iter().all(|x| x.is_finite())
                    }
                };
            }
            if !ok {
                let last = self.schedule[..self.next].last().map(|x| x.1);
                let intact = self.y[..n].iter().all(|x| x.is_finite());
                if intact && last != Some(self.cur_k) {
                    self.u.copy_from_slice(&self.y[..n]);
                    self.record_from_u(self.cur_k as f64 * self.eta, max_of(&self.u));
                }
                self.diverged_at = Some((self.cur_k + 1) as f64 * self.eta);
                self.finished = true;
                return;
            }
            c.copy_from_slice(&c_new);
            self.cur_k += 1;
        }
        self.u.copy_from_slice(&self.y[..n]);
        self.record_from_u(t_target, max_of(&self.u));
        self.next += 1;
    }
}

/// `max(x, 0)`, NaN giving 0 as `f64::max` does: a comparison (in the page `f64::max` is a call,
/// several per sample).
#[inline(always)]
fn non_negative(x: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The uniform shortcut of `normalised_log` gives the general path's bits.
    #[test]
    fn uniform_start_logs_match_the_general_path() {
        for n in [1usize, 2, 3, 7, 1000, 50_257] {
            for value in [1.0, 1.0 / n as f64, 0.3, 1e-300] {
                let p = vec![value; n];
                let general = {
                    let mut l: Vec<f64> = p.iter().map(|x| x.ln()).collect();
                    let lse = logsumexp(&l);
                    l.iter_mut().for_each(|x| *x -= lse);
                    l
                };
                let fast = normalised_log(&p);
                assert!(
                    fast.iter()
                        .zip(&general)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "n = {n}, p = {value}: {} vs {}",
                    fast[0],
                    general[0]
                );
            }
        }
    }
}
