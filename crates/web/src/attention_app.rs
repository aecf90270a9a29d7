//! The attention explorer's page: state <-> controls <-> URL, progressive computation, painting,
//! playback, and pointer editing of the tokens (click to add, drag to move a start, click a token
//! for its attention arrows, drag to rotate a 3-D view).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use web_sys::{Event, HtmlCanvasElement, HtmlInputElement, PointerEvent};

use super::app::{paint, set_canvas_size};
use super::controls;
use super::dom::{self, by_id, by_id_as, make, set_attr, set_text};
use super::embed;
use super::explorer::{self, CanvasArea, Explorer, FigureInfo, TextPanel};
use super::shell::{self, Chrome, LinkSpec};
use td_attention::draw::{self, ParticleFrame};
use td_attention::params::{self, Message, State, PARAMS};
use td_attention::presets::PRESETS;
use td_attention::scene::{distinct_points, Scene};
use td_attention::svg::{render_svg, Figure};
use td_core::page::PageOptions;
use td_core::url::format_number;

/// Compute budget inside the event that changed the state (ms). What does not fit is computed in
/// slices of CHUNK_MS across animation frames, painting as it goes, so the page never freezes.
const SYNC_MS: f64 = 8.0;
const CHUNK_MS: f64 = 10.0;
/// The whole run plays in this many ms at speed 1.
const PLAY_MS: f64 = 5000.0;
/// Pointer distance (CSS px) within which a press picks a token.
const PICK_RADIUS: f64 = 10.0;
/// Controls in an embed's compact strip (before `hide=`).
const EMBED_STRIP: &[&str] = &["rule", "margin", "delta", "beta", "at"];
const PARTICLE_CANVASES: &[&str] = &[
    "particles-canvas",
    "particles-canvas-2",
    "particles-canvas-3",
];

static FIGURES: &[FigureInfo] = &[
    FigureInfo {
        name: "particles",
        label: "particles",
        wrap_id: "particles-row",
        canvas_ids: PARTICLE_CANVASES,
        aspect: 0.9,
        min_height: 160.0,
        max_height: 560.0,
    },
    FigureInfo {
        name: "plots",
        label: "diagnostics over k",
        wrap_id: "plots-wrap",
        canvas_ids: &["plots-canvas"],
        aspect: 0.62,
        min_height: 220.0,
        max_height: 480.0,
    },
];

static TEXT_PANELS: &[TextPanel] = &[
    TextPanel {
        name: "readout",
        id: "readout-panel",
    },
    TextPanel {
        name: "notes",
        id: "notes-panel",
    },
];

/// A press on a particle canvas, until release.
#[derive(Clone, Copy)]
enum Drag {
    /// Moving the start of a token (d <= 2, shown at k = 0).
    Token { panel: usize, token: usize },
    /// Rotating the 3-D view from (yaw, pitch) at pointer (x, y).
    Rotate {
        x: f64,
        y: f64,
        yaw: f64,
        pitch: f64,
    },
}

pub struct App {
    pub state: State,
    pub scene: Scene,
    chrome: Chrome,
    drag: Option<Drag>,
}

/// The attention explorer's links, as the page chrome reads them.
static LINKS: LinkSpec<State> = LinkSpec {
    panels: params::PANELS,
    control_keys: params::control_keys,
    from_hash: params::from_hash,
    // In dependency order (d before x0, x0 before init, …), so set({x0, d}) means the same
    // whatever order its keys come in.
    apply_pairs: params::apply_pairs,
    normalise: params::normalise,
    figures: FIGURES,
    text_panels: TEXT_PANELS,
};

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

/// Whether this page runs the attention explorer (true while the app is borrowed).
pub fn is_running() -> bool {
    APP.with(|cell| cell.try_borrow().map(|a| a.is_some()).unwrap_or(true))
}

/// Runs `f` on the app if it exists and is not already borrowed (re-entrant events are dropped).
pub fn with_app<R>(f: impl FnOnce(&mut App) -> R) -> Option<R> {
    APP.with(|cell| match cell.try_borrow_mut() {
        Ok(mut guard) => guard.as_mut().map(f),
        Err(_) => None,
    })
}

pub fn start() {
    let groups: Vec<_> = params::Group::ALL.iter().map(|g| (*g, g.title())).collect();
    controls::build(PARAMS, &groups, params::Group::Playback, |_| None);
    shell::build_presets(PRESETS);
    let hash = dom::window().location().hash().unwrap_or_default();
    let mut chrome = Chrome::new(PageOptions::default());
    let (state, messages) = chrome.read_link(&LINKS, &hash);
    let scene = Scene::new(state.clone());
    APP.with(|cell| {
        *cell.borrow_mut() = Some(App {
            state,
            scene,
            chrome,
            drag: None,
        })
    });
    wire_events();
    with_app(|app| {
        let state = app.state.clone();
        app.apply_state(state, messages, true);
    });
}

/// The state with every view-only setting at its default: two states with the same computation
/// key share one scene (changing the view repaints without recomputing).
fn computation_key(state: &State) -> State {
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
        ..state.clone()
    }
}

impl App {
    /// Installs a new state: messages, controls, scene (rebuilt only if the computation changed),
    /// URL. `replace_messages` for a fresh link.
    fn apply_state(&mut self, state: State, messages: Vec<Message>, replace_messages: bool) {
        let recompute = !self.chrome.ready
            || computation_key(&state) != computation_key(&self.scene.state)
            || self.scene.panels.is_empty();
        let panels_before = self.panels_in_use();
        self.state = state;
        let t0 = dom::now_ms();
        let page_changed = self.chrome.begin_apply(&LINKS, messages, replace_messages);
        let page = &self.chrome.page;
        controls::sync(PARAMS, &self.state, &|param| {
            (param.relevant)(&self.state)
                && embed::control_shown(page, param.key, params::controlled_by, EMBED_STRIP)
        });
        self.update_open_link();
        self.chrome.timings.push(("controls", dom::now_ms() - t0));
        if self.panels_in_use() != panels_before || !self.chrome.ready || page_changed {
            // Size the canvases before painting: resizing a canvas clears it.
            self.layout_canvases();
        }
        if recompute {
            self.rebuild_scene();
        } else {
            self.scene.state = self.state.clone();
            let start = dom::now_ms();
            self.render_all();
            self.chrome.last_paint_ms = dom::now_ms() - start;
        }
        self.schedule_url();
    }

    fn panels_in_use(&self) -> usize {
        self.state.run_count()
    }

    fn update_open_link(&self) {
        if self.chrome.page.embed {
            embed::update_open_link(
                params::EXPLORER,
                params::to_pairs(&self.state),
                &self.chrome.page,
            );
        }
    }

    fn rebuild_scene(&mut self) {
        self.chrome.generation += 1;
        let start = dom::now_ms();
        // The scene made at start-up for this very state has not computed anything yet: reuse it.
        let fresh = self.scene.computed_steps() == 0
            && computation_key(&self.scene.state) == computation_key(&self.state);
        if fresh {
            self.scene.state = self.state.clone();
        } else {
            self.scene = Scene::new(self.state.clone());
        }
        let mut done = self.scene.is_done();
        while !done && dom::now_ms() - start < SYNC_MS {
            done = self.scene.advance(self.steps_per_slice());
        }
        self.chrome.timings.push(("compute", dom::now_ms() - start));
        self.render_all();
        self.chrome.last_paint_ms = dom::now_ms() - start;
        self.set_busy(!done);
        if !done {
            let generation = self.chrome.generation;
            dom::request_frame(move |_| compute_chunk(generation));
        }
    }

    /// Steps per `advance` call: about a millisecond of work, so time checks stay fine-grained.
    fn steps_per_slice(&self) -> usize {
        let cost = self.scene.work_per_step().max(1.0);
        ((2.0e5 / cost) as usize).clamp(1, 64)
    }

    fn set_busy(&self, busy: bool) {
        shell::set_busy(busy, self.scene.progress());
    }

    fn mark_ready(&mut self) {
        if self.chrome.mark_ready() {
            embed::on_ready(self);
            if self.chrome.autoplay_due() {
                self.toggle_play();
            }
        }
    }

    /// Sizes every canvas to its container at the device pixel ratio.
    fn layout_canvases(&self) -> bool {
        let panels = self.panels_in_use();
        for (i, id) in PARTICLE_CANVASES.iter().enumerate() {
            if let Some(wrap) = by_id(&format!("{id}-wrap")) {
                if i < panels {
                    let _ = wrap.remove_attribute("hidden");
                } else {
                    set_attr(&wrap, "hidden", "");
                }
            }
        }
        if self.chrome.page.embed {
            let in_use = |figure: &str| if figure == "particles" { panels } else { 1 };
            return embed::layout(FIGURES, &in_use, &self.chrome.page);
        }
        let mut changed = false;
        for id in PARTICLE_CANVASES.iter().take(panels) {
            if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
                let width = canvas
                    .parent_element()
                    .map(|p| p.client_width() as f64)
                    .unwrap_or(400.0)
                    .max(160.0);
                changed |= set_canvas_size(&canvas, width, (width * 0.92).min(560.0).round());
            }
        }
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>("plots-canvas") {
            let width = canvas
                .parent_element()
                .map(|p| p.client_width() as f64)
                .unwrap_or(400.0)
                .max(200.0);
            let height = if width >= 560.0 { 430.0 } else { 880.0 };
            changed |= set_canvas_size(&canvas, width, height);
        }
        changed
    }

    fn relayout(&mut self, force_paint: bool) {
        if self.layout_canvases() || force_paint {
            self.render_all();
        }
    }

    /// Paints every canvas and refreshes the text.
    fn render_all(&mut self) {
        let start = dom::now_ms();
        self.paint_figures();
        let t1 = dom::now_ms();
        self.render_text();
        self.chrome.timings.push(("text", dom::now_ms() - t1));
        self.chrome.last_paint_ms = dom::now_ms() - start;
        if self.scene.is_done() {
            self.mark_ready();
        }
    }

    fn paint_figures(&mut self) {
        let scale = dom::device_pixel_ratio();
        let at = self.state.at;
        let t0 = dom::now_ms();
        for (panel, id) in PARTICLE_CANVASES
            .iter()
            .enumerate()
            .take(self.scene.panels.len())
        {
            if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
                paint(&canvas, |area| {
                    draw::draw_particles(area, &self.scene, panel, at, scale)
                });
            }
        }
        let t1 = dom::now_ms();
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>("plots-canvas") {
            paint(&canvas, |area| {
                draw::draw_plots(area, &self.scene, at, scale)
            });
        }
        self.chrome.timings.push(("paint-particles", t1 - t0));
        self.chrome
            .timings
            .push(("paint-plots", dom::now_ms() - t1));
    }

    fn render_text(&self) {
        if let Some(list) = by_id("notes") {
            dom::clear(&list);
            for note in &self.scene.notes {
                let _ = list.append_child(&make("li", "", Some(note)));
            }
        }
        if let Some(line) = by_id("rule-line") {
            dom::clear(&line);
            for panel in &self.scene.panels {
                let _ = line.append_child(&make("li", "", Some(panel.describe)));
            }
        }
        if let Some(root) = by_id("readout") {
            dom::clear(&root);
            for panel in 0..self.scene.panels.len() {
                let _ = root.append_child(&readout_block(&self.scene, panel));
            }
        }
        set_text("summary", &self.scene.summary());
        let titles: Vec<&str> = self.scene.panels.iter().map(|p| p.title.as_str()).collect();
        for (panel, id) in PARTICLE_CANVASES.iter().enumerate() {
            if let (Some(canvas), Some(title)) = (by_id(id), titles.get(panel)) {
                set_attr(
                    &canvas,
                    "aria-label",
                    &format!(
                        "{title}: {} tokens in {} dimensions over {} steps. The summary below the figures describes the result.",
                        self.state.token_count(),
                        self.state.d,
                        self.state.steps
                    ),
                );
            }
        }
    }

    fn schedule_url(&mut self) {
        shell::schedule_url();
    }

    fn write_url(&self) {
        shell::replace_hash(&self.full_hash());
        self.update_open_link();
    }

    /// Moves the playback position; repaints without recomputing.
    fn set_at(&mut self, at: f64) {
        self.state.at = at.clamp(0.0, 1.0);
        self.scene.state.at = self.state.at;
        if let Some(input) = by_id_as::<HtmlInputElement>("ctl-at") {
            input.set_value(&format!("{}", self.state.at));
        }
        if let Some(input) = by_id_as::<HtmlInputElement>("ctl-at-num") {
            input.set_value(&format_number(self.state.at));
        }
        set_text("ctl-at-out", &format_number(self.state.at));
        set_text(
            "step-readout",
            &format!(
                "k = {} / {}",
                self.scene.step_at(self.state.at),
                self.state.steps
            ),
        );
        let start = dom::now_ms();
        self.paint_figures();
        self.chrome.last_paint_ms = dom::now_ms() - start;
    }

    /// One step forward or back (`delta` = ±1), exactly on a step.
    fn step_by(&mut self, delta: i64) {
        let steps = self.state.steps.max(1) as i64;
        let k = (self.scene.step_at(self.state.at) as i64 + delta).clamp(0, steps);
        self.set_at(k as f64 / steps as f64);
        self.schedule_url();
    }

    fn toggle_play(&mut self) {
        self.state.at = self.chrome.playback.toggle(self.state.at);
        self.scene.state.at = self.state.at;
        if !self.chrome.playback.playing {
            self.schedule_url();
        }
    }

    fn edit_pairs(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        let (state, messages, start_playing) = self.chrome.edit(&LINKS, &self.state, pairs);
        if start_playing {
            self.toggle_play();
        }
        self.apply_state(state, messages.clone(), false);
        messages
    }

    /// The start points as they are now, row-major (what `x0` would carry).
    fn start_points(&self) -> Vec<f64> {
        self.state.initial_points()
    }

    /// Replaces the start points with `points` (switching to custom starts).
    fn set_start_points(&mut self, points: &[f64]) {
        let d = self.state.d.max(1);
        let text = points
            .chunks(d)
            .map(|p| {
                p.iter()
                    .map(|v| format_number((v * 1e4).round() / 1e4))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect::<Vec<_>>()
            .join(";");
        self.edit_pairs(&[("x0".to_string(), text)]);
    }

    fn frame(&self, canvas: &HtmlCanvasElement, panel: usize) -> ParticleFrame {
        ParticleFrame::fit(
            &self.scene,
            panel,
            canvas.width() as f64,
            canvas.height() as f64,
            dom::device_pixel_ratio(),
        )
    }

    fn pointer_down(&mut self, canvas: &HtmlCanvasElement, panel: usize, x_css: f64, y_css: f64) {
        let scale = dom::device_pixel_ratio();
        let (x, y) = (x_css * scale, y_css * scale);
        if self.state.d >= 3 {
            self.drag = Some(Drag::Rotate {
                x: x_css,
                y: y_css,
                yaw: self.state.yaw,
                pitch: self.state.pitch,
            });
            return;
        }
        let frame = self.frame(canvas, panel);
        let k = self.scene.step_at(self.state.at);
        if let Some(token) = frame.nearest_token(&self.scene, k, x, y, PICK_RADIUS * scale) {
            let focus = if self.state.focus == Some(token) {
                "none".to_string()
            } else {
                token.to_string()
            };
            if k == 0 {
                self.drag = Some(Drag::Token { panel, token });
            }
            self.edit_pairs(&[("focus".to_string(), focus)]);
            return;
        }
        let Some(point) = frame.from_px(x, y) else {
            return;
        };
        let mut points = self.start_points();
        if points.len() / self.state.d.max(1) >= params::MAX_CUSTOM_POINTS {
            self.chrome.messages = vec![Message::new(
                "x0",
                format!(
                    "at most {} tokens can be placed by hand; use n and an initial configuration for more",
                    params::MAX_CUSTOM_POINTS
                ),
            )];
            shell::show_messages(&self.chrome.messages);
            return;
        }
        points.extend(point.iter().take(self.state.d));
        self.set_start_points(&points);
    }

    fn pointer_move(&mut self, canvas: &HtmlCanvasElement, x_css: f64, y_css: f64) {
        match self.drag {
            Some(Drag::Rotate { x, y, yaw, pitch }) => {
                let new_yaw = (yaw + (x_css - x) * 0.5 + 180.0).rem_euclid(360.0) - 180.0;
                let new_pitch = (pitch + (y_css - y) * 0.5).clamp(-90.0, 90.0);
                self.edit_pairs(&[
                    ("yaw".to_string(), format_number(new_yaw.round())),
                    ("pitch".to_string(), format_number(new_pitch.round())),
                ]);
            }
            Some(Drag::Token { panel, token }) => {
                let scale = dom::device_pixel_ratio();
                let frame = self.frame(canvas, panel);
                let Some(point) = frame.from_px(x_css * scale, y_css * scale) else {
                    return;
                };
                let d = self.state.d.max(1);
                let mut points = self.start_points();
                if (token + 1) * d <= points.len() {
                    points[token * d..token * d + d.min(point.len())]
                        .copy_from_slice(&point[..d.min(point.len())]);
                    self.set_start_points(&points);
                }
            }
            None => {}
        }
    }

    fn on_key_impl(&mut self, key: &str, on_canvas: bool) -> bool {
        match key {
            "ArrowUp" | "ArrowDown" if on_canvas => {
                // Pick the token whose attention arrows are drawn.
                let n = self.state.token_count().max(1);
                let next = match (self.state.focus, key) {
                    (None, "ArrowUp") => 0,
                    (None, _) => n - 1,
                    (Some(f), "ArrowUp") => (f + 1) % n,
                    (Some(f), _) => (f + n - 1) % n,
                };
                self.edit_pairs(&[("focus".to_string(), next.to_string())]);
            }
            " " | "k" => self.toggle_play(),
            "r" | "R" => {
                self.set_at(0.0);
                self.schedule_url();
            }
            "[" | "ArrowLeft" => self.step_by(-1),
            "]" | "ArrowRight" => self.step_by(1),
            _ => return false,
        }
        true
    }
}

/// The readout of one panel at its last computed step (the quiescent sets come from the scene's
/// cache, filled once the runs finish).
fn readout_block(scene: &Scene, index: usize) -> web_sys::Element {
    let panel = &scene.panels[index];
    let run = &panel.run;
    let block = make("div", "readout-block", None);
    let _ = block.append_child(&make("h3", "", Some(&panel.title)));
    let k = run.computed_steps();
    let diag = run.state_diags().last().copied();
    let mut rows: Vec<(&str, String)> = vec![
        ("tokens", run.n().to_string()),
        ("steps computed", format!("{k} of {}", run.spec().steps)),
    ];
    if let Some(diag) = diag {
        rows.push(("hull diameter", format!("{:.6e}", diag.diameter)));
        if let Some(area) = diag.area {
            rows.push(("hull area", format!("{area:.6e}")));
        }
        rows.push(("clusters", diag.clusters.to_string()));
    }
    if let Some(hull) = run.hull_2d(k) {
        // Counted as in the notes: corners closer than the cluster tolerance are one vertex.
        let (d, tol) = (run.spec().d, run.spec().cluster_tol);
        let points = distinct_points(run.positions(k), d, tol, &hull);
        rows.push((
            "hull vertices",
            format!(
                "{points} ({} corners before merging those within {})",
                hull.len(),
                format_number(tol)
            ),
        ));
    }
    let leaders = run.leaders(k.saturating_sub(1));
    rows.push(("leaders", list_tokens(&leaders)));
    if let Some(step) = run.step_diags().last() {
        rows.push(("asymmetric pairs", step.asymmetry.to_string()));
    }
    if let Some(quiescent) = scene.quiescent(index) {
        rows.push((
            "quiescent sets",
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
    let dl = make("dl", "", None);
    for (name, value) in rows {
        let _ = dl.append_child(&make("dt", "", Some(name)));
        let _ = dl.append_child(&make("dd", "", Some(&value)));
    }
    let _ = block.append_child(&dl);
    block
}

/// "0, 3, 7, … (12 in all)".
fn list_tokens(tokens: &[usize]) -> String {
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

fn compute_chunk(generation: u64) {
    let again = with_app(|app| {
        if app.chrome.generation != generation {
            return false;
        }
        let start = dom::now_ms();
        let mut done = app.scene.is_done();
        while !done && dom::now_ms() - start < CHUNK_MS {
            done = app.scene.advance(app.steps_per_slice());
        }
        app.set_busy(!done);
        if done {
            app.render_all();
        } else {
            app.paint_figures();
        }
        !done
    })
    .unwrap_or(false);
    if again {
        dom::request_frame(move |_| compute_chunk(generation));
    }
}

fn on_click(id: &str, handler: impl Fn() + 'static) {
    if let Some(el) = by_id(id) {
        dom::listen::<Event>(&el, "click", move |_| handler());
    }
}

fn wire_events() {
    controls::wire();
    shell::wire(params::EXPLORER, |_| false);
    on_click("step-back", || {
        with_app(|app| app.step_by(-1));
    });
    on_click("step-forward", || {
        with_app(|app| app.step_by(1));
    });
    for (panel, id) in PARTICLE_CANVASES.iter().enumerate() {
        let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) else {
            continue;
        };
        let target = canvas.clone();
        dom::listen::<PointerEvent>(&canvas, "pointerdown", move |event| {
            let _ = target.set_pointer_capture(event.pointer_id());
            let (x, y) = (event.offset_x() as f64, event.offset_y() as f64);
            with_app(|app| app.pointer_down(&target, panel, x, y));
        });
        let target = canvas.clone();
        dom::listen::<PointerEvent>(&canvas, "pointermove", move |event| {
            let (x, y) = (event.offset_x() as f64, event.offset_y() as f64);
            with_app(|app| app.pointer_move(&target, x, y));
        });
        for name in ["pointerup", "pointercancel"] {
            dom::listen::<PointerEvent>(&canvas, name, |_| {
                with_app(|app| app.drag = None);
            });
        }
    }
}

impl Explorer for App {
    fn name(&self) -> &'static str {
        params::EXPLORER
    }
    fn chrome(&self) -> &Chrome {
        &self.chrome
    }
    fn chrome_mut(&mut self) -> &mut Chrome {
        &mut self.chrome
    }
    fn is_done(&self) -> bool {
        self.scene.is_done()
    }
    fn explorer_pairs(&self) -> Vec<(String, String)> {
        params::to_pairs(&self.state)
    }
    fn edit(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        self.edit_pairs(pairs)
    }
    fn write_url(&self) {
        App::write_url(self)
    }
    fn show_at(&mut self, at: f64) {
        self.set_at(at);
    }
    fn toggle_play(&mut self) {
        App::toggle_play(self)
    }
    fn speed(&self) -> f64 {
        self.state.speed
    }
    fn play_ms(&self) -> f64 {
        PLAY_MS
    }
    fn load_hash(&mut self, hash: &str) {
        let (state, messages) = self.chrome.read_link(&LINKS, hash);
        self.apply_state(state, messages, true);
    }
    fn on_key(&mut self, key: &str, on_canvas: bool) -> bool {
        self.on_key_impl(key, on_canvas)
    }
    fn relayout(&mut self, force_paint: bool) {
        App::relayout(self, force_paint)
    }
    fn state_object(&self) -> JsValue {
        super::state_object_from(
            params::EXPLORER,
            PARAMS,
            &self.state,
            &self.chrome.page,
            &self.full_hash(),
        )
    }
    fn readout_object(&self) -> JsValue {
        js_sys::JSON::parse(&self.scene.readout_json()).unwrap_or(JsValue::NULL)
    }
    fn figures(&self) -> &'static [FigureInfo] {
        FIGURES
    }
    fn canvases_in_use(&self, figure: &str) -> usize {
        if figure == "particles" {
            self.scene.panels.len().max(1)
        } else {
            1
        }
    }
    fn default_size(&self, figure: &str) -> (u32, u32) {
        Figure::parse(figure)
            .unwrap_or(Figure::Particles)
            .default_size(self.scene.panels.len())
    }
    fn svg(&self, figure: &str) -> String {
        let figure = Figure::parse(figure).unwrap_or(Figure::Particles);
        render_svg(
            &self.scene,
            figure,
            figure.default_size(self.scene.panels.len()),
            self.state.at,
        )
    }
    fn paint_figure(&self, figure: &str, root: &CanvasArea, ratio: f64) -> Result<(), String> {
        let at = self.state.at;
        match Figure::parse(figure).unwrap_or(Figure::Particles) {
            Figure::Particles => {
                explorer::draw_side_by_side(root, self.scene.panels.len(), |area, i| {
                    draw::draw_particles(area, &self.scene, i, at, ratio)
                })
            }
            Figure::Plots => {
                draw::draw_plots(root, &self.scene, at, ratio).map_err(|e| format!("{e:?}"))
            }
        }
    }
    fn csv(&self, link: &str) -> String {
        td_attention::export::csv(&self.scene, link)
    }
    fn json(&self, link: &str) -> String {
        td_attention::export::state_json(&self.scene, &self.chrome.page, link)
    }
    fn file_stem(&self) -> String {
        td_attention::export::file_stem(&self.state)
    }
    fn embed_title(&self) -> String {
        let rules = self
            .scene
            .panels
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>()
            .join(" vs ");
        format!(
            "token-dynamics: attention particles ({rules}, {} tokens)",
            self.state.token_count()
        )
    }
}
