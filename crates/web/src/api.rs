//! The page's script interface, `window.tokenDynamics`: `state()`, `readout()`, `set(partial)`
//! (validated exactly like a link), `version`, `formatVersion`, `lastPaintMs()`, `timings()` and,
//! in bench builds only, `bench(name)`. Values cross as plain objects; no NaN or infinity crosses.

use js_sys::{Array, Object, Reflect};
use td_core::explorer::Explorer;
use td_core::url::format_number;
use wasm_bindgen::prelude::*;

use crate::page::with_page;

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn state_object() -> JsValue {
    with_page(|e| e.state_object()).unwrap_or(JsValue::NULL)
}

fn readout_object() -> JsValue {
    with_page(|e| e.readout_object()).unwrap_or(JsValue::NULL)
}

/// The state as a plain object with the link's keys (numbers as numbers), `explorer`, the page
/// options and `hash`, the whole link including page options such as `embed`.
pub(crate) fn state_object_of<E: Explorer>(
    state: &E::State,
    page: &td_core::page::PageOptions,
    hash: &str,
) -> JsValue {
    let obj = Object::new();
    set(&obj, "explorer", &JsValue::from_str(E::NAME));
    for param in E::params() {
        let value = match param.kind {
            td_core::table::Kind::Number { get, .. }
            | td_core::table::Kind::Integer { get, .. } => JsValue::from_f64(get(state)),
            _ => JsValue::from_str(&td_core::table::value_text(param, state)),
        };
        set(&obj, param.key, &value);
    }
    for (key, value) in td_core::page::to_pairs(page) {
        set(&obj, &key, &JsValue::from_str(&value));
    }
    set(&obj, "hash", &JsValue::from_str(hash));
    obj.into()
}

/// Longest text (summed over all values) accepted from a script or a message: the same bound as a link.
const MAX_PARTIAL_TEXT: usize = td_core::url::MAX_HASH_LEN;
/// Longest array value accepted (explicit logits are capped far below this by the parameter table).
const MAX_PARTIAL_ARRAY: u32 = 100_000;

/// Turns `{key: value}` into key=value text pairs, exactly as a link would carry them (numbers in
/// their shortest exact form, arrays comma-joined, booleans on/off). Returns `None` for anything
/// that is not a plain object or is too large to be a link (more than 64 keys, more than 1 MB of
/// text, arrays longer than 100,000): such input is ignored as a whole, never half-applied.
pub(crate) fn pairs_from_object(partial: &JsValue) -> Option<Vec<(String, String)>> {
    if !partial.is_object() || Array::is_array(partial) || partial.is_function() {
        return None;
    }
    let object = Object::from(partial.clone());
    if Object::keys(&object).length() as usize > td_core::url::MAX_PAIRS {
        return None;
    }
    let mut pairs = Vec::new();
    let mut total = 0usize;
    for entry in Object::entries(&object).iter() {
        let entry = Array::from(&entry);
        let key = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let text = if let Some(n) = value.as_f64() {
            format_number(n)
        } else if let Some(s) = value.as_string() {
            s
        } else if Array::is_array(&value) {
            let array = Array::from(&value);
            if array.length() > MAX_PARTIAL_ARRAY {
                return None;
            }
            let mut joined = String::new();
            for (i, v) in array.iter().enumerate() {
                if i > 0 {
                    joined.push(',');
                }
                if let Some(n) = v.as_f64() {
                    joined.push_str(&format_number(n));
                } else if let Some(s) = v.as_string() {
                    joined.push_str(&s);
                }
                if joined.len() > MAX_PARTIAL_TEXT {
                    return None;
                }
            }
            joined
        } else if let Some(flag) = value.as_bool() {
            if flag {
                "on".into()
            } else {
                "off".into()
            }
        } else {
            String::new()
        };
        total += key.len() + text.len();
        if total > MAX_PARTIAL_TEXT {
            return None;
        }
        pairs.push((key, text));
    }
    Some(pairs)
}

/// Applies validated pairs and returns the messages (the URL is written at once).
pub(crate) fn apply_pairs(pairs: &[(String, String)]) -> Vec<String> {
    with_page(|e| {
        let messages = e.edit(pairs);
        e.write_url();
        messages
    })
    .unwrap_or_default()
    .iter()
    .map(|m| m.text.clone())
    .collect()
}

pub(crate) fn strings(items: &[String]) -> Array {
    items.iter().map(|m| JsValue::from_str(m)).collect()
}

/// `set(partial)`: validated exactly like a link. Returns `{ok, messages}`.
fn set_partial(partial: JsValue) -> JsValue {
    let result = Object::new();
    let messages = match pairs_from_object(&partial) {
        Some(pairs) => apply_pairs(&pairs),
        None => vec!["set() takes a plain object of link keys (at most 64 keys, 1 MB of text); nothing was changed".to_string()],
    };
    set(&result, "ok", &JsValue::from_bool(messages.is_empty()));
    set(&result, "messages", &strings(&messages));
    result.into()
}

pub(crate) fn install<E: Explorer>() {
    let api = Object::new();
    set(
        &api,
        "version",
        &JsValue::from_str(env!("CARGO_PKG_VERSION")),
    );
    set(&api, "explorer", &JsValue::from_str(E::NAME));
    set(
        &api,
        "formatVersion",
        &JsValue::from_f64(E::FORMAT_VERSION as f64),
    );
    let state_fn = Closure::<dyn Fn() -> JsValue>::new(state_object);
    set(&api, "state", state_fn.as_ref());
    state_fn.forget();
    let readout_fn = Closure::<dyn Fn() -> JsValue>::new(readout_object);
    set(&api, "readout", readout_fn.as_ref());
    readout_fn.forget();
    let set_fn = Closure::<dyn Fn(JsValue) -> JsValue>::new(set_partial);
    set(&api, "set", set_fn.as_ref());
    set_fn.forget();
    if !E::bench_scenarios().is_empty() {
        let bench_fn = Closure::<dyn Fn(String) -> JsValue>::new(|name: String| {
            with_page(|p| p.bench(&name))
                .flatten()
                .map_or(JsValue::NULL, JsValue::from_f64)
        });
        set(&api, "bench", bench_fn.as_ref());
        bench_fn.forget();
        let names: Array = E::bench_scenarios()
            .iter()
            .map(|n| JsValue::from_str(n))
            .collect();
        set(&api, "benchScenarios", &names);
    }
    let paint_fn = Closure::<dyn Fn() -> JsValue>::new(|| {
        JsValue::from_f64(with_page(|e| e.last_paint_ms()).unwrap_or(f64::NAN))
    });
    set(&api, "lastPaintMs", paint_fn.as_ref());
    paint_fn.forget();
    let timings_fn = Closure::<dyn Fn() -> JsValue>::new(|| {
        let obj = Object::new();
        for (name, ms) in with_page(|e| e.timings()).unwrap_or_default() {
            set(&obj, name, &JsValue::from_f64(ms));
        }
        obj.into()
    });
    set(&api, "timings", timings_fn.as_ref());
    timings_fn.forget();
    set(&crate::dom::window(), "tokenDynamics", &api);
}
