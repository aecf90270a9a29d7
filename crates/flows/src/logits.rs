//! Seeded generated logits. The algorithm below is part of the link format: a shared link's seed
//! must give the same logits in every later version, so it is spelled out here and must not change.
//!
//! Exact algorithm (the seeded source is `td_rng::Source`, whose algorithm is frozen there):
//! 1. `Gauss`: for i = 0..V: `s_i = 2·z` (one normal per token, in index order).
//! 2. `Zipf`: `rank = [1, 2, .., V]`; Fisher–Yates: for i = V-1 down to 1, `j = min(floor(u·(i+1)), i)`,
//!    swap `rank[i]`, `rank[j]`; then for i = 0..V: `s_i = -1.1·ln(rank_i) + 0.05·z` (normals drawn
//!    after the shuffle, in index order). The largest logit is therefore not always token 0.

use td_rng::Source;

/// Which family of logits to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Generator {
    /// Zipf-like: `-1.1·ln(rank)` with a random rank permutation and 0.05 Gaussian jitter.
    Zipf,
    /// Independent `N(0, 2²)` logits.
    Gauss,
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
