//! The attention-particle explorer: tokens as particles in R^d under softmax, hardmax and localmax
//! attention (arXiv 2509.15958, 2407.01602, 2508.09628; maths in `docs/maths/attention-particles.md`).

#[cfg(feature = "bench")]
pub mod bench;
pub mod draw;
pub mod explorer;
pub mod export;
pub mod params;
pub mod presets;
pub mod scene;
pub mod svg;
