//! Two f64 lanes for the step kernel: WebAssembly SIMD128 `f64x2` in the page, plain `[f64; 2]`
//! elsewhere. Both perform the same IEEE operations lane by lane (mul, add, abs, compare, select,
//! max as `a < b ? b : a`), so native results (SVG exports, tests) equal the page's bit for bit.

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::{
        f64x2, f64x2_abs, f64x2_add, f64x2_extract_lane, f64x2_ge, f64x2_mul, f64x2_pmax,
        f64x2_splat, i64x2_bitmask, v128, v128_and,
    };

    /// Two f64 lanes.
    #[derive(Clone, Copy, Debug)]
    pub struct F2(v128);

    /// Per-lane comparison result (all ones or all zeros).
    #[derive(Clone, Copy, Debug)]
    pub struct M2(v128);

    impl F2 {
        #[inline(always)]
        pub fn new(a: f64, b: f64) -> F2 {
            F2(f64x2(a, b))
        }
        #[inline(always)]
        pub fn splat(a: f64) -> F2 {
            F2(f64x2_splat(a))
        }
        #[inline(always)]
        pub fn add(self, o: F2) -> F2 {
            F2(f64x2_add(self.0, o.0))
        }
        #[inline(always)]
        pub fn mul(self, o: F2) -> F2 {
            F2(f64x2_mul(self.0, o.0))
        }
        #[inline(always)]
        pub fn abs(self) -> F2 {
            F2(f64x2_abs(self.0))
        }
        /// `self < o ? o : self` per lane.
        #[inline(always)]
        pub fn pmax(self, o: F2) -> F2 {
            F2(f64x2_pmax(self.0, o.0))
        }
        #[inline(always)]
        pub fn ge(self, o: F2) -> M2 {
            M2(f64x2_ge(self.0, o.0))
        }
        #[inline(always)]
        pub fn lanes(self) -> (f64, f64) {
            (
                f64x2_extract_lane::<0>(self.0),
                f64x2_extract_lane::<1>(self.0),
            )
        }
    }

    impl M2 {
        /// `v` where the mask is set, +0.0 elsewhere.
        #[inline(always)]
        pub fn select(self, v: F2) -> F2 {
            F2(v128_and(self.0, v.0))
        }
        /// Lane 0 in bit 0, lane 1 in bit 1.
        #[inline(always)]
        pub fn bits(self) -> u64 {
            u64::from(i64x2_bitmask(self.0))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    /// Two f64 lanes.
    #[derive(Clone, Copy, Debug)]
    pub struct F2([f64; 2]);

    /// Per-lane comparison result.
    #[derive(Clone, Copy, Debug)]
    pub struct M2([bool; 2]);

    impl F2 {
        #[inline(always)]
        pub fn new(a: f64, b: f64) -> F2 {
            F2([a, b])
        }
        #[inline(always)]
        pub fn splat(a: f64) -> F2 {
            F2([a, a])
        }
        #[inline(always)]
        pub fn add(self, o: F2) -> F2 {
            F2([self.0[0] + o.0[0], self.0[1] + o.0[1]])
        }
        #[inline(always)]
        pub fn mul(self, o: F2) -> F2 {
            F2([self.0[0] * o.0[0], self.0[1] * o.0[1]])
        }
        #[inline(always)]
        pub fn abs(self) -> F2 {
            F2([self.0[0].abs(), self.0[1].abs()])
        }
        /// `self < o ? o : self` per lane (what `f64x2.pmax` does).
        #[inline(always)]
        pub fn pmax(self, o: F2) -> F2 {
            let m = |a: f64, b: f64| if a < b { b } else { a };
            F2([m(self.0[0], o.0[0]), m(self.0[1], o.0[1])])
        }
        #[inline(always)]
        pub fn ge(self, o: F2) -> M2 {
            M2([self.0[0] >= o.0[0], self.0[1] >= o.0[1]])
        }
        #[inline(always)]
        pub fn lanes(self) -> (f64, f64) {
            (self.0[0], self.0[1])
        }
    }

    impl M2 {
        /// `v` where the mask is set, +0.0 elsewhere (the bitwise and of `v128_and`).
        #[inline(always)]
        pub fn select(self, v: F2) -> F2 {
            let s = |m: bool, a: f64| if m { a } else { 0.0 };
            F2([s(self.0[0], v.0[0]), s(self.0[1], v.0[1])])
        }
        /// Lane 0 in bit 0, lane 1 in bit 1.
        #[inline(always)]
        pub fn bits(self) -> u64 {
            u64::from(self.0[0]) | (u64::from(self.0[1]) << 1)
        }
    }
}

pub use imp::F2;
