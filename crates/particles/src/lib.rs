//! Attention as particle dynamics: softmax, hardmax and localmax updates of n tokens in R^d
//! (arXiv 2509.15958 localmax; 2407.01602 hardmax; 2508.09628 Frank-Wolfe view). Pure f64 maths,
//! no web-sys; the attention explorer (`td-attention`) codes against the items below, and the
//! crate's workspace dependencies are `td-rng` (seeded initial points and matrices) and `td-lanes`
//! (the two-lane `exp` of the softmax weights and the sphere energy).
//!
//! The maths, the reproducible set-ups (the hardmax paper's Figure 2, the localmax square case) and
//! what is verified, assumed or unknown are in the repository's `docs/maths/attention-particles.md`;
//! `tests/attention_checks.rs` reproduces the set-ups.
//!
//! Every step is synchronous: all tokens move from the same state x(k),
//! `x_i(k+1) = x_i(k) + gamma·(mean_i - x_i(k))`, gamma = alpha/(1+alpha), where mean_i is the
//! softmax-weighted or uniform mean over the neighbourhood N_i. The localmax rule of the paper was
//! not available to us: the additive and multiplicative margins here are our stand-ins, and
//! [`Rule::describe`] says which one is active so the interface can show it.
//!
//! Positions are row-major `Vec<f64>` of n×d; matrices are row-major d×d.
//!
//! # The run
//!
//! A [`Spec`] (dimension, initial points, key-query matrix, alpha, [`Rule`], step count) becomes a
//! [`Run`], which is incremental ([`Run::advance`]), so the page can compute n = 2,000 in chunks.
//! It stores the whole trajectory, n·d·(steps+1) f64 (2,000×2×201 values = 6.4 MB; 51 MB at
//! d = 16), and per state a [`StateDiag`] (diameter, 2-D hull area, cluster count), per step a
//! [`StepDiag`] (delta, leaders, asymmetry of the attention graph, margin reports). Per step the
//! cost is O(n² d): one score pass and one membership pass per row with reused buffers, and the
//! attention graph as an n×n bit matrix (500 kB at n = 2,000). Per state, the diameter and the
//! clusters use sorted gaps for d = 1, the hull diameter and a grid for d = 2, an O(n² d) diameter
//! pass and a grid for d = 3, and an O(n² d) pair pass for d > 3.
//!
//! Quiescent sets ([`Run::quiescent`]) use a WORKING definition (ours, not the paper's): Q is
//! quiescent from step k0 if N_i(k) ⊆ Q for all i in Q and all steps k0 <= k < K of the simulated
//! window. The minimal non-empty ones are the sink strongly connected components of the union graph
//! of N(k) over the window ([`graph::Bitset::sink_components`]). k0 is [`Spec::quiescent_from`]
//! (default steps/2); rerun with another k0 to change the window.
//!
//! # Modules
//!
//! - [`dynamics`]: the step kernel ([`dynamics::step`]): scores `s_ij = <A x_i, x_j>`, the argmax
//!   set with the tie tolerance [`TIE_REL_TOL`], the localmax margins ([`Margin`]), softmax weights
//!   with the row maximum subtracted, leader flags, and one row of weights for attention arrows
//!   ([`dynamics::attention_row`]). N_i is never empty (the argmax is always in it), so there is
//!   no division by zero and no NaN. delta = 0 runs the same code path as hardmax, bit for bit.
//! - [`schedule`]: delta(k) ([`Schedule`]: constant, vanishing, geometric, piecewise).
//! - [`init`]: initial configurations ([`init::Init`], [`init::initial_points`]); the seeded draws
//!   are part of the link format and spelled out there.
//! - [`matrices`]: key-query matrices ([`matrices::KeyQuery`]), a symmetric eigen-solver and the
//!   PSD check.
//! - [`hull`]: the exact 2-D hull, areas, diameters, containment, bounding boxes and approximate 3-D
//!   extreme points. There is no 3-D volume and no exact 3-D vertex set (points along sampled
//!   directions may miss vertices with a thin normal cone); for d > 3 only the diameter (and PCA
//!   for drawing).
//! - [`graph`]: the attention graph as bit rows ([`graph::Bitset`]: asymmetry, union over a window,
//!   sink components) and single-linkage clusters.
//! - [`frank_wolfe`]: dominance cells and the straight-line prediction of the Frank-Wolfe view
//!   ([`Run::straight_line_check`]); for the background layer, evaluate
//!   [`frank_wolfe::dominance_cell`] per pixel with the hull vertices of [`Run::hull_2d`].
//! - [`pairwise`]: softmax attention with A = I over unordered pairs (one exponential per pair,
//!   with the interaction energy, smallest inner product and diameter from the same pass): the
//!   sphere model's kernel for A = I.
//! - [`pca`]: a deterministic PCA projection ([`pca::Pca`]); fit it once (e.g. on the initial
//!   points) and project every state with it, so the view does not jump.

pub mod dynamics;
pub mod frank_wolfe;
pub mod graph;
pub mod hull;
pub mod init;
mod lanes;
pub mod matrices;
pub mod pairwise;
pub mod pca;
pub mod schedule;
pub mod sphere;

pub use dynamics::{Kernel, Margin, TIE_REL_TOL};
pub use schedule::Schedule;

/// `f64::total_cmp`'s order as an integer. Sorting `(key, key, index)` tuples with
/// `sort_unstable` gives the same sequence as a stable `sort_by(total_cmp)` (the index breaks
/// ties), and every such sort shares one instance of the sort code (the page's download size).
pub fn total_order_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

use dynamics::{Scratch, FLAG_FIXED, FLAG_LEADER};
use graph::Bitset;

/// Largest supported dimension.
pub const MAX_D: usize = 16;
/// Largest supported token count (the explorer's cap; memory: trajectory n·d·(steps+1) f64).
pub const MAX_N: usize = 4096;
/// Largest number of steps per run.
pub const MAX_STEPS: usize = 100_000;

/// The attention rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// w_ij = softmax_j(beta·<A x_i, x_j>), beta >= 0 (beta = 0: all-to-all averaging).
    Softmax { beta: f64 },
    /// Uniform over C_i = argmax_j <A x_i, x_j> (ties within [`TIE_REL_TOL`], j = i allowed).
    Hardmax,
    /// Uniform over N_i (margin rule, delta(k) from the schedule). delta = 0 is hardmax exactly.
    Localmax { margin: Margin, schedule: Schedule },
}

impl Rule {
    /// The kernel used by step k.
    pub fn kernel_at(&self, k: usize) -> Kernel {
        match self {
            Rule::Softmax { beta } => Kernel::Softmax { beta: *beta },
            Rule::Hardmax => Kernel::Uniform {
                margin: Margin::Additive,
                delta: 0.0,
            },
            Rule::Localmax { margin, schedule } => Kernel::Uniform {
                margin: *margin,
                delta: schedule.delta_at(k),
            },
        }
    }

    /// delta used by step k (None for softmax; 0 for hardmax).
    pub fn delta_at(&self, k: usize) -> Option<f64> {
        match self.kernel_at(k) {
            Kernel::Softmax { .. } => None,
            Kernel::Uniform { delta, .. } => Some(delta),
        }
    }

    /// One line for the interface saying exactly which neighbourhood rule is active.
    pub fn describe(&self) -> &'static str {
        match self {
            Rule::Softmax { .. } => "softmax: w_ij = softmax_j(beta <A x_i, x_j>)",
            Rule::Hardmax => {
                "hardmax: uniform over argmax_j <A x_i, x_j> (ties kept, relative tolerance 1e-12)"
            }
            Rule::Localmax {
                margin: Margin::Additive,
                ..
            } => {
                "localmax (our additive-margin stand-in; the paper's exact rule is unknown): \
                 N_i = { j : <A x_i, x_j> >= max - delta }"
            }
            Rule::Localmax {
                margin: Margin::Multiplicative,
                ..
            } => {
                "localmax (our multiplicative-margin stand-in; the paper's exact rule is unknown): \
                 N_i = { j : <A x_i, x_j> >= (1 - delta) max }, argmax set where max <= 0"
            }
        }
    }
}

/// Everything that defines one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// Dimension, 1..=MAX_D.
    pub d: usize,
    /// Initial points, row-major n×d (e.g. from `init::initial_points`).
    pub x0: Vec<f64>,
    /// Key-query matrix, row-major d×d (e.g. from `matrices::key_query_matrix`).
    pub a: Vec<f64>,
    /// Influence alpha > 0; the step is gamma = alpha/(1+alpha).
    pub alpha: f64,
    pub rule: Rule,
    /// Number of steps (states 0..=steps are stored).
    pub steps: usize,
    /// Single-linkage distance below which two tokens are in the same cluster (e.g. 1e-3).
    pub cluster_tol: f64,
    /// First step of the quiescent-set window (graphs of steps k0..steps-1); None = steps/2.
    pub quiescent_from: Option<usize>,
    /// Tokens on the unit sphere (the normalised model, [`sphere`]); None = R^d with `alpha`.
    pub sphere: Option<sphere::Sphere>,
}

/// Diagnostics of one state x(k).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateDiag {
    /// Largest pairwise distance (exact, all d).
    pub diameter: f64,
    /// Hull area (d = 2 only).
    pub area: Option<f64>,
    /// Number of single-linkage clusters at `cluster_tol`.
    pub clusters: usize,
    /// On the sphere: the energy and the smallest inner product.
    pub sphere: Option<sphere::SphereDiag>,
}

/// Steps of a run computed elsewhere (see [`Run::progress_since`] and [`Run::absorb`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RunProgress {
    /// The step the progress starts at.
    pub from: usize,
    /// Positions of the states `from + 1 ..= from + steps.len()`.
    pub traj: Vec<f64>,
    /// Diagnostics of the same states, and of state 0 first when `from` is 0.
    pub states: Vec<StateDiag>,
    pub steps: Vec<StepDiag>,
    pub flags: Vec<u8>,
    /// Once finished: the last attention graph, the union graph, and the union's step count.
    pub graphs: Option<(Vec<u64>, Vec<u64>, usize)>,
}

/// Diagnostics of step k (the attention graph at state k, which produced state k+1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepDiag {
    /// delta(k) (None for softmax).
    pub delta: Option<f64>,
    /// Tokens with i in C_i.
    pub leaders: usize,
    /// Tokens with C_i = {i} (they do not move under hardmax).
    pub fixed_leaders: usize,
    /// Pairs with j in N_i but i not in N_j (i != j).
    pub asymmetry: usize,
    /// Total |N_i|.
    pub edges: usize,
    /// Tokens for which the multiplicative margin was undefined (max alignment <= 0) and the
    /// argmax set was used instead. The page says: "multiplicative margin is undefined here because
    /// the maximum alignment is negative" (or zero).
    pub margin_undefined: usize,
    /// On the sphere: the integrator's sub-steps over this interval (1 per layer; 0 in R^d).
    pub substeps: usize,
    /// On the sphere: sub-steps accepted at the shortest length above the tolerance.
    pub forced: usize,
}

/// Quiescent sets over a window (WORKING definition from the reference, not the paper's: a set Q is
/// quiescent from step k0 if N_i(k) ⊆ Q for all i in Q and every step k >= k0 of the simulated
/// window). Reported: the minimal non-empty ones, i.e. the sink components of the union graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Quiescent {
    /// First step of the window.
    pub from: usize,
    /// Number of steps in the window (0: nothing computed yet, `sets` is empty).
    pub steps: usize,
    /// Minimal quiescent sets, each sorted, ordered by smallest member.
    pub sets: Vec<Vec<usize>>,
}

/// One run, computed incrementally.
#[derive(Clone, Debug)]
pub struct Run {
    spec: Spec,
    n: usize,
    gamma: f64,
    traj: Vec<f64>,
    states: Vec<StateDiag>,
    step_diags: Vec<StepDiag>,
    flags: Vec<u8>,
    graph: Bitset,
    union: Bitset,
    union_steps: usize,
    quiescent_from: usize,
    scratch: Scratch,
    sphere_scratch: sphere::SphereScratch,
    parent: Vec<usize>,
    /// Initial points of zero norm that the sphere model placed at e_1.
    zero_tokens: usize,
}

fn finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

impl Run {
    /// Validate and start a run (state 0 diagnostics are computed here). Errors unless
    /// 1 <= d <= [`MAX_D`], `x0` holds n×d values with 1 <= n <= [`MAX_N`], every coordinate of
    /// `x0` and `a` is finite with |value| <= 1e100, alpha > 0, beta >= 0, the schedule's
    /// parameters are finite, the cluster tolerance is finite and >= 0, and
    /// steps <= [`MAX_STEPS`].
    pub fn new(spec: Spec) -> Result<Run, String> {
        let d = spec.d;
        if !(1..=MAX_D).contains(&d) {
            return Err(format!("d must be in 1..={MAX_D}"));
        }
        let n = spec.x0.len() / d;
        if n == 0 || n > MAX_N || spec.x0.len() != n * d {
            return Err(format!("x0 must hold n×d values with 1 <= n <= {MAX_N}"));
        }
        if !finite(&spec.x0) || spec.x0.iter().any(|v| v.abs() > 1e100) {
            return Err("initial points must be finite (|x| <= 1e100)".into());
        }
        if spec.a.len() != d * d || !finite(&spec.a) || spec.a.iter().any(|v| v.abs() > 1e100) {
            return Err("A must hold d×d finite values (|a| <= 1e100)".into());
        }
        if !(spec.alpha.is_finite() && spec.alpha > 0.0) {
            return Err("alpha must be finite and > 0".into());
        }
        if spec.steps > MAX_STEPS {
            return Err(format!("steps must be <= {MAX_STEPS}"));
        }
        if !(spec.cluster_tol.is_finite() && spec.cluster_tol >= 0.0) {
            return Err("cluster tolerance must be finite and >= 0".into());
        }
        match &spec.rule {
            Rule::Softmax { beta } if !(beta.is_finite() && *beta >= 0.0) => {
                return Err("beta must be finite and >= 0".into())
            }
            Rule::Localmax { schedule, .. } => {
                let ok = match schedule {
                    Schedule::Constant(c) => c.is_finite(),
                    Schedule::Vanishing { delta0, q } => delta0.is_finite() && q.is_finite(),
                    Schedule::Geometric { delta0, r } => delta0.is_finite() && r.is_finite(),
                    Schedule::Piecewise(p) => p.iter().all(|(_, v)| v.is_finite()),
                };
                if !ok {
                    return Err("schedule parameters must be finite".into());
                }
            }
            _ => {}
        }
        if let Some(sph) = &spec.sphere {
            sph.validate(d)?;
        }
        let gamma = spec.alpha / (1.0 + spec.alpha);
        let quiescent_from = spec.quiescent_from.unwrap_or(spec.steps / 2);
        let mut traj = Vec::with_capacity(n * d * (spec.steps + 1).min(64));
        traj.extend_from_slice(&spec.x0);
        let zero_tokens = if spec.sphere.is_some() {
            sphere::normalise_rows(&mut traj, d)
        } else {
            0
        };
        let mut run = Run {
            n,
            gamma,
            traj,
            states: Vec::new(),
            step_diags: Vec::new(),
            flags: Vec::new(),
            graph: Bitset::default(),
            union: Bitset::default(),
            union_steps: 0,
            quiescent_from,
            scratch: Scratch::default(),
            sphere_scratch: sphere::SphereScratch::default(),
            parent: Vec::new(),
            zero_tokens,
            spec,
        };
        run.union.reset(n);
        // State 0's diagnostics are measured by the first `advance` (or here, if there is no
        // step): a page's copy of a run that its worker computes never steps, and gets them from
        // the worker. Measured here they were the page's longest task (n = 2,000 on the sphere:
        // 80–150 ms of pair sums and clusters in the task that applied the control change).
        if run.spec.steps == 0 {
            run.record_state(0);
        }
        Ok(run)
    }

    fn record_state(&mut self, k: usize) {
        let (n, d) = (self.n, self.spec.d);
        let x = &self.traj[k * n * d..(k + 1) * n * d];
        // On the sphere with softmax and A = I the next step's field is computed now: the same
        // pass over the pairs measures this state's energy and diameter. Not for state 0, which
        // `Run::new` records: a page's copy of a run that its worker computes never steps, and
        // that pass would be its main thread's longest task (the first step computes the field).
        let prepared = match &self.spec.sphere {
            Some(sph) if k > 0 && k < self.spec.steps => sphere::prepare(
                x,
                n,
                d,
                &self.spec.a,
                sph,
                self.spec.rule.kernel_at(k),
                &mut self.scratch,
                &mut self.sphere_scratch,
            ),
            _ => None,
        };
        // Otherwise (the first and last states, other kernels) one pass measures the energy and
        // the diameter, which the clusters then need not measure again.
        let measured = prepared.or_else(|| {
            let s = self.spec.sphere.as_ref()?;
            Some(sphere::measure(x, n, d, s.energy_beta))
        });
        let (diameter, clusters, area) = graph::diameter_clusters_area(
            x,
            n,
            d,
            self.spec.cluster_tol,
            &mut self.parent,
            measured.map(|p| p.1),
        );
        let sphere = measured.map(|p| p.0);
        self.states.push(StateDiag {
            diameter,
            area,
            clusters,
            sphere,
        });
    }

    /// Compute up to `max_steps` more steps (at least one if any remain); true when finished.
    /// One step costs about `cost_per_step()` multiply-adds.
    pub fn advance(&mut self, max_steps: usize) -> bool {
        let (n, d) = (self.n, self.spec.d);
        if self.states.is_empty() {
            self.record_state(0);
        }
        for _ in 0..max_steps.max(1) {
            let k = self.step_diags.len();
            if k >= self.spec.steps {
                break;
            }
            let kernel = self.spec.rule.kernel_at(k);
            let base = k * n * d;
            self.traj.resize(base + 2 * n * d, 0.0);
            let (old, new) = self.traj[base..].split_at_mut(n * d);
            let start = self.flags.len();
            self.flags.resize(start + n, 0);
            let (stats, report) = match &self.spec.sphere {
                None => (
                    dynamics::step(
                        old,
                        n,
                        d,
                        &self.spec.a,
                        dynamics::Update::Relax { gamma: self.gamma },
                        kernel,
                        &mut self.scratch,
                        &mut self.graph,
                        &mut self.flags[start..],
                        new,
                    ),
                    sphere::OdeReport::default(),
                ),
                Some(sph) => sphere::step(
                    old,
                    n,
                    d,
                    &self.spec.a,
                    sph,
                    kernel,
                    &mut self.scratch,
                    &mut self.sphere_scratch,
                    &mut self.graph,
                    &mut self.flags[start..],
                    new,
                ),
            };
            let fl = &self.flags[start..];
            self.step_diags.push(StepDiag {
                delta: self.spec.rule.delta_at(k),
                leaders: fl.iter().filter(|&&f| f & FLAG_LEADER != 0).count(),
                fixed_leaders: fl.iter().filter(|&&f| f & FLAG_FIXED != 0).count(),
                asymmetry: self.graph.asymmetry(),
                edges: stats.edges,
                margin_undefined: stats.margin_undefined,
                substeps: report.substeps,
                forced: report.forced,
            });
            if k >= self.quiescent_from {
                self.union.union_with(&self.graph);
                self.union_steps += 1;
            }
            self.record_state(k + 1);
        }
        self.finished()
    }

    /// Everything computed after step `from` (a worker ships it to its page): the states
    /// `from + 1 ..`, their diagnostics, the steps' diagnostics and leader flags, and once the run
    /// is finished, the last step's attention graph and the union graph of the window.
    pub fn progress_since(&self, from: usize) -> RunProgress {
        let (n, d) = (self.n, self.spec.d);
        let to = self.step_diags.len();
        let from = from.min(to);
        let finished = self.finished();
        RunProgress {
            from,
            traj: self.traj[(from + 1) * n * d..(to + 1) * n * d].to_vec(),
            states: self
                .states
                .get(if from == 0 { 0 } else { from + 1 }..=to)
                .map_or_else(Vec::new, <[StateDiag]>::to_vec),
            steps: self.step_diags[from..to].to_vec(),
            flags: self.flags[from * n..to * n].to_vec(),
            graphs: finished.then(|| {
                (
                    self.graph.words().to_vec(),
                    self.union.words().to_vec(),
                    self.union_steps,
                )
            }),
        }
    }

    /// Takes over progress a worker computed for the same spec; false (and nothing changed) if it
    /// does not continue this run exactly where it stands.
    pub fn absorb(&mut self, p: RunProgress) -> bool {
        let (n, d) = (self.n, self.spec.d);
        let k = p.steps.len();
        // From step 0 the worker also sends state 0's diagnostics, which a copy that never
        // stepped lacks (and one that did already has).
        let skip = usize::from(p.from == 0 && !self.states.is_empty() && p.states.len() == k + 1);
        let total = self.states.len() + p.states.len() - skip;
        let fits = p.from == self.step_diags.len()
            && p.from + k <= self.spec.steps
            && p.traj.len() == k * n * d
            && (total == p.from + k + 1 || (total == 0 && p.from + k == 0))
            && p.flags.len() == k * n;
        if !fits {
            return false;
        }
        if let Some((graph, union, union_steps)) = &p.graphs {
            match (
                Bitset::from_words(n, graph.clone()),
                Bitset::from_words(n, union.clone()),
            ) {
                (Some(g), Some(u)) => {
                    self.graph = g;
                    self.union = u;
                    self.union_steps = *union_steps;
                }
                _ if k == 0 && p.from == 0 => {}
                _ => return false,
            }
        }
        // The page absorbs a large run in many replies: growing by doubling would copy the
        // trajectory (up to 8 million numbers) again and again on its main thread.
        let full = n * d * (self.spec.steps + 1);
        if self.traj.capacity() < full {
            self.traj.reserve_exact(full - self.traj.len());
            self.flags
                .reserve_exact(n * self.spec.steps - self.flags.len());
        }
        self.traj.extend_from_slice(&p.traj);
        self.states.extend_from_slice(&p.states[skip..]);
        self.step_diags.extend_from_slice(&p.steps);
        self.flags.extend_from_slice(&p.flags);
        true
    }

    /// True when all steps are computed.
    pub fn finished(&self) -> bool {
        self.step_diags.len() >= self.spec.steps
    }

    /// Fraction computed, in [0, 1].
    pub fn progress(&self) -> f64 {
        if self.spec.steps == 0 {
            1.0
        } else {
            self.step_diags.len() as f64 / self.spec.steps as f64
        }
    }

    /// Approximate multiply-adds per step (n²·(d+2)·1.5 in R^d), for sizing chunks. On the
    /// sphere the energy pass adds about one step's work, and the ODE evaluates the field 7 times
    /// per sub-step (estimated from the sub-steps taken so far, 2 before any).
    pub fn cost_per_step(&self) -> f64 {
        let n = self.n as f64;
        let one = 1.5 * n * n * (self.spec.d as f64 + 2.0);
        match &self.spec.sphere {
            None => one,
            Some(s) => match s.time {
                sphere::Time::Layers { .. } => 2.0 * one,
                sphere::Time::Ode { .. } => {
                    let done = self.step_diags.len();
                    let substeps = if done == 0 {
                        2.0
                    } else {
                        self.step_diags.iter().map(|s| s.substeps).sum::<usize>() as f64
                            / done as f64
                    };
                    one * (1.0 + 7.0 * substeps.max(1.0))
                }
            },
        }
    }

    /// Initial points of zero norm that the sphere model placed at e_1 (0 in R^d).
    pub fn zero_tokens(&self) -> usize {
        self.zero_tokens
    }

    /// Time of state k: k·h on the sphere, k (layers) in R^d.
    pub fn time_of(&self, k: usize) -> f64 {
        match &self.spec.sphere {
            Some(s) => k as f64 * s.time.h(),
            None => k as f64,
        }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// Steps computed so far (states 0..=computed_steps() exist).
    pub fn computed_steps(&self) -> usize {
        self.step_diags.len()
    }

    /// Positions at state k (row-major n×d); k is clamped to the last computed state.
    pub fn positions(&self, k: usize) -> &[f64] {
        let k = k.min(self.computed_steps());
        let nd = self.n * self.spec.d;
        &self.traj[k * nd..(k + 1) * nd]
    }

    /// Positions at the last computed state.
    pub fn final_positions(&self) -> &[f64] {
        self.positions(self.computed_steps())
    }

    /// The whole trajectory: states 0..=computed_steps(), each n×d row-major, concatenated.
    pub fn trajectory(&self) -> &[f64] {
        &self.traj[..(self.computed_steps() + 1) * self.n * self.spec.d]
    }

    /// Diagnostics of states 0..=computed_steps(); empty before the first `advance` (a page's
    /// copy has them once its worker's first progress is absorbed).
    pub fn state_diags(&self) -> &[StateDiag] {
        &self.states
    }

    /// Diagnostics of steps 0..computed_steps().
    pub fn step_diags(&self) -> &[StepDiag] {
        &self.step_diags
    }

    fn flagged(&self, k: usize, flag: u8) -> Vec<usize> {
        if k >= self.computed_steps() {
            return Vec::new();
        }
        let f = &self.flags[k * self.n..(k + 1) * self.n];
        (0..self.n).filter(|&i| f[i] & flag != 0).collect()
    }

    /// Leaders at state k (i in C_i); empty for the last state (no step computed from it yet).
    pub fn leaders(&self, k: usize) -> Vec<usize> {
        self.flagged(k, FLAG_LEADER)
    }

    /// Fixed leaders at state k (C_i = {i}).
    pub fn fixed_leaders(&self, k: usize) -> Vec<usize> {
        self.flagged(k, FLAG_FIXED)
    }

    /// N_i of the most recent step (None before the first step).
    pub fn neighbours(&self, i: usize) -> Option<Vec<usize>> {
        (self.computed_steps() > 0 && i < self.n).then(|| self.graph.row(i).collect())
    }

    /// Attention weights (j, w_ij) of token i at state k (recomputed, O(n d)), for arrows.
    pub fn attention_row(&self, k: usize, i: usize) -> Vec<(usize, f64)> {
        let k = k.min(self.computed_steps());
        dynamics::attention_row(
            self.positions(k),
            self.n,
            self.spec.d,
            &self.spec.a,
            self.spec.rule.kernel_at(k),
            i,
        )
    }

    /// Cluster label per token at state k (single linkage at `cluster_tol`).
    pub fn cluster_labels(&self, k: usize) -> Vec<usize> {
        graph::cluster_labels(
            self.positions(k),
            self.n,
            self.spec.d,
            self.spec.cluster_tol,
        )
    }

    /// 2-D hull vertices at state k (CCW token indices); None unless d = 2.
    pub fn hull_2d(&self, k: usize) -> Option<Vec<usize>> {
        (self.spec.d == 2).then(|| hull::hull_2d(self.positions(k)))
    }

    /// 3-D extreme points at state k (approximate vertex set, see `hull::extreme_points_3d`).
    pub fn extreme_points_3d(&self, k: usize) -> Option<Vec<usize>> {
        (self.spec.d == 3).then(|| hull::extreme_points_3d(self.positions(k), 128))
    }

    /// |x_i(k) - x_i(final)| per token, final = last computed state (so it is 0 there by
    /// construction: plot it on a log axis over k < final).
    pub fn distance_to_final(&self, k: usize) -> Vec<f64> {
        let d = self.spec.d;
        let (x, f) = (self.positions(k), self.final_positions());
        (0..self.n)
            .map(|i| hull::dist2(&x[i * d..(i + 1) * d], &f[i * d..(i + 1) * d]).sqrt())
            .collect()
    }

    /// max_i |x_i(k) - x_i(final)| for k = 0..=computed_steps().
    pub fn max_distance_to_final(&self) -> Vec<f64> {
        (0..=self.computed_steps())
            .map(|k| self.distance_to_final(k).into_iter().fold(0.0, f64::max))
            .collect()
    }

    /// Quiescent sets (WORKING definition, see [`Quiescent`]) over steps from..computed_steps().
    pub fn quiescent(&self) -> Quiescent {
        Quiescent {
            from: self.quiescent_from,
            steps: self.union_steps,
            sets: if self.union_steps == 0 {
                Vec::new()
            } else {
                self.union.sink_components()
            },
        }
    }

    /// Frank-Wolfe straight-line check for token i: its target is the dominance-cell vertex of
    /// x_i(0) among the initial tokens (None on a cell boundary); returns (target token, max over
    /// computed k of |x_i(k) - (v + (1-gamma)^k (x_i(0) - v))|). Exact for hardmax when the target
    /// stays the unique argmax of token i and v is a fixed leader.
    pub fn straight_line_check(&self, i: usize) -> Option<(usize, f64)> {
        let d = self.spec.d;
        let x0 = self.positions(0);
        let xi0 = &x0[i * d..(i + 1) * d];
        let v = frank_wolfe::dominance_cell(&self.spec.a, d, x0, xi0)?;
        let vp = &x0[v * d..(v + 1) * d];
        let worst = (0..=self.computed_steps())
            .map(|k| {
                frank_wolfe::straight_line_residual(
                    xi0,
                    &self.positions(k)[i * d..(i + 1) * d],
                    vp,
                    self.gamma,
                    k,
                )
            })
            .fold(0.0, f64::max);
        Some((v, worst))
    }
}
