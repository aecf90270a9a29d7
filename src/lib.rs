//! token-dynamics: browser explorers of the dynamics inside language-model decoding and attention.
//!
//! Layout: `maths` is the pure numerical core (no web-sys, tested natively); each explorer has a
//! parameter table (`params`), a scene computed from it (`scene`) and drawing generic over plotters'
//! `DrawingBackend` (`draw`); `web` is the thin WebAssembly glue (DOM, events, URL, animation).

pub mod attention;
#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod draw_kit;
pub mod energy;
pub mod export;
pub mod maths;
pub mod next_token;
pub mod page;
pub mod table;
pub mod url;

#[cfg(target_arch = "wasm32")]
pub mod web;
