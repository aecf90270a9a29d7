//! WebAssembly glue: DOM, events, URL, animation, and the page's script interface
//! (`window.tokenDynamics`). No maths here: it calls the explorer's scene and drawing code.

mod app;
mod attention_app;
mod canvas;
mod controls;
mod dom;
mod embed;
mod energy_app;
mod explorer;
mod share;
mod shell;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use explorer::with_explorer;
use td_core::url::format_number;
use td_next_token::params;
use td_next_token::scene;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    // Which explorer this page hosts (boot.js has already sent links of another explorer to its page).
    let explorer = dom::document()
        .body()
        .and_then(|b| b.get_attribute("data-explorer"))
        .unwrap_or_default();
    if explorer == td_attention::params::EXPLORER {
        attention_app::start();
    } else if explorer == td_energy::params::EXPLORER {
        energy_app::start();
    } else {
        app::start();
    }
    install_api();
    embed::install();
    share::install();
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn numbers(values: &[f64]) -> JsValue {
    let array = Array::new_with_length(values.len() as u32);
    for (i, v) in values.iter().enumerate() {
        // No NaN or infinity crosses into the page: non-finite values become null.
        let value = if v.is_finite() {
            JsValue::from_f64(*v)
        } else {
            JsValue::NULL
        };
        array.set(i as u32, value);
    }
    array.into()
}

fn state_object() -> JsValue {
    with_explorer(|e| e.state_object()).unwrap_or(JsValue::NULL)
}

fn readout_object() -> JsValue {
    with_explorer(|e| e.readout_object()).unwrap_or(JsValue::NULL)
}

/// The state as a plain object with the link's keys (numbers as numbers), `explorer`, the page
/// options and `hash`, the whole link including page options such as `embed`.
pub(crate) fn state_object_from<S, G>(
    explorer: &str,
    params: &[td_core::table::Param<S, G>],
    state: &S,
    page: &td_core::page::PageOptions,
    hash: &str,
) -> JsValue {
    let obj = Object::new();
    set(&obj, "explorer", &JsValue::from_str(explorer));
    for param in params {
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

pub(crate) fn readout_object_of(app: &app::App) -> JsValue {
    {
        let readouts = app.scene.readouts();
        let make = |r: &scene::Readout| {
            let obj = Object::new();
            set(&obj, "flow", &JsValue::from_str(scene::flow_key(r.flow)));
            set(&obj, "t", &JsValue::from_f64(r.t));
            set(&obj, "p", &numbers(&r.p));
            set(&obj, "F", &JsValue::from_f64(r.free_energy));
            set(&obj, "H", &JsValue::from_f64(r.entropy));
            set(
                &obj,
                "KL",
                &if r.kl.is_finite() {
                    JsValue::from_f64(r.kl)
                } else {
                    JsValue::NULL
                },
            );
            set(&obj, "E", &JsValue::from_f64(r.expected_score));
            set(
                &obj,
                "KLreverse",
                &if r.kl_reverse.is_finite() {
                    JsValue::from_f64(r.kl_reverse)
                } else {
                    JsValue::NULL
                },
            );
            set(&obj, "distance", &JsValue::from_f64(r.distance));
            set(
                &obj,
                "conserved",
                &r.conserved.map_or(JsValue::NULL, JsValue::from_f64),
            );
            set(&obj, "target", &numbers(&r.target));
            let support: Vec<f64> = r.support.iter().map(|&i| i as f64).collect();
            set(&obj, "support", &numbers(&support));
            obj
        };
        let Some(first) = readouts.first() else {
            return JsValue::NULL;
        };
        let obj = make(first);
        if let Some(second) = readouts.get(1) {
            set(&obj, "compare", &make(second));
        }
        set(&obj, "done", &JsValue::from_bool(app.scene.is_done()));
        set(
            &obj,
            "notes",
            &app.scene
                .notes
                .iter()
                .map(|n| JsValue::from_str(n))
                .collect::<Array>(),
        );
        obj.into()
    }
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
    with_explorer(|e| {
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

fn install_api() {
    let api = Object::new();
    set(
        &api,
        "version",
        &JsValue::from_str(env!("CARGO_PKG_VERSION")),
    );
    set(
        &api,
        "formatVersion",
        &JsValue::from_f64(params::FORMAT_VERSION as f64),
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
    #[cfg(feature = "bench")]
    {
        let bench_fn = Closure::<dyn Fn(String) -> JsValue>::new(|name: String| {
            td_energy::bench::prepare(&name);
            let start = dom::now_ms();
            match td_next_token::bench::run(&name)
                .or_else(|| td_attention::bench::run(&name))
                .or_else(|| td_energy::bench::run(&name))
            {
                Some(checksum) => {
                    std::hint::black_box(checksum);
                    JsValue::from_f64(dom::now_ms() - start)
                }
                None => JsValue::NULL,
            }
        });
        set(&api, "bench", bench_fn.as_ref());
        bench_fn.forget();
    }
    let paint_fn = Closure::<dyn Fn() -> JsValue>::new(|| {
        JsValue::from_f64(with_explorer(|e| e.last_paint_ms()).unwrap_or(f64::NAN))
    });
    set(&api, "lastPaintMs", paint_fn.as_ref());
    paint_fn.forget();
    let timings_fn = Closure::<dyn Fn() -> JsValue>::new(|| {
        let obj = Object::new();
        for (name, ms) in with_explorer(|e| e.timings()).unwrap_or_default() {
            set(&obj, name, &JsValue::from_f64(ms));
        }
        obj.into()
    });
    set(&api, "timings", timings_fn.as_ref());
    timings_fn.forget();
    set(&dom::window(), "tokenDynamics", &api);
}
