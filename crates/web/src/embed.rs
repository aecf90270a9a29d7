//! Embedding: page options in the DOM (classes, theme, hidden panels and controls), the embed
//! layout that fits the iframe without scrolling, the "open in token-dynamics" link, and the
//! postMessage protocol with the parent page.
//!
//! Protocol (see README, "Embedding"):
//! - to the parent: `{type: "token-dynamics:ready", state}` once, then
//!   `{type: "token-dynamics:height", height}` whenever the content height changes;
//! - from the parent: `{type: "token-dynamics:set", state: {...}, id?}`, validated exactly like a
//!   link; the reply goes to `event.source` only: `{type: "token-dynamics:state", id, ok, state,
//!   messages}`. Messages from anything but the parent window, and anything malformed, are ignored.

use std::cell::Cell;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlCanvasElement, MessageEvent, ResizeObserver, Window};

use crate::canvas::set_canvas_size;
use crate::chrome::panel_shown;
use crate::dom::{self, by_id, by_id_as};
use crate::page::{with_page, Page};
use td_core::explorer::FigureInfo;
use td_core::page::PageOptions;

pub const MSG_SET: &str = "token-dynamics:set";
pub const MSG_STATE: &str = "token-dynamics:state";
pub const MSG_HEIGHT: &str = "token-dynamics:height";
pub const MSG_READY: &str = "token-dynamics:ready";

/// Gap between figures in the embed grid (CSS px; the stylesheet uses the same).
const GAP: f64 = 8.0;

thread_local! {
    static LAST_HEIGHT: Cell<i32> = const { Cell::new(-1) };
    static PREFERRED_HEIGHT: Cell<f64> = const { Cell::new(0.0) };
    /// A relayout for a resize is scheduled for the next frame.
    static RELAYOUT_PENDING: Cell<bool> = const { Cell::new(false) };
}

fn framed() -> bool {
    let window = dom::window();
    match window.parent() {
        Ok(Some(parent)) => !Object::is(parent.as_ref(), window.as_ref()),
        _ => false,
    }
}

/// Union of the visible figure wraps' boxes (top, bottom) in CSS px.
fn grid_extent(figures: &[FigureInfo]) -> Option<(f64, f64)> {
    let mut extent: Option<(f64, f64)> = None;
    for id in figures.iter().map(|f| f.wrap_id) {
        let Some(el) = by_id(id) else { continue };
        if el.has_attribute("hidden") {
            continue;
        }
        let rect = el.get_bounding_client_rect();
        extent = Some(match extent {
            None => (rect.top(), rect.bottom()),
            Some((top, bottom)) => (top.min(rect.top()), bottom.max(rect.bottom())),
        });
    }
    extent
}

/// Lays the embedded figures out to fill the iframe without scrolling. Columns depend on the width
/// only, so the preferred height (what the parent is told) depends on the width only and sizing
/// the iframe from the height messages converges at once. Returns true when a canvas changed size.
pub fn layout(figures: &[FigureInfo], in_use: &dyn Fn(&str) -> usize, opts: &PageOptions) -> bool {
    let window = dom::window();
    let document = dom::document();
    let (Some(body), Some(grid)) = (document.body(), by_id("figures")) else {
        return false;
    };
    let main = figures[0].name;
    let items: Vec<&FigureInfo> = figures
        .iter()
        .filter(|f| panel_shown(opts, f.name, main))
        .collect();
    let width = (grid.client_width() as f64).max(120.0);
    let n = items.len().max(1);
    let cols = if n >= 2 {
        ((width + GAP) / (380.0 + GAP)).floor().clamp(1.0, n as f64) as usize
    } else {
        1
    };
    let rows = n.div_ceil(cols);
    let cell_w = ((width - GAP * (cols as f64 - 1.0)) / cols as f64).floor();
    // Width of one canvas of a figure whose canvases sit side by side.
    let canvas_w = |info: &FigureInfo| {
        let count = in_use(info.name).clamp(1, info.canvas_ids.len()) as f64;
        ((cell_w - GAP * (count - 1.0)) / count).floor()
    };
    let preferred = |info: &FigureInfo| -> f64 {
        let base = if info.canvas_ids.len() > 1 {
            canvas_w(info)
        } else {
            cell_w
        };
        (base * info.aspect).clamp(info.min_height, info.max_height)
    };
    let mut row_pref = vec![0.0f64; rows];
    for (i, info) in items.iter().enumerate() {
        row_pref[i / cols] = row_pref[i / cols].max(preferred(info));
    }
    let gaps = GAP * (rows as f64 - 1.0);
    let preferred_grid = row_pref.iter().sum::<f64>() + gaps;
    // Everything that is not the figure grid (control strip, link, messages) keeps its height.
    let body_h = body.get_bounding_client_rect().height();
    let grid_now = grid_extent(figures).map(|(t, b)| b - t).unwrap_or(0.0);
    let chrome = (body_h - grid_now).max(0.0);
    let viewport_h = window
        .inner_height()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(600.0);
    let available = (viewport_h - chrome - 1.0).max(60.0 * rows as f64 + gaps);
    let factor = if preferred_grid > available {
        (available - gaps) / (preferred_grid - gaps)
    } else {
        1.0
    };
    PREFERRED_HEIGHT.with(|h| h.set(chrome + preferred_grid));
    let _ = grid
        .unchecked_ref::<web_sys::HtmlElement>()
        .style()
        .set_property("--cols", &cols.to_string());
    let mut changed = false;
    for (i, info) in items.iter().enumerate() {
        let h = (row_pref[i / cols] * factor).floor().max(40.0);
        let w = canvas_w(info);
        for id in info.canvas_ids.iter().take(in_use(info.name).max(1)) {
            if let Some(c) = by_id_as::<HtmlCanvasElement>(id) {
                changed |= set_canvas_size(&c, w, h);
            }
        }
    }
    changed
}

/// The content height to report: in an embed, what the page would like for its width; otherwise
/// the document's height.
fn content_height(embedded: bool) -> f64 {
    if embedded {
        let h = PREFERRED_HEIGHT.with(Cell::get);
        if h > 0.0 {
            return h;
        }
    }
    dom::document()
        .document_element()
        .map(|e| e.get_bounding_client_rect().height())
        .unwrap_or(0.0)
}

fn post_to_parent(message: &JsValue) {
    if let Ok(Some(parent)) = dom::window().parent() {
        let _ = parent.post_message(message, "*");
    }
}

fn post_height(embedded: bool) {
    if !framed() {
        return;
    }
    let height = content_height(embedded).ceil() as i32;
    if height <= 0 || LAST_HEIGHT.with(Cell::get) == height {
        return;
    }
    LAST_HEIGHT.with(|h| h.set(height));
    let msg = Object::new();
    let _ = Reflect::set(&msg, &"type".into(), &MSG_HEIGHT.into());
    let _ = Reflect::set(&msg, &"height".into(), &JsValue::from(height));
    post_to_parent(&msg);
}

/// Called once when the first scene is painted.
pub fn on_ready(e: &dyn Page) {
    if !framed() {
        return;
    }
    let msg = Object::new();
    let _ = Reflect::set(&msg, &"type".into(), &MSG_READY.into());
    let _ = Reflect::set(&msg, &"state".into(), &e.state_object());
    post_to_parent(&msg);
    // "ready" is always followed by a height, even one already posted while loading (a parent may
    // count heights from "ready" on: the embed dialog's preview does).
    LAST_HEIGHT.with(|h| h.set(0));
    post_height(e.page().embed);
}

/// Accepts an `id` that is a short string or a finite number; anything else becomes null.
fn clean_id(id: JsValue) -> JsValue {
    if let Some(text) = id.as_string() {
        if text.chars().count() <= 200 {
            return JsValue::from_str(&text);
        }
    } else if let Some(n) = id.as_f64() {
        if n.is_finite() {
            return JsValue::from_f64(n);
        }
    }
    JsValue::NULL
}

fn on_message(event: MessageEvent) {
    let window = dom::window();
    let Ok(Some(parent)) = window.parent() else {
        return;
    };
    if Object::is(parent.as_ref(), window.as_ref()) {
        return; // not framed: nobody to talk to
    }
    let Some(source) = event.source() else { return };
    if !Object::is(source.as_ref(), parent.as_ref()) {
        return; // only the embedding page may drive the figure
    }
    let data = event.data();
    if !data.is_object() || Array::is_array(&data) {
        return;
    }
    let kind = Reflect::get(&data, &"type".into())
        .ok()
        .and_then(|t| t.as_string());
    if kind.as_deref() != Some(MSG_SET) {
        return;
    }
    let Ok(partial) = Reflect::get(&data, &"state".into()) else {
        return;
    };
    let Some(pairs) = crate::api::pairs_from_object(&partial) else {
        return;
    };
    let id = clean_id(Reflect::get(&data, &"id".into()).unwrap_or(JsValue::NULL));
    let messages = crate::api::apply_pairs(&pairs);
    let state = with_page(|e| e.state_object()).unwrap_or(JsValue::NULL);
    let reply = Object::new();
    let _ = Reflect::set(&reply, &"type".into(), &MSG_STATE.into());
    let _ = Reflect::set(&reply, &"id".into(), &id);
    let _ = Reflect::set(
        &reply,
        &"ok".into(),
        &JsValue::from_bool(messages.is_empty()),
    );
    let _ = Reflect::set(&reply, &"state".into(), &state);
    let _ = Reflect::set(&reply, &"messages".into(), &crate::api::strings(&messages));
    // Reply to the sender only, at its origin (an opaque origin can only be reached with "*").
    let origin = event.origin();
    let target = if origin.is_empty() || origin == "null" {
        "*".to_string()
    } else {
        origin
    };
    let _ = source
        .unchecked_into::<Window>()
        .post_message(&reply, &target);
}

/// Message listener, resize observer and height reports.
pub fn install() {
    let window = dom::window();
    dom::listen::<MessageEvent>(&window, "message", on_message);
    // Content size changes (resize of the iframe, messages appearing, wrapped controls): re-lay the
    // embed out, then report the height. Posting only on change keeps a parent that sizes the
    // iframe from these messages from looping. The relayout waits for the next frame, once per
    // frame: inside the observer's callback it would resize what the observer watches, and the
    // browser then reports "ResizeObserver loop completed with undelivered notifications" (Firefox
    // as an error on the page).
    let callback = Closure::<dyn FnMut(Array, ResizeObserver)>::new(|_: Array, _| {
        if RELAYOUT_PENDING.with(|pending| pending.replace(true)) {
            return;
        }
        dom::request_frame(|_| {
            RELAYOUT_PENDING.with(|pending| pending.set(false));
            let embedded = with_page(|e| {
                if e.page().embed && e.is_ready() {
                    e.relayout(false);
                }
                e.page().embed
            });
            if let Some(embedded) = embedded {
                post_height(embedded);
            }
        });
    });
    if let Ok(observer) = ResizeObserver::new(callback.as_ref().unchecked_ref()) {
        if let Some(body) = dom::document().body() {
            observer.observe(&body);
        }
        if let Some(root) = dom::document().document_element() {
            observer.observe(&root);
        }
    }
    callback.forget();
    // The first report (the observer's first callback can come before the app is ready).
    if let Some(embedded) = with_page(|e| e.page().embed) {
        post_height(embedded);
    }
}
