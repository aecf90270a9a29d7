//! WebAssembly glue: DOM, events, URL, animation, and the page's script interface
//! (`window.tokenDynamics`). No maths here: it calls the explorer's scene and drawing code.

mod app;
mod canvas;
mod dom;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::next_token::params::{self, Kind, PARAMS};
use crate::next_token::{bench, scene};
use crate::url::format_number;

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    app::start();
    install_api();
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
    app::with_app(|app| {
        let obj = Object::new();
        set(&obj, "explorer", &JsValue::from_str(params::EXPLORER));
        for param in PARAMS {
            let text = params::value_text(param, &app.state);
            let value = match param.kind {
                Kind::Number { get, .. } | Kind::Integer { get, .. } => {
                    JsValue::from_f64(get(&app.state))
                }
                _ => JsValue::from_str(&text),
            };
            set(&obj, param.key, &value);
        }
        set(
            &obj,
            "hash",
            &JsValue::from_str(&params::to_hash(&app.state)),
        );
        obj.into()
    })
    .unwrap_or(JsValue::NULL)
}

fn readout_object() -> JsValue {
    app::with_app(|app| {
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
    })
    .unwrap_or(JsValue::NULL)
}

/// `set(partial)`: validated exactly like a link. Returns `{ok, messages}`.
fn set_partial(partial: JsValue) -> JsValue {
    let mut pairs = Vec::new();
    if let Ok(entries) = Object::entries(&Object::from(partial.clone())).dyn_into::<Array>() {
        for entry in entries.iter().take(crate::url::MAX_PAIRS) {
            let entry = Array::from(&entry);
            let key = entry.get(0).as_string().unwrap_or_default();
            let value = entry.get(1);
            let text = if let Some(n) = value.as_f64() {
                format_number(n)
            } else if let Some(s) = value.as_string() {
                s
            } else if Array::is_array(&value) {
                Array::from(&value)
                    .iter()
                    .map(|v| {
                        v.as_f64()
                            .map(format_number)
                            .or_else(|| v.as_string())
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            } else if value.as_bool().is_some() {
                if value.as_bool() == Some(true) {
                    "on".into()
                } else {
                    "off".into()
                }
            } else {
                String::new()
            };
            pairs.push((key, text));
        }
    }
    let result = Object::new();
    let messages = app::with_app(|app| {
        let messages = app.edit(&pairs);
        app.write_url();
        messages
    })
    .unwrap_or_default();
    set(&result, "ok", &JsValue::from_bool(messages.is_empty()));
    set(
        &result,
        "messages",
        &messages
            .iter()
            .map(|m| JsValue::from_str(&m.text))
            .collect::<Array>(),
    );
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
    let bench_fn = Closure::<dyn Fn(String) -> JsValue>::new(|name: String| {
        let start = dom::now_ms();
        match bench::run(&name) {
            Some(checksum) => {
                std::hint::black_box(checksum);
                JsValue::from_f64(dom::now_ms() - start)
            }
            None => JsValue::NULL,
        }
    });
    set(&api, "bench", bench_fn.as_ref());
    bench_fn.forget();
    let paint_fn = Closure::<dyn Fn() -> JsValue>::new(|| {
        JsValue::from_f64(app::with_app(|app| app.last_paint_ms).unwrap_or(f64::NAN))
    });
    set(&api, "lastPaintMs", paint_fn.as_ref());
    paint_fn.forget();
    let timings_fn = Closure::<dyn Fn() -> JsValue>::new(|| {
        let obj = Object::new();
        app::with_app(|app| {
            for (name, ms) in &app.timings {
                set(&obj, name, &JsValue::from_f64(*ms));
            }
        });
        obj.into()
    });
    set(&api, "timings", timings_fn.as_ref());
    timings_fn.forget();
    set(&dom::window(), "tokenDynamics", &api);
}
