//! Pure-Rust maths core: next-token flows on the probability simplex.
//!
//! Everything is f64 and computed in log space where it matters, so that temperatures from 1e-3 to
//! 1e3, scores up to |s| = 1e6 and vocabularies up to 50,257 tokens never overflow or produce NaN.
//! `f64::NEG_INFINITY` in a log-probability vector means "zero mass / off the active face".
//! See `docs/maths-api.md` for the contract and `shared/reference/next-token-flows.md` for the maths.

pub mod flows;
pub mod integrate;
pub mod logits;
pub mod run;
pub mod scores;
pub mod simplex;
pub mod truncation;
