//! Every note the attention explorer shows, over random links: each is checked against the
//! hypotheses of what it states (hardmax for a limit polytope, A symmetric PSD for the
//! Frank-Wolfe view, δ = 0 for "exactly hardmax") or against this run's own numbers (positions,
//! diameters, neighbour sets), recomputed here rather than read from the page's diagnostics.

mod common;

use common::{dist, panel_notes};
use proptest::prelude::*;
use td_attention::explorer::Attention;
use td_attention::params::RuleChoice;
use td_attention::scene::{rule_key, Panel, Scene};
use td_core::explorer::Explorer;
use td_particles::{Margin, Rule};

fn computed(link: &str) -> Scene {
    let (state, _) = Attention::from_hash(link);
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn diameter(x: &[f64], d: usize) -> f64 {
    let pts: Vec<&[f64]> = x.chunks(d).collect();
    let mut best = 0.0f64;
    for (i, p) in pts.iter().enumerate() {
        for q in &pts[i + 1..] {
            best = best.max(dist(p, q));
        }
    }
    best
}

/// Determinant by Gaussian elimination with partial pivoting (small matrices).
fn det(mut m: Vec<f64>, n: usize) -> f64 {
    let mut result = 1.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&a, &b| m[a * n + c].abs().total_cmp(&m[b * n + c].abs()))
            .unwrap();
        if m[p * n + c] == 0.0 {
            return 0.0;
        }
        if p != c {
            for k in 0..n {
                m.swap(p * n + k, c * n + k);
            }
            result = -result;
        }
        result *= m[c * n + c];
        for r in c + 1..n {
            let f = m[r * n + c] / m[c * n + c];
            for k in c..n {
                m[r * n + k] -= f * m[c * n + k];
            }
        }
    }
    result
}

/// Symmetric and positive semidefinite by Sylvester's criterion on every principal minor, with a
/// relative tolerance (independent of the page's eigen-solver).
fn symmetric_psd(a: &[f64], d: usize) -> bool {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    for i in 0..d {
        for j in 0..d {
            if (a[i * d + j] - a[j * d + i]).abs() > 1e-9 * scale {
                return false;
            }
        }
    }
    (1u32..1 << d).all(|mask| {
        let idx: Vec<usize> = (0..d).filter(|&i| mask & (1 << i) != 0).collect();
        let k = idx.len();
        let minor: Vec<f64> = idx
            .iter()
            .flat_map(|&i| idx.iter().map(move |&j| a[i * d + j]))
            .collect();
        det(minor, k) >= -1e-9 * scale.powi(k as i32)
    })
}

/// The neighbour sets N_i at state k (tokens with a positive weight).
fn neighbour_sets(panel: &Panel, k: usize) -> Vec<Vec<usize>> {
    (0..panel.run.n())
        .map(|i| {
            let mut row: Vec<usize> = panel
                .run
                .attention_row(k, i)
                .into_iter()
                .filter(|&(_, w)| w > 0.0)
                .map(|(j, _)| j)
                .collect();
            row.sort_unstable();
            row
        })
        .collect()
}

/// All points joined by chains of steps no longer than `tol` (one single-linkage cluster).
fn single_linkage_connected(x: &[f64], d: usize, tol: f64) -> bool {
    let pts: Vec<&[f64]> = x.chunks(d).collect();
    let mut reached = vec![false; pts.len()];
    let mut stack = vec![0];
    reached[0] = true;
    while let Some(i) = stack.pop() {
        for j in 0..pts.len() {
            if !reached[j] && dist(pts[i], pts[j]) <= tol {
                reached[j] = true;
                stack.push(j);
            }
        }
    }
    reached.iter().all(|&r| r)
}

/// ⟨A x_i, x_j⟩ for every j.
fn alignments(x: &[f64], a: &[f64], d: usize, i: usize) -> Vec<f64> {
    let xi = &x[i * d..(i + 1) * d];
    let ax: Vec<f64> = (0..d)
        .map(|r| (0..d).map(|c| a[r * d + c] * xi[c]).sum())
        .collect();
    x.chunks(d)
        .map(|xj| ax.iter().zip(xj).map(|(p, q)| p * q).sum())
        .collect()
}

/// Token i's alignment with itself is the largest of its row (to 1e-12 relative).
fn argmax_is_self(x: &[f64], a: &[f64], d: usize, i: usize) -> bool {
    let row = alignments(x, a, d, i);
    let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    row[i] >= top - 1e-12 * top.abs().max(1e-300)
}

/// The number after `marker` in `text` (e.g. "at step 12" -> 12).
fn number_after(text: &str, marker: &str) -> Option<usize> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

fn links() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["softmax", "hardmax", "localmax", "localmax", "compare"]),
        prop::sample::select(vec!["additive", "multiplicative"]),
        prop::sample::select(vec![0.0, 0.0, 0.05, 0.3, 1.0]),
        prop::sample::select(vec![
            "schedule=constant",
            "schedule=vanishing&q=1",
            "schedule=vanishing&q=2",
            "schedule=geometric&r=0.9",
            "schedule=piecewise&pieces=0:0.3,10:0",
        ]),
        prop::sample::select(vec![1.0, 5.0, 20.0, 50.0]),
        prop::sample::select(vec![
            "identity", "diagonal", "spd", "negdef", "rotation", "general",
        ]),
        prop::sample::select(vec![
            "square", "disk", "clusters", "circle", "fig2-leader", "fig2-square",
        ]),
        prop::sample::select(vec![1usize, 2, 3, 4]),
        prop::sample::select(vec![4usize, 9, 20]),
        prop::sample::select(vec![10usize, 40, 120]),
        prop::sample::select(vec![0.25, 0.5, 2.0]),
        (1u64..5, any::<bool>()),
    )
        .prop_map(
            |(rule, margin, delta, schedule, beta, matrix, init, d, n, steps, alpha, (seed, cells))| {
                format!(
                    "#attention?v=1&rule={rule}&margin={margin}&delta={delta}&{schedule}&beta={beta}&matrix={matrix}&init={init}&d={d}&n={n}&steps={steps}&alpha={alpha}&seed={seed}&cells={}",
                    u8::from(cells)
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn every_attention_note_is_true_for_its_link(link in links()) {
        let scene = computed(&link);
        let st = &scene.state;
        for note in &scene.notes {
            if note.contains("drawn only for d = 2") {
                prop_assert!(st.d != 2, "{link}");
            }
            if note.contains("(this A is not)") {
                let a = &scene.panels[0].run.spec().a;
                prop_assert!(!symmetric_psd(a, st.d), "{link}: A is PSD: {a:?}");
            }
            if note.contains("principal components") {
                prop_assert!(st.d > 3, "{link}");
            }
        }
        for panel in &scene.panels {
            let run = &panel.run;
            let spec = run.spec();
            let (d, big_k) = (spec.d, run.computed_steps());
            let scale = run.state_diags()[0].diameter.max(1e-300);
            let moved = |k: usize| dist(run.positions(k), run.positions(k + 1)) > 0.0;
            for note in panel_notes(&scene, panel) {
                // The limit polytope is hardmax's theorem.
                if note.contains("limit polytope") {
                    prop_assert!(matches!(spec.rule, Rule::Hardmax), "{link}: {note}");
                }
                if note.contains("all tokens ended at one point") {
                    let diam = diameter(run.final_positions(), d);
                    prop_assert!(diam <= 2.0 * spec.cluster_tol, "{link}: diameter {diam}");
                }
                if note.contains("all tokens ended in one cluster") {
                    prop_assert!(d > 3, "{link}");
                    prop_assert!(single_linkage_connected(run.final_positions(), d, spec.cluster_tol), "{link}");
                }
                // Softmax: whether the diameter still shrinks, read from this run.
                if note.contains("diameter is still shrinking") || note.contains("no longer shrinks measurably") {
                    prop_assert!(matches!(spec.rule, Rule::Softmax { .. }), "{link}");
                    let mid = diameter(run.positions(big_k / 2), d);
                    let last = diameter(run.final_positions(), d);
                    prop_assert_eq!(note.contains("still shrinking"), last < mid, "{}: {} -> {}", link, mid, last);
                }
                // Convergence at the last step.
                if note.contains("diameter still decreasing at the last step") {
                    prop_assert!(diameter(run.positions(big_k), d) < diameter(run.positions(big_k - 1), d), "{link}");
                }
                if note.contains("reached 0 in floating point") {
                    prop_assert_eq!(diameter(run.final_positions(), d), 0.0, "{}", link);
                }
                if note.contains("tokens still move at the last step") {
                    prop_assert!(moved(big_k - 1), "{link}");
                }
                if let Some(stopped) = number_after(note, "no token moves after step ") {
                    prop_assert!((stopped..big_k).all(|k| !moved(k)), "{link}: a token moves after {stopped}");
                    prop_assert!(stopped == 0 || moved(stopped - 1), "{link}: nothing moved at step {}", stopped - 1);
                }
                // Leaders that stayed fixed.
                if note.contains("became a leader at step") {
                    for item in note.split("; ") {
                        let (Some(i), Some(k0)) = (number_after(item, "token "), number_after(item, "at step ")) else { continue };
                        let here = &run.positions(k0)[i * d..(i + 1) * d];
                        let furthest = (k0..=big_k).map(|k| dist(&run.positions(k)[i * d..(i + 1) * d], here)).fold(0.0, f64::max);
                        prop_assert!((k0..big_k).all(|k| run.fixed_leaders(k).contains(&i)), "{link}: token {i} not a fixed leader from {k0}");
                        // Its own alignment is the largest: it is its argmax set (under hardmax
                        // that is all it attends to).
                        prop_assert!((k0..big_k).all(|k| argmax_is_self(run.positions(k), &spec.a, d, i)), "{link}: token {i} is not its own maximiser after {k0}");
                        if matches!(spec.rule, Rule::Hardmax) {
                            prop_assert!((k0..big_k).all(|k| neighbour_sets(panel, k)[i] == vec![i]), "{link}: token {i} attends elsewhere after {k0}");
                        }
                        if item.contains("stayed fixed") {
                            prop_assert!(furthest <= 1e-9 * scale, "{link}: token {i} moved by {furthest}");
                        } else {
                            prop_assert!(furthest > 1e-9 * scale, "{link}");
                        }
                    }
                }
                // "δ = 0: localmax is exactly hardmax": the hardmax run from the same start is the same run.
                if note.contains("delta = 0: localmax is exactly hardmax") {
                    let hard = computed(&link.replace(&format!("rule={}", rule_key(st.rule)), "rule=hardmax"));
                    prop_assert_eq!(hard.panels[0].run.final_positions(), run.final_positions(), "{}", link);
                }
                if let Some(from) = number_after(note, "delta = 0 from step ") {
                    let Rule::Localmax { schedule, .. } = &spec.rule else { panic!("{link}") };
                    prop_assert!((from..big_k).all(|k| schedule.delta_at(k) == 0.0), "{link}");
                    prop_assert!(from == 0 || schedule.delta_at(from - 1) != 0.0, "{link}");
                    // Hardmax started from this run's state at `from` ends where this run ends.
                    let x0: Vec<String> = run.positions(from).chunks(d).map(|p| p.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(",")).collect();
                    let hard = computed(&format!(
                        "{}&init=custom&x0={}&steps={}",
                        link.replace(&format!("rule={}", rule_key(st.rule)), "rule=hardmax"),
                        x0.join(";"),
                        big_k - from
                    ));
                    prop_assert_eq!(hard.panels[0].run.final_positions(), run.final_positions(), "{}", link);
                }
                // The multiplicative margin is undefined where the largest alignment is ≤ 0.
                if note.contains("multiplicative margin is undefined") {
                    let k = number_after(note, " at step ").unwrap();
                    prop_assert!(matches!(spec.rule, Rule::Localmax { margin: Margin::Multiplicative, .. }), "{link}");
                    let count = number_after(note, "undefined for ").unwrap();
                    let undefined = (0..run.n())
                        .filter(|&i| alignments(run.positions(k), &spec.a, d, i).into_iter().fold(f64::NEG_INFINITY, f64::max) <= 0.0)
                        .count();
                    prop_assert_eq!(undefined, count, "{}: step {}", link, k);
                }
                // Frank-Wolfe needs A symmetric PSD (and hardmax).
                if note.contains("Frank-Wolfe view") {
                    prop_assert!(matches!(spec.rule, Rule::Hardmax), "{link}");
                    prop_assert!(symmetric_psd(&spec.a, d), "{link}: A is not symmetric PSD");
                }
                // An asymmetric attention graph, counted from the neighbour sets.
                if let Some(asym) = number_after(note, "the attention graph is asymmetric at ") {
                    let counted = (0..big_k).filter(|&k| {
                        let sets = neighbour_sets(panel, k);
                        sets.iter().enumerate().any(|(i, row)| row.iter().any(|&j| j != i && !sets[j].contains(&i)))
                    }).count();
                    prop_assert_eq!(counted, asym, "{}", link);
                }
            }
        }
        // Softmax never gets the hardmax limit theorem or "exactly hardmax".
        if st.rule == RuleChoice::Softmax {
            prop_assert!(!scene.notes.iter().any(|n| n.contains("limit polytope") || n.contains("exactly hardmax")), "{link}");
        }
    }
}
