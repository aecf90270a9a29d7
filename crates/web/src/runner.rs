//! The one page runner: state <-> controls <-> URL, scene computation in time slices, painting,
//! text panels, playback, messages, exports, embed and the script interface, for any explorer.
//! An explorer's page adds only its DOM hooks ([`WebExplorer`]).

use std::any::Any;

use plotters::prelude::*;
use td_core::explorer::{Explorer, FigureInfo, View};
use td_core::table::Message;
use td_core::url::format_number;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlCanvasElement, HtmlInputElement};

use crate::backend::PageBackend;
pub use crate::canvas::set_canvas_size;
use crate::canvas::BatchedCanvas;
use crate::chrome::{self, Chrome};
use crate::dom::{self, by_id, by_id_as, set_attr, set_text};
use crate::page::{self, with_page, CanvasArea, Page};
use crate::worker::{Remote, Reply};
use crate::{api, blocks, controls, embed, events, share};

/// Compute budget inside the event that changed the state (ms); what does not fit is computed in
/// slices of [`CHUNK_MS`] across animation frames, painting as it goes, so the page never freezes.
const SYNC_MS: f64 = 8.0;
/// One slice of a long computation (ms): leaves room for painting in a 60 Hz frame.
const CHUNK_MS: f64 = 10.0;
/// Shortest interval (ms) between two partial pictures of a scene computed by the worker.
const PARTIAL_PAINT_MS: f64 = 100.0;
/// Shortest span one `tokenDynamics.bench` timing covers (see `Page::bench`).
const BENCH_SPAN_MS: f64 = 20.0;

/// What an explorer's page adds to the runner: its own DOM (pointer editing, extra panels) and
/// where its models come from. Everything has a default; an explorer overrides what it has.
pub trait WebExplorer: Explorer + Sized {
    /// Page state that is not in the link (a drag in progress, the selected bar …).
    type Local: Default + 'static;

    /// The models the first scene uses (the energy lab starts its weights download here).
    fn initial_models(st: &Self::State) -> Self::Models;
    /// The data window a drag in progress keeps its figure to ([`View::hold`]).
    fn view_hold(_local: &Self::Local) -> Option<[f64; 4]> {
        None
    }
    /// A narrower span for a log slider (typing still reaches the whole range).
    fn slider_range(_key: &str) -> Option<(f64, f64)> {
        None
    }
    /// Text keys edited in a multi-line box.
    fn textareas() -> &'static [&'static str] {
        &[]
    }
    /// Controls shown above the figures (in `#lead-controls`) rather than in the control panel:
    /// the object of study itself, such as the energy lab's text.
    fn lead_controls() -> &'static [&'static str] {
        &[]
    }
    /// Wires the explorer's own events, once, after the runner exists.
    fn wire() {}
    /// Elements whose keys belong to them (an editor canvas): page shortcuts leave them alone.
    fn is_typing_target(_el: &web_sys::Element) -> bool {
        false
    }
    /// A key pressed outside text fields; true if used. Default: Space plays, R restarts,
    /// [ ] and ← → step the position by 1%.
    fn on_key(r: &mut Runner<Self>, key: &str, _on_canvas: bool) -> bool {
        let at = Self::at(&r.state);
        match key {
            " " | "k" => r.toggle_play(),
            "r" | "R" => r.scrub(0.0),
            "[" | "ArrowLeft" => r.scrub(at - 0.01),
            "]" | "ArrowRight" => r.scrub(at + 0.01),
            _ => return false,
        }
        true
    }
    /// After the text panels are rendered: the explorer's own DOM (token strip, editor).
    fn render_extra(_r: &mut Runner<Self>) {}
    /// After the position moved (step readouts).
    fn on_position(_r: &mut Runner<Self>) {}
    /// What the page sends its worker with a job so the worker can build the scene's models
    /// (the energy lab's weights); None when the models need nothing from the page.
    fn job_payload(_r: &Runner<Self>) -> Option<JsValue> {
        None
    }
    /// Whether the worker can have the scene's models now (the energy lab's are still arriving).
    fn remote_ready(_r: &Runner<Self>) -> bool {
        true
    }
    /// In the worker: the models of a scene from what the page sent; None when this explorer's
    /// scenes are not computed in a worker.
    fn worker_models(_st: &Self::State, _payload: &JsValue) -> Option<Self::Models> {
        None
    }
}

/// The running page of explorer `E`.
pub struct Runner<E: WebExplorer> {
    pub state: E::State,
    pub scene: E::Scene,
    pub models: E::Models,
    pub chrome: Chrome,
    /// The item the reader points at (selected bar, hovered byte), drawn highlighted.
    pub focus: Option<usize>,
    pub local: E::Local,
    /// The scene was made for the current state and has not been advanced yet (start-up).
    fresh: bool,
    /// The page's workers, the generation of the scene they are computing (if any), and per part
    /// of it whether it is done and how far it is.
    remote: Remote,
    remote_generation: Option<u64>,
    remote_parts: Vec<(bool, f64)>,
    /// When the last partial picture of a remote scene was painted, and what it cost (ms): the
    /// page paints partial results at most a quarter of the time, so the worker keeps a core.
    partial_paint: (f64, f64),
    /// The figure the next partial paint of a worker's progress paints (one per reply, in turn).
    partial_figure: usize,
}

/// Starts the page of explorer `E`: controls and presets from its table, the state from the
/// address bar, the first scene, every listener and the script interface.
pub fn run<E: WebExplorer>() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_none() {
        return; // in the page's worker: it waits for jobs (crate::worker)
    }
    controls::build(
        E::params(),
        &E::groups(),
        E::playback_group(),
        E::slider_range,
    );
    controls::use_textareas(E::textareas());
    controls::lead(E::lead_controls());
    chrome::build_presets(E::presets());
    let hash = dom::window().location().hash().unwrap_or_default();
    let mut chrome = Chrome::new(td_core::page::PageOptions::default());
    let (state, messages) = chrome.read_link::<E>(&hash);
    let models = E::initial_models(&state);
    let scene = E::new_scene(&state, &models);
    page::install(Box::new(Runner::<E> {
        state,
        scene,
        models,
        chrome,
        focus: None,
        local: E::Local::default(),
        fresh: true,
        remote: Remote::new(),
        remote_generation: None,
        remote_parts: Vec::new(),
        partial_paint: (f64::NEG_INFINITY, 0.0),
        partial_figure: 0,
    }));
    controls::wire();
    events::wire(E::NAME, E::is_typing_target);
    E::wire();
    with_runner::<E, _>(|r| {
        let state = r.state.clone();
        r.apply_state(state, messages, true);
    });
    api::install::<E>();
    embed::install();
    share::install();
}

/// Runs `f` on the running page as the runner of `E` (None if busy or another explorer).
pub fn with_runner<E: WebExplorer, R>(f: impl FnOnce(&mut Runner<E>) -> R) -> Option<R> {
    with_page(|p| p.as_any_mut().downcast_mut::<Runner<E>>().map(f)).flatten()
}

impl<E: WebExplorer> Runner<E> {
    /// Installs a new state: messages, controls, scene (rebuilt only if the computation changed),
    /// URL. `replace_messages` for a fresh link.
    pub fn apply_state(&mut self, state: E::State, messages: Vec<Message>, replace: bool) {
        let recompute = !self.chrome.ready
            || E::computation_key(&state) != E::computation_key(E::scene_state(&self.scene));
        let panels_before = self.panels_in_use();
        self.state = state;
        let page_changed = self.chrome.begin_apply::<E>(messages, replace);
        // The controls after the picture, unless the page's layout changed (the canvases are
        // then sized after the controls settle): written first, they leave the style dirty, and
        // the picture's first `font` forces a style recalculation inside the change's task
        // (about half a millisecond of a slider step), then another at the frame.
        if page_changed {
            self.sync_controls();
        }
        if recompute {
            if page_changed {
                self.layout_canvases();
            }
            self.rebuild_scene();
        } else {
            E::set_scene_state(&mut self.scene, &self.state);
            if self.panels_in_use() != panels_before || page_changed {
                self.layout_canvases();
            }
            let start = dom::now_ms();
            self.render_all();
            self.chrome.last_paint_ms = dom::now_ms() - start;
        }
        if !page_changed {
            self.sync_controls();
        }
        page::schedule_url();
    }

    /// Writes the state into the controls and the open-in-a-tab link (timed as `controls`).
    fn sync_controls(&mut self) {
        let t0 = dom::now_ms();
        let page = &self.chrome.page;
        controls::sync(E::params(), &self.state, &|param| {
            (param.relevant)(&self.state)
                && chrome::control_shown(page, param.key, E::controlled_by, E::embed_strip())
        });
        self.update_open_link();
        self.chrome.timings.push(("controls", dom::now_ms() - t0));
    }

    /// Canvases in use per figure (compare modes use several).
    fn panels_in_use(&self) -> Vec<usize> {
        E::figures()
            .iter()
            .map(|f| E::figure_panels(&self.scene, f.name))
            .collect()
    }

    /// A new scene for the state, computed for up to 8 ms now (or whole, if small) and the
    /// rest in slices across frames.
    pub fn rebuild_scene(&mut self) {
        self.chrome.generation += 1;
        let panels_before = self.panels_in_use();
        E::follow_state(&mut self.models, &self.state);
        let reuse = self.fresh
            && E::computation_key(E::scene_state(&self.scene)) == E::computation_key(&self.state);
        if !reuse && !self.prepare_within(SYNC_MS) {
            // The rest in tasks of their own; a newer state supersedes them (the generation).
            chrome::set_busy(true, 0.0);
            let generation = self.chrome.generation;
            dom::set_timeout(move || prepare_state_chunk::<E>(generation), 0);
            return;
        }
        let t0 = dom::now_ms();
        if reuse {
            E::set_scene_state(&mut self.scene, &self.state);
        } else {
            self.scene = E::new_scene(&self.state, &self.models);
        }
        self.chrome.timings.push(("scene", dom::now_ms() - t0));
        self.fresh = false;
        if self.panels_in_use() != panels_before || !self.chrome.ready {
            // Size the canvases before painting: resizing a canvas clears it.
            self.layout_canvases();
        }
        if self.compute_remotely() {
            return;
        }
        let start = dom::now_ms();
        let done = if E::compute_at_once(&self.scene) {
            E::run_to_end(&mut self.scene);
            E::is_done(&self.scene)
        } else {
            self.compute_for(start, SYNC_MS)
        };
        self.chrome.timings.push(("compute", dom::now_ms() - start));
        self.render_all();
        self.chrome.last_paint_ms = dom::now_ms() - start;
        self.continue_later(done);
    }

    /// Runs [`Explorer::prepare_state`] for up to `budget_ms`; true when the state is ready for
    /// its scene.
    fn prepare_within(&self, budget_ms: f64) -> bool {
        let start = dom::now_ms();
        loop {
            if E::prepare_state(&self.state) {
                return true;
            }
            if dom::now_ms() - start > budget_ms {
                return false;
            }
        }
    }

    /// Sends the new scene to the worker when it does not fit a frame; true if the worker took it
    /// (the page then paints what arrives). A job still running for an older scene is dropped.
    fn compute_remotely(&mut self) -> bool {
        let generation = self.chrome.generation;
        let parts = if E::offload(&self.scene) && !self.remote.unavailable && E::remote_ready(self)
        {
            let payload = E::job_payload(self);
            let hash = E::to_hash(&E::computation_key(&self.state));
            let shards = E::shards(&self.scene).min(crate::worker::worker_limit());
            self.remote.post(
                E::NAME,
                generation,
                &hash,
                payload.as_ref(),
                shards,
                on_reply::<E>,
            )
        } else {
            0
        };
        let remote = parts > 0;
        if remote {
            self.remote_generation = Some(generation);
            self.remote_parts = vec![(false, 0.0); parts];
            self.partial_paint = (f64::NEG_INFINITY, 0.0);
            chrome::set_busy(true, 0.0);
            // The empty picture after the next frame, a figure per task: the event that
            // changed the state stays short, and so does every task after it. Not inside the
            // frame's callback: that task also lays out what the change altered and rasterises
            // the canvases, and with a 2,000-token figure the three passed 50 ms. Not if the
            // worker's last reply came first (its own paint shows everything).
            dom::request_frame(move |_| {
                dom::set_timeout(
                    move || {
                        if with_runner::<E, _>(|r| r.remote_generation.is_some()) == Some(true) {
                            render_step::<E>(generation, 0, |_| {});
                        }
                    },
                    0,
                );
            });
            dom::set_timeout(move || prepare_chunk::<E>(generation), 0);
        } else if self.remote_generation.take().is_some() {
            self.remote.cancel();
        }
        remote
    }

    /// Takes over what the worker computed for the current scene, and paints it.
    fn on_remote(&mut self, reply: Reply) {
        match reply {
            Reply::Progress {
                generation,
                shard,
                done,
                progress,
                payload,
            } if Some(generation) == self.remote_generation && shard < self.remote_parts.len() => {
                let start = dom::now_ms();
                if let Err(error) = E::apply_progress(&mut self.scene, &payload) {
                    self.compute_here(&error.to_string());
                    return;
                }
                self.chrome.timings.push(("apply", dom::now_ms() - start));
                self.remote_parts[shard] = (done, progress);
                let parts = self.remote_parts.len();
                let done = self.remote_parts.iter().all(|p| p.0);
                let progress = self.remote_parts.iter().map(|p| p.1).sum::<f64>() / parts as f64;
                if done {
                    if parts > 1 {
                        E::finish_shards(&mut self.scene);
                    }
                    self.remote_generation = None;
                    // The last reply's decoding (and the scene's finishing diagnostics) and the
                    // final paint are separate tasks, not one long one, and so is each figure of
                    // the paint (a 2,000-token figure alone is 10–30 ms); the page stays busy
                    // until the last (a newer scene takes over them all).
                    let generation = self.chrome.generation;
                    dom::set_timeout(
                        move || {
                            render_step::<E>(generation, 0, |_| chrome::set_busy(false, 1.0));
                        },
                        0,
                    );
                    return;
                } else {
                    let (last, cost) = self.partial_paint;
                    let now = dom::now_ms();
                    if now - last >= (4.0 * cost).max(PARTIAL_PAINT_MS) {
                        // One figure per reply, in turn: applying and painting stay one short task.
                        let figures = E::figures();
                        self.paint_one(&figures[self.partial_figure % figures.len()]);
                        self.partial_figure = (self.partial_figure + 1) % figures.len();
                        let end = dom::now_ms();
                        self.partial_paint = (end, end - now);
                        self.chrome.last_paint_ms = end - start;
                    }
                }
                chrome::set_busy(!done, progress);
            }
            Reply::Failed {
                generation,
                message,
            } if generation == u64::MAX || Some(generation) == self.remote_generation => {
                self.compute_here(&message);
            }
            _ => {} // an older scene's: superseded
        }
    }

    /// The worker cannot help: compute on the page from now on (the current scene too).
    fn compute_here(&mut self, why: &str) {
        web_sys::console::warn_1(&format!("computing on the page: {why}").into());
        self.remote.disable();
        if self.remote_generation.take().is_some() {
            self.rebuild_scene();
        }
    }

    /// Advances the scene until it is done, waits, or `budget_ms` after `start` has passed.
    fn compute_for(&mut self, start: f64, budget_ms: f64) -> bool {
        let units = E::slice_units(&self.scene);
        let mut done = E::is_done(&self.scene);
        while !done && !E::is_waiting(&self.scene) && dom::now_ms() - start < budget_ms {
            done = E::advance(&mut self.scene, units);
        }
        done
    }

    /// Shows the busy state and schedules the next slice if there is work left.
    fn continue_later(&mut self, done: bool) {
        let more = !done && !E::is_waiting(&self.scene);
        chrome::set_busy(more, E::progress(&self.scene));
        if more {
            let generation = self.chrome.generation;
            dom::request_frame(move |_| compute_chunk::<E>(generation));
        }
    }

    fn mark_ready(&mut self) {
        if self.chrome.mark_ready() {
            embed::on_ready(self);
            if self.chrome.autoplay_due() {
                self.toggle_play();
            }
        }
    }

    fn update_open_link(&self) {
        if self.chrome.page.embed {
            chrome::update_open_link(E::NAME, E::to_pairs(&self.state), &self.chrome.page);
        }
    }

    /// Sizes every canvas to its container at the device pixel ratio (sharp on HiDPI screens);
    /// canvases beyond a figure's panels in use are hidden. True when a canvas changed size.
    pub fn layout_canvases(&self) -> bool {
        for info in E::figures() {
            let in_use = E::figure_panels(&self.scene, info.name);
            for (i, id) in info.canvas_ids.iter().enumerate().skip(1) {
                if let Some(wrap) = by_id(id).and_then(|c| c.parent_element()) {
                    if i < in_use {
                        let _ = wrap.remove_attribute("hidden");
                    } else {
                        set_attr(&wrap, "hidden", "");
                    }
                }
            }
        }
        if self.chrome.page.embed {
            let in_use = |figure: &str| E::figure_panels(&self.scene, figure);
            return embed::layout(E::figures(), &in_use, &self.chrome.page);
        }
        let mut changed = false;
        for info in E::figures() {
            let in_use = E::figure_panels(&self.scene, info.name).max(1);
            for id in info.canvas_ids.iter().take(in_use) {
                if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
                    let cap = pinned_height_cap(&canvas);
                    let min_width = match (cap.is_some(), info.canvas_ids.len() > 1) {
                        (true, _) => 80.0,
                        (false, true) => 160.0,
                        (false, false) => 200.0,
                    };
                    let width = canvas
                        .parent_element()
                        .map(|p| p.client_width() as f64)
                        .unwrap_or(400.0)
                        .max(min_width);
                    let height = fit_height(info.page_height, width, cap);
                    changed |= set_canvas_size(&canvas, width, height);
                }
            }
        }
        changed
    }

    fn view(&self) -> View {
        View {
            at: E::at(&self.state),
            scale: dom::device_pixel_ratio(),
            focus: self.focus,
            hold: E::view_hold(&self.local),
        }
    }

    /// Paints every canvas and refreshes the text.
    pub fn render_all(&mut self) {
        let start = dom::now_ms();
        self.paint_figures();
        self.render_text_and_mark_ready();
        self.chrome.last_paint_ms = dom::now_ms() - start;
    }

    /// Refreshes the text (timed as `text`), and marks the page ready once the scene is done.
    fn render_text_and_mark_ready(&mut self) {
        let start = dom::now_ms();
        self.render_text();
        self.chrome.timings.push(("text", dom::now_ms() - start));
        if E::is_done(&self.scene) {
            self.mark_ready();
        }
    }

    /// Paints every canvas in use.
    pub fn paint_figures(&mut self) {
        for info in E::figures() {
            self.paint_one(info);
        }
    }

    /// Paints one figure's canvases (timed as `paint-<name>`).
    pub fn paint_one(&mut self, info: &'static FigureInfo) {
        let start = dom::now_ms();
        let view = self.view();
        let in_use = E::figure_panels(&self.scene, info.name).max(1);
        for (panel, id) in info.canvas_ids.iter().enumerate().take(in_use) {
            if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
                paint(&canvas, |area| {
                    E::draw(&self.scene, info.name, panel, area, &view)
                });
            }
        }
        let name: &'static str = match info.name {
            "simplex" => "paint-simplex",
            "series" => "paint-series",
            "logits" => "paint-logits",
            "particles" => "paint-particles",
            "plots" => "paint-plots",
            _ => "paint",
        };
        self.chrome.timings.push((name, dom::now_ms() - start));
    }

    /// Paints the figure named `name` only.
    pub fn paint_named(&mut self, name: &str) {
        if let Some(info) = E::figure(name) {
            self.paint_one(info);
        }
    }

    fn render_text(&mut self) {
        if let Some(list) = by_id("notes") {
            blocks::fill_list(&list, &E::notes(&self.scene));
        }
        if let Some(line) = by_id("rule-line") {
            blocks::fill_list(&line, &E::rule_lines(&self.scene));
        }
        for panel in E::text_panels() {
            if panel.name == "notes" {
                continue;
            }
            let content = E::text_panel(&self.scene, panel.name);
            if let (Some(el), false) = (by_id(panel.name), content.is_empty()) {
                blocks::render(&el, &content);
            }
        }
        let summary = E::summary(&self.scene);
        set_text("summary", &summary);
        chrome::announce_settled(&summary);
        share::data_table_changed();
        for info in E::figures() {
            for (panel, id) in info.canvas_ids.iter().enumerate() {
                if let Some(canvas) = by_id(id) {
                    set_attr(
                        &canvas,
                        "aria-label",
                        &E::canvas_label(&self.scene, info.name, panel),
                    );
                }
            }
        }
        E::render_extra(self);
    }

    pub fn write_url(&self) {
        chrome::replace_hash(&self.full_hash());
        self.update_open_link();
    }

    /// Moves the playback position; repaints without recomputing.
    pub fn set_at(&mut self, at: f64) {
        let at = at.clamp(0.0, 1.0);
        E::set_at(&mut self.state, at);
        E::set_scene_state(&mut self.scene, &self.state);
        if let Some(input) = by_id_as::<HtmlInputElement>("ctl-at") {
            input.set_value(&format!("{at}"));
        }
        // What the boxes show: the position to the slider's step (playback passes through
        // every float in between, which read as 0.1339800000000745).
        let shown = format_number(position_step(at));
        if let Some(input) = by_id_as::<HtmlInputElement>("ctl-at-num") {
            input.set_value(&shown);
        }
        set_text("ctl-at-out", &shown);
        let start = dom::now_ms();
        self.paint_figures();
        E::on_position(self);
        self.chrome.last_paint_ms = dom::now_ms() - start;
    }

    pub fn scrub(&mut self, at: f64) {
        self.set_at(at);
        page::schedule_url();
    }

    pub fn toggle_play(&mut self) {
        let at = self.chrome.playback.toggle(E::at(&self.state));
        if self.chrome.playback.playing {
            E::set_at(&mut self.state, at);
            E::set_scene_state(&mut self.scene, &self.state);
            page::start_playback();
        } else {
            // Paused: the position snaps to the slider's step, so the link and the boxes read it.
            self.set_at(position_step(at));
            page::schedule_url();
        }
    }

    /// Applies key=value edits from a control, a pointer or a script (validated like a link).
    pub fn edit_pairs(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        let (state, messages, start_playing) = self.chrome.edit::<E>(&self.state, pairs);
        if start_playing {
            self.toggle_play();
        }
        self.apply_state(state, messages.clone(), false);
        messages
    }

    /// Shows one message in the banner (replacing the ones shown).
    pub fn tell(&mut self, key: &str, text: impl Into<String>) {
        self.chrome.messages = vec![Message::new(key, text)];
        chrome::show_messages(&self.chrome.messages);
    }
}

impl<E: WebExplorer> Page for Runner<E> {
    fn name(&self) -> &'static str {
        E::NAME
    }
    fn chrome(&self) -> &Chrome {
        &self.chrome
    }
    fn chrome_mut(&mut self) -> &mut Chrome {
        &mut self.chrome
    }
    fn is_done(&self) -> bool {
        E::is_done(&self.scene)
    }
    fn explorer_pairs(&self) -> Vec<(String, String)> {
        E::to_pairs(&self.state)
    }
    fn edit(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        self.edit_pairs(pairs)
    }
    fn write_url(&self) {
        Runner::write_url(self)
    }
    fn show_at(&mut self, at: f64) {
        self.set_at(at);
    }
    fn toggle_play(&mut self) {
        Runner::toggle_play(self)
    }
    fn speed(&self) -> f64 {
        E::speed(&self.state)
    }
    fn play_ms(&self) -> f64 {
        E::PLAY_MS
    }
    fn load_hash(&mut self, hash: &str) {
        let (state, messages) = self.chrome.read_link::<E>(hash);
        self.apply_state(state, messages, true);
    }
    fn on_key(&mut self, key: &str, on_canvas: bool) -> bool {
        E::on_key(self, key, on_canvas)
    }
    fn relayout(&mut self, force_paint: bool) {
        if self.layout_canvases() || force_paint {
            self.render_all();
        }
    }
    fn state_object(&self) -> JsValue {
        api::state_object_of::<E>(&self.state, &self.chrome.page, &self.full_hash())
    }
    fn readout_object(&self) -> JsValue {
        js_sys::JSON::parse(&E::readout_json(&self.scene)).unwrap_or(JsValue::NULL)
    }
    fn text_panels(&self) -> &'static [td_core::explorer::TextPanel] {
        E::text_panels()
    }
    fn figures(&self) -> &'static [FigureInfo] {
        E::figures()
    }
    fn canvases_in_use(&self, figure: &str) -> usize {
        E::figure_panels(&self.scene, figure).max(1)
    }
    fn default_size(&self, figure: &str) -> (u32, u32) {
        E::default_size(&self.scene, figure)
    }
    fn svg(&self, figure: &str) -> String {
        let size = E::default_size(&self.scene, figure);
        render_svg::<E>(&self.scene, figure, size, E::at(&self.state))
    }
    fn paint_figure(&self, figure: &str, root: &CanvasArea<'_>, ratio: f64) -> Result<(), String> {
        let view = View {
            at: E::at(&self.state),
            scale: ratio,
            focus: None,
            hold: None,
        };
        E::draw_export(&self.scene, figure, root, &view).map_err(|e| format!("{e:?}"))
    }
    fn export_caption_height(&self, figure: &str, css_width: f64) -> f64 {
        E::export_caption_height(&self.scene, figure, css_width, 1.0)
    }
    fn csv(&self, link: &str) -> String {
        E::csv(&self.scene, link)
    }
    fn json(&self, link: &str) -> String {
        E::json(&self.scene, &self.chrome.page, link)
    }
    fn file_stem(&self) -> String {
        E::file_stem(&self.state)
    }
    fn embed_title(&self) -> String {
        E::embed_title(&self.scene)
    }
    /// One timing of scenario `name` in ms: a run, or for a scenario shorter than
    /// [`BENCH_SPAN_MS`] the mean of back-to-back runs filling that span (outside cross-origin
    /// isolation Chromium's clock ticks in 0.1 ms, a tenth of the V = 3 scenario).
    fn bench(&mut self, name: &str) -> Option<f64> {
        E::bench_prepare(name);
        let start = dom::now_ms();
        let mut runs = 0u32;
        loop {
            std::hint::black_box(E::bench_run(name)?);
            runs += 1;
            let elapsed = dom::now_ms() - start;
            if elapsed >= BENCH_SPAN_MS {
                return Some(elapsed / f64::from(runs));
            }
        }
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// The playback position to the Position slider's step (0.001 on every page).
fn position_step(at: f64) -> f64 {
    (at * 1000.0).round() / 1000.0
}

/// Paints figure `step` of the page (then the next in a task of its own), and after the last one
/// the text and `finish`, unless a newer scene (`generation`) took over: heavy scenes' pictures in
/// tasks of one figure each.
fn render_step<E: WebExplorer>(generation: u64, step: usize, finish: fn(&mut Runner<E>)) {
    let more = with_runner::<E, _>(|r| {
        if r.chrome.generation != generation {
            return false;
        }
        let start = dom::now_ms();
        if let Some(info) = E::figures().get(step) {
            r.paint_one(info);
            r.chrome.last_paint_ms = dom::now_ms() - start;
            return true;
        }
        r.render_text_and_mark_ready();
        finish(r);
        false
    });
    if more == Some(true) {
        // A timer rather than a frame: a hidden page still finishes (and stops being busy).
        dom::set_timeout(move || render_step::<E>(generation, step + 1, finish), 0);
    }
}

/// A message from the worker (for the runner of explorer `E`).
fn on_reply<E: WebExplorer>(reply: Reply) {
    with_runner::<E, _>(|r| r.on_remote(reply));
}

/// One slice of a long computation; schedules the next until the scene is done (a newer scene
/// stops it).
fn compute_chunk<E: WebExplorer>(generation: u64) {
    with_runner::<E, _>(|r| {
        if r.chrome.generation != generation {
            return;
        }
        let done = r.compute_for(dom::now_ms(), CHUNK_MS);
        if done {
            r.render_all();
        } else {
            r.paint_figures();
        }
        r.continue_later(done);
    });
}

/// Before a scene is built: its state's preparation in slices, one task each, then the scene
/// (unless a newer state replaced it meanwhile).
fn prepare_state_chunk<E: WebExplorer>(generation: u64) {
    let more = with_runner::<E, _>(|r| {
        if r.chrome.generation != generation {
            return false;
        }
        if r.prepare_within(CHUNK_MS) {
            r.rebuild_scene();
            false
        } else {
            true
        }
    });
    if more == Some(true) {
        dom::set_timeout(move || prepare_state_chunk::<E>(generation), 0);
    }
}

/// While the worker computes: one piece of the page copy's set-up per task
/// ([`Explorer::prepare_for_progress`]) until none is left, the scene is done or a newer one
/// replaced it.
fn prepare_chunk<E: WebExplorer>(generation: u64) {
    let more = with_runner::<E, _>(|r| {
        r.chrome.generation == generation
            && r.remote_generation == Some(generation)
            && E::prepare_for_progress(&mut r.scene)
    });
    if more == Some(true) {
        dom::set_timeout(move || prepare_chunk::<E>(generation), 0);
    }
}

/// One figure as an SVG document: [`Explorer::render_svg`] through the page's one backend type
/// (the same bytes; see [`crate::backend`]).
fn render_svg<E: Explorer>(scene: &E::Scene, figure: &str, size: (u32, u32), at: f64) -> String {
    td_core::explorer::svg_document::<E>(scene, figure, size, at, |backend, view| {
        let root = PageBackend::Svg(backend).into_drawing_area();
        E::draw_export(scene, figure, &root, view)
            .and_then(|_| root.present())
            .map_err(|error| format!("{error:?}"))
    })
}

/// Paints one canvas with a drawing function; drawing errors are logged, never fatal.
pub fn paint<F>(canvas: &HtmlCanvasElement, draw_fn: F)
where
    F: FnOnce(&CanvasArea<'static>) -> Result<(), DrawingAreaErrorKind<crate::backend::PageError>>,
{
    let Some(backend) = BatchedCanvas::new(canvas).map(PageBackend::Canvas) else {
        return;
    };
    let root = backend.into_drawing_area();
    if let Err(error) = draw_fn(&root).and_then(|_| root.present()) {
        web_sys::console::warn_1(&format!("drawing failed: {error:?}").into());
    }
}

/// Worker side: [`crate::worker::begin`] with the models the explorer builds from the page's
/// payload (here rather than in `worker`, which the runner uses: no module cycle).
pub fn begin_in_worker<E: WebExplorer>(
    hash: &str,
    payload: &JsValue,
    shard: u32,
    shards: u32,
) -> bool {
    let (state, _) = E::from_hash(hash);
    match E::worker_models(&state, payload) {
        Some(models) => {
            crate::worker::begin::<E>(hash, models, shard as usize, shards.max(1) as usize)
        }
        None => false,
    }
}

/// The tallest a figure may be while its panel is pinned to the top of a phone's screen (the
/// `.pin` block is sticky there, `www/style.css`): 40% of the window, so the controls beneath it
/// stay in reach. None when the figure is not pinned.
fn pinned_height_cap(canvas: &HtmlCanvasElement) -> Option<f64> {
    let pin = canvas.closest(".pin").ok().flatten()?;
    let window = dom::window();
    let position = window
        .get_computed_style(&pin)
        .ok()
        .flatten()?
        .get_property_value("position")
        .ok()?;
    if position != "sticky" {
        return None;
    }
    let height = window.inner_height().ok()?.as_f64()?;
    Some((0.4 * height).max(120.0))
}

/// The figure's height at `width`: its page height, at most `cap` (every figure lays itself out
/// in whatever box it is given).
fn fit_height(page_height: fn(f64) -> f64, width: f64, cap: Option<f64>) -> f64 {
    let height = page_height(width).round();
    cap.map_or(height, |cap| height.min(cap.round()))
}
