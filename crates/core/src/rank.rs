//! The largest values of a long vector (the top tokens of a 50,257-token distribution) without
//! sorting all of it.

use std::cmp::Ordering;

/// Indices of the `k` largest values, largest first; equal values in index order (exactly what a
/// stable sort by descending value would list first). NaN sorts last.
///
/// One pass keeping the k best so far, in order: almost every value loses its single comparison
/// with the current k-th. O(n) for the page's k (3 to 24 of up to 50,257), O(n·k) at worst, so
/// it is meant for small k.
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
    let k = k.min(values.len());
    let mut top: Vec<usize> = Vec::with_capacity(k + 1);
    if k == 0 {
        return top;
    }
    for i in 0..values.len() {
        if top.len() == k && order(&i, &top[k - 1]) != Ordering::Less {
            continue;
        }
        let at = top.partition_point(|j| order(j, &i) == Ordering::Less);
        top.insert(at, i);
        top.truncate(k);
    }
    top
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
        // A longer vector with ties and NaNs, small and large k.
        let long: Vec<f64> = (0..200)
            .map(|i| {
                if i % 17 == 0 {
                    f64::NAN
                } else {
                    ((i * 37) % 23) as f64
                }
            })
            .collect();
        let mut all: Vec<usize> = (0..long.len()).collect();
        all.sort_by(|&a, &b| {
            (long[b].is_nan().cmp(&long[a].is_nan()).reverse()).then(long[b].total_cmp(&long[a]))
        });
        for k in [1, 3, 8, 16, 17, 50, 200] {
            assert_eq!(top_indices(&long, k), all[..k], "k = {k}");
        }
    }
}
