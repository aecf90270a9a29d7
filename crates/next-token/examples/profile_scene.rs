//! Where the time of a next-token bench scenario goes, natively: building the scene (logits,
//! faces, targets) against computing its samples.
//!
//!   cargo run --release -p td-next-token --features bench --example profile_scene [scenario [repeats]]

use std::time::Instant;

use td_next_token::bench::scenario;
use td_next_token::scene::Scene;

fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "v50257-500".into());
    let repeats: usize = std::env::args()
        .nth(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let (state, samples, grid) = scenario(&name).expect("a bench scenario name");
    for _ in 0..repeats {
        let t0 = Instant::now();
        let mut scene = Scene::with_options(state.clone(), samples, grid);
        let t1 = Instant::now();
        while !scene.advance(usize::MAX) {}
        let t2 = Instant::now();
        let r = scene.readouts();
        let t3 = Instant::now();
        println!(
            "{name}: scene {:.1} ms, samples {:.1} ms, readouts {:.1} ms ({} panels)",
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            (t3 - t2).as_secs_f64() * 1e3,
            r.len()
        );
    }
}
