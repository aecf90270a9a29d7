//! The page's computing worker, both ends.
//!
//! In the worker (a module Web Worker running the page's own WebAssembly, `www/worker.js`):
//! [`begin`] builds the scene of a link, [`step`] advances it for a time slice and returns what
//! it computed, encoded by the explorer ([`Explorer::progress_since`]); `worker.js` posts that to
//! the page after every slice and yields, so a newer job supersedes an older one at the next
//! slice.
//!
//! On the page: [`Remote`] starts the worker on first use (never when the scene fits a frame),
//! sends jobs tagged with the scene's generation, and hands progress of the current generation to
//! the runner, which takes it over ([`Explorer::apply_progress`]) and paints. A scene that splits
//! into independent parts ([`Explorer::shards`]: the trajectories of a next-token scene) goes to
//! several workers, up to [`worker_limit`], each computing its part ([`Explorer::restrict_to_shard`]);
//! no memory is shared, so no cross-origin isolation is needed. Messages of an
//! older generation are dropped: a control change never paints a stale scene. If no worker can
//! start (a browser without module workers, a page opened from a file), the runner computes on
//! the page in time slices, as before.

use std::any::Any;
use std::cell::RefCell;

use js_sys::{Object, Reflect, Uint8Array};
use td_core::explorer::Explorer;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

/// One job in the worker: the scene and what of it was sent already.
struct Job<E: Explorer> {
    scene: E::Scene,
    shipped: Vec<usize>,
}

thread_local! {
    static JOB: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Milliseconds from the worker's (or page's) clock.
fn now_ms() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Worker side: starts computing part `shard` of `shards` of the scene of `hash` (replacing any
/// job). False if the explorer does not compute this scene in a worker.
pub fn begin<E: Explorer>(hash: &str, models: E::Models, shard: usize, shards: usize) -> bool {
    let (state, _) = E::from_hash(hash);
    let mut scene = E::new_scene(&state, &models);
    let ok = E::offload(&scene);
    if shards > 1 {
        E::restrict_to_shard(&mut scene, shard, shards);
    }
    JOB.with(|job| {
        *job.borrow_mut() = Some(Box::new(Job::<E> {
            scene,
            shipped: Vec::new(),
        }))
    });
    ok
}

/// Worker side: computes for about `budget_ms` and returns `[done, progress (f64, LE), payload]`.
pub fn step<E: Explorer>(budget_ms: f64) -> Vec<u8> {
    JOB.with(|job| {
        let mut job = job.borrow_mut();
        let Some(job) = job.as_mut().and_then(|j| j.downcast_mut::<Job<E>>()) else {
            return vec![1];
        };
        let start = now_ms();
        let units = E::slice_units(&job.scene);
        let mut done = E::is_done(&job.scene);
        while !done && !E::is_waiting(&job.scene) && now_ms() - start < budget_ms {
            done = E::advance(&mut job.scene, units);
        }
        let mut out = vec![u8::from(done)];
        out.extend_from_slice(&E::progress(&job.scene).to_le_bytes());
        out.extend(E::progress_since(&job.scene, &mut job.shipped));
        out
    })
}

/// A message from the worker, as the page reads it.
pub enum Reply {
    /// Progress of `generation` from the worker computing part `shard`: whether that part is
    /// done, how far it is, and the payload.
    Progress {
        generation: u64,
        shard: usize,
        done: bool,
        progress: f64,
        payload: Vec<u8>,
    },
    /// The worker could not do the job (the page computes it itself).
    Failed { generation: u64, message: String },
}

/// How many workers a page may run: one per core the browser reports but one (the page's own
/// thread applies and paints what arrives; on 2 cores two workers beside the page were slower
/// than one in 4 of 6 bench measurements), at most 4. `globalThis.tdMaxWorkers` (a number set before the page loads)
/// overrides it, for tests and benchmarks.
pub fn worker_limit() -> usize {
    let global = js_sys::global();
    let set = Reflect::get(&global, &"tdMaxWorkers".into())
        .ok()
        .and_then(|v| v.as_f64());
    let cores = Reflect::get(&global, &"navigator".into())
        .ok()
        .and_then(|n| Reflect::get(&n, &"hardwareConcurrency".into()).ok())
        .and_then(|v| v.as_f64());
    let n = set.or(cores.map(|c| c - 1.0)).unwrap_or(1.0);
    if n.is_finite() {
        n.clamp(1.0, 4.0) as usize
    } else {
        1
    }
}

/// Page side: the workers, started on first use (one more each time a scene splits further).
pub struct Remote {
    workers: Vec<Worker>,
    /// No worker could start: compute on the page from now on.
    pub unavailable: bool,
}

impl Remote {
    pub fn new() -> Remote {
        Remote {
            workers: Vec::new(),
            unavailable: false,
        }
    }

    /// Starts workers until there are `count` (fewer if one cannot start); how many there are.
    fn start(&mut self, explorer: &str, count: usize, on_reply: fn(Reply)) -> usize {
        while self.workers.len() < count && !self.unavailable {
            let options = WorkerOptions::new();
            options.set_type(WorkerType::Module);
            match Worker::new_with_options(&format!("worker.js?explorer={explorer}"), &options) {
                Ok(worker) => {
                    let listener =
                        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                            if let Some(reply) = read_reply(&e.data()) {
                                on_reply(reply);
                            }
                        });
                    worker.set_onmessage(Some(listener.as_ref().unchecked_ref()));
                    listener.forget();
                    let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                        on_reply(Reply::Failed {
                            generation: u64::MAX,
                            message: "the worker failed to load".into(),
                        });
                    });
                    worker.set_onerror(Some(failed.as_ref().unchecked_ref()));
                    failed.forget();
                    // The page's compiled module (www/boot.js), so the worker does not fetch and
                    // compile the wasm again.
                    let module = Reflect::get(&js_sys::global(), &"tdWasmModule".into()).ok();
                    if let Some(module) = module.filter(|m| !m.is_undefined()) {
                        let msg = Object::new();
                        let _ = Reflect::set(&msg, &"type".into(), &"module".into());
                        let _ = Reflect::set(&msg, &"module".into(), &module);
                        let _ = worker.post_message(&msg);
                    }
                    self.workers.push(worker);
                }
                Err(_) => {
                    // None at all: the page computes. Some: they share the work.
                    self.unavailable = self.workers.is_empty();
                    break;
                }
            }
        }
        self.workers.len().min(count)
    }

    /// Sends a job (the link of the scene to compute, and what its models need) to up to `shards`
    /// workers, part i to worker i; returns the number of parts (0: no worker can take it).
    pub fn post(
        &mut self,
        explorer: &str,
        generation: u64,
        hash: &str,
        payload: Option<&JsValue>,
        shards: usize,
        on_reply: fn(Reply),
    ) -> usize {
        let shards = self.start(explorer, shards.max(1), on_reply);
        for (shard, worker) in self.workers.iter().take(shards).enumerate() {
            let msg = Object::new();
            let _ = Reflect::set(&msg, &"type".into(), &"job".into());
            let _ = Reflect::set(&msg, &"generation".into(), &(generation as f64).into());
            let _ = Reflect::set(&msg, &"hash".into(), &hash.into());
            let _ = Reflect::set(&msg, &"shard".into(), &(shard as f64).into());
            let _ = Reflect::set(&msg, &"shards".into(), &(shards as f64).into());
            if let Some(payload) = payload {
                let _ = Reflect::set(&msg, &"payload".into(), payload);
            }
            if worker.post_message(&msg).is_err() {
                return 0;
            }
        }
        // Workers beyond the parts stop what they were doing.
        for worker in self.workers.iter().skip(shards) {
            cancel(worker);
        }
        shards
    }

    /// Tells the workers to stop the current job (a scene the page computes itself came next).
    pub fn cancel(&self) {
        for worker in &self.workers {
            cancel(worker);
        }
    }

    /// Gives up on the workers (one failed): the page computes from now on.
    pub fn disable(&mut self) {
        for worker in self.workers.drain(..) {
            worker.terminate();
        }
        self.unavailable = true;
    }
}

fn cancel(worker: &Worker) {
    let msg = Object::new();
    let _ = Reflect::set(&msg, &"type".into(), &"cancel".into());
    let _ = worker.post_message(&msg);
}

impl Default for Remote {
    fn default() -> Self {
        Remote::new()
    }
}

fn read_reply(data: &JsValue) -> Option<Reply> {
    let get = |key: &str| Reflect::get(data, &key.into()).ok();
    let kind = get("type")?.as_string()?;
    let generation = get("generation")?.as_f64()? as u64;
    match kind.as_str() {
        "progress" => {
            let bytes = Uint8Array::new(&get("bytes")?).to_vec();
            if bytes.len() < 9 {
                return None;
            }
            let progress = f64::from_le_bytes(bytes[1..9].try_into().ok()?);
            let shard = get("shard").and_then(|v| v.as_f64()).unwrap_or(0.0);
            Some(Reply::Progress {
                generation,
                shard: if shard >= 0.0 { shard as usize } else { 0 },
                done: bytes[0] == 1,
                progress: if progress.is_finite() { progress } else { 0.0 },
                payload: bytes[9..].to_vec(),
            })
        }
        "error" => Some(Reply::Failed {
            generation,
            message: get("message")?.as_string().unwrap_or_default(),
        }),
        _ => None,
    }
}
