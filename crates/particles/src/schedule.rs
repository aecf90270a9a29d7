//! Alignment-sensitivity schedules delta(k). Step k (from state k to state k+1, k = 0, 1, ...) uses
//! `delta(k)`. Every value is clamped to >= 0 (a negative margin would allow empty neighbourhoods).

/// How delta varies with the step index k.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// delta(k) = delta.
    Constant(f64),
    /// delta(k) = delta0 / (1 + k)^q (vanishing for q > 0: recovers hardmax asymptotically).
    Vanishing { delta0: f64, q: f64 },
    /// delta(k) = delta0 · r^k.
    Geometric { delta0: f64, r: f64 },
    /// User-defined pieces `(from_step, delta)`: delta(k) is the delta of the piece with the
    /// largest `from_step <= k`; before the first piece (or if the list is empty) the earliest
    /// piece's delta (or 0 = hardmax for an empty list). Order of the list does not matter.
    Piecewise(Vec<(usize, f64)>),
}

impl Schedule {
    /// delta used by step k (never negative, never NaN: non-finite results become 0 or f64::MAX).
    pub fn delta_at(&self, k: usize) -> f64 {
        let v = match self {
            Schedule::Constant(c) => *c,
            Schedule::Vanishing { delta0, q } => delta0 / (1.0 + k as f64).powf(*q),
            Schedule::Geometric { delta0, r } => {
                // powi saturates quietly for huge k; exponent capped so it stays an i32.
                delta0 * r.powi(k.min(i32::MAX as usize) as i32)
            }
            Schedule::Piecewise(pieces) => {
                let mut best: Option<(usize, f64)> = None;
                let mut first: Option<(usize, f64)> = None;
                for &(from, dl) in pieces {
                    if from <= k && best.is_none_or(|(b, _)| from >= b) {
                        best = Some((from, dl));
                    }
                    if first.is_none_or(|(f, _)| from < f) {
                        first = Some((from, dl));
                    }
                }
                best.or(first).map_or(0.0, |(_, dl)| dl)
            }
        };
        if v.is_nan() {
            0.0
        } else {
            v.clamp(0.0, f64::MAX)
        }
    }
}
