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
//! the runner, which takes it over ([`Explorer::apply_progress`]) and paints. Messages of an
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

/// Worker side: starts computing the scene of `hash` (replacing any job). False if the explorer
/// does not compute this scene in a worker.
pub fn begin<E: Explorer>(hash: &str, models: E::Models) -> bool {
    let (state, _) = E::from_hash(hash);
    let scene = E::new_scene(&state, &models);
    let ok = E::offload(&scene);
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
    /// Progress of `generation`: whether the scene is done, how far it is, and the payload.
    Progress {
        generation: u64,
        done: bool,
        progress: f64,
        payload: Vec<u8>,
    },
    /// The worker could not do the job (the page computes it itself).
    Failed { generation: u64, message: String },
}

/// Page side: the worker, started on first use.
pub struct Remote {
    worker: Option<Worker>,
    /// The worker could not start: compute on the page from now on.
    pub unavailable: bool,
}

impl Remote {
    pub fn new() -> Remote {
        Remote {
            worker: None,
            unavailable: false,
        }
    }

    fn start(&mut self, explorer: &str, on_reply: fn(Reply)) -> Option<&Worker> {
        if self.worker.is_none() && !self.unavailable {
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
                    self.worker = Some(worker);
                }
                Err(_) => self.unavailable = true,
            }
        }
        self.worker.as_ref()
    }

    /// Sends a job (the link of the scene to compute, and what its models need); false when no
    /// worker can take it.
    pub fn post(
        &mut self,
        explorer: &str,
        generation: u64,
        hash: &str,
        payload: Option<&JsValue>,
        on_reply: fn(Reply),
    ) -> bool {
        let Some(worker) = self.start(explorer, on_reply) else {
            return false;
        };
        let msg = Object::new();
        let _ = Reflect::set(&msg, &"type".into(), &"job".into());
        let _ = Reflect::set(&msg, &"generation".into(), &(generation as f64).into());
        let _ = Reflect::set(&msg, &"hash".into(), &hash.into());
        if let Some(payload) = payload {
            let _ = Reflect::set(&msg, &"payload".into(), payload);
        }
        worker.post_message(&msg).is_ok()
    }

    /// Tells the worker to stop the current job (a scene the page computes itself came next).
    pub fn cancel(&self) {
        if let Some(worker) = &self.worker {
            let msg = Object::new();
            let _ = Reflect::set(&msg, &"type".into(), &"cancel".into());
            let _ = worker.post_message(&msg);
        }
    }

    /// Gives up on the worker (it failed): the page computes from now on.
    pub fn disable(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.terminate();
        }
        self.unavailable = true;
    }
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
            Some(Reply::Progress {
                generation,
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
