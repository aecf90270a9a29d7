//! The sphere model (arXiv 2312.10794): tokens stay on the sphere, the interaction energy does not
//! decrease along the gradient flows, two tokens on the circle follow their angle equation,
//! equiangular starts follow the scalar ODE of GLPR Thm 6.8 (= Rigollet 2512.01868 §6.1),
//! clustering for moderate β in d >= 3, and plateaus of the cluster count at large β.

use proptest::prelude::*;
use td_particles::init::{initial_points, Init};
use td_particles::matrices::{key_query_matrix, KeyQuery};
use td_particles::sphere::{Normalisation, Sphere, Time};
use td_particles::{Margin, Rule, Run, Schedule, Spec};

fn identity(d: usize) -> Vec<f64> {
    (0..d * d)
        .map(|k| if k % (d + 1) == 0 { 1.0 } else { 0.0 })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn sphere_run(
    d: usize,
    x0: Vec<f64>,
    a: Vec<f64>,
    value: Vec<f64>,
    rule: Rule,
    normalisation: Normalisation,
    time: Time,
    energy_beta: f64,
    steps: usize,
    tol: f64,
) -> Run {
    let mut run = Run::new(Spec {
        d,
        x0,
        a,
        alpha: 0.5,
        rule,
        steps,
        cluster_tol: tol,
        quiescent_from: None,
        sphere: Some(Sphere {
            value,
            normalisation,
            time,
            energy_beta,
        }),
    })
    .expect("valid sphere run");
    run.advance(steps);
    run
}

fn max_norm_error(run: &Run, d: usize) -> f64 {
    run.trajectory()
        .chunks_exact(d)
        .map(|x| (x.iter().map(|v| v * v).sum::<f64>().sqrt() - 1.0).abs())
        .fold(0.0, f64::max)
}

fn rule_of(i: u8, beta: f64, delta: f64) -> Rule {
    match i % 4 {
        0 => Rule::Softmax { beta },
        1 => Rule::Hardmax,
        2 => Rule::Localmax {
            margin: Margin::Additive,
            schedule: Schedule::Constant(delta),
        },
        _ => Rule::Localmax {
            margin: Margin::Multiplicative,
            schedule: Schedule::Constant(delta),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// |‖x_i‖ − 1| <= 1e-12 at every stored state, for every rule, both normalisations, both
    /// time discretisations, random matrices A and V, and 1 <= d <= 16.
    #[test]
    fn tokens_stay_on_the_sphere(
        d in 1usize..=16, n in 1usize..12, rule in 0u8..4, beta in 0.0f64..20.0,
        delta in 0.0f64..1.0, usa in any::<bool>(), ode in any::<bool>(),
        h in 0.01f64..2.0, matrix in 0u8..3, seed in 0u64..1000,
    ) {
        let x0 = initial_points(&Init::Disk, n, d, seed);
        let kind = [KeyQuery::Identity, KeyQuery::General, KeyQuery::SymmetricPositiveDefinite];
        let a = key_query_matrix(&kind[matrix as usize % 3], d, seed);
        let value = key_query_matrix(&KeyQuery::General, d, seed + 1);
        let normalisation = if usa { Normalisation::Unnormalised } else { Normalisation::SelfAttention };
        let time = if ode { Time::Ode { h, tol: 1e-8 } } else { Time::Layers { h } };
        let run = sphere_run(d, x0, a, value, rule_of(rule, beta, delta), normalisation, time, beta, 6, 1e-3);
        let err = max_norm_error(&run, d);
        prop_assert!(err <= 1e-12, "max |‖x‖ − 1| = {err:e}");
        prop_assert!(run.trajectory().iter().all(|v| v.is_finite()));
        for s in run.state_diags() {
            let sd = s.sphere.expect("sphere diagnostics");
            prop_assert!(sd.energy.is_finite() && sd.energy <= 1.0 + 1e-12 && sd.energy >= -1.0 - 1e-12);
            prop_assert!(sd.min_inner.is_finite());
        }
    }

    /// Along the ODE with Q = K = V = I and softmax weights, E_β never decreases: for USA it is n
    /// times the gradient ascent flow (2312.10794, Remark 3.8), for SA a gradient flow of the same
    /// energy for a modified metric (§3.4, with V = QᵀK = I). The plotted ρ_β is an increasing
    /// function of E_β, so its stored values must not fall by more than the integrator's error.
    #[test]
    fn energy_does_not_decrease_along_the_gradient_flows(
        d in 2usize..=5, n in 2usize..16, beta in 0.0f64..10.0, usa in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let x0 = initial_points(&Init::Disk, n, d, seed);
        let normalisation = if usa { Normalisation::Unnormalised } else { Normalisation::SelfAttention };
        let run = sphere_run(d, x0, identity(d), identity(d), Rule::Softmax { beta }, normalisation,
            Time::Ode { h: 0.2, tol: 1e-11 }, beta, 40, 1e-3);
        let energies: Vec<f64> = run.state_diags().iter().map(|s| s.sphere.unwrap().energy).collect();
        for (k, w) in energies.windows(2).enumerate() {
            prop_assert!(w[1] >= w[0] - 1e-9, "ρ_β fell from {} to {} at step {k}", w[0], w[1]);
        }
    }
}

/// The scalar ODE of an equiangular configuration, ⟨x_i, x_j⟩ = ρ for all i != j (GLPR Thm 6.8,
/// eqs. (6.9)–(6.10); Rigollet 2512.01868 §6.1): SA ρ' = 2e^{βρ}(1−ρ)((n−1)ρ+1)/(e^β+(n−1)e^{βρ}),
/// USA ρ' = (2/n)e^{βρ}(1−ρ)((n−1)ρ+1). Classical RK4 with `sub` steps per unit h.
fn equiangular_rho(rho0: f64, n: usize, beta: f64, usa: bool, times: &[f64]) -> Vec<f64> {
    let nf = n as f64;
    let f = |r: f64| {
        let g = (beta * r).exp() * (1.0 - r) * ((nf - 1.0) * r + 1.0);
        if usa {
            2.0 * g / nf
        } else {
            2.0 * g / (beta.exp() + (nf - 1.0) * (beta * r).exp())
        }
    };
    let mut out = Vec::new();
    let (mut t, mut r) = (0.0f64, rho0);
    let dt = 1e-4f64;
    for &target in times {
        while t < target - 1e-15 {
            let s = dt.min(target - t);
            let k1 = f(r);
            let k2 = f(r + 0.5 * s * k1);
            let k3 = f(r + 0.5 * s * k2);
            let k4 = f(r + s * k3);
            r += s / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
            t += s;
        }
        out.push(r);
    }
    out
}

/// n unit vectors in R^d (d >= n) with pairwise inner product rho0: the Cholesky factor of the
/// Gram matrix (1 − ρ)I + ρJ, padded with zeros.
fn equiangular_start(n: usize, d: usize, rho0: f64) -> Vec<f64> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let g = if i == j { 1.0 } else { rho0 };
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            l[i * n + j] = if i == j {
                (g - s).sqrt()
            } else {
                (g - s) / l[j * n + j]
            };
        }
    }
    let mut x = vec![0.0; n * d];
    for i in 0..n {
        x[i * d..i * d + n].copy_from_slice(&l[i * n..(i + 1) * n]);
    }
    x
}

#[test]
fn equiangular_starts_follow_the_scalar_ode_of_glpr_theorem_6_8() {
    for &(n, d, rho0, beta, usa) in &[
        (4, 4, 0.0, 1.0, false),
        (4, 4, 0.0, 1.0, true),
        (6, 8, 0.2, 4.0, false),
        (6, 8, -0.1, 2.0, true),
        (2, 2, -0.5, 1.0, false),
    ] {
        let x0 = equiangular_start(n, d, rho0);
        let (n, rho0, beta): (usize, f64, f64) = (n, rho0, beta);
        let h = 0.05;
        let steps = 120;
        let normalisation = if usa {
            Normalisation::Unnormalised
        } else {
            Normalisation::SelfAttention
        };
        let run = sphere_run(
            d,
            x0,
            identity(d),
            identity(d),
            Rule::Softmax { beta },
            normalisation,
            Time::Ode { h, tol: 1e-12 },
            beta,
            steps,
            1e-3,
        );
        let times: Vec<f64> = (0..=steps).map(|k| k as f64 * h).collect();
        let rho = equiangular_rho(rho0, n, beta, usa, &times);
        // The page's solver (coarser sub-steps) agrees with this fine one.
        let page =
            td_particles::sphere::equiangular_solution(rho0, n, beta, normalisation, h, steps)
                .expect("short enough");
        let solver_gap = page
            .iter()
            .zip(&rho)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            solver_gap <= 1e-9,
            "equiangular_solution differs by {solver_gap:e}"
        );
        // And the start builder gives the same start as this test's.
        assert_eq!(
            td_particles::init::equiangular(n, d, rho0),
            equiangular_start(n, d, rho0)
        );
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
        assert!(
            worst <= 1e-8,
            "n={n} d={d} rho0={rho0} beta={beta} usa={usa}: max |<x_i,x_j> − ρ(t)| = {worst:e}"
        );
        // The scalar solution moved (the check is not of a resting state).
        assert!((rho[steps] - rho0).abs() > 0.05, "ρ barely moved");
    }
}

/// Two tokens on the circle, angle φ = θ_1 − θ_2 ∈ (0, π), from ⟨x_1, x_2⟩ = cos φ and the n = 2
/// equiangular equation: SA φ' = −2e^{β cos φ} sin φ/(e^β + e^{β cos φ}), USA φ' = −e^{β cos φ} sin φ.
/// Separating variables, the time to go from φ_0 to φ is
///   SA:  t(φ) = ∫_φ^{φ_0} (1 + e^{β(1 − cos u)}) / (2 sin u) du,
///   USA: t(φ) = ∫_φ^{φ_0} e^{−β cos u} / sin u du,
/// and at β = 0 both are tan(φ/2) = tan(φ_0/2)·e^{−t}. The integrator's φ(t_k) must satisfy them.
#[test]
fn two_tokens_on_the_circle_follow_the_angle_equation() {
    let simpson = |f: &dyn Fn(f64) -> f64, a: f64, b: f64| {
        let m = 2000;
        let hh = (b - a) / m as f64;
        let mut s = f(a) + f(b);
        for k in 1..m {
            s += f(a + k as f64 * hh) * if k % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * hh / 3.0
    };
    for &(phi0, beta, usa) in &[
        (2.5f64, 0.0f64, false),
        (2.5, 0.0, true),
        (2.0, 3.0, false),
        (2.0, 3.0, true),
        (1.0, 8.0, false),
    ] {
        let x0 = vec![1.0, 0.0, phi0.cos(), -phi0.sin()];
        let (h, steps) = (0.1, 40);
        let normalisation = if usa {
            Normalisation::Unnormalised
        } else {
            Normalisation::SelfAttention
        };
        let run = sphere_run(
            2,
            x0,
            identity(2),
            identity(2),
            Rule::Softmax { beta },
            normalisation,
            Time::Ode { h, tol: 1e-12 },
            beta,
            steps,
            1e-3,
        );
        let mut worst = 0.0f64;
        for k in 1..=steps {
            let x = run.positions(k);
            let phi = (x[0] * x[3] - x[1] * x[2])
                .atan2(x[0] * x[2] + x[1] * x[3])
                .abs();
            let t = k as f64 * h;
            let predicted_t = if beta == 0.0 {
                ((phi0 / 2.0).tan() / (phi / 2.0).tan()).ln()
            } else if usa {
                simpson(&|u: f64| (-beta * u.cos()).exp() / u.sin(), phi, phi0)
            } else {
                simpson(
                    &|u: f64| (1.0 + (beta * (1.0 - u.cos())).exp()) / (2.0 * u.sin()),
                    phi,
                    phi0,
                )
            };
            if phi > 1e-3 {
                worst = worst.max((predicted_t - t).abs());
            }
        }
        assert!(
            worst <= 1e-6,
            "phi0={phi0} beta={beta} usa={usa}: max |t(φ_k) − t_k| = {worst:e}"
        );
    }
}

/// Cluster counts at each stored state of an SA run with Q = K = V = I from uniform points.
fn cluster_counts(
    d: usize,
    n: usize,
    beta: f64,
    h: f64,
    steps: usize,
    tol: f64,
    seed: u64,
) -> Vec<usize> {
    let x0 = initial_points(&Init::Disk, n, d, seed);
    let run = sphere_run(
        d,
        x0,
        identity(d),
        identity(d),
        Rule::Softmax { beta },
        Normalisation::SelfAttention,
        Time::Ode { h, tol: 1e-9 },
        beta,
        steps,
        tol,
    );
    run.state_diags().iter().map(|s| s.clusters).collect()
}

/// d >= 3 and moderate β (0.5–2), 32 uniform tokens, five seeds each: one cluster (single linkage
/// at chord distance 1e-3) by t = 40. (2312.10794 Thm 6.1 says every β >= 0 and almost every start
/// converge as t → ∞ for d >= 3; the time 40 is what we measured with margin: the slowest of these
/// runs had one cluster by t ≈ 11.)
#[test]
fn moderate_beta_in_three_or_more_dimensions_reaches_one_cluster() {
    for d in [3, 4, 5] {
        for beta in [0.5, 1.0, 2.0] {
            for seed in 1..=5 {
                let c = cluster_counts(d, 32, beta, 0.5, 80, 1e-3, seed);
                assert_eq!(c[0], 32);
                assert_eq!(
                    *c.last().unwrap(),
                    1,
                    "d={d} beta={beta} seed={seed}: {c:?}"
                );
            }
        }
    }
}

/// Large β (25), 64 uniform tokens on the circle and the sphere: the cluster count (single linkage
/// at 1e-2) stays at some k >= 2 over a window [t_a, t_b] with t_a >= 5 and t_b >= 2·t_a (0.3
/// decades on the log time axis), and later falls below k: a metastable plateau, then a merge.
#[test]
fn large_beta_shows_a_plateau_before_merging() {
    for (d, seed) in [(2, 1), (2, 2), (3, 1), (3, 2)] {
        let h = 0.5;
        let c = cluster_counts(d, 64, 25.0, h, 1000, 1e-2, seed);
        let mut found = None;
        let mut start = 0;
        for k in 1..=c.len() {
            if k == c.len() || c[k] != c[start] {
                let (ta, tb) = (start as f64 * h, k as f64 * h);
                let merges_later = c[k.min(c.len() - 1)..].iter().any(|&m| m < c[start]);
                if c[start] >= 2 && ta >= 5.0 && tb >= 2.0 * ta && merges_later {
                    found = Some((c[start], ta, tb));
                    break;
                }
                start = k;
            }
        }
        assert!(
            found.is_some(),
            "d={d} seed={seed}: no plateau then merge in {c:?}"
        );
    }
}

// ------------------------------------------------------------------ the pairwise kernel (A = I)

/// `n` seeded points on the sphere in R^d, with ties: every third token repeats an earlier one.
fn sphere_points(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut x = initial_points(&Init::Disk, n, d, seed);
    for i in (2..n).step_by(3) {
        let j = i / 2;
        let copy = x[j * d..(j + 1) * d].to_vec();
        x[i * d..(i + 1) * d].copy_from_slice(&copy);
    }
    td_particles::sphere::normalise_rows(&mut x, d);
    x
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The pairwise kernel (one exp per unordered pair, a common shift) against the row-by-row
    /// kernel it replaces for A = I: outputs within 1e-12 relative to the largest output or input, the same
    /// leader flags, attention graph and edge count; its sums give the energy (1e-12) and the
    /// smallest inner product (exactly) computed here pair by pair with the platform's expm1, as
    /// does `sphere::diagnostics`, and the largest pairwise distance of the pair pass (exactly).
    #[test]
    fn the_pairwise_kernel_agrees_with_the_row_kernel(
        n in 1usize..70,
        d in 1usize..=16,
        seed in 0u64..1000,
        beta in prop_oneof![Just(0.0), 1e-6f64..1e-3, 0.01f64..40.0, Just(400.0)],
        unnormalised in any::<bool>(),
    ) {
        use td_particles::dynamics::{self, Kernel, Scratch, Update};
        use td_particles::graph::Bitset;
        use td_particles::pairwise::{self, PairScratch};
        let x = sphere_points(n, d, seed);
        let a = identity(d);
        let (mut g_row, mut g_pair) = (Bitset::default(), Bitset::default());
        let (mut f_row, mut f_pair) = (vec![0u8; n], vec![0u8; n]);
        let (mut out_row, mut out_pair) = (vec![0.0; n * d], vec![0.0; n * d]);
        let kernel = Kernel::Softmax { beta };
        let stats_row = dynamics::step(&x, n, d, &a, Update::Attend { unnormalised }, kernel,
            &mut Scratch::default(), &mut g_row, &mut f_row, &mut out_row);
        let (stats_pair, sums) = pairwise::attend(&x, n, d, beta, unnormalised,
            dynamics::MAX_UNNORMALISED_EXPONENT, &mut PairScratch::default(), &mut g_pair,
            &mut f_pair, &mut out_pair);
        // Each output is a weighted mean of the inputs, summed in another order by each kernel:
        // the rounding is relative to the terms (|x| = 1 here), not to the mean, which cancels
        // to ~beta when the tokens balance (d = 1, n = 14, beta = 1e-6: outputs 1e-6, the two
        // kernels 7.9e-18 apart). The bound is 1e-12 of the larger of the two.
        let terms = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = out_row.iter().fold(terms, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
        for (p, q) in out_row.iter().zip(&out_pair) {
            prop_assert!((p - q).abs() <= 1e-12 * scale, "row {p} pair {q} (scale {scale})");
        }
        prop_assert_eq!(f_row, f_pair);
        prop_assert_eq!(g_row.words(), g_pair.words());
        prop_assert_eq!(stats_row, stats_pair);
        // The energy and smallest inner product written out here, with the platform's expm1.
        let dot = |i: usize, j: usize| -> f64 { (0..d).map(|c| x[i * d + c] * x[j * d + c]).sum() };
        let m = (0..n).map(|i| dot(i, i)).fold(f64::NEG_INFINITY, f64::max);
        let (mut excess, mut inner, mut min_inner) = (0.0, 0.0, if n > 1 { f64::INFINITY } else { m });
        for i in 0..n {
            for j in 0..n {
                excess += (beta * (dot(i, j) - m)).exp_m1();
                inner += dot(i, j);
                if i != j {
                    min_inner = min_inner.min(dot(i, j));
                }
            }
        }
        let pairs = (n * n) as f64;
        let expected = if beta > 0.0 { m + (excess / pairs).ln_1p() / beta } else { inner / pairs };
        let reference = td_particles::sphere::diagnostics(&x, n, d, beta);
        let energy = if beta > 0.0 {
            sums.shift + (sums.excess / pairs).ln_1p() / beta
        } else {
            sums.inner_sum / pairs
        };
        prop_assert!((energy - expected).abs() <= 1e-12, "{energy} vs {expected}");
        prop_assert!((reference.energy - expected).abs() <= 1e-12, "{} vs {expected}", reference.energy);
        prop_assert_eq!(sums.min_inner, min_inner);
        prop_assert_eq!(reference.min_inner, min_inner);
        let diameter = td_particles::graph::diameter_and_clusters(&x, n, d, 1e-3, &mut Vec::new()).0;
        prop_assert_eq!(sums.max_dist2.sqrt(), diameter);
    }
}

/// A sphere run with A = I (the pairwise kernel, energy from the same pass) against the same run
/// with A = I written so the kernel does not apply (−0.0 off the diagonal: the same matrix, not
/// bit for bit the identity): under layers the same trajectory and energies to 1e-12; under the
/// ODE to 1e-7 (rounding-level differences move the adaptive sub-steps, whose local error is
/// 1e-9 each); the same cluster counts; SA and USA.
#[test]
fn runs_with_the_pairwise_kernel_match_the_row_kernel() {
    let d = 3;
    let x0 = sphere_points(150, d, 7);
    let negative_zero: Vec<f64> = identity(d)
        .iter()
        .map(|&v| if v == 0.0 { -0.0 } else { v })
        .collect();
    for time in [Time::Layers { h: 0.2 }, Time::Ode { h: 0.5, tol: 1e-9 }] {
        for normalisation in [Normalisation::SelfAttention, Normalisation::Unnormalised] {
            let rule = Rule::Softmax { beta: 4.0 };
            let runs: Vec<Run> = [identity(d), negative_zero.clone()]
                .into_iter()
                .map(|a| {
                    sphere_run(
                        d,
                        x0.clone(),
                        a,
                        identity(d),
                        rule.clone(),
                        normalisation,
                        time,
                        4.0,
                        30,
                        1e-3,
                    )
                })
                .collect();
            let tol = if matches!(time, Time::Layers { .. }) {
                1e-12
            } else {
                1e-7
            };
            let (p, q) = (runs[0].trajectory(), runs[1].trajectory());
            let worst = p
                .iter()
                .zip(q)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                worst <= tol,
                "{time:?} {normalisation:?}: positions differ by {worst:e}"
            );
            for (s, t) in runs[0].state_diags().iter().zip(runs[1].state_diags()) {
                let (e, f) = (s.sphere.unwrap().energy, t.sphere.unwrap().energy);
                assert!(
                    (e - f).abs() <= tol,
                    "{time:?} {normalisation:?}: energy {e} vs {f}"
                );
                assert!((s.diameter - t.diameter).abs() <= tol);
                assert_eq!(s.clusters, t.clusters);
            }
        }
    }
}
