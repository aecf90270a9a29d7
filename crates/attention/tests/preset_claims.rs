//! Each attention preset's description is a claim about its run: checked here against the run's
//! positions (every preset is covered, so a new preset needs its check).

mod common;

use common::dist;
use td_attention::explorer::Attention;
use td_attention::presets::{preset, Preset, PRESETS};
use td_attention::scene::{one_cluster_from, Scene};
use td_core::explorer::Explorer;
use td_particles::Run;

fn scene_of(hash: &str) -> Scene {
    let (state, msgs) = Attention::from_hash(hash);
    assert!(msgs.is_empty(), "{hash}: {msgs:?}");
    let mut scene = Scene::new(state);
    while !scene.advance(usize::MAX) {}
    scene
}

fn point(run: &Run, k: usize, i: usize) -> &[f64] {
    let d = run.spec().d;
    &run.positions(k)[i * d..(i + 1) * d]
}

fn last(run: &Run, i: usize) -> &[f64] {
    point(run, run.computed_steps(), i)
}

fn diameter(run: &Run, k: usize) -> f64 {
    run.state_diags()[k].diameter
}

fn clusters(run: &Run) -> usize {
    run.state_diags().last().unwrap().clusters
}

/// The Figure 2 runs take 30 steps of gamma = 1/3: (2/3)^30 ≈ 5e-6 of the way is left.
const FIG2_TOL: f64 = 1e-4;

const CORNERS: [[f64; 2]; 4] = [[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]];

fn near_a_corner(p: &[f64], tol: f64) -> bool {
    CORNERS.iter().any(|c| dist(p, c) <= tol)
}

/// The largest move of any token during the last step.
fn last_move(run: &Run) -> f64 {
    let k = run.computed_steps();
    (0..run.n())
        .map(|i| dist(point(run, k - 1, i), point(run, k, i)))
        .fold(0.0, f64::max)
}

/// "a → b in diameter" as written in a description, to two decimals.
fn says_diameters(description: &str, run: &Run) {
    let text = format!(
        "{:.2} → {:.2} in diameter",
        diameter(run, 0),
        diameter(run, run.computed_steps())
    );
    assert!(description.contains(&text), "{description} (run: {text})");
}

#[test]
fn every_preset_description_holds_for_its_run() {
    for p in PRESETS {
        let scene = scene_of(p.hash);
        let run = &scene.panels[0].run;
        let n = run.n();
        let k = run.computed_steps();
        match p.name {
            "fig2-leader" | "fig2-square" | "vanishing" | "fig2-nonleader" => {
                figure2_and_square(p, run)
            }
            "localmax" | "multiplicative" => {
                // The corners are pulled inward and some token settles on an edge, away from
                // every corner.
                for i in 0..4 {
                    let c = last(run, i);
                    assert!(
                        c[0].abs() < 0.999 && c[1].abs() < 0.999,
                        "{}: corner {i} at {c:?}",
                        p.name
                    );
                }
                let extra = (0..n).any(|i| {
                    let q = last(run, i);
                    q.iter().any(|v| v.abs() < 0.05) && q.iter().any(|v| v.abs() > 0.8)
                });
                assert!(extra, "{}: no token on an edge", p.name);
            }
            "centre-cluster" => {
                for (i, corner) in CORNERS.iter().enumerate() {
                    assert_eq!(last(run, i), &corner[..]);
                }
                for i in 4..n {
                    assert!(dist(last(run, i), &[0.0, 0.0]) < 1e-6, "token {i}");
                }
            }
            "consensus" | "negdef" => {
                assert!(
                    diameter(run, k) < 1e-9,
                    "{}: diameter {}",
                    p.name,
                    diameter(run, k)
                );
            }
            "compare" => compare(p, &scene),
            "frank-wolfe" => {
                assert!(scene.is_psd());
                assert!(
                    (2..=6).contains(&clusters(run)),
                    "a few clusters: {}",
                    clusters(run)
                );
            }
            "softmax" => {
                assert!(
                    (2..=8).contains(&clusters(run)),
                    "beta = 20: {} clusters",
                    clusters(run)
                );
                let five = scene_of(&p.hash.replace("beta=20", "beta=5"));
                assert!(
                    diameter(&five.panels[0].run, k) < 1e-9,
                    "beta = 5 does not collapse"
                );
            }
            "3d" | "large" => {
                says_diameters(p.description, run);
                assert!(
                    p.description
                        .contains(&format!("{} clusters", clusters(run))),
                    "{}: {} clusters",
                    p.name,
                    clusters(run)
                );
                if p.name == "large" {
                    // "…until floating-point rounding stops the tokens."
                    assert_eq!(last_move(run), 0.0, "large: tokens still move");
                }
            }
            "pca" => assert_eq!(clusters(run), 4),
            "sphere-circle" | "sphere-3d" => sphere_clusters(p, run),
            "sphere-metastable" => sphere_plateau(p, run),
            "sphere-vs-rd" | "sphere-usa" => sphere_pairs(p, &scene),
            "sphere-mean-field" => sphere_mean_field(p, run),
            "sphere-equiangular" => {
                // Recomputed here from the positions, against the page's scalar solution.
                let rho = scene.equiangular(0).expect("the equation governs this run");
                let d = run.spec().d;
                let mut worst = 0.0f64;
                for (k, r) in rho.iter().enumerate() {
                    let x = run.positions(k);
                    for i in 0..n {
                        for j in i + 1..n {
                            let s: f64 = (0..d).map(|c| x[i * d + c] * x[j * d + c]).sum();
                            worst = worst.max((s - r).abs());
                        }
                    }
                }
                assert!(worst <= 1e-9, "equiangular gap {worst:e}");
                assert!(p.description.contains("to within 1e-9"));
                assert!((rho[k] - 0.1).abs() > 0.5, "ρ moves (to {})", rho[k]);
            }
            other => panic!("preset {other} has no check of its description"),
        }
    }
    assert!(preset("fig2-leader").is_some());
}

/// The Figure 2 set-ups and the fast-fading schedule on the square.
fn figure2_and_square(p: &Preset, run: &Run) {
    let (n, k) = (run.n(), run.computed_steps());
    match p.name {
        "fig2-leader" => {
            // Token 1 is a fixed leader from step 1 on and never moves again; the others end
            // at (1, 1/3) or (−1, −1).
            assert!((1..k).all(|s| run.fixed_leaders(s).contains(&1)));
            assert_eq!(point(run, 1, 1), last(run, 1));
            for i in (0..n).filter(|&i| i != 1) {
                let p = last(run, i);
                assert!(
                    dist(p, &[1.0, 1.0 / 3.0]) < FIG2_TOL || dist(p, &[-1.0, -1.0]) < FIG2_TOL,
                    "token {i} ends at {p:?}"
                );
            }
        }
        "fig2-square" | "vanishing" => {
            // Hardmax keeps the corners and sends every other token to one; the fast-fading
            // schedule ends within 0.001 of that.
            let tol = if p.name == "vanishing" {
                1e-3
            } else {
                FIG2_TOL
            };
            for (i, corner) in CORNERS.iter().enumerate() {
                assert!(
                    dist(last(run, i), corner) <= if p.name == "vanishing" { tol } else { 0.0 },
                    "{}: corner {i} moved",
                    p.name
                );
            }
            for i in 4..n {
                assert!(near_a_corner(last(run, i), tol), "{}: token {i}", p.name);
            }
            if p.name == "vanishing" {
                // "With q = 1 the corners end slightly inside and one token stays on an edge."
                let slow = scene_of(&format!("{}&q=1", p.hash));
                let run = &slow.panels[0].run;
                let inside = (0..4).all(|i| {
                    let c = last(run, i);
                    c[0].abs() < 1.0 && c[1].abs() < 1.0
                });
                assert!(inside, "q = 1: a corner stayed on its vertex");
                let on_edge = (0..n)
                    .filter(|&i| last(run, i).iter().any(|v| v.abs() < 1e-2))
                    .count();
                assert!(on_edge >= 1, "q = 1: no token on an edge");
            }
        }
        "fig2-nonleader" => {
            // The tokens starting at (±0.5, 0) end at the edge midpoints (±1, 0), and no
            // token there is its own leader.
            for i in 0..n {
                let start = point(run, 0, i);
                if (start[0].abs() - 0.5).abs() < 1e-12 && start[1] == 0.0 {
                    let end = last(run, i);
                    assert!(dist(end, &[start[0].signum(), 0.0]) < FIG2_TOL, "{end:?}");
                    assert!(!run.fixed_leaders(k - 1).contains(&i));
                }
            }
        }
        _ => unreachable!(),
    }
}

/// All three rules from one start.
fn compare(p: &Preset, scene: &Scene) {
    let k = scene.panels[0].run.computed_steps();
    let n = scene.panels[0].run.n();
    let [soft, hard, local] = &scene.panels[..] else {
        panic!("compare shows three panels")
    };
    assert!(diameter(&soft.run, k) < 1e-9);
    // Hardmax: every token ends attending to itself (a leader; its argmax set is its
    // own cluster), and nothing moves any more.
    assert_eq!(
        hard.run.leaders(k - 1).len(),
        n,
        "not every hardmax token is a leader"
    );
    assert!(last_move(&hard.run) < 1e-12, "hardmax tokens still move");
    assert!(p.description.contains(&format!(
        "hardmax gathers them in {} clusters",
        clusters(&hard.run)
    )));
    says_diameters(p.description, &local.run);
    assert!(p
        .description
        .contains(&format!("{} clusters", clusters(&local.run))));
}

/// The time from which a sphere run has one cluster, as written ("by t = …" / "from t = …").
fn one_cluster_time(run: &Run) -> f64 {
    let from = one_cluster_from(run).expect("the run ends in one cluster");
    from as f64 * run.spec().sphere.as_ref().unwrap().time.h()
}

/// Sphere presets that end in one cluster: the time, and the energy's rise where stated.
fn sphere_clusters(p: &Preset, run: &Run) {
    let t = format!("t = {}", (one_cluster_time(run) * 10.0).round() / 10.0);
    assert!(p.description.contains(&t), "{}: {t}", p.name);
    let energy: Vec<f64> = run
        .state_diags()
        .iter()
        .map(|s| s.sphere.unwrap().energy)
        .collect();
    assert!(energy.windows(2).all(|w| w[1] >= w[0] - 1e-9));
    if p.name == "sphere-circle" {
        let text = format!(
            "from {:.2} to {}",
            energy[0],
            (energy.last().unwrap() * 100.0).round() / 100.0
        );
        assert!(p.description.contains(&text), "{}: {text}", p.name);
    }
}

/// "2,000 tokens … on the circle … 200 post-norm layers … into M clusters at t = 10 and m at t = 20".
fn sphere_mean_field(p: &Preset, run: &Run) {
    let h = run.spec().sphere.as_ref().unwrap().time.h();
    let c: Vec<usize> = run.state_diags().iter().map(|s| s.clusters).collect();
    let (middle, last) = (c[(10.0 / h).round() as usize], c[c.len() - 1]);
    let text = format!("{middle} clusters at t = 10 and {last} at t = 20");
    assert!(p.description.contains(&text), "{}: {text}", p.name);
    assert_eq!((run.n(), run.spec().d, c.len() - 1), (2000, 2, 200));
}

/// "k clusters from t = a to t = b before the next merge, and m are left at t = T": the count
/// stays k over states a/h..b/h, drops after, and ends at m.
fn sphere_plateau(p: &Preset, run: &Run) {
    let h = run.spec().sphere.as_ref().unwrap().time.h();
    let c: Vec<usize> = run.state_diags().iter().map(|s| s.clusters).collect();
    let (a, b) = ((10.5 / h) as usize, (48.5 / h) as usize);
    assert!(
        c[a..b].iter().all(|&x| x == 6),
        "6 clusters over [10.5, 48.5)"
    );
    assert_ne!(c[a - 1], 6, "the plateau starts at 10.5");
    assert!(c[b] < 6, "a merge at 48.5");
    assert!(p.description.contains(&format!(
        "{} are left at t = {}",
        c.last().unwrap(),
        (c.len() - 1) as f64 * h
    )));
}

/// The two-geometry sphere presets: R^d beside the sphere, and USA beside SA.
fn sphere_pairs(p: &Preset, scene: &Scene) {
    let k = scene.panels[0].run.computed_steps();
    match p.name {
        "sphere-vs-rd" => {
            let [rd, sph] = &scene.panels[..] else {
                panic!("R^d and sphere panels")
            };
            assert!(rd.run.spec().sphere.is_none() && sph.run.spec().sphere.is_some());
            assert_eq!(rd.run.positions(0), sph.run.positions(0), "the same start");
            let from = rd
                .run
                .state_diags()
                .iter()
                .rposition(|s| s.clusters != 1)
                .map_or(0, |k| k + 1);
            assert_eq!(clusters(&rd.run), 1);
            assert!(p
                .description
                .contains(&format!("one cluster from step {from}")));
            assert!(p.description.contains(&format!(
                "{} clusters remain after {k} layers",
                clusters(&sph.run)
            )));
        }
        "sphere-usa" => {
            let [sa, usa] = &scene.panels[..] else {
                panic!("SA and USA panels")
            };
            let t = format!(
                "one cluster from t = {}",
                (one_cluster_time(&usa.run) * 10.0).round() / 10.0
            );
            assert!(p.description.contains(&t), "{t}");
            let h = sa.run.spec().sphere.as_ref().unwrap().time.h();
            assert!(p.description.contains(&format!(
                "self-attention still has {} clusters at t = {}",
                clusters(&sa.run),
                k as f64 * h
            )));
        }
        _ => unreachable!(),
    }
}
