//! The next-token explorer's parameter table: the single source of truth for every setting's default,
//! range, validation, URL encoding, label, tooltip and control.
//!
//! A link is parsed key by key into [`State`] (each key falls back to its default on its own, with a
//! [`Message`] naming what was changed), then [`normalise`] enforces the rules that tie keys together
//! (k <= V, one start per token, a V×V matrix, …). Printing writes only the keys that differ from
//! the defaults, so links stay short; parse(print(state)) == state exactly.

use td_core::table::{self, join_numbers};
use td_core::url::{format_number, shorten};
use td_flows::flows::Kappa;
use td_flows::logits::{self, Generator};
use td_flows::truncation::TruncOrder;

pub const EXPLORER: &str = "next-token";
/// Version of the link format written by this build. Bump only with a migration for older links.
pub const FORMAT_VERSION: u32 = 1;
pub const MAX_V: usize = 50_257;
/// Longest explicit logit list a link may carry (larger vocabularies use a generator + seed).
pub const MAX_EXPLICIT_V: usize = 512;
/// Largest V for which a V×V score matrix can be given.
pub const MAX_MATRIX_V: usize = 16;
pub const MAX_STARTS: usize = 16;
pub const MAX_LABEL_CHARS: usize = 40;
pub const MAX_OVERLAY: usize = 6;
/// Logits are clamped to this magnitude (exp stays finite in every formula after max-shifting).
pub const MAX_ABS_LOGIT: f64 = 1e6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowChoice {
    Replicator,
    Mw,
    Entropic,
    EntropicMw,
    Compare,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncMode {
    None,
    TopK,
    TopP,
    MinP,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdjustMode {
    None,
    Matrix,
    Memory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenMode {
    None,
    Zipf,
    Gauss,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XAxis {
    Time,
    TimeOverT,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlayParam {
    Temperature,
    Eta,
}

/// One start point of a trajectory.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    Uniform,
    /// A full distribution over all V tokens.
    Full(Vec<f64>),
    /// Masses on the three corner tokens; the rest (1 - sum) is spread evenly over the other tokens.
    Corners([f64; 3]),
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub s: Vec<f64>,
    pub labels: Vec<String>,
    /// Where the typed logits came from, as the link that brought them says (a real model, its
    /// text and position); plain text, cleared when the logits are changed.
    pub from: String,
    /// The id of a real model's whole distribution kept in this browser, whose top tokens the
    /// logits are ([`crate::whole`]); empty: none. Cleared when the logits are changed.
    pub vocab: String,
    pub temp: f64,
    pub flow: FlowChoice,
    pub eta: f64,
    pub kappa: Kappa,
    pub horizon: f64,
    pub starts: Vec<Start>,
    pub trunc: TruncMode,
    pub k: usize,
    pub top_p: f64,
    pub min_p: f64,
    pub order: TruncOrder,
    pub adjust: AdjustMode,
    pub w: Vec<f64>,
    pub gamma: f64,
    pub mu: f64,
    pub v: usize,
    pub gen: GenMode,
    pub seed: u64,
    /// The three tokens drawn as simplex corners; None = the three highest scores.
    pub corners: Option<[usize; 3]>,
    pub overlay: Option<(OverlayParam, Vec<f64>)>,
    pub x_axis: XAxis,
    /// Scrub position along the horizon, 0..1 (1 = the end, what `readout()` reports).
    pub at: f64,
    pub speed: f64,
    pub field: bool,
    /// Transient: positions of logits a link gave that were not numbers (set while `s` is read,
    /// used and cleared by [`normalise`], so it never travels and two equal links compare equal).
    pub dropped_logits: Vec<usize>,
}

impl Default for State {
    fn default() -> Self {
        State {
            s: vec![2.0, 1.0, 0.0],
            labels: vec!["Paris".into(), "Lyon".into(), "Nice".into()],
            from: String::new(),
            vocab: String::new(),
            temp: 1.0,
            flow: FlowChoice::Compare,
            eta: 0.25,
            kappa: Kappa::One,
            horizon: 4.0,
            starts: vec![
                Start::Uniform,
                Start::Corners([0.05, 0.15, 0.8]),
                Start::Corners([0.1, 0.8, 0.1]),
                Start::Corners([0.8, 0.05, 0.15]),
                Start::Corners([0.3, 0.35, 0.35]),
            ],
            trunc: TruncMode::None,
            k: 2,
            top_p: 0.9,
            min_p: 0.1,
            order: TruncOrder::TemperatureFirst,
            adjust: AdjustMode::None,
            w: td_flows::scores::rps_matrix(),
            gamma: 1.0,
            mu: 0.5,
            v: 3,
            gen: GenMode::None,
            seed: 1,
            corners: None,
            overlay: None,
            x_axis: XAxis::Time,
            at: 1.0,
            speed: 1.0,
            field: true,
            dropped_logits: Vec::new(),
        }
    }
}

/// Something the reader should know about their link or input: which key, and what was done.
pub use td_core::table::Message;

/// Where a control sits on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Flow,
    Truncation,
    Adjust,
    Vocabulary,
    Starts,
    View,
    Playback,
}

impl Group {
    pub const ALL: [Group; 7] = [
        Group::Flow,
        Group::Truncation,
        Group::Adjust,
        Group::Vocabulary,
        Group::Starts,
        Group::View,
        Group::Playback,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Group::Flow => "Flow",
            Group::Truncation => "Truncation face",
            Group::Adjust => "Path-dependent scores (stand-ins)",
            Group::Vocabulary => "Vocabulary and logits",
            Group::Starts => "Start points",
            Group::View => "View",
            Group::Playback => "Playback",
        }
    }
}

/// How a parameter is edited and validated (see [`td_core::table::Kind`]).
pub type Kind = td_core::table::Kind<State>;

/// One row of the table (see [`td_core::table::Param`]).
pub type Param = td_core::table::Param<State, Group>;

fn always(_: &State) -> bool {
    true
}

pub const FLOW_OPTIONS: &[(&str, &str)] = &[
    ("replicator", "A · replicator (paper's ODE)"),
    ("mw", "B · multiplicative weights"),
    ("entropic", "C · entropic replicator (corrected)"),
    ("entropic-mw", "D · entropic mirror ascent"),
    ("compare", "A and C side by side"),
];

/// The table. Order = order of controls on the page and of keys in printed links.
pub static PARAMS: &[Param] = &[
    Param {
        key: "flow",
        label: "Flow",
        help: "Which dynamics moves the distribution: A is the paper's replicator ODE, B its exact discrete version, C the entropic flow that really converges to softmax(s/T) (for fixed scores), D its discrete version.",
        group: Group::Flow,
        kind: Kind::Choice {
            options: FLOW_OPTIONS,
            get: |st| match st.flow {
                FlowChoice::Replicator => "replicator",
                FlowChoice::Mw => "mw",
                FlowChoice::Entropic => "entropic",
                FlowChoice::EntropicMw => "entropic-mw",
                FlowChoice::Compare => "compare",
            },
            set: |st, v| {
                st.flow = match v {
                    "mw" => FlowChoice::Mw,
                    "entropic" => FlowChoice::Entropic,
                    "entropic-mw" => FlowChoice::EntropicMw,
                    "compare" => FlowChoice::Compare,
                    _ => FlowChoice::Replicator,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "T",
        label: "Temperature T",
        help: "Softmax temperature: the target is softmax(s/T). Low T sharpens, high T flattens. Log-scaled slider; type any value from 0.001 to 1000.",
        group: Group::Flow,
        kind: Kind::Number {
            min: 1e-3,
            max: 1e3,
            log: true,
            step: 0.01,
            get: |st| st.temp,
            set: |st, v| st.temp = v,
        },
        relevant: always,
    },
    Param {
        key: "t",
        label: "Horizon t",
        help: "How long each trajectory runs (continuous time; discrete flows take floor(t/eta) steps).",
        group: Group::Flow,
        kind: Kind::Number {
            min: 0.01,
            max: 1000.0,
            log: true,
            step: 0.01,
            get: |st| st.horizon,
            set: |st, v| st.horizon = v,
        },
        relevant: always,
    },
    Param {
        key: "eta",
        label: "Step eta",
        help: "Step size of the discrete flows B and D. For fixed scores B samples Flow A exactly for every eta, and D converges only when eta·T < 2 (a 2-cycle at exactly 2).",
        group: Group::Flow,
        kind: Kind::Number {
            min: 1e-3,
            max: 10.0,
            log: true,
            step: 0.01,
            get: |st| st.eta,
            set: |st, v| st.eta = v,
        },
        relevant: |st| matches!(st.flow, FlowChoice::Mw | FlowChoice::EntropicMw),
    },
    Param {
        key: "kappa",
        label: "Time scale kappa",
        help: "Clock of the entropic flow C: kappa = 1, or kappa = 1/T (matching the paper's 1/T prefactor). For fixed scores it changes speed, not the path.",
        group: Group::Flow,
        kind: Kind::Choice {
            options: &[("one", "kappa = 1"), ("inv-t", "kappa = 1/T")],
            get: |st| match st.kappa {
                Kappa::One => "one",
                Kappa::InvT => "inv-t",
            },
            set: |st, v| {
                st.kappa = if v == "inv-t" {
                    Kappa::InvT
                } else {
                    Kappa::One
                }
            },
        },
        relevant: |st| matches!(st.flow, FlowChoice::Entropic | FlowChoice::Compare),
    },
    Param {
        key: "trunc",
        label: "Truncation",
        help: "Restrict the flow to a face of the simplex, as top-k, nucleus (top-p) or min-p decoding does. The target becomes the renormalised truncated softmax.",
        group: Group::Truncation,
        kind: Kind::Choice {
            options: &[
                ("none", "none"),
                ("top-k", "top-k"),
                ("top-p", "top-p (nucleus)"),
                ("min-p", "min-p"),
            ],
            get: |st| match st.trunc {
                TruncMode::None => "none",
                TruncMode::TopK => "top-k",
                TruncMode::TopP => "top-p",
                TruncMode::MinP => "min-p",
            },
            set: |st, v| {
                st.trunc = match v {
                    "top-k" => TruncMode::TopK,
                    "top-p" => TruncMode::TopP,
                    "min-p" => TruncMode::MinP,
                    _ => TruncMode::None,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "k",
        label: "k",
        help: "top-k keeps the k highest-scoring tokens (the same set at every temperature).",
        group: Group::Truncation,
        kind: Kind::Integer {
            min: 1.0,
            max: MAX_V as f64,
            get: |st| st.k as f64,
            set: |st, v| st.k = v as usize,
        },
        relevant: |st| st.trunc == TruncMode::TopK,
    },
    Param {
        key: "top_p",
        label: "top-p",
        help: "Nucleus: the smallest set of most probable tokens whose mass reaches p. With temperature applied first (the order switch) the set is read from softmax(s/T) and depends on T; chosen first, from softmax(s), it does not.",
        group: Group::Truncation,
        kind: Kind::Number {
            min: 1e-3,
            max: 1.0,
            log: false,
            step: 0.01,
            get: |st| st.top_p,
            set: |st, v| st.top_p = v,
        },
        relevant: |st| st.trunc == TruncMode::TopP,
    },
    Param {
        key: "min_p",
        label: "min-p",
        help: "Keep tokens whose probability is at least this fraction of the most probable token's. With temperature applied first (the order switch) the set depends on T; chosen first, from softmax(s), it does not.",
        group: Group::Truncation,
        kind: Kind::Number {
            min: 0.0,
            max: 1.0,
            log: false,
            step: 0.01,
            get: |st| st.min_p,
            set: |st, v| st.min_p = v,
        },
        relevant: |st| st.trunc == TruncMode::MinP,
    },
    Param {
        key: "order",
        label: "Order",
        help: "Real decoders differ: apply temperature before choosing the top-p/min-p set (the set depends on T), or choose the set from softmax(s) first.",
        group: Group::Truncation,
        kind: Kind::Choice {
            options: &[
                ("temp-first", "temperature, then truncation"),
                ("trunc-first", "truncation, then temperature"),
            ],
            get: |st| match st.order {
                TruncOrder::TemperatureFirst => "temp-first",
                TruncOrder::TruncationFirst => "trunc-first",
            },
            set: |st, v| {
                st.order = if v == "trunc-first" {
                    TruncOrder::TruncationFirst
                } else {
                    TruncOrder::TemperatureFirst
                }
            },
        },
        relevant: |st| matches!(st.trunc, TruncMode::TopP | TruncMode::MinP),
    },
    Param {
        key: "adjust",
        label: "Score adjustment",
        help: "Illustrative stand-ins for the paper's path-dependent scores (its exact model is not public): s(p) = s0 + W·p, or a memory of past mass. Not the paper's equations.",
        group: Group::Adjust,
        kind: Kind::Choice {
            options: &[
                ("none", "none (fixed logits)"),
                ("matrix", "s0 + W·p"),
                ("memory", "memory (gamma, mu)"),
            ],
            get: |st| match st.adjust {
                AdjustMode::None => "none",
                AdjustMode::Matrix => "matrix",
                AdjustMode::Memory => "memory",
            },
            set: |st, v| {
                st.adjust = match v {
                    "matrix" => AdjustMode::Matrix,
                    "memory" => AdjustMode::Memory,
                    _ => AdjustMode::None,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "W",
        label: "Matrix W",
        help: "V×V score matrix, row-major, comma-separated (or a name: rps, sym, spiral). Antisymmetric W with an interior rest point (rock-paper-scissors) gives closed loops under Flow A; without one the orbit goes to the boundary.",
        group: Group::Adjust,
        kind: Kind::Text {
            placeholder: "0,-1,1,1,0,-1,-1,1,0",
            get: |st| join_numbers(&st.w, ","),
            set: set_matrix,
        },
        relevant: |st| st.adjust == AdjustMode::Matrix,
    },
    Param {
        key: "gamma",
        label: "Memory gain gamma",
        help: "s_i = s0_i + gamma·c_i where c_i remembers past mass of token i. gamma > 0 reinforces (repetition loops), gamma < 0 penalises repetition.",
        group: Group::Adjust,
        kind: Kind::Number {
            min: -20.0,
            max: 20.0,
            log: false,
            step: 0.1,
            get: |st| st.gamma,
            set: |st, v| st.gamma = v,
        },
        relevant: |st| st.adjust == AdjustMode::Memory,
    },
    Param {
        key: "mu",
        label: "Memory decay mu",
        help: "How fast the memory forgets: dc/dt = p - mu·c.",
        group: Group::Adjust,
        kind: Kind::Number {
            min: 0.0,
            max: 10.0,
            log: false,
            step: 0.05,
            get: |st| st.mu,
            set: |st, v| st.mu = v,
        },
        relevant: |st| st.adjust == AdjustMode::Memory,
    },
    Param {
        key: "s",
        label: "Logits s",
        help: "The scores (logits), comma-separated; V is their count. Edit them by dragging the bars.",
        group: Group::Vocabulary,
        kind: Kind::Text {
            placeholder: "2,1,0",
            get: |st| join_numbers(&st.s, ","),
            set: set_logits,
        },
        relevant: |st| st.gen == GenMode::None,
    },
    Param {
        key: "labels",
        label: "Token labels",
        help: "Names of the tokens, comma-separated (shown as plain text); a name with a comma goes in double quotes: Paris,\"Washington, D.C.\",Nice.",
        group: Group::Vocabulary,
        kind: Kind::Text {
            placeholder: "Paris,Lyon,Nice",
            get: |st| join_labels(&st.labels),
            set: set_labels,
        },
        relevant: |st| st.gen == GenMode::None,
    },
    Param {
        key: "from",
        label: "Logits from",
        help: "Where these logits came from, as the link that brought them says (for example a real model, its text and the position); plain text, not checked here, and cleared when the logits change.",
        group: Group::Vocabulary,
        kind: Kind::Text {
            placeholder: "typed here",
            get: |st| st.from.clone(),
            set: set_from,
        },
        relevant: |st| st.gen == GenMode::None,
    },
    Param {
        key: "vocab",
        label: "Whole vocabulary",
        help: "The id of a real model's whole next-token distribution that the energy lab kept in this browser; the link itself carries only its 64 most probable tokens and the rest lumped as one. Found here and matching these logits: the flows run on all of its tokens. Otherwise the logits above are used, and a note says why. Cleared when the logits change.",
        group: Group::Vocabulary,
        kind: Kind::Text {
            placeholder: "none",
            get: |st| st.vocab.clone(),
            set: set_vocab,
        },
        relevant: |st| st.gen == GenMode::None,
    },
    Param {
        key: "gen",
        label: "Logits",
        help: "Type the logits yourself, or generate a large vocabulary (up to 50,257 tokens, like GPT-2) from a seed: Zipf-like or Gaussian.",
        group: Group::Vocabulary,
        kind: Kind::Choice {
            options: &[
                ("none", "typed / dragged"),
                ("zipf", "generated: Zipf-like"),
                ("gauss", "generated: Gaussian"),
            ],
            get: |st| match st.gen {
                GenMode::None => "none",
                GenMode::Zipf => "zipf",
                GenMode::Gauss => "gauss",
            },
            set: |st, v| {
                st.gen = match v {
                    "zipf" => GenMode::Zipf,
                    "gauss" => GenMode::Gauss,
                    _ => GenMode::None,
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "V",
        label: "Vocabulary size V",
        help: "Number of tokens of the generated logits (2 to 50,257).",
        group: Group::Vocabulary,
        kind: Kind::Integer {
            min: 2.0,
            max: MAX_V as f64,
            get: |st| st.v as f64,
            set: |st, v| st.v = v as usize,
        },
        relevant: |st| st.gen != GenMode::None,
    },
    Param {
        key: "seed",
        label: "Seed",
        help: "Seed of the generated logits: the same seed gives the same logits on every machine.",
        group: Group::Vocabulary,
        kind: Kind::Integer {
            min: 0.0,
            max: 9_007_199_254_740_991.0,
            get: |st| st.seed as f64,
            set: |st, v| st.seed = v as u64,
        },
        relevant: |st| st.gen != GenMode::None,
    },
    Param {
        key: "corners",
        label: "Corner tokens",
        help: "Three token indices drawn as the simplex corners; every other token is lumped into 'other'. Empty = the three highest scores.",
        group: Group::Vocabulary,
        kind: Kind::Text {
            placeholder: "auto (top 3)",
            get: |st| match st.corners {
                Some(c) => format!("{},{},{}", c[0], c[1], c[2]),
                None => String::new(),
            },
            set: set_corners,
        },
        relevant: always,
    },
    Param {
        key: "p0",
        label: "Start points",
        help: "One start per trajectory, separated by ';': 'uniform', V probabilities, or 3 masses for the corner tokens (rest spread evenly). Click or tap inside the simplex to add one.",
        group: Group::Starts,
        kind: Kind::Text {
            placeholder: "uniform;0.1,0.1,0.8",
            get: |st| print_starts(&st.starts),
            set: set_starts,
        },
        relevant: always,
    },
    Param {
        key: "overlay",
        label: "Overlay runs",
        help: "Overlay runs that differ in one parameter, e.g. 'T:0.5,1,2' or 'eta:0.27,1,1.9,2.1' (first start point only).",
        group: Group::View,
        kind: Kind::Text {
            placeholder: "T:0.5,1,2",
            get: |st| match &st.overlay {
                Some((param, values)) => format!(
                    "{}:{}",
                    match param {
                        OverlayParam::Temperature => "T",
                        OverlayParam::Eta => "eta",
                    },
                    join_numbers(values, ",")
                ),
                None => String::new(),
            },
            set: set_overlay,
        },
        relevant: always,
    },
    Param {
        key: "x",
        label: "Time axis",
        help: "Plot the series against t, or against t/T: for fixed scores Flow A's curves for different T then coincide (temperature is a time rescaling), Flow C's do not.",
        group: Group::View,
        kind: Kind::Choice {
            options: &[("t", "t"), ("tT", "t / T")],
            get: |st| match st.x_axis {
                XAxis::Time => "t",
                XAxis::TimeOverT => "tT",
            },
            set: |st, v| {
                st.x_axis = if v == "tT" {
                    XAxis::TimeOverT
                } else {
                    XAxis::Time
                }
            },
        },
        relevant: always,
    },
    Param {
        key: "field",
        label: "Vector field",
        help: "Arrows of the active flow inside the simplex, coloured by speed.",
        group: Group::View,
        kind: Kind::Choice {
            options: &[("on", "shown"), ("off", "hidden")],
            get: |st| if st.field { "on" } else { "off" },
            set: |st, v| st.field = v != "off",
        },
        relevant: always,
    },
    Param {
        key: "at",
        label: "Position",
        help: "Scrub along the horizon (0 = start, 1 = end).",
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
        help: "Playback speed (the whole horizon plays in 4 s at speed 1).",
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
/// truncation parameters belong to `trunc`, score-model parameters to `adjust`, generator settings
/// to `gen`.
pub fn controlled_by(key: &str) -> Option<&'static str> {
    match key {
        "k" | "top_p" | "min_p" | "order" => Some("trunc"),
        "W" | "gamma" | "mu" => Some("adjust"),
        "V" | "seed" => Some("gen"),
        _ => None,
    }
}

/// Parses a comma-separated number list; bad entries are reported and skipped (no clamping: the
/// callers check their own ranges).
fn parse_list(text: &str, key: &str, max_len: usize, msgs: &mut Vec<Message>) -> Vec<f64> {
    table::parse_list(text, key, max_len, f64::INFINITY, msgs)
}

/// The logits, one per token in order. An entry that is not a finite number is left out (what
/// links of format 1 have always meant, kept by the link corpus); its position is remembered so
/// that [`normalise`] removes that token's label too, and the labels after it stay with their
/// logits instead of shifting onto their neighbours.
fn set_logits(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let mut values = parse_list(text, "s", MAX_EXPLICIT_V, msgs);
    if values.len() < 2 {
        msgs.push(Message::new(
            "s",
            "s: need at least 2 finite logits; kept the previous logits",
        ));
        return;
    }
    st.dropped_logits = text
        .split(',')
        .take(MAX_EXPLICIT_V)
        .enumerate()
        .filter(|(_, item)| td_core::url::parse_number(item).is_none())
        .map(|(i, _)| i)
        .collect();
    let mut clamped = false;
    for v in &mut values {
        if v.abs() > MAX_ABS_LOGIT {
            *v = v.clamp(-MAX_ABS_LOGIT, MAX_ABS_LOGIT);
            clamped = true;
        }
    }
    if clamped {
        msgs.push(Message::new(
            "s",
            format!("s: logits clamped to ±{}", format_number(MAX_ABS_LOGIT)),
        ));
    }
    if values != st.s {
        // Other logits: the link's word on where they came from no longer holds.
        st.from.clear();
        st.vocab.clear();
    }
    st.s = values;
}

/// Labels as comma-separated text, CSV style: a label with a comma or a double quote (or spaces
/// at its ends) is quoted, its quotes doubled.
pub fn join_labels(labels: &[String]) -> String {
    labels
        .iter()
        .map(|l| {
            if l.contains([',', '"']) || l.trim() != l {
                format!("\"{}\"", l.replace('"', "\"\""))
            } else {
                l.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The labels of [`join_labels`]' text: split at commas outside double quotes; a quoted label
/// keeps its commas, `""` inside quotes is one quote. Unquoted labels are trimmed.
pub fn split_labels(text: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut in_quotes, mut chars) = (false, false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' if in_quotes => in_quotes = false,
            '"' if current.trim().is_empty() && !quoted => {
                current.clear();
                (quoted, in_quotes) = (true, true);
            }
            ',' if !in_quotes => {
                let label = std::mem::take(&mut current);
                labels.push(if quoted {
                    label
                } else {
                    label.trim().to_string()
                });
                quoted = false;
            }
            _ if quoted && !in_quotes => {} // text after a closing quote: ignored
            _ => current.push(c),
        }
    }
    labels.push(if quoted {
        current
    } else {
        current.trim().to_string()
    });
    labels
}

/// The longest `from` text kept.
pub const MAX_FROM_CHARS: usize = 300;

fn set_from(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    // Shown only as text; control characters dropped like the labels'.
    // Dropped before trimming: what is left reads back the same (a link round trip is exact).
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim().to_string();
    st.from = if clean.chars().count() > MAX_FROM_CHARS {
        msgs.push(Message::new(
            "from",
            format!("from: longer than {MAX_FROM_CHARS} characters; shortened"),
        ));
        clean.chars().take(MAX_FROM_CHARS - 1).collect::<String>() + "…"
    } else {
        clean
    };
}

fn set_vocab(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let id = text.trim().to_ascii_lowercase();
    if id.is_empty() || td_core::vocabulary::is_id(&id) {
        st.vocab = id;
    } else {
        msgs.push(Message::new(
            "vocab",
            "vocab: not the id of a kept distribution (16 hex digits); the link's logits are used",
        ));
        st.vocab.clear();
    }
}

fn set_labels(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let mut labels = Vec::new();
    let mut shortened = false;
    for (index, item) in split_labels(text).iter().enumerate() {
        if index >= MAX_EXPLICIT_V {
            break;
        }
        // Drop control characters; labels are only ever shown as text, never parsed as HTML.
        let clean: String = item.chars().filter(|c| !c.is_control()).collect();
        let trimmed = clean.as_str();
        if trimmed.chars().count() > MAX_LABEL_CHARS {
            shortened = true;
            labels.push(trimmed.chars().take(MAX_LABEL_CHARS).collect::<String>() + "…");
        } else {
            labels.push(trimmed.to_string());
        }
    }
    if shortened {
        msgs.push(Message::new(
            "labels",
            format!("labels: labels longer than {MAX_LABEL_CHARS} characters were shortened"),
        ));
    }
    st.labels = labels;
}

fn set_matrix(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    st.w = match text.trim() {
        "rps" => td_flows::scores::rps_matrix(),
        "sym" => td_flows::scores::symmetric_example(),
        "spiral" => td_flows::scores::spiral_matrix(0.1),
        other => parse_list(other, "W", MAX_MATRIX_V * MAX_MATRIX_V, msgs),
    };
}

fn set_corners(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    if text.trim().is_empty() || text.trim() == "auto" {
        st.corners = None;
        return;
    }
    let values = parse_list(text, "corners", 3, msgs);
    let ok = values.len() == 3
        && values
            .iter()
            .all(|v| *v >= 0.0 && v.fract() == 0.0 && *v < MAX_V as f64);
    if !ok {
        msgs.push(Message::new(
            "corners",
            "corners: need three token indices; using the three highest scores",
        ));
        st.corners = None;
        return;
    }
    st.corners = Some([values[0] as usize, values[1] as usize, values[2] as usize]);
}

fn print_starts(starts: &[Start]) -> String {
    starts
        .iter()
        .map(|start| match start {
            Start::Uniform => "uniform".to_string(),
            Start::Full(p) => join_numbers(p, ","),
            Start::Corners(c) => join_numbers(c, ","),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Parses start points. A list of 3 numbers is read as corner masses; any other length as a full
/// distribution (checked against V in [`normalise`]).
fn set_starts(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let mut starts = Vec::new();
    for (index, item) in text.split(';').enumerate() {
        if index >= MAX_STARTS {
            msgs.push(Message::new(
                "p0",
                format!("p0: at most {MAX_STARTS} start points; the rest were ignored"),
            ));
            break;
        }
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if item == "uniform" {
            starts.push(Start::Uniform);
            continue;
        }
        let values = parse_list(item, "p0", MAX_EXPLICIT_V, msgs);
        if values.iter().any(|v| *v < 0.0) || values.iter().sum::<f64>() <= 0.0 || values.len() < 2
        {
            msgs.push(Message::new(
                "p0",
                format!(
                    "p0: start '{}' is not a probability vector; ignored",
                    shorten(item)
                ),
            ));
            continue;
        }
        if values.len() == 3 {
            starts.push(Start::Corners([values[0], values[1], values[2]]));
        } else {
            starts.push(Start::Full(values));
        }
    }
    if starts.is_empty() {
        msgs.push(Message::new(
            "p0",
            "p0: no usable start point; using the uniform distribution",
        ));
        starts.push(Start::Uniform);
    }
    st.starts = starts;
}

fn set_overlay(st: &mut State, text: &str, msgs: &mut Vec<Message>) {
    let text = text.trim();
    if text.is_empty() || text == "none" {
        st.overlay = None;
        return;
    }
    let (name, list) = text.split_once(':').unwrap_or(("", text));
    let (param, min, max) = match name {
        "T" => (OverlayParam::Temperature, 1e-3, 1e3),
        "eta" => (OverlayParam::Eta, 1e-3, 10.0),
        _ => {
            msgs.push(Message::new(
                "overlay",
                "overlay: write 'T:values' or 'eta:values'; overlay ignored",
            ));
            st.overlay = None;
            return;
        }
    };
    let mut values = parse_list(list, "overlay", MAX_OVERLAY, msgs);
    if values.iter().any(|v| *v < min || *v > max) {
        msgs.push(Message::new(
            "overlay",
            format!(
                "overlay: values clamped to [{}, {}]",
                format_number(min),
                format_number(max)
            ),
        ));
        for v in &mut values {
            *v = v.clamp(min, max);
        }
    }
    st.overlay = if values.is_empty() {
        None
    } else {
        Some((param, values))
    };
}

/// The vocabulary size implied by the state (explicit logits or generator).
pub fn vocab_size(st: &State) -> usize {
    match st.gen {
        GenMode::None => st.s.len(),
        _ => st.v,
    }
}

/// The generator of `st`'s logits, with its size and seed; None for an explicit list.
fn generator_of(st: &State) -> Option<(Generator, usize, u64)> {
    match st.gen {
        GenMode::None => None,
        GenMode::Zipf => Some((Generator::Zipf, st.v, st.seed)),
        GenMode::Gauss => Some((Generator::Gauss, st.v, st.seed)),
    }
}

/// The last generated logits, and a generation under way (see [`prepare_logits`]). A reader who
/// moves another control of a large vocabulary (V = 50,257: ~10 ms of draws and logs in the
/// page, on its main thread) gets the logits back by a copy.
#[derive(Default)]
struct Generated {
    last: Option<((Generator, usize, u64), Vec<f64>)>,
    pending: Option<((Generator, usize, u64), logits::Generation)>,
}

thread_local! {
    static GENERATED: std::cell::RefCell<Generated> = std::cell::RefCell::new(Generated::default());
}

/// The logits in force: the explicit list, or the generated one.
pub fn logits(st: &State) -> Vec<f64> {
    if generator_of(st).is_none() {
        return st.s.clone();
    }
    while !prepare_logits(st, usize::MAX) {}
    GENERATED
        .with_borrow(|cache| cache.last.as_ref().map(|(_, s)| s.clone()))
        .unwrap_or_default()
}

/// Draws up to `items` more of `st`'s generated logits (the page spreads a large vocabulary's
/// over several tasks before it builds the scene); true when [`logits()`] has them all, at once.
pub fn prepare_logits(st: &State, items: usize) -> bool {
    let Some(key) = generator_of(st) else {
        return true;
    };
    GENERATED.with_borrow_mut(|cache| {
        if matches!(&cache.last, Some((k, _)) if *k == key) {
            return true;
        }
        let pending = match &mut cache.pending {
            Some((k, g)) if *k == key => g,
            slot => {
                &mut slot
                    .insert((key, logits::Generation::new(key.0, key.1, key.2)))
                    .1
            }
        };
        if pending.advance(items) {
            if let Some((k, g)) = cache.pending.take() {
                cache.last = Some((k, g.into_logits()));
            }
            true
        } else {
            false
        }
    })
}

/// Token label i (explicit label, or a generated name).
pub fn label(st: &State, index: usize) -> String {
    match st.labels.get(index) {
        Some(l) if st.gen == GenMode::None && !l.is_empty() => l.clone(),
        _ => format!("tok{index}"),
    }
}

/// The three corner tokens actually used: the requested ones, or the three highest scores.
pub fn effective_corners(st: &State, s: &[f64]) -> [usize; 3] {
    if let Some(c) = st.corners {
        return c;
    }
    if s.len() < 3 {
        // V = 2: the third corner is a placeholder, drawn as absent.
        return [0, 1, 1];
    }
    // The three highest scores (ties by lower index), then in index order for a stable picture.
    let mut top: Vec<usize> = Vec::with_capacity(4);
    for (i, value) in s.iter().enumerate() {
        let position = top.iter().position(|&j| *value > s[j]).unwrap_or(top.len());
        if position < 3 {
            top.insert(position, i);
            top.truncate(3);
        }
    }
    top.sort_unstable();
    [top[0], top[1], top[2]]
}

/// Cross-key rules, applied after every change: whatever comes in, the state leaves consistent.
pub fn normalise(st: &mut State, msgs: &mut Vec<Message>) {
    if st.gen == GenMode::None {
        // V and seed only mean something for generated logits, and only then travel in links.
        let defaults = State::default();
        st.v = defaults.v;
        st.seed = defaults.seed;
    } else {
        // Generated logits came from no model.
        st.from.clear();
        st.vocab.clear();
    }
    let v = vocab_size(st);
    // Labels keep their tokens when a logit of the link was left out (see `set_logits`); the
    // default labels name the default tokens only and are simply cut.
    let explicit_labels = st.labels != State::default().labels;
    for &i in std::mem::take(&mut st.dropped_logits).iter().rev() {
        if explicit_labels && i < st.labels.len() && st.labels.len() > v {
            st.labels.remove(i);
        }
    }
    if st.gen == GenMode::None && st.labels.len() != v {
        if st.labels.len() > v && explicit_labels {
            let extra = st.labels.len() - v;
            msgs.push(Message::new(
                "labels",
                format!(
                    "labels: {} labels for {v} tokens; the last {extra} {} dropped",
                    st.labels.len(),
                    if extra == 1 { "was" } else { "were" }
                ),
            ));
        }
        let mut labels = st.labels.clone();
        labels.resize(v, String::new());
        st.labels = labels;
    }
    // With a whole vocabulary named (vocab=), the flows may run on far more tokens than the
    // link's V: k is bounded by the table's range only, and the scene says if it exceeds the V
    // it runs on.
    if st.trunc == TruncMode::TopK && st.k > v && st.vocab.is_empty() {
        msgs.push(Message::new(
            "k",
            format!("k={} is larger than V={v}; using k={v}", st.k),
        ));
        st.k = v;
    }
    if let Some(c) = st.corners {
        let distinct = c[0] != c[1] && c[1] != c[2] && c[0] != c[2];
        if v < 3 || c.iter().any(|&i| i >= v) || !distinct {
            msgs.push(Message::new(
                "corners",
                format!("corners: need three different tokens below V={v}; using the three highest scores"),
            ));
            st.corners = None;
        }
    }
    let before = st.starts.len();
    st.starts.retain(|start| match start {
        Start::Full(p) => p.len() == v,
        _ => true,
    });
    if st.starts.len() < before {
        msgs.push(Message::new(
            "p0",
            format!("p0: start points must have V={v} entries (or 3 corner masses); mismatched ones were ignored"),
        ));
    }
    if st.starts.is_empty() {
        st.starts.push(Start::Uniform);
    }
    if st.adjust == AdjustMode::Matrix {
        if v > MAX_MATRIX_V {
            msgs.push(Message::new(
                "adjust",
                format!("adjust=matrix needs V <= {MAX_MATRIX_V} (V={v}); score adjustment switched off"),
            ));
            st.adjust = AdjustMode::None;
        } else if st.w.len() != v * v {
            let fallback = if v == 3 {
                td_flows::scores::rps_matrix()
            } else {
                vec![0.0; v * v]
            };
            msgs.push(Message::new(
                "W",
                format!(
                    "W: need {} entries (V×V, V={v}), got {}; using {}",
                    v * v,
                    st.w.len(),
                    if v == 3 {
                        "rock-paper-scissors"
                    } else {
                        "zeros"
                    }
                ),
            ));
            st.w = fallback;
        }
    }
    if st.adjust != AdjustMode::Matrix && st.w.len() != 9 {
        // W only travels in links while matrix mode is on; keep the default so links stay short.
        st.w = td_flows::scores::rps_matrix();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explorer::NextToken;
    use td_core::explorer::Explorer;

    /// Prepared in slices (even with another vocabulary's preparation cut short between them),
    /// the logits are those drawn in one go.
    #[test]
    fn logits_prepared_in_slices_are_the_generated_ones() {
        let mut st = State {
            gen: GenMode::Zipf,
            v: 3000,
            seed: 11,
            ..State::default()
        };
        let other = State {
            gen: GenMode::Gauss,
            v: 5000,
            ..st.clone()
        };
        let want = logits::generate(Generator::Zipf, 3000, 11);
        assert!(!prepare_logits(&st, 1000));
        assert!(!prepare_logits(&other, 1000));
        let mut slices = 0;
        while !prepare_logits(&st, 1000) {
            slices += 1;
            assert!(slices < 10);
        }
        assert!(prepare_logits(&st, 1), "ready logits need no more work");
        assert_eq!(logits(&st), want);
        st.gen = GenMode::Gauss;
        assert_eq!(logits(&st), logits::generate(Generator::Gauss, 3000, 11));
    }

    #[test]
    fn default_state_prints_only_the_version() {
        assert_eq!(NextToken::to_hash(&State::default()), "#next-token?v=1");
    }

    #[test]
    fn round_trip_of_a_rich_state() {
        let link = "#next-token?v=1&flow=entropic-mw&T=0.37&eta=1.9&trunc=top-p&top_p=0.8&s=3,1.5,-2,0.25&labels=a,%3Cb%3E,c,d&p0=uniform;0.1,0.2,0.3,0.4;0.2,0.2,0.2&overlay=T:0.5,1,2&x=tT";
        let (st, msgs) = NextToken::from_hash(link);
        assert!(msgs.is_empty(), "{msgs:?}");
        let printed = NextToken::to_hash(&st);
        let (again, msgs2) = NextToken::from_hash(&printed);
        assert!(msgs2.is_empty(), "{msgs2:?}");
        assert_eq!(st, again);
        assert_eq!(st.labels[1], "<b>");
    }

    #[test]
    fn hostile_values_are_clamped_with_messages() {
        let (st, msgs) = NextToken::from_hash(
            "#next-token?T=abc&s=1,NaN,2&flow=bogus&k=-5&trunc=top-k&eta=1e9&zzz=1",
        );
        assert_eq!(st.temp, 1.0);
        assert_eq!(st.s, vec![1.0, 2.0]);
        assert_eq!(st.flow, FlowChoice::Compare);
        assert_eq!(st.k, 1);
        assert_eq!(st.eta, 10.0);
        for key in ["T", "s", "flow", "k", "eta", "zzz"] {
            assert!(
                msgs.iter().any(|m| m.key == key),
                "no message for {key}: {msgs:?}"
            );
        }
    }
}
