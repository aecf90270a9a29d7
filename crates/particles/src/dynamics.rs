//! One synchronous layer update x(k) -> x(k+1) for softmax, hardmax and localmax attention, with
//! the per-step attention graph, leaders and margin diagnostics computed in the same O(n² d) pass
//! (scores are computed once per row into a reused buffer: no allocation per pair or per step).

use super::graph::Bitset;
use super::lanes::F2;
use td_lanes::{exp_nonpos_with, ExpConsts, L2};

/// Relative tolerance for ties: j is in the argmax set C_i when
/// `<A x_i, x_j> >= max_l <A x_i, x_l> - TIE_REL_TOL · max_l |<A x_i, x_l>|`.
/// The authors' code uses exact float equality; symmetric configurations (e.g. (±0.5, 0) between
/// two square vertices) need ties to survive rounding, and 1e-12 is far below any visible gap.
/// The same slack is added to the localmax thresholds, so localmax with delta = 0 is bitwise hardmax.
/// Side effect: a token converging to a leader becomes "tied" with it once their alignments agree
/// to ~1e-12 relative, after which the leader may move by O(1e-12) (invisible, but it is why
/// the tests compare limit areas to 1e-9, not 1e-12).
pub const TIE_REL_TOL: f64 = 1e-12;

/// Neighbourhood margin of localmax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Margin {
    /// N_i = { j : s_ij >= max_l s_il - delta } (the default).
    Additive,
    /// N_i = { j : s_ij >= (1 - delta)·max_l s_il }; only meaningful when the max is positive. When
    /// it is not, N_i falls back to the argmax set C_i and the step reports it.
    Multiplicative,
}

/// The rule in force during one step (a schedule already evaluated at k).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kernel {
    /// w_ij = softmax_j(beta·s_ij), computed with the row max subtracted (never overflows).
    Softmax { beta: f64 },
    /// Uniform weights over N_i; hardmax is `Uniform { margin: Additive, delta: 0 }`.
    Uniform { margin: Margin, delta: f64 },
}

/// What a step does with the attended mean of row i.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Update {
    /// `out_i = x_i + gamma·(mean_i − x_i)` (the R^d layer).
    Relax { gamma: f64 },
    /// `out_i = mean_i` (self-attention, 1/Z_i) or, unnormalised, `out_i = (Z_i/n)·mean_i`, where
    /// Z_i = Σ_j e^{beta s_ij} (softmax) or |N_i| (uniform kernels). The sphere model's attention
    /// output before the value matrix.
    Attend { unnormalised: bool },
}

/// Largest exponent beta·max_j s_ij the unnormalised output is scaled by (e^700 is finite; only
/// custom matrices with huge entries come near it, and the sphere run reports it).
pub const MAX_UNNORMALISED_EXPONENT: f64 = 700.0;

/// Reused buffers for [`step`].
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    y: Vec<f64>,
    row: Vec<f64>,
    /// Softmax weights of the row (see [`softmax_weights`]).
    weights: Vec<f64>,
    /// d = 2: the positions as lanes (see `quad_columns`).
    quads: Vec<Quad>,
}

/// What one step reports besides the new positions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Tokens whose multiplicative margin was undefined (max alignment <= 0) and fell back to C_i.
    pub margin_undefined: usize,
    /// Total |N_i| over i (edges of the attention graph, self-loops included).
    pub edges: usize,
}

/// Leader flags written per token by [`step`].
pub const FLAG_LEADER: u8 = 1;
/// i is the only element of C_i: a leader that does not move under hardmax.
pub const FLAG_FIXED: u8 = 2;

/// `y_i = A x_i` for all tokens (row-major n×d into `y`).
fn apply_a(x: &[f64], n: usize, d: usize, a: &[f64], y: &mut Vec<f64>) {
    y.clear();
    y.resize(n * d, 0.0);
    for i in 0..n {
        let xi = &x[i * d..(i + 1) * d];
        for r in 0..d {
            let ar = &a[r * d..(r + 1) * d];
            y[i * d + r] = ar.iter().zip(xi).map(|(p, q)| p * q).sum();
        }
    }
}

/// Scores `s_j = <A x_i, x_j>` of row i into `row`; returns (max, max |s|). `D` > 0 fixes the
/// dimension at compile time (unrolled inner loops for d <= 4); `D` = 0 reads it from `d`.
#[inline(always)]
fn scores<const D: usize>(yi: &[f64], x: &[f64], d: usize, row: &mut [f64]) -> (f64, f64) {
    let dd = if D > 0 { D } else { d };
    let mut m = f64::NEG_INFINITY;
    let mut big = 0.0f64;
    for (s, xj) in row.iter_mut().zip(x.chunks_exact(dd)) {
        let mut v = 0.0;
        for c in 0..dd {
            v += yi[c] * xj[c];
        }
        *s = v;
        if v > m {
            m = v;
        }
        if v.abs() > big {
            big = v.abs();
        }
    }
    (m, big)
}

/// One synchronous update (d <= MAX_D = 16): `out_i = x_i + gamma·(mean_i - x_i)` where mean_i
/// is the attended mean of row i. Fills `graph` with N_i (softmax: the support of the weights in
/// f64, i.e. every j unless exp underflows at large beta) and `flags` with leader flags (i in C_i;
/// C_i = {i}).
#[allow(clippy::too_many_arguments)]
pub fn step(
    x: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    update: Update,
    kernel: Kernel,
    scratch: &mut Scratch,
    graph: &mut Bitset,
    flags: &mut [u8],
    out: &mut [f64],
) -> StepStats {
    match (d, kernel, update) {
        (2, Kernel::Uniform { margin, delta }, Update::Relax { gamma }) => {
            let rule = (gamma, margin, delta);
            step_uniform_2(x, n, a, rule, scratch, graph, flags, out)
        }
        (1, ..) => step_impl::<1>(x, n, d, a, update, kernel, scratch, graph, flags, out),
        (2, ..) => step_impl::<2>(x, n, d, a, update, kernel, scratch, graph, flags, out),
        (3, ..) => step_impl::<3>(x, n, d, a, update, kernel, scratch, graph, flags, out),
        (4, ..) => step_impl::<4>(x, n, d, a, update, kernel, scratch, graph, flags, out),
        _ => step_impl::<0>(x, n, d, a, update, kernel, scratch, graph, flags, out),
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_impl<const D: usize>(
    x: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    update: Update,
    kernel: Kernel,
    scratch: &mut Scratch,
    graph: &mut Bitset,
    flags: &mut [u8],
    out: &mut [f64],
) -> StepStats {
    let dd = if D > 0 { D } else { d };
    let x = &x[..n * dd];
    apply_a(x, n, dd, a, &mut scratch.y);
    scratch.row.resize(n, 0.0);
    if matches!(kernel, Kernel::Softmax { .. }) {
        scratch.weights.resize(n, 0.0);
    }
    graph.reset(n);
    let mut stats = StepStats::default();
    for i in 0..n {
        let yi = &scratch.y[i * dd..(i + 1) * dd];
        let row = &mut scratch.row[..n];
        let (m, big) = scores::<D>(yi, x, dd, row);
        let tie = m - TIE_REL_TOL * big;
        let mut acc = [0.0f64; 16];
        let mut c_count = 0usize;
        let total;
        let mut members = 0usize;
        let bits = graph.row_mut(i);
        let blocks = row.chunks(64).zip(x.chunks(64 * dd)).zip(bits.iter_mut());
        match kernel {
            Kernel::Softmax { beta } => {
                // beta >= 0 so beta·s <= beta·m: every exponent is <= 0, never overflows.
                let weights = &mut scratch.weights[..n];
                softmax_weights(row, beta, beta * m, weights);
                let mut sum = 0.0f64;
                let blocks = blocks.zip(weights.chunks(64));
                for (((rs, xs), word), ws) in blocks {
                    let mut w64 = 0u64;
                    let pairs = rs.iter().zip(ws).zip(xs.chunks_exact(dd));
                    for (t, ((&s, &w), xj)) in pairs.enumerate() {
                        c_count += (s >= tie) as usize;
                        if w > 0.0 {
                            for c in 0..dd {
                                acc[c] += w * xj[c];
                            }
                            sum += w;
                            members += 1;
                            w64 |= 1u64 << t;
                        }
                    }
                    *word = w64;
                }
                total = sum;
            }
            Kernel::Uniform { margin, delta } => {
                let thr = threshold(margin, delta, m, big, &mut stats);
                for ((rs, xs), word) in blocks {
                    let mut w64 = 0u64;
                    for (t, (&s, xj)) in rs.iter().zip(xs.chunks_exact(dd)).enumerate() {
                        c_count += (s >= tie) as usize;
                        let inside = s >= thr;
                        if inside {
                            for c in 0..dd {
                                acc[c] += xj[c];
                            }
                        }
                        members += inside as usize;
                        w64 |= (inside as u64) << t;
                    }
                    *word = w64;
                }
                total = members as f64;
            }
        }
        stats.edges += members;
        let leader = row[i] >= tie;
        flags[i] = if leader { FLAG_LEADER } else { 0 }
            | if leader && c_count == 1 {
                FLAG_FIXED
            } else {
                0
            };
        // members >= 1 always: the argmax attains m >= thr (delta >= 0) and has weight exp(0) = 1.
        let xi = &x[i * dd..(i + 1) * dd];
        let oi = &mut out[i * dd..(i + 1) * dd];
        match update {
            Update::Relax { gamma } => {
                let inv = 1.0 / total;
                for c in 0..dd {
                    oi[c] = xi[c] + gamma * (acc[c] * inv - xi[c]);
                }
            }
            Update::Attend { unnormalised } => {
                // Σ_j e^{beta s_ij} x_j = e^{beta m}·acc; uniform kernels have unit weights.
                let scale = match (unnormalised, kernel) {
                    (false, _) => 1.0 / total,
                    (true, Kernel::Softmax { beta }) => {
                        (beta * m).min(MAX_UNNORMALISED_EXPONENT).exp() / n as f64
                    }
                    (true, Kernel::Uniform { .. }) => 1.0 / n as f64,
                };
                for c in 0..dd {
                    oi[c] = acc[c] * scale;
                }
            }
        }
    }
    stats
}

/// `w_j = e^{min(beta·s_j − zmax, 0)}` for the row, two lanes at a time (our exp, td-lanes: the
/// same bits natively and in the page; the platform exp is a scalar call in WebAssembly).
fn softmax_weights(row: &[f64], beta: f64, zmax: f64, out: &mut [f64]) {
    let c = ExpConsts::<L2>::hoisted();
    let (b, z, zero) = (L2::splat(beta), L2::splat(zmax), c.zero());
    let n = row.len().min(out.len());
    let mut j = 0;
    while j + 2 <= n {
        let arg = (L2::new(row[j], row[j + 1]) * b - z).min(zero);
        let [w0, w1] = exp_nonpos_with(arg, &c).lanes();
        out[j] = w0;
        out[j + 1] = w1;
        j += 2;
    }
    if j < n {
        let arg = (row[j] * beta - zmax).min(0.0);
        out[j] = exp_nonpos_with::<f64>(arg, &ExpConsts::inline());
    }
}

/// The localmax threshold of a row: N_i = { j : s_j >= thr } (see [`Margin`]).
#[inline(always)]
fn threshold(margin: Margin, delta: f64, m: f64, big: f64, stats: &mut StepStats) -> f64 {
    match margin {
        Margin::Additive => m - delta - TIE_REL_TOL * big,
        Margin::Multiplicative if m > 0.0 => (1.0 - delta) * m - TIE_REL_TOL * big,
        Margin::Multiplicative => {
            stats.margin_undefined += 1;
            m - TIE_REL_TOL * big
        }
    }
}

/// d = 2: four tokens 4q..4q+4 as `[pair][coordinate]` lanes, `quad[h][c]` holding coordinate c
/// of tokens 4q + 2h and 4q + 2h + 1. The last quad is padded with NaN, which no `>=` admits and
/// `pmax` skips. (Whole quads and plain slice iterators: at opt-level "z" a `ChunksExact` or a
/// remainder loop costs a call per item.)
type Quad = [[F2; 2]; 2];

fn quad_columns(x: &[f64], quads: &mut Vec<Quad>) {
    quads.clear();
    quads.extend(x.chunks(8).map(|p| {
        let v = |k: usize| p.get(k).copied().unwrap_or(f64::NAN);
        let pair = |t: usize| {
            [
                F2::new(v(2 * t), v(2 * t + 2)),
                F2::new(v(2 * t + 1), v(2 * t + 3)),
            ]
        };
        [pair(0), pair(2)]
    }));
}

/// Scores `s_j = y0·x_j0 + y1·x_j1` of one lane pair.
#[inline(always)]
fn score2(vy: [F2; 2], c: &[F2; 2]) -> F2 {
    vy[0].mul(c[0]).add(vy[1].mul(c[1]))
}

/// `a < b ? b : a`, the scalar `pmax`.
#[inline(always)]
fn pmax(a: f64, b: f64) -> f64 {
    if a < b {
        b
    } else {
        a
    }
}

/// (max_j s_j, max_j |s_j|) for d = 2, the two pairs of a quad in independent lanes (shorter
/// dependency chains; max is exact, so the grouping does not change the result).
#[inline(always)]
fn row_max2(vy: [F2; 2], quads: &[Quad]) -> (f64, f64) {
    let (neg, zero) = (F2::splat(f64::NEG_INFINITY), F2::splat(0.0));
    let (mut ma, mut mb, mut ba, mut bb) = (neg, neg, zero, zero);
    for q in quads {
        let (sa, sb) = (score2(vy, &q[0]), score2(vy, &q[1]));
        ma = ma.pmax(sa);
        mb = mb.pmax(sb);
        ba = ba.pmax(sa.abs());
        bb = bb.pmax(sb.abs());
    }
    let (m0, m1) = ma.pmax(mb).lanes();
    let (b0, b1) = ba.pmax(bb).lanes();
    (pmax(m0, m1), pmax(b0, b1))
}

/// How many tokens have `s_j >= t` (d = 2).
#[inline(always)]
fn count_ge2(vy: [F2; 2], quads: &[Quad], t: f64) -> usize {
    let vt = F2::splat(t);
    let mut count = 0;
    for q in quads {
        let bits = score2(vy, &q[0]).ge(vt).bits() | score2(vy, &q[1]).ge(vt).bits() << 2;
        count += bits.count_ones() as usize;
    }
    count
}

/// N_i = { j : s_j >= thr } into `bits` (64 tokens a word) and the sums of the members'
/// coordinates (d = 2). Token j goes to partial sum j mod 4 (four lanes per coordinate, for
/// shorter dependency chains), added at the end as ((0 + 2) + (1 + 3)) on every target.
#[inline(always)]
fn members2(vy: [F2; 2], quads: &[Quad], thr: f64, bits: &mut [u64]) -> ([f64; 2], usize) {
    let (vt, zero) = (F2::splat(thr), F2::splat(0.0));
    let (mut a, mut b) = ([zero; 2], [zero; 2]);
    let mut members = 0usize;
    for (word, block) in bits.iter_mut().zip(quads.chunks(16)) {
        let mut w = 0u64;
        let mut k = 0;
        for q in block {
            let (ma, mb) = (score2(vy, &q[0]).ge(vt), score2(vy, &q[1]).ge(vt));
            a[0] = a[0].add(ma.select(q[0][0]));
            a[1] = a[1].add(ma.select(q[0][1]));
            b[0] = b[0].add(mb.select(q[1][0]));
            b[1] = b[1].add(mb.select(q[1][1]));
            w |= (ma.bits() | mb.bits() << 2) << k;
            k += 4;
        }
        *word = w;
        members += w.count_ones() as usize;
    }
    let sum = |c: usize| {
        let (p, q) = a[c].add(b[c]).lanes();
        p + q
    };
    ([sum(0), sum(1)], members)
}

/// [`step`] for d = 2 and uniform weights (hardmax, localmax): two tokens per SIMD lane pair.
/// Scores, thresholds, members and flags are those of `step_impl`; only the order in which the
/// members' coordinates are summed differs (see `members2`).
#[allow(clippy::too_many_arguments)]
fn step_uniform_2(
    x: &[f64],
    n: usize,
    a: &[f64],
    (gamma, margin, delta): (f64, Margin, f64),
    scratch: &mut Scratch,
    graph: &mut Bitset,
    flags: &mut [u8],
    out: &mut [f64],
) -> StepStats {
    let x = &x[..n * 2];
    apply_a(x, n, 2, a, &mut scratch.y);
    quad_columns(x, &mut scratch.quads);
    graph.reset(n);
    let quads = &scratch.quads;
    let mut stats = StepStats::default();
    for i in 0..n {
        let (y0, y1) = (scratch.y[2 * i], scratch.y[2 * i + 1]);
        let vy = [F2::splat(y0), F2::splat(y1)];
        let (m, big) = row_max2(vy, quads);
        let tie = m - TIE_REL_TOL * big;
        let thr = threshold(margin, delta, m, big, &mut stats);
        let (sum, members) = members2(vy, quads, thr, graph.row_mut(i));
        stats.edges += members;
        let (xi0, xi1) = (x[2 * i], x[2 * i + 1]);
        // Leaders are few: C_i is counted only for them.
        let leader = y0 * xi0 + y1 * xi1 >= tie;
        let fixed = leader && count_ge2(vy, quads, tie) == 1;
        flags[i] = if leader { FLAG_LEADER } else { 0 } | if fixed { FLAG_FIXED } else { 0 };
        let inv = 1.0 / members as f64;
        out[2 * i] = xi0 + gamma * (sum[0] * inv - xi0);
        out[2 * i + 1] = xi1 + gamma * (sum[1] * inv - xi1);
    }
    stats
}

/// Weights of row i (pairs (j, w_ij) with w_ij > 0, summing to 1) for drawing attention arrows of
/// a selected token; same rule and tolerance as [`step`]. O(n d).
pub fn attention_row(
    x: &[f64],
    n: usize,
    d: usize,
    a: &[f64],
    kernel: Kernel,
    i: usize,
) -> Vec<(usize, f64)> {
    let xi = &x[i * d..(i + 1) * d];
    let yi: Vec<f64> = (0..d)
        .map(|r| {
            a[r * d..(r + 1) * d]
                .iter()
                .zip(xi)
                .map(|(p, q)| p * q)
                .sum()
        })
        .collect();
    let mut row = vec![0.0; n];
    let (m, big) = scores::<0>(&yi, x, d, &mut row);
    let mut w: Vec<(usize, f64)> = match kernel {
        Kernel::Softmax { beta } => row
            .iter()
            .enumerate()
            .map(|(j, &s)| (j, (beta * s - beta * m).min(0.0).exp()))
            .filter(|&(_, w)| w > 0.0)
            .collect(),
        Kernel::Uniform { margin, delta } => {
            let tie = m - TIE_REL_TOL * big;
            let thr = match margin {
                Margin::Additive => m - delta - TIE_REL_TOL * big,
                Margin::Multiplicative if m > 0.0 => (1.0 - delta) * m - TIE_REL_TOL * big,
                Margin::Multiplicative => tie,
            };
            row.iter()
                .enumerate()
                .filter(|&(_, &s)| s >= thr)
                .map(|(j, _)| (j, 1.0))
                .collect()
        }
    };
    let total: f64 = w.iter().map(|p| p.1).sum();
    w.iter_mut().for_each(|p| p.1 /= total);
    w
}
