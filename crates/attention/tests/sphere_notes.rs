//! The sphere model's notes over 32 random links (sphere, or R^d beside it; one or both normalisations): each theorem note appears exactly when its
//! hypotheses hold (softmax, A = V = I, continuous time, and d >= 3 or d = 2 with β <= 1; an open
//! hemisphere for the exponential one), and each measured note agrees with the energies, cluster
//! counts and positions recomputed here from the trajectory (not read from the page's notes).

use proptest::prelude::*;
use td_attention::explorer::Attention;
mod common;

use common::panel_notes;
use td_attention::scene::Scene;
use td_core::explorer::Explorer;
use td_particles::sphere;

fn computed(link: &str) -> Scene {
    let (state, _) = Attention::from_hash(link);
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn is_identity(m: &[f64], d: usize) -> bool {
    m.iter()
        .enumerate()
        .all(|(k, &v)| v == if k % (d + 1) == 0 { 1.0 } else { 0.0 })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn sphere_notes_hold(
        rule in 0usize..4, usa in any::<bool>(), layers in any::<bool>(), value in 0usize..3,
        matrix in 0usize..3, d in 2usize..=4, n in 2usize..24, beta in 0.0f64..8.0,
        init in 0usize..4, seed in 0u64..500, norm in 0usize..2, compare_attn in any::<bool>(),
    ) {
        let rule = ["softmax", "hardmax", "localmax", "compare"][rule];
        let value = ["identity", "a", "minus"][value];
        let matrix = ["identity", "spd", "general"][matrix];
        let init = ["disk", "clusters", "square", "equiangular"][init];
        let link = format!(
            "#attention?v=1&rule={rule}&norm={}&attn={}&time={}&h=0.2&value={value}&beta={beta:.3}&matrix={matrix}&n={n}&d={d}&steps=40&init={init}&seed={seed}",
            ["sphere", "compare"][norm],
            if compare_attn { "compare" } else if usa { "usa" } else { "sa" },
            if layers { "layers" } else { "ode" },
        );
        let scene = computed(&link);
        let st = &scene.state;
        prop_assert!(!scene.panels.is_empty(), "{link}: {:?}", scene.error());
        let x0 = scene.panels[0].run.positions(0).to_vec();
        // Tokens start on the sphere.
        for p in x0.chunks(d) {
            prop_assert!((p.iter().map(|v| v * v).sum::<f64>().sqrt() - 1.0).abs() <= 1e-12);
        }
        for (index, panel) in scene.panels.iter().enumerate() {
            let run = &panel.run;
            let notes = panel_notes(&scene, panel);
            let spec = run.spec();
            let Some(sph) = spec.sphere.as_ref() else {
                // R^d beside the sphere: no sphere theorem or energy note about it.
                prop_assert!(!notes.iter().any(|t| t.contains("Thm") || t.contains("E_β")), "{}: {:?}", link, notes);
                continue;
            };
            let gradient_flow = matches!(spec.rule, td_particles::Rule::Softmax { .. })
                && !layers && is_identity(&spec.a, d) && is_identity(&sph.value, d);
            // The equiangular note: exactly when Thm 6.8 governs the run, with a gap recomputed here.
            let governs = gradient_flow && init == "equiangular" && run.n() >= 2;
            let equiangular_note = notes.iter().find(|t| t.contains("equiangular start"));
            prop_assert_eq!(equiangular_note.is_some(), governs, "{}: {:?}", link, notes);
            if let (Some(text), Some(rho)) = (equiangular_note, scene.equiangular(index)) {
                let mut worst = 0.0f64;
                for (k, r) in rho.iter().enumerate() {
                    let x = run.positions(k);
                    for i in 0..run.n() {
                        for j in i + 1..run.n() {
                            let s: f64 = (0..d).map(|c| x[i * d + c] * x[j * d + c]).sum();
                            worst = worst.max((s - r).abs());
                        }
                    }
                }
                let stated: f64 = text
                    .split("within ")
                    .nth(1)
                    .and_then(|t| t.split(' ').next())
                    .and_then(|t| t.parse().ok())
                    .expect("a stated gap");
                prop_assert!(worst <= stated * 1.05 + 1e-300, "{}: gap {} stated {}", link, worst, stated);
            }
            let thm61 = notes.iter().any(|t| t.contains("Thm 6.1"));
            prop_assert_eq!(thm61, gradient_flow && d >= 3, "{}: {:?}", link, notes);
            let thm43 = notes.iter().any(|t| t.contains("Thm 4.3"));
            prop_assert_eq!(thm43, gradient_flow && d == 2 && st.beta <= 1.0, "{}: {:?}", link, notes);
            let hemisphere = notes.iter().any(|t| t.contains("open hemisphere"));
            if hemisphere {
                prop_assert!(gradient_flow && st.beta > 0.0);
                let mut mean = vec![0.0; d];
                for p in x0.chunks(d) {
                    mean.iter_mut().zip(p).for_each(|(m, v)| *m += v);
                }
                for p in x0.chunks(d) {
                    prop_assert!(p.iter().zip(&mean).map(|(a, b)| a * b).sum::<f64>() > 0.0);
                }
            }
            // Energies recomputed from the positions.
            let energies: Vec<f64> = (0..=run.computed_steps())
                .map(|k| sphere::diagnostics(run.positions(k), run.n(), d, st.beta).energy)
                .collect();
            let largest_fall = energies
                .windows(2)
                .map(|w| w[0] - w[1])
                .fold(f64::NEG_INFINITY, f64::max);
            let never = notes.iter().any(|t| t.contains("never decreased") || t.contains("did not decrease"));
            let fell = notes.iter().any(|t| t.contains("fell by"));
            prop_assert!(never != fell, "{}: exactly one energy note: {:?}", link, notes);
            if never {
                prop_assert!(largest_fall <= sphere_slack(), "{}: fell by {}", link, largest_fall);
            } else {
                prop_assert!(largest_fall > sphere_slack());
            }
            if notes.iter().any(|t| t.contains("along this flow it cannot")) {
                prop_assert!(gradient_flow);
            }
            // One cluster from t: the last state's tokens are within tol of each other (chord).
            if notes.iter().any(|t| t.contains("one cluster (single linkage")) {
                let last = run.final_positions();
                let labels = run.cluster_labels(run.computed_steps());
                prop_assert!(labels.iter().all(|&l| l == labels[0]));
                prop_assert_eq!(last.len(), run.n() * d);
            }
        }
    }
}

fn sphere_slack() -> f64 {
    td_attention::scene::ENERGY_SLACK
}

/// The random links rarely meet every hypothesis of Thm 6.8 at once: one that does, and the same
/// link with V = −I, where the note must go.
#[test]
fn the_equiangular_note_is_shown_exactly_under_its_hypotheses() {
    let link =
        "#attention?v=1&rule=softmax&norm=sphere&h=0.05&beta=3&n=6&d=6&init=equiangular&rho0=0.1";
    let scene = computed(link);
    assert!(
        scene
            .notes
            .iter()
            .any(|t| t.contains("equiangular start: every pairwise inner product stayed within")),
        "{:?}",
        scene.notes
    );
    for other in [
        "&value=minus",
        "&time=layers",
        "&matrix=spd",
        "&attn=usa&rule=hardmax",
    ] {
        let scene = computed(&format!("{link}{other}"));
        assert!(
            !scene.notes.iter().any(|t| t.contains("equiangular start")),
            "{other}: {:?}",
            scene.notes
        );
    }
}

/// 400 tokens drawn on the circle start as ~370 "clusters" of near neighbours at chord 1e-3, and
/// that count holds for a while before anything has gathered: no plateau note may call it a
/// metastable state (the count must first fall to half its start); the run still ends gathered.
#[test]
fn no_plateau_is_claimed_before_clusters_form() {
    let scene = computed("#attention?v=1&rule=softmax&norm=sphere&time=layers&n=400&init=disk");
    let run = &scene.panels[0].run;
    let counts: Vec<usize> = run.state_diags().iter().map(|s| s.clusters).collect();
    assert!(counts[0] > 300 && counts[8] > 300, "{:?}", &counts[..9]);
    assert!(*counts.last().unwrap() < 10);
    let notes = panel_notes(&scene, &scene.panels[0]).join(" ");
    assert!(!notes.contains("measured plateau"), "{notes}");
}
