//! Two f64 lanes and an `exp` that vectorises, with the same bits natively and in the page.
//!
//! [`L2`] is WebAssembly SIMD (`f64x2`) in the page and a plain pair natively; both perform the
//! same IEEE operations lane by lane, so native results (tests, SVG exports, the CLI) equal the
//! page's bit for bit. [`exp_nonpos`], [`exp_narrow`] and [`exp`] are our own `exp` (fdlibm's
//! reduction, a division-free polynomial, within 1 ulp of glibc's): the platform `exp` is a scalar
//! call in the page (the wasm libm, about a sixth of a transformer forward pass) and differs from
//! glibc's in the last bit. Used by the next-token kernels (td-flows), the softmax weights and the
//! sphere energy of the attention particles (td-particles), and the transformer's GELU and
//! attention weights (td-transformer). [`F4`] is the same idea for four f32 lanes (the
//! transformer's attention scores, four keys at a time).

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod pair {
    use core::arch::wasm32::*;

    /// Two f64 lanes (WebAssembly SIMD).
    #[derive(Clone, Copy)]
    pub struct L2(v128);

    impl L2 {
        #[inline(always)]
        pub fn new(a: f64, b: f64) -> L2 {
            L2(f64x2(a, b))
        }
        #[inline(always)]
        pub fn splat(a: f64) -> L2 {
            L2(f64x2_splat(a))
        }
        #[inline(always)]
        pub fn lanes(self) -> [f64; 2] {
            [
                f64x2_extract_lane::<0>(self.0),
                f64x2_extract_lane::<1>(self.0),
            ]
        }
        #[inline(always)]
        pub fn abs(self) -> L2 {
            L2(f64x2_abs(self.0))
        }
        /// `if self < o { o } else { self }` per lane.
        #[inline(always)]
        pub fn max(self, o: L2) -> L2 {
            L2(f64x2_pmax(self.0, o.0))
        }
        /// `if o < self { o } else { self }` per lane.
        #[inline(always)]
        pub fn min(self, o: L2) -> L2 {
            L2(f64x2_pmin(self.0, o.0))
        }
        /// Per lane: `if self > o { yes } else { no }`.
        #[inline(always)]
        pub fn gt_select(self, o: L2, yes: L2, no: L2) -> L2 {
            L2(v128_bitselect(yes.0, no.0, f64x2_gt(self.0, o.0)))
        }
        /// Per lane: `if self == o { yes } else { no }`.
        #[inline(always)]
        pub fn eq_select(self, o: L2, yes: L2, no: L2) -> L2 {
            L2(v128_bitselect(yes.0, no.0, f64x2_eq(self.0, o.0)))
        }
        /// `2^self` for integral lanes in [-1022, 1023] (other lanes give garbage, which callers
        /// select away): the exponent field, made with the integer in the low mantissa bits of
        /// `self + SHIFTER` (all native SSE2 operations in the engines, no 64-bit shift right).
        #[inline(always)]
        pub fn pow2(self) -> L2 {
            let shifted = f64x2_add(self.0, f64x2_splat(super::SHIFTER));
            let biased = i64x2_add(shifted, i64x2_splat(super::EXPONENT_FROM_SHIFTED));
            L2(i64x2_shl(biased, 52))
        }
    }

    impl core::ops::Add for L2 {
        type Output = L2;
        #[inline(always)]
        fn add(self, o: L2) -> L2 {
            L2(f64x2_add(self.0, o.0))
        }
    }

    impl core::ops::Sub for L2 {
        type Output = L2;
        #[inline(always)]
        fn sub(self, o: L2) -> L2 {
            L2(f64x2_sub(self.0, o.0))
        }
    }

    impl core::ops::Mul for L2 {
        type Output = L2;
        #[inline(always)]
        fn mul(self, o: L2) -> L2 {
            L2(f64x2_mul(self.0, o.0))
        }
    }

    impl core::ops::Div for L2 {
        type Output = L2;
        #[inline(always)]
        fn div(self, o: L2) -> L2 {
            L2(f64x2_div(self.0, o.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod pair {
    /// Two f64 lanes (plain pairs; the same operations as the SIMD version, lane by lane).
    #[derive(Clone, Copy)]
    pub struct L2([f64; 2]);

    #[inline(always)]
    fn zip(a: L2, b: L2, f: impl Fn(f64, f64) -> f64) -> L2 {
        L2([f(a.0[0], b.0[0]), f(a.0[1], b.0[1])])
    }

    impl L2 {
        #[inline(always)]
        pub fn new(a: f64, b: f64) -> L2 {
            L2([a, b])
        }
        #[inline(always)]
        pub fn splat(a: f64) -> L2 {
            L2([a, a])
        }
        #[inline(always)]
        pub fn lanes(self) -> [f64; 2] {
            self.0
        }
        #[inline(always)]
        pub fn abs(self) -> L2 {
            L2([self.0[0].abs(), self.0[1].abs()])
        }
        #[inline(always)]
        pub fn max(self, o: L2) -> L2 {
            zip(self, o, |a, b| if a < b { b } else { a })
        }
        #[inline(always)]
        pub fn min(self, o: L2) -> L2 {
            zip(self, o, |a, b| if b < a { b } else { a })
        }
        #[inline(always)]
        pub fn gt_select(self, o: L2, yes: L2, no: L2) -> L2 {
            let pick = |l: usize| {
                if self.0[l] > o.0[l] {
                    yes.0[l]
                } else {
                    no.0[l]
                }
            };
            L2([pick(0), pick(1)])
        }
        #[inline(always)]
        pub fn eq_select(self, o: L2, yes: L2, no: L2) -> L2 {
            let pick = |l: usize| {
                if self.0[l] == o.0[l] {
                    yes.0[l]
                } else {
                    no.0[l]
                }
            };
            L2([pick(0), pick(1)])
        }
        #[inline(always)]
        pub fn pow2(self) -> L2 {
            let lane = |x: f64| {
                // Wrapping, like the SIMD lanes: garbage lanes are selected away by the caller.
                let shifted = (x + super::SHIFTER).to_bits() as i64;
                let biased = shifted.wrapping_add(super::EXPONENT_FROM_SHIFTED);
                f64::from_bits((biased as u64) << 52)
            };
            L2([lane(self.0[0]), lane(self.0[1])])
        }
    }

    impl core::ops::Add for L2 {
        type Output = L2;
        #[inline(always)]
        fn add(self, o: L2) -> L2 {
            zip(self, o, |a, b| a + b)
        }
    }

    impl core::ops::Sub for L2 {
        type Output = L2;
        #[inline(always)]
        fn sub(self, o: L2) -> L2 {
            zip(self, o, |a, b| a - b)
        }
    }

    impl core::ops::Mul for L2 {
        type Output = L2;
        #[inline(always)]
        fn mul(self, o: L2) -> L2 {
            zip(self, o, |a, b| a * b)
        }
    }

    impl core::ops::Div for L2 {
        type Output = L2;
        #[inline(always)]
        fn div(self, o: L2) -> L2 {
            zip(self, o, |a, b| a / b)
        }
    }
}

pub use pair::L2;

/// The two lanes, as a pair (both implementations).
impl core::fmt::Debug for L2 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("L2").field(&self.lanes()).finish()
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod quad {
    use core::arch::wasm32::*;

    /// Four f32 lanes (WebAssembly SIMD).
    #[derive(Clone, Copy)]
    pub struct F4(v128);

    impl F4 {
        /// The first four entries of `s` (a shorter slice panics).
        #[inline(always)]
        pub fn load(s: &[f32]) -> F4 {
            F4(f32x4(s[0], s[1], s[2], s[3]))
        }
        #[inline(always)]
        pub fn splat(a: f32) -> F4 {
            F4(f32x4_splat(a))
        }
        #[inline(always)]
        pub fn lanes(self) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(self.0),
                f32x4_extract_lane::<1>(self.0),
                f32x4_extract_lane::<2>(self.0),
                f32x4_extract_lane::<3>(self.0),
            ]
        }
        /// Rows to columns: lane `j` of result `i` is lane `i` of `v[j]`.
        #[inline(always)]
        pub fn transpose(v: [F4; 4]) -> [F4; 4] {
            let [a, b, c, d] = v.map(|x| x.0);
            let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b);
            let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
            let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b);
            let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
            [
                F4(i32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo)),
                F4(i32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo)),
                F4(i32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi)),
                F4(i32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi)),
            ]
        }
    }

    impl core::ops::Add for F4 {
        type Output = F4;
        #[inline(always)]
        fn add(self, o: F4) -> F4 {
            F4(f32x4_add(self.0, o.0))
        }
    }

    impl core::ops::Mul for F4 {
        type Output = F4;
        #[inline(always)]
        fn mul(self, o: F4) -> F4 {
            F4(f32x4_mul(self.0, o.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod quad {
    /// Four f32 lanes (a plain array; the same operations as the SIMD version, lane by lane).
    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        /// The first four entries of `s` (a shorter slice panics).
        #[inline(always)]
        pub fn load(s: &[f32]) -> F4 {
            F4([s[0], s[1], s[2], s[3]])
        }
        #[inline(always)]
        pub fn splat(a: f32) -> F4 {
            F4([a; 4])
        }
        #[inline(always)]
        pub fn lanes(self) -> [f32; 4] {
            self.0
        }
        /// Rows to columns: lane `j` of result `i` is lane `i` of `v[j]`.
        #[inline(always)]
        pub fn transpose(v: [F4; 4]) -> [F4; 4] {
            core::array::from_fn(|i| F4(core::array::from_fn(|j| v[j].0[i])))
        }
    }

    impl core::ops::Add for F4 {
        type Output = F4;
        #[inline(always)]
        fn add(self, o: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i] + o.0[i]))
        }
    }

    impl core::ops::Mul for F4 {
        type Output = F4;
        #[inline(always)]
        fn mul(self, o: F4) -> F4 {
            F4(core::array::from_fn(|i| self.0[i] * o.0[i]))
        }
    }
}

/// Four f32 lanes: WebAssembly SIMD (`f32x4`) in the page, a plain array natively, the same IEEE
/// operations lane by lane (as [`L2`] is for f64).
pub use quad::F4;

/// What the `exp` below needs of a number type: [`L2`] (two lanes) or `f64` (one), with the
/// same IEEE operations, so a scalar call gives the bits of a lane (one-off calls in the page
/// avoid building two-lane constants).
pub trait Lane:
    Copy + core::ops::Add<Output = Self> + core::ops::Sub<Output = Self> + core::ops::Mul<Output = Self>
{
    fn splat(a: f64) -> Self;
    /// `if self < o { o } else { self }`.
    fn max(self, o: Self) -> Self;
    /// `if o < self { o } else { self }`.
    fn min(self, o: Self) -> Self;
    /// `if self > o { yes } else { no }`.
    fn gt_select(self, o: Self, yes: Self, no: Self) -> Self;
    /// `2^self` for an integral value in [-1022, 1023] (garbage otherwise).
    fn pow2(self) -> Self;
}

impl Lane for L2 {
    #[inline(always)]
    fn splat(a: f64) -> L2 {
        L2::splat(a)
    }
    #[inline(always)]
    fn max(self, o: L2) -> L2 {
        L2::max(self, o)
    }
    #[inline(always)]
    fn min(self, o: L2) -> L2 {
        L2::min(self, o)
    }
    #[inline(always)]
    fn gt_select(self, o: L2, yes: L2, no: L2) -> L2 {
        L2::gt_select(self, o, yes, no)
    }
    #[inline(always)]
    fn pow2(self) -> L2 {
        L2::pow2(self)
    }
}

impl Lane for f64 {
    #[inline(always)]
    fn splat(a: f64) -> f64 {
        a
    }
    #[inline(always)]
    fn max(self, o: f64) -> f64 {
        if self < o {
            o
        } else {
            self
        }
    }
    #[inline(always)]
    fn min(self, o: f64) -> f64 {
        if o < self {
            o
        } else {
            self
        }
    }
    #[inline(always)]
    fn gt_select(self, o: f64, yes: f64, no: f64) -> f64 {
        if self > o {
            yes
        } else {
            no
        }
    }
    #[inline(always)]
    fn pow2(self) -> f64 {
        let shifted = (self + SHIFTER).to_bits() as i64;
        f64::from_bits((shifted.wrapping_add(EXPONENT_FROM_SHIFTED) as u64) << 52)
    }
}

/// `1.5·2^52`: adding it rounds to an integer (ties to even) and leaves that integer in the low
/// mantissa bits, with no conversion instruction.
const SHIFTER: f64 = 6_755_399_441_055_744.0;

/// Added to the bits of `j + SHIFTER` (j integral), gives `j + 1023`, the biased exponent of `2^j`.
const EXPONENT_FROM_SHIFTED: i64 = 1023 - SHIFTER.to_bits() as i64;

/// Below this `exp` is 0 in f64 (it underflows past the smallest subnormal).
const EXP_UNDERFLOW: f64 = -745.2;

/// Above this `exp` overflows to infinity in f64 (ln of the largest finite number, rounded down).
const EXP_OVERFLOW: f64 = 709.782_712_893_384;

/// The constants of [`exp_nonpos`] as lanes. The kernels take them through [`ExpConsts::hoisted`]
/// so that they are built once before a loop: the WebAssembly engines would otherwise rebuild
/// every `v128.const` on every iteration (about 15 per pair of entries).
#[derive(Clone, Copy)]
pub struct ExpConsts<V: Lane> {
    inv_ln2: V,
    shifter: V,
    ln2_hi: V,
    ln2_lo: V,
    /// `1/2!, 1/3!, …, 1/13!`.
    taylor: [V; 12],
    one: V,
    k_floor: V,
    underflow: V,
    zero: V,
    k_ceil: V,
    overflow: V,
    inf: V,
}

impl<V: Lane> core::fmt::Debug for ExpConsts<V> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ExpConsts")
    }
}

impl<V: Lane> ExpConsts<V> {
    // fdlibm's reduction constants, by their bits (ln 2 split so that k·LN2_HI is exact), then
    // 1/k! for k = 2..=13, then ours.
    const VALUES: [f64; 23] = [
        f64::from_bits(0x3ff7_1547_652b_82fe), // 1/ln 2
        SHIFTER,
        f64::from_bits(0x3fe6_2e42_fee0_0000), // ln 2, high part
        f64::from_bits(0x3dea_39ef_3579_3c76), // ln 2, low part
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
        1.0,
        -1000.0, // the smaller power of two stays normal
        EXP_UNDERFLOW,
        0.0,
        1000.0, // the larger power of two stays finite
        EXP_OVERFLOW,
        f64::INFINITY,
    ];

    #[inline(always)]
    fn from(v: [f64; 23]) -> ExpConsts<V> {
        // Written out (no iterator adaptors): at opt-level "z" those stay calls.
        let t = |i: usize| V::splat(v[4 + i]);
        ExpConsts {
            inv_ln2: V::splat(v[0]),
            shifter: V::splat(v[1]),
            ln2_hi: V::splat(v[2]),
            ln2_lo: V::splat(v[3]),
            taylor: [
                t(0),
                t(1),
                t(2),
                t(3),
                t(4),
                t(5),
                t(6),
                t(7),
                t(8),
                t(9),
                t(10),
                t(11),
            ],
            one: V::splat(v[16]),
            k_floor: V::splat(v[17]),
            underflow: V::splat(v[18]),
            zero: V::splat(v[19]),
            k_ceil: V::splat(v[20]),
            overflow: V::splat(v[21]),
            inf: V::splat(v[22]),
        }
    }

    /// 0 as a lane, hoisted with the others (for accumulators that start at zero in a loop).
    #[inline(always)]
    pub fn zero(&self) -> V {
        self.zero
    }

    /// As compile-time constants (one-off evaluations).
    #[inline(always)]
    pub fn inline() -> ExpConsts<V> {
        ExpConsts::from(Self::VALUES)
    }

    /// Built at run time, once, for a loop: each value is multiplied by a 1 the optimiser cannot
    /// see through, so that it cannot turn them back into per-iteration constants (x·1 = x
    /// exactly; one opaque scalar is cheaper than an opaque array, which small V notices).
    #[inline(always)]
    pub fn hoisted() -> ExpConsts<V> {
        let one = core::hint::black_box(1.0);
        let mut v = Self::VALUES;
        for x in &mut v {
            *x *= one;
        }
        ExpConsts::from(v)
    }
}

/// `exp(x)` for `x <= 0` (and `-inf`), two lanes: `x = k ln2 + r`, `|r| <= ln2/2`, `e^r` by a
/// polynomial (see `exp_reduced`), with `2^k` applied as two normal factors so subnormal results
/// round once. Under 1 ulp; 0 below -745.2.
#[inline(always)]
pub fn exp_nonpos(x: L2) -> L2 {
    exp_nonpos_with(x, &ExpConsts::inline())
}

/// [`exp_nonpos`] of one number: the same bits as a lane.
#[inline]
pub fn exp_nonpos_scalar(x: f64) -> f64 {
    exp_nonpos_with(x, &ExpConsts::inline())
}

/// [`exp_nonpos`] with its constants given.
#[inline(always)]
pub fn exp_nonpos_with<V: Lane>(x: V, c: &ExpConsts<V>) -> V {
    let (y, k) = exp_reduced(x, c);
    // 2^k as 2^k1 · 2^k2, both normal (k down to -1075 gives subnormal results, rounded once).
    let k1 = k.max(c.k_floor);
    let e = y.mul(k1.pow2()).mul(k.sub(k1).pow2());
    x.gt_select(c.underflow, e, c.zero)
}

/// `exp(x)` for every `x`, two lanes (or one): [`exp_nonpos`]'s method, `2^k` applied as two
/// factors that stay finite and normal; `+inf` above 709.78, 0 below -745.2, NaN for NaN. Within
/// 1 ulp of glibc's `exp`.
#[inline(always)]
pub fn exp<V: Lane>(x: V) -> V {
    exp_with(x, &ExpConsts::inline())
}

/// [`exp`] with its constants given (built once with [`ExpConsts::hoisted`] for a loop).
#[inline(always)]
pub fn exp_with<V: Lane>(x: V, c: &ExpConsts<V>) -> V {
    let (y, k) = exp_reduced(x, c);
    // |k| > 1000 only near the ends of the range: 2^k1 · 2^(k - k1), both factors representable.
    let k1 = k.max(c.k_floor).min(c.k_ceil);
    let e = y.mul(k1.pow2()).mul(k.sub(k1).pow2());
    // The tests are written so that NaN (false in every comparison) keeps `e`, which is NaN.
    let e = x.gt_select(c.overflow, c.inf, e);
    c.underflow.gt_select(x, c.zero, e)
}

/// `exp(x) − 1` for `x <= 0` (and `-inf`), two lanes (or one): for `|x| <= ln2/2` the reduction
/// gives `k = 0` and `e^x − 1 = hi + (r²·P(r) − lo)` is taken before the 1 is added, so small
/// arguments lose nothing to cancellation; further out `e^x <= 0.71` and [`exp_nonpos`] − 1 is
/// exact to an ulp. Within 2 ulps of the platform's `expm1` (the tests sweep it); −1 below -745.2.
#[inline(always)]
pub fn expm1_nonpos_with<V: Lane>(x: V, c: &ExpConsts<V>) -> V {
    exp_expm1_nonpos_with(x, c).1
}

/// `(exp(x), exp(x) − 1)` for `x <= 0` from one reduction: [`exp_nonpos_with`]'s bits and
/// [`expm1_nonpos_with`]'s (each accurate in its own right: `1 + expm1` would lose every
/// `exp(x)` below 1e-16).
#[inline(always)]
pub fn exp_expm1_nonpos_with<V: Lane>(x: V, c: &ExpConsts<V>) -> (V, V) {
    let (y_minus_one, k) = exp_reduced_minus_one(x, c);
    let y = c.one.add(y_minus_one);
    let k1 = k.max(c.k_floor);
    let e = y.mul(k1.pow2()).mul(k.sub(k1).pow2());
    let e = x.gt_select(c.underflow, e, c.zero);
    // k is integral: k > −1 means k = 0.
    (e, k.gt_select(c.zero.sub(c.one), y_minus_one, e.sub(c.one)))
}

/// [`exp_expm1_nonpos_with`] for `x` in `[NARROW_EXP_MIN, 0]`: the same bits with one power of
/// two and no underflow test, as [`exp_narrow`] is to [`exp_nonpos_with`] (the pairwise attention
/// kernel, whose exponents all lie there for β·max‖x‖² up to about 340).
#[inline(always)]
pub fn exp_expm1_narrow_with<V: Lane>(x: V, c: &ExpConsts<V>) -> (V, V) {
    let (y_minus_one, k) = exp_reduced_minus_one(x, c);
    let e = c.one.add(y_minus_one).mul(k.pow2());
    (e, k.gt_select(c.zero.sub(c.one), y_minus_one, e.sub(c.one)))
}

/// Below this [`exp_narrow`] may not be used (`k` would pass -1000).
pub const NARROW_EXP_MIN: f64 = -690.0;

/// [`exp_nonpos`] for `x` in `[NARROW_EXP_MIN, 0]`, and [`exp_with`] for `x` in
/// `[NARROW_EXP_MIN, -NARROW_EXP_MIN]`: the same bits with one power of two and no range tests
/// (there `|k| <= 1000`, so `2^(k - k1)` is 1, and nothing overflows or underflows).
#[inline(always)]
pub fn exp_narrow<V: Lane>(x: V, c: &ExpConsts<V>) -> V {
    let (y, k) = exp_reduced(x, c);
    y.mul(k.pow2())
}

/// `exp(x) = y·2^k`, `y` in about `[0.7, 1.42]`: fdlibm's reduction `x = k ln2 + r` (`r = hi - lo`,
/// `|r| <= ln2/2`), then `y = 1 + (hi + (r²·P(r) - lo))` with `P` the Taylor series of
/// `(e^r - 1 - r)/r²` to degree 11 (the series of `e^r` to degree 13; the next term is below
/// 5e-18), evaluated by Estrin's scheme. No division: in the page `f64x2.div` and the long
/// dependency chain of Horner's rule cost about a third of a closed-form sample.
#[inline(always)]
fn exp_reduced<V: Lane>(x: V, c: &ExpConsts<V>) -> (V, V) {
    let (y_minus_one, k) = exp_reduced_minus_one(x, c);
    (c.one.add(y_minus_one), k)
}

/// [`exp_reduced`] before its final `1 +`: `(y − 1, k)`.
#[inline(always)]
fn exp_reduced_minus_one<V: Lane>(x: V, c: &ExpConsts<V>) -> (V, V) {
    let k = x.mul(c.inv_ln2).add(c.shifter).sub(c.shifter);
    let hi = x.sub(k.mul(c.ln2_hi));
    let lo = k.mul(c.ln2_lo);
    let r = hi.sub(lo);
    let r2 = r.mul(r);
    let r4 = r2.mul(r2);
    let r8 = r4.mul(r4);
    let t = &c.taylor;
    let a = |i: usize| t[i].add(t[i + 1].mul(r));
    let (a0, a1, a2, a3, a4, a5) = (a(0), a(2), a(4), a(6), a(8), a(10));
    let b0 = a0.add(a1.mul(r2));
    let b1 = a2.add(a3.mul(r2));
    let b2 = a4.add(a5.mul(r2));
    let poly = b0.add(b1.mul(r4)).add(b2.mul(r8));
    (hi.add(r2.mul(poly).sub(lo)), k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exp1(x: f64) -> f64 {
        exp_nonpos(L2::splat(x)).lanes()[0]
    }

    /// The full-range [`exp`] of one number, through the lanes.
    fn exp_any(x: f64) -> f64 {
        exp(L2::splat(x)).lanes()[0]
    }

    /// Distance in units in the last place (both finite, same sign).
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn exp_edges() {
        assert_eq!(exp1(0.0), 1.0);
        assert_eq!(exp1(-0.0), 1.0);
        assert_eq!(exp1(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp1(-746.0), 0.0);
        assert_eq!(exp1(-1e300), 0.0);
        // Subnormal results: within one subnormal step of the platform's.
        for x in [-708.5, -710.0, -720.0, -740.0, -745.0] {
            let (a, b) = (exp1(x), x.exp());
            assert!(ulps(a, b) <= 1, "exp({x}) = {a:e}, platform {b:e}");
        }
        assert!(exp1(-745.1) > 0.0);
    }

    /// A dense sweep of [-745, 0] (and of [-1, 0], where most of a distribution's mass lives):
    /// never more than 1 ulp from the platform's `exp` (glibc's, correctly rounded in practice);
    /// about one result in ten is 1 ulp off (the polynomial is faithful, not correctly
    /// rounded: measured 9.6 %).
    #[test]
    fn exp_sweep() {
        let mut off = 0usize;
        let total = 400_000;
        for i in 0..total {
            let f = (i as f64 + 0.5) / total as f64;
            for x in [-745.0 * f, -f] {
                let (a, b) = (exp1(x), x.exp());
                assert!(ulps(a, b) <= 1, "exp({x}) = {a:e}, platform {b:e}");
                off += usize::from(a != b);
            }
        }
        eprintln!(
            "exp_sweep: {off} of {} results 1 ulp from the platform's",
            2 * total
        );
        assert!(
            off * 100 < 12 * 2 * total,
            "{off} of {} differ by 1 ulp",
            2 * total
        );
    }

    #[test]
    fn exp_full_range_edges() {
        assert_eq!(exp_any(0.0), 1.0);
        assert_eq!(exp_any(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_any(f64::INFINITY), f64::INFINITY);
        assert!(exp_any(f64::NAN).is_nan());
        assert_eq!(exp_any(709.79), f64::INFINITY);
        assert_eq!(exp_any(1e300), f64::INFINITY);
        assert_eq!(exp_any(-1e300), 0.0);
        // The largest results (k = 1023 and 1024 go through two factors), subnormal ones, and the
        // scalar type gives the lanes' bits.
        for x in [
            1.0, 20.0, 700.0, 709.0, 709.4, 709.5, 709.78, -708.5, -720.0, -745.0,
        ] {
            let (a, b) = (exp_any(x), x.exp());
            assert!(
                a.is_finite() && ulps(a, b) <= 1,
                "exp({x}) = {a:e}, platform {b:e}"
            );
            assert_eq!(exp::<f64>(x).to_bits(), a.to_bits());
        }
    }

    /// A sweep of [-745, 709.78]: within 1 ulp of the platform's everywhere, and the same bits as
    /// [`exp_nonpos`] for x <= 0.
    #[test]
    fn exp_full_range_sweep() {
        let total = 200_000;
        for i in 0..=total {
            let x = -745.0 + (745.0 + 709.78) * i as f64 / total as f64;
            let (a, b) = (exp_any(x), x.exp());
            assert!(ulps(a, b) <= 1, "exp({x}) = {a:e}, platform {b:e}");
            if x <= 0.0 {
                assert_eq!(a.to_bits(), exp1(x).to_bits(), "exp({x})");
            }
        }
    }

    fn expm1_1(x: f64) -> f64 {
        expm1_nonpos_with(L2::splat(x), &ExpConsts::inline()).lanes()[0]
    }

    /// A sweep of [-745, 0], dense near 0 where cancellation would show: within 2 ulps of the
    /// platform's `expm1`, exactly −1 far out, and the scalar type gives the lanes' bits.
    #[test]
    fn expm1_sweep() {
        assert_eq!(expm1_1(0.0), 0.0);
        assert_eq!(expm1_1(f64::NEG_INFINITY), -1.0);
        assert_eq!(expm1_1(-800.0), -1.0);
        let total = 200_000;
        for i in 0..total {
            let f = (i as f64 + 0.5) / total as f64;
            for x in [-745.0 * f, -f, -1e-6 * f, -1e-300 * f, -0.3466 - 0.01 * f] {
                let (a, b) = (expm1_1(x), x.exp_m1());
                assert!(ulps(a, b) <= 2, "expm1({x}) = {a:e}, platform {b:e}");
                assert_eq!(
                    expm1_nonpos_with::<f64>(x, &ExpConsts::inline()).to_bits(),
                    a.to_bits()
                );
                let (e, m) = exp_expm1_nonpos_with(L2::splat(x), &ExpConsts::inline());
                assert_eq!(e.lanes()[0].to_bits(), exp1(x).to_bits());
                if x >= NARROW_EXP_MIN {
                    let (e2, m2) = exp_expm1_narrow_with(L2::splat(x), &ExpConsts::inline());
                    assert_eq!(e2.lanes()[0].to_bits(), e.lanes()[0].to_bits(), "exp({x})");
                    assert_eq!(
                        m2.lanes()[0].to_bits(),
                        m.lanes()[0].to_bits(),
                        "expm1({x})"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn expm1_matches_platform(x in -745.0f64..=0.0) {
            let (a, b) = (expm1_1(x), x.exp_m1());
            prop_assert!(ulps(a, b) <= 2, "expm1({}) = {:e}, platform {:e}", x, a, b);
        }

        /// Within 1 ulp of the platform's exp (glibc's is correctly rounded almost always).
        #[test]
        fn exp_matches_platform(x in -708.0f64..=0.0) {
            let (a, b) = (exp1(x), x.exp());
            prop_assert!(ulps(a, b) <= 1, "exp({}) = {:e}, platform {:e}", x, a, b);
        }

        #[test]
        fn exp_small_arguments(x in -1e-3f64..=0.0) {
            prop_assert!(ulps(exp1(x), x.exp()) <= 1);
        }

        /// In its range the narrow exp is the full-range one, bit for bit (the transformer's GELU
        /// and attention weights switch between them by their arguments' range).
        #[test]
        fn narrow_exp_is_exact_in_its_range(x in NARROW_EXP_MIN..=-NARROW_EXP_MIN, y in NARROW_EXP_MIN..=0.0) {
            let c = ExpConsts::<L2>::inline();
            let (a, b) = (exp_narrow(L2::new(x, y), &c).lanes(), exp_with(L2::new(x, y), &c).lanes());
            prop_assert_eq!(a[0].to_bits(), b[0].to_bits(), "exp({})", x);
            prop_assert_eq!(a[1].to_bits(), b[1].to_bits(), "exp({})", y);
            prop_assert_eq!(a[1].to_bits(), exp1(y).to_bits(), "exp_nonpos({})", y);
        }

        #[test]
        fn exp_full_range_matches_platform(x in -745.0f64..709.78) {
            let (a, b) = (exp_any(x), x.exp());
            prop_assert!(ulps(a, b) <= 1, "exp({}) = {:e}, platform {:e}", x, a, b);
        }
    }
}
