//! The next-token page's own DOM: a click in the simplex adds a start point; the logits editor
//! (drag a bar, arrows on the focused chart, typed logit and label of the selected token).

use td_core::explorer::Explorer;
use td_core::url::format_number;
use td_next_token::draw::{LogitsFrame, SimplexFrame};
use td_next_token::explorer::NextToken;
use td_next_token::params::{self, GenMode, Start};
use td_next_token::whole::Whole;
use wasm_bindgen::JsCast;
use web_sys::{Event, HtmlCanvasElement, HtmlInputElement, KeyboardEvent, PointerEvent};

use crate::controls::is_focused;
use crate::dom::{self, by_id, by_id_as, set_attr, set_text};
use crate::runner::{with_runner, Runner, WebExplorer};

/// The logits editor's state, and the whole vocabulary read from the browser's storage.
#[derive(Default)]
pub struct Editor {
    /// The id of the whole vocabulary being read, so that it is read once.
    reading: Option<String>,
    /// The file of the whole vocabulary in use, for the page's workers.
    kept: Option<(String, js_sys::Uint8Array)>,
    dragging: bool,
    /// While a bar is dragged: the value range of the axis when the press began (kept until
    /// release, so the axis cannot run away under the pointer).
    held: Option<(f64, f64)>,
}

type R = Runner<NextToken>;

impl WebExplorer for NextToken {
    type Local = Editor;

    fn initial_models(st: &Self::State) -> Whole {
        let mut whole = Whole::None;
        NextToken::follow_state(&mut whole, st);
        whole
    }
    fn view_hold(local: &Editor) -> Option<[f64; 4]> {
        local.held.map(|(from, to)| [0.0, 1.0, from, to])
    }
    /// The file of the whole vocabulary in use, so the workers run on the same tokens.
    fn job_payload(r: &R) -> Option<wasm_bindgen::JsValue> {
        let (id, bytes) = r.local.kept.as_ref()?;
        if !matches!(&r.models, Whole::Ready { id: ready, .. } if ready == id) {
            return None;
        }
        let payload = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&payload, &"vocab".into(), &id.into());
        let _ = js_sys::Reflect::set(&payload, &"bytes".into(), bytes);
        Some(payload.into())
    }
    fn remote_ready(r: &R) -> bool {
        !matches!(r.models, Whole::Loading(_))
    }
    fn worker_models(_: &Self::State, payload: &wasm_bindgen::JsValue) -> Option<Whole> {
        let get = |key: &str| js_sys::Reflect::get(payload, &key.into()).ok();
        let Some(id) = get("vocab").and_then(|v| v.as_string()) else {
            return Some(Whole::None);
        };
        let cached = WORKER_WHOLE.with(|c| c.borrow().clone().filter(|w| w.id() == id));
        Some(cached.unwrap_or_else(|| {
            let bytes =
                get("bytes").map_or_else(Vec::new, |b| js_sys::Uint8Array::new(&b).to_vec());
            let whole = Whole::from_file(&id, &bytes);
            WORKER_WHOLE.with(|c| *c.borrow_mut() = Some(whole.clone()));
            whole
        }))
    }
    fn textareas() -> &'static [&'static str] {
        // Where a real model's logits came from: a sentence, read whole.
        &["from"]
    }
    fn slider_range(key: &str) -> Option<(f64, f64)> {
        // The temperature slider spans 0.01..100; typing reaches the full range.
        (key == "T").then_some((0.01, 100.0))
    }
    fn is_typing_target(el: &web_sys::Element) -> bool {
        el.id() == "logits-canvas"
    }
    fn wire() {
        wire_simplex();
        wire_logits();
        wire_token_editor();
    }
    fn render_extra(r: &mut R) {
        sync_token_editor(r);
        read_whole_vocabulary(r);
    }
}

thread_local! {
    /// In a worker: the whole vocabulary last received, read once.
    static WORKER_WHOLE: std::cell::RefCell<Option<Whole>> = const { std::cell::RefCell::new(None) };
}

/// The Cache Storage cache the energy lab keeps whole distributions in (www/model-worker.js).
const KEPT_CACHE: &str = "token-dynamics-vocabularies-v1";

/// Starts reading the whole vocabulary the link names from the browser's storage, once; the
/// scene is rebuilt when it arrives (or says why it did not).
fn read_whole_vocabulary(r: &mut R) {
    let Whole::Loading(id) = &r.models else {
        return;
    };
    if r.local.reading.as_deref() == Some(id.as_str()) {
        return;
    }
    let id = id.clone();
    r.local.reading = Some(id.clone());
    let global = js_sys::global();
    let caches = js_sys::Reflect::get(&global, &"caches".into())
        .ok()
        .filter(|c| c.is_object());
    let Some(caches) = caches else {
        return whole_read(
            id,
            Err("this page cannot use the browser's storage here".into()),
        );
    };
    let url = web_sys::Url::new_with_base(
        &format!("vocabularies/{id}"),
        &dom::window().location().href().unwrap_or_default(),
    )
    .map(|u| u.href())
    .unwrap_or_default();
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"cacheName".into(), &KEPT_CACHE.into());
    let found = call(&caches, "match", &[url.into(), options.into()]);
    let (id_ok, id_err) = (id.clone(), id.clone());
    then(
        found,
        move |response| {
            if !response.is_object() {
                return whole_read(id_ok, Err("it is not in this browser's storage".into()));
            }
            let (id_ok, id_err) = (id_ok.clone(), id_ok);
            then(
                call(&response, "arrayBuffer", &[]),
                move |buffer| whole_read(id_ok, Ok(js_sys::Uint8Array::new(&buffer))),
                move |e| whole_read(id_err, Err(storage_error(&e))),
            );
        },
        move |e| whole_read(id_err, Err(storage_error(&e))),
    );
}

/// `target.name(args…)`, the promise it returns (a rejected one when the call throws).
fn call(
    target: &wasm_bindgen::JsValue,
    name: &str,
    args: &[wasm_bindgen::JsValue],
) -> wasm_bindgen::JsValue {
    let result = js_sys::Reflect::get(target, &name.into())
        .and_then(|f| f.dyn_into::<js_sys::Function>())
        .and_then(|f| f.apply(target, &args.iter().collect::<js_sys::Array>()));
    match result {
        Ok(value) => value,
        Err(e) => js_sys::Promise::reject(&e).into(),
    }
}

/// `promise.then(ok, err)`.
fn then(
    promise: wasm_bindgen::JsValue,
    ok: impl FnOnce(wasm_bindgen::JsValue) + 'static,
    err: impl FnOnce(wasm_bindgen::JsValue) + 'static,
) {
    let ok = wasm_bindgen::closure::Closure::once_into_js(ok);
    let err = wasm_bindgen::closure::Closure::once_into_js(err);
    let _ = call(&promise, "then", &[ok, err]);
}

fn storage_error(e: &wasm_bindgen::JsValue) -> String {
    let name = js_sys::Reflect::get(e, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "an error".into());
    format!("the browser's storage could not be read ({name})")
}

/// The read finished: the scene runs on the whole vocabulary, or its note says why not.
fn whole_read(id: String, result: Result<js_sys::Uint8Array, String>) {
    with_runner::<NextToken, _>(|r| {
        if r.models.id() != id {
            return; // the reader moved on to another link
        }
        r.models = match result {
            Ok(bytes) => {
                let whole = Whole::from_file(&id, &bytes.to_vec());
                r.local.kept = Some((id.clone(), bytes));
                whole
            }
            Err(reason) => Whole::Missing {
                id: id.clone(),
                reason,
            },
        };
        r.local.reading = None;
        r.rebuild_scene();
    });
}

fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn add_start_from_click(r: &mut R, canvas: &HtmlCanvasElement, x_css: f64, y_css: f64) {
    let scale = dom::device_pixel_ratio();
    let v = r.scene.v;
    let frame = SimplexFrame::for_vocab(v, canvas.width() as f64, canvas.height() as f64, scale);
    let Some(bary) = frame.from_px(x_css * scale, y_css * scale) else {
        return;
    };
    let start = if v == 2 {
        let total = bary[0] + bary[1];
        Start::Full(vec![
            round4(bary[0] / total),
            round4(1.0 - round4(bary[0] / total)),
        ])
    } else if v == 3 {
        let a = round4(bary[0]);
        let b = round4(bary[1]);
        Start::Corners([a, b, round4(1.0 - a - b).max(0.0)])
    } else {
        // The pixel is (p_a + o/3, p_b + o/3, p_c + o/3) with o = mass of "other": keep a little
        // mass on every other token so they can still move (faces are invariant).
        let other = (3.0 * bary.iter().cloned().fold(f64::INFINITY, f64::min) * 0.999).min(0.1);
        Start::Corners(bary.map(|x| round4(x - other / 3.0).max(0.0)))
    };
    let mut state = r.state.clone();
    if state.starts.len() >= params::MAX_STARTS {
        state.starts.remove(0);
    }
    state.starts.push(start);
    r.apply_state(state, Vec::new(), false);
}

fn set_logit(r: &mut R, token: usize, value: f64) {
    if r.scene.whole.is_some() {
        r.tell(
            "s",
            "a real model's whole vocabulary is read-only here; change the logits in the text box to edit the link's tokens instead",
        );
        return;
    }
    if r.state.gen != GenMode::None {
        r.tell(
            "s",
            "generated logits are read-only; switch 'Logits' to typed to edit them",
        );
        return;
    }
    let mut state = r.state.clone();
    if let Some(slot) = state.s.get_mut(token) {
        let value = (value * 100.0).round() / 100.0;
        if *slot != value {
            *slot = value;
            state.from.clear(); // edited logits are no longer what the link said they came from
        }
    }
    let mut messages = Vec::new();
    NextToken::normalise(&mut state, &mut messages);
    r.apply_state(state, messages, false);
}

fn wire_simplex() {
    // Click or tap inside a simplex adds a start point.
    for id in ["simplex-canvas", "simplex-canvas-2"] {
        if let Some(canvas) = by_id_as::<HtmlCanvasElement>(id) {
            let target = canvas.clone();
            dom::listen::<PointerEvent>(&canvas, "pointerdown", move |event| {
                let x = event.offset_x() as f64;
                let y = event.offset_y() as f64;
                with_runner::<NextToken, _>(|r| add_start_from_click(r, &target, x, y));
            });
        }
    }
}

/// The logits chart's frame as painted now (its axis held during a drag).
fn logits_frame(r: &R, canvas: &HtmlCanvasElement) -> LogitsFrame {
    LogitsFrame::fit_holding(
        &r.scene,
        canvas.width() as f64,
        canvas.height() as f64,
        dom::device_pixel_ratio(),
        r.local.held,
    )
}

fn wire_logits() {
    let Some(canvas) = by_id_as::<HtmlCanvasElement>("logits-canvas") else {
        return;
    };
    let c1 = canvas.clone();
    dom::listen::<PointerEvent>(&canvas, "pointerdown", move |event| {
        let scale = dom::device_pixel_ratio();
        let (x, y) = (
            event.offset_x() as f64 * scale,
            event.offset_y() as f64 * scale,
        );
        let _ = c1.set_pointer_capture(event.pointer_id());
        with_runner::<NextToken, _>(|r| {
            let frame = logits_frame(r, &c1);
            if let Some(token) = frame.token_at(x) {
                r.focus = Some(token);
                r.local.dragging = true;
                r.local.held = Some(frame.range);
                set_logit(r, token, frame.value_of(y));
            }
        });
    });
    let c2 = canvas.clone();
    dom::listen::<PointerEvent>(&canvas, "pointermove", move |event| {
        let y = event.offset_y() as f64 * dom::device_pixel_ratio();
        with_runner::<NextToken, _>(|r| {
            if let (true, Some(token)) = (r.local.dragging, r.focus) {
                let value = logits_frame(r, &c2).value_of(y);
                set_logit(r, token, value);
            }
        });
    });
    for name in ["pointerup", "pointercancel"] {
        dom::listen::<PointerEvent>(&canvas, name, |_| {
            with_runner::<NextToken, _>(|r| {
                r.local.dragging = false;
                if r.local.held.take().is_some() {
                    // Released: the axis fits the logits again.
                    r.paint_named("logits");
                }
            });
        });
    }
    dom::listen::<KeyboardEvent>(&canvas, "keydown", |event| {
        let step = if event.shift_key() { 1.0 } else { 0.1 };
        let handled = with_runner::<NextToken, _>(|r| {
            let v = r.scene.v;
            let token = r.focus.unwrap_or(0).min(v - 1);
            match event.key().as_str() {
                "ArrowLeft" => r.focus = Some(token.saturating_sub(1)),
                "ArrowRight" => r.focus = Some((token + 1).min(v - 1)),
                "ArrowUp" => {
                    r.focus = Some(token);
                    let value = r.scene.s[token] + step;
                    set_logit(r, token, value);
                }
                "ArrowDown" => {
                    r.focus = Some(token);
                    let value = r.scene.s[token] - step;
                    set_logit(r, token, value);
                }
                _ => return false,
            }
            r.paint_named("logits");
            sync_token_editor(r);
            true
        })
        .unwrap_or(false);
        if handled {
            event.prevent_default();
        }
    });
}

fn input_of(event: &Event) -> Option<HtmlInputElement> {
    event
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
}

fn wire_token_editor() {
    if let Some(input) = by_id("token-logit") {
        dom::listen::<Event>(&input, "change", |event| {
            let Some(input) = input_of(&event) else {
                return;
            };
            with_runner::<NextToken, _>(|r| {
                let token = r.focus.unwrap_or(0);
                match td_core::url::parse_number(&input.value()) {
                    Some(value) => set_logit(
                        r,
                        token,
                        value.clamp(-params::MAX_ABS_LOGIT, params::MAX_ABS_LOGIT),
                    ),
                    None => r.tell("s", "the logit must be a finite number"),
                }
            });
        });
    }
    if let Some(input) = by_id("token-label") {
        dom::listen::<Event>(&input, "change", |event| {
            let Some(input) = input_of(&event) else {
                return;
            };
            with_runner::<NextToken, _>(|r| {
                let token = r.focus.unwrap_or(0);
                let mut labels = r.state.labels.clone();
                if token < labels.len() {
                    labels[token] = input.value().replace(',', " ");
                    let joined = labels.join(",");
                    r.edit_pairs(&[("labels".to_string(), joined)]);
                }
            });
        });
    }
}

/// The selected token's label and logit fields (shown when logits are typed and the editor is
/// on the page).
fn sync_token_editor(r: &R) {
    let editable = r.state.gen == GenMode::None
        && r.scene.whole.is_none()
        && crate::chrome::panel_shown(&r.chrome.page, "logits", "simplex")
        && !r.chrome.page.embed;
    if let Some(row) = by_id("token-editor") {
        if editable {
            let _ = row.remove_attribute("hidden");
        } else {
            set_attr(&row, "hidden", "");
        }
    }
    let token = r.focus.filter(|&t| t < r.scene.v).unwrap_or(0);
    set_text("token-index", &format!("token {token}"));
    if let Some(input) = by_id_as::<HtmlInputElement>("token-label") {
        if !is_focused(input.as_ref()) {
            input.set_value(r.state.labels.get(token).map(String::as_str).unwrap_or(""));
        }
    }
    if let Some(input) = by_id_as::<HtmlInputElement>("token-logit") {
        if !is_focused(input.as_ref()) {
            input.set_value(&format_number(r.scene.s[token]));
        }
    }
}
