//! Benchmark scenarios of the energy lab, shared by the native bench binary and the page's
//! `tokenDynamics.bench()`, so both time the same work. The random model (seed 1) is built once and
//! kept: building it is not part of a scenario.

use std::cell::RefCell;
use std::rc::Rc;

use td_transformer::energy::{decoupled_null, energy_series, summarize, EnergyOptions};
use td_transformer::generate::{generate, Sampling};
use td_transformer::{forward, Config, ForwardOptions, Weights};

pub const SCENARIOS: &[&str] = &[
    "energy-forward128-stats",
    "energy-generate64",
    "f32-mul-add-peak",
];

/// Steps of the `f32-mul-add-peak` scenario (× [`td_transformer::peak::FLOPS_PER_STEP`] = 192
/// million floating-point operations, as many as the forward pass's matrix products).
pub const PEAK_STEPS: u32 = 2_000_000;

/// 128 bytes of English (the default text's start, repeated as needed).
fn text128() -> Vec<u32> {
    super::params::DEFAULT_TEXT
        .bytes()
        .cycle()
        .take(128)
        .map(u32::from)
        .collect()
}

thread_local! {
    static MODEL: RefCell<Option<Rc<Weights>>> = const { RefCell::new(None) };
}

fn model() -> Rc<Weights> {
    MODEL.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                Rc::new(Weights::random(Config::default(), 1).expect("default config"))
            })
            .clone()
    })
}

/// Prepares what a scenario needs outside the timed part (the model).
pub fn prepare(name: &str) -> bool {
    if SCENARIOS.contains(&name) {
        model();
        true
    } else {
        false
    }
}

/// Runs a scenario; returns a checksum so the work cannot be optimised away.
pub fn run(name: &str) -> Option<f64> {
    let w = model();
    match name {
        "energy-forward128-stats" => {
            // One forward pass over the context and every statistic the page shows.
            let tokens = text128();
            let fwd = forward(&w, &tokens, ForwardOptions::default()).ok()?;
            let series = energy_series(&fwd, &tokens, &EnergyOptions::default()).ok()?;
            let summary = summarize(&series);
            let null = decoupled_null(&series, Default::default(), super::scene::NULL_DRAWS, 1);
            Some(summary.mean_e.unwrap_or(0.0) + null.cv_e_mean.unwrap_or(0.0))
        }
        "energy-generate64" => {
            let sampling = Sampling {
                temperature: 0.8,
                top_k: 40,
                top_p: 0.95,
                min_p: 0.0,
            };
            let out = generate(&w, &text128()[..4], 64, sampling, 1, None).ok()?;
            Some(out.iter().map(|&t| t as f64).sum())
        }
        // Not the lab's work: the machine's limit for it (the bench prints GFLOP/s from this).
        "f32-mul-add-peak" => Some(f64::from(td_transformer::peak::mul_add_peak(
            PEAK_STEPS, 0.5,
        ))),
        _ => None,
    }
}
