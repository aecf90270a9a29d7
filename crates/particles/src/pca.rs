//! PCA projection for drawing d > 3 in 2-D or 3-D: eigenvectors of the covariance (Jacobi), with a
//! deterministic sign (largest-magnitude component positive), so the picture does not flip.

use super::matrices::symmetric_eigen;

/// A fitted projection onto the top `k` principal axes.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    pub d: usize,
    pub mean: Vec<f64>,
    /// k rows of length d (unit vectors, decreasing variance).
    pub axes: Vec<f64>,
    /// Variance along each axis.
    pub variances: Vec<f64>,
}

impl Pca {
    /// Fit on row-major n×d points (k is clamped to 1..=d). Fit once (e.g. on the initial points)
    /// and reuse for every step so the view is fixed while tokens move.
    pub fn fit(pts: &[f64], d: usize, k: usize) -> Pca {
        let n = pts.len() / d;
        let k = k.clamp(1, d);
        let mut mean = vec![0.0; d];
        for row in pts.chunks_exact(d) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        let mut cov = vec![0.0; d * d];
        for row in pts.chunks_exact(d) {
            for a in 0..d {
                let ca = row[a] - mean[a];
                for b in a..d {
                    cov[a * d + b] += ca * (row[b] - mean[b]);
                }
            }
        }
        for a in 0..d {
            for b in a..d {
                let v = cov[a * d + b] / n.max(1) as f64;
                cov[a * d + b] = v;
                cov[b * d + a] = v;
            }
        }
        let (vals, vecs) = symmetric_eigen(&cov, d);
        Pca {
            d,
            mean,
            axes: vecs[..k * d].to_vec(),
            variances: vals[..k].iter().map(|v| v.max(0.0)).collect(),
        }
    }

    /// Number of output coordinates.
    pub fn k(&self) -> usize {
        self.variances.len()
    }

    /// Project row-major points (dimension d) to row-major k-dimensional coordinates.
    pub fn project(&self, pts: &[f64]) -> Vec<f64> {
        let d = self.d;
        let k = self.k();
        let mut out = Vec::with_capacity(pts.len() / d * k);
        for row in pts.chunks_exact(d) {
            for r in 0..k {
                let ax = &self.axes[r * d..(r + 1) * d];
                out.push(
                    ax.iter()
                        .zip(row)
                        .zip(&self.mean)
                        .map(|((a, x), m)| a * (x - m))
                        .sum(),
                );
            }
        }
        out
    }
}
