//! Where the time of an attention run goes, natively: the bench scenario `att-n2000-localmax-200`
//! (square init, seed 1, d = 2, A = I, alpha 0.5, localmax additive delta 0.1, 200 steps,
//! cluster tolerance 1e-3) run whole, then its parts timed again on the stored states: the step
//! kernel, the attention graph's asymmetry, the diameter and clusters, the hull and its area.
//!
//!   cargo run --release -p td-particles --example profile_step [n] [steps]

use std::hint::black_box;
use std::time::Instant;

use td_particles::dynamics::{self, Scratch};
use td_particles::graph::{self, Bitset};
use td_particles::init::{initial_points, Init};
use td_particles::matrices::{key_query_matrix, KeyQuery};
use td_particles::{hull, Margin, Rule, Run, Schedule, Spec};

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(2000, |a| a.parse().expect("n"));
    let steps: usize = args.next().map_or(200, |a| a.parse().expect("steps"));
    let d = 2;
    let spec = Spec {
        d,
        x0: initial_points(&Init::Square, n, d, 1),
        a: key_query_matrix(&KeyQuery::Identity, d, 1),
        alpha: 0.5,
        rule: Rule::Localmax {
            margin: Margin::Additive,
            schedule: Schedule::Constant(0.1),
        },
        steps,
        cluster_tol: 1e-3,
        quiescent_from: None,
        sphere: None,
    };
    let kernel = spec.rule.kernel_at(0);
    let gamma = spec.alpha / (1.0 + spec.alpha);
    let a = spec.a.clone();
    let tol = spec.cluster_tol;

    let start = Instant::now();
    let mut run = Run::new(spec).expect("spec");
    while !run.advance(usize::MAX) {}
    let total = ms(start);

    let states: Vec<Vec<f64>> = (0..=steps).map(|k| run.positions(k).to_vec()).collect();
    let (mut scratch, mut g, mut flags, mut out) = (
        Scratch::default(),
        Bitset::default(),
        vec![0u8; n],
        vec![0.0; n * d],
    );
    let start = Instant::now();
    for x in &states[..steps] {
        black_box(dynamics::step(
            x,
            n,
            d,
            &a,
            dynamics::Update::Relax { gamma },
            kernel,
            &mut scratch,
            &mut g,
            &mut flags,
            &mut out,
        ));
    }
    let step_ms = ms(start);
    let start = Instant::now();
    for _ in 0..steps {
        black_box(g.asymmetry());
    }
    let asym_ms = ms(start);
    let mut parent = Vec::new();
    let start = Instant::now();
    for x in &states {
        black_box(graph::diameter_and_clusters(x, n, d, tol, &mut parent));
    }
    let diam_ms = ms(start);
    let start = Instant::now();
    for x in &states {
        black_box(hull::polygon_area(x, &hull::hull_2d(x)));
    }
    let hull_ms = ms(start);
    println!("n = {n}, {steps} steps: Run::advance total {total:9.1} ms");
    println!("  step kernel             {step_ms:9.1} ms");
    println!("  graph asymmetry         {asym_ms:9.1} ms");
    println!("  diameter + clusters     {diam_ms:9.1} ms  (its hull included)");
    println!("  hull + area (per state) {hull_ms:9.1} ms");
    let last = run.state_diags().last().expect("state");
    println!(
        "  final: diameter {:.15e}, clusters {}, area {:?}",
        last.diameter, last.clusters, last.area
    );
}
