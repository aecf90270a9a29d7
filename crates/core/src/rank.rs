//! The largest values of a long vector (the top tokens of a 50,257-token distribution) without
//! sorting all of it.

use std::cmp::Ordering;

/// Indices of the `k` largest values, largest first; equal values in index order (exactly what a
/// stable sort by descending value would list first). NaN sorts last. O(n + k log k).
pub fn top_indices(values: &[f64], k: usize) -> Vec<usize> {
    let order = |&a: &usize, &b: &usize| -> Ordering {
        let (x, y) = (values[a], values[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => a.cmp(&b),
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => y.total_cmp(&x).then(a.cmp(&b)),
        }
    };
    let mut idx: Vec<usize> = (0..values.len()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, order);
        idx.truncate(k);
    }
    idx.sort_unstable_by(order);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_stable_sort() {
        let v = [0.1, 0.5, 0.5, f64::NAN, -1.0, 0.5, 0.0, 2.0];
        let mut all: Vec<usize> = (0..v.len()).collect();
        all.sort_by(|&a, &b| {
            (v[b].is_nan().cmp(&v[a].is_nan()).reverse()).then(v[b].total_cmp(&v[a]))
        });
        for k in 0..=v.len() + 1 {
            assert_eq!(top_indices(&v, k), all[..k.min(v.len())], "k = {k}");
        }
    }
}
