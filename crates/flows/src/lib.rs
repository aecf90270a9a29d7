//! Next-token flows on the probability simplex: pure f64 maths, no web-sys, no allocation-heavy
//! generics. The next-token explorer (`td-next-token`) codes against exactly the items below; the
//! crate's only workspace dependency is `td-rng` (the seeded source of the generated logits).
//!
//! The maths (flows A–D, their closed forms, faces, the stand-in score models), the reproducible
//! checks with their numbers, and what is verified, assumed or unknown are in the repository's
//! `docs/maths/next-token-flows.md`; `tests/maths_checks.rs` asserts every check.
//!
//! # Conventions
//!
//! - Everything is f64 and computed in log space where it matters, so that temperatures from 1e-3
//!   to 1e3, scores up to |s| = 1e6 and vocabularies up to 50,257 tokens never overflow or produce
//!   NaN.
//! - `f64::NEG_INFINITY` in a log-probability vector means "zero mass / off the active face"; a
//!   probability of exactly 0 stays 0 under every flow (faces are invariant), and no function
//!   computes `-inf·0` or `inf - inf`.
//! - Enums and structs derive `Clone` (`Copy` where possible), `Debug` and `PartialEq`.
//!
//! # Modules
//!
//! - [`simplex`]: log-sum-exp and friends: [`logsumexp`](simplex::logsumexp),
//!   [`softmax`](simplex::softmax), [`tempered_softmax`](simplex::tempered_softmax) (π_T), entropy,
//!   [`kl`](simplex::kl) and [`kl_log`](simplex::kl_log), the free energy
//!   [`free_energy`](simplex::free_energy) and the Gibbs partition
//!   [`tempered_log_partition`](simplex::tempered_log_partition), total variation, and
//!   [`argmax_face`](simplex::argmax_face) (where Flow A goes).
//! - [`flows`]: the four flows ([`Flow`](flows::Flow): A replicator, B multiplicative weights,
//!   C entropic, D entropic mirror) as closed forms on log-weights, single steps
//!   ([`mw_step`](flows::mw_step), [`mirror_step`](flows::mirror_step)), the vector field for
//!   arrows ([`velocity`](flows::velocity)) and Flow D's regime
//!   ([`mirror_regime`](flows::mirror_regime)), so the interface can say "diverges" long before
//!   the numbers overflow (at η·T = 2.1 the divergence threshold is only reached after about
//!   6,000 steps).
//! - [`truncation`]: the faces of top-k, top-p and min-p ([`support`](truncation::support)), the
//!   truncated target π_T^S ([`truncated_target`](truncation::truncated_target)) and
//!   [`project_to_face`](truncation::project_to_face).
//! - [`scores`]: path-dependent score adjustments ([`Adjust`](scores::Adjust)), illustrative
//!   stand-ins, not the paper's equations, with the preset matrices.
//! - [`logits`]: seeded generated logits ([`generate`](logits::generate)); the algorithm is part of
//!   the link format and is spelled out there.
//! - [`integrate`]: fixed-step RK4 and the stiff ETD2RK fallback.
//! - [`lanes`]: the per-sample kernels of runs, two entries at a time (WebAssembly SIMD in the
//!   page, the same operations natively), with their own `exp`.
//! - [`hull`]: the convex hull of the points `(log p0_i, s_i)`, which gives every closed-form
//!   sample's largest and smallest log-weight without a pass over V.
//! - [`expansion`]: closed-form samples of a large vocabulary in groups, one `exp` per entry per
//!   group, by the Taylor series of the weights along the flows' line of log-weights.
//! - [`run`]: one trajectory, computed incrementally: a [`RunSpec`](run::RunSpec) becomes a
//!   [`Run`](run::Run), advanced in chunks so a page never freezes; each stored
//!   [`Sample`](run::Sample) carries the lumped corner probabilities and
//!   [`Diagnostics`](run::Diagnostics).

pub mod expansion;
pub mod flows;
pub mod hull;
pub mod integrate;
pub mod lanes;
pub mod logits;
pub mod run;
pub mod scores;
pub mod simplex;
pub mod truncation;
