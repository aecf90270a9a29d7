//! Notes are claims: each is shown only under the settings where it is true. For every case
//! below the claim is checked against the run's own numbers, and the note is required where it
//! holds and absent where it does not (the cases of the issue "every sentence the page says is
//! true for the settings it is shown under", which the notes of the old code got wrong).

use td_core::explorer::Explorer;
use td_next_token::explorer::NextToken;
use td_next_token::presets::preset;
use td_next_token::scene::Scene;

fn computed(link: &str) -> Scene {
    let (state, msgs) = NextToken::from_hash(link);
    assert!(msgs.is_empty(), "{link}: {msgs:?}");
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn has(scene: &Scene, part: &str) -> bool {
    scene.notes.iter().any(|n| n.contains(part))
}

/// The final distribution of the first trajectory.
fn final_p(scene: &Scene) -> Vec<f64> {
    scene.readouts()[0].p.to_vec()
}

fn max_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Case 2: in truncation-first order the nucleus (and min-p) set is chosen before temperature,
/// so it is the same at every T; the note must say so, and min-p is not "nucleus decoding".
#[test]
fn truncation_first_sets_do_not_depend_on_temperature() {
    for trunc in ["trunc=top-p&top_p=0.8", "trunc=min-p&min_p=0.2"] {
        let link = |t: &str, order: &str| {
            format!("#next-token?v=1&flow=entropic&s=2,1,0,-1,3&T={t}&{trunc}&order={order}&p0=uniform&t=2")
        };
        let supports: Vec<Vec<usize>> = ["0.3", "3", "7"]
            .iter()
            .map(|t| computed(&link(t, "trunc-first")).support.clone())
            .collect();
        assert!(
            supports.windows(2).all(|w| w[0] == w[1]),
            "{trunc}: {supports:?}"
        );
        let scene = computed(&link("0.3", "trunc-first"));
        assert!(
            has(&scene, "the same at every T"),
            "{trunc}: {:?}",
            scene.notes
        );
        assert!(!has(&scene, "depends on T"), "{trunc}: {:?}", scene.notes);
        // Temperature first, the set does move with T, and the note says that instead.
        let moved: Vec<usize> = ["0.3", "3"]
            .iter()
            .map(|t| computed(&link(t, "temp-first")).support.len())
            .collect();
        assert_ne!(
            moved[0], moved[1],
            "{trunc}: temperature first, sets {moved:?}"
        );
        assert!(has(&computed(&link("0.3", "temp-first")), "depends on T"));
        if trunc.contains("min-p") {
            assert!(!has(&scene, "nucleus"), "{:?}", scene.notes);
        }
    }
}

/// Case 3: at η·T = 2 exactly Flow D is a 2-cycle (every second step is p0 again), not a
/// divergence; above 2 it diverges.
#[test]
fn mirror_descent_at_eta_t_two_is_a_two_cycle() {
    let scene = computed("#next-token?v=1&flow=entropic-mw&eta=2&s=2,1,0&p0=0.2,0.3,0.5&t=40&T=1");
    // t = 40 is k = 20 steps: an even number, so back at p0.
    let gap = max_gap(&final_p(&scene), &[0.2, 0.3, 0.5]);
    assert!(gap < 1e-9, "p at k = 20 is {gap} from p0");
    assert!(has(&scene, "2-cycle"), "{:?}", scene.notes);
    assert!(!has(&scene, "diverges"), "{:?}", scene.notes);
    let above =
        computed("#next-token?v=1&flow=entropic-mw&eta=2.1&s=2,1,0&p0=0.2,0.3,0.5&t=40&T=1");
    assert!(has(&above, "diverges"), "{:?}", above.notes);
}

/// Case 5: with memory scores, temperature is not a time rescaling of Flow A (the memory relaxes
/// at its own rate); with fixed scores it is, to rounding.
#[test]
fn time_rescaling_is_claimed_only_where_it_holds() {
    let memory = "flow=replicator&adjust=memory&gamma=2&mu=0.5&s=2,1,0&p0=0.2,0.3,0.5";
    let a = computed(&format!("#next-token?v=1&{memory}&t=2&T=0.5"));
    let b = computed(&format!("#next-token?v=1&{memory}&t=4&T=1"));
    assert!(max_gap(&final_p(&a), &final_p(&b)) > 1e-4);
    assert!(!has(&a, "exact time rescaling"), "{:?}", a.notes);
    let fixed = "flow=replicator&s=2,1,0&p0=0.2,0.3,0.5";
    let a = computed(&format!("#next-token?v=1&{fixed}&t=2&T=0.5"));
    let b = computed(&format!("#next-token?v=1&{fixed}&t=4&T=1"));
    assert!(max_gap(&final_p(&a), &final_p(&b)) < 1e-12);
    assert!(has(&a, "exact time rescaling"), "{:?}", a.notes);
}

/// Case 6: with memory scores Flow C need not converge to softmax(s/T) (here it does not), so the
/// fixed-score theorem is not shown.
#[test]
fn flow_c_convergence_is_claimed_for_fixed_scores_only() {
    let scene = computed("#next-token?v=1&flow=entropic&adjust=memory&gamma=-3&mu=0.2&s=2,1,0&T=0.5&p0=0.2,0.3,0.5&t=20");
    let target = &scene.pi_t;
    assert!(
        max_gap(&final_p(&scene), target) > 0.05,
        "the run did reach softmax(s/T)"
    );
    assert!(!has(&scene, "Flow C converges"), "{:?}", scene.notes);
    let fixed = computed("#next-token?v=1&flow=entropic&s=2,1,0&T=0.5&p0=0.2,0.3,0.5&t=20");
    assert!(max_gap(&final_p(&fixed), &fixed.pi_t) < 1e-3);
    assert!(has(&fixed, "Flow C converges"), "{:?}", fixed.notes);
}

/// Case 7: with path-dependent scores multiplicative weights does not sample Flow A exactly.
#[test]
fn mw_exactness_is_claimed_for_fixed_scores_only() {
    let scene = computed(
        "#next-token?v=1&flow=mw&adjust=matrix&W=rps&s=0,0,0&p0=0.5,0.3,0.2&t=10&eta=0.25",
    );
    assert!(!has(&scene, "samples Flow A exactly"), "{:?}", scene.notes);
    let fixed = computed("#next-token?v=1&flow=mw&s=2,1,0&p0=0.5,0.3,0.2&t=10&eta=0.25");
    assert!(has(&fixed, "samples Flow A exactly"), "{:?}", fixed.notes);
}

/// Case 8: the RPS preset's orbits are closed, so "converges to the argmax vertex" is false
/// there; with tied top scores the limit is a face, not a vertex.
#[test]
fn convergence_to_a_vertex_is_claimed_only_for_a_unique_argmax() {
    let rps = computed(preset("rps").expect("the rps preset").hash);
    assert!(!has(&rps, "argmax vertex"), "{:?}", rps.notes);
    let tied = computed("#next-token?v=1&flow=replicator&s=2,2,0&p0=0.2,0.3,0.5&t=40");
    let p = final_p(&tied);
    assert!(
        p[2] < 1e-9 && (p[0] / p[1] - 0.2 / 0.3).abs() < 1e-9,
        "{p:?}"
    );
    assert!(
        has(&tied, "face of the tied top scores"),
        "{:?}",
        tied.notes
    );
    assert!(!has(&tied, "argmax vertex"), "{:?}", tied.notes);
    let unique = computed("#next-token?v=1&flow=replicator&s=2,1,0&p0=0.2,0.3,0.5&t=40");
    assert!(final_p(&unique)[0] > 1.0 - 1e-9);
    assert!(has(&unique, "argmax vertex"), "{:?}", unique.notes);
}

/// Case 11: the words of the truncation notes.
#[test]
fn truncation_notes_read_right() {
    let one = computed("#next-token?v=1&flow=entropic&s=2,1,0&trunc=top-k&k=1&p0=uniform");
    assert!(
        has(&one, "keeps the same token at every temperature"),
        "{:?}",
        one.notes
    );
    assert!(!has(&one, "1 tokens"), "{:?}", one.notes);
    let face = computed("#next-token?v=1&flow=replicator&s=2,1,0,-1&trunc=top-k&k=2&p0=uniform");
    assert!(
        has(
            &face,
            "passes through the truncated softmax on the face exactly at t = 1"
        ),
        "{:?}",
        face.notes
    );
}

/// Case 4: an antisymmetric W promises a conserved Σ q log p only with an interior rest point q.
/// This W has none and the run converges to vertex 0; the RPS preset has one and conserves it.
#[test]
fn conservation_is_claimed_only_with_an_interior_rest_point() {
    let scene = computed("#next-token?v=1&flow=replicator&adjust=matrix&W=0,1,1,1,-1,0,1,1,-1,-1,0,1,-1,-1,-1,0&s=0,0,0,0&p0=0.1,0.2,0.3,0.4&t=30");
    assert!(final_p(&scene)[0] > 0.99, "{:?}", final_p(&scene));
    assert!(!has(&scene, "is conserved"), "{:?}", scene.notes);
    assert!(has(&scene, "no interior rest point"), "{:?}", scene.notes);
    let rps = computed(preset("rps").expect("the rps preset").hash);
    let conserved: Vec<f64> = rps.panels[0].runs[0]
        .run
        .samples()
        .iter()
        .filter_map(|x| x.diag.conserved)
        .collect();
    assert!(!conserved.is_empty());
    let drift = conserved
        .iter()
        .map(|v| (v - conserved[0]).abs())
        .fold(0.0, f64::max);
    assert!(drift < 1e-6, "RPS drift {drift}");
    assert!(has(&rps, "is conserved (closed loops"), "{:?}", rps.notes);
}

/// Case 4, second half: this 4×4 antisymmetric W is singular, yet has interior rest points (for
/// instance q = (6, 27, 16, 10)/59); Σ q log p is conserved along the run, so the readout carries
/// it and the note says so.
#[test]
fn a_singular_antisymmetric_w_with_an_interior_rest_point_conserves() {
    let w = [
        0.0, 1.0, -2.0, 0.5, -1.0, 0.0, 1.0, -1.0, 2.0, -1.0, 0.0, 1.5, -0.5, 1.0, -1.5, 0.0,
    ];
    let q = td_flows::scores::interior_rest_point(&[0.0; 4], &w).expect("an interior rest point");
    let wq: Vec<f64> = (0..4)
        .map(|i| (0..4).map(|j| w[i * 4 + j] * q[j]).sum())
        .collect();
    assert!(wq.iter().all(|x| (x - wq[0]).abs() < 1e-12), "W q = {wq:?}");
    assert!((q.iter().sum::<f64>() - 1.0).abs() < 1e-12 && q.iter().all(|&x| x > 0.0));
    let link = format!(
        "#next-token?v=1&flow=replicator&adjust=matrix&W={}&s=0,0,0,0&p0=0.1,0.2,0.3,0.4&t=30",
        w.map(|x| x.to_string()).join(",")
    );
    let scene = computed(&link);
    let conserved = scene.readouts()[0].conserved;
    assert!(
        conserved.is_some(),
        "the readout's conserved quantity is null"
    );
    let values: Vec<f64> = scene.panels[0].runs[0]
        .run
        .samples()
        .iter()
        .filter_map(|x| x.diag.conserved)
        .collect();
    let drift = values
        .iter()
        .map(|v| (v - values[0]).abs())
        .fold(0.0, f64::max);
    assert!(drift < 1e-6, "drift {drift}");
    assert!(has(&scene, "is conserved"), "{:?}", scene.notes);
}
