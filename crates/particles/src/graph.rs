//! Attention graph (N_i as bit rows), its asymmetry, the union graph over a window, quiescent sets
//! (WORKING definition) and single-linkage clusters.

use super::hull::dist2;
use td_lanes::L2;

/// n×n bit matrix; row i holds N_i. n = 2,000 takes 500 kB.
#[derive(Clone, Debug, Default)]
pub struct Bitset {
    n: usize,
    words: usize,
    bits: Vec<u64>,
}

impl Bitset {
    /// Clear and resize to n×n.
    pub fn reset(&mut self, n: usize) {
        self.n = n;
        self.words = n.div_ceil(64);
        self.bits.clear();
        self.bits.resize(n * self.words, 0);
    }

    /// Resize to n×n with every bit j < n of every row set (the complete graph).
    pub fn fill(&mut self, n: usize) {
        self.reset(n);
        for i in 0..n {
            let row = &mut self.bits[i * self.words..(i + 1) * self.words];
            for (w, word) in row.iter_mut().enumerate() {
                let left = n - w * 64;
                *word = if left >= 64 {
                    u64::MAX
                } else {
                    (1u64 << left) - 1
                };
            }
        }
    }

    /// Clears bit j of row i.
    pub fn remove(&mut self, i: usize, j: usize) {
        self.bits[i * self.words + j / 64] &= !(1u64 << (j % 64));
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// The rows' words, row after row (what a worker ships to its page).
    pub fn words(&self) -> &[u64] {
        &self.bits
    }

    /// An n×n bit matrix from [`Bitset::words`]; None if the sizes disagree.
    pub fn from_words(n: usize, bits: Vec<u64>) -> Option<Bitset> {
        let words = n.div_ceil(64);
        (bits.len() == n * words).then_some(Bitset { n, words, bits })
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn row_mut(&mut self, i: usize) -> &mut [u64] {
        &mut self.bits[i * self.words..(i + 1) * self.words]
    }

    pub fn contains(&self, i: usize, j: usize) -> bool {
        self.bits[i * self.words + j / 64] >> (j % 64) & 1 == 1
    }

    /// Members of row i, ascending.
    pub fn row(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.bits[i * self.words..(i + 1) * self.words]
            .iter()
            .enumerate()
            .flat_map(|(w, &word)| {
                let mut b = word;
                std::iter::from_fn(move || {
                    if b == 0 {
                        return None;
                    }
                    let t = b.trailing_zeros() as usize;
                    b &= b - 1;
                    Some(w * 64 + t)
                })
            })
    }

    /// `self |= other` (same n).
    pub fn union_with(&mut self, other: &Bitset) {
        if self.n != other.n {
            self.reset(other.n);
        }
        self.bits
            .iter_mut()
            .zip(&other.bits)
            .for_each(|(a, b)| *a |= b);
    }

    /// Pairs (i, j), i != j, with j in N_i but i not in N_j (Hegselmann–Krause-style Lyapunov
    /// arguments need this to be 0). The matrix is transposed in 64×64 bit blocks, then
    /// `popcount(row_i & !column_i)`: O(n²/64) word operations.
    pub fn asymmetry(&self) -> usize {
        let (n, words) = (self.n, self.words);
        let mut t = vec![0u64; words * 64 * words];
        let mut block = [0u64; 64];
        for bi in 0..words {
            for bj in 0..words {
                for (r, b) in block.iter_mut().enumerate() {
                    let i = bi * 64 + r;
                    *b = if i < n { self.bits[i * words + bj] } else { 0 };
                }
                transpose64(&mut block);
                // block[c] now holds column (bj·64 + c) restricted to rows bi·64..
                for (c, b) in block.iter().enumerate() {
                    t[(bj * 64 + c) * words + bi] = *b;
                }
            }
        }
        (0..n)
            .map(|i| {
                let row = &self.bits[i * words..(i + 1) * words];
                let col = &t[i * words..(i + 1) * words];
                row.iter()
                    .zip(col)
                    .map(|(r, c)| (r & !c).count_ones() as usize)
                    .sum::<usize>()
            })
            .sum()
    }

    /// Sink strongly connected components (no edge leaves them), each sorted, listed by smallest
    /// member. These are exactly the minimal non-empty quiescent sets of the graph: a set Q with
    /// N_i ⊆ Q for all i in Q contains the closure of each member, hence a sink component.
    pub fn sink_components(&self) -> Vec<Vec<usize>> {
        let n = self.n;
        let comp = self.scc();
        let ncomp = comp.iter().copied().max().map_or(0, |m| m + 1);
        let mut sink = vec![true; ncomp];
        for i in 0..n {
            for j in self.row(i) {
                if comp[j] != comp[i] {
                    sink[comp[i]] = false;
                }
            }
        }
        // components in order of their smallest member, as met in 0..n (no sort)
        let mut slot = vec![usize::MAX; ncomp];
        let mut out: Vec<Vec<usize>> = Vec::new();
        for (i, &c) in comp.iter().enumerate() {
            if sink[c] {
                if slot[c] == usize::MAX {
                    slot[c] = out.len();
                    out.push(Vec::new());
                }
                out[slot[c]].push(i);
            }
        }
        out
    }

    /// Component id per node (iterative Tarjan; ids in order of completion).
    fn scc(&self) -> Vec<usize> {
        let n = self.n;
        const UNSEEN: usize = usize::MAX;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut comp = vec![UNSEEN; n];
        let mut stack: Vec<usize> = Vec::new();
        let mut next_index = 0;
        let mut ncomp = 0;
        // call stack of (node, next neighbour candidate position)
        let mut call: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if index[root] != UNSEEN {
                continue;
            }
            call.push((root, 0));
            index[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut pos)) = call.last_mut() {
                // find the next neighbour j >= pos of v
                let mut next = None;
                let mut j = *pos;
                while j < n {
                    let word = self.bits[v * self.words + j / 64] >> (j % 64);
                    if word == 0 {
                        j = (j / 64 + 1) * 64;
                        continue;
                    }
                    j += word.trailing_zeros() as usize;
                    if j < n {
                        next = Some(j);
                    }
                    break;
                }
                match next {
                    Some(w) => {
                        *pos = w + 1;
                        if index[w] == UNSEEN {
                            index[w] = next_index;
                            low[w] = next_index;
                            next_index += 1;
                            stack.push(w);
                            on_stack[w] = true;
                            call.push((w, 0));
                        } else if on_stack[w] {
                            low[v] = low[v].min(index[w]);
                        }
                    }
                    None => {
                        call.pop();
                        if let Some(&(parent, _)) = call.last() {
                            low[parent] = low[parent].min(low[v]);
                        }
                        if low[v] == index[v] {
                            while let Some(w) = stack.pop() {
                                on_stack[w] = false;
                                comp[w] = ncomp;
                                if w == v {
                                    break;
                                }
                            }
                            ncomp += 1;
                        }
                    }
                }
            }
        }
        comp
    }
}

/// In-place transpose of a 64×64 bit matrix (bit t of word r = entry (r, t)) by recursive
/// swapping of off-diagonal blocks (Hacker's Delight §7-3, least-significant-bit-first variant).
fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k] ^= t << j;
            a[k + j] ^= t;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// (diameter, number of single-linkage clusters at distance <= tol). `parent` is a reused
/// union-find buffer that ends up holding the clusters. d = 1 and 2 avoid the O(n² d) pair pass
/// (exact 1-D gaps; 2-D hull diameter and a grid of cells of side tol/√2), larger d use it.
pub fn diameter_and_clusters(
    x: &[f64],
    n: usize,
    d: usize,
    tol: f64,
    parent: &mut Vec<usize>,
) -> (f64, usize) {
    parent.clear();
    parent.extend(0..n);
    match d {
        1 => clusters_1d(x, n, tol, parent),
        2 => {
            let h = super::hull::hull_2d(x);
            (
                super::hull::diameter_of(x, 2, &h),
                clusters_grid::<2>(x, n, tol, parent),
            )
        }
        3 => (max_distance(x, n, 3), clusters_grid::<3>(x, n, tol, parent)),
        _ => pairs(x, n, d, tol, parent),
    }
}

/// The largest pairwise distance, two pairs at a time (td-lanes: SIMD in the page).
fn max_distance(x: &[f64], n: usize, d: usize) -> f64 {
    let mut best = L2::splat(0.0);
    let mut tail = 0.0f64;
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        let mut j = i + 1;
        while j + 2 <= n {
            let mut r2 = L2::splat(0.0);
            for c in 0..d {
                let diff = L2::splat(xi[c]) - L2::new(x[j * d + c], x[(j + 1) * d + c]);
                r2 = r2 + diff * diff;
            }
            best = best.max(r2);
            j += 2;
        }
        if j < n {
            tail = tail.max(dist2(xi, &x[j * d..(j + 1) * d]));
        }
    }
    let [a, b] = best.lanes();
    a.max(b).max(tail).sqrt()
}

/// [`diameter_and_clusters`] and, for d = 2, the area of the hull (computed once for both). For
/// d >= 3 a `known_diameter` (measured by a pass over the pairs that ran anyway) is used as is.
pub fn diameter_clusters_area(
    x: &[f64],
    n: usize,
    d: usize,
    tol: f64,
    parent: &mut Vec<usize>,
    known_diameter: Option<f64>,
) -> (f64, usize, Option<f64>) {
    if d == 3 {
        if let Some(diameter) = known_diameter {
            parent.clear();
            parent.extend(0..n);
            return (diameter, clusters_grid::<3>(x, n, tol, parent), None);
        }
    }
    if d != 2 {
        let (diameter, clusters) = diameter_and_clusters(x, n, d, tol, parent);
        return (known_diameter.unwrap_or(diameter), clusters, None);
    }
    parent.clear();
    parent.extend(0..n);
    let h = super::hull::hull_2d(x);
    let diameter = super::hull::diameter_of(x, 2, &h);
    let area = super::hull::polygon_area(x, &h);
    (diameter, clusters_grid::<2>(x, n, tol, parent), Some(area))
}

fn union(parent: &mut [usize], i: usize, j: usize) -> bool {
    let (a, b) = (find(parent, i), find(parent, j));
    if a != b {
        parent[a.max(b)] = a.min(b);
        true
    } else {
        false
    }
}

fn pairs(x: &[f64], n: usize, d: usize, tol: f64, parent: &mut [usize]) -> (f64, usize) {
    let tol2 = tol * tol;
    let mut best = 0.0f64;
    let mut clusters = n;
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        for j in i + 1..n {
            let r2 = dist2(xi, &x[j * d..(j + 1) * d]);
            best = best.max(r2);
            if r2 <= tol2 && union(parent, i, j) {
                clusters -= 1;
            }
        }
    }
    (best.sqrt(), clusters)
}

/// 1-D: sorted, consecutive gaps <= tol link.
fn clusters_1d(x: &[f64], n: usize, tol: f64, parent: &mut [usize]) -> (f64, usize) {
    if n == 0 {
        return (0.0, 0);
    }
    let mut keyed: Vec<(i64, i64, usize)> = (0..n)
        .map(|i| (super::total_order_key(x[i]), 0, i))
        .collect();
    keyed.sort_unstable();
    let idx: Vec<usize> = keyed.into_iter().map(|k| k.2).collect();
    let mut clusters = n;
    for w in idx.windows(2) {
        if x[w[1]] - x[w[0]] <= tol && union(parent, w[0], w[1]) {
            clusters -= 1;
        }
    }
    (x[idx[n - 1]] - x[idx[0]], clusters)
}

/// d = 2 or 3: cells of side tol/√d (points in one cell are within tol, so a cell is joined at
/// once), then point pairs only between cells at most 2 apart per axis (⌈√d⌉ = 2), skipped once
/// the two cells are joined: O(n) when clusters are tight, however many tokens they hold.
fn clusters_grid<const D: usize>(x: &[f64], n: usize, tol: f64, parent: &mut [usize]) -> usize {
    if n == 0 {
        return 0;
    }
    let side = tol / (D as f64).sqrt();
    let reach = x[..n * D].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if reach / side >= 1e15 || side.is_nan() || side <= 0.0 {
        // cell keys would saturate (tol 0 or tiny next to the coordinates): exact pair pass
        return pairs(x, n, D, tol, parent).1;
    }
    // Cells by integer coordinates, numbered in mixed radix with room for the ±2 offsets on every
    // axis: numeric order is the coordinates' lexicographic order, a neighbour is a constant
    // difference away, and comparing cells is comparing integers (in the page, where this crate
    // is built for size, comparing arrays was a call per comparison and a quarter of a sphere
    // layer). When the numbering overflows 64 bits (a tolerance below ~1e-6 of the spread in
    // 3-D): the tokens are sparse at that scale, and a sweep along the first axis is quick.
    let coord = |i: usize, c: usize| (x[D * i + c] / side).floor() as i64;
    let (mut low, mut high) = ([i64::MAX; D], [i64::MIN; D]);
    for i in 0..n {
        for c in 0..D {
            low[c] = low[c].min(coord(i, c));
            high[c] = high[c].max(coord(i, c));
        }
    }
    let mut stride = [0u64; D];
    let mut radix = 1u64;
    for c in (0..D).rev() {
        stride[c] = radix;
        let width = (high[c] - low[c]) as u64 + 5;
        match radix.checked_mul(width).filter(|r| *r < u64::MAX / 4) {
            Some(r) => radix = r,
            None => return sweep::<D>(x, n, tol, parent),
        }
    }
    let key = |i: usize| -> u64 {
        (0..D)
            .map(|c| (coord(i, c) - low[c] + 2) as u64 * stride[c])
            .sum()
    };
    let mut idx: Vec<(u64, usize)> = (0..n).map(|i| (key(i), i)).collect();
    idx.sort_unstable();
    // cells as ranges into idx
    let mut cells: Vec<(u64, usize, usize)> = Vec::new();
    let mut s = 0;
    for e in 1..=n {
        if e == n || idx[e].0 != idx[s].0 {
            cells.push((idx[s].0, s, e));
            s = e;
        }
    }
    let mut clusters = n;
    for &(_, s, e) in &cells {
        for t in s + 1..e {
            if union(parent, idx[s].1, idx[t].1) {
                clusters -= 1;
            }
        }
    }
    // Offsets in [-2, 2]^D after 0 in lexicographic order (each neighbouring pair of cells once),
    // as differences of cell numbers: positive, in the same order.
    let offsets: Vec<u64> = (0..5usize.pow(D as u32))
        .map(|code| {
            let o: [i64; D] =
                std::array::from_fn(|c| (code / 5usize.pow((D - 1 - c) as u32) % 5) as i64 - 2);
            (0..D).fold(0i64, |sum, c| sum + o[c] as i64 * stride[c] as i64)
        })
        .filter(|&o| o > 0)
        .map(|o| o as u64)
        .collect();
    let tol2 = tol * tol;
    // One offset at a time: the cells' targets then increase with the cells, so one forward walk
    // finds them all (a binary search per cell and offset was 62 per cell in 3-D). Components do
    // not depend on the order of the unions.
    for &o in &offsets {
        let mut cj = 0;
        for &(cell, s, e) in &cells {
            let target = cell + o;
            while cj < cells.len() && cells[cj].0 < target {
                cj += 1;
            }
            if cj == cells.len() {
                break;
            }
            if cells[cj].0 != target {
                continue;
            }
            let (_, s2, e2) = cells[cj];
            'outer: for p in s..e {
                if find(parent, idx[p].1) == find(parent, idx[s2].1) {
                    break;
                }
                let pi = idx[p].1;
                for &(_, qi) in &idx[s2..e2] {
                    if dist2(&x[D * pi..D * pi + D], &x[D * qi..D * qi + D]) <= tol2 {
                        if union(parent, pi, qi) {
                            clusters -= 1;
                        }
                        break 'outer;
                    }
                }
            }
        }
    }
    clusters
}

/// Clusters by a sweep along the first axis: tokens sorted by it, each compared with the next ones
/// until they are more than `tol` ahead on that axis (exact; quick when few tokens share a band of
/// width `tol`, as when the tolerance is tiny next to their spread).
fn sweep<const D: usize>(x: &[f64], n: usize, tol: f64, parent: &mut [usize]) -> usize {
    // The first coordinate as an integer in the same order (the grid's sort, not one more).
    let ordered = |v: f64| {
        let bits = v.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | 1 << 63
        }
    };
    let mut order: Vec<(u64, usize)> = (0..n).map(|i| (ordered(x[D * i]), i)).collect();
    order.sort_unstable();
    let mut clusters = n;
    for (k, &(_, i)) in order.iter().enumerate() {
        for &(_, j) in &order[k + 1..] {
            if x[D * j] - x[D * i] > tol {
                break;
            }
            if dist2(&x[D * i..D * i + D], &x[D * j..D * j + D]) <= tol * tol && union(parent, i, j)
            {
                clusters -= 1;
            }
        }
    }
    clusters
}

/// Single-linkage cluster label per token (labels 0, 1, ... in order of each cluster's smallest
/// member).
pub fn cluster_labels(x: &[f64], n: usize, d: usize, tol: f64) -> Vec<usize> {
    let mut parent = Vec::new();
    diameter_and_clusters(x, n, d, tol, &mut parent);
    // the 2-D grid path skips pairs inside an already joined component, so `parent` is complete
    let mut label = vec![usize::MAX; n];
    let mut next = 0;
    (0..n)
        .map(|i| {
            let r = find(&mut parent, i);
            if label[r] == usize::MAX {
                label[r] = next;
                next += 1;
            }
            label[r]
        })
        .collect()
}
