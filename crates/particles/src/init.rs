//! Initial configurations. The random ones are part of the link format (`init`, `n`, `d`, `seed`):
//! a shared link must give the same points in every later version, so the draws are spelled out.
//!
//! Draws from `td_rng::Source` (its algorithm is frozen there), in the order listed:
//! - `Fig2Square`: the 4 vertices (1,1), (-1,1), (-1,-1), (1,-1), then 6 points, each
//!   `(u1 - 0.5, u2 - 0.5)` (uniform in [-0.5, 0.5]^2).
//! - `Fig2NonLeader`: (1,1), (-1,1), (-1,-1), (1,-1), (-0.5,0), (0.5,0), then 4 random points as above.
//! - `Fig2Leader`: the 8 exact points of the reference (no draws).
//! - `Square`: token by token, coordinate by coordinate, `2u - 1` (uniform in [-1,1]^d).
//! - `Disk`: per token, d normals (direction), then u; point = dir/|dir| · u^(1/d) (uniform in the
//!   unit ball; a zero direction, probability ~0, becomes e_1).
//! - `Clusters { k, sd }`: first k centres, each coordinate `0.7·(2u - 1)`; then token i belongs to
//!   centre i mod k and gets `centre + sd·z` per coordinate.
//! - `Circle`: equal-norm points. d = 2: `(cos 2πi/n, sin 2πi/n)` (no draws); d = 1: alternately
//!   +1, -1; d >= 3: per token d normals, normalised (uniform on the unit sphere).
//!
//! The Figure 2 cases have a fixed n (8, 10, 10) and live in the plane: for d > 2 the extra
//! coordinates are 0, for d = 1 only the first coordinate is kept.

/// The seeded source (frozen algorithm, `td_rng`).
pub use td_rng::Source;

/// Which initial configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum Init {
    /// Hardmax Figure 2, "emerging leader" (8 exact points).
    Fig2Leader,
    /// Hardmax Figure 2, square polytope: (±1,±1) plus 6 seeded points in [-0.5,0.5]^2.
    Fig2Square,
    /// Hardmax Figure 2, non-leader clusters: (±1,±1), (±0.5,0) plus 4 seeded points.
    Fig2NonLeader,
    /// Uniform in the cube [-1,1]^d.
    Square,
    /// Uniform in the unit ball.
    Disk,
    /// Gaussian clusters: `k` centres, standard deviation `sd`.
    Clusters { k: usize, sd: f64 },
    /// Equal-norm points (unit circle / sphere).
    Circle,
    /// min(n, d) unit vectors with every pairwise inner product equal to `rho` (> −1/(n−1)): the
    /// Cholesky factor of the Gram matrix (1 − ρ)I + ρJ, padded with zeros.
    Equiangular { rho: f64 },
    /// Row-major n×d list (a trailing partial row is dropped).
    Custom(Vec<f64>),
}

/// The equiangular start: `n` unit vectors in R^d (n <= d) with pairwise inner product `rho`.
/// `rho` is clamped to (−1/(n−1), 1) so the Gram matrix stays positive definite; rows are exact
/// unit vectors up to rounding.
pub fn equiangular(n: usize, d: usize, rho: f64) -> Vec<f64> {
    let n = n.min(d).max(1);
    let floor = if n > 1 { -1.0 / (n as f64 - 1.0) } else { -1.0 };
    let rho = if rho.is_finite() { rho } else { 0.0 };
    let rho = rho.clamp(floor * 0.999, 0.999);
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let g = if i == j { 1.0 } else { rho };
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            l[i * n + j] = if i == j {
                (g - s).max(0.0).sqrt()
            } else {
                (g - s) / l[j * n + j]
            };
        }
    }
    let mut x = vec![0.0; n * d];
    for i in 0..n {
        x[i * d..i * d + n].copy_from_slice(&l[i * n..(i + 1) * n]);
    }
    x
}

/// The 8 points of the "emerging leader" case.
pub const FIG2_LEADER: [[f64; 2]; 8] = [
    [1.0, 1.0 / 3.0],
    [-1.0 / 12.0, 1.0 / 12.0],
    [-1.0, -1.0],
    [0.0, 0.25],
    [-0.3, -0.7],
    [-0.6, -0.9],
    [0.8, 0.1],
    [0.6, 0.15],
];

/// The square's vertices, in the order used by the Figure 2 square and non-leader cases.
pub const SQUARE_VERTICES: [[f64; 2]; 4] = [[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]];

fn planar(points: &[[f64; 2]], d: usize) -> Vec<f64> {
    let mut out = vec![0.0; points.len() * d];
    for (i, p) in points.iter().enumerate() {
        for c in 0..d.min(2) {
            out[i * d + c] = p[c];
        }
    }
    out
}

/// Row-major n×d points for `init` (`n` is ignored by the Figure 2 cases; `d` is at least 1).
pub fn initial_points(init: &Init, n: usize, d: usize, seed: u64) -> Vec<f64> {
    let d = d.max(1);
    let mut src = Source::new(seed);
    match init {
        Init::Fig2Leader => planar(&FIG2_LEADER, d),
        Init::Fig2Square | Init::Fig2NonLeader => {
            let mut pts: Vec<[f64; 2]> = SQUARE_VERTICES.to_vec();
            let extra = if *init == Init::Fig2Square {
                6
            } else {
                pts.push([-0.5, 0.0]);
                pts.push([0.5, 0.0]);
                4
            };
            for _ in 0..extra {
                let u1 = src.uniform();
                let u2 = src.uniform();
                pts.push([u1 - 0.5, u2 - 0.5]);
            }
            planar(&pts, d)
        }
        Init::Square => (0..n * d).map(|_| 2.0 * src.uniform() - 1.0).collect(),
        Init::Disk => {
            let mut out = Vec::with_capacity(n * d);
            let mut dir = vec![0.0; d];
            for _ in 0..n {
                for v in dir.iter_mut() {
                    *v = src.normal();
                }
                let r = src.uniform().powf(1.0 / d as f64);
                let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 0.0 && norm.is_finite() {
                    out.extend(dir.iter().map(|v| v / norm * r));
                } else {
                    out.push(r);
                    out.extend(std::iter::repeat_n(0.0, d - 1));
                }
            }
            out
        }
        Init::Clusters { k, sd } => {
            let k = (*k).max(1);
            let centres: Vec<f64> = (0..k * d)
                .map(|_| 0.7 * (2.0 * src.uniform() - 1.0))
                .collect();
            let mut out = Vec::with_capacity(n * d);
            for i in 0..n {
                let c = i % k;
                for j in 0..d {
                    out.push(centres[c * d + j] + sd * src.normal());
                }
            }
            out
        }
        Init::Circle => {
            let mut out = Vec::with_capacity(n * d);
            match d {
                1 => out.extend((0..n).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })),
                2 => {
                    for i in 0..n {
                        let t = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
                        out.push(t.cos());
                        out.push(t.sin());
                    }
                }
                _ => {
                    let mut dir = vec![0.0; d];
                    for _ in 0..n {
                        for v in dir.iter_mut() {
                            *v = src.normal();
                        }
                        let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt();
                        if norm > 0.0 && norm.is_finite() {
                            out.extend(dir.iter().map(|v| v / norm));
                        } else {
                            out.push(1.0);
                            out.extend(std::iter::repeat_n(0.0, d - 1));
                        }
                    }
                }
            }
            out
        }
        Init::Equiangular { rho } => equiangular(n, d, *rho),
        Init::Custom(pts) => pts[..pts.len() / d * d].to_vec(),
    }
}
