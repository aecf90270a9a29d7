//! Helpers shared by the attention explorer's integration tests.

/// Euclidean distance between two points of the same dimension.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

use td_attention::scene::{Panel, Scene};

/// The notes about `panel` (prefixed with its name when several panels are shown).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn panel_notes<'a>(scene: &'a Scene, panel: &'a Panel) -> Vec<&'a str> {
    let prefix = format!("{}: ", panel.key());
    scene
        .notes
        .iter()
        .filter_map(|n| {
            if scene.panels.len() == 1 {
                Some(n.as_str())
            } else {
                n.strip_prefix(&prefix)
            }
        })
        .collect()
}
