//! The next-token flow explorer: the next-token distribution as a trajectory on the simplex.

#[cfg(feature = "bench")]
pub mod bench;
pub mod draw;
pub mod explorer;
pub mod export;
pub mod params;
pub mod presets;
pub mod scene;
pub mod svg;
pub mod whole;
