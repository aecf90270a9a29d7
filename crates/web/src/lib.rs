//! The web glue of token-dynamics: DOM, canvas, controls, share, embed, the script interface and
//! ONE generic page runner ([`runner::run`]) for any explorer. No maths and no model logic here:
//! the runner calls the explorer's [`td_core::explorer::Explorer`] interface, and each explorer's
//! page adds only its DOM hooks ([`runner::WebExplorer`], in [`hooks`], one per cargo feature so
//! a page's WebAssembly carries its own explorer only).

mod api;
mod backend;
mod blocks;
mod canvas;
mod chrome;
mod controls;
mod dom;
mod embed;
mod events;
pub mod hooks;
mod page;
pub mod runner;
mod share;
pub mod worker;

pub use runner::run;

/// The whole WebAssembly module of a page: `td_web::page!(td_next_token::explorer::NextToken);`
/// runs the explorer on the page and exports the entry points of the page's worker.
#[macro_export]
macro_rules! page {
    ($explorer:ty) => {
        #[wasm_bindgen::prelude::wasm_bindgen(start)]
        pub fn start() {
            $crate::run::<$explorer>();
        }

        /// In the page's worker: starts computing part `shard` of `shards` of the scene of
        /// `hash` (false: not offloaded).
        #[wasm_bindgen::prelude::wasm_bindgen]
        pub fn worker_begin(
            hash: &str,
            payload: wasm_bindgen::JsValue,
            shard: u32,
            shards: u32,
        ) -> bool {
            $crate::runner::begin_in_worker::<$explorer>(hash, &payload, shard, shards)
        }

        /// In the page's worker: computes for about `budget_ms`; `[done, progress, payload]`.
        #[wasm_bindgen::prelude::wasm_bindgen]
        pub fn worker_step(budget_ms: f64) -> Vec<u8> {
            $crate::worker::step::<$explorer>(budget_ms)
        }
    };
}
