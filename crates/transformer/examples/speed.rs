//! Times the energy explorer's two bench scenarios on the transformer alone (quicker to iterate on
//! than the workspace's `bench` binary, which times every explorer): a 128-token forward pass with
//! every statistic, and 64 generated tokens after a 4-token prompt (seed-1 random model, the same
//! work as `crates/energy/src/bench.rs`). Prints the median and minimum of `runs` timings.
//!
//! `cargo run --release -p td-transformer --example speed [runs] [forward|generate]` (both by
//! default).

use std::time::Instant;

use td_transformer::energy::{decoupled_null, energy_series, summarize, EnergyOptions};
use td_transformer::generate::{generate, Sampling};
use td_transformer::{forward, Config, ForwardOptions, Weights};

const TEXT: &str = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it was the season of Darkness.";

fn time(runs: usize, mut work: impl FnMut() -> f64) -> (f64, f64, f64) {
    let mut checksum = 0.0;
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            checksum = std::hint::black_box(work());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[0], checksum)
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(21);
    let only = std::env::args().nth(2).unwrap_or_default();
    let w = Weights::random(Config::default(), 1).expect("default config");
    let tokens: Vec<u32> = TEXT.bytes().cycle().take(128).map(u32::from).collect();
    if only != "generate" {
        let (med, min, sum) = time(runs, || {
            let fwd = forward(&w, &tokens, ForwardOptions::default()).expect("forward");
            let series = energy_series(&fwd, &tokens, &EnergyOptions::default()).expect("series");
            let summary = summarize(&series);
            let null = decoupled_null(&series, Default::default(), 200, 1);
            summary.mean_e.unwrap_or(0.0) + null.cv_e_mean.unwrap_or(0.0)
        });
        println!(
            "energy-forward128-stats  median {med:8.3} ms  min {min:8.3} ms  checksum {sum:?}"
        );
    }
    if only == "forward" {
        return;
    }
    let sampling = Sampling {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.0,
    };
    let (med, min, sum) = time(runs, || {
        let out = generate(&w, &tokens[..4], 64, sampling, 1, None).expect("generate");
        out.iter().map(|&t| t as f64).sum()
    });
    println!("energy-generate64        median {med:8.3} ms  min {min:8.3} ms  checksum {sum:?}");
}
