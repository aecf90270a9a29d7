//! Small DOM helpers. Text from links is only ever set with `set_text_content` / `value`, never as HTML.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Window};

pub fn window() -> Window {
    web_sys::window().expect("no window")
}

pub fn document() -> Document {
    window().document().expect("no document")
}

pub fn by_id(id: &str) -> Option<Element> {
    document().get_element_by_id(id)
}

pub fn by_id_as<T: JsCast>(id: &str) -> Option<T> {
    by_id(id).and_then(|e| e.dyn_into::<T>().ok())
}

/// Creates an element with a class (may be empty) and optional text content.
pub fn make(tag: &str, class: &str, text: Option<&str>) -> Element {
    let el = document().create_element(tag).expect("create_element");
    if !class.is_empty() {
        el.set_class_name(class);
    }
    if let Some(t) = text {
        el.set_text_content(Some(t));
    }
    el
}

/// Sets an attribute unless it already has this value: a write invalidates the page's style even
/// when nothing changes, and a slider's repaint would then pay for a style recalculation.
pub fn set_attr(el: &Element, name: &str, value: &str) {
    if el.get_attribute(name).as_deref() != Some(value) {
        let _ = el.set_attribute(name, value);
    }
}

/// Sets an element's text unless it already reads so (see [`set_attr`]).
pub fn set_text(id: &str, text: &str) {
    if let Some(el) = by_id(id) {
        if el.text_content().as_deref() != Some(text) {
            el.set_text_content(Some(text));
        }
    }
}

/// Removes every child (one call, not one per child).
pub fn clear(el: &Element) {
    el.set_text_content(None);
}

pub fn now_ms() -> f64 {
    window()
        .performance()
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now)
}

pub fn device_pixel_ratio() -> f64 {
    let r = window().device_pixel_ratio();
    if r.is_finite() && r > 0.0 {
        r.min(4.0)
    } else {
        1.0
    }
}

/// Registers a persistent event listener.
pub fn listen<E: JsCast + wasm_bindgen::convert::FromWasmAbi + 'static>(
    target: &web_sys::EventTarget,
    event: &str,
    handler: impl FnMut(E) + 'static,
) {
    let closure = Closure::<dyn FnMut(E)>::new(handler);
    let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    closure.forget();
}

pub fn request_frame(handler: impl FnOnce(f64) + 'static) {
    let closure = Closure::once_into_js(handler);
    let _ = window().request_animation_frame(closure.unchecked_ref());
}

pub fn set_timeout(handler: impl FnOnce() + 'static, ms: i32) {
    let closure = Closure::once_into_js(handler);
    let _ =
        window().set_timeout_with_callback_and_timeout_and_arguments_0(closure.unchecked_ref(), ms);
}
