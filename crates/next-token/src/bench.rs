//! Benchmark scenarios, shared by the native bench binary and the page's `tokenDynamics.bench()`, so
//! both time exactly the same work.

use super::params::{self, GenMode, Start, State};
use super::scene::Scene;

pub const SCENARIOS: &[&str] = &["v3-16x500-field40", "v1000-500", "v50257-500"];

/// The state, samples per trajectory and field grid of a named scenario.
pub fn scenario(name: &str) -> Option<(State, usize, usize)> {
    let mut st = State {
        flow: params::FlowChoice::Entropic,
        ..State::default()
    };
    match name {
        "v3-16x500-field40" => {
            st.starts = (0..16)
                .map(|i| {
                    let a = 0.05 + 0.9 * (i as f64 / 15.0);
                    Start::Corners([a * 0.5, (1.0 - a) * 0.7, 1.0 - a * 0.5 - (1.0 - a) * 0.7])
                })
                .collect();
            Some((st, 500, 40))
        }
        "v1000-500" | "v50257-500" => {
            st.gen = GenMode::Zipf;
            st.v = if name == "v1000-500" { 1000 } else { 50_257 };
            st.seed = 7;
            st.starts = vec![Start::Uniform];
            st.field = false;
            Some((st, 500, 0))
        }
        _ => None,
    }
}

/// Runs a scenario to completion; returns a checksum so the work cannot be optimised away.
pub fn run(name: &str) -> Option<f64> {
    let (state, samples, grid) = scenario(name)?;
    let mut scene = Scene::with_options(state, samples, grid);
    while !scene.advance(usize::MAX) {}
    Some(scene.readouts().iter().map(|r| r.free_energy).sum::<f64>())
}
