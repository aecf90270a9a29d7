//! Native half of the bench command (scripts/bench.sh): times every explorer's benchmark scenarios
//! (the same code the page times through `tokenDynamics.bench`) and prints
//! `[{"scenario": .., "explorer": .., "ms": ..}]` with --json, a table otherwise (the table also
//! splits the attention scenarios into compute and paint).

use std::time::Instant;

use token_dynamics::explorers::{self, Native, Visit};

/// Median of 5 timings of `work`, in ms.
fn median_ms(mut work: impl FnMut()) -> f64 {
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        work();
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Times every scenario of one explorer.
struct TimeAll;

impl Visit for TimeAll {
    type Output = Vec<(&'static str, f64)>;

    fn visit<E: Native>(self) -> Self::Output {
        E::bench_scenarios()
            .iter()
            .map(|&name| {
                E::bench_prepare(name);
                let ms = median_ms(|| {
                    std::hint::black_box(E::bench_run(name));
                });
                (name, ms)
            })
            .collect()
    }
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let mut rows: Vec<(&str, &str, f64)> = Vec::new();
    for &explorer in explorers::NAMES {
        for (name, ms) in explorers::dispatch(explorer, TimeAll).unwrap_or_default() {
            rows.push((explorer, name, ms));
        }
    }
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(explorer, name, ms)| {
                format!("{{\"scenario\":\"{name}\",\"explorer\":\"{explorer}\",\"ms\":{ms:.3}}}")
            })
            .collect();
        println!("[{}]", items.join(","));
        return;
    }
    for (_, name, ms) in &rows {
        println!("{name:<28} {ms:>10.3} ms (median of 5)");
    }
    use td_attention::bench;
    for name in bench::SCENARIOS {
        let Some(state) = bench::scenario(name) else {
            continue;
        };
        let compute = median_ms(|| {
            std::hint::black_box(bench::compute(state.clone()));
        });
        let scene = bench::compute(state);
        let paint = median_ms(|| {
            std::hint::black_box(bench::paint(&scene));
        });
        println!(
            "  {name:<26} compute {compute:>9.3} ms, paint both figures (SVG) {paint:>9.3} ms"
        );
    }
}
