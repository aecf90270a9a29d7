//! The next-token explorer as the page runner, the CLI and the bench see it.

use plotters::coord::Shift;
use plotters::prelude::*;
use td_core::explorer::{Block, DrawResult, Explorer, FigureInfo, TextPanel, View};
use td_core::page::PageOptions;
use td_core::table::{Kind, Message, Param, Preset};
use td_core::url::format_number;

use crate::params::{self, AdjustMode, FlowChoice, GenMode, Group, State, PARAMS};
use crate::scene::{self, Readout, Scene};
use crate::{draw, export, presets};

/// Work (V × samples × runs) up to which a scene is computed at once when installed (its first
/// paint is complete); larger scenes are computed in time slices.
const AT_ONCE_WORK: usize = 4_000_000;

/// The next-token flow explorer (marker type).
pub struct NextToken;

static FIGURES: &[FigureInfo] = &[
    FigureInfo {
        name: "simplex",
        label: "simplex",
        wrap_id: "simplex-row",
        canvas_ids: &["simplex-canvas", "simplex-canvas-2"],
        aspect: 0.88,
        min_height: 140.0,
        max_height: 560.0,
        page_height: |w| (w * 0.9).min(460.0),
    },
    FigureInfo {
        name: "series",
        label: "time series",
        wrap_id: "series-wrap",
        canvas_ids: &["series-canvas"],
        aspect: 0.6,
        min_height: 180.0,
        max_height: 460.0,
        page_height: |w| if w >= 560.0 { 400.0 } else { 720.0 },
    },
    FigureInfo {
        name: "logits",
        label: "logits",
        wrap_id: "logits-wrap",
        canvas_ids: &["logits-canvas"],
        aspect: 0.32,
        min_height: 120.0,
        max_height: 220.0,
        page_height: |_| 200.0,
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

/// Which figure a name means (the first for an unknown one).
fn figure_of(name: &str) -> crate::svg::Figure {
    crate::svg::Figure::parse(name).unwrap_or(crate::svg::Figure::Simplex)
}

impl Explorer for NextToken {
    const NAME: &'static str = params::EXPLORER;
    const TITLE: &'static str = "next-token flows";
    const FORMAT_VERSION: u32 = params::FORMAT_VERSION;
    const PLAY_MS: f64 = 4000.0;

    type State = State;
    type Group = Group;
    type Scene = Scene;
    type Models = crate::whole::Whole;

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
        &["T", "flow", "trunc", "k", "top_p", "min_p", "at"]
    }
    fn controlled_by(key: &str) -> Option<&'static str> {
        params::controlled_by(key)
    }

    fn normalise(st: &mut State, msgs: &mut Vec<Message>) {
        params::normalise(st, msgs);
    }
    /// Integers too are written as exact shortest numbers (`V=1e3`): links of format 1 keep that
    /// form.
    fn value_text(param: &Param<State, Group>, st: &State) -> String {
        match &param.kind {
            Kind::Number { get, .. } | Kind::Integer { get, .. } => format_number(get(st)),
            Kind::Choice { get, .. } => get(st).to_string(),
            Kind::Text { get, .. } => get(st),
        }
    }
    /// Generated logits carry no explicit list; explicit ones carry no generator settings; W
    /// travels only with the matrix adjustment.
    fn travels(st: &State, param: &Param<State, Group>, changed: bool) -> bool {
        changed
            && !(st.gen != GenMode::None && matches!(param.key, "s" | "labels"))
            && !(st.gen == GenMode::None && matches!(param.key, "V" | "seed"))
            && !(st.adjust != AdjustMode::Matrix && param.key == "W")
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
        // Every next-token setting changes what is computed except the playback ones.
        State {
            at: State::default().at,
            speed: State::default().speed,
            ..st.clone()
        }
    }

    /// A link naming another whole vocabulary (or none): the page reads it from storage.
    fn follow_state(whole: &mut crate::whole::Whole, st: &State) {
        let wanted = crate::whole::wanted(st);
        if whole.id() != wanted {
            *whole = if wanted.is_empty() {
                crate::whole::Whole::None
            } else {
                crate::whole::Whole::Loading(wanted.to_string())
            };
        }
    }
    fn prepare_state(st: &State) -> bool {
        // A slice of a large vocabulary's generated logits: a few ms in a fresh page, whose
        // module has not been optimised yet (V = 50,257 is about 12 such slices).
        crate::params::prepare_logits(st, 4096)
    }
    fn new_scene(st: &State, whole: &crate::whole::Whole) -> Scene {
        Scene::with_whole(st.clone(), crate::whole::for_state(st, whole))
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
        // A sample costs about V exp-and-add operations.
        (200_000 / scene.v.max(1)).max(2)
    }
    fn compute_at_once(scene: &Scene) -> bool {
        scene.v * scene.samples * scene.run_count().max(1) <= AT_ONCE_WORK
    }
    fn offload(scene: &Scene) -> bool {
        !Self::compute_at_once(scene)
    }
    fn progress_since(scene: &Scene, shipped: &mut Vec<usize>) -> Vec<u8> {
        scene.progress_since(shipped)
    }
    fn shards(scene: &Scene) -> usize {
        scene.shards()
    }
    fn restrict_to_shard(scene: &mut Scene, shard: usize, shards: usize) {
        scene.restrict_to_shard(shard, shards);
    }
    fn finish_shards(scene: &mut Scene) {
        scene.finish_shards();
    }
    fn prepare_for_progress(scene: &mut Scene) -> bool {
        scene.prepare_next_run()
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
    fn text_panel(scene: &Scene, panel: &str) -> Vec<Block> {
        match panel {
            "readout" => readout_blocks(scene),
            _ => Vec::new(),
        }
    }
    fn canvas_label(scene: &Scene, figure: &str, panel: usize) -> String {
        match figure_of(figure) {
            crate::svg::Figure::Simplex => format!(
                "Simplex plot of {} with {} trajectories; corners {}.",
                scene.panels.get(panel).map_or("", |p| p.title.as_str()),
                scene.panels.get(panel).map_or(0, |p| p.runs.len()),
                scene.corner_labels.join(", ")
            ),
            crate::svg::Figure::Series => {
                "Time series of probabilities, free energy, entropy and KL divergence".into()
            }
            crate::svg::Figure::Logits => "Logits editor: bar chart of the logits; use left and right arrows to pick a token, up and down to change its logit".into(),
        }
    }

    fn figure_panels(scene: &Scene, figure: &str) -> usize {
        match figure_of(figure) {
            crate::svg::Figure::Simplex => scene.panels.len().clamp(1, 2),
            _ => 1,
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
            crate::svg::Figure::Simplex => {
                draw::draw_simplex(area, scene, panel, view.at, view.scale)
            }
            crate::svg::Figure::Series => draw::draw_series(area, scene, view.at, view.scale),
            crate::svg::Figure::Logits => {
                let hold = view.hold.map(|h| (h[2], h[3]));
                draw::draw_logits(area, scene, view.focus, view.scale, hold)
            }
        }
    }

    fn readout_json(scene: &Scene) -> String {
        export::readout_json(scene)
    }
    fn csv(scene: &Scene, link: &str) -> String {
        export::csv(scene, link)
    }
    fn json(scene: &Scene, page: &PageOptions, link: &str) -> String {
        export::state_json::<NextToken>(&scene.state, page, link, &scene.readouts())
    }
    fn file_stem(st: &State) -> String {
        export::file_stem::<NextToken>(st)
    }
    fn embed_title(scene: &Scene) -> String {
        let flows = scene
            .panels
            .iter()
            .map(|p| scene::flow_name(p.flow))
            .collect::<Vec<_>>()
            .join(" vs ");
        format!(
            "token-dynamics: next-token flows ({flows}, T = {})",
            format_number(scene.state.temp)
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

/// Whether the state shows two flows side by side.
pub fn is_compare(st: &State) -> bool {
    st.flow == FlowChoice::Compare
}

fn format_kl(kl: f64) -> String {
    if kl.is_finite() {
        format!("{kl:.6}")
    } else {
        "∞ (p has no mass where the target has)".into()
    }
}

/// The readout at the end of the horizon: per flow, the numbers and the eight most likely tokens.
pub fn readout_blocks(scene: &Scene) -> Vec<Block> {
    let mut blocks = Vec::new();
    for r in scene.readouts() {
        blocks.push(Block::Heading(scene::flow_name(r.flow).to_string()));
        blocks.push(Block::Pairs(vec![
            ("t".into(), format_number(scene::round_sig(r.t))),
            ("F".into(), format!("{:.6}", r.free_energy)),
            ("H".into(), format!("{:.6}", r.entropy)),
            ("KL(p‖target)".into(), format_kl(r.kl)),
            (
                "support".into(),
                format!("{} of {}", r.support.len(), scene.v),
            ),
        ]));
        blocks.push(top_tokens_table(scene, &r));
    }
    blocks
}

fn top_tokens_table(scene: &Scene, r: &Readout) -> Block {
    let order = td_core::rank::top_indices(r.p, 8);
    Block::Table {
        class: "dist",
        head: vec!["token".into(), "p".into(), "target".into()],
        rows: order
            .iter()
            .take(8)
            .map(|&i| {
                vec![
                    ("", scene.label(i)),
                    ("", format!("{:.6}", r.p[i])),
                    ("", format!("{:.6}", r.target[i])),
                ]
            })
            .collect(),
        row_headers: false,
    }
}
