//! The performance scenario, natively: random-weight models of GPT-2 small's shape and
//! SmolLM2-135M's shape (seeded, no download), a forward pass over 128 tokens plus the energy
//! statistics. Prints the time (median and minimum of `runs`), the effective GFLOP/s
//! (2 × parameters × tokens / time, the measure) and this process's peak resident memory.
//!
//! `cargo run --release -p td-transformer --example real_shapes [runs] [gpt2|smollm2]`

use std::time::Instant;

use td_transformer::energy::{energy_series, summarize, EnergyOptions};
use td_transformer::llama::{forward_llama, LlamaConfig, LlamaWeights};
use td_transformer::{forward, Config, Forward, ForwardOptions, Weights};

const TOKENS: usize = 128;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn report(name: &str, params: usize, runs: usize, mut pass: impl FnMut() -> Forward) {
    let tokens: Vec<u32> = (0..TOKENS as u32).map(|i| (i * 7919) % 1000).collect();
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let fwd = pass();
            let series = energy_series(&fwd, &tokens, &EnergyOptions::default()).unwrap();
            std::hint::black_box(summarize(&series));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let flops = 2.0 * params as f64 * TOKENS as f64;
    println!(
        "{name}: {params} parameters, {TOKENS} tokens: median {:.0} ms, min {:.0} ms, {:.1} GFLOP/s (2·params·tokens / min), peak RSS {:.0} MB",
        ms[ms.len() / 2],
        ms[0],
        flops / (ms[0] * 1e6),
        peak_rss_mb()
    );
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let which = std::env::args().nth(2).unwrap_or_else(|| "gpt2".into());
    let tokens: Vec<u32> = (0..TOKENS as u32).map(|i| (i * 7919) % 1000).collect();
    match which.as_str() {
        "gpt2" => {
            let c = Config {
                vocab: 50_257,
                d_model: 768,
                n_layer: 12,
                n_head: 12,
                context: 1024,
                mlp: 3072,
            };
            let w = Weights::random(c, 1).unwrap();
            report("GPT-2 small shape", c.n_params(), runs, || {
                forward(&w, &tokens, ForwardOptions::default()).unwrap()
            });
        }
        "smollm2" => {
            let c = LlamaConfig {
                vocab: 49_152,
                d_model: 576,
                n_layer: 30,
                n_head: 9,
                n_kv_head: 3,
                context: 8192,
                mlp: 1536,
                rms_eps: 1e-5,
                rope_theta: 100_000.0,
                tied: true,
                init_std: 0.041_666_666_666_666_664,
            };
            let w = LlamaWeights::random(c, 1).unwrap();
            report("SmolLM2-135M shape", c.n_params(), runs, || {
                forward_llama(&w, &tokens).unwrap()
            });
        }
        other => eprintln!("unknown model shape {other} (gpt2 or smollm2)"),
    }
}
