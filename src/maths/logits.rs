//! Seeded generated logits. The algorithm below is part of the link format: a shared link's seed
//! must give the same logits in every later version, so it is spelled out here and must not change.
//!
//! Exact algorithm:
//! 1. PRNG: `rand_pcg::Pcg64Mcg::new(state)` (PCG-64 "fast", MCG 128-bit, XSL-RR output) with
//!    `state = (splitmix64(seed) << 64) | splitmix64(seed ^ 0xD1B5_4A32_D192_ED03)` (both as u128;
//!    splitmix64 as written in [`splitmix64`]). Mixing first keeps nearby seeds unrelated.
//! 2. Uniform: `u = (next_u64 >> 11) · 2^-53` in [0, 1).
//! 3. Normal (Box–Muller, cosine branch only): draw `u1`, then `u2`;
//!    `z = sqrt(-2 ln(1 - u1)) · cos(2π u2)`.
//! 4. `Gauss`: for i = 0..V: `s_i = 2·z` (one normal per token, in index order).
//! 5. `Zipf`: `rank = [1, 2, .., V]`; Fisher–Yates: for i = V-1 down to 1, `j = min(floor(u·(i+1)), i)`,
//!    swap `rank[i]`, `rank[j]`; then for i = 0..V: `s_i = -1.1·ln(rank_i) + 0.05·z` (normals drawn
//!    after the shuffle, in index order). The largest logit is therefore not always token 0.
//!
//! (Only the last bit of `ln`/`cos` may in principle differ between platform maths libraries.)

use rand_core::Rng;
use rand_pcg::Pcg64Mcg;

/// Which family of logits to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Generator {
    /// Zipf-like: `-1.1·ln(rank)` with a random rank permutation and 0.05 Gaussian jitter.
    Zipf,
    /// Independent `N(0, 2²)` logits.
    Gauss,
}

/// SplitMix64 finaliser (Steele, Lea, Flood 2014), used only to spread the seed over 128 bits.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Source(Pcg64Mcg);

impl Source {
    fn new(seed: u64) -> Self {
        let hi = splitmix64(seed) as u128;
        let lo = splitmix64(seed ^ 0xD1B5_4A32_D192_ED03) as u128;
        Source(Pcg64Mcg::new((hi << 64) | lo))
    }

    fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Generate `v` logits for `seed` (see the module docs for the exact, frozen algorithm).
pub fn generate(gen: Generator, v: usize, seed: u64) -> Vec<f64> {
    let mut src = Source::new(seed);
    match gen {
        Generator::Gauss => (0..v).map(|_| 2.0 * src.normal()).collect(),
        Generator::Zipf => {
            let mut rank: Vec<usize> = (1..=v).collect();
            for i in (1..v).rev() {
                let j = ((src.uniform() * (i + 1) as f64) as usize).min(i);
                rank.swap(i, j);
            }
            rank.iter()
                .map(|&r| -1.1 * (r as f64).ln() + 0.05 * src.normal())
                .collect()
        }
    }
}
