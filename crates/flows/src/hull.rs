//! The largest and smallest log-weight of a closed-form sample without a pass over V.
//!
//! Every closed form is `u_i = a·log p0_i + b·s_i` (see [`crate::flows::closed_coefficients`]),
//! a linear function of the point `(log p0_i, s_i)`. Over a set of points a linear function is
//! largest and smallest at vertices of their convex hull, so after one hull of the V points (built
//! once per run) the shift `m = max u` and the range `max u - min u` of every sample cost a few
//! dozen operations instead of a pass over 50,257 entries. Vertex values are computed with the
//! same expression, `a·l + b·s`, as the entries themselves.

/// The convex hull of the points `(log p0_i, s_i)` with finite `log p0_i` (entries with
/// `log p0_i = -inf` have `u_i = -inf` for every `a >= 0`, and are only counted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AffineHull {
    /// Hull vertices, counter-clockwise from the lowest-then-leftmost (collinear points dropped).
    vertices: Vec<(f64, f64)>,
    /// Some `log p0_i` is `-inf`.
    has_zero_mass: bool,
}

/// The extremes of `u = a·l + b·s` over a run's entries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Extremes {
    /// `max u` over the entries with finite `l`.
    pub max: f64,
    /// `min u` over the entries with finite `l`.
    pub min: f64,
    /// Some entry has `l = -inf` (its `u` is `-inf`, not counted in `min`).
    pub has_zero_mass: bool,
}

/// `(q - p) × (r - p)`: positive when p, q, r turn counter-clockwise.
/// Pairs in the total order of their first, then second entries (one sort in the module for the
/// hull's points and [`crate::expansion`]'s entries).
pub fn by_both(a: &(f64, f64), b: &(f64, f64)) -> core::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1))
}

fn cross(p: (f64, f64), q: (f64, f64), r: (f64, f64)) -> f64 {
    (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
}

impl AffineHull {
    /// Andrew's monotone chain over the finite points: O(V log V), once per run.
    pub fn new(log_p0: &[f64], s: &[f64]) -> AffineHull {
        let mut points: Vec<(f64, f64)> = log_p0
            .iter()
            .zip(s)
            .filter(|(l, s)| l.is_finite() && s.is_finite())
            .map(|(&l, &s)| (l, s))
            .collect();
        let has_zero_mass = points.len() < log_p0.len();
        points.sort_unstable_by(by_both);
        points.dedup();
        if points.len() <= 2 {
            return AffineHull {
                vertices: points,
                has_zero_mass,
            };
        }
        // Lower chain left to right, then the upper chain right to left, never popping below
        // `floor` (the lower chain's end stays).
        fn add(hull: &mut Vec<(f64, f64)>, floor: usize, p: (f64, f64)) {
            while hull.len() >= floor + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        let mut hull: Vec<(f64, f64)> = Vec::new();
        for &p in &points {
            add(&mut hull, 0, p);
        }
        let floor = hull.len() - 1;
        for &p in points.iter().rev().skip(1) {
            add(&mut hull, floor, p);
        }
        hull.pop(); // the first point again
        AffineHull {
            vertices: hull,
            has_zero_mass,
        }
    }

    /// Number of hull vertices (tests and diagnostics).
    pub fn len(&self) -> usize {
        self.vertices.len()
    }

    /// True when no entry has a finite `log p0`.
    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }

    /// `max` and `min` of `a·l + b·s` over the finite entries, or None when there is none or a
    /// vertex value is not finite (an overflowing coefficient: the caller scans the entries).
    pub fn extremes(&self, a: f64, b: f64) -> Option<Extremes> {
        let mut max = f64::NEG_INFINITY;
        let mut min = f64::INFINITY;
        for &(l, s) in &self.vertices {
            let u = a * l + b * s;
            if !u.is_finite() {
                return None;
            }
            // Comparisons, not f64::max/min (u is finite here): in the page those are calls.
            if u > max {
                max = u;
            }
            if u < min {
                min = u;
            }
        }
        (!self.vertices.is_empty()).then_some(Extremes {
            max,
            min,
            has_zero_mass: self.has_zero_mass,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scan(l: &[f64], s: &[f64], a: f64, b: f64) -> (f64, f64) {
        let u = l
            .iter()
            .zip(s)
            .filter(|(l, _)| l.is_finite())
            .map(|(&l, &s)| a * l + b * s);
        u.fold((f64::NEG_INFINITY, f64::INFINITY), |(hi, lo), x| {
            (hi.max(x), lo.min(x))
        })
    }

    #[test]
    fn collinear_and_degenerate_sets() {
        // A uniform start: every point on one vertical line, the hull is its two ends.
        let s: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
        let l = vec![-(1000f64.ln()); 1000];
        let hull = AffineHull::new(&l, &s);
        assert_eq!(hull.len(), 2);
        let e = hull.extremes(0.3, 1.7).unwrap();
        assert_eq!((e.max, e.min), scan(&l, &s, 0.3, 1.7));
        assert!(!e.has_zero_mass);
        // One point; none; all -inf.
        assert_eq!(
            AffineHull::new(&[0.0], &[1.0])
                .extremes(1.0, 2.0)
                .unwrap()
                .max,
            2.0
        );
        assert_eq!(AffineHull::new(&[], &[]).extremes(1.0, 1.0), None);
        let gone = AffineHull::new(&[f64::NEG_INFINITY; 3], &[1.0, 2.0, 3.0]);
        assert!(gone.is_empty() && gone.extremes(1.0, 1.0).is_none());
        // An overflowing coefficient is left to the caller.
        assert_eq!(
            AffineHull::new(&[-1.0, -2.0], &[0.0, 1.0]).extremes(f64::MAX, 1.0),
            None
        );
    }

    proptest! {
        /// The hull's extremes are the scanned ones (equal, or within the rounding of one `a·l + b·s`
        /// when two entries are within an ulp of each other), for every sign of a and b.
        #[test]
        fn extremes_match_a_scan(
            raw in proptest::collection::vec((-40.0f64..0.0, -20.0f64..20.0, 0u8..10), 1..300),
            a in -3.0f64..3.0,
            b in -3.0f64..3.0,
            grid in any::<bool>(),
        ) {
            // `grid` snaps points to a coarse lattice: duplicates and collinear runs.
            let snap = |x: f64| if grid { (x * 2.0).round() / 2.0 } else { x };
            let l: Vec<f64> = raw.iter().map(|&(x, _, z)| if z == 0 { f64::NEG_INFINITY } else { snap(x) }).collect();
            let s: Vec<f64> = raw.iter().map(|&(_, y, _)| snap(y)).collect();
            let hull = AffineHull::new(&l, &s);
            let (hi, lo) = scan(&l, &s, a, b);
            match hull.extremes(a, b) {
                None => prop_assert!(l.iter().all(|x| !x.is_finite())),
                Some(e) => {
                    let tol = 4.0 * f64::EPSILON * (1.0 + hi.abs().max(lo.abs()));
                    prop_assert!((e.max - hi).abs() <= tol, "max {} vs scan {}", e.max, hi);
                    prop_assert!((e.min - lo).abs() <= tol, "min {} vs scan {}", e.min, lo);
                    prop_assert_eq!(e.has_zero_mass, l.iter().any(|x| !x.is_finite()));
                    prop_assert!(hull.len() <= l.len());
                }
            }
        }
    }
}
