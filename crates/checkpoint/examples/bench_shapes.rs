//! The real-model benchmark natively: the same work as the page's `bench_shape`
//! (pages/real-model) — a random model of GPT-2 small's or SmolLM2-135M's shape built from a
//! seed (`report::random_shape`: f32, or with `-bf16` its matrices in bf16), forward passes over
//! 128 tokens plus every statistic (`report::bench_pass`), and greedy
//! generation with the key/value cache after a 16-token prompt — so `scripts/bench-real-model.mjs`
//! can set the page's numbers beside these. Prints one JSON line per shape.
//!
//! `cargo run --release -p td-checkpoint --example bench_shapes [runs] [generate] [shapes...]`

use std::time::Instant;

use td_checkpoint::report::{bench_ids, bench_pass, random_shape, Generate};

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

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|r| r.parse().ok()).unwrap_or(3);
    let generate: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(16);
    let shapes: Vec<&str> = if args.len() > 2 {
        args[2..].iter().map(String::as_str).collect()
    } else {
        vec!["gpt2-small", "smollm2-135m"]
    };
    for shape in shapes {
        let start = Instant::now();
        let model = random_shape(shape, 1)?;
        let build_ms = start.elapsed().as_secs_f64() * 1e3;
        let mut pass_ms = Vec::new();
        let mut params = 0;
        for _ in 0..runs.max(1) {
            let start = Instant::now();
            params = bench_pass(&model, TOKENS)?;
            pass_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let fastest = pass_ms.iter().copied().fold(f64::INFINITY, f64::min);
        let greedy = Generate {
            temperature: 0.0,
            ..Generate::default()
        };
        let start = Instant::now();
        let out = model.generate(&bench_ids(16), generate, greedy.sampling(), 1)?;
        let made = out.len() - 16;
        let per_token = start.elapsed().as_secs_f64() * 1e3 / made.max(1) as f64;
        println!(
            "{{\"shape\":\"{shape}\",\"params\":{params},\"weight_bytes\":{},\"tokens\":{TOKENS},\"build_ms\":{build_ms:.1},\"pass_ms\":{pass_ms:.1?},\"gflops\":{:.2},\"generate_tokens\":{made},\"generate_ms_per_token\":{per_token:.1},\"peak_rss_mb\":{:.0}}}",
            model.bytes(),
            2.0 * params as f64 * TOKENS as f64 / (fastest * 1e6),
            peak_rss_mb()
        );
    }
    Ok(())
}
