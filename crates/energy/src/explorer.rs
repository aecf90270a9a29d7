//! The energy lab as the page runner, the CLI and the bench see it: its figures, the statistics
//! table with its nulls, the steering panel, the token strip's shading and the link that opens a
//! position's distribution in the next-token explorer.

use plotters::coord::Shift;
use plotters::prelude::*;
use td_core::explorer::{Block, DrawResult, Explorer, FigureInfo, TextPanel, View};
use td_core::page::PageOptions;
use td_core::table::{Message, Param, Preset};
use td_core::url::format_number;

use crate::params::{self, byte_label, Group, State, SteerMode, PARAMS};
use crate::scene::{model_title, opt, Analysis, Models, Scene};
use crate::svg::Figure;
use crate::{draw, export, presets};

/// The hidden-state energy lab (marker type).
pub struct Energy;

/// Two-row layout of the wide figures on narrow screens.
fn wide_height(w: f64, aspect: f64, min: f64, max: f64) -> f64 {
    if w < 600.0 {
        (w * 1.3).clamp(360.0, 720.0)
    } else {
        (w * aspect).clamp(min, max)
    }
}

static FIGURES: &[FigureInfo] = &[
    FigureInfo {
        name: "series",
        label: "K, U, E per position",
        wrap_id: "series-wrap",
        canvas_ids: &["series-canvas"],
        aspect: 0.4,
        min_height: 220.0,
        max_height: 420.0,
        page_height: |w| wide_height(w, 0.4, 220.0, 420.0),
    },
    FigureInfo {
        name: "phase",
        label: "phase portrait",
        wrap_id: "phase-wrap",
        canvas_ids: &["phase-canvas"],
        aspect: 0.42,
        min_height: 220.0,
        max_height: 440.0,
        page_height: |w| wide_height(w, 0.42, 220.0, 440.0),
    },
    FigureInfo {
        name: "scatter",
        label: "ΔK against ΔU",
        wrap_id: "scatter-wrap",
        canvas_ids: &["scatter-canvas"],
        aspect: 0.62,
        min_height: 220.0,
        max_height: 440.0,
        page_height: |w| (w * 0.62).clamp(220.0, 440.0),
    },
    FigureInfo {
        name: "dist",
        label: "next-byte distribution",
        wrap_id: "dist-wrap",
        canvas_ids: &["dist-canvas"],
        aspect: 0.5,
        min_height: 200.0,
        max_height: 360.0,
        page_height: |w| (w * 0.5).clamp(200.0, 360.0),
    },
];

static TEXT_PANELS: &[TextPanel] = &[
    TextPanel {
        name: "tokens",
        label: "the text",
        id: "tokens-panel",
    },
    TextPanel {
        name: "stats",
        label: "statistics",
        id: "stats-panel",
    },
    TextPanel {
        name: "steering",
        label: "steering",
        id: "steering-panel",
    },
    TextPanel {
        name: "notes",
        label: "notes",
        id: "notes-panel",
    },
];

fn figure_of(name: &str) -> Figure {
    Figure::parse(name).unwrap_or(Figure::Series)
}

impl Explorer for Energy {
    const NAME: &'static str = params::EXPLORER;
    const TITLE: &'static str = "hidden-state energy";
    const FORMAT_VERSION: u32 = params::FORMAT_VERSION;
    const PLAY_MS: f64 = 8000.0;

    type State = State;
    type Group = Group;
    type Scene = Scene;
    type Models = Models;

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
        &["mass", "form", "U", "at"]
    }
    fn controlled_by(key: &str) -> Option<&'static str> {
        params::controlled_by(key)
    }

    /// In table order, so a link means the same whatever the order of its keys.
    /// (A key given twice: the last one wins.)
    fn apply_pairs(st: &mut State, pairs: &[(String, String)], msgs: &mut Vec<Message>) {
        let rank = |key: &str| {
            PARAMS
                .iter()
                .position(|p| p.key == key)
                .map_or(0, |i| i + 1)
        };
        let mut ordered: Vec<&(String, String)> = pairs.iter().collect();
        ordered.sort_by_key(|(key, _)| rank(key));
        for (key, value) in ordered {
            Self::apply_pair(st, key, value, msgs);
        }
    }
    fn normalise(st: &mut State, msgs: &mut Vec<Message>) {
        params::normalise(st, msgs);
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
            at: defaults.at,
            speed: defaults.speed,
            // The real model is the panel's business: naming one changes none of the lab's numbers.
            checkpoint: defaults.checkpoint,
            ..st.clone()
        }
    }

    fn follow_state(models: &mut Models, st: &State) {
        models.follow_seed(st.seed);
    }
    fn new_scene(st: &State, models: &Models) -> Scene {
        Scene::new(st.clone(), models)
    }
    fn scene_state(scene: &Scene) -> &State {
        &scene.state
    }
    fn set_scene_state(scene: &mut Scene, st: &State) {
        scene.state = st.clone();
    }
    fn advance(scene: &mut Scene, units: usize) -> bool {
        scene.advance(units.min(1 << 20))
    }
    fn is_done(scene: &Scene) -> bool {
        scene.is_done()
    }
    fn is_waiting(scene: &Scene) -> bool {
        scene.waiting_for_weights()
    }
    fn progress(scene: &Scene) -> f64 {
        scene.progress()
    }
    fn offload(scene: &Scene) -> bool {
        // Every unit is a forward pass of up to 128 bytes: the worker computes them all (a scene
        // waiting for the trained weights waits on the page).
        !scene.is_done() && !scene.waiting_for_weights()
    }
    fn progress_since(scene: &Scene, shipped: &mut Vec<usize>) -> Vec<u8> {
        scene.progress_since(shipped)
    }
    fn apply_progress(scene: &mut Scene, bytes: &[u8]) -> td_core::codec::Result<()> {
        scene.apply_progress(bytes)
    }
    fn notes(scene: &Scene) -> Vec<String> {
        scene.notes.iter().chain(&scene.errors).cloned().collect()
    }
    fn summary(scene: &Scene) -> String {
        scene.summary()
    }
    fn text_panel(scene: &Scene, panel: &str) -> Vec<Block> {
        match panel {
            "stats" => vec![stats_table(scene)],
            "steering" => steering_blocks(scene),
            _ => Vec::new(),
        }
    }
    fn canvas_label(scene: &Scene, figure: &str, _panel: usize) -> String {
        let label = Energy::figure(figure).map_or("figure", |f| f.label);
        format!(
            "{label} for {} bytes, trained and random model. The statistics table and summary below give the numbers.",
            scene.tokens.len()
        )
    }

    fn default_size(_scene: &Scene, figure: &str) -> (u32, u32) {
        figure_of(figure).default_size()
    }
    fn draw<DB: DrawingBackend>(
        scene: &Scene,
        figure: &str,
        _panel: usize,
        area: &DrawingArea<DB, Shift>,
        view: &View,
    ) -> DrawResult<DB> {
        match figure_of(figure) {
            Figure::Series => draw::draw_series(area, &scene.panels(), view.at, view.scale),
            Figure::Phase => draw::draw_phase(area, &scene.panels(), view.at, view.scale),
            Figure::Scatter => draw::draw_scatter(area, &scene.panels(), view.at, view.scale),
            Figure::Dist => draw::draw_distribution(area, scene, view.focus, view.scale),
        }
    }

    fn readout_json(scene: &Scene) -> String {
        export::readout_json(scene)
    }
    fn csv(scene: &Scene, link: &str) -> String {
        export::csv::<Energy>(scene, link)
    }
    fn json(scene: &Scene, page: &PageOptions, link: &str) -> String {
        export::state_json::<Energy>(scene, page, link)
    }
    fn file_stem(st: &State) -> String {
        export::file_stem::<Energy>(st)
    }
    fn embed_title(scene: &Scene) -> String {
        format!(
            "token-dynamics: hidden-state energy ({} bytes, trained and random model)",
            scene.tokens.len()
        )
    }
    #[cfg(feature = "bench")]
    fn bench_scenarios() -> &'static [&'static str] {
        crate::bench::SCENARIOS
    }
    #[cfg(feature = "bench")]
    fn bench_prepare(name: &str) {
        crate::bench::prepare(name);
    }
    #[cfg(feature = "bench")]
    fn bench_run(name: &str) -> Option<f64> {
        crate::bench::run(name)
    }
}

/// Surprisal (nats) of each token under the chosen model; NaN where unknown (the first byte, a
/// model not loaded).
pub fn surprisals(scene: &Scene) -> Vec<f64> {
    match scene.chosen() {
        Some(a) => (0..scene.tokens.len())
            .map(|t| {
                t.checked_sub(1)
                    .and_then(|prev| a.log_probs_at(prev))
                    .map_or(f64::NAN, |lp| -lp[scene.tokens[t] as usize])
            })
            .collect(),
        None => vec![f64::NAN; scene.tokens.len()],
    }
}

/// Shade level 0..=4 of a surprisal (0 for unknown).
pub fn shade_level(surprisal: f64) -> usize {
    if surprisal.is_finite() {
        ((surprisal / 8.0).clamp(0.0, 1.0) * 4.0).round() as usize
    } else {
        0
    }
}

/// How a byte shows in the token strip.
pub fn strip_text(byte: u8) -> String {
    match byte {
        b'\n' => "⏎".to_string(),
        b' ' => " ".to_string(),
        b if b.is_ascii_graphic() => (b as char).to_string(),
        b => format!("\\x{b:02X}"),
    }
}

/// The caption under the token strip.
pub fn strip_caption(scene: &Scene) -> String {
    format!(
        "{} bytes{}. Shade = surprisal under the {} (darker = more surprising). Hover a byte to see what the model expected next; click to inspect and steer there (←/→ move along the text).",
        scene.tokens.len(),
        scene
            .prompt_len
            .map_or(String::new(), |p| format!(" ({p} of prompt, the rest generated)")),
        model_title(scene.model)
    )
}

/// The link of a next-token flow whose logits are this position's (all 256 bytes, log-probs
/// rounded to 4 decimals; the three most likely bytes are the simplex corners).
pub fn next_token_link(log_probs: &[f64]) -> String {
    let labels: Vec<String> = (0..log_probs.len()).map(|b| byte_label(b as u8)).collect();
    td_core::export::scores_link(log_probs, &labels, "")
}

type Cell = fn(&Analysis) -> String;

/// The statistics rows: name, the value per model, and what it would be without coupling.
fn stats_rows() -> Vec<(&'static str, Cell, Cell)> {
    vec![
        (
            "CV(E) — the headline",
            |a| opt(a.summary.cv_e, 4),
            |a| {
                format!(
                    "shuffled U against K: {} (p = {}); if independent: {}",
                    opt(a.null.cv_e_mean, 4),
                    opt(a.null.p_value, 3),
                    opt(a.null.cv_e_independent, 4)
                )
            },
        ),
        (
            "CV(K)",
            |a| opt(a.summary.cv_k, 4),
            |_| "each term's own spread: a flat term makes E flat by itself".into(),
        ),
        (
            "CV(U)",
            |a| opt(a.summary.cv_u, 4),
            |_| "random model: U ≈ ln 256 = 5.545 at every byte".into(),
        ),
        (
            "corr(K, U)",
            |a| opt(a.summary.corr_ku, 3),
            |_| "0; a trade-off needs it negative".into(),
        ),
        (
            "Var(E) / (Var(E − U) + Var(U))",
            |a| opt(a.summary.var_ratio, 3),
            |_| {
                "1; below 1 only if U and the kinetic term of E (K, or ln 2K in the product form) trade off".into()
            },
        ),
        (
            "drift slope of E (per byte)",
            |a| opt(a.summary.drift_slope, 5),
            |_| "0 for a conserved E".into(),
        ),
        (
            "mean K · mean U · mean E",
            |a| {
                format!(
                    "{} · {} · {}",
                    opt(a.summary.mean_k, 3),
                    opt(a.summary.mean_u, 3),
                    opt(a.summary.mean_e, 3)
                )
            },
            |_| "nats".into(),
        ),
        (
            "mass m used",
            |a| {
                let m = a.series.mass;
                format!(
                    "{}{}",
                    format_number((m.value * 1e6).round() / 1e6),
                    if m.fell_back {
                        " (fit unusable: 1/d)"
                    } else {
                        ""
                    }
                )
            },
            |_| "our assumption (switch above)".into(),
        ),
        ("points", |a| a.summary.count.to_string(), |_| String::new()),
    ]
}

/// The statistics table: each statistic for both models, with its null beside it.
pub fn stats_table(scene: &Scene) -> Block {
    let models = [&scene.analyses[0], &scene.analyses[1]];
    let rows = stats_rows()
        .into_iter()
        .map(|(name, value, null)| {
            let mut row = vec![("", name.to_string())];
            for model in models {
                row.push(("num", model.as_ref().map_or("—".to_string(), value)));
            }
            let explanation = if name.starts_with("CV(E)") {
                models
                    .iter()
                    .zip(["trained", "random"])
                    .filter_map(|(m, label)| m.as_ref().map(|a| format!("{label}: {}", null(a))))
                    .collect::<Vec<_>>()
                    .join(" · ")
            } else {
                models
                    .iter()
                    .find_map(|m| m.as_ref())
                    .map_or(String::new(), null)
            };
            row.push(("null", explanation));
            row
        })
        .collect();
    Block::Table {
        class: "stats",
        head: vec![
            "statistic".into(),
            "trained".into(),
            "random".into(),
            "what it would be without coupling".into(),
        ],
        rows,
        row_headers: true,
    }
}

/// The steering panel: what was steered where, with what effect, and both continuations.
pub fn steering_blocks(scene: &Scene) -> Vec<Block> {
    let st = &scene.state;
    if st.steer == SteerMode::Off {
        let mut blocks = vec![Block::text(
            "help-text",
            "Steering is off. Choose the Δ or margin form under Jacobian steering, pick a position in the text and a target byte (or let the page suggest the runner-up).",
        )];
        if let Some(b) = scene.suggested_target(scene.position()) {
            blocks.push(Block::text(
                "",
                format!(
                    "Suggested target at position {}: {} (the runner-up).",
                    scene.position(),
                    byte_label(b)
                ),
            ));
        }
        return blocks;
    }
    let Some(s) = scene.steer_outcome() else {
        return vec![Block::text(
            "",
            format!("computing… {:.0}%", scene.progress() * 100.0),
        )];
    };
    let mut rows = vec![
        (
            "where".to_string(),
            format!(
                "position {} of the {}, {} ({} form)",
                s.position,
                model_title(s.model),
                s.site,
                if s.form == "margin" { "margin" } else { "Δ" }
            ),
        ),
        (
            "target".to_string(),
            format!(
                "{}{}",
                byte_label(s.target),
                if s.suggested {
                    " (suggested: the runner-up)"
                } else {
                    ""
                }
            ),
        ),
        ("‖δ‖".to_string(), format!("{:.5}", s.norm)),
        (
            "p(target)".to_string(),
            format!(
                "{:.5} → {:.5} (log p {:.4} → {:.4})",
                s.old_log_p.exp(),
                s.new_log_p.exp(),
                s.old_log_p,
                s.new_log_p
            ),
        ),
        (
            "rank of the target".to_string(),
            format!("{} → {}", s.old_rank, s.new_rank),
        ),
        (
            "top byte".to_string(),
            format!("{} → {}", byte_label(s.old_top), byte_label(s.new_top)),
        ),
    ];
    if let Some(pred) = s.predicted_log_p {
        let requested = pred - s.old_log_p;
        let realised = s.new_log_p - s.old_log_p;
        rows.push((
            "Δ log p requested / realised".to_string(),
            format!(
                "{requested:.4} / {realised:.4}{}",
                if requested != 0.0 {
                    format!(" ({:.1}%)", 100.0 * realised / requested)
                } else {
                    String::new()
                }
            ),
        ));
    }
    rows.push((
        "CV(E) without / with steering".to_string(),
        format!(
            "{} / {}",
            opt(scene.chosen().and_then(|a| a.summary.cv_e), 5),
            opt(s.summary.cv_e, 5)
        ),
    ));
    let mut blocks = vec![Block::Pairs(rows)];
    blocks.extend(continuation_blocks(scene));
    blocks
}

/// Both continuations (without and with steering) and what to make of them.
fn continuation_blocks(scene: &Scene) -> Vec<Block> {
    let st = &scene.state;
    let Some(s) = scene.steer_outcome() else {
        return Vec::new();
    };
    let text = |tokens: &[u32]| {
        let bytes: Vec<u8> = tokens.iter().map(|&t| t as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let tail_start = s.prefix.len().saturating_sub(40);
    let prefix = text(&s.prefix[tail_start..]);
    let mut blocks = Vec::new();
    for (label, id, tokens) in [
        ("without steering", "continuation-plain", &s.plain),
        ("with steering", "continuation-steered", &s.steered),
    ] {
        blocks.push(Block::Paragraph {
            class: "continuation",
            parts: vec![
                ("strong".into(), format!("{label}: ")),
                ("prefix".into(), format!("…{prefix}")),
                (format!("mark#{id}"), text(tokens)),
            ],
        });
    }
    if s.plain == s.steered && !s.plain.is_empty() && scene.is_done() {
        blocks.push(Block::text(
            "",
            format!(
                "The continuations agree: the first byte is drawn from the steered distribution (p(target) = {:.3}) and landed on the same byte as without steering, and with the same sampler and seed the rest came out the same too. Try another sampling seed, or T = 0.",
                s.new_log_p.exp()
            ),
        ));
    }
    blocks.push(Block::text(
        "help-text",
        format!(
            "Both continuations: {} bytes, same sampler and seed (T = {}, top-k {}, top-p {}, min-p {}, seed {}).",
            s.n_new,
            format_number(st.temperature),
            st.top_k,
            format_number(st.top_p),
            format_number(st.min_p),
            st.gseed
        ),
    ));
    blocks
}
