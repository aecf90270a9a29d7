//! The hidden-state energy lab: a small byte-level transformer run in the page, the "energy" of
//! its final hidden states token by token (arXiv 2508.08492; maths and switches in
//! `docs/maths/hidden-state-energy.md`), and Jacobian steering toward a target byte.

#[cfg(feature = "bench")]
pub mod bench;
pub mod draw;
pub mod explorer;
pub mod export;
pub mod params;
pub mod presets;
pub mod scene;
pub mod svg;
