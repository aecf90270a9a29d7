//! The attention explorer's state and parameter table: the single source of truth for every
//! setting's default, range, validation, URL encoding, label, tooltip and control.
//!
//! A link `#attention?v=1&rule=localmax&delta=0.3&…` is parsed key by key into [`State`] (each key
//! falls back to its default on its own, with a [`Message`] naming what was changed), then
//! [`normalise`] enforces the rules that tie keys together (points of dimension d, memory cap on
//! n·d·steps, focus < n, …). Printing writes only the keys that differ from the defaults, so links
//! stay short; parse(print(state)) == state exactly.
//!
//! Link decisions (README, "Attention explorer links"):
//! - Every key travels when it differs from its default, also when the current mode does not use
//!   it (custom points while `init=disk`, a custom matrix while `matrix=spd`, `pieces` under a
//!   constant schedule, `beta` under hardmax). `normalise` never resets such dormant settings, so
//!   switching modes on the page loses nothing and the round trip stays exact.
//! - `x0` selects `init=custom` and `A` selects `matrix=custom` when they change; an explicit
//!   `init` / `matrix` in the same link wins. [`apply_pairs`](td_core::explorer::Explorer::apply_pairs) reads `d` first, `x0` just before
//!   `init` and `A` just before `matrix`, otherwise in table order, so the order of keys in a link
//!   does not matter; [`to_pairs`](td_core::explorer::Explorer::to_pairs) prints `init` / `matrix` whenever `x0` / `A` is printed.
//! - Changing `d` reshapes the custom points (padded with 0 / cut) and the custom matrix (kept in
//!   the top-left block, identity elsewhere) silently; a link whose `x0` / `A` have the wrong size
//!   for its `d` is fixed with a message.
//! - Choosing `matrix=custom` with no custom matrix yet starts from the matrix in use (the
//!   identity, in a link). `init=custom` without points falls back to `square` with a message.

use td_core::table::{self, join_numbers};
use td_core::url::{format_number, parse_number, shorten};
use td_particles::init::{self, Init};
use td_particles::matrices::{self, KeyQuery};
use td_particles::sphere::{self, Normalisation, Sphere, Time};
use td_particles::{Margin, Rule, Schedule, Spec};

pub const EXPLORER: &str = "attention";
/// Version of the link format written by this build. Bump only with a migration for older links.
pub const FORMAT_VERSION: u32 = 1;
/// Largest token count offered (the maths core allows more; the page's budget is 2,000).
pub const MAX_N: usize = 2_000;
pub const MAX_D: usize = td_particles::MAX_D;
pub const MAX_STEPS: usize = 5_000;
/// Memory cap: stored trajectory values n·d·(steps+1), summed over the runs (compare = 3 runs).
/// 8 M f64 = 64 MB.
pub const MAX_TRAJECTORY_VALUES: usize = 8_000_000;
/// Most custom points a link may carry.
pub const MAX_CUSTOM_POINTS: usize = 512;
/// Most pieces of a piecewise schedule.
pub const MAX_PIECES: usize = 64;
/// Coordinates and matrix entries are clamped to this magnitude.
pub const MAX_ABS_COORD: f64 = 1e6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleChoice {
    Softmax,
    Hardmax,
    Localmax,
    /// Softmax, hardmax and localmax side by side from the same start.
    Compare,
}

/// Where the tokens live: R^d (the localmax and hardmax papers) or the unit sphere (layer
/// normalisation, arXiv 2312.10794).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormChoice {
    None,
    Sphere,
    /// R^d and the sphere side by side, from the same points on the sphere.
    Compare,
}

/// The sphere's attention normalisation, or both side by side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttnChoice {
    /// Self-attention, 1/Z_i.
    Sa,
    /// Unnormalised, 1/n.
    Usa,
    Compare,
}

/// One geometry a rule runs in: R^d (`sphere` None) or the sphere with its settings. A label
/// names it when a state shows several side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    pub label: Option<&'static str>,
    pub sphere: Option<Sphere>,
}

/// How time advances on the sphere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChoice {
    Ode,
    Layers,
}

/// The value matrix V of the sphere model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueChoice {
    Identity,
    /// V = A (the key-query matrix): with A symmetric, self-attention is a gradient flow.
    KeyQuery,
    /// V = −I: repulsive attention.
    MinusIdentity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleChoice {
    Constant,
    Vanishing,
    Geometric,
    Piecewise,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixChoice {
    Identity,
    Diagonal,
    Spd,
    NegDef,
    Rotation,
    General,
    Custom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitChoice {
    Fig2Leader,
    Fig2Square,
    Fig2NonLeader,
    Square,
    Disk,
    Clusters,
    Circle,
    /// n <= d unit vectors with equal pairwise inner products `rho0`.
    Equiangular,
    Custom,
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    // Rule.
    pub rule: RuleChoice,
    /// R^d or the sphere.
    pub norm: NormChoice,
    /// Sphere: self-attention (1/Z_i), unnormalised (1/n), or both.
    pub attn: AttnChoice,
    /// Sphere: the ODE or post-norm layers.
    pub time: TimeChoice,
    /// Sphere: time between stored states (ODE) or the layer step.
    pub h: f64,
    /// Sphere: the integrator's local error tolerance.
    pub itol: f64,
    /// Sphere: the value matrix.
    pub value: ValueChoice,
    pub margin: Margin,
    /// Alignment sensitivity delta (constant schedule), or delta0 of the vanishing/geometric ones.
    pub delta: f64,
    pub schedule: ScheduleChoice,
    /// Vanishing exponent: delta(k) = delta0/(1+k)^q.
    pub q: f64,
    /// Geometric ratio: delta(k) = delta0·r^k.
    pub r: f64,
    /// Piecewise schedule: (from_step, delta), as written in the link (`0:0.5,50:0.1,100:0`).
    pub pieces: Vec<(usize, f64)>,
    /// Softmax inverse temperature.
    pub beta: f64,
    /// Influence; the step toward the attended mean is gamma = alpha/(1+alpha).
    pub alpha: f64,
    // Key-query matrix.
    pub matrix: MatrixChoice,
    /// Rotation angle (radians) of the `rotation` family.
    pub theta: f64,
    /// Diagonal entries of the `diagonal` family (padded with 1).
    pub diag: Vec<f64>,
    /// Row-major d×d entries of the `custom` family (link key `A`).
    pub a_custom: Vec<f64>,
    // Tokens.
    pub n: usize,
    pub d: usize,
    pub steps: usize,
    pub init: InitChoice,
    /// Number of Gaussian clusters (init = clusters).
    pub clusters: usize,
    /// Standard deviation of each Gaussian cluster.
    pub sd: f64,
    /// The pairwise inner product of the equiangular start.
    pub rho0: f64,
    /// Custom initial points, row-major (count × d), link key `x0` (`0.1,0.2;0.3,-0.4`).
    pub x0: Vec<f64>,
    pub seed: u64,
    // Diagnostics.
    /// Single-linkage cluster tolerance.
    pub tol: f64,
    /// First step of the quiescent-set window; None = steps/2.
    pub k0: Option<usize>,
    // View.
    pub trails: bool,
    pub hull: bool,
    /// Dominance-cell background (Frank-Wolfe view).
    pub cells: bool,
    /// Token whose attention arrows are drawn.
    pub focus: Option<usize>,
    /// 3-D view angles in degrees (d >= 3).
    pub yaw: f64,
    pub pitch: f64,
    /// Scrub position along the steps, 0..1 (1 = the last step, what `readout()` reports).
    pub at: f64,
    pub speed: f64,
}

impl Default for State {
    fn default() -> Self {
        State {
            rule: RuleChoice::Localmax,
            norm: NormChoice::None,
            attn: AttnChoice::Sa,
            time: TimeChoice::Ode,
            h: 0.1,
            itol: 1e-9,
            value: ValueChoice::Identity,
            margin: Margin::Additive,
            delta: 0.1,
            schedule: ScheduleChoice::Constant,
            q: 1.0,
            r: 0.9,
            pieces: vec![(0, 0.5), (50, 0.1), (100, 0.0)],
            beta: 5.0,
            alpha: 0.5,
            matrix: MatrixChoice::Identity,
            theta: 0.5,
            diag: vec![2.0, 0.5],
            a_custom: Vec::new(),
            n: 64,
            d: 2,
            steps: 200,
            init: InitChoice::Square,
            clusters: 4,
            sd: 0.08,
            rho0: 0.0,
            x0: Vec::new(),
            seed: 1,
            tol: 1e-3,
            k0: None,
            trails: true,
            hull: true,
            cells: false,
            focus: None,
            yaw: 30.0,
            pitch: 20.0,
            at: 1.0,
            speed: 1.0,
        }
    }
}

impl State {
    /// The delta schedule the localmax run uses.
    pub fn schedule(&self) -> Schedule {
        match self.schedule {
            ScheduleChoice::Constant => Schedule::Constant(self.delta),
            ScheduleChoice::Vanishing => Schedule::Vanishing {
                delta0: self.delta,
                q: self.q,
            },
            ScheduleChoice::Geometric => Schedule::Geometric {
                delta0: self.delta,
                r: self.r,
            },
            ScheduleChoice::Piecewise => Schedule::Piecewise(self.pieces.clone()),
        }
    }

    /// The rules to run, in panel order (compare = softmax, hardmax, localmax).
    pub fn rules(&self) -> Vec<(RuleChoice, Rule)> {
        let softmax = Rule::Softmax { beta: self.beta };
        let localmax = Rule::Localmax {
            margin: self.margin,
            schedule: self.schedule(),
        };
        match self.rule {
            RuleChoice::Softmax => vec![(RuleChoice::Softmax, softmax)],
            RuleChoice::Hardmax => vec![(RuleChoice::Hardmax, Rule::Hardmax)],
            RuleChoice::Localmax => vec![(RuleChoice::Localmax, localmax)],
            RuleChoice::Compare => vec![
                (RuleChoice::Softmax, softmax),
                (RuleChoice::Hardmax, Rule::Hardmax),
                (RuleChoice::Localmax, localmax),
            ],
        }
    }

    pub fn run_count(&self) -> usize {
        let rules = if self.rule == RuleChoice::Compare {
            3
        } else {
            1
        };
        rules * self.variants().len()
    }

    /// The geometries each rule runs in, in panel order (one unless `norm` or `attn` compares).
    pub fn variants(&self) -> Vec<Variant> {
        let sphere = |normalisation| self.sphere_with(normalisation);
        let spheres: Vec<(&'static str, Sphere)> = match self.attn {
            AttnChoice::Sa => vec![("sphere", sphere(Normalisation::SelfAttention))],
            AttnChoice::Usa => vec![("sphere", sphere(Normalisation::Unnormalised))],
            AttnChoice::Compare => vec![
                ("sphere SA", sphere(Normalisation::SelfAttention)),
                ("sphere USA", sphere(Normalisation::Unnormalised)),
            ],
        };
        let mut out = Vec::new();
        if self.norm != NormChoice::Sphere {
            out.push(Variant {
                label: Some("R^d"),
                sphere: None,
            });
        }
        if self.norm != NormChoice::None {
            out.extend(spheres.into_iter().map(|(label, s)| Variant {
                label: Some(label),
                sphere: Some(s),
            }));
        }
        if out.len() == 1 {
            out[0].label = None;
        }
        out
    }

    /// The key-query matrix family.
    pub fn key_query(&self) -> KeyQuery {
        match self.matrix {
            MatrixChoice::Identity => KeyQuery::Identity,
            MatrixChoice::Diagonal => KeyQuery::Diagonal(self.diag.clone()),
            MatrixChoice::Spd => KeyQuery::SymmetricPositiveDefinite,
            MatrixChoice::NegDef => KeyQuery::NegativeDefinite,
            MatrixChoice::Rotation => KeyQuery::Rotation { theta: self.theta },
            MatrixChoice::General => KeyQuery::General,
            MatrixChoice::Custom => KeyQuery::Custom(self.a_custom.clone()),
        }
    }

    /// A as a row-major d×d matrix.
    pub fn matrix_entries(&self) -> Vec<f64> {
        matrices::key_query_matrix(&self.key_query(), self.d, self.seed)
    }

    /// The initial configuration family.
    pub fn init_kind(&self) -> Init {
        match self.init {
            InitChoice::Fig2Leader => Init::Fig2Leader,
            InitChoice::Fig2Square => Init::Fig2Square,
            InitChoice::Fig2NonLeader => Init::Fig2NonLeader,
            InitChoice::Square => Init::Square,
            InitChoice::Disk => Init::Disk,
            InitChoice::Clusters => Init::Clusters {
                k: self.clusters,
                sd: self.sd,
            },
            InitChoice::Circle => Init::Circle,
            InitChoice::Equiangular => Init::Equiangular { rho: self.rho0 },
            InitChoice::Custom => Init::Custom(self.x0.clone()),
        }
    }

    /// Initial points, row-major (count × d). The Figure 2 cases and custom points fix the count.
    pub fn initial_points(&self) -> Vec<f64> {
        init::initial_points(&self.init_kind(), self.n, self.d, self.seed)
    }

    /// Number of tokens actually simulated (the Figure 2 cases and custom lists fix it), without
    /// generating the points.
    pub fn token_count(&self) -> usize {
        match self.init {
            InitChoice::Fig2Leader => init::FIG2_LEADER.len(),
            InitChoice::Fig2Square | InitChoice::Fig2NonLeader => 10,
            InitChoice::Custom => self.x0.len() / self.d.max(1),
            InitChoice::Equiangular => self.n.min(self.d.max(1)),
            _ => self.n,
        }
    }

    /// The run specification for one rule.
    pub fn spec(&self, rule: Rule) -> Spec {
        Spec {
            d: self.d,
            x0: self.initial_points(),
            a: self.matrix_entries(),
            alpha: self.alpha,
            rule,
            steps: self.steps,
            cluster_tol: self.tol,
            quiescent_from: self.k0,
            sphere: self.sphere(),
        }
    }

    /// The run specification for one rule in one geometry. Beside the sphere, an R^d run starts
    /// from the same points scaled onto the sphere.
    pub fn spec_in(&self, rule: Rule, variant: &Variant) -> Spec {
        let mut spec = Spec {
            sphere: variant.sphere.clone(),
            ..self.spec(rule)
        };
        if spec.sphere.is_none() && self.on_sphere() && spec.x0.len() >= self.d.max(1) {
            sphere::normalise_rows(&mut spec.x0, self.d.max(1));
        }
        spec
    }

    /// The sphere model's settings (self-attention when `attn` compares), None in R^d.
    pub fn sphere(&self) -> Option<Sphere> {
        if self.norm == NormChoice::None {
            return None;
        }
        Some(self.sphere_with(match self.attn {
            AttnChoice::Usa => Normalisation::Unnormalised,
            _ => Normalisation::SelfAttention,
        }))
    }

    /// Whether every panel is on the sphere (no R^d panel beside them).
    pub fn only_sphere(&self) -> bool {
        self.norm == NormChoice::Sphere
    }

    fn sphere_with(&self, normalisation: Normalisation) -> Sphere {
        let d = self.d;
        let identity = |sign: f64| {
            (0..d * d)
                .map(|k| if k % (d + 1) == 0 { sign } else { 0.0 })
                .collect()
        };
        Sphere {
            value: match self.value {
                ValueChoice::Identity => identity(1.0),
                ValueChoice::MinusIdentity => identity(-1.0),
                ValueChoice::KeyQuery => self.matrix_entries(),
            },
            normalisation,
            time: match self.time {
                TimeChoice::Ode => Time::Ode {
                    h: self.h,
                    tol: self.itol,
                },
                TimeChoice::Layers => Time::Layers { h: self.h },
            },
            energy_beta: self.beta,
        }
    }

    /// Some panel is on the sphere.
    pub fn on_sphere(&self) -> bool {
        self.norm != NormChoice::None
    }

    /// Every panel is on the sphere with A = I: then each token attains its own row's maximum
    /// (⟨x_i, x_j⟩ <= 1 = ⟨x_i, x_i⟩ by Cauchy–Schwarz), so every token is a leader and marking
    /// them says nothing.
    pub fn leaders_trivial(&self) -> bool {
        self.norm == NormChoice::Sphere
            && td_particles::pairwise::is_identity(&self.matrix_entries(), self.d)
    }
}

/// Something the reader should know about their link or input: which key, and what was done.
pub use td_core::table::Message;

/// How a parameter is edited and validated (see [`td_core::table::Kind`]).
pub type Kind = table::Kind<State>;

/// One row of the table (see [`td_core::table::Param`]).
pub type Param = table::Param<State, Group>;

/// Largest delta a piece of a piecewise schedule may carry (far beyond consensus for any start
/// inside the coordinate cap's unit scale; the `delta` slider itself stops at 5).
pub const MAX_PIECE_DELTA: f64 = 1_000.0;
/// Largest seed (2^53 − 1: every seed survives the trip through a JavaScript number).
pub const MAX_SEED: f64 = 9_007_199_254_740_991.0;

/// Where a control sits on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Rule,
    Matrix,
    Tokens,
    Diagnostics,
    View,
    Playback,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Rule,
        Group::Matrix,
        Group::Tokens,
        Group::Diagnostics,
        Group::View,
        Group::Playback,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Group::Rule => "Attention rule",
            Group::Matrix => "Key-query matrix A",
            Group::Tokens => "Tokens",
            Group::Diagnostics => "Diagnostics",
            Group::View => "View",
            Group::Playback => "Playback",
        }
    }
}

fn always(_: &State) -> bool {
    true
}

fn localmax_shown(st: &State) -> bool {
    matches!(st.rule, RuleChoice::Localmax | RuleChoice::Compare)
}

/// Whether the seed changes anything: random start points or a random matrix.
fn uses_seed(st: &State) -> bool {
    matches!(
        st.init,
        InitChoice::Fig2Square
            | InitChoice::Fig2NonLeader
            | InitChoice::Square
            | InitChoice::Disk
            | InitChoice::Clusters
    ) || (st.init == InitChoice::Circle && st.d >= 3)
        || matches!(
            st.matrix,
            MatrixChoice::Spd | MatrixChoice::NegDef | MatrixChoice::General
        )
}

const ON_OFF: &[(&str, &str)] = &[("on", "shown"), ("off", "hidden")];

pub const RULE_OPTIONS: &[(&str, &str)] = &[
    ("softmax", "softmax (inverse temperature beta)"),
    ("hardmax", "hardmax (best-aligned tokens)"),
    ("localmax", "localmax (stand-in rule)"),
    ("compare", "compare: all three side by side"),
];

pub const MATRIX_OPTIONS: &[(&str, &str)] = &[
    ("identity", "identity"),
    ("diagonal", "diagonal (diag)"),
    ("spd", "random positive definite"),
    ("negdef", "random negative definite"),
    ("rotation", "rotation by theta"),
    ("general", "random general"),
    ("custom", "custom (A)"),
];

pub const INIT_OPTIONS: &[(&str, &str)] = &[
    ("fig2-leader", "Figure 2: emerging leader"),
    ("fig2-square", "Figure 2: square polytope"),
    ("fig2-nonleader", "Figure 2: non-leader clusters"),
    ("square", "uniform in the square / cube"),
    ("disk", "uniform in the disk / ball"),
    ("clusters", "Gaussian clusters"),
    ("circle", "on the circle / sphere"),
    (
        "equiangular",
        "equiangular: n ≤ d unit vectors, equal inner products rho0",
    ),
    ("custom", "custom points (x0)"),
];

/// The table. Order = order of controls on the page and of keys in printed links.
pub static PARAMS: &[Param] = &[
    // ---- Rule ----
    Param {
        key: "rule",
        label: "Rule",
        help: "How each token picks whom to attend to: softmax weighs every token by exp(beta·alignment), hardmax averages its best-aligned tokens, localmax also admits tokens within a margin delta of the best. Compare runs all three from the same start.",
        group: Group::Rule,
        kind: Kind::Choice {
            options: RULE_OPTIONS,
            get: |st| match st.rule {
                RuleChoice::Softmax => "softmax",
                RuleChoice::Hardmax => "hardmax",
                RuleChoice::Localmax => "localmax",
                RuleChoice::Compare => "compare",
            },
            set: |st, v| {
                st.rule = match v {
                    "softmax" => RuleChoice::Softmax,
                    "hardmax" => RuleChoice::Hardmax,
                    "compare" => RuleChoice::Compare,
                    _ => RuleChoice::Localmax,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "norm",
        label: "Normalisation",
        help: "Where the tokens live: in R^d, moving toward the attended mean (the localmax and hardmax papers; none), or on the unit sphere as layer normalisation keeps them, the attention output projected on the tangent space and the token renormalised (arXiv 2312.10794; sphere). compare shows both side by side, from the same start points scaled onto the sphere.",
        group: Group::Rule,
        kind: Kind::Choice {
            options: &[
                ("none", "none: tokens in R^d"),
                ("sphere", "sphere: tokens on the unit sphere"),
                ("compare", "compare: R^d and the sphere side by side"),
            ],
            get: |st| match st.norm {
                NormChoice::None => "none",
                NormChoice::Sphere => "sphere",
                NormChoice::Compare => "compare",
            },
            set: |st, v| {
                st.norm = match v {
                    "sphere" => NormChoice::Sphere,
                    "compare" => NormChoice::Compare,
                    _ => NormChoice::None,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "attn",
        label: "Attention normalisation",
        help: "Self-attention divides each token's weights by their sum Z_i (every rule); the unnormalised variant divides by n instead (with Q = K = V = I it is n times the gradient ascent of the interaction energy, arXiv 2312.10794 Remark 3.8).",
        group: Group::Rule,
        kind: Kind::Choice {
            options: &[
                ("sa", "self-attention: 1/Z_i"),
                ("usa", "unnormalised: 1/n"),
                ("compare", "compare: both side by side"),
            ],
            get: |st| match st.attn {
                AttnChoice::Sa => "sa",
                AttnChoice::Usa => "usa",
                AttnChoice::Compare => "compare",
            },
            set: |st, v| {
                st.attn = match v {
                    "usa" => AttnChoice::Usa,
                    "compare" => AttnChoice::Compare,
                    _ => AttnChoice::Sa,
                }
            },
        },
        relevant: State::on_sphere,
    },
    Param {
        key: "time",
        label: "Time",
        help: "ode: the continuous-time model of the papers, integrated by Dormand–Prince 5(4) with adaptive sub-steps (local error at most the tolerance), a state stored every h. layers: post-norm layers x ← normalise(x + h·attention output), our discretisation.",
        group: Group::Rule,
        kind: Kind::Choice {
            options: &[
                ("ode", "continuous time (ODE)"),
                ("layers", "post-norm layers"),
            ],
            get: |st| match st.time {
                TimeChoice::Ode => "ode",
                TimeChoice::Layers => "layers",
            },
            set: |st, v| {
                st.time = if v == "layers" {
                    TimeChoice::Layers
                } else {
                    TimeChoice::Ode
                }
            },
        },
        relevant: State::on_sphere,
    },
    Param {
        key: "h",
        label: "Time step h",
        help: "ODE: the time between two stored states (the integrator chooses its own sub-steps). Layers: the weight of the attention output in each layer.",
        group: Group::Rule,
        kind: Kind::Number {
            min: 0.001,
            max: sphere::MAX_H,
            log: true,
            step: 0.001,
            get: |st| st.h,
            set: |st, v| st.h = v,
        },
        relevant: State::on_sphere,
    },
    Param {
        key: "itol",
        label: "Integrator tolerance",
        help: "Largest local error (any coordinate) of one accepted sub-step of the ODE integrator. Hardmax and localmax make the field jump; sub-steps that cannot meet it at the shortest length (h/1,000 for them, h/10,000 for softmax) are counted in the notes.",
        group: Group::Rule,
        kind: Kind::Number {
            min: sphere::TOL_RANGE.0,
            max: sphere::TOL_RANGE.1,
            log: true,
            step: 0.01,
            get: |st| st.itol,
            set: |st, v| st.itol = v,
        },
        relevant: |st| st.on_sphere() && st.time == TimeChoice::Ode,
    },
    Param {
        key: "value",
        label: "Value matrix V",
        help: "The matrix applied to the attended tokens. V = I keeps the gradient-flow structure (the energy cannot decrease along the ODE with A = I); V = A makes self-attention a gradient flow for symmetric A (of an energy built from A, not the plotted one); V = −I repels.",
        group: Group::Rule,
        kind: Kind::Choice {
            options: &[
                ("identity", "identity"),
                ("a", "V = A (the key-query matrix)"),
                ("minus", "−I (repulsive)"),
            ],
            get: |st| match st.value {
                ValueChoice::Identity => "identity",
                ValueChoice::KeyQuery => "a",
                ValueChoice::MinusIdentity => "minus",
            },
            set: |st, v| {
                st.value = match v {
                    "a" => ValueChoice::KeyQuery,
                    "minus" => ValueChoice::MinusIdentity,
                    _ => ValueChoice::Identity,
                }
            },
        },
        relevant: State::on_sphere,
    },
    Param {
        key: "margin",
        label: "Localmax margin",
        help: "Which tokens localmax admits: alignment at least max − delta (additive) or at least (1 − delta)·max (multiplicative). The paper's exact localmax rule is unknown to us, so both margins are our stand-ins; the multiplicative one is undefined when a token's maximal alignment is ≤ 0 (that token then uses hardmax, and the readout counts it).",
        group: Group::Rule,
        kind: Kind::Choice {
            options: &[
                ("additive", "additive: max − delta"),
                ("multiplicative", "multiplicative: (1 − delta)·max"),
            ],
            get: |st| match st.margin {
                Margin::Additive => "additive",
                Margin::Multiplicative => "multiplicative",
            },
            set: |st, v| {
                st.margin = if v == "multiplicative" {
                    Margin::Multiplicative
                } else {
                    Margin::Additive
                }
            },
        },
        relevant: localmax_shown,
    },
    Param {
        key: "delta",
        label: "Alignment sensitivity delta",
        help: "How far below its best alignment a token still attends under localmax. delta = 0 is exactly hardmax and a large enough delta admits every token (all-to-all averaging, consensus); with a vanishing or geometric schedule this is delta at step 0.",
        group: Group::Rule,
        kind: Kind::Number {
            min: 0.0,
            max: 5.0,
            log: false,
            step: 0.01,
            get: |st| st.delta,
            set: |st, v| st.delta = v,
        },
        relevant: |st| localmax_shown(st) && st.schedule != ScheduleChoice::Piecewise,
    },
    Param {
        key: "schedule",
        label: "delta schedule",
        help: "How delta changes with the layer k: constant, vanishing delta/(1+k)^q, geometric delta·r^k, or your own pieces. Whether a vanishing delta ends where hardmax does depends on how fast it fades (see the vanishing preset).",
        group: Group::Rule,
        kind: Kind::Choice {
            options: &[
                ("constant", "constant"),
                ("vanishing", "vanishing: delta/(1+k)^q"),
                ("geometric", "geometric: delta·r^k"),
                ("piecewise", "piecewise (pieces)"),
            ],
            get: |st| match st.schedule {
                ScheduleChoice::Constant => "constant",
                ScheduleChoice::Vanishing => "vanishing",
                ScheduleChoice::Geometric => "geometric",
                ScheduleChoice::Piecewise => "piecewise",
            },
            set: |st, v| {
                st.schedule = match v {
                    "vanishing" => ScheduleChoice::Vanishing,
                    "geometric" => ScheduleChoice::Geometric,
                    "piecewise" => ScheduleChoice::Piecewise,
                    _ => ScheduleChoice::Constant,
                }
            },
        },
        relevant: localmax_shown,
    },
    Param {
        key: "q",
        label: "Vanishing exponent q",
        help: "delta(k) = delta/(1+k)^q: a larger q shrinks the margin faster.",
        group: Group::Rule,
        kind: Kind::Number {
            min: 0.0,
            max: 10.0,
            log: false,
            step: 0.01,
            get: |st| st.q,
            set: |st, v| st.q = v,
        },
        relevant: |st| localmax_shown(st) && st.schedule == ScheduleChoice::Vanishing,
    },
    Param {
        key: "r",
        label: "Geometric ratio r",
        help: "delta(k) = delta·r^k, with 0 ≤ r ≤ 1: a smaller r shrinks the margin faster.",
        group: Group::Rule,
        kind: Kind::Number {
            min: 0.0,
            max: 1.0,
            log: false,
            step: 0.01,
            get: |st| st.r,
            set: |st, v| st.r = v,
        },
        relevant: |st| localmax_shown(st) && st.schedule == ScheduleChoice::Geometric,
    },
    Param {
        key: "pieces",
        label: "Piecewise schedule",
        help: "Your own schedule as step:delta pairs, e.g. 0:0.5,50:0.1,100:0 (delta 0.5 from step 0, 0.1 from step 50, hardmax from step 100). Up to 64 pieces; before the first piece its delta applies.",
        group: Group::Rule,
        kind: Kind::Text {
            placeholder: "0:0.5,50:0.1,100:0",
            get: |st| print_pieces(&st.pieces),
            set: set_pieces,
        },
        relevant: |st| localmax_shown(st) && st.schedule == ScheduleChoice::Piecewise,
    },
    Param {
        key: "beta",
        label: "Inverse temperature beta",
        help: "Softmax weights are proportional to exp(beta·<A x_i, x_j>). beta = 0 averages everyone (consensus); as beta grows each step's weights approach hardmax's. On the sphere it is also the beta of the plotted interaction energy E_beta, under every rule.",
        group: Group::Rule,
        kind: Kind::Number {
            min: 0.0,
            max: 50.0,
            log: false,
            step: 0.1,
            get: |st| st.beta,
            set: |st, v| st.beta = v,
        },
        relevant: |st| matches!(st.rule, RuleChoice::Softmax | RuleChoice::Compare) || st.on_sphere(),
    },
    Param {
        key: "alpha",
        label: "Influence alpha",
        help: "Each step moves a token the fraction gamma = alpha/(1+alpha) of the way to the mean of the tokens it attends to. The hardmax paper's figures use alpha = 0.5.",
        group: Group::Rule,
        kind: Kind::Number {
            min: 0.01,
            max: 100.0,
            log: true,
            step: 0.01,
            get: |st| st.alpha,
            set: |st, v| st.alpha = v,
        },
        relevant: |st| !st.only_sphere(),
    },
    // ---- Key-query matrix ----
    Param {
        key: "matrix",
        label: "Matrix family",
        help: "The key-query matrix A in the alignment <A x_i, x_j>. Under hardmax, positive definite A gathers the tokens in clusters at the vertices of a limit polytope and negative definite A contracts them to one cluster (the hardmax and Frank-Wolfe papers). The random families are drawn from the seed.",
        group: Group::Matrix,
        kind: Kind::Choice {
            options: MATRIX_OPTIONS,
            get: |st| match st.matrix {
                MatrixChoice::Identity => "identity",
                MatrixChoice::Diagonal => "diagonal",
                MatrixChoice::Spd => "spd",
                MatrixChoice::NegDef => "negdef",
                MatrixChoice::Rotation => "rotation",
                MatrixChoice::General => "general",
                MatrixChoice::Custom => "custom",
            },
            set: set_matrix_choice,
        },
        relevant: always,
    },
    Param {
        key: "theta",
        label: "Rotation angle theta",
        help: "Angle in radians of the rotation family: A turns by theta in the coordinate planes (1,2), (3,4), …, so its symmetric part is cos(theta)·I.",
        group: Group::Matrix,
        kind: Kind::Number {
            min: -std::f64::consts::PI,
            max: std::f64::consts::PI,
            log: false,
            step: 0.01,
            get: |st| st.theta,
            set: |st, v| st.theta = v,
        },
        relevant: |st| st.matrix == MatrixChoice::Rotation,
    },
    Param {
        key: "diag",
        label: "Diagonal of A",
        help: "The diagonal entries of A, comma-separated (up to 16); missing ones are 1.",
        group: Group::Matrix,
        kind: Kind::Text {
            placeholder: "2,0.5",
            get: |st| join_numbers(&st.diag, ","),
            set: set_diag,
        },
        relevant: |st| st.matrix == MatrixChoice::Diagonal,
    },
    Param {
        key: "A",
        label: "Custom matrix A",
        help: "The d×d entries of A row by row, comma-separated. Typing a matrix selects the custom family.",
        group: Group::Matrix,
        kind: Kind::Text {
            placeholder: "1,0,0,1",
            get: |st| join_numbers(&st.a_custom, ","),
            set: set_custom_matrix,
        },
        relevant: |st| st.matrix == MatrixChoice::Custom,
    },
    // ---- Tokens ----
    Param {
        key: "n",
        label: "Tokens n",
        help: "Number of tokens, 1 to 2,000. The Figure 2 set-ups and custom points bring their own count.",
        group: Group::Tokens,
        kind: Kind::Integer {
            min: 1.0,
            max: MAX_N as f64,
            get: |st| st.n as f64,
            set: |st, v| st.n = v as usize,
        },
        relevant: |st| {
            !matches!(
                st.init,
                InitChoice::Fig2Leader
                    | InitChoice::Fig2Square
                    | InitChoice::Fig2NonLeader
                    | InitChoice::Custom
            )
        },
    },
    Param {
        key: "d",
        label: "Dimension d",
        help: "Dimension of the token space, 1 to 16. d = 3 is drawn in 3-D; larger d is projected onto its first principal components.",
        group: Group::Tokens,
        kind: Kind::Integer {
            min: 1.0,
            max: MAX_D as f64,
            get: |st| st.d as f64,
            set: |st, v| set_dimension(st, v as usize),
        },
        relevant: always,
    },
    Param {
        key: "steps",
        label: "Steps (layers)",
        help: "Number of layers to simulate, up to 5,000. The stored trajectories are capped at 8 million numbers, so very large runs get fewer steps (with a note).",
        group: Group::Tokens,
        kind: Kind::Integer {
            min: 1.0,
            max: MAX_STEPS as f64,
            get: |st| st.steps as f64,
            set: |st, v| st.steps = v as usize,
        },
        relevant: always,
    },
    Param {
        key: "init",
        label: "Start points",
        help: "Where the tokens start. The Figure 2 cases are the hardmax paper's set-ups (8 or 10 tokens in the plane); the others use n, d and the seed.",
        group: Group::Tokens,
        kind: Kind::Choice {
            options: INIT_OPTIONS,
            get: |st| match st.init {
                InitChoice::Fig2Leader => "fig2-leader",
                InitChoice::Fig2Square => "fig2-square",
                InitChoice::Fig2NonLeader => "fig2-nonleader",
                InitChoice::Square => "square",
                InitChoice::Disk => "disk",
                InitChoice::Clusters => "clusters",
                InitChoice::Circle => "circle",
                InitChoice::Equiangular => "equiangular",
                InitChoice::Custom => "custom",
            },
            set: |st, v| {
                st.init = match v {
                    "fig2-leader" => InitChoice::Fig2Leader,
                    "fig2-square" => InitChoice::Fig2Square,
                    "fig2-nonleader" => InitChoice::Fig2NonLeader,
                    "disk" => InitChoice::Disk,
                    "clusters" => InitChoice::Clusters,
                    "circle" => InitChoice::Circle,
                    "equiangular" => InitChoice::Equiangular,
                    "custom" => InitChoice::Custom,
                    _ => InitChoice::Square,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "clusters",
        label: "Clusters",
        help: "Number of Gaussian clusters the tokens start in (token i joins cluster i mod k).",
        group: Group::Tokens,
        kind: Kind::Integer {
            min: 1.0,
            max: 64.0,
            get: |st| st.clusters as f64,
            set: |st, v| st.clusters = v as usize,
        },
        relevant: |st| st.init == InitChoice::Clusters,
    },
    Param {
        key: "sd",
        label: "Cluster spread sd",
        help: "Standard deviation of each Gaussian cluster, per coordinate.",
        group: Group::Tokens,
        kind: Kind::Number {
            min: 0.0,
            max: 1.0,
            log: false,
            step: 0.01,
            get: |st| st.sd,
            set: |st, v| st.sd = v,
        },
        relevant: |st| st.init == InitChoice::Clusters,
    },
    Param {
        key: "rho0",
        label: "Equiangular inner product rho0",
        help: "Every pair of start tokens has this inner product (n ≤ d tokens; rho0 > −1/(n−1)). On the sphere with softmax and A = V = I they keep equal inner products, following one scalar equation (arXiv 2312.10794, Thm 6.8) drawn beside them.",
        group: Group::Tokens,
        kind: Kind::Number {
            min: -0.99,
            max: 0.99,
            log: false,
            step: 0.01,
            get: |st| st.rho0,
            set: |st, v| st.rho0 = v,
        },
        relevant: |st| st.init == InitChoice::Equiangular,
    },
    Param {
        key: "x0",
        label: "Custom points",
        help: "Start points separated by ';', coordinates by ',' (e.g. 0.5,0.2;-1,0.3), up to 512 points. Typing points selects custom start points.",
        group: Group::Tokens,
        kind: Kind::Text {
            placeholder: "1,1;-1,1;-1,-1;1,-1;0.2,0.1",
            get: print_points,
            set: set_points,
        },
        relevant: |st| st.init == InitChoice::Custom,
    },
    Param {
        key: "seed",
        label: "Seed",
        help: "Seed of the random start points and random matrices: the same seed gives the same run on every machine.",
        group: Group::Tokens,
        kind: Kind::Integer {
            min: 0.0,
            max: MAX_SEED,
            get: |st| st.seed as f64,
            set: |st, v| st.seed = v as u64,
        },
        relevant: uses_seed,
    },
    // ---- Diagnostics ----
    Param {
        key: "tol",
        label: "Cluster tolerance",
        help: "Tokens closer than this (single linkage) count as one cluster in the readout.",
        group: Group::Diagnostics,
        kind: Kind::Number {
            min: 1e-9,
            max: 1.0,
            log: true,
            step: 0.01,
            get: |st| st.tol,
            set: |st, v| st.tol = v,
        },
        relevant: always,
    },
    Param {
        key: "k0",
        label: "Quiescent window from step",
        help: "First step of the window in which quiescent sets are found (our working definition: sets that no member's neighbourhood leaves). auto = half the steps.",
        group: Group::Diagnostics,
        kind: Kind::Text {
            placeholder: "auto",
            get: |st| match st.k0 {
                Some(k) => k.to_string(),
                None => "auto".to_string(),
            },
            set: set_k0,
        },
        relevant: always,
    },
    // ---- View ----
    Param {
        key: "trails",
        label: "Trails",
        help: "Draw each token's path up to the current step.",
        group: Group::View,
        kind: Kind::Choice {
            options: ON_OFF,
            get: |st| if st.trails { "on" } else { "off" },
            set: |st, v| st.trails = v != "off",
        },
        relevant: always,
    },
    Param {
        key: "hull",
        label: "Convex hull",
        help: "Outline the convex hull of the tokens as it shrinks (under hardmax toward a limit polytope; under softmax toward one point).",
        group: Group::View,
        kind: Kind::Choice {
            options: ON_OFF,
            get: |st| if st.hull { "on" } else { "off" },
            set: |st, v| st.hull = v != "off",
        },
        relevant: always,
    },
    Param {
        key: "cells",
        label: "Dominance cells",
        help: "Shade the dominance cells of the hull's vertices: under hardmax with positive semidefinite A a token moves in a straight line to its cell's vertex (the Frank-Wolfe view, d = 2).",
        group: Group::View,
        kind: Kind::Choice {
            options: ON_OFF,
            get: |st| if st.cells { "on" } else { "off" },
            set: |st, v| st.cells = v == "on",
        },
        relevant: |st| st.d == 2,
    },
    Param {
        key: "focus",
        label: "Focus token",
        help: "Draw the attention arrows of one token, given by its index (0 is the first token), or none.",
        group: Group::View,
        kind: Kind::Text {
            placeholder: "none",
            get: |st| match st.focus {
                Some(i) => i.to_string(),
                None => "none".to_string(),
            },
            set: set_focus,
        },
        relevant: always,
    },
    Param {
        key: "yaw",
        label: "Yaw",
        help: "Horizontal turn of the 3-D view, in degrees.",
        group: Group::View,
        kind: Kind::Number {
            min: -180.0,
            max: 180.0,
            log: false,
            step: 1.0,
            get: |st| st.yaw,
            set: |st, v| st.yaw = v,
        },
        relevant: |st| st.d >= 3,
    },
    Param {
        key: "pitch",
        label: "Pitch",
        help: "Vertical tilt of the 3-D view, in degrees.",
        group: Group::View,
        kind: Kind::Number {
            min: -90.0,
            max: 90.0,
            log: false,
            step: 1.0,
            get: |st| st.pitch,
            set: |st, v| st.pitch = v,
        },
        relevant: |st| st.d >= 3,
    },
    // ---- Playback ----
    Param {
        key: "at",
        label: "Position",
        help: "Scrub along the steps (0 = the start, 1 = the last step).",
        group: Group::Playback,
        kind: Kind::Number {
            min: 0.0,
            max: 1.0,
            log: false,
            step: 0.001,
            get: |st| st.at,
            set: |st, v| st.at = v,
        },
        relevant: always,
    },
    Param {
        key: "speed",
        label: "Speed",
        help: "Playback speed (1 = normal).",
        group: Group::Playback,
        kind: Kind::Number {
            min: 0.1,
            max: 10.0,
            log: true,
            step: 0.01,
            get: |st| st.speed,
            set: |st, v| st.speed = v,
        },
        relevant: always,
    },
];

/// The control whose choice a parameter refines (hiding that control hides this one too):
/// schedule parameters belong to `schedule`, matrix parameters to `matrix`, start-point
/// parameters to `init`. `delta`, `margin` and `beta` stand on their own (an embed may hide the
/// rule menu and keep the delta slider).
pub fn controlled_by(key: &str) -> Option<&'static str> {
    match key {
        "q" | "r" | "pieces" => Some("schedule"),
        "theta" | "diag" | "A" => Some("matrix"),
        "clusters" | "sd" | "x0" | "rho0" => Some("init"),
        _ => None,
    }
}

fn table_index(key: &str) -> usize {
    PARAMS
        .iter()
        .position(|p| p.key == key)
        .unwrap_or(PARAMS.len())
}

/// The order in which [`apply_pairs`](td_core::explorer::Explorer::apply_pairs) reads keys, so a link means the same whatever the order of
/// its keys: keys outside the table (v, page options, unknown ones) first, then `d` (points are
/// read in the current dimension), then table order, except that `A` is read just before `matrix`
/// and `x0` just before `init`: typing a matrix or points selects the custom family, but an
/// explicit `matrix` / `init` in the same link wins.
pub fn parse_rank(key: &str) -> usize {
    if table::find(PARAMS, key).is_none() {
        return 0;
    }
    match key {
        "d" => 1,
        "A" => 2 * table_index("matrix") + 2,
        "x0" => 2 * table_index("init") + 2,
        _ => 2 * table_index(key) + 3,
    }
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// Parses a comma-separated number list (see [`table::parse_list`]), magnitudes clamped to
/// ±[`MAX_ABS_COORD`]. Empty text is the empty list.
fn parse_list(text: &str, key: &str, max_len: usize, msgs: &mut Vec<Message>) -> Vec<f64> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    table::parse_list(text, key, max_len, MAX_ABS_COORD, msgs)
}

fn set_diag(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    st.diag = parse_list(text, "diag", MAX_D, msgs);
}

fn set_custom_matrix(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let values = parse_list(text, "A", MAX_D * MAX_D, msgs);
    if values.is_empty() && !text.trim().is_empty() {
        msgs.push(Message::new(
            "A",
            "A: no usable entry; kept the previous matrix",
        ));
        return;
    }
    if values == st.a_custom {
        return; // unchanged (e.g. a page re-applying its own state): no family switch
    }
    if !values.is_empty() {
        st.matrix = MatrixChoice::Custom;
    }
    st.a_custom = values;
}

/// Selecting the custom family without entries starts from the matrix in use (so the reader can
/// edit what they were looking at); a custom matrix kept from earlier is restored instead.
fn set_matrix_choice(st: &mut State, v: &str) {
    let choice = match v {
        "diagonal" => MatrixChoice::Diagonal,
        "spd" => MatrixChoice::Spd,
        "negdef" => MatrixChoice::NegDef,
        "rotation" => MatrixChoice::Rotation,
        "general" => MatrixChoice::General,
        "custom" => MatrixChoice::Custom,
        _ => MatrixChoice::Identity,
    };
    if choice == MatrixChoice::Custom
        && st.matrix != MatrixChoice::Custom
        && st.a_custom.is_empty()
        && (1..=MAX_D).contains(&st.d)
    {
        st.a_custom = st.matrix_entries();
        for v in &mut st.a_custom {
            *v = if v.is_finite() {
                v.clamp(-MAX_ABS_COORD, MAX_ABS_COORD)
            } else {
                0.0
            };
        }
    }
    st.matrix = choice;
}

/// Changes d, reshaping the custom points (coordinates padded with 0 or dropped) and the custom
/// matrix (kept in the top-left block, identity elsewhere) so they stay usable.
fn set_dimension(st: &mut State, d: usize) {
    let old = st.d;
    if d == old {
        return;
    }
    if old >= 1 && st.x0.len().is_multiple_of(old) {
        let count = st.x0.len() / old;
        let mut points = Vec::with_capacity(count * d);
        for i in 0..count {
            for c in 0..d {
                points.push(if c < old { st.x0[i * old + c] } else { 0.0 });
            }
        }
        st.x0 = points;
    }
    if old >= 1 && st.a_custom.len() == old * old {
        let mut a = identity(d);
        for i in 0..old.min(d) {
            for j in 0..old.min(d) {
                a[i * d + j] = st.a_custom[i * old + j];
            }
        }
        st.a_custom = a;
    }
    st.d = d;
}

fn identity(d: usize) -> Vec<f64> {
    (0..d * d)
        .map(|i| if i / d == i % d { 1.0 } else { 0.0 })
        .collect()
}

fn print_points(st: &State) -> String {
    let d = st.d.max(1);
    st.x0
        .chunks(d)
        .map(|p| join_numbers(p, ","))
        .collect::<Vec<_>>()
        .join(";")
}

/// Parses custom points in the current dimension. A point with a bad coordinate is dropped; short
/// points are padded with 0, long ones truncated (both reported). Usable points select init=custom.
fn set_points(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let d = st.d.clamp(1, MAX_D);
    if text.trim().is_empty() {
        st.x0.clear();
        return;
    }
    let mut points = Vec::new();
    let (mut count, mut bad, mut reshaped, mut clamped) = (0usize, 0usize, 0usize, false);
    for item in text.split(';') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if count >= MAX_CUSTOM_POINTS {
            msgs.push(Message::new(
                "x0",
                format!("x0: at most {MAX_CUSTOM_POINTS} points; the rest were ignored"),
            ));
            break;
        }
        let mut coords = Vec::with_capacity(d);
        let mut ok = true;
        let mut parts = item.split(',');
        for part in parts.by_ref() {
            match parse_number(part) {
                Some(v) => {
                    if v.abs() > MAX_ABS_COORD {
                        clamped = true;
                    }
                    coords.push(v.clamp(-MAX_ABS_COORD, MAX_ABS_COORD));
                }
                None => {
                    ok = false;
                    break;
                }
            }
            if coords.len() == d {
                break;
            }
        }
        if !ok {
            bad += 1;
            continue;
        }
        if coords.len() < d || parts.next().is_some() {
            reshaped += 1;
        }
        coords.resize(d, 0.0);
        points.extend_from_slice(&coords);
        count += 1;
    }
    if bad > 0 {
        msgs.push(Message::new(
            "x0",
            format!(
                "x0: {} a coordinate that is not a finite number and {} ignored",
                plural(bad, "point had", "points had"),
                if bad == 1 { "was" } else { "were" }
            ),
        ));
    }
    if reshaped > 0 {
        msgs.push(Message::new(
            "x0",
            format!(
                "x0: {} not have d={d} coordinates (padded with 0 or cut to d)",
                plural(reshaped, "point did", "points did")
            ),
        ));
    }
    if clamped {
        msgs.push(Message::new(
            "x0",
            format!(
                "x0: coordinates clamped to ±{}",
                format_number(MAX_ABS_COORD)
            ),
        ));
    }
    if points.is_empty() {
        msgs.push(Message::new(
            "x0",
            "x0: no usable point; kept the previous points",
        ));
        return;
    }
    if points == st.x0 {
        return; // unchanged (e.g. a page re-applying its own state): no family switch
    }
    st.x0 = points;
    st.init = InitChoice::Custom;
}

fn print_pieces(pieces: &[(usize, f64)]) -> String {
    pieces
        .iter()
        .map(|(from, delta)| format!("{from}:{}", format_number(*delta)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Sorted by step, one piece per step (the last one given wins), at most [`MAX_PIECES`], every
/// delta finite in [0, MAX_PIECE_DELTA] and every step at most [`MAX_STEPS`].
fn clean_pieces(pieces: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let mut out: Vec<(usize, f64)> = Vec::with_capacity(pieces.len().min(MAX_PIECES));
    for &(from, delta) in pieces {
        if from > MAX_STEPS || !delta.is_finite() || delta < 0.0 {
            continue;
        }
        let delta = delta.min(MAX_PIECE_DELTA);
        if let Some(existing) = out.iter_mut().find(|(f, _)| *f == from) {
            existing.1 = delta;
        } else if out.len() < MAX_PIECES {
            out.push((from, delta));
        }
    }
    out.sort_by_key(|(from, _)| *from);
    out
}

fn set_pieces(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let mut pieces = Vec::new();
    if text.trim().is_empty() {
        st.pieces = pieces;
        return;
    }
    let (mut bad, mut clamped, mut repeated) = (0usize, false, false);
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if pieces.len() >= MAX_PIECES {
            msgs.push(Message::new(
                "pieces",
                format!("pieces: at most {MAX_PIECES} pieces; the rest were ignored"),
            ));
            break;
        }
        let parsed = item.split_once(':').and_then(|(from, delta)| {
            let from = parse_number(from)?;
            let delta = parse_number(delta)?;
            let ok = from >= 0.0 && from.fract() == 0.0 && from <= MAX_STEPS as f64 && delta >= 0.0;
            ok.then_some((from as usize, delta))
        });
        match parsed {
            Some((from, mut delta)) => {
                if delta > MAX_PIECE_DELTA {
                    delta = MAX_PIECE_DELTA;
                    clamped = true;
                }
                if let Some(existing) = pieces.iter_mut().find(|(f, _)| *f == from) {
                    *existing = (from, delta);
                    repeated = true;
                } else {
                    pieces.push((from, delta));
                }
            }
            None => bad += 1,
        }
    }
    if bad > 0 {
        msgs.push(Message::new(
            "pieces",
            format!(
                "pieces: {} not step:delta (a whole step 0–{MAX_STEPS}, a delta ≥ 0) and {} ignored",
                plural(bad, "piece was", "pieces were"),
                if bad == 1 { "was" } else { "were" }
            ),
        ));
    }
    if clamped {
        msgs.push(Message::new(
            "pieces",
            format!(
                "pieces: deltas clamped to {}",
                format_number(MAX_PIECE_DELTA)
            ),
        ));
    }
    if repeated {
        msgs.push(Message::new(
            "pieces",
            "pieces: a step was given twice; the last delta was kept",
        ));
    }
    if pieces.is_empty() {
        msgs.push(Message::new(
            "pieces",
            "pieces: no usable piece; kept the previous schedule",
        ));
        return;
    }
    pieces.sort_by_key(|(from, _)| *from);
    st.pieces = pieces;
}

/// Parses a non-negative whole number (a step or token index); None with a message otherwise.
fn parse_index(key: &str, text: &str, what: &str, msgs: &mut Vec<Message>) -> Option<usize> {
    match parse_number(text) {
        Some(v) if v >= 0.0 && v.fract() == 0.0 => Some(v as usize),
        _ => {
            msgs.push(Message::new(
                key,
                format!("{key}={} is not {what}; ignored", shorten(text)),
            ));
            None
        }
    }
}

fn set_k0(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let text = text.trim();
    if text.is_empty() || text == "auto" {
        st.k0 = None;
    } else if let Some(k) = parse_index("k0", text, "'auto' or a step number", msgs) {
        st.k0 = Some(k);
    }
}

fn set_focus(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        st.focus = None;
    } else if let Some(i) = parse_index("focus", text, "'none' or a token index", msgs) {
        st.focus = Some(i);
    }
}

/// Stored trajectory values of the state: runs × tokens × d × (steps + 1).
pub fn trajectory_values(st: &State) -> usize {
    st.run_count()
        .saturating_mul(st.token_count())
        .saturating_mul(st.d)
        .saturating_mul(st.steps.saturating_add(1))
}

/// Clamps a list of finite values into ±MAX_ABS_COORD; returns whether anything changed.
fn sanitise_values(values: &mut [f64], non_finite: f64) -> bool {
    let mut changed = false;
    for v in values.iter_mut() {
        let clean = if v.is_finite() {
            v.clamp(-MAX_ABS_COORD, MAX_ABS_COORD)
        } else {
            non_finite
        };
        if clean.to_bits() != v.to_bits() && !(clean == 0.0 && *v == 0.0) {
            changed = true;
        }
        *v = clean;
    }
    changed
}

/// Cross-key rules, applied after every change: whatever comes in (a link, an edit, or a state
/// built in code), the state leaves consistent and within every cap, and a second call changes
/// nothing.
pub fn normalise(st: &mut State, msgs: &mut Vec<Message>) {
    let defaults = State::default();
    // Numbers and integers inside their table ranges (links cannot break these; code can).
    table::clamp_ranges(PARAMS, st, &defaults, msgs);
    normalise_diag(st, msgs);
    normalise_pieces(st, msgs);
    normalise_points(st, msgs);
    normalise_matrix(st, msgs);
    normalise_compare(st, msgs);
    normalise_equiangular(st, msgs);
    cap_steps(st, msgs);
    normalise_focus(st, msgs);
}

/// diag: at most MAX_D finite entries.
fn normalise_diag(st: &mut State, msgs: &mut Vec<Message>) {
    let mut diag_changed = st.diag.len() > MAX_D;
    st.diag.truncate(MAX_D);
    diag_changed |= sanitise_values(&mut st.diag, 1.0);
    if diag_changed {
        msgs.push(Message::new(
            "diag",
            format!(
                "diag: at most {MAX_D} finite entries within ±{}",
                format_number(MAX_ABS_COORD)
            ),
        ));
    }
}

/// pieces: sorted, valid, capped (a mere reordering is not reported).
fn normalise_pieces(st: &mut State, msgs: &mut Vec<Message>) {
    let pieces = clean_pieces(&st.pieces);
    if pieces != st.pieces {
        let only_order =
            pieces.len() == st.pieces.len() && st.pieces.iter().all(|p| pieces.contains(p));
        if !only_order {
            msgs.push(Message::new(
                "pieces",
                "pieces: invalid or repeated pieces were dropped",
            ));
        }
        st.pieces = pieces;
    }
}

/// Custom points: whole points of d finite coordinates, capped; init=custom needs some.
fn normalise_points(st: &mut State, msgs: &mut Vec<Message>) {
    let d = st.d;
    if !st.x0.len().is_multiple_of(d) {
        msgs.push(Message::new(
            "x0",
            format!("x0: a partial point (fewer than d={d} coordinates) was dropped"),
        ));
        st.x0.truncate(st.x0.len() / d * d);
    }
    if st.x0.len() > MAX_CUSTOM_POINTS * d {
        msgs.push(Message::new(
            "x0",
            format!("x0: at most {MAX_CUSTOM_POINTS} points; the rest were ignored"),
        ));
        st.x0.truncate(MAX_CUSTOM_POINTS * d);
    }
    if st.x0.iter().any(|v| !v.is_finite()) {
        msgs.push(Message::new(
            "x0",
            "x0: points with a non-finite coordinate were dropped",
        ));
        st.x0 = st
            .x0
            .chunks(d)
            .filter(|p| p.iter().all(|v| v.is_finite()))
            .flatten()
            .copied()
            .collect();
    }
    if sanitise_values(&mut st.x0, 0.0) {
        msgs.push(Message::new(
            "x0",
            format!(
                "x0: coordinates clamped to ±{}",
                format_number(MAX_ABS_COORD)
            ),
        ));
    }
    if st.init == InitChoice::Custom && st.x0.is_empty() {
        msgs.push(Message::new(
            "init",
            "init=custom needs points (x0); using uniform points in the square",
        ));
        st.init = InitChoice::Square;
    }
}

/// Custom matrix: d×d finite entries (missing ones from the identity).
fn normalise_matrix(st: &mut State, msgs: &mut Vec<Message>) {
    let d = st.d;
    if sanitise_values(&mut st.a_custom, 0.0) {
        msgs.push(Message::new(
            "A",
            format!(
                "A: entries must be finite, within ±{}; fixed",
                format_number(MAX_ABS_COORD)
            ),
        ));
    }
    if st.matrix == MatrixChoice::Custom && st.a_custom.is_empty() {
        st.a_custom = identity(d);
    } else if !st.a_custom.is_empty() && st.a_custom.len() != d * d {
        let got = st.a_custom.len();
        let id = identity(d);
        st.a_custom.truncate(d * d);
        let have = st.a_custom.len();
        st.a_custom.extend_from_slice(&id[have..]);
        msgs.push(Message::new(
            "A",
            format!(
                "A: need d×d = {} entries (d={d}), got {got}; {}",
                d * d,
                if got > d * d {
                    "the extra ones were dropped"
                } else {
                    "the missing ones were taken from the identity"
                }
            ),
        ));
    }
}

/// Memory: the stored trajectories stay under MAX_TRAJECTORY_VALUES (fewer steps); k0 stays
/// below the steps.
/// The equiangular start: at most d tokens, and rho0 above −1/(n−1) (the Gram matrix must be
/// positive definite).
fn normalise_equiangular(st: &mut State, msgs: &mut Vec<Message>) {
    if st.init != InitChoice::Equiangular {
        return;
    }
    if st.n > st.d {
        msgs.push(Message::new(
            "n",
            format!(
                "an equiangular start has at most d = {} tokens; using n = {}",
                st.d, st.d
            ),
        ));
        st.n = st.d;
    }
    if st.n > 1 {
        let floor = -1.0 / (st.n as f64 - 1.0);
        if st.rho0 <= floor {
            let fixed = round_sig(floor * 0.99, 3);
            msgs.push(Message::new(
                "rho0",
                format!(
                    "rho0 = {} is not above −1/(n−1) = {} for n = {}; using {}",
                    format_number(st.rho0),
                    format_number(round_sig(floor, 4)),
                    st.n,
                    format_number(fixed)
                ),
            ));
            st.rho0 = fixed;
        }
    }
}

/// Rounds to `digits` significant digits (display only); non-finite -> 0.
pub fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return 0.0;
    }
    let shift = digits - x.abs().log10().ceil() as i32;
    let factor = 10f64.powi(shift.clamp(-300, 300));
    let r = (x * factor).round() / factor;
    if r.is_finite() {
        r
    } else {
        x
    }
}

/// One comparison at a time: rules side by side run in one geometry.
fn normalise_compare(st: &mut State, msgs: &mut Vec<Message>) {
    if st.rule == RuleChoice::Compare && st.variants().len() > 1 {
        msgs.push(Message::new(
            "norm",
            "rule=compare already shows three panels: the sphere is shown with self-attention only (norm=sphere, attn=sa)",
        ));
        st.norm = NormChoice::Sphere;
        st.attn = AttnChoice::Sa;
    }
}

fn cap_steps(st: &mut State, msgs: &mut Vec<Message>) {
    let d = st.d;
    if trajectory_values(st) > MAX_TRAJECTORY_VALUES {
        let per_state = st.run_count() * st.token_count() * d;
        let steps = (MAX_TRAJECTORY_VALUES / per_state).saturating_sub(1).max(1);
        msgs.push(Message::new(
            "steps",
            format!(
                "steps={} would store {} numbers ({} run{} × {} tokens × d={d} × (steps + 1)); reduced to steps={steps} to stay under {}",
                st.steps,
                trajectory_values(st),
                st.run_count(),
                if st.run_count() == 1 { "" } else { "s" },
                st.token_count(),
                MAX_TRAJECTORY_VALUES
            ),
        ));
        st.steps = steps;
    }
    if let Some(k0) = st.k0 {
        if k0 >= st.steps {
            let last = st.steps - 1;
            msgs.push(Message::new(
                "k0",
                format!("k0={k0} is not below steps={}; using k0={last}", st.steps),
            ));
            st.k0 = Some(last);
        }
    }
}

/// focus: a token that exists, or none.
fn normalise_focus(st: &mut State, msgs: &mut Vec<Message>) {
    if let Some(i) = st.focus {
        let count = st.token_count();
        if i >= count {
            msgs.push(Message::new(
                "focus",
                format!(
                    "focus={i}: there are only {count} tokens (0 to {}); focus cleared",
                    count.saturating_sub(1)
                ),
            ));
            st.focus = None;
        }
    }
}
