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
    let mut generation = Generation::new(gen, v, seed);
    while !generation.advance(usize::MAX) {}
    generation.into_logits()
}

/// [`generate`] in pieces: the same draws in the same order, so a page can spread a large
/// vocabulary's logits (Zipf at V = 50,257: ~150,000 uniforms and 100,000 logs) over tasks.
pub struct Generation {
    gen: Generator,
    src: Source,
    /// Zipf's ranks, shuffled from the last index down (`shuffled` indices still to go).
    rank: Vec<usize>,
    shuffled: usize,
    logits: Vec<f64>,
    v: usize,
}

impl Generation {
    pub fn new(gen: Generator, v: usize, seed: u64) -> Generation {
        Generation {
            gen,
            src: Source::new(seed),
            rank: match gen {
                Generator::Zipf => (1..=v).collect(),
                Generator::Gauss => Vec::new(),
            },
            shuffled: v,
            logits: Vec::with_capacity(v),
            v,
        }
    }

    /// Does up to `items` more steps (a swap of the shuffle or a logit); true when done.
    pub fn advance(&mut self, items: usize) -> bool {
        let mut left = items;
        if self.gen == Generator::Zipf {
            // Fisher-Yates from i = V-1 down to 1; `shuffled` is the next i + 1.
            while self.shuffled > 1 && left > 0 {
                let i = self.shuffled - 1;
                let j = ((self.src.uniform() * (i + 1) as f64) as usize).min(i);
                self.rank.swap(i, j);
                self.shuffled -= 1;
                left -= 1;
            }
        }
        while self.logits.len() < self.v && left > 0 {
            let s = match self.gen {
                Generator::Gauss => 2.0 * self.src.normal(),
                Generator::Zipf => {
                    let r = self.rank[self.logits.len()];
                    -1.1 * (r as f64).ln() + 0.05 * self.src.normal()
                }
            };
            self.logits.push(s);
            left -= 1;
        }
        self.is_done()
    }

    pub fn is_done(&self) -> bool {
        self.logits.len() == self.v
    }

    /// The logits (all of them once [`Self::advance`] returned true).
    pub fn into_logits(self) -> Vec<f64> {
        self.logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The module docs' algorithm written out in one go (the form `generate` had before it could
    /// be spread over tasks).
    fn reference(gen: Generator, v: usize, seed: u64) -> Vec<f64> {
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

    proptest! {
        /// In one go or in pieces of any size, the same bits as the frozen algorithm.
        #[test]
        fn pieces_give_the_frozen_logits(zipf in any::<bool>(), v in 0usize..400, seed in any::<u64>(), piece in 1usize..64) {
            let gen = if zipf { Generator::Zipf } else { Generator::Gauss };
            let want: Vec<u64> = reference(gen, v, seed).iter().map(|x| x.to_bits()).collect();
            let whole: Vec<u64> = generate(gen, v, seed).iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(&whole, &want);
            let mut pieces = Generation::new(gen, v, seed);
            let mut calls = 0;
            while !pieces.advance(piece) {
                calls += 1;
                prop_assert!(calls <= 2 * v / piece + 2, "advance never finished");
            }
            let got: Vec<u64> = pieces.into_logits().iter().map(|x| x.to_bits()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
