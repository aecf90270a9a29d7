//! The real-model module: runs in the energy page's model worker (`www/model-worker.js`), never
//! on the main thread, and is fetched only when a reader loads a checkpoint (the tokenizer and
//! the safetensors reader are most of its size). It holds one checkpoint at a time and answers
//! the requests of `td_checkpoint::report`, the same report `token-dynamics model --json`
//! prints, so the page's numbers can be checked against native ones.

use std::cell::RefCell;

use js_sys::{Array, Uint8Array};
use td_checkpoint::figures::{self, Figure};
use td_checkpoint::report::{report, ModelSummary, Report, Request};
use td_checkpoint::{load, Checkpoint, Files, Model};
use wasm_bindgen::prelude::*;

/// The loaded checkpoint, and the random twin of the last seed asked for (kept: making the
/// twin of a 124M-parameter model takes seconds).
struct Loaded {
    checkpoint: Checkpoint,
    twin: Option<(u64, Model)>,
}

thread_local! {
    static LOADED: RefCell<Option<Loaded>> = const { RefCell::new(None) };
    /// The whole-distribution file of the last report that asked for one ([`take_vocabulary`]).
    static VOCABULARY: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    /// The last report and its sides' titles, for its figures ([`figure_svg`]).
    static LAST: RefCell<Option<(Report, [String; 2])>> = const { RefCell::new(None) };
}

/// Reads a checkpoint from its files (`names[i]` is the bare file name of `files[i]`) and keeps
/// it. The previous checkpoint (and its twin) is dropped first, even if this one fails: two
/// models at once may not fit the tab's memory. Returns the model's summary as JSON; throws the
/// reason (a string a reader can act on) otherwise.
///
/// The files are copied into this module's memory (the safetensors reader needs them there) and
/// freed as soon as the tensors are read; `td_checkpoint::memory` counts them beside the weights
/// and the twin.
#[wasm_bindgen]
pub fn load_checkpoint(names: Array, files: Array) -> Result<String, JsValue> {
    console_error_panic_hook::set_once();
    if names.length() != files.length() {
        return Err("load_checkpoint: one name per file".into());
    }
    // Before the files are copied in, so the old model's pages can take them.
    LOADED.with(|l| l.borrow_mut().take());
    let mut map = Files::new();
    for (name, file) in names.iter().zip(files.iter()) {
        let name = name
            .as_string()
            .ok_or("load_checkpoint: a file name is not text")?;
        let bytes: Uint8Array = file
            .dyn_into()
            .map_err(|_| JsValue::from_str("load_checkpoint: a file is not a Uint8Array"))?;
        map.insert(name, bytes.to_vec());
    }
    let checkpoint = load(&map).map_err(|e| JsValue::from_str(&e))?;
    drop(map);
    let summary = serialise(&ModelSummary::of(&checkpoint));
    LOADED.with(|l| {
        *l.borrow_mut() = Some(Loaded {
            checkpoint,
            twin: None,
        })
    });
    Ok(summary)
}

/// The report of a request (JSON, see `td_checkpoint::report::Request`) on the loaded
/// checkpoint, as JSON; throws the reason when there is no checkpoint or the request fails.
#[wasm_bindgen]
pub fn analyse(request_json: &str) -> Result<String, JsValue> {
    let request = Request::from_json(request_json).map_err(|e| JsValue::from_str(&e))?;
    LOADED.with(|l| {
        let mut slot = l.borrow_mut();
        let loaded = slot
            .as_mut()
            .ok_or_else(|| JsValue::from_str("no checkpoint is loaded"))?;
        let fresh = !matches!(&loaded.twin, Some((seed, _)) if *seed == request.twin_seed);
        if fresh {
            loaded.twin = None; // free the old twin before making the new one
            let twin = loaded
                .checkpoint
                .model
                .random_twin(request.twin_seed)
                .map_err(|e| JsValue::from_str(&e))?;
            loaded.twin = Some((request.twin_seed, twin));
        }
        let twin = &loaded.twin.as_ref().expect("made above").1;
        let mut report =
            report(&loaded.checkpoint, twin, &request).map_err(|e| JsValue::from_str(&e))?;
        VOCABULARY.with(|v| *v.borrow_mut() = report.vocabulary.take());
        let json = report.to_json();
        let names = figures::names(&report, request.source.as_deref());
        LAST.with(|last| *last.borrow_mut() = Some((report, names)));
        Ok(json)
    })
}

/// One of the energy lab's figures (`series`, `phase`, `scatter`) of the last report, the model
/// beside its random twin, as an SVG document `width` CSS pixels wide (its height follows).
#[wasm_bindgen]
pub fn figure_svg(name: &str, width: u32) -> Result<String, JsValue> {
    let figure = Figure::parse(name).ok_or_else(|| JsValue::from_str("no such figure"))?;
    LAST.with(|last| {
        let last = last.borrow();
        let (report, names) = last
            .as_ref()
            .ok_or_else(|| JsValue::from_str("no report yet"))?;
        Ok(figures::render_svg(
            report,
            names,
            figure,
            figure.size_for_width(width),
        ))
    })
}

/// What a figure shows, in words (its caption and text alternative).
#[wasm_bindgen]
pub fn figure_caption(name: &str) -> String {
    Figure::parse(name).map_or_else(String::new, |f| f.caption().to_string())
}

/// The whole-distribution file (`td_core::vocabulary`) of the last report whose request had
/// `"vocabulary": true`, once; the worker keeps it in the browser's storage under its id.
#[wasm_bindgen]
pub fn take_vocabulary() -> Option<Vec<u8>> {
    VOCABULARY.with(|v| v.borrow_mut().take())
}

/// The id of a vocabulary file (its `vocab=` in a next-token link).
#[wasm_bindgen]
pub fn vocabulary_id(bytes: &[u8]) -> String {
    td_checkpoint::report::vocabulary_id(bytes)
}

fn serialise(summary: &ModelSummary) -> String {
    td_checkpoint::report::summary_json(summary)
}

/// The benchmark, in the worker: builds a random model of `shape` (`gpt2-small`,
/// `smollm2-135m`, `smollm2-360m`, each optionally `-bf16`: `td_checkpoint::report::random_shape`)
/// from a seed, then times `runs` forward passes over `tokens` tokens plus every statistic, and
/// `generate` tokens of greedy generation with the key/value cache after a 16-token prompt.
/// Returns JSON `{shape, params, weight_bytes, tokens, build_ms, pass_ms: [..], gflops,
/// generate_tokens, generate_ms_per_token}` (GFLOP/s: 2 × parameters × tokens / fastest pass).
#[wasm_bindgen]
pub fn bench_shape(
    shape: &str,
    tokens: usize,
    runs: usize,
    generate: usize,
) -> Result<String, JsValue> {
    use td_checkpoint::report::{bench_ids, bench_pass, random_shape, Generate};
    console_error_panic_hook::set_once();
    let now = js_sys::Date::now;
    let start = now();
    let model = random_shape(shape, 1).map_err(|e| JsValue::from_str(&e))?;
    let build_ms = now() - start;
    let mut pass_ms = Vec::new();
    let mut params = 0;
    for _ in 0..runs.max(1) {
        let start = now();
        params = bench_pass(&model, tokens).map_err(|e| JsValue::from_str(&e))?;
        pass_ms.push(now() - start);
    }
    let fastest = pass_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let gflops = 2.0 * params as f64 * tokens as f64 / (fastest * 1e6);
    let start = now();
    let greedy = Generate {
        temperature: 0.0,
        ..Generate::default()
    };
    let out = model
        .generate(&bench_ids(16), generate, greedy.sampling(), 1)
        .map_err(|e| JsValue::from_str(&e))?;
    let made = out.len().saturating_sub(16);
    let per_token = (now() - start) / made.max(1) as f64;
    Ok(format!(
        "{{\"shape\":\"{shape}\",\"params\":{params},\"weight_bytes\":{},\"tokens\":{tokens},\"build_ms\":{build_ms},\"pass_ms\":{pass_ms:?},\"gflops\":{gflops},\"generate_tokens\":{made},\"generate_ms_per_token\":{per_token}}}",
        model.bytes()
    ))
}
