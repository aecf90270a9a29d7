//! Property tests: every trajectory of every flow stays on the simplex (sum 1 within 1e-12, no
//! negative entry, no NaN), for random logits in [-50, 50], T log-uniform in [1e-3, 1e3], with
//! and without truncation, with adjustments None / Matrix / Memory for small V, and (few cases)
//! V up to 50,257.

use proptest::prelude::*;
use td_flows::flows::{velocity, Flow, Kappa};
use td_flows::run::{Run, RunSpec};
use td_flows::scores::Adjust;
use td_flows::truncation::{support, TruncOrder, Truncation};

const FLOWS: [Flow; 4] = [
    Flow::Replicator,
    Flow::MultiplicativeWeights,
    Flow::Entropic,
    Flow::EntropicMirror,
];

/// Deterministic filler for big vectors (proptest shrinking over 50k-element vectors is useless).
fn fill(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let u = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            lo + (hi - lo) * u
        })
        .collect()
}

fn truncation(kind: u8, x: f64, v: usize) -> Truncation {
    match kind % 4 {
        0 => Truncation::None,
        1 => Truncation::TopK(1 + (x * v as f64) as usize),
        2 => Truncation::TopP(x),
        _ => Truncation::MinP(x),
    }
}

/// Advance one sample at a time and check the full distribution after every sample.
fn check_run(spec: RunSpec) -> Result<(), TestCaseError> {
    let v = spec.s.len();
    let face = spec.support.clone();
    let mut run = Run::new(spec);
    let mut steps = 0;
    loop {
        let done = run.advance(1);
        steps += 1;
        let p = run.final_p();
        prop_assert_eq!(p.len(), v);
        let mut sum = 0.0;
        for (i, &x) in p.iter().enumerate() {
            prop_assert!(x.is_finite() && x >= 0.0, "p[{}] = {}", i, x);
            sum += x;
        }
        prop_assert!((sum - 1.0).abs() <= 1e-12, "sum = {}", sum);
        if !face.is_empty() {
            let off: f64 = (0..v)
                .filter(|i| face.binary_search(i).is_err())
                .map(|i| p[i])
                .sum();
            prop_assert_eq!(off, 0.0);
        }
        if let Some(smp) = run.samples().last() {
            prop_assert!(smp.t.is_finite());
            prop_assert!(smp.lumped.iter().all(|x| x.is_finite() && *x >= 0.0));
            let d = smp.diag;
            prop_assert!(d.expected_score.is_finite());
            prop_assert!(d.entropy.is_finite() && d.entropy >= 0.0);
            prop_assert!(d.free_energy.is_finite());
            prop_assert!(d.kl_to_target.is_finite() && d.kl_to_target >= 0.0);
            prop_assert!(!d.kl_from_target.is_nan() && d.kl_from_target >= 0.0);
            prop_assert!(d.dist_to_face_target.is_finite());
            prop_assert!(d.conserved.is_none_or(|c| !c.is_nan()));
        }
        if done {
            break;
        }
        prop_assert!(steps < 100_000);
    }
    prop_assert!(run.progress() == 1.0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn small_v_trajectories_stay_on_simplex(
        s in prop::collection::vec(-50.0f64..50.0, 2..12),
        p0_raw in prop::collection::vec(0.0f64..1.0, 12),
        zeros in prop::collection::vec(any::<bool>(), 12),
        log_t in -3.0f64..3.0,
        log_eta_t in -2.0f64..0.4,
        flow_i in 0usize..4,
        inv_t in any::<bool>(),
        trunc_kind in any::<u8>(),
        trunc_x in 0.01f64..1.0,
        order_first in any::<bool>(),
        adjust_kind in 0u8..3,
        w_seed in any::<u64>(),
        gamma in -5.0f64..5.0,
        mu in 0.0f64..3.0,
        horizon in 0.0f64..30.0,
        samples in 2usize..30,
    ) {
        let v = s.len();
        let temp = 10f64.powf(log_t);
        let eta = 10f64.powf(log_eta_t) / temp;
        // p0 with some exact zeros (start on a face).
        let mut p0: Vec<f64> = (0..v)
            .map(|i| if zeros[i] && i % 2 == 0 { 0.0 } else { p0_raw[i] + 1e-3 })
            .collect();
        let m: f64 = p0.iter().sum();
        p0.iter_mut().for_each(|x| *x /= m);
        let order = if order_first { TruncOrder::TruncationFirst } else { TruncOrder::TemperatureFirst };
        let face = support(&s, temp, &truncation(trunc_kind, trunc_x, v), order);
        let adjust = match adjust_kind {
            0 => Adjust::None,
            1 => Adjust::Matrix { w: fill(w_seed, v * v, -3.0, 3.0) },
            _ => Adjust::Memory { gamma, mu },
        };
        let flow = FLOWS[flow_i];
        check_run(RunSpec {
            flow,
            s: s.clone(),
            temp,
            eta,
            kappa: if inv_t { Kappa::InvT } else { Kappa::One },
            horizon,
            p0: p0.clone(),
            support: face,
            adjust,
            samples,
            corners: [0, 1, (v - 1).min(2)],
        })?;
        // The arrow field is finite, sums to 0 and vanishes off the support of p.
        let mut vel = vec![0.0; v];
        velocity(flow, &p0, &s, temp, if inv_t { 1.0 / temp } else { 1.0 }, eta, &mut vel);
        prop_assert!(vel.iter().all(|x| x.is_finite()));
        prop_assert!(vel.iter().sum::<f64>().abs() < 1e-9);
        for i in 0..v {
            if p0[i] == 0.0 {
                prop_assert_eq!(vel[i], 0.0);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    #[test]
    fn big_v_trajectories_stay_on_simplex(
        v in prop_oneof![Just(50_257usize), 2_000usize..50_257],
        seed in any::<u64>(),
        log_t in -3.0f64..3.0,
        log_eta_t in -2.0f64..0.4,
        trunc_kind in any::<u8>(),
        trunc_x in 0.01f64..1.0,
        horizon in 0.0f64..30.0,
    ) {
        let s = fill(seed, v, -50.0, 50.0);
        let temp = 10f64.powf(log_t);
        let eta = 10f64.powf(log_eta_t) / temp;
        let face = support(&s, temp, &truncation(trunc_kind, trunc_x, v), TruncOrder::TemperatureFirst);
        let mut p0 = fill(seed ^ 1, v, 0.0, 1.0);
        let m: f64 = p0.iter().sum();
        p0.iter_mut().for_each(|x| *x /= m);
        for flow in FLOWS {
            check_run(RunSpec {
                flow,
                s: s.clone(),
                temp,
                eta,
                kappa: Kappa::One,
                horizon,
                p0: p0.clone(),
                support: face.clone(),
                adjust: Adjust::None,
                samples: 3,
                corners: [0, 1, 2],
            })?;
        }
    }
}
