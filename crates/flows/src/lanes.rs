//! The per-sample kernels of a run, two entries at a time.
//!
//! A closed-form sample computed on its own (flow D; A and B from a non-uniform start; too few
//! samples for a group of [`crate::expansion`]) is two passes over V: [`exp_affine`]
//! (the weights `exp(a·log p0 + b·s - m)` and every sum behind the diagnostics but one, the shift
//! `m` and the range of the exponents known beforehand from [`crate::hull`]), then [`abs_diff`]
//! (the total variation, which needs the normaliser). Fewer than eight entries (every `log p0`
//! finite, not flow D): [`exp_affine_two`], two samples at once, one per lane, in one pass with
//! its own `ln`. Integrated and iterated runs use the
//! three-pass form on their own log-weights: [`exp_shifted`], [`normalise_and_measure`]
//! ([`affine_log_weights`] is the closed forms' fallback). Written on a pair type [`L2`], the
//! kernels run as WebAssembly SIMD (`f64x2`) in the page (explicitly: they do not depend on the
//! loop vectoriser), and as plain pairs natively. Both perform the same IEEE operations in
//! the same order, so the page and the native renderer get the same bits.
//!
//! The lane type and [`exp_nonpos`] (our own `exp`: it vectorises and is the same function natively
//! and in the page) come from td-lanes.

pub use td_lanes::{
    exp_narrow, exp_nonpos, exp_nonpos_scalar, exp_nonpos_with, ExpConsts, Lane, L2, NARROW_EXP_MIN,
};

// The kernels chain lane operations as methods (`a.mul(b).add(c)`), which reads in the order the
// operations happen.
use core::ops::{Add as _, Mul as _, Sub as _};

/// A pair of entries as [`L2`].
#[inline(always)]
fn pair(x: &[f64; 2]) -> L2 {
    L2::new(x[0], x[1])
}

/// The last entry of an odd-length slice, padded with `pad`.
#[inline(always)]
fn tail(x: &[f64], pad: f64) -> L2 {
    L2::new(x.first().copied().unwrap_or(pad), pad)
}

#[inline(always)]
fn put(x: &mut [f64; 2], v: L2) {
    *x = v.lanes();
}

#[inline(always)]
fn put_tail(x: &mut [f64], v: L2) {
    if let Some(first) = x.first_mut() {
        *first = v.lanes()[0];
    }
}

#[inline(always)]
fn sum_lanes(v: L2) -> f64 {
    let [a, b] = v.lanes();
    a + b
}

/// One pair of [`affine_log_weights`].
#[inline(always)]
fn affine_pair(l: L2, s: L2, a: L2, b: L2) -> L2 {
    let ninf = L2::splat(f64::NEG_INFINITY);
    l.eq_select(ninf, ninf, a.mul(l).add(b.mul(s)))
}

/// `u = a·log p0 + b·s` (every closed form is one), `-inf` entries of `log p0` staying `-inf`;
/// returns `max u`. A zero coefficient means "absent": its term is 0 (the product of a finite
/// entry with 0).
pub fn affine_log_weights(log_p0: &[f64], s: &[f64], a: f64, b: f64, u: &mut [f64]) -> f64 {
    let n = u.len();
    assert!(
        log_p0.len() == n && s.len() == n,
        "affine_log_weights: lengths differ"
    );
    let (va, vb) = (L2::splat(a), L2::splat(b));
    let (l2, l_tail) = log_p0.as_chunks::<2>();
    let (s2, s_tail) = s.as_chunks::<2>();
    let (u2, u_tail) = u.as_chunks_mut::<2>();
    let mut m = L2::splat(f64::NEG_INFINITY);
    for ((uo, l), si) in u2.iter_mut().zip(l2).zip(s2) {
        let w = affine_pair(pair(l), pair(si), va, vb);
        put(uo, w);
        m = m.max(w);
    }
    if !u_tail.is_empty() {
        let w = affine_pair(tail(l_tail, f64::NEG_INFINITY), tail(s_tail, 0.0), va, vb);
        put_tail(u_tail, w);
        m = m.max(w);
    }
    let [m0, m1] = m.lanes();
    if m0 < m1 {
        m1
    } else {
        m0
    }
}

/// Below this length [`exp_shifted`] runs on scalars (the same operations and summation order):
/// a few entries do not repay building two-lane constants.
pub const SCALAR_MAX_LEN: usize = 8;

/// `p = exp(u - m)` for every entry; returns `Σ p`.
pub fn exp_shifted(u: &[f64], m: f64, p: &mut [f64]) -> f64 {
    assert_eq!(p.len(), u.len(), "exp_shifted: lengths differ");
    if u.len() < SCALAR_MAX_LEN {
        // Lane 0 sums the even entries, lane 1 the odd ones, as in the pair loop below.
        let c = ExpConsts::<f64>::inline();
        let mut sums = [0.0; 2];
        for (i, (pi, &ui)) in p.iter_mut().zip(u).enumerate() {
            *pi = exp_nonpos_with(ui - m, &c);
            sums[i % 2] += *pi;
        }
        return sums[0] + sums[1];
    }
    let vm = L2::splat(m);
    let c = ExpConsts::inline();
    let (u2, u_tail) = u.as_chunks::<2>();
    let (p2, p_tail) = p.as_chunks_mut::<2>();
    let mut sum = L2::splat(0.0);
    for (po, ui) in p2.iter_mut().zip(u2) {
        let e = exp_nonpos_with(pair(ui).sub(vm), &c);
        put(po, e);
        sum = sum.add(e);
    }
    if !p_tail.is_empty() {
        let e = exp_nonpos_with(tail(u_tail, f64::NEG_INFINITY).sub(vm), &c);
        put_tail(p_tail, e);
        sum = sum.add(e);
    }
    sum_lanes(sum)
}

/// The sums behind one sample's diagnostics (see [`normalise_and_measure`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sums {
    /// `Σ p s`.
    pub expected_score: f64,
    /// `-Σ p log p`.
    pub entropy: f64,
    /// `Σ p (log p - log t)`.
    pub kl_to: f64,
    /// `Σ t (log t - log p)` over `t > 0`.
    pub kl_from: f64,
    /// `Σ |p - t|`.
    pub abs_diff: f64,
}

/// Reference data of the sums: scores and the target, as `t` and `log t`.
pub struct Reference<'a> {
    pub s: &'a [f64],
    pub t: &'a [f64],
    pub log_t: &'a [f64],
}

/// Lane accumulators of [`Sums`].
#[derive(Clone, Copy)]
struct Acc([L2; 5]);

impl Acc {
    /// Adds one pair: `lp`, `p` normalised; `s`, `t`, `log t` the reference's.
    #[inline(always)]
    fn add(&mut self, lp: L2, p: L2, s: L2, t: L2, lt: L2) {
        let zero = L2::splat(0.0);
        let live = |v: L2| p.gt_select(zero, v, zero);
        let [e, h, kl_to, kl_from, tv] = &mut self.0;
        *e = e.add(live(p.mul(s)));
        *h = h.sub(live(p.mul(lp)));
        *kl_to = kl_to.add(live(p.mul(lp.sub(lt))));
        *kl_from = kl_from.add(t.gt_select(zero, t.mul(lt.sub(lp)), zero));
        *tv = tv.add(p.sub(t).abs());
    }

    fn sums(self) -> Sums {
        let [e, h, kl_to, kl_from, tv] = self.0.map(sum_lanes);
        Sums {
            expected_score: e,
            entropy: h,
            kl_to,
            kl_from,
            abs_diff: tv,
        }
    }
}

/// Turns `u` (log-weights) into normalised logs `u - log_norm` and `p` (holding `exp(u - m)`) into
/// probabilities `p·inv`, and sums the diagnostics; zero-mass terms count 0 (no `0·-inf`).
pub fn normalise_and_measure(
    u: &mut [f64],
    p: &mut [f64],
    log_norm: f64,
    inv: f64,
    r: &Reference,
) -> Sums {
    let n = u.len();
    assert!(p.len() == n && r.s.len() == n && r.t.len() == n && r.log_t.len() == n);
    let (vl, vinv) = (L2::splat(log_norm), L2::splat(inv));
    let mut acc = Acc([L2::splat(0.0); 5]);
    let (u2, u_tail) = u.as_chunks_mut::<2>();
    let (p2, p_tail) = p.as_chunks_mut::<2>();
    let (s2, s_tail) = r.s.as_chunks::<2>();
    let (t2, t_tail) = r.t.as_chunks::<2>();
    let (lt2, lt_tail) = r.log_t.as_chunks::<2>();
    let rows = u2
        .iter_mut()
        .zip(p2.iter_mut())
        .zip(s2.iter().zip(t2).zip(lt2));
    for ((uo, po), ((s, t), lt)) in rows {
        let lp = pair(uo).sub(vl);
        let pi = pair(po).mul(vinv);
        put(uo, lp);
        put(po, pi);
        acc.add(lp, pi, pair(s), pair(t), pair(lt));
    }
    if !u_tail.is_empty() {
        let lp = tail(u_tail, f64::NEG_INFINITY).sub(vl);
        let pi = tail(p_tail, 0.0).mul(vinv);
        put_tail(u_tail, lp);
        put_tail(p_tail, pi);
        let (s, t, lt) = (tail(s_tail, 0.0), tail(t_tail, 0.0), tail(lt_tail, 0.0));
        acc.add(lp, pi, s, t, lt);
    }
    acc.sums()
}

/// The sums of [`exp_affine`], over the weights `e = exp(x)` before normalising.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WeightSums {
    /// `Z = Σ e`.
    pub z: f64,
    /// `Σ e s`.
    pub es: f64,
    /// `Σ e x` over `e > 0` (`<= 0`).
    pub ex: f64,
    /// `Σ e log t` over `e > 0`.
    pub elt: f64,
    /// `Σ t x` over `t > 0`.
    pub tx: f64,
}

impl WeightSums {
    /// The diagnostics, given `Σ t log t` and `Σ t` over the entries (`t > 0`) and `Σ|p - t|`.
    /// With `p = e/Z` and `log p = x - ln Z`: `H = ln Z - Σ p x` (both terms `>= 0`, no
    /// cancellation), `KL(p‖t) = -Σ p log t - H`, `KL(t‖p) = Σ t log t - Σ t x + Σ t · ln Z`.
    pub fn sums(&self, t_log_t: f64, t_total: f64, abs_diff: f64) -> Sums {
        self.sums_with_ln(self.z.ln(), t_log_t, t_total, abs_diff)
    }

    /// [`WeightSums::sums`] with `ln Z` given.
    pub fn sums_with_ln(&self, ln_z: f64, t_log_t: f64, t_total: f64, abs_diff: f64) -> Sums {
        let inv = 1.0 / self.z;
        let entropy = ln_z - self.ex * inv;
        Sums {
            expected_score: self.es * inv,
            entropy,
            kl_to: -(self.elt * inv) - entropy,
            kl_from: t_log_t - self.tx + ln_z * t_total,
            abs_diff,
        }
    }
}

/// A closed-form sample in two passes over V, without storing the log-weights: [`exp_affine`]
/// (the weights `e = exp(x)`, `x = a·log p0 + b·s - m`, and every sum but one, over `e`), then
/// [`abs_diff`] (`Σ|p - t|`, which needs the normaliser first). [`WeightSums::sums`] turns the
/// weights' sums into the diagnostics through identities (`H = ln Z - Σ p x`, no per-entry log).
///
/// For samples whose exponents are all in `[NARROW_EXP_MIN, 0]` with `log p0` finite (known from
/// the extremes of `u`, [`crate::hull`]; the callers take the three-pass path otherwise):
/// [`exp_narrow`] applies, every weight is positive and no term needs a zero-mass select.
pub fn exp_affine(
    log_p0: &[f64],
    s: &[f64],
    (a, b): (f64, f64),
    m: f64,
    r: &Reference,
    e: &mut [f64],
    c: &ExpConsts<L2>,
) -> WeightSums {
    let n = e.len();
    assert!(
        log_p0.len() == n && s.len() == n && r.t.len() == n && r.log_t.len() == n,
        "exp_affine: lengths differ"
    );
    let (va, vb, vm) = (L2::splat(a), L2::splat(b), L2::splat(m));
    let (l2, l_tail) = log_p0.as_chunks::<2>();
    let (s2, s_tail) = s.as_chunks::<2>();
    let (t2, t_tail) = r.t.as_chunks::<2>();
    let (lt2, lt_tail) = r.log_t.as_chunks::<2>();
    let (e2, e_tail) = e.as_chunks_mut::<2>();
    let zero = c.zero();
    // z, Σ e s, Σ e x, Σ e log t, Σ t x
    let mut acc = [zero; 5];
    let add = |acc: &mut [L2; 5], w: L2, x: L2, s: L2, t: L2, lt: L2, guard: bool| {
        let [z, es, ex, elt, tx] = acc;
        *z = z.add(w);
        *es = es.add(w.mul(s));
        if guard {
            *ex = ex.add(w.gt_select(zero, w.mul(x), zero));
            *elt = elt.add(w.gt_select(zero, w.mul(lt), zero));
            *tx = tx.add(t.gt_select(zero, t.mul(x), zero));
        } else {
            *ex = ex.add(w.mul(x));
            *elt = elt.add(w.mul(lt));
            *tx = tx.add(t.mul(x));
        }
    };
    let rows = e2.iter_mut().zip(l2).zip(s2).zip(t2.iter().zip(lt2));
    for (((eo, l), si), (t, lt)) in rows {
        let s = pair(si);
        let x = va.mul(pair(l)).add(vb.mul(s)).sub(vm);
        let w = exp_narrow(x, c);
        put(eo, w);
        add(&mut acc, w, x, s, pair(t), pair(lt), false);
    }
    if !e_tail.is_empty() {
        let s = tail(s_tail, 0.0);
        let x = affine_pair(tail(l_tail, f64::NEG_INFINITY), s, va, vb).sub(vm);
        let w = exp_nonpos_with(x, c);
        put_tail(e_tail, w);
        let (t, lt) = (tail(t_tail, 0.0), tail(lt_tail, 0.0));
        add(&mut acc, w, x, s, t, lt, true);
    }
    let [z, es, ex, elt, tx] = acc.map(sum_lanes);
    WeightSums { z, es, ex, elt, tx }
}

/// Two closed-form samples of fewer than [`SCALAR_MAX_LEN`] entries, lane `k` of each pair
/// holding sample `k`: what [`exp_affine`] then [`abs_diff`] give each of them (`m`, the lanes'
/// `exp` and sums in the same order, entry `i` summed in its parity's accumulator), so the same
/// bits, with every lane in use; the weights `e = exp(x - m)` go to `weights`, entry by entry. At
/// V = 3 one sample alone fills one and a half pairs, and the loops' set-up, the hull and the
/// second pass cost more than the arithmetic. (No local arrays: in the page, clearing or copying
/// one is a call.)
///
/// Needs every `log p0` finite (the caller checks it once per run); None when a sample's
/// exponents reach below [`NARROW_EXP_MIN`] or are not finite (the caller computes the two on
/// their own).
#[inline(always)]
pub fn exp_affine_two(
    log_p0: &[f64],
    s: &[f64],
    coefs: [(f64, f64); 2],
    r: &Reference,
    weights: &mut [L2],
    c: &ExpConsts<L2>,
) -> Option<TwoSamples> {
    let n = log_p0.len();
    assert!(
        n < SCALAR_MAX_LEN
            && s.len() == n
            && r.t.len() == n
            && r.log_t.len() == n
            && weights.len() == n,
        "exp_affine_two: lengths differ"
    );
    let [(a0, b0), (a1, b1)] = coefs;
    let (va, vb) = (L2::new(a0, a1), L2::new(b0, b1));
    let affine = |i: usize| va.mul(L2::splat(log_p0[i])).add(vb.mul(L2::splat(s[i])));
    let (mut m, mut low) = (L2::splat(f64::NEG_INFINITY), L2::splat(f64::INFINITY));
    for i in 0..n {
        let x = affine(i);
        m = m.max(x);
        low = low.min(x);
    }
    let range = low.sub(m).lanes();
    let finite = m.lanes().iter().all(|v| v.is_finite());
    // NaN fails the comparison too.
    if !(finite && range.iter().all(|&d| d >= NARROW_EXP_MIN)) {
        return None;
    }
    let zero = c.zero();
    // Per parity of the entry: z, Σ e s, Σ e x, Σ e log t, Σ t x.
    let mut acc = [[zero; 5]; 2];
    for (i, e) in weights.iter_mut().enumerate() {
        let x = affine(i).sub(m);
        let w = exp_narrow(x, c);
        *e = w;
        let [z, es, ex, elt, tx] = &mut acc[i % 2];
        *z = z.add(w);
        *es = es.add(w.mul(L2::splat(s[i])));
        *ex = ex.add(w.mul(x));
        *elt = elt.add(w.mul(L2::splat(r.log_t[i])));
        *tx = tx.add(L2::splat(r.t[i]).mul(x));
    }
    let [even, odd] = acc;
    let [z, es, ex, elt, tx] = [0, 1, 2, 3, 4].map(|k| even[k].add(odd[k]).lanes());
    let inv = L2::new(1.0 / z[0], 1.0 / z[1]);
    let ln_z = ln_1_to_8(L2::new(z[0], z[1])).lanes();
    let mut diff = [zero; 2];
    for (i, (e, &t)) in weights.iter().zip(r.t).enumerate() {
        diff[i % 2] = diff[i % 2].add(e.mul(inv).sub(L2::splat(t)).abs());
    }
    let abs_diff = diff[0].add(diff[1]).lanes();
    let sums = [0, 1].map(|k| WeightSums {
        z: z[k],
        es: es[k],
        ex: ex[k],
        elt: elt[k],
        tx: tx[k],
    });
    Some(TwoSamples {
        inv: inv.lanes(),
        ln_z,
        sums,
        abs_diff,
    })
}

/// Two samples from [`exp_affine_two`]: sample `k` is lane `k`.
pub struct TwoSamples {
    /// `1/Z`.
    pub inv: [f64; 2],
    /// `ln Z` (fdlibm's `log` two lanes at a time: `Z` is in [1, n], the largest weight being 1).
    pub ln_z: [f64; 2],
    pub sums: [WeightSums; 2],
    /// `Σ|e·inv - t|`.
    pub abs_diff: [f64; 2],
}

/// `ln z` per lane for `z` in [1, 8) (a few entries' `Z = Σ exp(x - max x)`): fdlibm's `log`
/// (`z = 2^k (1 + f)` with `1 + f` in [√2/2, √2), then `ln(1 + f) = f - f²/2 + s (f²/2 + R(s²))`,
/// `s = f / (2 + f)`) without its branches for other ranges; tested within 1 ulp of the platform's
/// `ln`. Two lanes at once, and the same bits natively and in the page, where the scalar libm
/// `log` was a sixth of a V = 3 scene.
fn ln_1_to_8(z: L2) -> L2 {
    // fdlibm's constants, by their bits: ln 2 split so that k·LN2_HI is exact, then the series.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const LG: [f64; 7] = [
        f64::from_bits(0x3fe5_5555_5555_5593),
        f64::from_bits(0x3fd9_9999_9997_fa04),
        f64::from_bits(0x3fd2_4924_9422_9359),
        f64::from_bits(0x3fcc_71c5_1d8e_78af),
        f64::from_bits(0x3fc7_4664_96cb_03de),
        f64::from_bits(0x3fc3_9a09_d078_c69f),
        f64::from_bits(0x3fc2_f112_df3e_5244),
    ];
    let (one, zero, half) = (L2::splat(1.0), L2::splat(0.0), L2::splat(0.5));
    // k = number of the thresholds √2, 2√2, 4√2 below z; 2^-k applied exactly.
    let (mut k, mut scale) = (zero, one);
    for threshold in [
        core::f64::consts::SQRT_2,
        2.0 * core::f64::consts::SQRT_2,
        4.0 * core::f64::consts::SQRT_2,
    ] {
        let above = |yes: L2, no: L2| z.gt_select(L2::splat(threshold), yes, no);
        k = k.add(above(one, zero));
        scale = scale.mul(above(half, one));
    }
    let f = z.mul(scale).sub(one);
    let s = f / f.add(L2::splat(2.0));
    let s2 = s.mul(s);
    let s4 = s2.mul(s2);
    let c = LG.map(L2::splat);
    let t1 = s4.mul(c[1].add(s4.mul(c[3].add(s4.mul(c[5])))));
    let t2 = s2.mul(c[0].add(s4.mul(c[2].add(s4.mul(c[4].add(s4.mul(c[6])))))));
    let r = t2.add(t1);
    let hfsq = half.mul(f).mul(f);
    let inner = s.mul(hfsq.add(r)).add(k.mul(L2::splat(LN2_LO)));
    k.mul(L2::splat(LN2_HI)).sub(hfsq.sub(inner).sub(f))
}

/// `Σ|e·inv - t|`: the total-variation sum of a sample whose weights came from [`exp_affine`].
pub fn abs_diff(e: &[f64], inv: f64, t: &[f64]) -> f64 {
    assert_eq!(e.len(), t.len(), "abs_diff: lengths differ");
    let vinv = L2::splat(inv);
    let (e2, e_tail) = e.as_chunks::<2>();
    let (t2, t_tail) = t.as_chunks::<2>();
    let mut sum = L2::splat(0.0);
    for (ei, ti) in e2.iter().zip(t2) {
        sum = sum.add(pair(ei).mul(vinv).sub(pair(ti)).abs());
    }
    if !e_tail.is_empty() {
        sum = sum.add(tail(e_tail, 0.0).mul(vinv).sub(tail(t_tail, 0.0)).abs());
    }
    sum_lanes(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Distance in units in the last place.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn ln_1_to_8_is_within_one_ulp() {
        let edges = [
            1.0,
            1.0 + f64::EPSILON,
            1.5,
            2.0,
            4.0,
            7.999_999_999_999_999,
        ];
        let sqrt2 = core::f64::consts::SQRT_2;
        let near = [sqrt2, 2.0 * sqrt2, 4.0 * sqrt2].map(|t| [t.next_down(), t, t.next_up()]);
        let grid = (0..=70_000).map(|i| 1.0 + 7.0 * f64::from(i) / 70_000.0);
        let small = (1..200).map(|i| 1.0 + f64::from(i) * 1e-10);
        for z in edges
            .into_iter()
            .chain(near.into_iter().flatten())
            .chain(grid)
            .chain(small)
        {
            let z = z.min(7.999_999_999_999_999);
            let got = ln_1_to_8(L2::splat(z)).lanes()[0];
            assert!(
                ulps(got, z.ln()) <= 1,
                "ln({z:e}) = {got:e}, platform {:e}",
                z.ln()
            );
        }
        assert_eq!(ln_1_to_8(L2::splat(1.0)).lanes()[0], 0.0);
    }

    fn exp1(x: f64) -> f64 {
        exp_nonpos(L2::splat(x)).lanes()[0]
    }

    proptest! {
        /// The scalar exp and the small-length path of `exp_shifted` give the lanes' bits.
        #[test]
        fn scalar_matches_lanes(x in -750.0f64..=0.0, u in proptest::collection::vec(-40.0f64..0.0, 1..12)) {
            prop_assert_eq!(exp_nonpos_scalar(x).to_bits(), exp1(x).to_bits());
            let mut p = vec![0.0; u.len()];
            let z = exp_shifted(&u, -1.0, &mut p);
            let mut lanes = [0.0f64; 2];
            let mut q = vec![0.0; u.len()];
            for (i, (qi, &ui)) in q.iter_mut().zip(&u).enumerate() {
                *qi = exp1(ui + 1.0);
                lanes[i % 2] += *qi;
            }
            prop_assert_eq!(&p, &q);
            prop_assert_eq!(z.to_bits(), (lanes[0] + lanes[1]).to_bits());
        }

        /// The two-pass kernels give the three-pass kernels' weights bit for bit, and their
        /// diagnostics to rounding (1e-13 of the size of the logs summed), in both modes.
        #[test]
        fn two_passes_match_three(
            raw in proptest::collection::vec((-30.0f64..0.0, -5.0f64..5.0, 0u8..8, 0u8..8), 1..41),
            a in 0.0f64..2.0,
            b in -3.0f64..3.0,
            wide in any::<bool>(),
        ) {
            // `wide`: some -inf entries, some weights far below the narrow range, some t = 0.
            let l: Vec<f64> = raw.iter().map(|&(x, _, z, _)| match (wide, z) {
                (true, 0) => f64::NEG_INFINITY,
                (true, 1) => x * 40.0,
                _ => x,
            }).collect();
            let s: Vec<f64> = raw.iter().map(|&(_, y, _, _)| y).collect();
            let mut t: Vec<f64> = raw.iter().map(|&(_, _, _, w)| if wide && w == 0 { 0.0 } else { 1.0 + w as f64 }).collect();
            t[0] = 1.0; // some target mass
            let total: f64 = t.iter().sum();
            let t: Vec<f64> = t.iter().map(|x| x / total).collect();
            let log_t: Vec<f64> = t.iter().map(|x| x.ln()).collect();
            let reference = Reference { s: &s, t: &t, log_t: &log_t };

            let mut u = vec![0.0; l.len()];
            let m = affine_log_weights(&l, &s, a, b, &mut u);
            prop_assume!(m.is_finite());
            let scale = 1.0 + u.iter().chain(&log_t).filter(|x| x.is_finite()).fold(0.0f64, |acc, x| acc.max(x.abs()));
            let mut p = vec![0.0; l.len()];
            let z = exp_shifted(&u, m, &mut p);
            let (ln, inv) = (m + z.ln(), 1.0 / z);
            let min = u.iter().copied().fold(f64::INFINITY, f64::min);
            let old = normalise_and_measure(&mut u, &mut p, ln, inv, &reference);

            // The two-pass kernels take narrow samples only.
            prop_assume!(min - m >= NARROW_EXP_MIN && l.iter().all(|x| x.is_finite()));
            let mut e = vec![0.0; l.len()];
            let w = exp_affine(&l, &s, (a, b), m, &reference, &mut e, &ExpConsts::hoisted());
            prop_assert_eq!(w.z.to_bits(), z.to_bits());
            let p2: Vec<f64> = e.iter().map(|x| x * inv).collect();
            prop_assert_eq!(&p2, &p);
            let (t_log_t, t_total) = t.iter().zip(&log_t).filter(|(t, _)| **t > 0.0)
                .fold((0.0, 0.0), |(a, b), (t, lt)| (a + t * lt, b + t));
            let new = w.sums(t_log_t, t_total, abs_diff(&e, inv, &t));
            prop_assert_eq!(new.abs_diff.to_bits(), old.abs_diff.to_bits());
            for (name, x, y) in [
                ("E", new.expected_score, old.expected_score),
                ("H", new.entropy, old.entropy),
                ("KL(p|t)", new.kl_to, old.kl_to),
                ("KL(t|p)", new.kl_from, old.kl_from),
            ] {
                prop_assert!(x == y || (x - y).abs() <= 1e-13 * scale, "{}: {} vs {}", name, x, y);
            }
        }

        /// Odd lengths, `-inf` entries: the same values as the plain formulas.
        #[test]
        fn kernels_match_plain_loops(
            raw in proptest::collection::vec((-30.0f64..5.0, -5.0f64..5.0, any::<bool>()), 1..40),
            a in 0.0f64..2.0,
            b in -3.0f64..3.0,
        ) {
            let l: Vec<f64> = raw.iter().map(|&(x, _, off)| if off { f64::NEG_INFINITY } else { x }).collect();
            let s: Vec<f64> = raw.iter().map(|&(_, y, _)| y).collect();
            let mut u = vec![0.0; l.len()];
            let m = affine_log_weights(&l, &s, a, b, &mut u);
            let plain: Vec<f64> = l.iter().zip(&s).map(|(&x, &y)| if x == f64::NEG_INFINITY { x } else { a * x + b * y }).collect();
            prop_assert_eq!(&u, &plain);
            prop_assert_eq!(m, plain.iter().copied().fold(f64::NEG_INFINITY, f64::max));
            if m.is_finite() {
                let mut p = vec![0.0; l.len()];
                let z = exp_shifted(&u, m, &mut p);
                let zp: f64 = plain.iter().map(|&x| (x - m).exp()).sum();
                prop_assert!((z - zp).abs() <= 1e-14 * zp);
                let t: Vec<f64> = (0..l.len()).map(|i| 1.0 / l.len() as f64 * (i % 2) as f64 * 2.0).collect();
                let log_t: Vec<f64> = t.iter().map(|x| x.ln()).collect();
                let ln = m + z.ln();
                let sums = normalise_and_measure(&mut u, &mut p, ln, 1.0 / z, &Reference { s: &s, t: &t, log_t: &log_t });
                let pp: Vec<f64> = plain.iter().map(|&x| (x - ln).exp()).collect();
                let h: f64 = pp.iter().zip(&plain).filter(|(q, _)| **q > 0.0).map(|(q, x)| -q * (x - ln)).sum();
                prop_assert!((sums.entropy - h).abs() <= 1e-12 * (1.0 + h.abs() + m.abs()));
                let tv: f64 = pp.iter().zip(&t).map(|(q, r)| (q - r).abs()).sum();
                prop_assert!((sums.abs_diff - tv).abs() <= 1e-13);
            }
        }
    }
}
