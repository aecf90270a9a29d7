//! Everything the next-token explorer shows, computed from a [`State`]: the runs (one per start point
//! or overlay value, per flow), the vector field, the markers, the notes and the readout.
//!
//! Work is incremental ([`Scene::advance`]) so the page can spread a 50,257-token scene over many
//! animation frames and show progress instead of freezing.

use super::params::{
    self, AdjustMode, FlowChoice, OverlayParam, Start, State, TruncMode, MAX_MATRIX_V,
};
use td_core::codec::{self, Reader, Writer};
use td_flows::flows::{self, Flow};
use td_flows::run::{Diagnostics, Run, RunProgress, RunSpec, Sample};
use td_flows::scores::{self, Adjust};
use td_flows::simplex;
use td_flows::truncation::{self, TruncOrder, Truncation};

use crate::whole::Used;

/// Stored points per continuous trajectory (and at most this many per discrete one).
pub const SAMPLES: usize = 301;
/// Side of the vector-field grid for V = 3.
pub const FIELD_GRID: usize = 24;

/// One trajectory with how to draw and name it.
pub struct RunView {
    pub run: Run,
    pub name: String,
    /// Index into the trajectory palette.
    pub colour: usize,
    /// The temperature this run used (differs from the state's when overlaying T).
    pub temp: f64,
    pub overlay_value: Option<f64>,
}

/// An arrow of the vector field, in lumped coordinates (3 corners + other).
#[derive(Clone, Copy, Debug)]
pub struct FieldArrow {
    pub at: [f64; 4],
    pub dir: [f64; 4],
    pub speed: f64,
}

/// What one simplex panel shows: one flow's runs and field.
pub struct Panel {
    pub flow: Flow,
    pub title: String,
    pub runs: Vec<RunView>,
    pub field: Vec<FieldArrow>,
    pub max_speed: f64,
}

pub struct Scene {
    pub state: State,
    pub s: Vec<f64>,
    pub v: usize,
    pub corners: [usize; 3],
    pub corner_labels: [String; 3],
    pub support: Vec<usize>,
    pub pi_t: Vec<f64>,
    pub target: Vec<f64>,
    pub argmax: Vec<usize>,
    pub panels: Vec<Panel>,
    pub notes: Vec<String>,
    field_pending: bool,
    pub field_grid: usize,
    /// Stored points per trajectory.
    pub samples: usize,
    /// Runs not yet started: creating one costs O(V), so large scenes create them chunk by chunk.
    pending: std::collections::VecDeque<PendingRun>,
    /// In one of several workers: which part of the scene this copy computes (the field: part 0).
    shard: Option<Shard>,
    /// Page side, one trajectory computed in parts by several workers: each part's progress as
    /// received (waiting until every earlier part has finished), and the first part not yet
    /// finished. Empty otherwise.
    held_parts: Vec<Option<RunProgress>>,
    next_part: usize,
    /// [`Scene::top_logits`] as last asked (k and the tokens): the logits figure asks at every
    /// paint, and at V = 50,257 each answer is a pass over the vocabulary.
    top_logits: std::cell::OnceCell<(usize, Vec<usize>)>,
    /// A real model's whole vocabulary the scene runs on instead of the link's top tokens
    /// ([`crate::whole`]); `s`, `v` and the labels are then its.
    pub whole: Option<Used>,
    /// Why the whole vocabulary the link names is not used (the note says so).
    pub whole_unused: Option<String>,
}

/// One worker's part of a scene computed by several.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shard {
    /// Run i (in panel order) is computed by part `i % parts`.
    Runs { part: usize, parts: usize },
    /// The scene's one trajectory, in consecutive ranges of samples (closed forms).
    Samples { part: usize, parts: usize },
}

/// Into how many ranges of samples a scene of one closed-form trajectory splits (the most
/// workers that can share it).
const SAMPLE_PARTS: usize = 4;

struct PendingRun {
    panel: usize,
    spec: RunSpec,
    name: String,
    colour: usize,
    temp: f64,
    overlay_value: Option<f64>,
}

/// What starting a run counts for, in samples, when the page budgets a chunk of work.
const RUN_START_COST: usize = 4;

pub fn flow_name(flow: Flow) -> &'static str {
    match flow {
        Flow::Replicator => "A · replicator",
        Flow::MultiplicativeWeights => "B · multiplicative weights",
        Flow::Entropic => "C · entropic replicator",
        Flow::EntropicMirror => "D · entropic mirror ascent",
    }
}

pub fn flow_key(flow: Flow) -> &'static str {
    match flow {
        Flow::Replicator => "replicator",
        Flow::MultiplicativeWeights => "mw",
        Flow::Entropic => "entropic",
        Flow::EntropicMirror => "entropic-mw",
    }
}

/// Stored points per trajectory: 301 for small vocabularies; fewer (never under 101) when
/// V × trajectories is large, so a slider move stays within a frame. The end point is always exact.
pub fn samples_for(v: usize, runs: usize) -> usize {
    const TOKEN_SAMPLES: usize = 150_000;
    (TOKEN_SAMPLES / (v * runs.max(1)).max(1)).clamp(101, SAMPLES)
}

/// Lumped coordinates of a full distribution: the three corners, then everything else.
pub fn lump(p: &[f64], corners: [usize; 3], v: usize) -> [f64; 4] {
    if v == 2 {
        return [p[0], p[1], 0.0, 0.0];
    }
    let a = p[corners[0]];
    let b = p[corners[1]];
    let c = p[corners[2]];
    [a, b, c, (1.0 - a - b - c).max(0.0)]
}

impl Scene {
    pub fn new(state: State) -> Scene {
        Scene::with_whole(state, None)
    }

    /// A scene on a real model's whole vocabulary ([`crate::whole::for_state`]: None when the
    /// link names none, the reason when it cannot be used: the link's tokens then).
    pub fn with_whole(state: State, whole: Option<Result<Used, String>>) -> Scene {
        let (whole, unused) = match whole {
            Some(Ok(used)) => (Some(used), None),
            Some(Err(reason)) => (None, Some(reason)),
            None => (None, None),
        };
        let runs = state
            .starts
            .len()
            .max(state.overlay.as_ref().map_or(0, |o| o.1.len()))
            * if state.flow == FlowChoice::Compare {
                2
            } else {
                1
            };
        let v = whole
            .as_ref()
            .map_or_else(|| params::vocab_size(&state), |w| w.order.len());
        Scene::build(state, samples_for(v, runs), FIELD_GRID, (whole, unused))
    }

    /// A scene with a chosen number of samples per trajectory and field grid side (benchmarks).
    pub fn with_options(state: State, samples: usize, field_grid: usize) -> Scene {
        Scene::build(state, samples, field_grid, (None, None))
    }

    /// `whole`: the whole vocabulary in use, or why the one the link names is not.
    fn build(
        state: State,
        samples: usize,
        field_grid: usize,
        (whole, whole_unused): (Option<Used>, Option<String>),
    ) -> Scene {
        let s = match &whole {
            Some(w) => w.vocabulary.log_probs.clone(),
            None => params::logits(&state),
        };
        let v = s.len();
        let corners = corners_in(&state, whole.as_ref(), &s);
        let label = |i: usize| label_in(&state, whole.as_ref(), i);
        let corner_labels = [
            label(corners[0]),
            label(corners[1]),
            if v == 2 {
                String::new()
            } else {
                label(corners[2])
            },
        ];
        let trunc = truncation_of(&state);
        let support = truncation::support(&s, state.temp, &trunc, state.order);
        let pi_t = simplex::tempered_softmax(&s, state.temp);
        // Without truncation the target is pi_T itself (the same softmax of the same numbers):
        // one pass over the vocabulary, not two, in the task that applies a change.
        let target = if support.len() == v {
            pi_t.clone()
        } else {
            truncation::truncated_target(&s, state.temp, &support)
        };
        let argmax = simplex::argmax_face(&s);

        let plan = RunPlan {
            state: &state,
            s: &s,
            trunc: &trunc,
            support: &support,
            adjust: adjust_of(&state, v),
            starts: state
                .starts
                .iter()
                .map(|start| match (start, &whole) {
                    // A full start over the link's tokens, over the whole vocabulary.
                    (Start::Full(p), Some(w)) if p.len() == state.s.len() => w.spread(p),
                    _ => start_distribution(start, corners, v),
                })
                .collect(),
            samples,
            corners,
        };
        let mut panels = Vec::new();
        let mut pending = Vec::new();
        for flow in flows_of(state.flow) {
            pending.extend(plan.runs(flow, panels.len()));
            panels.push(Panel {
                flow,
                title: flow_name(flow).to_string(),
                runs: Vec::new(),
                field: Vec::new(),
                max_speed: 0.0,
            });
        }
        let mut scene = Scene {
            field_pending: state.field && field_grid > 0,
            field_grid,
            samples,
            pending: pending.into(),
            state,
            s,
            v,
            corners,
            corner_labels,
            support,
            pi_t,
            target,
            argmax,
            panels,
            notes: Vec::new(),
            shard: None,
            held_parts: Vec::new(),
            next_part: 0,
            top_logits: std::cell::OnceCell::new(),
            whole,
            whole_unused,
        };
        if scene.field_pending && !scene.field_is_defined() {
            scene.field_pending = false;
        }
        scene.notes = scene.compute_notes();
        scene
    }

    /// Token i's label.
    pub fn label(&self, index: usize) -> String {
        label_in(&self.state, self.whole.as_ref(), index)
    }

    /// The tokens of the `k` highest logits, highest first (ties by lower index); computed once per
    /// scene for the first `k` asked.
    pub fn top_logits(&self, k: usize) -> Vec<usize> {
        let cached = self
            .top_logits
            .get_or_init(|| (k, td_core::rank::top_indices(&self.s, k)));
        if cached.0 == k {
            cached.1.clone()
        } else {
            td_core::rank::top_indices(&self.s, k)
        }
    }

    /// The field is drawn for V <= 3 with fixed scores (it is a picture of the true flow there only).
    pub fn field_is_defined(&self) -> bool {
        self.v <= 3 && self.state.adjust != AdjustMode::Memory
    }

    /// Computes up to `budget` more trajectory samples in total. Returns true when everything is done.
    pub fn advance(&mut self, budget: usize) -> bool {
        if self.field_pending {
            for index in 0..self.panels.len() {
                self.compute_field(index);
            }
            self.field_pending = false;
        }
        let mut left = budget.max(1);
        while self.start_next_run() {
            left = left.saturating_sub(RUN_START_COST);
            if left == 0 {
                return false;
            }
        }
        let shard = self.shard;
        for (index, view) in self.panels.iter_mut().flat_map(|p| &mut p.runs).enumerate() {
            if !owns_run(shard, index) {
                continue;
            }
            if left == 0 {
                return false;
            }
            let before = view.run.samples().len();
            let done = view.run.advance(left);
            left = left.saturating_sub(view.run.samples().len() - before);
            if !done {
                return false;
            }
        }
        self.notes = self.compute_notes();
        true
    }

    /// Several workers: this copy computes part `shard` of `shards` (see [`Scene::shards`]).
    pub fn restrict_to_shard(&mut self, shard: usize, shards: usize) {
        if shards > 1 {
            let part = shard % shards;
            self.shard = Some(if self.splits_by_samples() {
                Shard::Samples {
                    part,
                    parts: shards,
                }
            } else {
                Shard::Runs {
                    part,
                    parts: shards,
                }
            });
            self.field_pending &= part == 0;
        }
    }

    /// Several workers: the page's copy has every part; the notes need them all.
    pub fn finish_shards(&mut self) {
        if self.is_done() {
            self.notes = self.compute_notes();
        }
    }

    /// Independent parts of the scene for several workers: its trajectories, or ranges of the
    /// samples of its one closed-form trajectory.
    pub fn shards(&self) -> usize {
        match self.run_count() {
            1 if self.splits_by_samples() => SAMPLE_PARTS,
            n => n.max(1),
        }
    }

    /// One trajectory, not started yet, whose samples are independent.
    fn splits_by_samples(&self) -> bool {
        self.run_count() == 1
            && self
                .pending
                .front()
                .is_some_and(|p| Run::splits_by_samples(&p.spec))
    }

    /// Starts the next pending run; false when none is left.
    fn start_next_run(&mut self) -> bool {
        let Some(next) = self.pending.pop_front() else {
            return false;
        };
        // The flows of a comparison (and repeated starts) share the O(V) face, start and target;
        // the starts of one flow share the closed form's coefficients.
        let earlier: Vec<&Run> = self
            .panels
            .iter()
            .flat_map(|p| &p.runs)
            .map(|view| &view.run)
            .collect();
        let mut run = Run::new_sharing(next.spec, &earlier);
        if let Some(Shard::Samples { part, parts }) = self.shard {
            run.restrict_to_samples(part, parts);
        }
        self.panels[next.panel].runs.push(RunView {
            run,
            name: next.name,
            colour: next.colour,
            temp: next.temp,
            overlay_value: next.overlay_value,
        });
        true
    }

    /// Page side, while workers compute: builds the next trajectory's run ahead of the reply that
    /// needs it (O(V) each). False once every run exists.
    pub fn prepare_next_run(&mut self) -> bool {
        self.start_next_run() && !self.pending.is_empty()
    }

    /// Number of trajectories in the scene (started or not).
    pub fn run_count(&self) -> usize {
        self.pending.len() + self.panels.iter().map(|p| p.runs.len()).sum::<usize>()
    }

    pub fn progress(&self) -> f64 {
        let mut total = 0.0;
        let mut count = self.pending.len() as f64;
        let runs = self.panels.iter().flat_map(|p| &p.runs).enumerate();
        for (_, view) in runs.filter(|(i, _)| owns_run(self.shard, *i)) {
            total += view.run.progress();
            count += 1.0;
        }
        if count == 0.0 {
            1.0
        } else {
            total / count
        }
    }

    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
            && self
                .panels
                .iter()
                .flat_map(|p| &p.runs)
                .enumerate()
                .all(|(i, r)| !owns_run(self.shard, i) || r.run.progress() >= 1.0)
    }

    fn compute_field(&mut self, panel_index: usize) {
        let flow = self.panels[panel_index].flow;
        let temp = self.state.temp;
        let kappa = flows::kappa_value(self.state.kappa, temp);
        let eta = self.state.eta;
        let v = self.v;
        let n = self.field_grid;
        let mut arrows = Vec::new();
        let mut max_speed: f64 = 0.0;
        let mut vel = vec![0.0; v];
        // Buffers reused at every grid point (the field is ~800 points).
        let mut p = vec![0.0; v];
        let mut s_adjusted = vec![0.0; v];
        let matrix = match (&self.state.adjust, v <= MAX_MATRIX_V) {
            (AdjustMode::Matrix, true) if self.state.w.len() == v * v => Some(self.state.w.clone()),
            _ => None,
        };
        let in_face = |i: usize| self.support.contains(&i);
        for row in 0..=n {
            for col in 0..=(n - row) {
                // Grid points strictly inside the triangle (or the edge for V = 2).
                let a = (col as f64 + 0.5 * (1.0 / 3.0)) / (n as f64 + 0.5);
                let b = (row as f64 + 0.5 * (1.0 / 3.0)) / (n as f64 + 0.5);
                let c = 1.0 - a - b;
                if c <= 0.0 {
                    continue;
                }
                p.iter_mut().for_each(|x| *x = 0.0);
                if v == 2 {
                    if row != 0 {
                        continue;
                    }
                    p[0] = a / (a + c);
                    p[1] = 1.0 - p[0];
                } else {
                    p[self.corners[0]] = a;
                    p[self.corners[1]] = b;
                    p[self.corners[2]] = c;
                }
                // On a truncated face the flow lives on the face: project the grid point there.
                if self.support.len() < v {
                    let mass: f64 = (0..v).filter(|&i| in_face(i)).map(|i| p[i]).sum();
                    for (i, pi) in p.iter_mut().enumerate() {
                        *pi = if in_face(i) { *pi / mass } else { 0.0 };
                    }
                }
                let s_here: &[f64] = match &matrix {
                    Some(w) => {
                        for (i, si) in s_adjusted.iter_mut().enumerate() {
                            *si = self.s[i] + (0..v).map(|j| w[i * v + j] * p[j]).sum::<f64>();
                        }
                        &s_adjusted
                    }
                    None => &self.s,
                };
                flows::velocity(flow, &p, s_here, temp, kappa, eta, &mut vel);
                let at = lump(&p, self.corners, v);
                let dir = lump_delta(&vel, self.corners, v);
                let speed = vel.iter().map(|x| x * x).sum::<f64>().sqrt();
                if speed.is_finite() {
                    max_speed = max_speed.max(speed);
                    arrows.push(FieldArrow { at, dir, speed });
                }
            }
        }
        // With a face active, many grid points project onto the same face point; keep one of each.
        arrows.dedup_by(|x, y| {
            x.at.iter()
                .zip(y.at.iter())
                .all(|(a, b)| (a - b).abs() < 1e-12)
        });
        let panel = &mut self.panels[panel_index];
        panel.field = arrows;
        panel.max_speed = max_speed;
    }

    /// Plain-language notes that matter for the current configuration.
    fn compute_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let flows: Vec<Flow> = self.panels.iter().map(|p| p.flow).collect();
        let target_name = if self.support.len() < self.v {
            "the truncated softmax on the face"
        } else {
            "softmax(s/T)"
        };
        self.flow_notes(&flows, target_name, &mut notes);
        if flows.contains(&Flow::MultiplicativeWeights) && self.state.adjust == AdjustMode::None {
            self.mw_exactness_notes(&mut notes);
        }
        if flows.contains(&Flow::EntropicMirror) {
            self.mirror_notes(target_name, &mut notes);
        }
        self.truncation_notes(&mut notes);
        self.view_notes(&mut notes);
        notes
    }

    /// What each flow shown does (and which of the paper's claims hold for it).
    fn flow_notes(&self, flows: &[Flow], target_name: &str, notes: &mut Vec<String>) {
        let st = &self.state;
        // The theorems below are about fixed scores s; path-dependent scores (a matrix W or a
        // memory) change what the flows do, and the notes then say only what holds for them.
        let fixed = st.adjust == AdjustMode::None;
        if fixed
            && (flows.contains(&Flow::Replicator) || flows.contains(&Flow::MultiplicativeWeights))
        {
            let names = self
                .argmax
                .iter()
                .take(3)
                .map(|&i| self.label(i))
                .collect::<Vec<_>>()
                .join(", ");
            // Tied top scores: the limit is the face they span (the mass inside it keeps p0's
            // proportions), not one vertex.
            let limit = if self.argmax.len() == 1 {
                format!("the argmax vertex ({names})")
            } else {
                format!("the face of the tied top scores ({names})")
            };
            let pass = if self.support.len() < self.v {
                format!("from uniform on the face it passes through {target_name} exactly at t = 1")
            } else {
                "from uniform it passes through softmax(s/T) exactly at t = 1".to_string()
            };
            notes.push(format!(
                "Flow A/B converges to {limit}, not to {target_name}: {pass} and keeps sharpening (the audit's counterexample to the paper's claim 2)."
            ));
        }
        // Rescaling t by T absorbs T when every rate is divided by T: fixed scores and p-dependent
        // scores W·p alike, but not a memory, which relaxes at its own rate μ.
        // And only on a face that temperature does not move (top-p and min-p chosen after
        // temperature move it: the truncation note says so instead).
        let face_fixed = matches!(st.trunc, TruncMode::None | TruncMode::TopK)
            || st.order == TruncOrder::TruncationFirst;
        if flows.contains(&Flow::Replicator) && st.adjust != AdjustMode::Memory && face_fixed {
            notes.push("Temperature is an exact time rescaling for Flow A: p(t; T) = p(t/T; 1) — plot against t/T to see the curves coincide (claim 3 holds for A).".into());
        }
        if fixed && flows.contains(&Flow::Entropic) {
            notes.push(format!(
                "Flow C converges to {target_name} from every interior start, with F rising monotonically (claim 2 holds for C), but temperature is not a time rescaling for it (claim 3 fails)."
            ));
        }
        if fixed && flows.contains(&Flow::MultiplicativeWeights) {
            notes.push(format!(
                "Multiplicative weights samples Flow A exactly at t = k·η for every η (step {} here), not as a first-order approximation. The step convention η·s/T is our assumption; the paper's is not stated.",
                td_core::url::format_number(st.eta)
            ));
        }
    }

    /// Checks the exactness claim live: iterates the MW map step by step (not its closed form)
    /// and compares with Flow A's closed form at t = k·eta, for the first run of each panel.
    fn mw_exactness_notes(&self, notes: &mut Vec<String>) {
        for panel in &self.panels {
            for view in panel.runs.iter().take(1) {
                let spec = view.run.spec();
                let steps = (spec.horizon / spec.eta + 1e-9).floor() as usize;
                if steps == 0 || steps.saturating_mul(self.v) > 5_000_000 {
                    continue;
                }
                let mut log_p: Vec<f64> = spec.p0.iter().map(|x| x.ln()).collect();
                let log_p0 = log_p.clone();
                for _ in 0..steps {
                    flows::mw_step(&mut log_p, &self.s, spec.temp, spec.eta);
                }
                let iterated = simplex::softmax(&log_p);
                let mut u = vec![0.0; self.v];
                flows::replicator_closed(
                    &log_p0,
                    &self.s,
                    spec.temp,
                    steps as f64 * spec.eta,
                    &mut u,
                );
                let exact = simplex::softmax(&u);
                let gap = exact
                    .iter()
                    .zip(&iterated)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                notes.push(format!(
                    "{}: after k = {steps} iterated MW steps, max |p_MW − p_A(k·η)| = {gap:.1e} (machine precision is 2.2e-16).",
                    view.name
                ));
            }
        }
    }

    /// Flow D: one note per distinct eta·T in play (the overlay may sweep eta or T), then where
    /// runs diverged.
    fn mirror_notes(&self, target_name: &str, notes: &mut Vec<String>) {
        let mut seen: Vec<f64> = Vec::new();
        for view in self.panels.iter().flat_map(|p| p.runs.iter()) {
            let et = view.run.spec().eta * view.run.spec().temp;
            if seen.iter().any(|x| (x - et).abs() < 1e-12) {
                continue;
            }
            seen.push(et);
            let shown = td_core::url::format_number(round_sig(et));
            notes.push(if (et - 2.0).abs() < 1e-12 {
                // u_{k+1} = (1 - ηT)·u_k + η·s = -u_k + η·s: two steps give u back.
                "η·T = 2: this iteration is a 2-cycle: every second step returns to the start: no convergence, no growth.".to_string()
            } else if et > 2.0 {
                format!("η·T = {shown} > 2: this iteration diverges (it flips between vertices with growing amplitude).")
            } else if et > 1.0 {
                format!("1 < η·T = {shown} < 2: oscillating convergence to {target_name}.")
            } else if (et - 1.0).abs() < 1e-12 {
                format!("η·T = 1: reaches {target_name} in one step.")
            } else {
                format!("η·T = {shown} < 1: monotone convergence to {target_name}.")
            });
        }
        for panel in &self.panels {
            for view in &panel.runs {
                if let Some(t) = view.run.diverged_at() {
                    notes.push(format!(
                        "{}: diverged at t = {} (k = {}); the trajectory stops there.",
                        view.name,
                        td_core::url::format_number(round_sig(t)),
                        (t / view.run.spec().eta).round()
                    ));
                }
            }
        }
    }

    /// The truncation face: fixed for top-k; for top-p/min-p it depends on T (listed per run
    /// under a T-overlay).
    fn truncation_notes(&self, notes: &mut Vec<String>) {
        let st = &self.state;
        match st.trunc {
            TruncMode::None => {}
            TruncMode::TopK => {
                notes.push(format!(
                "top-k keeps the same {}{} at every temperature; the flow stays on that face{}.",
                if self.support.len() == 1 {
                    "token".to_string()
                } else {
                    format!("{} tokens", self.support.len())
                },
                if st.k > self.v {
                    format!(" (k = {} is more than the {} tokens here: all of them)", st.k, self.v)
                } else {
                    String::new()
                },
                if st.adjust == AdjustMode::None {
                    " and C converges to the renormalised truncated softmax"
                } else {
                    ""
                }
            ))
            }
            TruncMode::TopP | TruncMode::MinP => {
                let set = if st.trunc == TruncMode::TopP {
                    "nucleus (top-p)"
                } else {
                    "min-p"
                };
                let count = format!(
                    "{} token{}",
                    self.support.len(),
                    if self.support.len() == 1 { "" } else { "s" }
                );
                notes.push(if st.order == TruncOrder::TruncationFirst {
                    // The set is chosen from softmax(s) before any temperature: T cannot move it.
                    format!("Truncation first: the {set} set is chosen from softmax(s) before temperature is applied, so it is the same at every T (here {count}).")
                } else {
                    format!("Temperature first: the {set} set is chosen from softmax(s/T), so it depends on T (here {count}): Flow A's exact time rescaling by T holds only between temperatures that give the same set.")
                });
                if let Some((OverlayParam::Temperature, _)) = &st.overlay {
                    for view in self.panels[0].runs.iter() {
                        let names: Vec<String> = view
                            .run
                            .spec()
                            .support
                            .iter()
                            .take(8)
                            .map(|&i| self.label(i))
                            .collect();
                        notes.push(format!("{}: face = {{{}}}", view.name, names.join(", ")));
                    }
                }
            }
        }
    }

    /// An antisymmetric W: the conservation theorem needs an interior rest point q (Flow A keeps
    /// Σ q_i log p_i constant only then), so the note is shown where the run found one, with the
    /// drift this run's numbers show; without one, what is known.
    fn antisymmetric_notes(&self, notes: &mut Vec<String>) {
        let replicator = self
            .panels
            .iter()
            .find(|p| p.flow == Flow::Replicator)
            .and_then(|p| p.runs.first());
        let Some(view) = replicator else {
            return;
        };
        let values: Vec<f64> = view
            .run
            .samples()
            .iter()
            .filter_map(|x| x.diag.conserved)
            .collect();
        if values.is_empty() {
            notes.push("W is antisymmetric, but the page found no interior rest point q (none exists, or the rest-point equations are singular): without one, Flow A has no conserved Σ q_i log p_i to show, and its orbits may converge to the boundary.".into());
            return;
        }
        let drift = values
            .iter()
            .map(|v| (v - values[0]).abs())
            .fold(0.0, f64::max);
        let shape = if self.v == 3 {
            "closed loops around q"
        } else {
            "orbits on its level sets, away from the boundary"
        };
        notes.push(format!(
            "W is antisymmetric with an interior rest point q: under Flow A, Σ q_i log p_i is conserved ({shape}, never converging unless they start at q); along this run it changed by at most {drift:.1e}."
        ));
    }

    /// Score adjustment, vector field and lumped view.
    fn view_notes(&self, notes: &mut Vec<String>) {
        let st = &self.state;
        let link_v = st.s.len();
        if self.whole.is_some() {
            let named = crate::whole::named_tokens(link_v, self.v);
            notes.push(format!(
                "All {} tokens of a real model's next-token distribution, kept in this browser by the energy lab (vocab={}). The link itself carries {}; opened in another browser it shows those.",
                self.v,
                st.vocab,
                if named < self.v {
                    format!("its {named} most probable tokens and the other {} lumped as one", self.v - named)
                } else {
                    "every token".to_string()
                }
            ));
        } else if let Some(reason) = &self.whole_unused {
            notes.push(format!(
                "This link names a real model's whole distribution (vocab={}), but {reason}: the flows run on the link's {link_v} tokens. To see every token, analyse the model in the energy lab and open its next-token link in that browser.",
                st.vocab
            ));
        }
        if st.adjust != AdjustMode::None {
            notes.push("Score adjustment is an illustrative stand-in (standard replicator models), not the paper's equation, which is not public in a form we could read.".into());
            if st.adjust == AdjustMode::Matrix && scores::is_antisymmetric(&st.w, self.v, 1e-12) {
                self.antisymmetric_notes(notes);
            }
        }
        if st.field && !self.field_is_defined() {
            notes.push(if self.v > 3 {
                "The vector field is drawn only for V ≤ 3: on the lumped view of a larger vocabulary the flow's direction depends on how 'other' is split, so no single arrow is right.".to_string()
            } else {
                "The vector field is not drawn for memory scores: their direction depends on the remembered past, not only on p.".to_string()
            });
        }
        if self.v > 3 {
            notes.push(format!(
                "V = {}: the plot shows the three corner tokens as outer vertices and lumps the other {} tokens into 'other', the inner vertex (the 3-simplex seen from above).",
                self.v,
                self.v - 3
            ));
        }
    }

    /// Numbers at the scrub position `at` (0..1) of the first run of a panel.
    pub fn sample_at(&self, panel: usize, run: usize, at: f64) -> Option<&Sample> {
        let samples = self.panels.get(panel)?.runs.get(run)?.run.samples();
        if samples.is_empty() {
            return None;
        }
        let index = ((samples.len() - 1) as f64 * at.clamp(0.0, 1.0)).round() as usize;
        samples.get(index.min(samples.len() - 1))
    }
}

/// The corner tokens: the link's, as tokens of the whole vocabulary when the scene runs on one
/// (the three most probable when one of the link's is the lumped token).
fn corners_in(state: &State, whole: Option<&Used>, s: &[f64]) -> [usize; 3] {
    let Some(w) = whole else {
        return params::effective_corners(state, s);
    };
    let mapped = state
        .corners
        .map(|c| c.map(|i| w.token_of_link(i, state.s.len())));
    match mapped {
        Some([Some(a), Some(b), Some(c)]) => [a, b, c],
        _ => params::effective_corners(&State::default(), s),
    }
}

/// Token i's label: the whole vocabulary's when the scene runs on one, else the link's.
fn label_in(state: &State, whole: Option<&Used>, index: usize) -> String {
    match whole.and_then(|w| w.vocabulary.labels.get(index)) {
        Some(l) if !l.is_empty() => l.clone(),
        Some(_) => format!("tok{index}"),
        None => params::label(state, index),
    }
}

/// The truncation rule the state asks for.
fn truncation_of(state: &State) -> Truncation {
    match state.trunc {
        TruncMode::None => Truncation::None,
        TruncMode::TopK => Truncation::TopK(state.k),
        TruncMode::TopP => Truncation::TopP(state.top_p),
        TruncMode::MinP => Truncation::MinP(state.min_p),
    }
}

/// The flows shown, one panel each.
fn flows_of(choice: FlowChoice) -> Vec<Flow> {
    match choice {
        FlowChoice::Replicator => vec![Flow::Replicator],
        FlowChoice::Mw => vec![Flow::MultiplicativeWeights],
        FlowChoice::Entropic => vec![Flow::Entropic],
        FlowChoice::EntropicMw => vec![Flow::EntropicMirror],
        FlowChoice::Compare => vec![Flow::Replicator, Flow::Entropic],
    }
}

/// The score adjustment (a matrix only when it fits the vocabulary).
fn adjust_of(state: &State, v: usize) -> Adjust {
    match state.adjust {
        AdjustMode::None => Adjust::None,
        AdjustMode::Matrix if v <= MAX_MATRIX_V && state.w.len() == v * v => {
            Adjust::Matrix { w: state.w.clone() }
        }
        AdjustMode::Matrix => Adjust::None,
        AdjustMode::Memory => Adjust::Memory {
            gamma: state.gamma,
            mu: state.mu,
        },
    }
}

/// What every run of a scene shares; makes the runs of each panel.
struct RunPlan<'a> {
    state: &'a State,
    s: &'a [f64],
    trunc: &'a Truncation,
    support: &'a [usize],
    adjust: Adjust,
    /// Start points as full distributions.
    starts: Vec<Vec<f64>>,
    samples: usize,
    corners: [usize; 3],
}

impl RunPlan<'_> {
    /// The runs of the panel `panel` of `flow`: one per overlay value, otherwise one per start.
    fn runs(&self, flow: Flow, panel: usize) -> Vec<PendingRun> {
        match &self.state.overlay {
            Some((param, values)) => values
                .iter()
                .enumerate()
                .map(|(index, &value)| self.overlay_run(flow, panel, *param, index, value))
                .collect(),
            None => self
                .starts
                .iter()
                .enumerate()
                .map(|(index, p0)| PendingRun {
                    panel,
                    spec: self.spec(
                        flow,
                        (self.state.temp, self.state.eta),
                        p0.clone(),
                        self.support.to_vec(),
                    ),
                    name: format!("start {}", index + 1),
                    colour: index,
                    temp: self.state.temp,
                    overlay_value: None,
                })
                .collect(),
        }
    }

    /// Overlay run number `index`, from the first start, with `param` set to `value`.
    fn overlay_run(
        &self,
        flow: Flow,
        panel: usize,
        param: OverlayParam,
        index: usize,
        value: f64,
    ) -> PendingRun {
        let state = self.state;
        let (temp, eta) = match param {
            OverlayParam::Temperature => (value, state.eta),
            OverlayParam::Eta => (state.temp, value),
        };
        // Under T-overlay the face of top-p/min-p is recomputed per temperature.
        let support_here = if param == OverlayParam::Temperature {
            truncation::support(self.s, temp, self.trunc, state.order)
        } else {
            self.support.to_vec()
        };
        let name = match param {
            OverlayParam::Temperature => {
                format!("T = {}", td_core::url::format_number(value))
            }
            OverlayParam::Eta => format!(
                "η = {} (ηT = {})",
                td_core::url::format_number(value),
                td_core::url::format_number(round_sig(value * state.temp))
            ),
        };
        PendingRun {
            panel,
            spec: self.spec(flow, (temp, eta), self.starts[0].clone(), support_here),
            name,
            colour: index,
            temp,
            overlay_value: Some(value),
        }
    }

    fn spec(
        &self,
        flow: Flow,
        (temp, eta): (f64, f64),
        p0: Vec<f64>,
        support: Vec<usize>,
    ) -> RunSpec {
        RunSpec {
            flow,
            s: self.s.to_vec(),
            temp,
            eta,
            kappa: self.state.kappa,
            horizon: self.state.horizon,
            p0,
            support,
            adjust: self.adjust.clone(),
            samples: self.samples,
            corners: self.corners,
        }
    }
}

/// Lumped change of a velocity vector.
fn lump_delta(vel: &[f64], corners: [usize; 3], v: usize) -> [f64; 4] {
    if v == 2 {
        return [vel[0], vel[1], 0.0, 0.0];
    }
    let a = vel[corners[0]];
    let b = vel[corners[1]];
    let c = vel[corners[2]];
    [a, b, c, -(a + b + c)]
}

/// A start point as a full distribution over V tokens.
pub fn start_distribution(start: &Start, corners: [usize; 3], v: usize) -> Vec<f64> {
    match start {
        Start::Uniform => vec![1.0 / v as f64; v],
        Start::Full(p) => {
            let total: f64 = p.iter().sum();
            p.iter().map(|x| x / total).collect()
        }
        Start::Corners(c) => {
            let mut p = vec![0.0; v];
            if v == 2 {
                let total = c[0] + c[1];
                if total <= 0.0 {
                    return vec![0.5, 0.5];
                }
                return vec![c[0] / total, c[1] / total];
            }
            let sum: f64 = c.iter().sum();
            if v == 3 || sum >= 1.0 {
                for (slot, &index) in corners.iter().enumerate() {
                    p[index] = c[slot] / sum;
                }
                return p;
            }
            let rest = (1.0 - sum) / (v - 3) as f64;
            p.iter_mut().for_each(|x| *x = rest);
            for (slot, &index) in corners.iter().enumerate() {
                p[index] = c[slot];
            }
            p
        }
    }
}

/// Rounds to 6 significant digits for display in notes.
pub fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return 0.0;
    }
    let digits = 6 - x.abs().log10().ceil() as i32;
    let factor = 10f64.powi(digits.clamp(-300, 300));
    (x * factor).round() / factor
}

/// The readout at the end of the horizon: for the first run of each panel. It borrows the
/// distributions from the scene (the page builds it at every paint, and at V = 50,257 copies
/// were a measurable part of a paint).
pub struct Readout<'a> {
    pub flow: Flow,
    pub t: f64,
    pub p: &'a [f64],
    pub free_energy: f64,
    pub entropy: f64,
    pub kl: f64,
    /// <p, s>, KL(target || p) (may be +inf), total-variation distance to the (face) target.
    pub expected_score: f64,
    pub kl_reverse: f64,
    pub distance: f64,
    pub conserved: Option<f64>,
    pub target: &'a [f64],
    pub support: &'a [usize],
}

impl Scene {
    pub fn readouts(&self) -> Vec<Readout<'_>> {
        self.panels
            .iter()
            .filter_map(|panel| {
                let view = panel.runs.first()?;
                let sample = view.run.samples().last()?;
                Some(Readout {
                    flow: panel.flow,
                    t: sample.t,
                    p: view.run.final_p(),
                    free_energy: sample.diag.free_energy,
                    entropy: sample.diag.entropy,
                    kl: sample.diag.kl_to_target,
                    expected_score: sample.diag.expected_score,
                    kl_reverse: sample.diag.kl_from_target,
                    distance: sample.diag.dist_to_face_target,
                    conserved: sample.diag.conserved,
                    target: view.run.target(),
                    support: &view.run.spec().support,
                })
            })
            .collect()
    }

    /// A one-paragraph text summary for screen readers.
    pub fn summary(&self) -> String {
        let st = &self.state;
        let mut text = format!(
            "{} tokens at temperature {}. ",
            self.v,
            td_core::url::format_number(st.temp)
        );
        for r in self.readouts() {
            let parts: Vec<String> = td_core::rank::top_indices(r.p, 3)
                .iter()
                .take(3)
                .map(|&i| format!("{} {:.3}", self.label(i), r.p[i]))
                .collect();
            text.push_str(&format!(
                "Flow {} at t = {}: {}; free energy {:.4}, entropy {:.4}, KL to target {:.4}. ",
                flow_name(r.flow),
                td_core::url::format_number(round_sig(r.t)),
                parts.join(", "),
                r.free_energy,
                r.entropy,
                // KL >= 0: a rounding residue below zero read "-0.0000".
                r.kl.max(0.0)
            ));
        }
        text
    }
}

// ---------------------------------------------------------------- computed in a worker

fn write_sample(w: &mut Writer, s: &Sample) {
    w.f64(s.t);
    for x in s.lumped {
        w.f64(x);
    }
    let d = &s.diag;
    w.f64(d.expected_score)
        .f64(d.entropy)
        .f64(d.free_energy)
        .f64(d.kl_to_target)
        .f64(d.kl_from_target)
        .f64(d.dist_to_face_target)
        .opt_f64(d.conserved);
}

fn read_sample(r: &mut Reader) -> codec::Result<Sample> {
    let t = r.f64()?;
    let mut lumped = [0.0; 4];
    for x in &mut lumped {
        *x = r.f64()?;
    }
    Ok(Sample {
        t,
        lumped,
        diag: Diagnostics {
            expected_score: r.f64()?,
            entropy: r.f64()?,
            free_energy: r.f64()?,
            kl_to_target: r.f64()?,
            kl_from_target: r.f64()?,
            dist_to_face_target: r.f64()?,
            conserved: r.opt_f64()?,
        },
    })
}

impl Scene {
    /// Everything computed since the last call, for the page's copy of this scene (a worker
    /// computes; the page paints). `shipped` remembers what was sent: the field flag, then the
    /// samples sent per run.
    pub fn progress_since(&self, shipped: &mut Vec<usize>) -> Vec<u8> {
        let mut w = Writer::new();
        // Several workers: part 0 computes and ships the field.
        let send_field = !self.field_pending
            && !matches!(
                self.shard,
                Some(Shard::Runs { part: 1.., .. } | Shard::Samples { part: 1.., .. })
            )
            && shipped.first() != Some(&1);
        if shipped.is_empty() {
            shipped.push(0);
        }
        w.bool(send_field);
        if send_field {
            shipped[0] = 1;
            for panel in &self.panels {
                w.f64(panel.max_speed).usize(panel.field.len());
                for a in &panel.field {
                    for x in a.at.iter().chain(&a.dir) {
                        w.f64(*x);
                    }
                    w.f64(a.speed);
                }
            }
        }
        // Which range of samples this is (one trajectory in parts), then only this worker's
        // runs, each with its index (in panel order).
        let (part, parts) = match self.shard {
            Some(Shard::Samples { part, parts }) => (part, parts),
            _ => (0, 1),
        };
        w.usize(part).usize(parts);
        let runs: Vec<(usize, &RunView)> = self
            .panels
            .iter()
            .flat_map(|p| &p.runs)
            .enumerate()
            .filter(|(i, _)| owns_run(self.shard, *i))
            .collect();
        w.usize(runs.len());
        for &(i, view) in &runs {
            while shipped.len() <= i + 1 {
                shipped.push(0);
            }
            w.usize(i);
            let progress = view.run.progress_since(shipped[i + 1]);
            shipped[i + 1] += progress.samples.len();
            w.usize(progress.samples.len());
            for s in &progress.samples {
                write_sample(&mut w, s);
            }
            w.usize(progress.next).bool(progress.finished);
            w.bool(progress.final_p.is_some());
            if let Some(p) = &progress.final_p {
                w.f64s(p);
            }
            w.opt_f64(progress.diverged_at);
        }
        // Several workers: the page draws the notes from all parts (`finish_shards`).
        let done = self.is_done() && self.shard.is_none();
        w.bool(done);
        if done {
            w.usize(self.notes.len());
            for note in &self.notes {
                w.str(note);
            }
        }
        w.into_bytes()
    }

    /// Takes over what [`Scene::progress_since`] sent from a worker's copy of the same scene.
    pub fn apply_progress(&mut self, bytes: &[u8]) -> codec::Result<()> {
        let mut r = Reader::new(bytes);
        if r.bool()? {
            for panel in &mut self.panels {
                panel.max_speed = r.f64()?;
                let n = r.usize()?;
                let mut field = Vec::with_capacity(n.min(1 << 16));
                for _ in 0..n {
                    let mut v = [0.0; 9];
                    for x in &mut v {
                        *x = r.f64()?;
                    }
                    field.push(FieldArrow {
                        at: [v[0], v[1], v[2], v[3]],
                        dir: [v[4], v[5], v[6], v[7]],
                        speed: v[8],
                    });
                }
                panel.field = field;
            }
            self.field_pending = false;
        }
        let (part, parts) = (r.usize()?, r.usize()?);
        if part >= parts || parts > SAMPLE_PARTS.max(1) {
            return Err(codec::CodecError(format!("part {part} of {parts}")));
        }
        let shipped_runs = r.usize()?;
        for _ in 0..shipped_runs {
            let index = r.usize()?;
            while self.panels.iter().map(|p| p.runs.len()).sum::<usize>() <= index {
                if !self.start_next_run() {
                    return Err(codec::CodecError("more runs than the scene has".into()));
                }
            }
            let view = self
                .panels
                .iter_mut()
                .flat_map(|p| &mut p.runs)
                .nth(index)
                .ok_or_else(|| codec::CodecError("a run index out of range".into()))?;
            let count = r.usize()?;
            let samples = (0..count)
                .map(|_| read_sample(&mut r))
                .collect::<codec::Result<Vec<_>>>()?;
            let next = r.usize()?;
            let finished = r.bool()?;
            let final_p = if r.bool()? { Some(r.f64s()?) } else { None };
            let diverged_at = r.opt_f64()?;
            let progress = RunProgress {
                samples,
                next,
                finished,
                final_p,
                diverged_at,
            };
            if parts == 1 {
                view.run.absorb(progress);
            } else {
                merge_part(
                    &mut view.run,
                    (&mut self.held_parts, &mut self.next_part),
                    (part, parts),
                    progress,
                );
            }
        }
        if r.bool()? {
            let n = r.usize()?;
            self.notes = (0..n).map(|_| r.string()).collect::<codec::Result<_>>()?;
        }
        Ok(())
    }
}

/// Whether a worker computing part `shard` (None: the whole scene) computes run `index`.
fn owns_run(shard: Option<Shard>, index: usize) -> bool {
    match shard {
        Some(Shard::Runs { part, parts }) => index % parts == part,
        _ => true,
    }
}

/// Page side: progress of part `part` of `parts` of a trajectory computed in ranges of samples.
/// The run takes over the parts in order: a part's samples once every earlier part has finished;
/// finished and the final distribution from the last part only.
fn merge_part(
    run: &mut Run,
    (held, next_part): (&mut Vec<Option<RunProgress>>, &mut usize),
    (part, parts): (usize, usize),
    progress: RunProgress,
) {
    if held.len() != parts {
        *held = (0..parts).map(|_| None).collect();
        *next_part = 0;
    }
    match &mut held[part] {
        Some(h) => {
            h.samples.extend(progress.samples);
            h.next = progress.next;
            h.finished = progress.finished;
            h.final_p = progress.final_p;
            h.diverged_at = progress.diverged_at;
        }
        slot => *slot = Some(progress),
    }
    while *next_part < parts {
        let last = *next_part + 1 == parts;
        let Some(h) = held[*next_part].as_mut() else {
            break;
        };
        let part_done = h.finished;
        run.absorb(RunProgress {
            samples: std::mem::take(&mut h.samples),
            next: h.next,
            finished: last && part_done,
            final_p: if last { h.final_p.take() } else { None },
            diverged_at: h.diverged_at,
        });
        if !part_done || last {
            break;
        }
        *next_part += 1;
    }
}
