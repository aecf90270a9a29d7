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
//! One pass per step also finds each row's largest off-diagonal and largest absolute inner
//! product (the leaders' tie thresholds). For d = 2 and 3 with exponents in the narrow range (all
//! of the sphere below β ≈ 340) tokens are read in blocks of two, stored as SIMD lanes
//! (`blocked_pass`); other d take the column layout (`pair_pass`). The page builds this crate
//! for size, so the small-d code is written out by hand (`per_coordinate!`) rather than left to
//! loop unrolling; measured in node on the page's build (n = 2,000, d = 3, one layer), the pass
//! went from about 45 ms to about 28 ms with these three changes.
//!
//! Results agree with the row-by-row kernel up to rounding (the weights differ by a common factor
//! per row, and the sums run in another order); leaders, argmax counts and the attention graph
//! (every j whose weight does not underflow) are the same tests on the same inner products.

use super::dynamics::{StepStats, FLAG_FIXED, FLAG_LEADER, TIE_REL_TOL};
use super::graph::Bitset;
use td_lanes::{exp_expm1_narrow_with, exp_expm1_nonpos_with, ExpConsts, L2, NARROW_EXP_MIN};

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

/// `body` for every coordinate c < d, written out for d = 2 and 3 when `D` fixes them (the page
/// builds this crate for size, where LLVM keeps even a 3-trip loop a loop, and the coordinate
/// lanes would live in memory instead of registers).
macro_rules! per_coordinate {
    ($c:ident in $fixed:expr, $d:expr => $body:block) => {
        match $fixed {
            2 => {
                let $c = 0;
                $body
                let $c = 1;
                $body
            }
            3 => {
                let $c = 0;
                $body
                let $c = 1;
                $body
                let $c = 2;
                $body
            }
            _ => {
                for $c in 0..$d $body
            }
        }
    };
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

/// The state's sums alone (energy, smallest inner product, diameter) from the same pass, for
/// states no step of this kernel reaches (the last one, other matrices A, the first one).
pub fn state_sums(x: &[f64], n: usize, d: usize, beta: f64) -> PairDiag {
    let mut scratch = PairScratch::default();
    let shift = to_columns(x, n, d, &mut scratch);
    if matches!(d, 2 | 3) && narrow(beta, shift) {
        // The step's blocked pass, its attention sums thrown away, is still faster than the
        // column pass without them, and adds no code to the page.
        reset_sums(n, d, &mut scratch);
        return pass_field(n, d, beta, shift, &mut scratch);
    }
    pass_sums(n, d, beta, shift, &mut scratch)
}

/// Zeroes the pass's per-token sums (and its maxima at −∞) for n tokens in d dimensions.
fn reset_sums(n: usize, d: usize, scratch: &mut PairScratch) {
    for (v, fill) in [
        (&mut scratch.total, 0.0),
        (&mut scratch.off_max, f64::NEG_INFINITY),
        (&mut scratch.big, f64::NEG_INFINITY),
    ] {
        v.clear();
        v.resize(n, fill);
    }
    scratch.acc.clear();
    scratch.acc.resize(n * d, 0.0);
}

/// Every exponent β(⟨x_i, x_j⟩ − m) >= −2βm lies in [`NARROW_EXP_MIN`, 0] (2βm <= 680 leaves
/// room for rounding; on the sphere β <= 340).
fn narrow(beta: f64, shift: f64) -> bool {
    2.0 * beta * shift <= -NARROW_EXP_MIN - 10.0
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

/// The energy-only pass ([`state_sums`]: a state or two per run), d read at run time.
fn pass_sums(n: usize, d: usize, beta: f64, shift: f64, scratch: &mut PairScratch) -> PairDiag {
    pair_pass::<false>(n, d, beta, shift, scratch)
}

/// The step's pass (the sums zeroed by [`reset_sums`]): d = 2 and 3 in blocks, and when every
/// exponent is in the [`narrow`] range the exponential without its underflow branch (the same
/// bits).
fn pass_field(n: usize, d: usize, beta: f64, shift: f64, scratch: &mut PairScratch) -> PairDiag {
    match (d, narrow(beta, shift)) {
        (2, true) => blocked_pass::<2>(n, beta, shift, scratch),
        (3, true) => blocked_pass::<3>(n, beta, shift, scratch),
        // Other d: the general exponential (the same bits as the narrow one where both apply;
        // one copy of this pass less in the page).
        _ => pair_pass::<true>(n, d, beta, shift, scratch),
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
    reset_sums(n, d, scratch);
    graph.fill(n);
    let diag = pass_field(n, d, beta, shift, scratch);
    tie_thresholds(n, d, scratch);
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
/// with `FIELD`, row and column sums of the weights and weighted positions, and each row's largest
/// off-diagonal and largest absolute inner product (the leaders' tie thresholds).
/// Any d (d = 2 and 3 take [`blocked_pass`] when every exponent is in the [`narrow`] range).
/// Plain index loops: the page builds this crate for size, where iterator adaptors over several
/// arrays can stay calls.
#[allow(clippy::needless_range_loop)]
fn pair_pass<const FIELD: bool>(
    n: usize,
    d: usize,
    beta: f64,
    shift: f64,
    scratch: &mut PairScratch,
) -> PairDiag {
    let PairScratch {
        cols,
        total,
        acc,
        off_max,
        big,
        ..
    } = scratch;
    let consts = ExpConsts::<L2>::hoisted();
    let zero = consts.zero();
    let (lanes_beta, lanes_shift) = (L2::splat(beta), L2::splat(shift));
    let mut all = LaneDiag::new();
    let (mut diag_excess, mut diag_inner) = (0.0, 0.0);
    let mut acc_i = [zero; crate::MAX_D];
    let mut x_i = [zero; crate::MAX_D];
    let mut x_j = [zero; crate::MAX_D];
    for i in 0..n {
        let s = dot(cols, n, d, i, i);
        let (w, e) = exp_expm1_one(beta * (s - shift));
        diag_excess += e;
        diag_inner += s;
        let mut total_i = L2::new(w, 0.0);
        let mut off_i = L2::splat(f64::NEG_INFINITY);
        let mut big_i = L2::new(s.abs(), 0.0);
        for c in 0..d {
            x_i[c] = L2::splat(cols[c * n + i]);
            acc_i[c] = L2::new(w * cols[c * n + i], 0.0);
        }
        let mut j = i + 1;
        while j + 2 <= n {
            let (mut s, mut r2) = (zero, zero);
            for c in 0..d {
                x_j[c] = load(cols, c * n + j);
                s = s + x_i[c] * x_j[c];
                let diff = x_i[c] - x_j[c];
                r2 = r2 + diff * diff;
            }
            let (w, e) = exp_expm1_nonpos_with(lanes_beta * (s - lanes_shift), &consts);
            all.add(e, s, r2);
            all.min_inner = all.min_inner.min(s);
            if FIELD {
                for c in 0..d {
                    acc_i[c] = acc_i[c] + w * x_j[c];
                    update(acc, c * n + j, |v| v + w * x_i[c]);
                }
                total_i = total_i + w;
                update(total, j, |v| v + w);
                let s_abs = s.abs();
                off_i = off_i.max(s);
                big_i = big_i.max(s_abs);
                update(off_max, j, |v| v.max(s));
                update(big, j, |v| v.max(s_abs));
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
            all.add(L2::new(e, 0.0), L2::new(s, 0.0), L2::new(r2, 0.0));
            all.min_inner = all.min_inner.min(L2::new(s, f64::INFINITY));
            if FIELD {
                total_i = total_i + L2::new(w, 0.0);
                total[j] += w;
                off_i = off_i.max(L2::new(s, f64::NEG_INFINITY));
                big_i = big_i.max(L2::new(s.abs(), 0.0));
                off_max[j] = off_max[j].max(s);
                big[j] = big[j].max(s.abs());
            }
        }
        if FIELD {
            total[i] += lane_sum(total_i);
            for c in 0..d {
                acc[c * n + i] += lane_sum(acc_i[c]);
            }
            let [m0, m1] = off_i.lanes();
            let [b0, b1] = big_i.lanes();
            off_max[i] = off_max[i].max(m0.max(m1));
            big[i] = big[i].max(b0.max(b1));
        }
    }
    all.finish(n, shift, diag_excess, diag_inner)
}

/// Tokens 2b and 2b + 1, coordinate by coordinate: what [`blocked_pass`] reads of a column pair
/// (stored as lanes, so that reading them is one SIMD load each).
type Block<const D: usize> = [L2; D];

/// What [`blocked_pass`] accumulates for tokens 2b and 2b + 1 (one bounds check reaches it all).
#[derive(Clone, Copy)]
struct BlockSums<const D: usize> {
    acc: Block<D>,
    total: L2,
    off_max: L2,
    big: L2,
}

/// Row i's running sums in [`blocked_pass`] (two lanes each, added up at the row's end).
struct RowSums<const D: usize> {
    acc: [L2; D],
    total: L2,
    off: L2,
    big: L2,
}

/// Lane h (0 or 1) of `v` ← `f` of it.
fn update_lane(v: &mut L2, h: usize, f: impl Fn(f64) -> f64) {
    let [a, b] = v.lanes();
    *v = if h == 0 {
        L2::new(f(a), b)
    } else {
        L2::new(a, f(b))
    };
}

/// `if a < b { b } else { a }`: [`L2::max`]'s rule on one number (f64::max is a call in the page).
fn larger(a: f64, b: f64) -> f64 {
    if a < b {
        b
    } else {
        a
    }
}

/// [`pair_pass`] with `FIELD` and `NARROW` for d = 2 and 3, the tokens in blocks of two: the
/// column pair (j, j + 1) is one array read and one array updated, where the column layout
/// takes a bounds check per number. Row i pairs token i + 1 alone when it starts a block's
/// second half, then whole blocks, then the last token alone when n is odd.
fn blocked_pass<const D: usize>(
    n: usize,
    beta: f64,
    shift: f64,
    scratch: &mut PairScratch,
) -> PairDiag {
    let cols = &scratch.cols;
    let pos = |j: usize, c: usize| cols[c * n + j];
    let blocks: Vec<Block<D>> = (0..n / 2)
        .map(|b| core::array::from_fn(|c| L2::new(pos(2 * b, c), pos(2 * b + 1, c))))
        .collect();
    let empty = BlockSums::<D> {
        acc: [L2::splat(0.0); D],
        total: L2::splat(0.0),
        off_max: L2::splat(f64::NEG_INFINITY),
        big: L2::splat(f64::NEG_INFINITY),
    };
    let mut sums = vec![empty; n.div_ceil(2)];
    let consts = ExpConsts::<L2>::hoisted();
    let (lanes_beta, lanes_shift) = (L2::splat(beta), L2::splat(shift));
    let mut all = LaneDiag::new();
    let (mut diag_excess, mut diag_inner) = (0.0, 0.0);
    for i in 0..n {
        let s = dot(cols, n, D, i, i);
        let (w, e) = exp_expm1_one(beta * (s - shift));
        diag_excess += e;
        diag_inner += s;
        let x_i: [L2; D] = core::array::from_fn(|c| L2::splat(pos(i, c)));
        let mut row = RowSums::<D> {
            acc: core::array::from_fn(|c| L2::new(w * pos(i, c), 0.0)),
            total: L2::new(w, 0.0),
            off: L2::splat(f64::NEG_INFINITY),
            big: L2::new(s.abs(), 0.0),
        };
        let mut j = i + 1;
        if j % 2 == 1 && j < n {
            single_pair(cols, n, beta, shift, i, j, &mut row, &mut sums, &mut all);
            j += 1;
        }
        for b in j / 2..n / 2 {
            let x_j = &blocks[b];
            let (mut s, mut r2) = (consts.zero(), consts.zero());
            per_coordinate!(c in D, D => {
                let diff = x_i[c] - x_j[c];
                // the first coordinate starts the sums (0 + a·b would be one more addition)
                if c == 0 {
                    s = x_i[c] * x_j[c];
                    r2 = diff * diff;
                } else {
                    s = s + x_i[c] * x_j[c];
                    r2 = r2 + diff * diff;
                }
            });
            let (w, e) = exp_expm1_narrow_with(lanes_beta * (s - lanes_shift), &consts);
            all.add(e, s, r2);
            all.min_inner = all.min_inner.min(s);
            let t = &mut sums[b];
            per_coordinate!(c in D, D => {
                row.acc[c] = row.acc[c] + w * x_j[c];
                t.acc[c] = t.acc[c] + w * x_i[c];
            });
            row.total = row.total + w;
            t.total = t.total + w;
            let s_abs = s.abs();
            row.off = row.off.max(s);
            row.big = row.big.max(s_abs);
            t.off_max = t.off_max.max(s);
            t.big = t.big.max(s_abs);
        }
        if n % 2 == 1 && i + 1 < n {
            single_pair(
                cols,
                n,
                beta,
                shift,
                i,
                n - 1,
                &mut row,
                &mut sums,
                &mut all,
            );
        }
        let (t, h) = (&mut sums[i / 2], i % 2);
        update_lane(&mut t.total, h, |v| v + lane_sum(row.total));
        for c in 0..D {
            update_lane(&mut t.acc[c], h, |v| v + lane_sum(row.acc[c]));
        }
        let [m0, m1] = row.off.lanes();
        let [b0, b1] = row.big.lanes();
        update_lane(&mut t.off_max, h, |v| larger(v, larger(m0, m1)));
        update_lane(&mut t.big, h, |v| larger(v, larger(b0, b1)));
    }
    scatter(&sums, n, scratch);
    all.finish(n, shift, diag_excess, diag_inner)
}

/// [`blocked_pass`]'s sums into the scratch's per-token columns, where [`attend`] reads them.
fn scatter<const D: usize>(sums: &[BlockSums<D>], n: usize, scratch: &mut PairScratch) {
    let PairScratch {
        total,
        acc,
        off_max,
        big,
        ..
    } = scratch;
    for j in 0..n {
        let (t, h) = (&sums[j / 2], j % 2);
        total[j] = t.total.lanes()[h];
        off_max[j] = t.off_max.lanes()[h];
        big[j] = t.big.lanes()[h];
        for c in 0..D {
            acc[c * n + j] = t.acc[c].lanes()[h];
        }
    }
}

/// Token j paired with token i alone in [`blocked_pass`]: the block's operations on one number.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn single_pair<const D: usize>(
    cols: &[f64],
    n: usize,
    beta: f64,
    shift: f64,
    i: usize,
    j: usize,
    row: &mut RowSums<D>,
    sums: &mut [BlockSums<D>],
    all: &mut LaneDiag,
) {
    let pos = |j: usize, c: usize| cols[c * n + j];
    let mut s = 0.0;
    let mut r2 = 0.0;
    for c in 0..D {
        s += pos(i, c) * pos(j, c);
        let diff = pos(i, c) - pos(j, c);
        r2 += diff * diff;
    }
    let (w, e) = exp_expm1_one(beta * (s - shift));
    all.add(L2::new(e, 0.0), L2::new(s, 0.0), L2::new(r2, 0.0));
    all.min_inner = all.min_inner.min(L2::new(s, f64::INFINITY));
    let (t, h) = (&mut sums[j / 2], j % 2);
    for c in 0..D {
        row.acc[c] = row.acc[c] + L2::new(w * pos(j, c), 0.0);
        update_lane(&mut t.acc[c], h, |v| v + w * pos(i, c));
    }
    row.total = row.total + L2::new(w, 0.0);
    row.off = row.off.max(L2::new(s, f64::NEG_INFINITY));
    row.big = row.big.max(L2::new(s.abs(), 0.0));
    update_lane(&mut t.total, h, |v| v + w);
    update_lane(&mut t.off_max, h, |v| larger(v, s));
    update_lane(&mut t.big, h, |v| larger(v, s.abs()));
}

/// The off-diagonal sums of a pass, two lanes each.
struct LaneDiag {
    excess: L2,
    inner_sum: L2,
    min_inner: L2,
    max_dist2: L2,
}

impl LaneDiag {
    fn new() -> LaneDiag {
        let zero = L2::splat(0.0);
        LaneDiag {
            excess: zero,
            inner_sum: zero,
            min_inner: L2::splat(f64::INFINITY),
            max_dist2: zero,
        }
    }

    /// One pair (or two): its `expm1`, inner product and squared distance.
    #[inline(always)]
    fn add(&mut self, e: L2, s: L2, r2: L2) {
        self.excess = self.excess + e;
        self.inner_sum = self.inner_sum + s;
        self.max_dist2 = self.max_dist2.max(r2);
    }

    /// The pass's [`PairDiag`], with the diagonal's sums (each off-diagonal pair counts twice).
    fn finish(&self, n: usize, shift: f64, diag_excess: f64, diag_inner: f64) -> PairDiag {
        let [min0, min1] = self.min_inner.lanes();
        let [far0, far1] = self.max_dist2.lanes();
        PairDiag {
            shift,
            excess: diag_excess + 2.0 * lane_sum(self.excess),
            inner_sum: diag_inner + 2.0 * lane_sum(self.inner_sum),
            min_inner: if n > 1 { min0.min(min1) } else { shift },
            max_dist2: far0.max(far1),
        }
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

/// Per token i, from its largest off-diagonal inner product (`off_max`) and largest absolute
/// inner product (`big`), both filled by the pass: the tie threshold
/// max_j s_ij − TIE_REL_TOL·max_j |s_ij| (`tie`), as the row kernel computes it.
fn tie_thresholds(n: usize, d: usize, scratch: &mut PairScratch) {
    let PairScratch {
        cols,
        tie,
        big,
        off_max,
        ..
    } = scratch;
    tie.clear();
    tie.extend((0..n).map(|i| {
        let m = dot(cols, n, d, i, i).max(off_max[i]);
        m - TIE_REL_TOL * big[i]
    }));
}
