//! Closed-form samples of a few entries (V < 8), computed in lanes (`lanes::exp_affine_two`: two
//! samples at once, one per lane, with our own `ln`), against the same runs computed one sample at
//! a time by the general kernels (`Run::without_lanes`), for flows A, B and C, V = 2 to 7, uniform
//! and random starts and temperatures 0.05 to 5; and the bits of each sample whatever pairs the
//! budgets and the parts of a shared run make.
//!
//! Tolerance: the one of `kernel_reference.rs`, `|lanes - general| <= 1e-12 · max(|general|,
//! floor)`, `floor` the scale the quantity is computed at (`common::floor`).

mod common;

use common::Rand;
use td_flows::flows::{Flow, Kappa};
use td_flows::run::{Run, RunSpec};
use td_flows::scores::Adjust;

const REL_TOL: f64 = 1e-12;

fn spec(flow: Flow, s: Vec<f64>, p0: Vec<f64>, temp: f64, samples: usize) -> RunSpec {
    let v = s.len();
    RunSpec {
        flow,
        s,
        temp,
        eta: 0.01,
        kappa: Kappa::One,
        horizon: 6.0,
        p0,
        support: (0..v).collect(),
        adjust: Adjust::None,
        samples,
        corners: [0, 1, 2.min(v - 1)],
    }
}

/// Every flow with a closed form that runs in lanes, V = 2..7, a uniform and a random start,
/// temperatures 0.05 to 5, and odd sample counts (a sample is left over after the pairs). Then
/// scores 400 apart: the exponents `a·log p0 + b·s` of later samples spread over more than the
/// lanes' range (690: b = t for A, about 5 at t = 6 for C at T = 0.05), so those samples go to the
/// general kernels while the earlier ones stay in lanes.
fn specs() -> Vec<(String, RunSpec)> {
    let mut rand = Rand(0x5DEE_CE66_D1CE_4E5B);
    let mut out = Vec::new();
    for flow in [
        Flow::Replicator,
        Flow::MultiplicativeWeights,
        Flow::Entropic,
    ] {
        for v in 2..8 {
            for temp in [0.05, 0.4, 1.0, 5.0] {
                let s: Vec<f64> = (0..v).map(|_| rand.range(-6.0, 6.0)).collect();
                let random = rand.simplex(v);
                for (start, p0) in [("uniform", vec![1.0 / v as f64; v]), ("random", random)] {
                    let name = format!("{flow:?} V={v} T={temp} {start}");
                    out.push((name, spec(flow, s.clone(), p0, temp, 101)));
                }
            }
        }
        let s = vec![200.0, -200.0, 0.0];
        let p0 = vec![1.0 / 3.0; 3];
        out.push((format!("{flow:?} wide"), spec(flow, s, p0, 0.05, 101)));
    }
    out
}

#[test]
fn samples_in_lanes_match_the_general_kernels() {
    let mut failures = Vec::new();
    let mut worst = (0.0f64, String::new());
    for (name, spec) in specs() {
        let mut lanes = Run::new(spec.clone());
        let mut general = Run::new(spec.clone()).without_lanes();
        assert!(lanes.uses_lanes() && !general.uses_lanes(), "{name}");
        while !lanes.advance(usize::MAX) {}
        while !general.advance(usize::MAX) {}
        let s_scale = common::s_scale(&spec.s, spec.temp);
        let here = common::compare_runs(&name, &lanes, &general, s_scale, REL_TOL, &mut failures);
        if here.0 > worst.0 {
            worst = (here.0, format!("{name} {}", here.1));
        }
    }
    eprintln!("worst relative difference {:.2e}: {}", worst.0, worst.1);
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// The pairs follow the budgets of `Run::advance` (a page slices its work by time) and the parts
/// of a run shared by several workers; neither may change a bit of any sample.
#[test]
fn samples_in_lanes_have_the_same_bits_however_they_pair() {
    for (name, spec) in specs() {
        let mut whole = Run::new(spec.clone());
        while !whole.advance(usize::MAX) {}
        for budget in [1, 3] {
            let mut sliced = Run::new(spec.clone());
            while !sliced.advance(budget) {}
            assert_eq!(sliced.samples(), whole.samples(), "{name}: budget {budget}");
            assert_eq!(sliced.final_p(), whole.final_p(), "{name}: budget {budget}");
        }
        for parts in [2, 3] {
            let mut samples = Vec::new();
            for part in 0..parts {
                let mut run = Run::new(spec.clone());
                run.restrict_to_samples(part, parts);
                while !run.advance(usize::MAX) {}
                samples.extend_from_slice(run.samples());
            }
            assert_eq!(samples, whole.samples(), "{name}: {parts} parts");
        }
    }
}
