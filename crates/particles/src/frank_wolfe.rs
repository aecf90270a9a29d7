//! Frank-Wolfe view of hardmax (Alcalde, Geshkovski, Ruiz-Balet): for A positive semidefinite the
//! hull's vertices v_m have dominance cells {x : argmax_m <A x, v_m> = m}; a token whose argmax set
//! is a single fixed vertex v moves on a straight line: x(k) - v = (1-gamma)^k (x(0) - v).

/// Index (into `vertices`, row-major, dimension d) of the vertex whose dominance cell contains p:
/// the maximiser of <A p, v_m>. None on a cell boundary (a tie within the hardmax tolerance
/// `dynamics::TIE_REL_TOL`) or when there are no vertices. Meaningful for symmetric PSD A
/// (`matrices::is_symmetric_psd`); for other A it is still the hardmax target but cells need not
/// partition the hull.
pub fn dominance_cell(a: &[f64], d: usize, vertices: &[f64], p: &[f64]) -> Option<usize> {
    // no allocation: this is evaluated per pixel for the background layer (d <= MAX_D = 16)
    let mut ap = [0.0f64; 16];
    for (r, v) in ap.iter_mut().enumerate().take(d) {
        *v = a[r * d..(r + 1) * d]
            .iter()
            .zip(p)
            .map(|(x, y)| x * y)
            .sum();
    }
    let score = |v: &[f64]| -> f64 { ap.iter().zip(v).map(|(x, y)| x * y).sum() };
    let mut best = None;
    let mut bv = f64::NEG_INFINITY;
    let mut big = 0.0f64;
    for (m, v) in vertices.chunks_exact(d).enumerate() {
        let s = score(v);
        big = big.max(s.abs());
        if s > bv {
            bv = s;
            best = Some(m);
        }
    }
    let tie = bv - super::dynamics::TIE_REL_TOL * big;
    if vertices.chunks_exact(d).filter(|v| score(v) >= tie).count() > 1 {
        return None;
    }
    best
}

/// The predicted straight-line position v + (1-gamma)^k (x0 - v).
pub fn straight_line(x0: &[f64], v: &[f64], gamma: f64, k: usize) -> Vec<f64> {
    let f = (1.0 - gamma).powi(k.min(i32::MAX as usize) as i32);
    x0.iter().zip(v).map(|(x, w)| w + f * (x - w)).collect()
}

/// Max over coordinates of |x_k - (v + (1-gamma)^k (x0 - v))|.
pub fn straight_line_residual(x0: &[f64], xk: &[f64], v: &[f64], gamma: f64, k: usize) -> f64 {
    straight_line(x0, v, gamma, k)
        .iter()
        .zip(xk)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()))
}
