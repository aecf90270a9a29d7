//! A small GPT-style transformer for the hidden-state energy lab (pure Rust, f32 weights, f64
//! outputs), its hidden-state "energy" statistics and Jacobian steering. Contract:
//! `docs/transformer-api.md`; maths: `shared/reference/hidden-state-energy.md`.
//!
//! - [`config`]: sizes (defaults: V = 256 bytes, d = 128, 4 layers, 4 heads, context 128, MLP 512);
//! - [`weights`]: tensors, layout and order, seeded GPT-2 initialisation;
//! - [`format`]: the `TDGPT1` weight file;
//! - [`forward`]: the forward pass (final hidden states pre/post norm, logits, log-probabilities);
//! - [`energy`]: K, U, E per position and summary statistics;
//! - [`steer`]: Jacobian steering and the LayerNorm vector-Jacobian product.

pub mod config;
pub mod energy;
pub mod format;
pub mod forward;
pub mod steer;
pub mod weights;

pub use config::Config;
pub use forward::{forward, Forward, ForwardOptions, HiddenState};
pub use weights::Weights;
