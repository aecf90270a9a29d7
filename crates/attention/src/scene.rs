//! Everything the attention explorer shows, computed from a [`State`]: one [`Run`] per rule (three
//! in compare mode), what the token colours mean once a run is finished (quiescent sets), the
//! plain-language notes, the screen-reader summary and the readout.
//!
//! Work is incremental ([`Scene::advance`]) so the page can spread n = 2,000 × 200 steps over many
//! animation frames and draw what exists meanwhile.

use super::params::{RuleChoice, ScheduleChoice, State};
use serde::Serialize;
use td_core::codec::{self, Reader, Writer};
use td_core::export::to_json;
use td_core::url::format_number;
use td_particles::pca::Pca;
use td_particles::sphere::SphereDiag;
use td_particles::sphere::Time;
use td_particles::{
    hull, matrices, Margin, Quiescent, Rule, Run, RunProgress, StateDiag, StepDiag,
};

/// Most notes shown at once.
pub const MAX_NOTES: usize = 8;

/// What the quiescent-set colouring says about a token once its run is finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// In minimal quiescent set number `s` (index into `Quiescent::sets`).
    Member(usize),
    /// Not in a minimal set, but at the last step it attends (directly or through other such
    /// tokens) into set `s` only.
    Feeds(usize),
    /// Neither (attends into several sets, or the run is not finished).
    Other,
}

/// One particle panel: a rule and its run.
pub struct Panel {
    pub rule: RuleChoice,
    /// The geometry's name when several are shown side by side ("R^d", "sphere", "sphere SA", …).
    pub label: Option<&'static str>,
    /// Index of the geometry (0 when there is one).
    pub slot: usize,
    /// Rule name with its neighbourhood rule, shortened (the full line is `describe`).
    pub title: String,
    /// The core's one-line description of the active neighbourhood rule.
    pub describe: &'static str,
    pub run: Run,
}

/// Results computed once, when a panel's run is finished.
struct PanelCache {
    quiescent: Quiescent,
    membership: Vec<Membership>,
    max_distance_to_final: Vec<f64>,
    /// Hardmax with A symmetric PSD: per token the Frank-Wolfe straight-line check.
    straight_line: Option<Vec<Option<(usize, f64)>>>,
}

pub struct Scene {
    pub state: State,
    pub panels: Vec<Panel>,
    /// Per panel: ρ(k·h) of the equiangular equation (GLPR Thm 6.8) where it governs the run
    /// (an equiangular start on the sphere, softmax, A = V = I, continuous time).
    equiangular: Vec<Option<Vec<f64>>>,
    pub notes: Vec<String>,
    x0: Vec<f64>,
    a: Vec<f64>,
    psd: bool,
    pca: Option<Pca>,
    /// One per panel once every run is finished; empty before.
    cache: Vec<PanelCache>,
    /// Set when the runs could not be created.
    error: Option<String>,
}

impl Panel {
    /// How notes, the readout and exports name this panel: its geometry when several are shown,
    /// else its rule.
    pub fn key(&self) -> &'static str {
        self.label.unwrap_or(rule_key(self.rule))
    }
}

/// The link's name of a rule.
pub fn rule_key(rule: RuleChoice) -> &'static str {
    match rule {
        RuleChoice::Softmax => "softmax",
        RuleChoice::Hardmax => "hardmax",
        RuleChoice::Localmax => "localmax",
        RuleChoice::Compare => "compare",
    }
}

fn short(x: f64) -> String {
    format_number(round_sig(x, 4))
}

pub use super::params::round_sig;

/// The delta schedule in words, e.g. "δ = 0.1" or "δ(k) = 0.5/(1+k)^1".
pub fn schedule_text(state: &State) -> String {
    match state.schedule {
        ScheduleChoice::Constant => format!("δ = {}", short(state.delta)),
        ScheduleChoice::Vanishing => {
            format!("δ(k) = {}/(1+k)^{}", short(state.delta), short(state.q))
        }
        ScheduleChoice::Geometric => format!("δ(k) = {}·{}^k", short(state.delta), short(state.r)),
        ScheduleChoice::Piecewise => {
            let pieces: Vec<String> = state
                .pieces
                .iter()
                .take(3)
                .map(|(k, d)| format!("{k}:{}", short(*d)))
                .collect();
            let more = if state.pieces.len() > 3 { ",…" } else { "" };
            format!("δ piecewise {}{more}", pieces.join(","))
        }
    }
}

/// Panel title: the rule's name and its neighbourhood rule, shortened.
pub fn panel_title(choice: RuleChoice, rule: &Rule, state: &State) -> String {
    match rule {
        Rule::Softmax { beta } => format!("softmax · w ∝ exp(β<Ax_i,x_j>), β = {}", short(*beta)),
        Rule::Hardmax => "hardmax · uniform over argmax_j <Ax_i,x_j>".to_string(),
        Rule::Localmax { margin, .. } => {
            let m = match margin {
                Margin::Additive => "<Ax_i,x_j> ≥ max − δ",
                Margin::Multiplicative => "<Ax_i,x_j> ≥ (1−δ)·max",
            };
            let _ = choice;
            format!("localmax (stand-in) · {m}, {}", schedule_text(state))
        }
    }
}

fn vertices(count: usize) -> String {
    if count == 1 {
        "1 vertex".to_string()
    } else {
        format!("{count} vertices")
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

impl Scene {
    /// Builds the runs (nothing is stepped yet). Never panics: if a run cannot be created, the
    /// scene has no panels and a note says why.
    pub fn new(state: State) -> Scene {
        let mut x0 = state.initial_points();
        let d = state.d.max(1);
        if state.on_sphere() && x0.len() >= d {
            // What the runs start from (they normalise the same way).
            td_particles::sphere::normalise_rows(&mut x0, d);
        }
        let a = state.matrix_entries();
        let psd = a.len() == d * d && matrices::is_symmetric_psd(&a, d, 1e-9);
        let pca = (d > 3 && x0.len() >= d).then(|| Pca::fit(&x0, d, 3));
        let mut panels = Vec::new();
        let mut error = None;
        let variants = state.variants();
        'runs: for (choice, rule) in state.rules() {
            for (slot, variant) in variants.iter().enumerate() {
                let title = match variant.label {
                    Some(label) => format!("{label} · {}", panel_title(choice, &rule, &state)),
                    None => panel_title(choice, &rule, &state),
                };
                let describe = rule.describe();
                match Run::new(state.spec_in(rule.clone(), variant)) {
                    Ok(run) => panels.push(Panel {
                        rule: choice,
                        label: variant.label,
                        slot,
                        title,
                        describe,
                        run,
                    }),
                    Err(message) => {
                        error = Some(format!(
                            "{}: the run cannot start: {message}",
                            rule_key(choice)
                        ));
                        panels.clear();
                        break 'runs;
                    }
                }
            }
        }
        let equiangular = panels
            .iter()
            .map(|p| equiangular_curve(&state, &p.run))
            .collect();
        let mut scene = Scene {
            state,
            panels,
            equiangular,
            notes: Vec::new(),
            x0,
            a,
            psd,
            pca,
            cache: Vec::new(),
            error,
        };
        if scene.is_done() {
            scene.finish();
        } else {
            scene.notes = scene.compute_notes();
        }
        scene
    }

    /// Advances every panel by up to `max_steps` steps (at least one where any remain). Returns
    /// true when all runs are finished; the notes are refreshed then.
    pub fn advance(&mut self, max_steps: usize) -> bool {
        if self.is_done() {
            if self.cache.len() != self.panels.len() {
                self.finish();
            }
            return true;
        }
        for panel in &mut self.panels {
            if !panel.run.finished() {
                panel.run.advance(max_steps);
            }
        }
        if self.is_done() {
            self.finish();
            true
        } else {
            false
        }
    }

    pub fn is_done(&self) -> bool {
        self.panels.iter().all(|p| p.run.finished())
    }

    /// Fraction computed, 0..1.
    pub fn progress(&self) -> f64 {
        if self.panels.is_empty() {
            return 1.0;
        }
        let total: f64 = self.panels.iter().map(|p| p.run.progress()).sum();
        (total / self.panels.len() as f64).clamp(0.0, 1.0)
    }

    /// Approximate multiply-adds of one step of every run (for chunking decisions).
    pub fn work_per_step(&self) -> f64 {
        self.panels.iter().map(|p| p.run.cost_per_step()).sum()
    }

    pub fn total_steps(&self) -> usize {
        self.state.steps
    }

    /// Steps computed by every run (the smallest over the panels).
    pub fn computed_steps(&self) -> usize {
        self.panels
            .iter()
            .map(|p| p.run.computed_steps())
            .min()
            .unwrap_or(0)
    }

    /// The step shown at scrub position `at` (0..1): round(at·steps), clamped to what is computed.
    pub fn step_at(&self, at: f64) -> usize {
        let at = if at.is_nan() { 1.0 } else { at.clamp(0.0, 1.0) };
        let k = (at * self.state.steps as f64).round() as usize;
        k.min(self.state.steps).min(self.computed_steps())
    }

    /// Initial points (row-major n×d), shared by every panel.
    pub fn initial_points(&self) -> &[f64] {
        &self.x0
    }

    /// The key-query matrix A (row-major d×d).
    pub fn matrix(&self) -> &[f64] {
        &self.a
    }

    /// A is symmetric positive semidefinite (dominance cells are exact for hardmax then).
    pub fn is_psd(&self) -> bool {
        self.psd
    }

    /// The PCA used to draw d > 3 (fitted once on the initial points, 3 components).
    pub fn pca(&self) -> Option<&Pca> {
        self.pca.as_ref()
    }

    /// ρ(k·h) of the equiangular equation for a panel, where it governs the run.
    pub fn equiangular(&self, panel: usize) -> Option<&[f64]> {
        self.equiangular.get(panel).and_then(|e| e.as_deref())
    }

    /// Why there are no panels, if so.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Quiescent sets of a panel (available once the scene is done).
    pub fn quiescent(&self, panel: usize) -> Option<&Quiescent> {
        self.cache.get(panel).map(|c| &c.quiescent)
    }

    /// Per-token membership of the quiescent sets (available once the scene is done).
    pub fn membership(&self, panel: usize) -> Option<&[Membership]> {
        self.cache.get(panel).map(|c| c.membership.as_slice())
    }

    /// max_i |x_i(k) − x_i(K)| for k = 0..=K (available once the scene is done).
    pub fn max_distance_to_final(&self, panel: usize) -> Option<&[f64]> {
        self.cache
            .get(panel)
            .map(|c| c.max_distance_to_final.as_slice())
    }

    /// Hardmax with A symmetric PSD: per token (dominance-cell target, max residual).
    pub fn straight_line(&self, panel: usize) -> Option<&[Option<(usize, f64)>]> {
        self.cache
            .get(panel)
            .and_then(|c| c.straight_line.as_deref())
    }

    fn finish(&mut self) {
        self.cache = self
            .panels
            .iter()
            .map(|panel| panel_cache(panel, self.psd))
            .collect();
        self.notes = self.compute_notes();
    }

    /// Notes: the rule descriptions, then what the diagnostics show (at most [`MAX_NOTES`]).
    fn compute_notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = Vec::new();
        if let Some(error) = &self.error {
            notes.push(error.clone());
            return notes;
        }
        let compare = self.panels.len() > 1;
        let prefix = |panel: &Panel| {
            if compare {
                format!("{}: ", panel.key())
            } else {
                String::new()
            }
        };
        let sphere = self.state.sphere();
        notes.extend(self.sphere_descriptions());
        // On the sphere in compare mode the panel titles name the rules: the notes keep room for
        // what each run measured.
        if sphere.is_none() || !compare {
            for panel in &self.panels {
                notes.push(panel.describe.to_string());
            }
        }
        let done = self.cache.len() == self.panels.len() && !self.panels.is_empty();
        if sphere.is_some() {
            notes.extend(self.sphere_notes(done, &prefix));
            notes.truncate(MAX_NOTES);
            return notes;
        }
        let mut leaders = Vec::new();
        let mut polytope = Vec::new();
        let mut convergence = Vec::new();
        let mut deltas = Vec::new();
        let mut margins = Vec::new();
        let mut lines = Vec::new();
        let mut asymmetry = Vec::new();
        for (index, panel) in self.panels.iter().enumerate() {
            let p = prefix(panel);
            let run = &panel.run;
            if panel.rule == RuleChoice::Localmax {
                if let Some(text) = delta_note(&self.state, run) {
                    deltas.push(format!("{p}{text}"));
                }
            }
            if !done {
                continue;
            }
            let cache = &self.cache[index];
            if panel.rule != RuleChoice::Softmax {
                if let Some(text) = leaders_note(run) {
                    leaders.push(format!("{p}{text}"));
                }
            }
            polytope.push(format!("{p}{}", polytope_note(run, &cache.quiescent)));
            if let Some(text) = convergence_note(run) {
                convergence.push(format!("{p}{text}"));
            }
            if let Some(text) = margin_note(run) {
                margins.push(format!("{p}{text}"));
            }
            if let Some(checks) = &cache.straight_line {
                lines.push(format!("{p}{}", straight_line_note(run, checks)));
            }
            if let Some(text) = asymmetry_note(run) {
                asymmetry.push(format!("{p}{text}"));
            }
        }
        let mut view = Vec::new();
        if self.state.cells {
            if self.state.d != 2 {
                view.push("dominance cells are drawn only for d = 2".to_string());
            } else if !self.psd {
                view.push(
                    "dominance cells are exact only for A positive semidefinite (this A is not)"
                        .to_string(),
                );
            }
        }
        if let Some(pca) = &self.pca {
            view.push(format!(
                "d = {}: drawn in the first 3 principal components of the initial points ({} of the variance)",
                self.state.d,
                percent(pca_share(pca, &self.x0, self.state.d))
            ));
        }
        for group in [
            leaders,
            polytope,
            convergence,
            deltas,
            margins,
            lines,
            view,
            asymmetry,
        ] {
            notes.extend(group);
        }
        notes.truncate(MAX_NOTES);
        notes
    }

    /// One line per sphere geometry naming its model and discretisation.
    fn sphere_descriptions(&self) -> Vec<String> {
        self.state
            .variants()
            .into_iter()
            .filter_map(|v| {
                let text = v.sphere?.describe();
                Some(match v.label {
                    Some(label) => format!("{label}: {text}"),
                    None => text,
                })
            })
            .collect()
    }

    /// Notes of the sphere model: the theorems whose hypotheses this setting meets, and what the
    /// run measured (energy monotonicity, time to one cluster, plateaus, integrator trouble).
    fn sphere_notes(&self, done: bool, prefix: &dyn Fn(&Panel) -> String) -> Vec<String> {
        let st = &self.state;
        let mut notes = Vec::new();
        let Some(first) = self.panels.first() else {
            return notes;
        };
        if first.run.zero_tokens() > 0 {
            notes.push(format!(
                "{} at the origin had no direction and start at e_1",
                plural(first.run.zero_tokens(), "start point")
            ));
        }
        let n = first.run.n();
        for (index, panel) in self.panels.iter().enumerate() {
            let p = prefix(panel);
            let run = &panel.run;
            let spec = run.spec();
            let Some(sph) = spec.sphere.as_ref() else {
                // The R^d panel beside the sphere: what its run measured.
                if done {
                    notes.push(format!("{p}{}", cluster_note(run, st.tol)));
                }
                continue;
            };
            let gradient_flow = matches!(sph.time, Time::Ode { .. })
                && is_identity(&spec.a, st.d)
                && is_identity(&sph.value, st.d)
                && matches!(spec.rule, Rule::Softmax { .. });
            // One line per run (theorems, integrator trouble, energy, clusters, plateau): three
            // geometries side by side must not push a run's measurements past MAX_NOTES.
            let mut line = Vec::new();
            if gradient_flow && st.d >= 3 {
                line.push("theorem (arXiv 2312.10794, Thm 6.1): for d ≥ 3, every β ≥ 0 and almost every start, all tokens converge to one point as t → ∞ (self-attention and unnormalised, Q = K = V = I)".to_string());
            } else if gradient_flow && st.d == 2 && st.beta <= 1.0 && n >= 2 {
                line.push("theorem (arXiv 2312.10794, Thm 4.3): on the circle with β ≤ 1, almost every start converges to one point as t → ∞ (Q = K = V = I)".to_string());
            }
            if gradient_flow && st.beta > 0.0 && in_open_hemisphere(&self.x0, st.d) {
                line.push("the start lies in an open hemisphere (every token has a positive inner product with their mean): the tokens then converge to one point exponentially fast (arXiv 2312.10794, Lemma 6.4, β > 0, Q = K = V = I)".to_string());
            }
            let forced: usize = run.step_diags().iter().map(|s| s.forced).sum();
            if forced > 0 {
                line.push(format!(
                    "the integrator accepted {} above its tolerance at the shortest sub-step ({}): the trajectory is not accurate to the tolerance there",
                    plural(forced, "sub-step"),
                    if matches!(panel.rule, RuleChoice::Softmax) {
                        "the unnormalised model is stiff at large β; try self-attention or a smaller h"
                    } else {
                        "hardmax and localmax make the field jump"
                    }
                ));
            }
            if done {
                if let Some(rho) = self.equiangular(index) {
                    line.push(format!(
                        "equiangular start: every pairwise inner product stayed within {} of ρ(t) from the scalar equation of arXiv 2312.10794 Thm 6.8 (Rigollet 2512.01868 §6.1), drawn dashed with the smallest inner product dotted",
                        format_number(round_sig(equiangular_gap(run, rho), 2))
                    ));
                }
                line.push(energy_note(run, gradient_flow));
                line.push(cluster_note(run, st.tol));
                line.extend(plateau_note(run));
            }
            if !line.is_empty() {
                notes.push(format!("{p}{}", line.join("; ")));
            }
        }
        notes
    }

    /// A one-paragraph plain-text summary (for screen readers).
    pub fn summary(&self) -> String {
        let st = &self.state;
        if let Some(error) = &self.error {
            return format!("Attention particles: nothing to show. {error}.");
        }
        let n = self.panels.first().map_or(0, |p| p.run.n());
        let k = self.step_at(st.at);
        let mut text = match st.sphere().filter(|_| st.only_sphere()) {
            None if st.on_sphere() => format!(
                "Attention particles in {} dimension{}: {}, {} steps, R^d and the unit sphere side by side from the same start. Showing step {k} of {}.",
                st.d,
                if st.d == 1 { "" } else { "s" },
                plural(n, "token"),
                st.steps,
                st.steps
            ),
            None => format!(
                "Attention particles: {} in {} dimension{}, {} steps, step size gamma = {}. Showing step {k} of {}.",
                plural(n, "token"),
                st.d,
                if st.d == 1 { "" } else { "s" },
                st.steps,
                short(st.alpha / (1.0 + st.alpha)),
                st.steps
            ),
            Some(sph) => format!(
                "Attention particles on the unit sphere in {} dimension{}: {}, {} states {} time units apart. Showing step {k} of {} (t = {}).",
                st.d,
                if st.d == 1 { "" } else { "s" },
                plural(n, "token"),
                st.steps,
                short(sph.time.h()),
                st.steps,
                short(k as f64 * sph.time.h())
            ),
        };
        if !self.is_done() {
            text.push_str(&format!(
                " Computing: {}% done.",
                (self.progress() * 100.0).floor()
            ));
        }
        for (index, panel) in self.panels.iter().enumerate() {
            let run = &panel.run;
            let diags = run.state_diags();
            let (Some(d0), Some(dk)) = (diags.first(), diags.get(k)) else {
                // Not measured yet (a worker's first progress brings them).
                continue;
            };
            let (d0, dk) = (d0.diameter, dk.diameter);
            text.push_str(&format!(
                " {}: hull diameter {} at step {k} (from {}), {}",
                panel.key(),
                short(dk),
                short(d0),
                plural(diags.get(k).map_or(0, |s| s.clusters), "cluster")
            ));
            if let Some(q) = self.quiescent(index) {
                text.push_str(&format!(
                    ", {} (working definition) from step {}",
                    plural(q.sets.len(), "quiescent set"),
                    q.from
                ));
            }
            if let Some(sd) = diags.get(k).and_then(|s| s.sphere) {
                text.push_str(&format!(
                    ", energy {} and smallest inner product {} at step {k}",
                    short(sd.energy),
                    short(sd.min_inner)
                ));
            }
            let graph_step = k.min(run.computed_steps().saturating_sub(1));
            if run.computed_steps() > 0 {
                text.push_str(&format!(
                    ", {} at step {graph_step}",
                    plural(run.leaders(graph_step).len(), "leader")
                ));
            }
            text.push('.');
        }
        text
    }

    /// The readout as a JSON object (see `docs`: per panel positions, hull, diameters, clusters,
    /// leaders, quiescent sets, asymmetry, delta, margin reports, straight-line check).
    pub fn readout_json(&self) -> String {
        to_json(&self.readout())
    }

    /// The readout ([`Scene::readout_json`]) as a serialisable value (the JSON export embeds it).
    pub fn readout(&self) -> ReadoutJson<'_> {
        ReadoutJson {
            explorer: super::params::EXPLORER,
            done: self.is_done(),
            progress: self.progress(),
            step: self.step_at(self.state.at),
            steps: self.state.steps,
            panels: self
                .panels
                .iter()
                .enumerate()
                .map(|(index, panel)| self.panel_json(index, panel))
                .collect(),
            notes: &self.notes,
        }
    }

    fn panel_json<'a>(&'a self, index: usize, panel: &'a Panel) -> PanelJson<'a> {
        let run = &panel.run;
        let (n, d) = (run.n(), run.spec().d);
        let big_k = run.computed_steps();
        let hull = match d {
            1 => Some(hull_1d(run.final_positions())),
            2 => run.hull_2d(big_k),
            3 => run.extreme_points_3d(big_k),
            _ => None,
        };
        let diags = run.state_diags();
        let steps = run.step_diags();
        let graph_step = big_k.checked_sub(1);
        let q = match self.quiescent(index) {
            Some(q) => q.clone(),
            None => run.quiescent(),
        };
        PanelJson {
            rule: rule_key(panel.rule),
            geometry: panel.label,
            title: &panel.title,
            describe: panel.describe,
            n,
            d,
            steps: big_k,
            finished: run.finished(),
            gamma: run.gamma(),
            final_positions: run.final_positions().chunks_exact(d).collect(),
            hull_vertices: hull,
            diameter: diags.iter().map(|s| s.diameter).collect(),
            area: (d == 2).then(|| diags.iter().map(|s| s.area).collect()),
            max_distance_to_final: match self.max_distance_to_final(index) {
                Some(v) => v.to_vec(),
                None => run.max_distance_to_final(),
            },
            clusters: group_labels(&run.cluster_labels(big_k)),
            cluster_count: diags.iter().map(|s| s.clusters).collect(),
            leaders: graph_step.map(|k| run.leaders(k)).unwrap_or_default(),
            fixed_leaders: graph_step.map(|k| run.fixed_leaders(k)).unwrap_or_default(),
            quiescent: QuiescentJson {
                from: q.from,
                steps: q.steps,
                sets: q.sets,
                definition: QUIESCENT_DEFINITION,
            },
            asymmetry: steps.iter().map(|s| s.asymmetry).collect(),
            delta: (!matches!(run.spec().rule, Rule::Softmax { .. }))
                .then(|| steps.iter().map(|s| s.delta).collect()),
            margin_undefined: steps.iter().map(|s| s.margin_undefined).collect(),
            straight_line: self.straight_line(index).map(|checks| StraightLineJson {
                target: checks.iter().map(|c| c.map(|(t, _)| t)).collect(),
                residual: checks.iter().map(|c| c.map(|(_, r)| r)).collect(),
            }),
            sphere: run.spec().sphere.as_ref().map(|sph| SphereJson {
                model: sph.describe(),
                h: sph.time.h(),
                energy_beta: sph.energy_beta,
                energy: diags
                    .iter()
                    .map(|s| s.sphere.map_or(f64::NAN, |x| x.energy))
                    .collect(),
                min_inner: diags
                    .iter()
                    .map(|s| s.sphere.map_or(f64::NAN, |x| x.min_inner))
                    .collect(),
                substeps: steps.iter().map(|s| s.substeps).collect(),
                forced: steps.iter().map(|s| s.forced).sum(),
                one_cluster_from: one_cluster_from(run).map(|k| k as f64 * sph.time.h()),
            }),
        }
    }
}

/// What [`Scene::readout_json`] writes, field by field in this order.
#[derive(Serialize)]
pub struct ReadoutJson<'a> {
    explorer: &'static str,
    done: bool,
    progress: f64,
    step: usize,
    steps: usize,
    panels: Vec<PanelJson<'a>>,
    notes: &'a [String],
}

/// One panel of the readout. Missing values (`None`, non-finite numbers) are `null`.
#[derive(Serialize)]
struct PanelJson<'a> {
    rule: &'static str,
    /// The geometry's name when several are shown side by side, else `null`.
    geometry: Option<&'static str>,
    title: &'a str,
    describe: &'static str,
    n: usize,
    d: usize,
    /// Steps computed.
    steps: usize,
    finished: bool,
    gamma: f64,
    /// One row of d coordinates per token.
    final_positions: Vec<&'a [f64]>,
    hull_vertices: Option<Vec<usize>>,
    diameter: Vec<f64>,
    /// Per state (d = 2 only, else `null`).
    area: Option<Vec<Option<f64>>>,
    max_distance_to_final: Vec<f64>,
    /// Token indices per cluster at the last computed state.
    clusters: Vec<Vec<usize>>,
    cluster_count: Vec<usize>,
    leaders: Vec<usize>,
    fixed_leaders: Vec<usize>,
    quiescent: QuiescentJson,
    asymmetry: Vec<usize>,
    /// Per step; `null` for softmax.
    delta: Option<Vec<Option<f64>>>,
    margin_undefined: Vec<usize>,
    straight_line: Option<StraightLineJson>,
    /// On the sphere (norm=sphere), else `null`.
    sphere: Option<SphereJson>,
}

/// The sphere model's series: state k is at time k·h.
#[derive(Serialize)]
struct SphereJson {
    model: String,
    h: f64,
    /// beta of the energy.
    energy_beta: f64,
    /// Per state: (1/beta)·ln(2·beta·E_beta) (the mean inner product at beta = 0).
    energy: Vec<f64>,
    /// Per state: the smallest pairwise inner product.
    min_inner: Vec<f64>,
    /// Per step: the integrator's accepted sub-steps.
    substeps: Vec<usize>,
    /// Sub-steps accepted above the tolerance, in all.
    forced: usize,
    /// The time from which the run had one cluster to its end (`null` if it did not end in one).
    one_cluster_from: Option<f64>,
}

#[derive(Serialize)]
struct QuiescentJson {
    from: usize,
    steps: usize,
    sets: Vec<Vec<usize>>,
    definition: &'static str,
}

/// Hardmax with A symmetric PSD: per token the Frank-Wolfe straight-line check.
#[derive(Serialize)]
struct StraightLineJson {
    target: Vec<Option<usize>>,
    residual: Vec<Option<f64>>,
}

/// Shown wherever quiescent sets are reported.
pub const QUIESCENT_DEFINITION: &str = "working definition (not the paper's): a set Q is quiescent from step k0 if N_i(k) ⊆ Q for every i in Q and every step k0 ≤ k < K of the simulated window; listed are the minimal ones (sink components of the union of the attention graphs)";

/// Token indices grouped by label (labels 0, 1, … in order).
pub fn group_labels(labels: &[usize]) -> Vec<Vec<usize>> {
    let count = labels.iter().map(|&l| l + 1).max().unwrap_or(0);
    let mut groups = vec![Vec::new(); count];
    for (i, &l) in labels.iter().enumerate() {
        groups[l].push(i);
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// d = 1: the tokens at the two ends of the interval (one if all coincide).
pub fn hull_1d(x: &[f64]) -> Vec<usize> {
    if x.is_empty() {
        return Vec::new();
    }
    let mut lo = 0;
    let mut hi = 0;
    for (i, &v) in x.iter().enumerate() {
        if v < x[lo] {
            lo = i;
        }
        if v > x[hi] {
            hi = i;
        }
    }
    if x[lo] == x[hi] {
        vec![lo]
    } else {
        vec![lo, hi]
    }
}

fn percent(share: f64) -> String {
    format!("{}%", format_number(round_sig(share * 100.0, 3)))
}

/// Share of the total variance of `pts` captured by the PCA's components.
pub fn pca_share(pca: &Pca, pts: &[f64], d: usize) -> f64 {
    let n = pts.len() / d.max(1);
    if n == 0 {
        return 1.0;
    }
    let mut total = 0.0;
    for row in pts.chunks_exact(d) {
        total += row
            .iter()
            .zip(&pca.mean)
            .map(|(x, m)| (x - m).powi(2))
            .sum::<f64>();
    }
    total /= n as f64;
    let kept: f64 = pca.variances.iter().sum();
    if total > 0.0 {
        (kept / total).clamp(0.0, 1.0)
    } else {
        1.0
    }
}

fn panel_cache(panel: &Panel, psd: bool) -> PanelCache {
    let run = &panel.run;
    let quiescent = run.quiescent();
    let membership = membership(run, &quiescent);
    let straight_line = (panel.rule == RuleChoice::Hardmax && psd && run.spec().sphere.is_none())
        .then(|| (0..run.n()).map(|i| run.straight_line_check(i)).collect());
    PanelCache {
        quiescent,
        membership,
        max_distance_to_final: run.max_distance_to_final(),
        straight_line,
    }
}

/// Members of the minimal quiescent sets, and tokens that at the last step attend (directly or
/// through other non-members) into exactly one set.
fn membership(run: &Run, q: &Quiescent) -> Vec<Membership> {
    let n = run.n();
    let mut out = vec![Membership::Other; n];
    for (s, set) in q.sets.iter().enumerate() {
        for &i in set {
            if i < n {
                out[i] = Membership::Member(s);
            }
        }
    }
    if run.computed_steps() == 0 {
        return out;
    }
    // Which set each token's attention ends in: None = not yet known, Some(None) = several.
    let mut target: Vec<Option<Option<usize>>> = out
        .iter()
        .map(|m| match m {
            Membership::Member(s) => Some(Some(*s)),
            _ => None,
        })
        .collect();
    let pending: Vec<usize> = (0..n).filter(|&i| target[i].is_none()).collect();
    if pending.is_empty() {
        return out;
    }
    let rows: Vec<Vec<usize>> = pending
        .iter()
        .map(|&i| run.neighbours(i).unwrap_or_default())
        .collect();
    for _ in 0..8 {
        let mut changed = false;
        for (slot, &i) in pending.iter().enumerate() {
            if target[i].is_some() {
                continue;
            }
            let mut found: Option<usize> = None;
            let mut several = false;
            let mut unknown = false;
            for &j in &rows[slot] {
                if j == i {
                    continue;
                }
                match target.get(j).copied().flatten() {
                    Some(Some(s)) => {
                        if found.is_some_and(|f| f != s) {
                            several = true;
                        }
                        found = Some(s);
                    }
                    Some(None) => several = true,
                    None => unknown = true,
                }
            }
            if several {
                target[i] = Some(None);
                changed = true;
            } else if !unknown && found.is_some() {
                target[i] = Some(found);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for &i in &pending {
        if let Some(Some(s)) = target[i] {
            out[i] = Membership::Feeds(s);
        }
    }
    out
}

/// "token 1 became a leader at step 1 and stayed fixed" for tokens that are fixed leaders
/// (C_i = {i}) from some step k0 >= 1 to the last step with a graph.
fn leaders_note(run: &Run) -> Option<String> {
    let big_k = run.computed_steps();
    if big_k < 2 {
        return None;
    }
    let n = run.n();
    let d = run.spec().d;
    let mut still = vec![true; n];
    let mut from = vec![usize::MAX; n];
    for k in (0..big_k).rev() {
        let mut here = vec![false; n];
        for i in run.fixed_leaders(k) {
            here[i] = true;
        }
        for i in 0..n {
            if still[i] && here[i] {
                from[i] = k;
            } else {
                still[i] = false;
            }
        }
    }
    let mut became: Vec<(usize, usize)> = (0..n)
        .filter(|&i| from[i] != usize::MAX && from[i] >= 1)
        .map(|i| (from[i], i))
        .collect();
    if became.is_empty() {
        return None;
    }
    became.sort_unstable();
    let scale = run
        .state_diags()
        .first()
        .map_or(1.0, |s| s.diameter.max(1e-300));
    let items: Vec<String> = became
        .iter()
        .take(3)
        .map(|&(k0, i)| {
            let p = &run.positions(k0)[i * d..(i + 1) * d];
            let moved = (k0..=big_k)
                .map(|k| hull::dist2(&run.positions(k)[i * d..(i + 1) * d], p).sqrt())
                .fold(0.0, f64::max);
            if moved <= 1e-9 * scale {
                format!("token {i} became a leader at step {k0} and stayed fixed")
            } else {
                format!(
                    "token {i} became a leader at step {k0} and stayed one (its argmax set is itself), but still moves by up to {} (it averages over near-maximisers)",
                    short(moved)
                )
            }
        })
        .collect();
    let mut text = items.join("; ");
    if became.len() > 3 {
        text.push_str(&format!(" (and {} more)", became.len() - 3));
    }
    Some(text)
}

/// How many distinct points the tokens `idx` of `x` (n×d) occupy, merging points closer than `tol`:
/// many tokens sit on each vertex of a limit polytope.
pub fn distinct_points(x: &[f64], d: usize, tol: f64, idx: &[usize]) -> usize {
    let mut kept: Vec<usize> = Vec::new();
    for &i in idx {
        let p = &x[i * d..(i + 1) * d];
        if !kept
            .iter()
            .any(|&j| hull::dist2(&x[j * d..(j + 1) * d], p).sqrt() <= tol)
        {
            kept.push(i);
        }
    }
    kept.len()
}

/// Hull vertex count at the last state (merged within the cluster tolerance) and quiescent sets.
fn polytope_note(run: &Run, q: &Quiescent) -> String {
    let big_k = run.computed_steps();
    let d = run.spec().d;
    let x = run.final_positions();
    let tol = run.spec().cluster_tol;
    let merged = |idx: &[usize]| distinct_points(x, d, tol, idx);
    // "Limit polytope" is the paper's hardmax result. Under softmax every weight is positive, so
    // the only limit is one point and any clusters are metastable; for the localmax stand-in no
    // limit theorem is known. Those runs get the hull they ended with, without the word "limit".
    let hull_name = if matches!(run.spec().rule, Rule::Hardmax) {
        "the final hull (≈ the limit polytope)"
    } else {
        "the final hull"
    };
    let shape = match d {
        1 => {
            let ends = merged(&hull_1d(x));
            if ends <= 1 {
                "all tokens ended at one point".to_string()
            } else {
                format!("{hull_name} is an interval")
            }
        }
        2 => {
            let v = merged(&run.hull_2d(big_k).unwrap_or_default());
            if v <= 1 {
                "all tokens ended at one point".to_string()
            } else {
                format!("{hull_name} has {}", vertices(v))
            }
        }
        3 => {
            let v = merged(&run.extreme_points_3d(big_k).unwrap_or_default());
            if v <= 1 {
                "all tokens ended at one point".to_string()
            } else {
                format!(
                    "{hull_name} has about {} (extreme points along 134 directions)",
                    vertices(v)
                )
            }
        }
        _ => match run.state_diags().last().map_or(0, |s| s.clusters) {
            // One single-linkage cluster is not one point: its diameter can exceed the tolerance.
            0 | 1 => format!(
                "all tokens ended in one cluster (single linkage at {})",
                short(tol)
            ),
            clusters => format!("{} at the last step", plural(clusters, "cluster")),
        },
    };
    let shape = match run.spec().rule {
        Rule::Softmax { beta } if beta > 0.0 && !shape.starts_with("all tokens") => {
            // Whether this run still draws together is read from its diameters: in floating
            // point the weights between far clusters can underflow to 0 and freeze them.
            let diameters = run.state_diags();
            let (mid, last) = (
                diameters.get(diameters.len() / 2).map(|s| s.diameter),
                diameters.last().map(|s| s.diameter),
            );
            if matches!((mid, last), (Some(a), Some(b)) if b < a) {
                format!("{shape}: with softmax every weight is positive, so these clusters are metastable (this run's diameter is still shrinking; they draw together on a time scale that grows with β) and the only limit is one point")
            } else {
                format!("{shape}: with softmax every weight is positive, so in exact arithmetic these clusters would keep drawing together toward one point; in this run the diameter no longer shrinks measurably (the weights between far clusters are below floating-point resolution)")
            }
        }
        _ => shape,
    };
    if q.steps == 0 {
        format!(
            "{shape}; no quiescent-set window (it starts at step {})",
            q.from
        )
    } else {
        format!(
            "{shape}; {} (working definition) from step {}",
            plural(q.sets.len(), "quiescent set"),
            q.from
        )
    }
}

/// Largest move of any token during step k (state k -> k+1).
fn movement(run: &Run, k: usize) -> f64 {
    let d = run.spec().d;
    let (a, b) = (run.positions(k), run.positions(k + 1));
    a.chunks_exact(d)
        .zip(b.chunks_exact(d))
        .map(|(p, q)| hull::dist2(p, q).sqrt())
        .fold(0.0, f64::max)
}

fn convergence_note(run: &Run) -> Option<String> {
    let big_k = run.computed_steps();
    if big_k < 2 {
        return None;
    }
    let diags = run.state_diags();
    let (before, last) = (diags[big_k - 1].diameter, diags[big_k].diameter);
    if before > 0.0 && last > 0.0 && last < before * (1.0 - 1e-9) {
        return Some(format!(
            "diameter still decreasing at the last step (×{} per step): no finite-time convergence",
            ratio_text(last / before)
        ));
    }
    if last == 0.0 {
        return Some(
            "the hull diameter reached 0 in floating point (the exact dynamics only approaches consensus geometrically)"
                .to_string(),
        );
    }
    let m_last = movement(run, big_k - 1);
    if m_last > 0.0 {
        let m_before = movement(run, big_k - 2);
        let ratio = if m_before > 0.0 {
            format!(", ×{} per step", ratio_text(m_last / m_before))
        } else {
            String::new()
        };
        Some(format!(
            "the hull diameter has settled at {}, but tokens still move at the last step (by up to {}{ratio}): no finite-time convergence",
            short(last),
            format_number(round_sig(m_last, 2))
        ))
    } else {
        let stopped = (0..big_k)
            .rev()
            .find(|&k| movement(run, k) > 0.0)
            .map_or(0, |k| k + 1);
        // The mean rate of the moves over the third quarter of the steps before they stopped
        // (well above rounding noise).
        let (s0, s1) = (stopped / 2, stopped * 3 / 4);
        let rate = (s1 > s0)
            .then(|| {
                let (a, b) = (movement(run, s0), movement(run, s1));
                let r = (b / a).powf(1.0 / (s1 - s0) as f64);
                (a > 0.0 && b > 0.0 && r < 1.0 && r.is_finite()).then(|| ratio_text(r))
            })
            .flatten();
        Some(match rate {
            Some(rate) => format!(
                "no token moves after step {stopped} in floating point (rounding); before that the largest move shrank ×{rate} per step: geometric, not finite-time, convergence"
            ),
            None => format!(
                "no token moves after step {stopped} in floating point (rounding); the exact dynamics converges only geometrically"
            ),
        })
    }
}

/// A per-step factor, with enough digits to differ from 1 ("0.998", "0.99997").
/// ρ(k·h) of GLPR Thm 6.8 when the run is governed by it: an equiangular start on the sphere,
/// softmax, A = V = I, continuous time.
fn equiangular_curve(st: &State, run: &Run) -> Option<Vec<f64>> {
    let spec = run.spec();
    let sph = spec.sphere.as_ref()?;
    let (Rule::Softmax { beta }, Time::Ode { h, .. }) = (&spec.rule, sph.time) else {
        return None;
    };
    let governed = st.init == super::params::InitChoice::Equiangular
        && is_identity(&spec.a, spec.d)
        && is_identity(&sph.value, spec.d)
        && run.n() >= 2;
    if !governed {
        return None;
    }
    // The start's own inner product (rho0 as the start builder clamped it).
    let x = run.positions(0);
    let d = spec.d;
    let rho0: f64 = x[..d].iter().zip(&x[d..2 * d]).map(|(a, b)| a * b).sum();
    td_particles::sphere::equiangular_solution(
        rho0,
        run.n(),
        *beta,
        sph.normalisation,
        h,
        spec.steps,
    )
}

/// Largest |⟨x_i, x_j⟩ − ρ(t_k)| over pairs and computed states.
fn equiangular_gap(run: &Run, rho: &[f64]) -> f64 {
    let (n, d) = (run.n(), run.spec().d);
    let mut worst = 0.0f64;
    for (k, r) in rho.iter().enumerate().take(run.computed_steps() + 1) {
        let x = run.positions(k);
        for i in 0..n {
            for j in i + 1..n {
                let s: f64 = (0..d).map(|c| x[i * d + c] * x[j * d + c]).sum();
                worst = worst.max((s - r).abs());
            }
        }
    }
    worst
}

/// Whether a row-major d×d matrix is exactly the identity (a hypothesis of the sphere theorems).
fn is_identity(m: &[f64], d: usize) -> bool {
    m.len() == d * d
        && m.iter()
            .enumerate()
            .all(|(k, &v)| v == if k % (d + 1) == 0 { 1.0 } else { 0.0 })
}

/// Every token has a positive inner product with the mean direction (a sufficient test for an
/// open hemisphere).
fn in_open_hemisphere(x: &[f64], d: usize) -> bool {
    if d == 0 || x.len() < d {
        return false;
    }
    let mut mean = vec![0.0; d];
    for p in x.chunks_exact(d) {
        mean.iter_mut().zip(p).for_each(|(m, v)| *m += v);
    }
    x.chunks_exact(d)
        .all(|p| p.iter().zip(&mean).map(|(a, b)| a * b).sum::<f64>() > 0.0)
}

/// Largest fall of the energy between stored states that counts as rounding (ρ_β is in [−1, 1]).
pub const ENERGY_SLACK: f64 = 1e-9;

/// What the energy did, and whether a theorem says it must rise.
fn energy_note(run: &Run, gradient_flow: bool) -> String {
    let energies: Vec<f64> = run
        .state_diags()
        .iter()
        .map(|s| s.sphere.map_or(f64::NAN, |x| x.energy))
        .collect();
    let h = run.spec().sphere.as_ref().map_or(1.0, |s| s.time.h());
    let mut worst: Option<(usize, f64)> = None;
    for (k, w) in energies.windows(2).enumerate() {
        let fall = w[0] - w[1];
        if fall > ENERGY_SLACK && worst.is_none_or(|(_, f)| fall > f) {
            worst = Some((k, fall));
        }
    }
    let (first, last) = (
        energies.first().copied().unwrap_or(f64::NAN),
        energies.last().copied().unwrap_or(f64::NAN),
    );
    let span = format!("from {} to {}", short(first), short(last));
    match (gradient_flow, worst) {
        (true, None) => format!("the energy E_β never decreased ({span}); along this flow it cannot: the unnormalised model is n times its gradient ascent, self-attention a gradient flow for another metric (arXiv 2312.10794, Remark 3.8 and §3.4, Q = K = V = I)"),
        (true, Some((k, fall))) => format!("the energy should not decrease along this flow, yet it fell by {} between t = {} and t = {}: integrator error (the tolerance bounds each sub-step, not their sum)", short(fall), short(k as f64 * h), short((k + 1) as f64 * h)),
        (false, Some((k, fall))) => format!("the energy E_β fell by {} between t = {} and t = {}: with {} this is not the gradient flow of E_β, and nothing makes it monotone", short(fall), short(k as f64 * h), short((k + 1) as f64 * h), not_gradient_reason(run)),
        (false, None) => format!("the energy E_β did not decrease in this run ({span}), but with {}, no theorem we know says it cannot", not_gradient_reason(run)),
    }
}

fn not_gradient_reason(run: &Run) -> String {
    let spec = run.spec();
    let d = spec.d;
    let mut why = Vec::new();
    if !matches!(spec.rule, Rule::Softmax { .. }) {
        why.push("hardmax or localmax weights");
    }
    if matches!(
        spec.sphere.as_ref().map(|s| s.time),
        Some(Time::Layers { .. })
    ) {
        why.push("discrete layers");
    }
    if !is_identity(&spec.a, d) {
        why.push("A ≠ I");
    }
    if !spec
        .sphere
        .as_ref()
        .is_some_and(|s| is_identity(&s.value, d))
    {
        why.push("V ≠ I");
    }
    match why.split_last() {
        None => "this setting".to_string(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The step from which a run has one cluster to its last computed state (None if it does not end
/// in one).
pub fn one_cluster_from(run: &Run) -> Option<usize> {
    let diags = run.state_diags();
    (diags.last()?.clusters == 1).then(|| {
        diags
            .iter()
            .rposition(|s| s.clusters != 1)
            .map_or(0, |k| k + 1)
    })
}

/// When the run first had one cluster (and kept it), or how many it ended with.
fn cluster_note(run: &Run, tol: f64) -> String {
    let diags = run.state_diags();
    let last = diags.len().saturating_sub(1);
    let tol = format_number(tol);
    let Some(h) = run.spec().sphere.as_ref().map(|s| s.time.h()) else {
        let count = diags.last().map_or(0, |s| s.clusters);
        return match (count, one_cluster_from(run)) {
            (1, Some(from)) => {
                format!(
                    "one cluster (single linkage, distance ≤ {tol}) from step {from} to the end"
                )
            }
            (c, _) => format!(
                "{} at step {last} (single linkage, distance ≤ {tol})",
                plural(c, "cluster")
            ),
        };
    };
    match (diags.last().map(|s| s.clusters), one_cluster_from(run)) {
        (Some(1), Some(from)) => {
            format!(
                "one cluster (single linkage, chord distance ≤ {tol}) from t = {} (step {from}) to the end",
                short(from as f64 * h)
            )
        }
        (Some(c), _) => format!(
            "not one cluster by t = {}: {} (single linkage, chord distance ≤ {tol})",
            short(last as f64 * h),
            plural(c, "cluster")
        ),
        (None, _) => String::new(),
    }
}

/// The longest stretch [t_a, t_b] (t_a > 0) over which the cluster count stayed at some k >= 2
/// with t_b >= 2·t_a, if the count later fell below k: a plateau on the log time axis. k must be
/// at most half the starting count: before that the tokens have not formed clusters yet (2,000
/// tokens on the circle start as ~1,400 "clusters" of near neighbours, which hold for a while).
fn plateau_note(run: &Run) -> Option<String> {
    let c: Vec<usize> = run.state_diags().iter().map(|s| s.clusters).collect();
    let h = run.spec().sphere.as_ref().map_or(1.0, |s| s.time.h());
    let mut best: Option<(usize, usize, usize, f64)> = None;
    let mut start = 0;
    for k in 1..=c.len() {
        if k == c.len() || c[k] != c[start] {
            let later = c[k.min(c.len() - 1)..]
                .iter()
                .copied()
                .min()
                .unwrap_or(c[start]);
            let formed = 2 * c[start] <= c[0];
            if start > 0
                && c[start] >= 2
                && formed
                && k >= 2 * start
                && later < c[start]
                && k < c.len()
            {
                let ratio = k as f64 / start as f64;
                if best.is_none_or(|b| ratio > b.3) {
                    best = Some((c[start], start, k, ratio));
                }
            }
            start = k;
        }
    }
    let (count, a, b, _) = best?;
    Some(format!(
        "measured plateau: {} (at most half the starting count) from t = {} to t = {} (×{} in time), then fewer; at large β such multi-cluster states are long-lived (arXiv 2410.06833; we show what this run measured, no rate)",
        plural(count, "cluster"),
        short(a as f64 * h),
        short(b as f64 * h),
        short(b as f64 / a as f64)
    ))
}

fn ratio_text(ratio: f64) -> String {
    let gap = (1.0 - ratio).abs();
    let digits = if gap > 0.0 && gap < 0.01 {
        (2 - gap.log10().floor() as i32).min(15)
    } else {
        3
    };
    format_number(round_sig(ratio, digits))
}

fn margin_note(run: &Run) -> Option<String> {
    let steps = run.step_diags();
    let first = steps.iter().position(|s| s.margin_undefined > 0)?;
    let count = steps[first].margin_undefined;
    let total = steps.iter().filter(|s| s.margin_undefined > 0).count();
    let mut text = format!(
        "multiplicative margin is undefined for {} at step {first} because their maximum alignment is ≤ 0; they used the argmax set",
        plural(count, "token")
    );
    if total > 1 {
        text.push_str(&format!(
            " (it happens at {total} of {} steps)",
            steps.len()
        ));
    }
    Some(text)
}

fn delta_note(state: &State, run: &Run) -> Option<String> {
    let Rule::Localmax { schedule, .. } = &run.spec().rule else {
        return None;
    };
    let steps = state.steps;
    if steps == 0 {
        return None;
    }
    let delta = |k: usize| schedule.delta_at(k);
    match state.schedule {
        ScheduleChoice::Constant if delta(0) == 0.0 => {
            Some("delta = 0: localmax is exactly hardmax".into())
        }
        ScheduleChoice::Constant => None,
        _ => {
            let last = delta(steps - 1);
            if last == 0.0 {
                // First step from which delta stays 0.
                let from = (0..steps)
                    .rev()
                    .find(|&k| delta(k) != 0.0)
                    .map_or(0, |k| k + 1);
                Some(format!(
                    "delta = 0 from step {from}: localmax is exactly hardmax from there"
                ))
            } else if last < delta(0) {
                // Whether this run ends where hardmax does is a property of the run, not of the
                // schedule (with q = 1 on the square it does not): the note does not claim it.
                Some(format!(
                    "delta(k) decreases from {} to {} at the last step; whether the tokens end where hardmax sends them depends on how fast it fades (compare with rule=hardmax from the same start)",
                    short(delta(0)),
                    format_number(round_sig(last, 3))
                ))
            } else {
                None
            }
        }
    }
}

fn straight_line_note(run: &Run, checks: &[Option<(usize, f64)>]) -> String {
    let scale = run
        .state_diags()
        .first()
        .map_or(1.0, |s| s.diameter.max(1e-300));
    let on_line: Vec<f64> = checks
        .iter()
        .flatten()
        .filter(|(_, r)| *r <= 1e-9 * scale)
        .map(|(_, r)| *r)
        .collect();
    let worst = on_line.iter().copied().fold(0.0, f64::max);
    if on_line.len() == checks.len() {
        return format!(
            "Frank-Wolfe view (A symmetric PSD): all {} move on the straight line to their dominance-cell vertex (max residual {})",
            plural(checks.len(), "token"),
            format_number(round_sig(worst, 2))
        );
    }
    format!(
        "Frank-Wolfe view (A symmetric PSD): {} of {} move on the straight line to their dominance-cell vertex (max residual {}); the others change target or sit on a cell boundary",
        on_line.len(),
        plural(checks.len(), "token"),
        format_number(round_sig(worst, 2))
    )
}

fn asymmetry_note(run: &Run) -> Option<String> {
    let steps = run.step_diags();
    let asym = steps.iter().filter(|s| s.asymmetry > 0).count();
    if asym == 0 {
        return None;
    }
    let most = steps.iter().map(|s| s.asymmetry).max().unwrap_or(0);
    Some(format!(
        "the attention graph is asymmetric at {asym} of {} steps (up to {most} pairs with j ∈ N_i but i ∉ N_j): Hegselmann–Krause Lyapunov arguments do not apply directly",
        steps.len()
    ))
}

// ---------------------------------------------------------------- computed in a worker

fn write_progress(w: &mut Writer, p: &RunProgress) {
    w.usize(p.from).f64s(&p.traj).usize(p.states.len());
    for s in &p.states {
        w.f64(s.diameter)
            .opt_f64(s.area)
            .usize(s.clusters)
            .opt_f64(s.sphere.map(|x| x.energy))
            .opt_f64(s.sphere.map(|x| x.min_inner));
    }
    w.usize(p.steps.len());
    for s in &p.steps {
        w.opt_f64(s.delta)
            .usize(s.leaders)
            .usize(s.fixed_leaders)
            .usize(s.asymmetry)
            .usize(s.edges)
            .usize(s.margin_undefined)
            .usize(s.substeps)
            .usize(s.forced);
    }
    w.bytes(&p.flags).bool(p.graphs.is_some());
    if let Some((graph, union, steps)) = &p.graphs {
        w.u64s(graph).u64s(union).usize(*steps);
    }
}

fn read_progress(r: &mut Reader) -> codec::Result<RunProgress> {
    let from = r.usize()?;
    let traj = r.f64s()?;
    let states = (0..r.usize()?)
        .map(|_| {
            let (diameter, area, clusters) = (r.f64()?, r.opt_f64()?, r.usize()?);
            let sphere = match (r.opt_f64()?, r.opt_f64()?) {
                (Some(energy), Some(min_inner)) => Some(SphereDiag { energy, min_inner }),
                _ => None,
            };
            Ok(StateDiag {
                diameter,
                area,
                clusters,
                sphere,
            })
        })
        .collect::<codec::Result<Vec<_>>>()?;
    let steps = (0..r.usize()?)
        .map(|_| {
            Ok(StepDiag {
                delta: r.opt_f64()?,
                leaders: r.usize()?,
                fixed_leaders: r.usize()?,
                asymmetry: r.usize()?,
                edges: r.usize()?,
                margin_undefined: r.usize()?,
                substeps: r.usize()?,
                forced: r.usize()?,
            })
        })
        .collect::<codec::Result<Vec<_>>>()?;
    let flags = r.bytes()?.to_vec();
    let graphs = if r.bool()? {
        Some((r.u64s()?, r.u64s()?, r.usize()?))
    } else {
        None
    };
    Ok(RunProgress {
        from,
        traj,
        states,
        steps,
        flags,
        graphs,
    })
}

fn write_cache(w: &mut Writer, c: &PanelCache) {
    w.usize(c.quiescent.from)
        .usize(c.quiescent.steps)
        .usize(c.quiescent.sets.len());
    for set in &c.quiescent.sets {
        w.usizes(set);
    }
    w.usize(c.membership.len());
    for m in &c.membership {
        match m {
            Membership::Member(s) => w.u8(0).usize(*s),
            Membership::Feeds(s) => w.u8(1).usize(*s),
            Membership::Other => w.u8(2),
        };
    }
    w.f64s(&c.max_distance_to_final)
        .bool(c.straight_line.is_some());
    if let Some(lines) = &c.straight_line {
        w.usize(lines.len());
        for line in lines {
            w.opt_usize(line.map(|l| l.0)).opt_f64(line.map(|l| l.1));
        }
    }
}

fn read_cache(r: &mut Reader) -> codec::Result<PanelCache> {
    let from = r.usize()?;
    let steps = r.usize()?;
    let sets = (0..r.usize()?)
        .map(|_| r.usizes())
        .collect::<codec::Result<_>>()?;
    let membership = (0..r.usize()?)
        .map(|_| {
            Ok(match r.u8()? {
                0 => Membership::Member(r.usize()?),
                1 => Membership::Feeds(r.usize()?),
                _ => Membership::Other,
            })
        })
        .collect::<codec::Result<_>>()?;
    let max_distance_to_final = r.f64s()?;
    let straight_line = if r.bool()? {
        Some(
            (0..r.usize()?)
                .map(|_| Ok(r.opt_usize()?.zip(r.opt_f64()?)))
                .collect::<codec::Result<_>>()?,
        )
    } else {
        None
    };
    Ok(PanelCache {
        quiescent: Quiescent { from, steps, sets },
        membership,
        max_distance_to_final,
        straight_line,
    })
}

impl Scene {
    /// Everything computed since the last call, for the page's copy of this scene (a worker
    /// computes; the page paints). `shipped` holds the steps sent per panel.
    pub fn progress_since(&self, shipped: &mut Vec<usize>) -> Vec<u8> {
        shipped.resize(self.panels.len(), 0);
        let mut w = Writer::new();
        w.usize(self.panels.len());
        for (panel, sent) in self.panels.iter().zip(shipped.iter_mut()) {
            let p = panel.run.progress_since(*sent);
            *sent = p.from + p.steps.len();
            write_progress(&mut w, &p);
        }
        // Once finished, what the scene worked out from the runs (so the page need not).
        let finished = self.cache.len() == self.panels.len() && !self.panels.is_empty();
        w.bool(finished);
        if finished {
            for cache in &self.cache {
                write_cache(&mut w, cache);
            }
            w.usize(self.notes.len());
            for note in &self.notes {
                w.str(note);
            }
        }
        w.into_bytes()
    }

    /// Takes over what [`Scene::progress_since`] sent from a worker's copy of the same scene;
    /// once every run is complete, the page finishes the scene itself (quiescent sets, notes).
    pub fn apply_progress(&mut self, bytes: &[u8]) -> codec::Result<()> {
        let mut r = Reader::new(bytes);
        let panels = r.usize()?;
        if panels != self.panels.len() {
            return Err(codec::CodecError("another scene's panels".into()));
        }
        for panel in &mut self.panels {
            let p = read_progress(&mut r)?;
            if !panel.run.absorb(p) {
                return Err(codec::CodecError(
                    "progress does not continue the run".into(),
                ));
            }
        }
        if r.bool()? {
            self.cache = (0..self.panels.len())
                .map(|_| read_cache(&mut r))
                .collect::<codec::Result<_>>()?;
            let n = r.usize()?;
            self.notes = (0..n).map(|_| r.string()).collect::<codec::Result<_>>()?;
        } else if self.is_done() {
            self.finish();
        }
        Ok(())
    }
}
