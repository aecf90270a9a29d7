//! Native half of the bench command (scripts/bench.sh): times the shared scenarios of
//! `next_token::bench`, `attention::bench` and `energy::bench` and prints `[{"scenario": .., "ms": ..}]` with
//! --json, a table otherwise (the table also splits the attention scenarios into compute and paint).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::time::Instant;
    use {td_attention as attention, td_next_token as next_token};

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

    let json = std::env::args().any(|a| a == "--json");
    let mut rows: Vec<(String, f64)> = Vec::new();
    for name in next_token::bench::SCENARIOS {
        let ms = median_ms(|| {
            std::hint::black_box(next_token::bench::run(name));
        });
        rows.push((name.to_string(), ms));
    }
    for name in attention::bench::SCENARIOS {
        let ms = median_ms(|| {
            std::hint::black_box(attention::bench::run(name));
        });
        rows.push((name.to_string(), ms));
    }
    for name in td_energy::bench::SCENARIOS {
        td_energy::bench::prepare(name);
        let ms = median_ms(|| {
            std::hint::black_box(td_energy::bench::run(name));
        });
        rows.push((name.to_string(), ms));
    }
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|(name, ms)| format!("{{\"scenario\":\"{name}\",\"ms\":{ms:.3}}}"))
            .collect();
        println!("[{}]", items.join(","));
        return;
    }
    for (name, ms) in &rows {
        println!("{name:<28} {ms:>10.3} ms (median of 5)");
    }
    for name in attention::bench::SCENARIOS {
        let Some(state) = attention::bench::scenario(name) else {
            continue;
        };
        let compute = median_ms(|| {
            std::hint::black_box(attention::bench::compute(state.clone()));
        });
        let scene = attention::bench::compute(state);
        let paint = median_ms(|| {
            std::hint::black_box(attention::bench::paint(&scene));
        });
        println!(
            "  {name:<26} compute {compute:>9.3} ms, paint both figures (SVG) {paint:>9.3} ms"
        );
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
