//! A small GPT-style byte-level transformer for the hidden-state energy lab (pure Rust, f32
//! arithmetic on weights stored in f32, or a checkpoint's bf16 or f16, f64 outputs, no web-sys), its hidden-state "energy" statistics and Jacobian steering.
//! The energy explorer (`td-energy`), the CLI and the trainer (`td-train`) code against the items
//! below; the crate's only workspace dependency is `td-rng` (seeded initialisation and sampling).
//!
//! The maths and the switches (which hidden state, mass, potential, energy form), the steering
//! formulas and what is assumed are in the repository's `docs/maths/hidden-state-energy.md`; the
//! trained weights (`www/models/trained.tdgpt`, made by `td-train`) in `docs/training.md`.
//!
//! # The model
//!
//! GPT-2 style, pre-norm ([`Config::default`]: 256 byte tokens, d = 128, 4 layers, 4 heads,
//! context 128, MLP 512; 842,496 parameters, 3.37 MB as f32):
//! `x_t = wte[token_t] + wpe[t]`; per block `x += Attn(LN1(x))`, `x += MLP(LN2(x))` with causal
//! multi-head attention (scale `1/sqrt(head_dim)`) and
//! `MLP(a) = GELU_tanh(a·fc_w + fc_b)·fc2_w + fc2_b`; then `h_pre = x`, `h_post = LN_f(x)` and the
//! logits `z = h_post·wteᵀ` (tied unembedding, no bias). Every LayerNorm uses
//! [`LN_EPS`](config::LN_EPS). Matrices are row-major; linear maps are input-major (GPT-2's
//! `Conv1D` layout, see [`weights`]).
//!
//! Determinism: the blocks run in f32 in a fixed summation order (LayerNorm statistics accumulated
//! in f64; attention dot products over 8 interleaved lanes, then the lanes pairwise); `exp` and the
//! GELU sigmoid are evaluated in f64 and rounded to f32; the readout and log-sum-exp are f64. So
//! native and wasm builds agree (the page and the native command agree to 1e-9, a browser test),
//! barring a 1-ulp difference of a platform's f64 `exp` landing on an f32 rounding boundary.
//! Every fallible function returns `Err(String)` and never panics on bad input.
//!
//! # Modules
//!
//! - [`config`]: sizes and their bounds ([`Config::validate`]);
//! - [`weights`]: tensors, their layout and order ([`weights::tensor_specs`]), seeded GPT-2
//!   initialisation ([`Weights::random`]);
//! - [`matrix`]: weight matrices in their stored precision (f32, or a checkpoint's bf16 or f16,
//!   widened exactly where the kernels read them: the same bits as widening them up front);
//! - [`format`](mod@format): the `TDGPT1` weight file ([`format::read_weights`],
//!   [`format::write_weights`]);
//! - [`forward`](mod@forward): the forward pass ([`Forward`]: final hidden states pre/post norm,
//!   logits, log-probabilities, optionally the residual stream entering every block), optionally
//!   with a steering [`Patch`] at one position ([`forward_patched`]), or resumed from a given
//!   layer ([`forward::forward_from`]);
//! - [`energy`]: K, U, E per position ([`energy::energy_series`]), summary statistics
//!   ([`energy::summarize`]) and the decoupled null ([`energy::decoupled_null`]);
//! - [`steer`]: Jacobian steering after the final norm (Δ form [`steer::steer_delta`], margin form
//!   [`steer::steer_margin`]) and the LayerNorm vector-Jacobian product;
//! - [`vjp`]: steering at earlier layers ([`steer_delta_at_layer`]) through closed-form
//!   vector-Jacobian products of the blocks;
//! - [`llama_vjp`]: the Llama family's block VJPs (RMSNorm, rotary grouped-query attention,
//!   SwiGLU), so the same steering runs on it, realised by [`llama::forward_llama_patched`];
//! - [`generate`](mod@generate): sampling (temperature, top-k, top-p:
//!   [`generate::sampling_distribution`]) and stepwise generation ([`Generator`]) with cached keys
//!   and values, bit-identical to full passes;
//! - [`llama`]: the Llama family's forward pass (RMSNorm, rotary positions, SwiGLU, grouped-query
//!   attention, tied or untied unembedding) into the same [`Forward`], so the energy statistics
//!   run on it unchanged; its weights come from Hugging Face checkpoints (td-checkpoint) or
//!   [`llama::LlamaWeights::random`]. Checked against PyTorch (transformers' `LlamaForCausalLM`)
//!   to 6e-7 on logits in td-checkpoint's tests.
//!
//! # Checks and timing
//!
//! `tests/transformer_checks.rs`: a naive f64 reference (per-position recomputation, no caches)
//! against [`forward`](fn@forward): max |Δlogit| 5e-8 at the GPT-2 initialisation, 1e-7 with random
//! biases and gains and sharp attention, 2e-6 at the default size with sharp attention, all within
//! 1e-5·max(1, |z|); the random model's mean surprisal 5.537 nats over 340 bytes of English against
//! ln 256 = 5.545; Δ = ±0.01 realised within 1% (post-norm, and pre-norm through the VJP); the
//! margin form within 1e-6; the LayerNorm VJP against central differences within 1e-6 relative;
//! energy statistics on hand-made series; the file format (round trip, every truncation, garbage,
//! NaN); seeded determinism with pinned bits.
//!
//! `tests/transformer_vjp.rs`: the VJP at every layer against fourth-order central differences of
//! the f32 pass within 7.3e-6 relative to ‖g‖ (small random configuration with biases and gains)
//! and 5.1e-6 (default configuration); Δ = ±0.01 realised/requested 0.9997–1.0003 at `h_pre` and
//! 0.9984–1.0016 at layer 0 (default configuration, t = 20 and 39).
//!
//! `tests/transformer_generate.rs`: distribution properties (proptest), draw boundaries, seeds,
//! cached steps equal to full passes, a post-norm margin steer fixing the first greedy token, the
//! context cap, errors. `tests/trained_model.rs`: the committed trained weights.
//!
//! Timing (measured on a 2-core x86-64 VM, baseline SSE2, release): a 128-token forward pass with
//! every statistic about 16 ms natively and about 20 ms in the page (SIMD128, opt-level 3);
//! 64 generated tokens after a 63-token prompt 35–45 ms (1.0 s with a full pass per token). The
//! timing tests are ignored by default:
//! `cargo test --release -p td-transformer --test transformer_checks -- --ignored --nocapture`
//! (and `--test transformer_generate`).

pub mod config;
pub mod energy;
pub mod format;
pub mod forward;
pub mod generate;
pub mod llama;
pub mod llama_vjp;
pub mod matrix;
pub mod peak;
pub mod steer;
pub mod strips;
pub mod vjp;
pub mod weights;

pub use config::Config;
pub use forward::{
    forward, forward_patched, Forward, ForwardOptions, HiddenState, Patch, PatchSite,
};
pub use generate::{generate, Generator, Sampling};
pub use matrix::{Dtype, Matrix};
pub use vjp::{gradient_log_p_at_layer, steer_delta_at_layer, LayerSteer};
pub use weights::Weights;
