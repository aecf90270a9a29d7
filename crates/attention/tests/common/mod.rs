//! Helpers shared by the attention explorer's integration tests.

/// Euclidean distance between two points of the same dimension.
pub fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}
