//! Path-dependent score adjustments — ILLUSTRATIVE STAND-INS, not the paper's equations.
//!
//! The paper's own loop model is not public in a readable form; these are the standard replicator
//! models that produce the behaviours it describes (cycles, lock-in, damping).

/// How the scores depend on the path. Scores are only read on the active face.
#[derive(Clone, Debug, PartialEq)]
pub enum Adjust {
    /// Fixed scores `s0` (closed forms apply).
    None,
    /// Frequency-dependent scores `s(p) = s0 + W p`; `w` is V×V row-major.
    Matrix { w: Vec<f64> },
    /// Memory scores `s = s0 + gamma·c`, `dc/dt = p - mu·c`, `c(0) = 0`
    /// (gamma > 0: self-reinforcement / lock-in; gamma < 0: repetition penalty / damping).
    Memory { gamma: f64, mu: f64 },
}

/// Rock-paper-scissors `[[0,-1,1],[1,0,-1],[-1,1,0]]`: antisymmetric, rest point uniform, so
/// `Σ log p_i` is conserved under Flow A and orbits close without converging (the canonical loop).
pub fn rps_matrix() -> Vec<f64> {
    vec![0.0, -1.0, 1.0, 1.0, 0.0, -1.0, -1.0, 1.0, 0.0]
}

/// Symmetric preset: the coordination matrix `I` (each token reinforces itself). For symmetric W
/// the potential `Φ(p) = <s0,p> + ½ pᵀWp` rises along Flow A, so there are no cycles; with this W
/// the vertices are attractors and the uniform point (for s0 = 0) is an unstable rest point.
pub fn symmetric_example() -> Vec<f64> {
    vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
}

/// `RPS + eps·I`. The uniform point stays the rest point, and under Flow A (s0 = 0)
/// `d/dt Σ (1/3) log p_i = eps·(1/3 - |p|²)/T`, which is <= 0: so eps > 0 spirals OUT towards the
/// boundary (Σ log p_i decreases) and eps < 0 spirals IN to the uniform point.
pub fn spiral_matrix(eps: f64) -> Vec<f64> {
    let mut w = rps_matrix();
    for i in 0..3 {
        w[i * 3 + i] += eps;
    }
    w
}

/// `|W_ij + W_ji| <= tol` for all i, j (and `w` really is n×n).
pub fn is_antisymmetric(w: &[f64], n: usize, tol: f64) -> bool {
    if w.len() != n * n {
        return false;
    }
    (0..n).all(|i| (i..n).all(|j| (w[i * n + j] + w[j * n + i]).abs() <= tol))
}

/// Interior rest point of `s(p) = s0 + W p` under the replicator: `q` with `s0 + W q = c·1`,
/// `Σ q = 1`, every `q_i > 0`. Solves the (n+1)×(n+1) linear system by Gauss-Jordan elimination
/// with partial pivoting. A singular system (an antisymmetric W of even size can be singular) has
/// a line or more of solutions: on a line, the midpoint of its part inside the open simplex is
/// returned (under an antisymmetric W each interior rest point q gives a conserved Σ q log p);
/// `None` when there is no solution, none inside the open simplex, more than a line of them, or
/// the sizes are wrong.
pub fn interior_rest_point(s0: &[f64], w: &[f64]) -> Option<Vec<f64>> {
    let n = s0.len();
    if n == 0 || w.len() != n * n {
        return None;
    }
    let m = n + 1;
    // Unknowns (q_0..q_{n-1}, c). Rows: Σ_j W_ij q_j - c = -s0_i; Σ_j q_j = 1.
    let mut a = vec![0.0; m * (m + 1)];
    let cols = m + 1;
    for i in 0..n {
        for j in 0..n {
            a[i * cols + j] = w[i * n + j];
        }
        a[i * cols + n] = -1.0;
        a[i * cols + m] = -s0[i];
    }
    for j in 0..n {
        a[n * cols + j] = 1.0;
    }
    a[n * cols + m] = 1.0;
    let scale = a.iter().fold(0.0f64, |acc, x| acc.max(x.abs())).max(1.0);
    let tol = 1e-12 * scale;
    // Reduced row echelon form; columns without a usable pivot are free.
    let pivots = row_echelon(&mut a, m, tol)?;
    let row = pivots.len();
    // Rows without a pivot must read 0 = 0.
    if (row..m).any(|r| a[r * cols + m].abs() > 1e-9 * scale) {
        return None;
    }
    let free: Vec<usize> = (0..m).filter(|c| !pivots.contains(c)).collect();
    let mut x = vec![0.0; m];
    for (r, &c) in pivots.iter().enumerate() {
        x[c] = a[r * cols + m];
    }
    let q: Vec<f64> = match free.as_slice() {
        [] => x[..n].to_vec(),
        [f] => {
            // The line x + t·v, v the null vector of the free column.
            let mut v = vec![0.0; m];
            v[*f] = 1.0;
            for (r, &c) in pivots.iter().enumerate() {
                v[c] = -a[r * cols + f];
            }
            // q_i + t·v_i > 0 for every i: an open interval of t.
            let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
            for i in 0..n {
                if v[i].abs() <= 1e-15 {
                    if x[i] <= 0.0 {
                        return None;
                    }
                } else if v[i] > 0.0 {
                    lo = lo.max(-x[i] / v[i]);
                } else {
                    hi = hi.min(-x[i] / v[i]);
                }
            }
            // Σ q = 1 keeps the segment bounded; the margin keeps q strictly inside.
            if !(lo.is_finite() && hi.is_finite() && hi - lo > 1e-9) {
                return None;
            }
            let t = 0.5 * (lo + hi);
            (0..n).map(|i| x[i] + t * v[i]).collect()
        }
        _ => return None,
    };
    if q.iter().all(|&x| x > 0.0 && x.is_finite()) {
        Some(q)
    } else {
        None
    }
}

/// Gauss-Jordan elimination of the m × (m + 1) augmented matrix `a` (row-major), partial
/// pivoting; a column whose best pivot is at most `tol` is left free. Returns the pivot columns
/// (pivot row r holds column `pivots[r]`, scaled to 1), or `None` on NaN.
fn row_echelon(a: &mut [f64], m: usize, tol: f64) -> Option<Vec<usize>> {
    let cols = m + 1;
    let mut pivots: Vec<usize> = Vec::new();
    let mut row = 0;
    for col in 0..m {
        if row == m {
            break;
        }
        let piv = (row..m).max_by(|&r1, &r2| {
            a[r1 * cols + col]
                .abs()
                .total_cmp(&a[r2 * cols + col].abs())
        })?;
        let pivot = a[piv * cols + col].abs();
        if pivot.is_nan() {
            return None;
        }
        if pivot <= tol {
            continue;
        }
        if piv != row {
            for k in 0..cols {
                a.swap(piv * cols + k, row * cols + k);
            }
        }
        let d = a[row * cols + col];
        for k in col..cols {
            a[row * cols + k] /= d;
        }
        for r in 0..m {
            if r == row {
                continue;
            }
            let f = a[r * cols + col];
            if f != 0.0 {
                for k in col..cols {
                    a[r * cols + k] -= f * a[row * cols + k];
                }
            }
        }
        pivots.push(col);
        row += 1;
    }
    Some(pivots)
}
