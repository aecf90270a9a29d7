//! Key-query matrices A (d×d, row-major) and the small symmetric eigen-solver used for the PSD
//! check and for PCA (cyclic Jacobi: d <= 16, so robustness matters more than speed).

use super::init::Source;

/// Family of the key-query matrix.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyQuery {
    Identity,
    /// Diagonal entries (missing ones are 1, extra ones ignored).
    Diagonal(Vec<f64>),
    /// Seeded symmetric positive definite: `B Bᵀ/d + 0.1·I`, B with N(0,1) entries.
    SymmetricPositiveDefinite,
    /// Minus the seeded SPD matrix above: hardmax contracts everything to one cluster.
    NegativeDefinite,
    /// Block rotation by `theta` in the planes (0,1), (2,3), ... (identity on a leftover axis):
    /// a general A with a rotation part; its symmetric part is cos(theta)·I.
    Rotation {
        theta: f64,
    },
    /// Seeded general matrix: `I + B/sqrt(d)`, B with N(0,1) entries (not symmetric).
    General,
    /// Row-major entries (missing ones are 0).
    Custom(Vec<f64>),
}

/// Build A. The seeded families draw B row by row from `Source::new(seed ^ 0xA77E_0000)` so the
/// matrix does not reuse the initial points' stream.
pub fn key_query_matrix(kind: &KeyQuery, d: usize, seed: u64) -> Vec<f64> {
    let mut a = vec![0.0; d * d];
    let random = |d: usize| {
        let mut src = Source::new(seed ^ 0xA77E_0000);
        (0..d * d).map(|_| src.normal()).collect::<Vec<f64>>()
    };
    let spd = |d: usize| {
        let b = random(d);
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                let s: f64 = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum();
                a[i * d + j] = s / d as f64 + if i == j { 0.1 } else { 0.0 };
            }
        }
        a
    };
    match kind {
        KeyQuery::Identity => (0..d).for_each(|i| a[i * d + i] = 1.0),
        KeyQuery::Diagonal(v) => {
            (0..d).for_each(|i| a[i * d + i] = v.get(i).copied().unwrap_or(1.0))
        }
        KeyQuery::SymmetricPositiveDefinite => a = spd(d),
        KeyQuery::NegativeDefinite => a = spd(d).iter().map(|v| -v).collect(),
        KeyQuery::Rotation { theta } => {
            let (s, c) = theta.sin_cos();
            let mut i = 0;
            while i + 1 < d {
                a[i * d + i] = c;
                a[i * d + i + 1] = -s;
                a[(i + 1) * d + i] = s;
                a[(i + 1) * d + i + 1] = c;
                i += 2;
            }
            if i < d {
                a[i * d + i] = 1.0;
            }
        }
        KeyQuery::General => {
            let b = random(d);
            let sc = 1.0 / (d as f64).sqrt();
            for i in 0..d {
                for j in 0..d {
                    a[i * d + j] = b[i * d + j] * sc + if i == j { 1.0 } else { 0.0 };
                }
            }
        }
        KeyQuery::Custom(v) => {
            for (dst, src) in a.iter_mut().zip(v.iter()) {
                *dst = *src;
            }
        }
    }
    a
}

/// Eigen-decomposition of a symmetric d×d matrix (only the upper triangle's symmetrised values are
/// used). Returns (eigenvalues descending, eigenvectors as rows, row-major d×d). Each eigenvector's
/// largest-magnitude component (lowest index on ties) is made positive, so signs are deterministic.
pub fn symmetric_eigen(m: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = 0.5 * (m[i * d + j] + m[j * d + i]);
        }
    }
    let mut v = vec![0.0; d * d];
    (0..d).for_each(|i| v[i * d + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        let diag: f64 = (0..d).map(|i| a[i * d + i] * a[i * d + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) || off == 0.0 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    // decreasing eigenvalue (`!` reverses the key's order), ties by index
    let mut keyed: Vec<(i64, i64, usize)> = (0..d)
        .map(|i| (!super::total_order_key(a[i * d + i]), 0, i))
        .collect();
    keyed.sort_unstable();
    let order: Vec<usize> = keyed.into_iter().map(|k| k.2).collect();
    let vals: Vec<f64> = order.iter().map(|&i| a[i * d + i]).collect();
    let mut vecs = vec![0.0; d * d];
    for (r, &col) in order.iter().enumerate() {
        let mut big = 0;
        for k in 0..d {
            vecs[r * d + k] = v[k * d + col];
            if vecs[r * d + k].abs() > vecs[r * d + big].abs() {
                big = k;
            }
        }
        if vecs[r * d + big] < 0.0 {
            vecs[r * d..(r + 1) * d].iter_mut().for_each(|x| *x = -*x);
        }
    }
    (vals, vecs)
}

/// True when A is symmetric (within `tol`·max|a|) and its smallest eigenvalue is >= -tol·max|a|:
/// the Frank-Wolfe / dominance-cell picture of hardmax needs this.
pub fn is_symmetric_psd(a: &[f64], d: usize, tol: f64) -> bool {
    let scale = a
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    for i in 0..d {
        for j in 0..i {
            if (a[i * d + j] - a[j * d + i]).abs() > tol * scale {
                return false;
            }
        }
    }
    let (vals, _) = symmetric_eigen(a, d);
    vals.last().is_none_or(|&m| m >= -tol * scale)
}
