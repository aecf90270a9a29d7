//! A small GPT-style transformer for the hidden-state energy lab (pure Rust, f32 weights, f64
//! outputs), its hidden-state "energy" statistics and Jacobian steering. Contract:
//! `docs/transformer-api.md`; maths: `shared/reference/hidden-state-energy.md`.
//!
//! - [`config`]: sizes (defaults: V = 256 bytes, d = 128, 4 layers, 4 heads, context 128, MLP 512);
//! - [`weights`]: tensors, layout and order, seeded GPT-2 initialisation;
//! - [`format`](mod@format): the `TDGPT1` weight file;
//! - [`forward`](mod@forward): the forward pass (final hidden states pre/post norm, logits,
//!   log-probabilities), optionally with a steering patch at one position;
//! - [`energy`]: K, U, E per position and summary statistics;
//! - [`steer`]: Jacobian steering and the LayerNorm vector-Jacobian product;
//! - [`vjp`]: steering at earlier layers (vector-Jacobian products through the blocks);
//! - [`generate`](mod@generate): sampling (temperature, top-k, top-p) and stepwise generation.

pub mod config;
pub mod energy;
pub mod format;
pub mod forward;
pub mod generate;
pub mod steer;
pub mod vjp;
pub mod weights;

pub use config::Config;
pub use forward::{
    forward, forward_patched, Forward, ForwardOptions, HiddenState, Patch, PatchSite,
};
pub use generate::{generate, Generator, Sampling};
pub use vjp::{gradient_log_p_at_layer, steer_delta_at_layer, LayerSteer};
pub use weights::Weights;
