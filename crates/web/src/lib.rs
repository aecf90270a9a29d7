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

pub use runner::run;
