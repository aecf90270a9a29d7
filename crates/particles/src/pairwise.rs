//! Softmax attention with the identity key-query matrix (A = I), computed once per unordered pair.
//!
//! With A = I the weight e^{β⟨x_i, x_j⟩} is symmetric, so one exponential serves row i and row j.
//! Every weight is shifted by the same m = max_i ‖x_i‖² (not by each row's maximum as
//! [`crate::dynamics::step`] does): by Cauchy–Schwarz every exponent β(⟨x_i, x_j⟩ − m) is <= 0 up
//! to rounding, and since row i contains ⟨x_i, x_i⟩ = ‖x_i‖², a row's largest weight is at least
//! e^{−β(m − ‖x_i‖²)}, which on the sphere is 1 up to rounding: no row underflows. The shift
//! cancels in the self-attention mean, and the unnormalised output is scaled by e^{βm}/n instead.
//!
//! Each weight comes with its `expm1` from the same reduction (td-lanes), so the same pass also sums
//! Σ_{i,j} (e^{β(⟨x_i,x_j⟩ − m)} − 1) without cancellation: the interaction energy of the state at
//! any β (see [`crate::sphere`]), its smallest inner product and its diameter, for free. The
//! sphere model uses this kernel for A = I (the default, and the papers' setting): half the
//! exponentials of the row-by-row kernel and none for the energy.
//!
//! Results agree with the row-by-row kernel up to rounding (the weights differ by a common factor
//! per row, and the sums run in another order); leaders, argmax counts and the attention graph
//! (every j whose weight does not underflow) are the same tests on the same inner products.

use super::dynamics::{StepStats, FLAG_FIXED, FLAG_LEADER, TIE_REL_TOL};
use super::graph::Bitset;
use td_lanes::{exp_expm1_nonpos_with, ExpConsts, L2};

/// What the pass measures of the state besides the attention output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairDiag {
    /// The shift m = max_i ‖x_i‖².
    pub shift: f64,
    /// Σ over ordered pairs (i, j), diagonal included, of e^{β(⟨x_i,x_j⟩ − m)} − 1.
    pub excess: f64,
    /// Σ over ordered pairs of ⟨x_i, x_j⟩.
    pub inner_sum: f64,
    /// min_{i != j} ⟨x_i, x_j⟩ (‖x_0‖² when n = 1).
    pub min_inner: f64,
    /// max_{i,j} ‖x_i − x_j‖².
    pub max_dist2: f64,
}

/// Reused buffers of [`attend`]. Per-token values are stored column by column (structure of
/// arrays), so two neighbouring tokens j, j + 1 are two neighbouring numbers: one SIMD load.
#[derive(Clone, Debug, Default)]
pub struct PairScratch {
    /// d×n: coordinate c of token j at c·n + j.
    cols: Vec<f64>,
    /// Per token: the largest inner product of its row, then its tie threshold.
    tie: Vec<f64>,
    /// Per token: max_j |⟨x_i, x_j⟩|.
    big: Vec<f64>,
    /// Per token: max_{j != i} ⟨x_i, x_j⟩ (i is the only member of its argmax set when this is
    /// below the tie threshold).
    off_max: Vec<f64>,
    /// Per token: Σ_j weight.
    total: Vec<f64>,
    /// d×n: Σ_j weight·x_j, column by column.
    acc: Vec<f64>,
}

/// True when `a` is the d×d identity bit for bit (−0.0 is not 0.0 here): then [`attend`] applies.
pub fn is_identity(a: &[f64], d: usize) -> bool {
    let bits = |k: usize| if k / d == k % d { 1.0f64 } else { 0.0 }.to_bits();
    a.len() == d * d && a.iter().enumerate().all(|(k, v)| v.to_bits() == bits(k))
}

/// Entries j and j + 1 of a slice as two lanes.
#[inline(always)]
fn load(v: &[f64], j: usize) -> L2 {
    L2::new(v[j], v[j + 1])
}

/// Entries j and j + 1 of a slice ← `f` of them.
#[inline(always)]
fn update(v: &mut [f64], j: usize, f: impl Fn(L2) -> L2) {
    let [a, b] = f(load(v, j)).lanes();
    v[j] = a;
    v[j + 1] = b;
}

/// ⟨x_i, x_j⟩ from the columns, coordinates in order (the scalar dot product's rounding).
#[inline(always)]
fn dot(cols: &[f64], n: usize, d: usize, i: usize, j: usize) -> f64 {
    let mut s = 0.0;
    for c in 0..d {
        s += cols[c * n + i] * cols[c * n + j];
    }
    s
}

/// ⟨x_i, x_j⟩ and ⟨x_i, x_{j+1}⟩.
#[inline(always)]
fn dot2(cols: &[f64], n: usize, d: usize, i: usize, j: usize) -> L2 {
    let mut s = L2::splat(0.0);
    for c in 0..d {
        s = s + L2::splat(cols[c * n + i]) * load(cols, c * n + j);
    }
    s
}

/// The state's sums alone (energy, smallest inner product, diameter) from the same pass, for
/// states no step of this kernel reaches (the last one, other matrices A, the first one).
pub fn state_sums(x: &[f64], n: usize, d: usize, beta: f64) -> PairDiag {
    let mut scratch = PairScratch::default();
    let shift = to_columns(x, n, d, &mut scratch);
    pass::<false>(n, d, beta, shift, &mut scratch)
}

/// Writes the columns; returns the shift m = max_i ‖x_i‖².
fn to_columns(x: &[f64], n: usize, d: usize, scratch: &mut PairScratch) -> f64 {
    let cols = &mut scratch.cols;
    cols.clear();
    cols.resize(n * d, 0.0);
    for (j, row) in x.chunks_exact(d).take(n).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            cols[c * n + j] = v;
        }
    }
    (0..n)
        .map(|i| dot(&scratch.cols, n, d, i, i))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// [`pair_pass`] with d fixed at compile time where it is small: the per-coordinate lanes stay
/// in registers. `FIELD`: also the attention sums (`total`, `acc`, sized n and n·d).
fn pass<const FIELD: bool>(
    n: usize,
    d: usize,
    beta: f64,
    shift: f64,
    scratch: &mut PairScratch,
) -> PairDiag {
    match d {
        2 => pair_pass::<2, FIELD>(n, d, beta, shift, scratch),
        3 => pair_pass::<3, FIELD>(n, d, beta, shift, scratch),
        _ => pair_pass::<0, FIELD>(n, d, beta, shift, scratch),
    }
}

/// Self-attention means (`out_i` = Σ_j w_ij x_j / Σ_j w_ij) or, `unnormalised`, the 1/n outputs
/// (Σ_j e^{β⟨x_i,x_j⟩} x_j / n, the exponent capped at `max_exponent` as the row kernel caps it),
/// of softmax attention with A = I; fills `graph` (N_i: every j whose weight does not underflow)
/// and `flags` (leaders, as [`crate::dynamics::step`] defines them). O(n² d), each pair once.
#[allow(clippy::too_many_arguments)]
pub fn attend(
    x: &[f64],
    n: usize,
    d: usize,
    beta: f64,
    unnormalised: bool,
    max_exponent: f64,
    scratch: &mut PairScratch,
    graph: &mut Bitset,
    flags: &mut [u8],
    out: &mut [f64],
) -> (StepStats, PairDiag) {
    let shift = to_columns(x, n, d, scratch);
    row_extremes(n, d, scratch);
    scratch.total.clear();
    scratch.total.resize(n, 0.0);
    scratch.acc.clear();
    scratch.acc.resize(n * d, 0.0);
    graph.fill(n);
    let diag = pass::<true>(n, d, beta, shift, scratch);
    // A weight underflows only where β(m − ⟨x_i, x_j⟩) > 745, and ⟨x_i, x_j⟩ >= −m: below
    // 2βm = 700 (β < 350 on the sphere) no pair needs looking at.
    let underflows = if 2.0 * beta * shift > 700.0 {
        remove_underflows(n, d, beta, shift, &scratch.cols, graph)
    } else {
        0
    };
    let PairScratch {
        cols,
        tie,
        off_max,
        total,
        acc,
        ..
    } = scratch;
    let unnormalised_scale = (beta * shift).min(max_exponent).exp() / n as f64;
    for i in 0..n {
        let scale = if unnormalised {
            unnormalised_scale
        } else {
            1.0 / total[i]
        };
        for c in 0..d {
            out[i * d + c] = acc[c * n + i] * scale;
        }
        let leader = dot(cols, n, d, i, i) >= tie[i];
        flags[i] = if leader { FLAG_LEADER } else { 0 }
            | if leader && off_max[i] < tie[i] {
                FLAG_FIXED
            } else {
                0
            };
    }
    let stats = StepStats {
        margin_undefined: 0,
        edges: n * n - underflows,
    };
    (stats, diag)
}

/// Every unordered pair once, two at a time: weights and their `expm1`, the state's sums and,
/// with `FIELD`, row and column sums of the weights and weighted positions.
/// `D` > 0 is d, known at compile time; `D` = 0 reads it from `d`. Plain index loops: the page
/// builds this crate for size, where iterator adaptors over several arrays can stay calls.
#[allow(clippy::needless_range_loop)]
fn pair_pass<const D: usize, const FIELD: bool>(
    n: usize,
    d: usize,
    beta: f64,
    shift: f64,
    scratch: &mut PairScratch,
) -> PairDiag {
    let d = if D > 0 { D } else { d };
    let PairScratch {
        cols, total, acc, ..
    } = scratch;
    let consts = ExpConsts::<L2>::hoisted();
    let zero = consts.zero();
    let (lanes_beta, lanes_shift) = (L2::splat(beta), L2::splat(shift));
    let (mut excess, mut inner_sum, mut max_dist2) = (zero, zero, zero);
    let mut min_inner = L2::splat(f64::INFINITY);
    let (mut diag_excess, mut diag_inner) = (0.0, 0.0);
    let mut acc_i = [zero; crate::MAX_D];
    let mut x_i = [zero; crate::MAX_D];
    for i in 0..n {
        let s = dot(cols, n, d, i, i);
        let (w, e) = exp_expm1_one(beta * (s - shift));
        diag_excess += e;
        diag_inner += s;
        let mut total_i = L2::new(w, 0.0);
        for c in 0..d {
            x_i[c] = L2::splat(cols[c * n + i]);
            acc_i[c] = L2::new(w * cols[c * n + i], 0.0);
        }
        let mut j = i + 1;
        while j + 2 <= n {
            let mut s = zero;
            let mut r2 = zero;
            for c in 0..d {
                let xj = load(cols, c * n + j);
                s = s + x_i[c] * xj;
                let diff = x_i[c] - xj;
                r2 = r2 + diff * diff;
            }
            let (w, e) = exp_expm1_nonpos_with(lanes_beta * (s - lanes_shift), &consts);
            excess = excess + e;
            inner_sum = inner_sum + s;
            min_inner = min_inner.min(s);
            max_dist2 = max_dist2.max(r2);
            if FIELD {
                for c in 0..d {
                    acc_i[c] = acc_i[c] + w * load(cols, c * n + j);
                    let k = c * n + j;
                    update(acc, k, |v| v + w * x_i[c]);
                }
                total_i = total_i + w;
                update(total, j, |v| v + w);
            }
            j += 2;
        }
        if j < n {
            // the odd one out: the same operations on one number
            let s = dot(cols, n, d, i, j);
            let (w, e) = exp_expm1_one(beta * (s - shift));
            let mut r2 = 0.0;
            for c in 0..d {
                let diff = cols[c * n + i] - cols[c * n + j];
                r2 += diff * diff;
                if FIELD {
                    acc_i[c] = acc_i[c] + L2::new(w * cols[c * n + j], 0.0);
                    acc[c * n + j] += w * cols[c * n + i];
                }
            }
            excess = excess + L2::new(e, 0.0);
            inner_sum = inner_sum + L2::new(s, 0.0);
            min_inner = min_inner.min(L2::new(s, f64::INFINITY));
            max_dist2 = max_dist2.max(L2::new(r2, 0.0));
            if FIELD {
                total_i = total_i + L2::new(w, 0.0);
                total[j] += w;
            }
        }
        if FIELD {
            total[i] += lane_sum(total_i);
            for c in 0..d {
                acc[c * n + i] += lane_sum(acc_i[c]);
            }
        }
    }
    let [min0, min1] = min_inner.lanes();
    let [far0, far1] = max_dist2.lanes();
    PairDiag {
        shift,
        excess: diag_excess + 2.0 * lane_sum(excess),
        inner_sum: diag_inner + 2.0 * lane_sum(inner_sum),
        min_inner: if n > 1 { min0.min(min1) } else { shift },
        max_dist2: far0.max(far1),
    }
}

/// `(e^x, e^x − 1)` of one number (x <= 0): the lanes' bits, out of line (diagonals and odd
/// tails only; one copy of the polynomial is enough for them).
#[inline(never)]
pub(crate) fn exp_expm1_one(x: f64) -> (f64, f64) {
    exp_expm1_nonpos_with::<f64>(x, &ExpConsts::inline())
}

fn lane_sum(v: L2) -> f64 {
    let [a, b] = v.lanes();
    a + b
}

/// The rare case (β(m − ⟨x_i, x_j⟩) beyond ~745): clears the pairs whose weight is 0 from the
/// graph; returns how many ordered pairs it cleared.
fn remove_underflows(
    n: usize,
    d: usize,
    beta: f64,
    shift: f64,
    cols: &[f64],
    graph: &mut Bitset,
) -> usize {
    let mut cleared = 0;
    for i in 0..n {
        for j in i..n {
            let s = dot(cols, n, d, i, j);
            let (w, _) = exp_expm1_one(beta * (s - shift));
            if w == 0.0 {
                graph.remove(i, j);
                cleared += 1;
                if j != i {
                    graph.remove(j, i);
                    cleared += 1;
                }
            }
        }
    }
    cleared
}

/// Per token i: the largest inner product with another token (`off_max`) and the tie threshold
/// max_j s_ij − TIE_REL_TOL·max_j |s_ij| (`tie`), as the row kernel computes it, over unordered
/// pairs.
fn row_extremes(n: usize, d: usize, scratch: &mut PairScratch) {
    let PairScratch {
        cols,
        tie,
        big,
        off_max,
        ..
    } = scratch;
    for v in [&mut *off_max, &mut *big] {
        v.clear();
        v.resize(n, f64::NEG_INFINITY);
    }
    for i in 0..n {
        let s = dot(cols, n, d, i, i);
        let mut off_i = L2::splat(f64::NEG_INFINITY);
        let mut big_i = L2::new(s.abs(), 0.0);
        let mut j = i + 1;
        while j + 2 <= n {
            let s = dot2(cols, n, d, i, j);
            off_i = off_i.max(s);
            big_i = big_i.max(s.abs());
            update(off_max, j, |v| v.max(s));
            update(big, j, |v| v.max(s.abs()));
            j += 2;
        }
        if j < n {
            let s = dot(cols, n, d, i, j);
            off_i = off_i.max(L2::new(s, f64::NEG_INFINITY));
            big_i = big_i.max(L2::new(s.abs(), 0.0));
            off_max[j] = off_max[j].max(s);
            big[j] = big[j].max(s.abs());
        }
        let [m0, m1] = off_i.lanes();
        let [b0, b1] = big_i.lanes();
        off_max[i] = off_max[i].max(m0.max(m1));
        big[i] = big[i].max(b0.max(b1));
    }
    tie.clear();
    tie.extend((0..n).map(|i| {
        let m = dot(cols, n, d, i, i).max(off_max[i]);
        m - TIE_REL_TOL * big[i]
    }));
}
