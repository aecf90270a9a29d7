//! The attention-particle explorer as the page runner, the CLI and the bench see it.

use plotters::coord::Shift;
use plotters::prelude::*;
use td_core::explorer::{Block, DrawResult, Explorer, FigureInfo, TextPanel, View};
use td_core::page::PageOptions;
use td_core::table::{Message, Param, Preset};
use td_core::url::format_number;

use crate::params::{self, Group, State, PARAMS};
use crate::scene::{distinct_points, Scene};
use crate::svg::Figure;
use crate::{draw, export, presets};

/// Work (multiply-adds over the run) beyond which the page's worker computes the scene.
const OFFLOAD_WORK: f64 = 2.0e7;

/// The attention-particle explorer (marker type).
pub struct Attention;

static FIGURES: &[FigureInfo] = &[
    FigureInfo {
        name: "particles",
        label: "particles",
        wrap_id: "particles-row",
        canvas_ids: &[
            "particles-canvas",
            "particles-canvas-2",
            "particles-canvas-3",
        ],
        aspect: 0.9,
        min_height: 160.0,
        max_height: 560.0,
        page_height: |w| (w * 0.92).min(560.0),
    },
    FigureInfo {
        name: "plots",
        label: "diagnostics over k",
        wrap_id: "plots-wrap",
        canvas_ids: &["plots-canvas"],
        aspect: 0.62,
        min_height: 220.0,
        max_height: 480.0,
        page_height: |w| if w >= 560.0 { 430.0 } else { 880.0 },
    },
];

static TEXT_PANELS: &[TextPanel] = &[
    TextPanel {
        name: "readout",
        label: "readout",
        id: "readout-panel",
    },
    TextPanel {
        name: "notes",
        label: "notes",
        id: "notes-panel",
    },
];

fn figure_of(name: &str) -> Figure {
    Figure::parse(name).unwrap_or(Figure::Particles)
}

impl Explorer for Attention {
    const NAME: &'static str = params::EXPLORER;
    const TITLE: &'static str = "attention particles";
    const FORMAT_VERSION: u32 = params::FORMAT_VERSION;
    const PLAY_MS: f64 = 5000.0;

    type State = State;
    type Group = Group;
    type Scene = Scene;
    type Models = ();

    fn params() -> &'static [Param<State, Group>] {
        PARAMS
    }
    fn groups() -> Vec<(Group, &'static str)> {
        Group::ALL.iter().map(|g| (*g, g.title())).collect()
    }
    fn playback_group() -> Group {
        Group::Playback
    }
    fn figures() -> &'static [FigureInfo] {
        FIGURES
    }
    fn text_panels() -> &'static [TextPanel] {
        TEXT_PANELS
    }
    fn presets() -> &'static [Preset] {
        presets::PRESETS
    }
    fn embed_strip() -> &'static [&'static str] {
        &["rule", "margin", "delta", "beta", "at"]
    }
    fn controlled_by(key: &str) -> Option<&'static str> {
        params::controlled_by(key)
    }

    /// In dependency order (d before x0, x0 before init, …), so set({x0, d}) means the same
    /// whatever order its keys come in.
    /// (`d` first, `A` before `matrix`, `x0` before `init`, otherwise table order; a key given
    /// twice: the last one wins.)
    fn apply_pairs(st: &mut State, pairs: &[(String, String)], msgs: &mut Vec<Message>) {
        let mut ordered: Vec<&(String, String)> = pairs.iter().collect();
        ordered.sort_by_key(|(key, _)| params::parse_rank(key));
        for (key, value) in ordered {
            Self::apply_pair(st, key, value, msgs);
        }
    }
    fn normalise(st: &mut State, msgs: &mut Vec<Message>) {
        params::normalise(st, msgs);
    }
    /// Every key travels when it differs from its default, also when the current mode does not
    /// use it (a custom matrix while `matrix=spd`, points while `init=disk`, beta under hardmax):
    /// switching modes on the page never loses a setting, and parse(print(state)) == state
    /// exactly. A kept custom matrix / kept points select their family when read, so `matrix` is
    /// printed whenever `A` is, and `init` whenever `x0` is.
    fn travels(st: &State, param: &Param<State, Group>, changed: bool) -> bool {
        let pinned = match param.key {
            "matrix" => !st.a_custom.is_empty(),
            "init" => !st.x0.is_empty(),
            _ => false,
        };
        pinned || changed
    }

    fn at(st: &State) -> f64 {
        st.at
    }
    fn set_at(st: &mut State, at: f64) {
        st.at = at;
    }
    fn speed(st: &State) -> f64 {
        st.speed
    }
    fn computation_key(st: &State) -> State {
        let defaults = State::default();
        State {
            trails: defaults.trails,
            hull: defaults.hull,
            cells: defaults.cells,
            focus: defaults.focus,
            yaw: defaults.yaw,
            pitch: defaults.pitch,
            at: defaults.at,
            speed: defaults.speed,
            ..st.clone()
        }
    }

    fn new_scene(st: &State, _models: &()) -> Scene {
        Scene::new(st.clone())
    }
    fn scene_state(scene: &Scene) -> &State {
        &scene.state
    }
    fn set_scene_state(scene: &mut Scene, st: &State) {
        scene.state = st.clone();
    }
    fn advance(scene: &mut Scene, units: usize) -> bool {
        scene.advance(units)
    }
    fn is_done(scene: &Scene) -> bool {
        scene.is_done()
    }
    fn progress(scene: &Scene) -> f64 {
        scene.progress()
    }
    fn slice_units(scene: &Scene) -> usize {
        let cost = scene.work_per_step().max(1.0);
        ((2.0e5 / cost) as usize).clamp(1, 64)
    }
    fn offload(scene: &Scene) -> bool {
        // Beyond about 10 ms of work (n = 64 × 200 steps is 0.3 ms natively) the page's worker
        // computes while the page stays free.
        scene.work_per_step() * scene.state.steps as f64 > OFFLOAD_WORK
    }
    fn progress_since(scene: &Scene, shipped: &mut Vec<usize>) -> Vec<u8> {
        scene.progress_since(shipped)
    }
    fn apply_progress(scene: &mut Scene, bytes: &[u8]) -> td_core::codec::Result<()> {
        scene.apply_progress(bytes)
    }
    fn notes(scene: &Scene) -> Vec<String> {
        scene.notes.clone()
    }
    fn summary(scene: &Scene) -> String {
        scene.summary()
    }
    fn rule_lines(scene: &Scene) -> Vec<String> {
        scene
            .panels
            .iter()
            .map(|p| p.describe.to_string())
            .collect()
    }
    fn text_panel(scene: &Scene, panel: &str) -> Vec<Block> {
        match panel {
            "readout" => (0..scene.panels.len())
                .flat_map(|i| readout_blocks(scene, i))
                .collect(),
            _ => Vec::new(),
        }
    }
    fn canvas_label(scene: &Scene, figure: &str, panel: usize) -> String {
        let st = &scene.state;
        match figure_of(figure) {
            Figure::Particles => format!(
                "{}: {} tokens in {} dimensions over {} steps. The summary below the figures describes the result.",
                scene.panels.get(panel).map_or("Particles", |p| p.title.as_str()),
                st.token_count(),
                st.d,
                st.steps
            ),
            Figure::Plots => "Hull diameter and area, distance to the final state, cluster count, delta and attention-graph asymmetry against the step k".into(),
        }
    }

    fn figure_panels(scene: &Scene, figure: &str) -> usize {
        match figure_of(figure) {
            Figure::Particles => scene.panels.len().max(1),
            Figure::Plots => 1,
        }
    }
    fn default_size(scene: &Scene, figure: &str) -> (u32, u32) {
        figure_of(figure).default_size(scene.panels.len())
    }
    fn draw<DB: DrawingBackend>(
        scene: &Scene,
        figure: &str,
        panel: usize,
        area: &DrawingArea<DB, Shift>,
        view: &View,
    ) -> DrawResult<DB> {
        match figure_of(figure) {
            Figure::Particles => {
                draw::draw_particles(area, scene, panel, view.at, view.scale, view.hold)
            }
            Figure::Plots => draw::draw_plots(area, scene, view.at, view.scale),
        }
    }

    fn readout_json(scene: &Scene) -> String {
        scene.readout_json()
    }
    fn csv(scene: &Scene, link: &str) -> String {
        export::csv(scene, link)
    }
    fn json(scene: &Scene, page: &PageOptions, link: &str) -> String {
        export::state_json::<Attention>(scene, page, link)
    }
    fn file_stem(st: &State) -> String {
        export::file_stem(st)
    }
    fn embed_title(scene: &Scene) -> String {
        let rules = scene
            .panels
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>()
            .join(" vs ");
        format!(
            "token-dynamics: attention particles ({rules}, {} tokens)",
            scene.state.token_count()
        )
    }
    #[cfg(feature = "bench")]
    fn bench_scenarios() -> &'static [&'static str] {
        crate::bench::SCENARIOS
    }
    #[cfg(feature = "bench")]
    fn bench_run(name: &str) -> Option<f64> {
        crate::bench::run(name)
    }
}

/// "k = 12 / 200": the step shown at playback position `at`.
pub fn step_text(scene: &Scene, at: f64) -> String {
    format!("k = {} / {}", scene.step_at(at), scene.state.steps)
}

/// The readout of one panel at its last computed step (the quiescent sets come from the scene's
/// cache, filled once the runs finish).
pub fn readout_blocks(scene: &Scene, index: usize) -> Vec<Block> {
    let panel = &scene.panels[index];
    let run = &panel.run;
    let k = run.computed_steps();
    let diag = run.state_diags().last().copied();
    let mut rows: Vec<(String, String)> = vec![
        ("tokens".into(), run.n().to_string()),
        (
            "steps computed".into(),
            format!("{k} of {}", run.spec().steps),
        ),
    ];
    if let Some(diag) = diag {
        rows.push(("hull diameter".into(), format!("{:.6e}", diag.diameter)));
        if let Some(area) = diag.area {
            rows.push(("hull area".into(), format!("{area:.6e}")));
        }
        rows.push(("clusters".into(), diag.clusters.to_string()));
    }
    if let Some(hull) = run.hull_2d(k) {
        // Counted as in the notes: corners closer than the cluster tolerance are one vertex.
        let (d, tol) = (run.spec().d, run.spec().cluster_tol);
        let points = distinct_points(run.positions(k), d, tol, &hull);
        rows.push((
            "hull vertices".into(),
            format!(
                "{points} ({} corners before merging those within {})",
                hull.len(),
                format_number(tol)
            ),
        ));
    }
    let leaders = run.leaders(k.saturating_sub(1));
    rows.push(("leaders".into(), list_tokens(&leaders)));
    if let Some(step) = run.step_diags().last() {
        rows.push(("asymmetric pairs".into(), step.asymmetry.to_string()));
    }
    if let Some(quiescent) = scene.quiescent(index) {
        rows.push((
            "quiescent sets".into(),
            format!(
                "{} (working definition, steps {}–{}): {}",
                quiescent.sets.len(),
                quiescent.from,
                quiescent.from + quiescent.steps,
                quiescent
                    .sets
                    .iter()
                    .take(6)
                    .map(|s| format!("{{{}}}", list_tokens(s)))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
    }
    vec![Block::Heading(panel.title.clone()), Block::Pairs(rows)]
}

/// "0, 3, 7, … (12 in all)".
pub fn list_tokens(tokens: &[usize]) -> String {
    if tokens.is_empty() {
        return "none".into();
    }
    let shown: Vec<String> = tokens.iter().take(12).map(|t| t.to_string()).collect();
    if tokens.len() > 12 {
        format!("{}, … ({} in all)", shown.join(", "), tokens.len())
    } else {
        shown.join(", ")
    }
}
