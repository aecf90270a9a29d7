//! Property tests of the attention-particle core: random configurations (n <= 60, d <= 5, A from
//! every family, every rule) never produce NaN, tokens stay in the initial hull for the averaging
//! rules (exact 2-D hull; bounding box per coordinate in higher d), and the diameter never grows.

use proptest::prelude::*;
use td_particles::hull::{bounding_box, hull_2d, outside_distance_2d};
use td_particles::init::{initial_points, Init};
use td_particles::matrices::{key_query_matrix, KeyQuery};
use td_particles::{Margin, Rule, Run, Schedule, Spec};

fn kind(i: u8, theta: f64, diag: Vec<f64>, custom: Vec<f64>) -> KeyQuery {
    match i % 7 {
        0 => KeyQuery::Identity,
        1 => KeyQuery::Diagonal(diag),
        2 => KeyQuery::SymmetricPositiveDefinite,
        3 => KeyQuery::NegativeDefinite,
        4 => KeyQuery::Rotation { theta },
        5 => KeyQuery::General,
        _ => KeyQuery::Custom(custom),
    }
}

fn rule(i: u8, beta: f64, delta: f64, q: f64) -> Rule {
    match i % 7 {
        0 => Rule::Softmax { beta },
        1 => Rule::Hardmax,
        2 => Rule::Localmax {
            margin: Margin::Additive,
            schedule: Schedule::Constant(delta),
        },
        3 => Rule::Localmax {
            margin: Margin::Multiplicative,
            schedule: Schedule::Constant(delta),
        },
        4 => Rule::Localmax {
            margin: Margin::Additive,
            schedule: Schedule::Vanishing { delta0: delta, q },
        },
        5 => Rule::Localmax {
            margin: Margin::Multiplicative,
            schedule: Schedule::Geometric {
                delta0: delta,
                r: q / 2.0,
            },
        },
        _ => Rule::Localmax {
            margin: Margin::Additive,
            schedule: Schedule::Piecewise(vec![(0, delta), (3, delta / 4.0), (6, 0.0)]),
        },
    }
}

fn init(i: u8) -> Init {
    match i % 4 {
        0 => Init::Square,
        1 => Init::Disk,
        2 => Init::Clusters { k: 3, sd: 0.2 },
        _ => Init::Circle,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_runs_stay_finite_inside_the_hull_and_contract(
        n in 1usize..=60,
        d in 1usize..=5,
        seed in any::<u64>(),
        ai in any::<u8>(),
        ri in any::<u8>(),
        ii in any::<u8>(),
        scale in prop_oneof![Just(1.0), 1e-3f64..1e3],
        theta in -3.2f64..3.2,
        diag in proptest::collection::vec(-3.0f64..3.0, 5),
        custom in proptest::collection::vec(-3.0f64..3.0, 25),
        beta in prop_oneof![Just(0.0), 0.0f64..50.0, Just(1e4)],
        delta in prop_oneof![Just(0.0), 0.0f64..3.0, Just(1e6)],
        q in 0.0f64..2.0,
    ) {
        let x0: Vec<f64> = initial_points(&init(ii), n, d, seed).iter().map(|v| v * scale).collect();
        let a = key_query_matrix(&kind(ai, theta, diag, custom), d, seed);
        let r0 = rule(ri, beta, delta, q);
        let mut run = Run::new(Spec { d, x0: x0.clone(), a, alpha: 0.5, rule: r0.clone(), steps: 12, cluster_tol: 1e-6 * scale, quiescent_from: None, sphere: None }).unwrap();
        while !run.advance(5) {}
        let traj = run.trajectory();
        prop_assert!(traj.iter().all(|v| v.is_finite()), "NaN/inf under {:?}", r0);
        let states = run.state_diags();
        prop_assert!(states.iter().all(|s| s.diameter.is_finite() && s.area.is_none_or(f64::is_finite)));
        let tol = 1e-12 * scale.max(1.0);
        if d == 2 {
            let h = hull_2d(&x0);
            for k in 0..=12 {
                for p in run.positions(k).chunks_exact(2) {
                    prop_assert!(outside_distance_2d(&x0, &h, [p[0], p[1]]) <= tol, "left the initial hull at k = {}", k);
                }
            }
        }
        let (lo, hi) = bounding_box(&x0, d);
        for p in run.trajectory().chunks_exact(d) {
            for c in 0..d {
                prop_assert!(p[c] >= lo[c] - tol && p[c] <= hi[c] + tol);
            }
        }
        // every averaging step maps the cloud into its own hull, so the diameter never grows
        for k in 0..12 {
            prop_assert!(states[k + 1].diameter <= states[k].diameter * (1.0 + 1e-12) + 1e-300,
                "diameter grew at k = {} under {:?}", k, r0);
        }
        let qs = run.quiescent();
        prop_assert!(!qs.sets.is_empty());
        for (i, sd) in run.step_diags().iter().enumerate() {
            prop_assert!(sd.edges >= n && sd.asymmetry <= sd.edges);
            prop_assert!(sd.fixed_leaders <= sd.leaders);
            if let Some(dl) = sd.delta { prop_assert!(dl >= 0.0 && dl == r0.delta_at(i).unwrap()); }
        }
    }
}

fn brute_clusters(x: &[f64], n: usize, d: usize, tol: f64) -> (f64, usize) {
    let mut label: Vec<usize> = (0..n).collect();
    let mut diam = 0.0f64;
    for i in 0..n {
        for j in i + 1..n {
            let r2: f64 = (0..d).map(|c| (x[i * d + c] - x[j * d + c]).powi(2)).sum();
            diam = diam.max(r2.sqrt());
            if r2 <= tol * tol && label[i] != label[j] {
                let (old, new) = (label[j].max(label[i]), label[j].min(label[i]));
                label
                    .iter_mut()
                    .filter(|l| **l == old)
                    .for_each(|l| *l = new);
            }
        }
    }
    let mut l = label.clone();
    l.sort_unstable();
    l.dedup();
    (diam, l.len())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// The 1-D / 2-D / 3-D fast paths (sorted gaps, grid of cells) agree with the plain pair pass.
    #[test]
    fn cluster_count_and_diameter_match_brute_force(
        n in 1usize..=80,
        d in 1usize..=3,
        seed in any::<u64>(),
        // Tiny tolerances: cell numbers that do (1e-11) and do not (1e-13, in 3-D) fit.
        tol in prop_oneof![Just(0.0), 1e-3f64..0.5, 1e-13f64..1e-11],
        grid in any::<bool>(),
    ) {
        let mut x = initial_points(&Init::Clusters { k: 4, sd: 0.08 }, n, d, seed);
        if grid {
            // points on a lattice of spacing tol: distances equal to tol up to rounding
            x.iter_mut().for_each(|v| *v = (*v * 10.0).round() * tol.max(1e-3));
        }
        let mut parent = Vec::new();
        let (diam, count) = td_particles::graph::diameter_and_clusters(&x, n, d, tol, &mut parent);
        let (bd, bc) = brute_clusters(&x, n, d, tol);
        prop_assert!((diam - bd).abs() <= 1e-12 * bd.max(1.0));
        prop_assert_eq!(count, bc);
        let labels = td_particles::graph::cluster_labels(&x, n, d, tol);
        prop_assert_eq!(labels.iter().max().map_or(0, |m| m + 1), bc);
    }
}
