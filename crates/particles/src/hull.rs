//! Convex-hull geometry of the token cloud: exact 2-D hull (monotone chain), 3-D extreme points
//! along sampled directions, diameters, and containment tests for the "hull never grows" checks.

/// 2-D convex hull by Andrew's monotone chain: indices of the vertices in counter-clockwise order,
/// starting from the lexicographically smallest point. Collinear and duplicate points are dropped
/// (strict convexity: a vertex is kept only when the turn is strictly left). Degenerate clouds give
/// 1 index (all equal) or 2 (all collinear). `pts` is row-major with d = 2; empty input -> empty.
pub fn hull_2d(pts: &[f64]) -> Vec<usize> {
    let n = pts.len() / 2;
    let p = |i: usize| (pts[2 * i], pts[2 * i + 1]);
    // Lexicographic by value: `+ 0.0` turns -0.0 into 0.0, which total_cmp would order first and
    // so break the chain's sweep (a (-0, 1) before a (0, -1) dropped the latter from the hull).
    // With the index last the order is total: an unstable sort of plain tuples (fast at
    // opt-level "z") gives the one sorted sequence.
    let key = |v: f64| super::total_order_key(v + 0.0);
    let mut keyed: Vec<(i64, i64, usize)> = (0..n).map(|i| (key(p(i).0), key(p(i).1), i)).collect();
    keyed.sort_unstable();
    let mut idx: Vec<usize> = keyed.into_iter().map(|k| k.2).collect();
    idx.dedup_by(|a, b| p(*a) == p(*b));
    if idx.len() <= 2 {
        return idx;
    }
    let cross = |o: usize, a: usize, b: usize| {
        let (ox, oy) = p(o);
        let (ax, ay) = p(a);
        let (bx, by) = p(b);
        (ax - ox) * (by - oy) - (ay - oy) * (bx - ox)
    };
    let mut h: Vec<usize> = Vec::with_capacity(2 * idx.len());
    for &i in &idx {
        while h.len() >= 2 && cross(h[h.len() - 2], h[h.len() - 1], i) <= 0.0 {
            h.pop();
        }
        h.push(i);
    }
    let lower = h.len() + 1;
    for &i in idx.iter().rev().skip(1) {
        while h.len() >= lower && cross(h[h.len() - 2], h[h.len() - 1], i) <= 0.0 {
            h.pop();
        }
        h.push(i);
    }
    h.pop();
    if h.len() < 2 {
        // all collinear: keep the two extremes
        return vec![idx[0], idx[idx.len() - 1]];
    }
    h
}

/// Area of a polygon given by vertex indices into `pts` (shoelace; 0 for fewer than 3 vertices).
pub fn polygon_area(pts: &[f64], hull: &[usize]) -> f64 {
    if hull.len() < 3 {
        return 0.0;
    }
    let mut s = 0.0;
    for k in 0..hull.len() {
        let a = hull[k];
        let b = hull[(k + 1) % hull.len()];
        s += pts[2 * a] * pts[2 * b + 1] - pts[2 * b] * pts[2 * a + 1];
    }
    0.5 * s.abs()
}

/// Largest pairwise distance among the listed points (O(m²); for a 2-D hull m is the vertex count).
pub fn diameter_of(pts: &[f64], d: usize, idx: &[usize]) -> f64 {
    let mut best = 0.0f64;
    for (a, &i) in idx.iter().enumerate() {
        for &j in &idx[a + 1..] {
            best = best.max(dist2(&pts[i * d..(i + 1) * d], &pts[j * d..(j + 1) * d]));
        }
    }
    best.sqrt()
}

/// Squared Euclidean distance.
#[inline]
pub fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// How far `q` lies outside the convex polygon `hull` (CCW indices into 2-D `pts`). Polygons: the
/// largest signed distance to the edges' lines, outward positive, so a value <= 0 means inside and
/// a positive value is a lower bound of the distance. Segments and single points: the Euclidean
/// distance to them.
pub fn outside_distance_2d(pts: &[f64], hull: &[usize], q: [f64; 2]) -> f64 {
    let p = |i: usize| [pts[2 * i], pts[2 * i + 1]];
    match hull.len() {
        0 => f64::INFINITY,
        1 => dist2(&p(hull[0]), &q).sqrt(),
        2 => segment_distance(p(hull[0]), p(hull[1]), q),
        m => {
            let mut worst = f64::NEG_INFINITY;
            for k in 0..m {
                let a = p(hull[k]);
                let b = p(hull[(k + 1) % m]);
                let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
                let len = (ex * ex + ey * ey).sqrt();
                // signed distance to the right of the edge (outside for a CCW polygon)
                let s = -(ex * (q[1] - a[1]) - ey * (q[0] - a[0])) / len;
                worst = worst.max(s);
            }
            worst
        }
    }
}

fn segment_distance(a: [f64; 2], b: [f64; 2], q: [f64; 2]) -> f64 {
    let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
    let l2 = ex * ex + ey * ey;
    let t = if l2 > 0.0 {
        (((q[0] - a[0]) * ex + (q[1] - a[1]) * ey) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (a[0] + t * ex, a[1] + t * ey);
    ((q[0] - cx).powi(2) + (q[1] - cy).powi(2)).sqrt()
}

/// Per-coordinate bounding box (min, max) of row-major n×d points.
pub fn bounding_box(pts: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut lo = vec![f64::INFINITY; d];
    let mut hi = vec![f64::NEG_INFINITY; d];
    for row in pts.chunks_exact(d) {
        for c in 0..d {
            lo[c] = lo[c].min(row[c]);
            hi[c] = hi[c].max(row[c]);
        }
    }
    (lo, hi)
}

/// 3-D extreme points: indices (sorted, unique) of points that maximise <u, x> for one of
/// `directions` unit vectors u (the 6 axis directions plus a Fibonacci sphere). Every returned point
/// is a true hull vertex or on a hull face; hull vertices with a small normal cone can be missed,
/// so this is an approximation of the vertex set (documented as such in the interface).
pub fn extreme_points_3d(pts: &[f64], directions: usize) -> Vec<usize> {
    let n = pts.len() / 3;
    if n == 0 {
        return Vec::new();
    }
    let mut dirs: Vec<[f64; 3]> = vec![
        [1.0, 0.0, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, -1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 0.0, -1.0],
    ];
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    for k in 0..directions {
        let z = 1.0 - 2.0 * (k as f64 + 0.5) / directions as f64;
        let r = (1.0 - z * z).max(0.0).sqrt();
        let t = golden * k as f64;
        dirs.push([r * t.cos(), r * t.sin(), z]);
    }
    let mut out = Vec::new();
    for u in &dirs {
        let mut best = 0;
        let mut bv = f64::NEG_INFINITY;
        for i in 0..n {
            let v = u[0] * pts[3 * i] + u[1] * pts[3 * i + 1] + u[2] * pts[3 * i + 2];
            if v > bv {
                bv = v;
                best = i;
            }
        }
        out.push(best);
    }
    out.sort_unstable();
    out.dedup();
    out
}
