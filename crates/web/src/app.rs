//! The next-token explorer's page: state <-> controls <-> URL, chunked computation, painting, animation.

use std::cell::RefCell;

use plotters::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Event, HtmlCanvasElement, HtmlInputElement, KeyboardEvent, PointerEvent};

use super::canvas::BatchedCanvas;
use super::controls::{self, is_focused};
use super::dom::{self, by_id, by_id_as, make, set_attr, set_text};
use super::embed;
use super::shell::{self, Chrome, LinkSpec};
use td_core::page::{self, PageOptions};
use td_core::url::format_number;
use td_next_token::draw::{self, LogitsFrame, SimplexFrame};
use td_next_token::params::{self, GenMode, Message, Start, State, PARAMS};
use td_next_token::presets::PRESETS;
use td_next_token::scene::{self, Scene};
use td_next_token::svg::{render_svg, Figure};

/// Work (V × samples × runs) above which the scene is computed in chunks across frames.
const SYNC_WORK_LIMIT: usize = 4_000_000;
/// Time slice for one chunk of a large computation, in ms (leaves room for painting in a 60 Hz frame).
const CHUNK_MS: f64 = 10.0;
/// The whole horizon plays in this many ms at speed 1.
const PLAY_MS: f64 = 4000.0;
/// Controls that the compact strip of an embedded page shows (before `hide=`).
const EMBED_STRIP: &[&str] = &["T", "flow", "trunc", "k", "top_p", "min_p", "at"];

pub use td_next_token::params::{control_keys, PANELS};

pub struct App {
    pub state: State,
    pub scene: Scene,
    chrome: Chrome,
    selected_bar: Option<usize>,
    dragging_bar: bool,
}

/// Applies link pairs in the link's order (page keys are skipped by `apply_pair`).
fn apply_in_order(state: &mut State, pairs: &[(String, String)], messages: &mut Vec<Message>) {
    for (key, value) in pairs {
        params::apply_pair(state, key, value, messages);
    }
}

/// The next-token explorer's links, as the page chrome reads them.
static LINKS: LinkSpec<State> = LinkSpec {
    panels: PANELS,
    control_keys,
    from_hash: params::from_hash,
    apply_pairs: apply_in_order,
    normalise: params::normalise,
    figures: FIGURES,
    text_panels: TEXT_PANELS,
};

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
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
    controls::build(PARAMS, &groups, params::Group::Playback, |key| {
        // The temperature slider spans 0.01..100; typing reaches the full range.
        (key == "T").then_some((0.01, 100.0))
    });
    shell::build_presets(PRESETS);
    wire_events();
    let hash = dom::window().location().hash().unwrap_or_default();
    let mut chrome = Chrome::new(PageOptions::default());
    let (state, messages) = chrome.read_link(&LINKS, &hash);
    let scene = Scene::new(state.clone());
    APP.with(|cell| {
        *cell.borrow_mut() = Some(App {
            state,
            scene,
            chrome,
            selected_bar: None,
            dragging_bar: false,
        })
    });
    with_app(|app| {
        let state = app.state.clone();
        app.apply_state(state, messages, true);
    });
}

impl App {
    /// Installs a new state: messages, controls, scene, URL. `replace_messages` for a fresh link.
    pub fn apply_state(&mut self, state: State, messages: Vec<Message>, replace_messages: bool) {
        let panels_before = self.scene.panels.len();
        self.state = state;
        let t0 = dom::now_ms();
        let page_changed = self.chrome.begin_apply(&LINKS, messages, replace_messages);
        let page = &self.chrome.page;
        controls::sync(PARAMS, &self.state, &|param| {
            (param.relevant)(&self.state)
                && embed::control_shown(page, param.key, params::controlled_by, EMBED_STRIP)
        });
        if self.chrome.page.embed {
            embed::update_open_link(
                params::EXPLORER,
                params::to_pairs(&self.state),
                &self.chrome.page,
            );
        }
        self.chrome.timings.push(("controls", dom::now_ms() - t0));
        let panels_after = match self.state.flow {
            params::FlowChoice::Compare => 2,
            _ => 1,
        };
        if panels_after != panels_before || !self.chrome.ready || page_changed {
            // Size the canvases before painting: resizing a canvas clears it.
            layout_canvases(panels_after, &self.chrome.page);
        }
        self.rebuild_scene();
        self.schedule_url();
    }

    /// Applies key=value edits from a control or script.
    pub fn edit(&mut self, pairs: &[(String, String)]) -> Vec<Message> {
        let (state, messages, start_playing) = self.chrome.edit(&LINKS, &self.state, pairs);
        if start_playing {
            self.toggle_play();
        }
        self.apply_state(state, messages.clone(), false);
        messages
    }

    fn rebuild_scene(&mut self) {
        self.chrome.generation += 1;
        self.scene = Scene::new(self.state.clone());
        let runs = self.scene.run_count();
        let work = self.scene.v * self.scene.samples * runs.max(1);
        if work <= SYNC_WORK_LIMIT {
            let start = dom::now_ms();
            self.scene.advance(usize::MAX);
            self.chrome.timings.push(("compute", dom::now_ms() - start));
            self.render_all();
            self.chrome.last_paint_ms = dom::now_ms() - start;
            self.set_busy(false);
        } else {
            self.set_busy(true);
            self.render_all();
            let generation = self.chrome.generation;
            dom::request_frame(move |_| compute_chunk(generation));
        }
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

    /// The whole link: the explorer's keys and the page options, defaults left out.
    pub fn full_hash(&self) -> String {
        let mut pairs = params::to_pairs(&self.state);
        pairs.extend(page::to_pairs(&self.chrome.page));
        td_core::url::join_hash(params::EXPLORER, &pairs)
    }

    /// Re-lays the canvases out (after a resize); repaints when a canvas changed size.
    pub fn relayout(&mut self, force_paint: bool) {
        let changed = layout_canvases(self.scene.panels.len(), &self.chrome.page);
        if changed || force_paint {
            self.render_all();
        }
    }

    /// Paints every canvas and refreshes the text readouts.
    pub fn render_all(&mut self) {
        let start = dom::now_ms();
        self.paint_simplex_and_series();
        let t1 = dom::now_ms();
        self.paint_logits();
        let t2 = dom::now_ms();
        self.render_text();
        let t3 = dom::now_ms();
        self.chrome.timings.push(("paint-logits", t2 - t1));
        self.chrome.timings.push(("text", t3 - t2));
        self.chrome.last_paint_ms = t3 - start;
        if self.scene.is_done() {
            self.mark_ready();
        }
    }

    fn paint_simplex_and_series(&mut self) {
        let scale = dom::device_pixel_ratio();
        let at = self.state.at;
        let t0 = dom::now_ms();
        for panel in 0..self.scene.panels.len().min(2) {
            let id = if panel == 0 {
                "simplex-canvas"
            } else {
                "simplex-canvas-2"
            };
            if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
                paint(&canvas, |area| {
                    draw::draw_simplex(area, &self.scene, panel, at, scale)
                });
            }
        }
        let t1 = dom::now_ms();
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>("series-canvas") {
            paint(&canvas, |area| {
                draw::draw_series(area, &self.scene, at, scale)
            });
        }
        self.chrome.timings.push(("paint-simplex", t1 - t0));
        self.chrome
            .timings
            .push(("paint-series", dom::now_ms() - t1));
    }

    fn paint_logits(&self) {
        let scale = dom::device_pixel_ratio();
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>("logits-canvas") {
            paint(&canvas, |area| {
                draw::draw_logits(area, &self.scene, self.selected_bar, scale)
            });
        }
    }

    fn render_text(&self) {
        // Notes.
        if let Some(list) = by_id("notes") {
            dom::clear(&list);
            for note in &self.scene.notes {
                let _ = list.append_child(&make("li", "", Some(note)));
            }
        }
        // Readout table.
        if let Some(root) = by_id("readout") {
            dom::clear(&root);
            for r in self.scene.readouts() {
                let block = make("div", "readout-block", None);
                let _ = block.append_child(&make("h3", "", Some(scene::flow_name(r.flow))));
                let rows = [
                    ("t", format_number(scene::round_sig(r.t))),
                    ("F", format!("{:.6}", r.free_energy)),
                    ("H", format!("{:.6}", r.entropy)),
                    ("KL(p‖target)", format_kl(r.kl)),
                    (
                        "support",
                        format!("{} of {}", r.support.len(), self.scene.v),
                    ),
                ];
                let dl = make("dl", "", None);
                for (name, value) in rows {
                    let _ = dl.append_child(&make("dt", "", Some(name)));
                    let _ = dl.append_child(&make("dd", "", Some(&value)));
                }
                let _ = block.append_child(&dl);
                let mut order: Vec<usize> = (0..r.p.len()).collect();
                order.sort_by(|&a, &b| r.p[b].total_cmp(&r.p[a]));
                let table = make("table", "dist", None);
                let head = make("tr", "", None);
                for h in ["token", "p", "target"] {
                    let _ = head.append_child(&make("th", "", Some(h)));
                }
                let _ = table.append_child(&head);
                for &i in order.iter().take(8) {
                    let tr = make("tr", "", None);
                    let _ = tr.append_child(&make("td", "", Some(&params::label(&self.state, i))));
                    let _ = tr.append_child(&make("td", "", Some(&format!("{:.6}", r.p[i]))));
                    let _ = tr.append_child(&make("td", "", Some(&format!("{:.6}", r.target[i]))));
                    let _ = table.append_child(&tr);
                }
                let _ = block.append_child(&table);
                let _ = root.append_child(&block);
            }
        }
        set_text("summary", &self.scene.summary());
        // Canvas labels for assistive technology.
        let label = format!(
            "Simplex plot of {} with {} trajectories; corners {}.",
            self.scene
                .panels
                .first()
                .map(|p| p.title.as_str())
                .unwrap_or(""),
            self.scene.panels.first().map(|p| p.runs.len()).unwrap_or(0),
            self.scene.corner_labels.join(", ")
        );
        if let Some(c) = by_id("simplex-canvas") {
            set_attr(&c, "aria-label", &label);
        }
        // Selected token editor.
        self.sync_token_editor();
    }

    fn sync_token_editor(&self) {
        let editable = self.state.gen == GenMode::None
            && embed::panel_shown(&self.chrome.page, "logits", "simplex")
            && !self.chrome.page.embed;
        if let Some(row) = by_id("token-editor") {
            if editable {
                let _ = row.remove_attribute("hidden");
            } else {
                set_attr(&row, "hidden", "");
            }
        }
        let token = self.selected_bar.filter(|&t| t < self.scene.v).unwrap_or(0);
        set_text("token-index", &format!("token {token}"));
        if let Some(input) = by_id_as::<HtmlInputElement>("token-label") {
            if !is_focused(input.as_ref()) {
                input.set_value(
                    self.state
                        .labels
                        .get(token)
                        .map(String::as_str)
                        .unwrap_or(""),
                );
            }
        }
        if let Some(input) = by_id_as::<HtmlInputElement>("token-logit") {
            if !is_focused(input.as_ref()) {
                input.set_value(&format_number(self.scene.s[token]));
            }
        }
    }

    fn schedule_url(&mut self) {
        shell::schedule_url();
    }

    pub fn write_url(&self) {
        shell::replace_hash(&self.full_hash());
        embed::update_open_link(
            params::EXPLORER,
            params::to_pairs(&self.state),
            &self.chrome.page,
        );
    }

    /// Moves the animated point; repaints only what shows it.
    fn set_at(&mut self, at: f64) {
        self.state.at = at.clamp(0.0, 1.0);
        if let Some(input) = by_id_as::<HtmlInputElement>("ctl-at") {
            input.set_value(&format!("{}", self.state.at));
        }
        set_text("ctl-at-out", &format!("{:.3}", self.state.at));
        self.paint_simplex_and_series();
    }

    pub fn toggle_play(&mut self) {
        self.state.at = self.chrome.playback.toggle(self.state.at);
        if !self.chrome.playback.playing {
            self.schedule_url();
        }
    }

    fn add_start_from_click(&mut self, canvas: &HtmlCanvasElement, x_css: f64, y_css: f64) {
        let scale = dom::device_pixel_ratio();
        let frame = SimplexFrame::for_vocab(
            self.scene.v,
            canvas.width() as f64,
            canvas.height() as f64,
            scale,
        );
        let Some(bary) = frame.from_px(x_css * scale, y_css * scale) else {
            return;
        };
        let v = self.scene.v;
        let start = if v == 2 {
            let total = bary[0] + bary[1];
            Start::Full(vec![
                round4(bary[0] / total),
                round4(1.0 - round4(bary[0] / total)),
            ])
        } else if v == 3 {
            let mut p = self.scene.corners.map(|_| 0.0);
            p.copy_from_slice(&bary);
            let a = round4(p[0]);
            let b = round4(p[1]);
            Start::Corners([a, b, round4(1.0 - a - b).max(0.0)])
        } else {
            // The pixel is (p_a + o/3, p_b + o/3, p_c + o/3) with o = mass of "other": keep a little
            // mass on every other token so they can still move (faces are invariant).
            let other = (3.0 * bary.iter().cloned().fold(f64::INFINITY, f64::min) * 0.999).min(0.1);
            Start::Corners(bary.map(|x| round4(x - other / 3.0).max(0.0)))
        };
        let mut state = self.state.clone();
        if state.starts.len() >= params::MAX_STARTS {
            state.starts.remove(0);
        }
        state.starts.push(start);
        self.apply_state(state, Vec::new(), false);
    }

    fn set_logit(&mut self, token: usize, value: f64) {
        if self.state.gen != GenMode::None {
            self.chrome.messages = vec![Message::new(
                "s",
                "generated logits are read-only; switch 'Logits' to typed to edit them",
            )];
            shell::show_messages(&self.chrome.messages);
            return;
        }
        let mut state = self.state.clone();
        if let Some(slot) = state.s.get_mut(token) {
            *slot = (value * 100.0).round() / 100.0;
        }
        let mut messages = Vec::new();
        params::normalise(&mut state, &mut messages);
        self.apply_state(state, messages, false);
    }
}

fn format_kl(kl: f64) -> String {
    if kl.is_finite() {
        format!("{kl:.6}")
    } else {
        "∞ (p has no mass where the target has)".into()
    }
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Paints one canvas with a drawing function; drawing errors are logged, never fatal.
pub(super) fn paint<F>(canvas: &HtmlCanvasElement, draw_fn: F)
where
    F: FnOnce(
        &DrawingArea<BatchedCanvas, plotters::coord::Shift>,
    )
        -> Result<(), DrawingAreaErrorKind<<BatchedCanvas as DrawingBackend>::ErrorType>>,
{
    let Some(backend) = BatchedCanvas::new(canvas) else {
        return;
    };
    let root = backend.into_drawing_area();
    if let Err(error) = draw_fn(&root).and_then(|_| root.present()) {
        web_sys::console::warn_1(&format!("drawing failed: {error:?}").into());
    }
}

fn compute_chunk(generation: u64) {
    let again = with_app(|app| {
        if app.chrome.generation != generation {
            return false;
        }
        let start = dom::now_ms();
        let mut done = false;
        while !done && dom::now_ms() - start < CHUNK_MS {
            done = app.scene.advance(2);
        }
        app.set_busy(!done);
        if done {
            app.render_all();
        }
        !done
    })
    .unwrap_or(false);
    if again {
        dom::request_frame(move |_| compute_chunk(generation));
    }
}

/// Sizes every canvas to its container at the device pixel ratio (sharp on HiDPI screens).
/// Returns true when any canvas changed size (it is then blank and must be repainted).
pub fn layout_canvases(panels: usize, page_options: &PageOptions) -> bool {
    if let Some(second) = by_id("simplex-wrap-2") {
        if panels >= 2 {
            let _ = second.remove_attribute("hidden");
        } else {
            set_attr(&second, "hidden", "");
        }
    }
    if page_options.embed {
        let in_use = |figure: &str| {
            if figure == "simplex" {
                panels.clamp(1, 2)
            } else {
                1
            }
        };
        return embed::layout(FIGURES, &in_use, page_options);
    }
    let mut changed = false;
    let size = |id: &str, height_of: &dyn Fn(f64) -> f64, changed: &mut bool| {
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
            let width = canvas
                .parent_element()
                .map(|p| p.client_width() as f64)
                .unwrap_or(400.0)
                .max(200.0);
            let height = height_of(width).round();
            *changed |= set_canvas_size(&canvas, width, height);
        }
    };
    size("simplex-canvas", &|w| (w * 0.9).min(460.0), &mut changed);
    size("simplex-canvas-2", &|w| (w * 0.9).min(460.0), &mut changed);
    size(
        "series-canvas",
        &|w| if w >= 560.0 { 400.0 } else { 720.0 },
        &mut changed,
    );
    size("logits-canvas", &|_| 200.0, &mut changed);
    changed
}

/// Gives a canvas a CSS size and the matching backing size at the device pixel ratio.
/// Returns true when the backing store changed (which clears the canvas).
pub fn set_canvas_size(canvas: &HtmlCanvasElement, width: f64, height: f64) -> bool {
    let scale = dom::device_pixel_ratio();
    let (px_w, px_h) = (
        (width * scale).round().max(1.0) as u32,
        (height * scale).round().max(1.0) as u32,
    );
    let style = canvas.style();
    let _ = style.set_property("width", &format!("{width}px"));
    let _ = style.set_property("height", &format!("{height}px"));
    if canvas.width() != px_w || canvas.height() != px_h {
        canvas.set_width(px_w);
        canvas.set_height(px_h);
        true
    } else {
        false
    }
}

fn wire_events() {
    controls::wire();
    shell::wire(params::EXPLORER, |el| el.id() == "logits-canvas");
    // Click or tap inside a simplex adds a start point.
    for id in ["simplex-canvas", "simplex-canvas-2"] {
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
            let target = canvas.clone();
            dom::listen::<PointerEvent>(&canvas, "pointerdown", move |event| {
                let x = event.offset_x() as f64;
                let y = event.offset_y() as f64;
                with_app(|app| app.add_start_from_click(&target, x, y));
            });
        }
    }
    // Logits editor: drag bars, keyboard, typed entry.
    if let Some(canvas) = by_id_as::<HtmlCanvasElement>("logits-canvas") {
        let c1 = canvas.clone();
        dom::listen::<PointerEvent>(&canvas, "pointerdown", move |event| {
            let scale = dom::device_pixel_ratio();
            let (x, y) = (
                event.offset_x() as f64 * scale,
                event.offset_y() as f64 * scale,
            );
            let _ = c1.set_pointer_capture(event.pointer_id());
            with_app(|app| {
                let frame =
                    LogitsFrame::fit(&app.scene, c1.width() as f64, c1.height() as f64, scale);
                if let Some(token) = frame.token_at(x) {
                    app.selected_bar = Some(token);
                    app.dragging_bar = true;
                    app.set_logit(token, frame.value_of(y));
                }
            });
        });
        let c2 = canvas.clone();
        dom::listen::<PointerEvent>(&canvas, "pointermove", move |event| {
            let scale = dom::device_pixel_ratio();
            let y = event.offset_y() as f64 * scale;
            with_app(|app| {
                if !app.dragging_bar {
                    return;
                }
                if let Some(token) = app.selected_bar {
                    let frame =
                        LogitsFrame::fit(&app.scene, c2.width() as f64, c2.height() as f64, scale);
                    app.set_logit(token, frame.value_of(y));
                }
            });
        });
        for name in ["pointerup", "pointercancel"] {
            dom::listen::<PointerEvent>(&canvas, name, |_| {
                with_app(|app| app.dragging_bar = false);
            });
        }
        dom::listen::<KeyboardEvent>(&canvas, "keydown", |event| {
            let step = if event.shift_key() { 1.0 } else { 0.1 };
            let handled = with_app(|app| {
                let v = app.scene.v;
                let token = app.selected_bar.unwrap_or(0).min(v - 1);
                match event.key().as_str() {
                    "ArrowLeft" => app.selected_bar = Some(token.saturating_sub(1)),
                    "ArrowRight" => app.selected_bar = Some((token + 1).min(v - 1)),
                    "ArrowUp" => {
                        app.selected_bar = Some(token);
                        app.set_logit(token, app.scene.s[token] + step);
                    }
                    "ArrowDown" => {
                        app.selected_bar = Some(token);
                        app.set_logit(token, app.scene.s[token] - step);
                    }
                    _ => return false,
                }
                app.paint_logits();
                app.sync_token_editor();
                true
            })
            .unwrap_or(false);
            if handled {
                event.prevent_default();
            }
        });
    }
    if let Some(input) = by_id("token-logit") {
        dom::listen::<Event>(&input, "change", |event| {
            let Some(input) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            else {
                return;
            };
            with_app(|app| {
                let token = app.selected_bar.unwrap_or(0);
                match td_core::url::parse_number(&input.value()) {
                    Some(value) => app.set_logit(
                        token,
                        value.clamp(-params::MAX_ABS_LOGIT, params::MAX_ABS_LOGIT),
                    ),
                    None => {
                        app.chrome.messages =
                            vec![Message::new("s", "the logit must be a finite number")];
                        shell::show_messages(&app.chrome.messages);
                    }
                }
            });
        });
    }
    if let Some(input) = by_id("token-label") {
        dom::listen::<Event>(&input, "change", |event| {
            let Some(input) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            else {
                return;
            };
            with_app(|app| {
                let token = app.selected_bar.unwrap_or(0);
                let mut labels = app.state.labels.clone();
                if token < labels.len() {
                    labels[token] = input.value().replace(',', " ");
                    let joined = labels.join(",");
                    app.edit(&[("labels".to_string(), joined)]);
                }
            });
        });
    }
}

/// The next-token page's figures: the simplex (one canvas per flow in compare mode), the time
/// series and the logits editor.
static FIGURES: &[super::explorer::FigureInfo] = &[
    super::explorer::FigureInfo {
        name: "simplex",
        label: "simplex",
        wrap_id: "simplex-row",
        canvas_ids: &["simplex-canvas", "simplex-canvas-2"],
        aspect: 0.88,
        min_height: 140.0,
        max_height: 560.0,
    },
    super::explorer::FigureInfo {
        name: "series",
        label: "time series",
        wrap_id: "series-wrap",
        canvas_ids: &["series-canvas"],
        aspect: 0.6,
        min_height: 180.0,
        max_height: 460.0,
    },
    super::explorer::FigureInfo {
        name: "logits",
        label: "logits",
        wrap_id: "logits-wrap",
        canvas_ids: &["logits-canvas"],
        aspect: 0.32,
        min_height: 120.0,
        max_height: 220.0,
    },
];

static TEXT_PANELS: &[super::explorer::TextPanel] = &[
    super::explorer::TextPanel {
        name: "readout",
        id: "readout-panel",
    },
    super::explorer::TextPanel {
        name: "notes",
        id: "notes-panel",
    },
];

impl super::explorer::Explorer for App {
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
        App::edit(self, pairs)
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
    fn on_key(&mut self, key: &str, _on_canvas: bool) -> bool {
        match key {
            " " | "k" => self.toggle_play(),
            "r" | "R" => self.scrub(0.0),
            "[" | "ArrowLeft" => self.scrub(self.state.at - 0.01),
            "]" | "ArrowRight" => self.scrub(self.state.at + 0.01),
            _ => return false,
        }
        true
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
        super::readout_object_of(self)
    }
    fn figures(&self) -> &'static [super::explorer::FigureInfo] {
        FIGURES
    }
    fn canvases_in_use(&self, figure: &str) -> usize {
        if figure == "simplex" {
            self.scene.panels.len().clamp(1, 2)
        } else {
            1
        }
    }
    fn default_size(&self, figure: &str) -> (u32, u32) {
        Figure::parse(figure)
            .unwrap_or(Figure::Simplex)
            .default_size(self.scene.panels.len())
    }
    fn svg(&self, figure: &str) -> String {
        let figure = Figure::parse(figure).unwrap_or(Figure::Simplex);
        let size = figure.default_size(self.scene.panels.len());
        render_svg(&self.scene, figure, size, self.state.at)
    }
    fn paint_figure(
        &self,
        figure: &str,
        root: &super::explorer::CanvasArea,
        ratio: f64,
    ) -> Result<(), String> {
        let at = self.state.at;
        let result = match Figure::parse(figure).unwrap_or(Figure::Simplex) {
            Figure::Simplex => {
                return super::explorer::draw_side_by_side(root, self.scene.panels.len(), |a, i| {
                    draw::draw_simplex(a, &self.scene, i, at, ratio)
                })
            }
            Figure::Series => draw::draw_series(root, &self.scene, at, ratio),
            Figure::Logits => draw::draw_logits(root, &self.scene, None, ratio),
        };
        result.map_err(|e| format!("{e:?}"))
    }
    fn csv(&self, link: &str) -> String {
        td_next_token::export::csv(&self.scene, link)
    }
    fn json(&self, link: &str) -> String {
        td_next_token::export::state_json(
            &self.state,
            &self.chrome.page,
            link,
            &self.scene.readouts(),
        )
    }
    fn file_stem(&self) -> String {
        td_next_token::export::file_stem(&self.state)
    }
    fn embed_title(&self) -> String {
        let flows = self
            .scene
            .panels
            .iter()
            .map(|p| scene::flow_name(p.flow))
            .collect::<Vec<_>>()
            .join(" vs ");
        format!(
            "token-dynamics: next-token flows ({flows}, T = {})",
            format_number(self.state.temp)
        )
    }
}
