//! Reference checks for the attention-particle maths core (docs/maths/attention-particles.md):
//! the hardmax Figure 2 set-ups, localmax limits, the Frank-Wolfe straight line, hull monotonicity,
//! softmax at beta = 0, schedules and the multiplicative-margin report.

use td_particles::frank_wolfe::dominance_cell;
use td_particles::hull::{hull_2d, outside_distance_2d, polygon_area};
use td_particles::init::{initial_points, Init, FIG2_LEADER};
use td_particles::matrices::{is_symmetric_psd, key_query_matrix, KeyQuery};
use td_particles::pca::Pca;
use td_particles::{Margin, Rule, Run, Schedule, Spec};

fn run(x0: Vec<f64>, d: usize, a: Vec<f64>, rule: Rule, steps: usize) -> Run {
    let mut r = Run::new(Spec {
        d,
        x0,
        a,
        alpha: 0.5,
        rule,
        steps,
        cluster_tol: 1e-3,
        quiescent_from: None,
        sphere: None,
    })
    .unwrap();
    r.advance(7); // chunked on purpose
    r.advance(usize::MAX);
    assert!(r.finished());
    r
}

fn eye(d: usize) -> Vec<f64> {
    key_query_matrix(&KeyQuery::Identity, d, 0)
}

fn pt(r: &Run, k: usize, i: usize) -> [f64; 2] {
    let x = r.positions(k);
    [x[2 * i], x[2 * i + 1]]
}

fn close(p: [f64; 2], q: [f64; 2], tol: f64) -> bool {
    (p[0] - q[0]).abs() <= tol && (p[1] - q[1]).abs() <= tol
}

fn localmax(margin: Margin, delta: f64) -> Rule {
    Rule::Localmax {
        margin,
        schedule: Schedule::Constant(delta),
    }
}

#[test]
fn fig2_emerging_leader_at_step_one_and_fixed() {
    let x0 = initial_points(&Init::Fig2Leader, 0, 2, 0);
    assert_eq!(x0.len(), 16);
    assert_eq!([x0[2], x0[3]], [-1.0 / 12.0, 1.0 / 12.0]);
    let r = run(x0, 2, eye(2), Rule::Hardmax, 30);
    assert!(
        !r.leaders(0).contains(&1),
        "token 1 is not yet a leader at k = 0"
    );
    let p1 = pt(&r, 1, 1);
    assert_ne!(p1, pt(&r, 0, 1), "token 1 moves during the first step");
    for k in 1..30 {
        assert!(
            r.fixed_leaders(k).contains(&1),
            "token 1 is a fixed leader at k = {k}"
        );
        assert_eq!(pt(&r, k + 1, 1), p1, "token 1 stays fixed");
    }
    // it stays in the interior of the initial hull (at the end it is a vertex of the collapsed cloud)
    let x0 = r.positions(0);
    let h = hull_2d(x0);
    assert!(!h.contains(&1));
    assert!(outside_distance_2d(x0, &h, p1) < -1e-3);
    let (a, b) = (FIG2_LEADER[0], FIG2_LEADER[2]);
    for i in [0, 2, 3, 4, 5, 6, 7] {
        let p = pt(&r, 30, i);
        assert!(
            close(p, a, 1e-4) || close(p, b, 1e-4),
            "token {i} ends at {p:?}"
        );
    }
    // the two groups: 3, 6, 7 go to (1,1/3); 4, 5 to (-1,-1)
    for i in [3, 6, 7] {
        assert!(close(pt(&r, 30, i), a, 1e-4));
    }
    for i in [4, 5] {
        assert!(close(pt(&r, 30, i), b, 1e-4));
    }
    assert_eq!(r.quiescent().sets, vec![vec![0], vec![1], vec![2]]);
}

#[test]
fn fig2_square_interior_tokens_go_to_the_vertices() {
    for seed in [0u64, 1, 2, 42] {
        let x0 = initial_points(&Init::Fig2Square, 0, 2, seed);
        assert_eq!(x0.len(), 20);
        assert!(x0[8..].iter().all(|v| v.abs() <= 0.5));
        let r = run(x0, 2, eye(2), Rule::Hardmax, 30);
        let verts = [[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]];
        for k in 0..30 {
            assert_eq!(r.fixed_leaders(k), vec![0, 1, 2, 3]);
        }
        for i in 4..10 {
            let p = pt(&r, 30, i);
            assert!(
                verts.iter().any(|&v| close(p, v, 1e-4)),
                "seed {seed}: token {i} at {p:?}"
            );
        }
        assert_eq!(r.state_diags()[30].clusters, 4);
        assert_eq!(r.quiescent().sets, vec![vec![0], vec![1], vec![2], vec![3]]);
        let mut sorted_hull = hull_2d(r.positions(0));
        sorted_hull.sort();
        assert_eq!(sorted_hull, vec![0, 1, 2, 3]);
    }
}

#[test]
fn fig2_non_leader_clusters_at_edge_midpoints() {
    let x0 = initial_points(&Init::Fig2NonLeader, 0, 2, 3);
    assert_eq!(&x0[8..12], &[-0.5, 0.0, 0.5, 0.0]);
    let verts: Vec<f64> = x0[..8].to_vec();
    // (±0.5, 0) lie on the boundary between two dominance cells
    assert_eq!(dominance_cell(&eye(2), 2, &verts, &[-0.5, 0.0]), None);
    assert_eq!(dominance_cell(&eye(2), 2, &verts, &[0.5, 0.0]), None);
    let r = run(x0, 2, eye(2), Rule::Hardmax, 30);
    assert!(
        close(pt(&r, 30, 4), [-1.0, 0.0], 1e-4),
        "{:?}",
        pt(&r, 30, 4)
    );
    assert!(
        close(pt(&r, 30, 5), [1.0, 0.0], 1e-4),
        "{:?}",
        pt(&r, 30, 5)
    );
    for k in 0..30 {
        assert_eq!(pt(&r, k, 4)[1], 0.0);
        assert!(!r.leaders(k).contains(&4) && !r.leaders(k).contains(&5));
        // the gap halves geometrically: x(k) = -1 + 0.5·(2/3)^k
        let want = -1.0 + 0.5 * (2.0f64 / 3.0).powi(k as i32);
        assert!((pt(&r, k, 4)[0] - want).abs() < 1e-14);
    }
    // never reached in finite time
    assert!(pt(&r, 30, 4)[0] > -1.0);
}

fn random_configs() -> Vec<(Vec<f64>, usize, Vec<f64>)> {
    let mut out = Vec::new();
    let kinds = [
        KeyQuery::Identity,
        KeyQuery::Diagonal(vec![2.0, 0.5, 1.0]),
        KeyQuery::SymmetricPositiveDefinite,
        KeyQuery::NegativeDefinite,
        KeyQuery::Rotation { theta: 0.7 },
        KeyQuery::General,
    ];
    for (s, kind) in kinds.iter().enumerate() {
        for d in [2usize, 3] {
            for init in [Init::Square, Init::Disk, Init::Clusters { k: 3, sd: 0.1 }] {
                let x0 = initial_points(&init, 40, d, 100 + s as u64);
                out.push((x0, d, key_query_matrix(kind, d, s as u64)));
            }
        }
    }
    out
}

#[test]
fn localmax_delta_zero_is_hardmax_bitwise() {
    for (x0, d, a) in random_configs() {
        let h = run(x0.clone(), d, a.clone(), Rule::Hardmax, 25);
        for rule in [
            localmax(Margin::Additive, 0.0),
            localmax(Margin::Multiplicative, 0.0),
            Rule::Localmax {
                margin: Margin::Additive,
                schedule: Schedule::Vanishing {
                    delta0: 0.0,
                    q: 1.0,
                },
            },
            Rule::Localmax {
                margin: Margin::Additive,
                schedule: Schedule::Piecewise(vec![]),
            },
        ] {
            let l = run(x0.clone(), d, a.clone(), rule.clone(), 25);
            let same = h
                .trajectory()
                .iter()
                .zip(l.trajectory())
                .all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(same, "{rule:?} differs from hardmax (d = {d})");
            let strip = |r: &Run| {
                r.step_diags()
                    .iter()
                    .map(|s| (s.leaders, s.fixed_leaders, s.asymmetry, s.edges))
                    .collect::<Vec<_>>()
            };
            assert_eq!(strip(&h), strip(&l));
        }
    }
}

#[test]
fn very_large_delta_gives_consensus() {
    for (x0, d, a) in random_configs() {
        let r = run(
            x0.clone(),
            d,
            a.clone(),
            localmax(Margin::Additive, 1e9),
            60,
        );
        let diam = r.state_diags();
        assert!(diam[0].diameter > 0.1);
        assert!(diam[60].diameter < 1e-9, "diameter {}", diam[60].diameter);
        assert_eq!(diam[60].clusters, 1);
        assert_eq!(r.step_diags()[0].asymmetry, 0);
        assert_eq!(r.step_diags()[0].edges, 40 * 40);
    }
    // the reference's square set-up: delta = 5 gives consensus
    let x0 = initial_points(&Init::Fig2Square, 0, 2, 0);
    let r = run(x0, 2, eye(2), localmax(Margin::Additive, 5.0), 200);
    assert!(r.state_diags()[200].diameter < 1e-12);
}

#[test]
fn straight_line_approach_inside_a_dominance_cell() {
    let a = eye(2);
    assert!(is_symmetric_psd(&a, 2, 1e-12));
    for seed in [0u64, 5, 9] {
        let r = run(
            initial_points(&Init::Fig2Square, 0, 2, seed),
            2,
            a.clone(),
            Rule::Hardmax,
            80,
        );
        for i in 4..10 {
            let (v, res) = r
                .straight_line_check(i)
                .expect("interior point inside a cell");
            assert!(v < 4, "target is a vertex");
            assert!(res <= 1e-12, "token {i}: residual {res:e}");
        }
    }
    let r = run(
        initial_points(&Init::Fig2Leader, 0, 2, 0),
        2,
        a.clone(),
        Rule::Hardmax,
        80,
    );
    for i in [3, 4, 5, 6, 7] {
        let (v, res) = r.straight_line_check(i).unwrap();
        assert!(v == 0 || v == 2);
        assert!(res <= 1e-12, "token {i}: residual {res:e}");
    }
    // a PSD diagonal A: points well inside the cells of a square's vertices
    let a = key_query_matrix(&KeyQuery::Diagonal(vec![2.0, 0.5]), 2, 0);
    assert!(is_symmetric_psd(&a, 2, 1e-12));
    let x0 = vec![
        1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 0.3, 0.1, -0.2, 0.25,
    ];
    let r = run(x0, 2, a, Rule::Hardmax, 80);
    for i in [4, 5] {
        let (_, res) = r.straight_line_check(i).unwrap();
        assert!(res <= 1e-12, "token {i}: residual {res:e}");
    }
}

fn averaging_rules() -> Vec<Rule> {
    vec![
        Rule::Softmax { beta: 0.0 },
        Rule::Softmax { beta: 1.0 },
        Rule::Softmax { beta: 30.0 },
        Rule::Hardmax,
        localmax(Margin::Additive, 0.1),
        localmax(Margin::Additive, 1.0),
        localmax(Margin::Multiplicative, 0.3),
        Rule::Localmax {
            margin: Margin::Additive,
            schedule: Schedule::Geometric {
                delta0: 1.0,
                r: 0.9,
            },
        },
    ]
}

#[test]
fn hull_never_grows_for_averaging_rules() {
    for (x0, d, a) in random_configs().into_iter().filter(|c| c.1 == 2) {
        for rule in averaging_rules() {
            let r = run(x0.clone(), d, a.clone(), rule.clone(), 30);
            for k in 0..30 {
                let old = r.positions(k);
                let h = hull_2d(old);
                let new = r.positions(k + 1);
                for q in new.chunks_exact(2) {
                    let out = outside_distance_2d(old, &h, [q[0], q[1]]);
                    assert!(
                        out <= 1e-12,
                        "{rule:?}: step {k} leaves the hull by {out:e}"
                    );
                }
                let (a0, a1) = (polygon_area(old, &h), polygon_area(new, &hull_2d(new)));
                assert!(a1 <= a0 + 1e-12, "{rule:?}: area grows at {k}");
                let s = r.state_diags();
                assert!(s[k + 1].diameter <= s[k].diameter + 1e-12);
            }
        }
    }
}

#[test]
fn softmax_beta_zero_is_all_to_all_averaging() {
    for (x0, d, a) in random_configs() {
        let r = run(x0, d, a, Rule::Softmax { beta: 0.0 }, 5);
        let n = r.n();
        let g = r.gamma();
        for k in 0..5 {
            let x = r.positions(k);
            let mut mean = vec![0.0; d];
            for row in x.chunks_exact(d) {
                mean.iter_mut()
                    .zip(row)
                    .for_each(|(m, v)| *m += v / n as f64);
            }
            for (i, row) in r.positions(k + 1).chunks_exact(d).enumerate() {
                for c in 0..d {
                    let want = x[i * d + c] + g * (mean[c] - x[i * d + c]);
                    assert!((row[c] - want).abs() < 1e-14);
                }
            }
        }
        assert_eq!(r.step_diags()[0].edges, n * n);
    }
}

#[test]
fn schedules_give_the_documented_delta() {
    assert_eq!(Schedule::Constant(0.3).delta_at(17), 0.3);
    let v = Schedule::Vanishing {
        delta0: 1.0,
        q: 1.0,
    };
    assert_eq!((v.delta_at(0), v.delta_at(3)), (1.0, 0.25));
    let v = Schedule::Vanishing {
        delta0: 2.0,
        q: 0.5,
    };
    assert!((v.delta_at(8) - 2.0 / 3.0).abs() < 1e-15);
    let g = Schedule::Geometric {
        delta0: 2.0,
        r: 0.5,
    };
    assert_eq!((g.delta_at(0), g.delta_at(3)), (2.0, 0.25));
    let p = Schedule::Piecewise(vec![(10, 0.5), (3, 1.0), (20, 0.0)]);
    let got: Vec<f64> = [0, 2, 3, 9, 10, 19, 20, 500]
        .iter()
        .map(|&k| p.delta_at(k))
        .collect();
    assert_eq!(got, vec![1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.0, 0.0]);
    assert_eq!(Schedule::Piecewise(vec![]).delta_at(4), 0.0);
    assert_eq!(
        Schedule::Constant(-1.0).delta_at(0),
        0.0,
        "negative margins are clamped"
    );
    // a run records delta(k) per step
    let x0 = initial_points(&Init::Fig2Square, 0, 2, 0);
    let rule = Rule::Localmax {
        margin: Margin::Additive,
        schedule: Schedule::Geometric {
            delta0: 0.8,
            r: 0.5,
        },
    };
    let r = run(x0, 2, eye(2), rule, 6);
    let ds: Vec<f64> = r.step_diags().iter().map(|s| s.delta.unwrap()).collect();
    assert_eq!(ds, vec![0.8, 0.4, 0.2, 0.1, 0.05, 0.025]);
}

#[test]
fn multiplicative_margin_with_negative_max_is_reported() {
    // a cluster far from the origin: with A = -I every alignment is negative
    let x0 = initial_points(&Init::Clusters { k: 1, sd: 0.1 }, 20, 2, 7)
        .iter()
        .map(|v| v + 5.0)
        .collect::<Vec<f64>>();
    let neg = key_query_matrix(&KeyQuery::Diagonal(vec![-1.0, -1.0]), 2, 0);
    let m = run(
        x0.clone(),
        2,
        neg.clone(),
        localmax(Margin::Multiplicative, 0.5),
        5,
    );
    assert!(m.step_diags().iter().all(|s| s.margin_undefined == 20));
    // the fallback is the argmax set: identical to hardmax
    let h = run(x0.clone(), 2, neg, Rule::Hardmax, 5);
    assert_eq!(m.trajectory(), h.trajectory());
    // with A = I all maxima are positive: nothing to report
    let p = run(x0, 2, eye(2), localmax(Margin::Multiplicative, 0.5), 5);
    assert!(p.step_diags().iter().all(|s| s.margin_undefined == 0));
}

#[test]
fn attention_graph_asymmetry_matches_a_direct_count() {
    for (x0, d, a) in random_configs().into_iter().take(12) {
        for rule in [
            Rule::Hardmax,
            localmax(Margin::Additive, 0.2),
            localmax(Margin::Multiplicative, 0.2),
        ] {
            let r = run(x0.clone(), d, a.clone(), rule.clone(), 1);
            let n = r.n();
            let rows: Vec<Vec<usize>> = (0..n)
                .map(|i| r.attention_row(0, i).iter().map(|p| p.0).collect())
                .collect();
            let mut asym = 0;
            for i in 0..n {
                assert_eq!(r.neighbours(i).unwrap(), rows[i]);
                for &j in &rows[i] {
                    if j != i && !rows[j].contains(&i) {
                        asym += 1;
                    }
                }
            }
            assert_eq!(r.step_diags()[0].asymmetry, asym, "{rule:?}");
        }
    }
    // the emerging-leader case at k = 0: token 1 attends to 3, 3 attends to 0 only
    let r = run(
        initial_points(&Init::Fig2Leader, 0, 2, 0),
        2,
        eye(2),
        Rule::Hardmax,
        1,
    );
    assert_eq!(r.attention_row(0, 1), vec![(3, 1.0)]);
    assert!(r.step_diags()[0].asymmetry >= 2);
}

#[test]
fn distance_to_final_decays_but_is_not_zero_before_the_end() {
    let r = run(
        initial_points(&Init::Fig2Square, 0, 2, 1),
        2,
        eye(2),
        localmax(Margin::Additive, 0.1),
        200,
    );
    let m = r.max_distance_to_final();
    assert_eq!(m.len(), 201);
    assert_eq!(m[200], 0.0);
    assert!(m[0] > 0.1);
    assert!(m[100] > 0.0 && m[100] < 1e-6, "{}", m[100]);
}

#[test]
fn pca_has_deterministic_axes() {
    // points on the line t·(0, 3, 0, -4, 0)/5 plus tiny noise in coordinate 0
    let mut pts = Vec::new();
    for t in 0..20 {
        let t = t as f64 - 9.5;
        pts.extend([1e-3 * (t * 7.0).sin(), 0.6 * t, 0.0, -0.8 * t, 0.0]);
    }
    let p = Pca::fit(&pts, 5, 2);
    // sign convention: the largest-magnitude component (-0.8 at index 3) is made positive
    assert!(
        (p.axes[3] - 0.8).abs() < 1e-9 && (p.axes[1] + 0.6).abs() < 1e-9,
        "{:?}",
        &p.axes[..5]
    );
    assert!(p.variances[0] > 1e3 * p.variances[1]);
    let proj = p.project(&pts);
    assert_eq!(proj.len(), 40);
    assert!((proj[2] - proj[0] + 1.0).abs() < 1e-6);
}

#[test]
fn random_initial_points_are_seeded() {
    for init in [
        Init::Square,
        Init::Disk,
        Init::Clusters { k: 4, sd: 0.05 },
        Init::Circle,
        Init::Fig2Square,
    ] {
        for d in [2, 3, 7] {
            let a = initial_points(&init, 50, d, 11);
            assert_eq!(a, initial_points(&init, 50, d, 11));
            if init != Init::Circle || d > 2 {
                assert_ne!(a, initial_points(&init, 50, d, 12), "{init:?}");
            }
            assert!(a.iter().all(|v| v.is_finite()));
        }
    }
    let c = initial_points(&Init::Circle, 12, 3, 1);
    for row in c.chunks_exact(3) {
        assert!((row.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let disk = initial_points(&Init::Disk, 500, 2, 1);
    assert!(disk
        .chunks_exact(2)
        .all(|p| p[0] * p[0] + p[1] * p[1] <= 1.0));
}

#[test]
fn ties_survive_rounding_in_a_rotated_non_leader_case() {
    // The non-leader case rotated by an angle: the two alignments of (±0.5, 0)' with its two
    // neighbouring vertices are equal in exact arithmetic but not after rounding. The documented
    // tolerance keeps both, so the token still goes to the rotated edge midpoint.
    for theta in [0.3f64, 1.0, 2.2, -0.7] {
        let (s, c) = theta.sin_cos();
        let x0: Vec<f64> = initial_points(&Init::Fig2NonLeader, 0, 2, 3)
            .chunks_exact(2)
            .flat_map(|p| [c * p[0] - s * p[1], s * p[0] + c * p[1]])
            .collect();
        for rule in [
            Rule::Hardmax,
            localmax(Margin::Additive, 0.0),
            localmax(Margin::Multiplicative, 0.0),
        ] {
            let r = run(x0.clone(), 2, eye(2), rule.clone(), 60);
            let want = [-c, -s]; // rotated (-1, 0)
            assert!(
                close(pt(&r, 60, 4), want, 1e-9),
                "theta {theta} {rule:?}: {:?}",
                pt(&r, 60, 4)
            );
            assert!(close(pt(&r, 60, 5), [c, s], 1e-9));
        }
    }
}

#[test]
fn asymmetry_matches_a_direct_count_across_bit_blocks() {
    // n = 150 spans three 64-bit words per row: checks the blocked bit transpose
    for (seed, delta) in [(1u64, 0.05), (2, 0.3), (3, 0.0)] {
        let x0 = initial_points(&Init::Disk, 150, 2, seed);
        let r = run(x0, 2, eye(2), localmax(Margin::Additive, delta), 1);
        let rows: Vec<Vec<usize>> = (0..150).map(|i| r.neighbours(i).unwrap()).collect();
        let mut asym = 0;
        for i in 0..150 {
            for &j in &rows[i] {
                if j != i && !rows[j].contains(&i) {
                    asym += 1;
                }
            }
        }
        assert!(asym > 0);
        assert_eq!(r.step_diags()[0].asymmetry, asym);
    }
}

#[test]
fn localmax_square_setups_from_the_reference() {
    // additive margin, alpha = 0.5, 200 steps, seeds 0 and 1 of the Figure 2 square
    for seed in [0u64, 1] {
        let go = |delta: f64| {
            let x0 = initial_points(&Init::Fig2Square, 0, 2, seed);
            run(x0, 2, eye(2), localmax(Margin::Additive, delta), 200)
        };
        let full = 2.0 * 2f64.sqrt();
        // delta = 0: the 4 vertices
        let r = go(0.0);
        assert_eq!(r.state_diags()[200].clusters, 4);
        let area = r.state_diags()[200].area.unwrap();
        // not 1e-12: once interior tokens are within the tie tolerance of a vertex they count as
        // tied with it, and the vertex may move by O(1e-12) (documented in dynamics::TIE_REL_TOL)
        assert!((area - 4.0).abs() < 1e-9, "seed {seed}: area {area}");
        // small delta: the limit polytope is pulled inward
        for delta in [0.05, 0.1, 0.3] {
            let s = go(delta).state_diags()[200];
            assert!(
                s.area.unwrap() < 3.95 && s.area.unwrap() > 3.0,
                "delta {delta}: area {:?}",
                s.area
            );
            assert!(s.diameter < full - 1e-3);
        }
        // delta = 1: a centre cluster (the 6 interior tokens) next to the 4 vertices
        let r = go(1.0);
        assert_eq!(r.state_diags()[200].clusters, 5);
        let f = r.final_positions();
        assert!((4..10).all(|i| f[2 * i].hypot(f[2 * i + 1]) < 1e-3));
        // delta = 5: consensus
        assert!(go(5.0).state_diags()[200].diameter < 1e-12);
    }
}

/// -0.0 and 0.0 are the same coordinate for the hull: a point at (-0, 0.003) sorted before
/// (0, -0.008) once dropped the latter (found by the diameter property test).
#[test]
fn hull_treats_negative_zero_as_zero() {
    let pts = [
        0.0, 0.003, 0.0, -0.008, 0.006, 0.004, 0.005, -0.0, -0.0, 0.003,
    ];
    let mut h = td_particles::hull::hull_2d(&pts);
    h.sort_unstable();
    assert_eq!(h, vec![0, 1, 2, 3]);
    let diameter = td_particles::hull::diameter_of(&pts, 2, &h);
    assert!((diameter - (0.006f64.powi(2) + 0.012f64.powi(2)).sqrt()).abs() < 1e-15);
}
