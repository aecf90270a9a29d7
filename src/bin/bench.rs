//! Native half of the bench command (scripts/bench.sh): times the shared scenarios of
//! `next_token::bench` and prints `[{"scenario": .., "ms": ..}]` with --json, a table otherwise.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::time::Instant;
    use token_dynamics::next_token::bench;
    let json = std::env::args().any(|a| a == "--json");
    let mut rows = Vec::new();
    for name in bench::SCENARIOS {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            std::hint::black_box(bench::run(name));
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        rows.push((name, times[times.len() / 2]));
    }
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(name, ms)| format!("{{\"scenario\":\"{name}\",\"ms\":{ms:.3}}}"))
            .collect();
        println!("[{}]", items.join(","));
    } else {
        for (name, ms) in rows {
            println!("{name:<24} {ms:>10.3} ms (median of 5)");
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
