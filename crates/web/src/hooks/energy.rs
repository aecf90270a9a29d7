//! The energy lab's own DOM: the trained weights downloaded on demand with progress, the token
//! strip (hover a byte to preview its next-byte distribution, click to choose it), and the "open
//! in the next-token explorer" link of the inspected position.

use std::rc::Rc;

use td_energy::explorer::{
    next_token_link, shade_level, strip_caption, strip_text, surprisals, Energy,
};
use td_energy::params::{self, State};
use td_energy::scene::{Models, Trained};
use wasm_bindgen::JsCast;
use web_sys::{Event, MouseEvent, ProgressEvent, XmlHttpRequest};

use crate::dom::{self, by_id, make, set_attr, set_text};
use crate::runner::{with_runner, Runner, WebExplorer};

/// Where the page finds the trained weights (relative to the page).
const WEIGHTS_URL: &str = "models/trained.tdgpt";

/// The lab's page state.
#[derive(Default)]
pub struct Lab {
    /// Token strip drawn for these tokens (rebuilt only when they change).
    strip_tokens: Vec<u32>,
    /// Seconds the weights took to arrive, and their size.
    pub weights_info: Option<(f64, f64)>,
    /// The weights file as downloaded, for the page's worker.
    weights_bytes: Option<js_sys::Uint8Array>,
}

thread_local! {
    /// In the worker: the trained weights last received (their size and the file), parsed once.
    static WORKER_WEIGHTS: std::cell::RefCell<Option<(u32, Rc<td_transformer::Weights>)>> =
        const { std::cell::RefCell::new(None) };
}

type R = Runner<Energy>;

impl WebExplorer for Energy {
    type Local = Lab;

    fn initial_models(st: &State) -> Models {
        Models::new(Trained::Loading(None), st.seed)
    }
    fn textareas() -> &'static [&'static str] {
        params::TEXTAREAS
    }
    fn lead_controls() -> &'static [&'static str] {
        params::TEXTAREAS
    }
    fn is_typing_target(el: &web_sys::Element) -> bool {
        el.id() == "tokens"
    }
    fn wire() {
        wire_strip();
        load_weights();
    }
    fn on_key(r: &mut R, key: &str, _on_canvas: bool) -> bool {
        match key {
            // ← → and [ ] move the inspected position one token (as [ ] step on the other pages).
            "ArrowLeft" | "ArrowRight" | "[" | "]" => {
                let n = r.scene.tokens.len();
                if n == 0 {
                    return false;
                }
                let back = key == "ArrowLeft" || key == "[";
                let p = r.scene.position() as i64 + if back { -1 } else { 1 };
                let p = p.clamp(0, n as i64 - 1);
                r.edit_pairs(&[("pos".to_string(), p.to_string())]);
            }
            " " | "k" => r.toggle_play(),
            "r" | "R" => r.scrub(0.0),
            _ => return false,
        }
        true
    }
    /// The trained weights as downloaded (or why they are missing), so the worker has the same
    /// models as the page.
    fn job_payload(r: &R) -> Option<wasm_bindgen::JsValue> {
        let payload = js_sys::Object::new();
        match (&r.models.trained, &r.local.weights_bytes) {
            (Trained::Ready(_), Some(bytes)) => {
                let _ = js_sys::Reflect::set(&payload, &"weights".into(), bytes);
            }
            (Trained::Failed(reason), _) => {
                let _ = js_sys::Reflect::set(&payload, &"failed".into(), &reason.into());
            }
            _ => return None,
        }
        Some(payload.into())
    }
    fn remote_ready(r: &R) -> bool {
        !matches!(r.models.trained, Trained::Loading(_))
    }
    fn worker_models(st: &State, payload: &wasm_bindgen::JsValue) -> Option<Models> {
        let get = |key: &str| js_sys::Reflect::get(payload, &key.into()).ok();
        if let Some(reason) = get("failed").and_then(|v| v.as_string()) {
            return Some(Models::new(Trained::Failed(reason), st.seed));
        }
        let bytes = js_sys::Uint8Array::new(&get("weights")?);
        let len = bytes.length();
        let cached = WORKER_WEIGHTS.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(l, _)| *l == len)
                .map(|(_, w)| w.clone())
        });
        let weights = match cached {
            Some(w) => w,
            None => {
                let (w, _) = td_transformer::format::read_weights(&bytes.to_vec()).ok()?;
                let w = Rc::new(w);
                WORKER_WEIGHTS.with(|c| *c.borrow_mut() = Some((len, w.clone())));
                w
            }
        };
        Some(Models::new(Trained::Ready(weights), st.seed))
    }
    fn render_extra(r: &mut R) {
        render_strip(r);
        update_next_token_link(r);
    }
}

/// Downloads the trained weights with progress events (XMLHttpRequest: no futures needed).
fn load_weights() {
    let Ok(request) = XmlHttpRequest::new() else {
        weights_failed("this browser cannot download files".into());
        return;
    };
    if request.open("GET", WEIGHTS_URL).is_err() {
        weights_failed("the weights address was refused".into());
        return;
    }
    request.set_response_type(web_sys::XmlHttpRequestResponseType::Arraybuffer);
    let started = dom::now_ms();
    dom::listen::<ProgressEvent>(&request, "progress", |event| {
        let fraction = (event.length_computable() && event.total() > 0.0)
            .then(|| event.loaded() / event.total());
        with_runner::<Energy, _>(|r| weights_progress(r, fraction, event.loaded()));
    });
    let req = request.clone();
    dom::listen::<Event>(&request, "load", move |_| {
        let status = req.status().unwrap_or(0);
        if !(200..300).contains(&status) && status != 0 {
            weights_failed(format!("HTTP {status} for {WEIGHTS_URL}"));
            return;
        }
        let Ok(buffer) = req.response() else {
            weights_failed("no response body".into());
            return;
        };
        let array = js_sys::Uint8Array::new(&buffer);
        let bytes = array.to_vec();
        match td_transformer::format::read_weights(&bytes) {
            Ok((w, _)) => {
                let seconds = (dom::now_ms() - started) / 1000.0;
                with_runner::<Energy, _>(|r| {
                    r.local.weights_bytes = Some(array.clone());
                    weights_ready(r, w, seconds, bytes.len() as f64)
                });
            }
            Err(e) => weights_failed(format!("{WEIGHTS_URL}: {e}")),
        }
    });
    dom::listen::<Event>(&request, "error", |_| {
        weights_failed(format!(
            "{WEIGHTS_URL} could not be downloaded (opened from a file, or offline?)"
        ))
    });
    if request.send().is_err() {
        weights_failed("the download could not start".into());
    }
}

fn weights_failed(reason: String) {
    with_runner::<Energy, _>(|r| {
        r.models.trained = Trained::Failed(reason.clone());
        set_text(
            "model-status",
            &format!("Trained weights not loaded: {reason}"),
        );
        if let Some(bar) = by_id("model-progress") {
            set_attr(&bar, "hidden", "");
        }
        r.chrome.messages.push(td_core::table::Message::new(
            "model",
            format!(
                "the trained weights could not be loaded ({reason}); the random model stands in"
            ),
        ));
        crate::chrome::show_messages(&r.chrome.messages);
        r.rebuild_scene();
    });
}

fn weights_progress(r: &mut R, fraction: Option<f64>, loaded: f64) {
    r.models.trained = Trained::Loading(fraction);
    if let Some(bar) = by_id("model-progress") {
        let _ = bar.remove_attribute("hidden");
        if let Some(f) = fraction {
            set_attr(&bar, "value", &format!("{f:.3}"));
        }
    }
    set_text(
        "model-status",
        &format!(
            "Loading the trained weights: {:.1} MB{}",
            loaded / 1e6,
            fraction.map_or(String::new(), |f| format!(" ({:.0}%)", f * 100.0))
        ),
    );
    // The trained panels show the progress too (no recomputation).
    if !r.scene.is_done() || r.scene.waiting_for_weights() {
        r.scene.set_trained_status(r.models.trained.clone());
    }
    let start = dom::now_ms();
    r.paint_figures();
    r.chrome.last_paint_ms = dom::now_ms() - start;
}

fn weights_ready(r: &mut R, w: td_transformer::Weights, seconds: f64, size: f64) {
    r.models.trained = Trained::Ready(Rc::new(w));
    r.local.weights_info = Some((seconds, size));
    if let Some(bar) = by_id("model-progress") {
        set_attr(&bar, "hidden", "");
    }
    set_text(
        "model-status",
        &format!(
            "Trained weights loaded ({:.2} MB in {:.2} s).",
            size / 1e6,
            seconds
        ),
    );
    if let Some(body) = dom::document().body() {
        set_attr(&body, "data-model", "loaded");
    }
    r.rebuild_scene();
}

/// The token strip: one span per byte, shaded by its surprisal under the chosen model.
fn render_strip(r: &mut R) {
    let Some(strip) = by_id("tokens") else { return };
    let surprisal = surprisals(&r.scene);
    if r.local.strip_tokens != r.scene.tokens || strip.child_element_count() == 0 {
        dom::clear(&strip);
        for (t, &b) in r.scene.tokens.iter().enumerate() {
            let span = make("span", "tok", Some(&strip_text(b as u8)));
            set_attr(&span, "data-t", &t.to_string());
            let _ = strip.append_child(&span);
        }
        r.local.strip_tokens = r.scene.tokens.clone();
    }
    let position = r.scene.position();
    let prompt = r.scene.prompt_len;
    let children = strip.children();
    for t in 0..children.length() {
        let Some(span) = children.item(t) else {
            continue;
        };
        let t = t as usize;
        let s = surprisal.get(t).copied().unwrap_or(f64::NAN);
        let mut class = format!("tok s{}", shade_level(s));
        if t == position {
            class.push_str(" at");
        }
        if prompt.is_some_and(|p| t >= p) {
            class.push_str(" gen");
        }
        set_attr(&span, "class", &class);
        set_attr(
            &span,
            "title",
            &if s.is_finite() {
                format!("position {t}: surprisal {s:.3} nats")
            } else {
                format!("position {t}")
            },
        );
    }
    set_text("tokens-caption", &strip_caption(&r.scene));
}

/// The "open in the next-token explorer" link for the inspected (or hovered) position.
fn update_next_token_link(r: &R) {
    let Some(link) = by_id("open-next-token") else {
        return;
    };
    let t = r.focus.unwrap_or_else(|| r.scene.position());
    match r.scene.chosen().and_then(|a| a.log_probs_at(t)) {
        Some(lp) => {
            let _ = link.remove_attribute("hidden");
            set_attr(&link, "href", &next_token_link(lp));
            link.set_text_content(Some(&format!(
                "Open position {t}'s next-byte logits in the next-token explorer ↗"
            )));
        }
        None => set_attr(&link, "hidden", ""),
    }
}

fn set_hover(r: &mut R, hover: Option<usize>) {
    if r.focus != hover {
        r.focus = hover;
        r.paint_named("dist");
        update_next_token_link(r);
        show_hover_card(r, hover);
    }
}

/// The hovered byte's next-byte expectations in a card just under it (the distribution figure is
/// further down the page, often out of view). Text only: set as text content, never as HTML.
fn show_hover_card(r: &R, hover: Option<usize>) {
    let (Some(card), Some(panel)) = (by_id("hover-card"), by_id("tokens-panel")) else {
        return;
    };
    let summary = hover.and_then(|t| r.scene.hover_summary(t).map(|text| (t, text)));
    let Some((t, text)) = summary else {
        set_attr(&card, "hidden", "");
        return;
    };
    let span = by_id("tokens").and_then(|strip| {
        strip
            .query_selector(&format!("[data-t=\"{t}\"]"))
            .ok()
            .flatten()
    });
    let Some(span) = span else {
        set_attr(&card, "hidden", "");
        return;
    };
    card.set_text_content(Some(&text));
    let _ = card.remove_attribute("hidden");
    let (byte, area) = (
        span.get_bounding_client_rect(),
        panel.get_bounding_client_rect(),
    );
    let room = (area.width() - f64::from(card.client_width())).max(0.0);
    let left = (byte.left() - area.left()).clamp(0.0, room);
    let top = byte.bottom() - area.top() + 4.0;
    let style = card.unchecked_ref::<web_sys::HtmlElement>().style();
    let _ = style.set_property("left", &format!("{left:.0}px"));
    let _ = style.set_property("top", &format!("{top:.0}px"));
}

fn strip_position(event: &MouseEvent) -> Option<usize> {
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.get_attribute("data-t")?.parse().ok()
}

fn wire_strip() {
    let Some(strip) = by_id("tokens") else { return };
    dom::listen::<MouseEvent>(&strip, "mouseover", |event| {
        if let Some(t) = strip_position(&event) {
            with_runner::<Energy, _>(|r| set_hover(r, Some(t)));
        }
    });
    dom::listen::<MouseEvent>(&strip, "mouseleave", |_| {
        with_runner::<Energy, _>(|r| set_hover(r, None));
    });
    dom::listen::<MouseEvent>(&strip, "click", |event| {
        if let Some(t) = strip_position(&event) {
            with_runner::<Energy, _>(|r| {
                r.focus = None;
                r.edit_pairs(&[("pos".to_string(), t.to_string())]);
            });
        }
    });
    dom::listen::<web_sys::KeyboardEvent>(&strip, "keydown", |event| {
        let key = event.key();
        if matches!(key.as_str(), "ArrowLeft" | "ArrowRight")
            && with_runner::<Energy, _>(|r| Energy::on_key(r, &key, false)).unwrap_or(false)
        {
            event.prevent_default();
        }
    });
}
