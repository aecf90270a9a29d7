//! Steering the Llama family at earlier layers (`td_transformer::vjp` through the blocks of
//! `td_transformer::llama_vjp`): the closed-form VJP
//! through RMSNorm, rotary grouped-query attention and SwiGLU against central finite differences
//! of the f32 patched pass, the final-norm VJP at `h_pre`, first-order realisation of a requested
//! Δ, and errors.

use td_rng::Source;
use td_transformer::forward::{Patch, PatchSite};
use td_transformer::llama::{forward_llama_patched, forward_llama_with, LlamaConfig, LlamaWeights};
use td_transformer::steer::gradient_log_p_pre_norm;
use td_transformer::vjp::{gradient_log_p_at_layer, steer_delta_at_layer};

/// Grouped-query attention (4 query heads sharing 2 key/value heads), untied.
fn config() -> LlamaConfig {
    LlamaConfig {
        vocab: 40,
        d_model: 16,
        n_layer: 3,
        n_head: 4,
        n_kv_head: 2,
        context: 12,
        mlp: 24,
        rms_eps: 1e-5,
        rope_theta: 10_000.0,
        tied: false,
        init_std: 0.02,
    }
}

/// The standard init, then every weight scaled up and every norm gain wiggled (seeded), so
/// attention is far from uniform and the blocks far from the identity.
fn perturbed(seed: u64) -> LlamaWeights {
    let mut w = LlamaWeights::random(config(), seed).unwrap();
    let mut src = Source::new(seed ^ 0x11a);
    let scale =
        |v: &mut td_transformer::Matrix, by: f32| v.make_f32().iter_mut().for_each(|x| *x *= by);
    scale(&mut w.embed, 40.0);
    for l in &mut w.layers {
        for m in [
            &mut l.wq,
            &mut l.wk,
            &mut l.wv,
            &mut l.wo,
            &mut l.gate,
            &mut l.up,
            &mut l.down,
        ] {
            scale(m, 12.0);
        }
    }
    let mut wiggle = |v: &mut Vec<f32>| {
        for x in v.iter_mut() {
            *x = (1.0 + 0.2 * src.normal()) as f32;
        }
    };
    for l in &mut w.layers {
        wiggle(&mut l.input_norm);
        wiggle(&mut l.post_norm);
    }
    wiggle(&mut w.norm);
    w
}

const TOKENS: [u32; 10] = [3, 17, 4, 1, 25, 9, 2, 36, 5, 11];

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn log_p(w: &LlamaWeights, tokens: &[u32], layer: usize, t: usize, y: usize, d: &[f64]) -> f64 {
    let patch = Patch {
        site: PatchSite::Residual(layer),
        position: t,
        delta: d.to_vec(),
    };
    forward_llama_patched(w, tokens, false, Some(&patch))
        .unwrap()
        .log_probs_at(t)[y]
}

/// Largest relative error of the fourth-order central difference along each direction, the
/// perturbation measured as the f32 stream received it (as the GPT-2 test does).
fn fd_error(w: &LlamaWeights, layer: usize, t: usize, y: usize, g: &[f64], seed: u64) -> f64 {
    let tokens = &TOKENS[..=t];
    let fwd = forward_llama_with(w, tokens, true).unwrap();
    let x = fwd.residual(layer, t).unwrap().to_vec();
    let h = 2e-2 * norm(&x);
    let mut src = Source::new(seed);
    let d = x.len();
    let mut worst = 0.0f64;
    let mut dirs: Vec<Vec<f64>> = [0, d - 1, d / 2]
        .iter()
        .map(|&i| (0..d).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    dirs.extend((0..3).map(|_| (0..d).map(|_| src.normal()).collect::<Vec<f64>>()));
    for v in dirs {
        let vn = norm(&v);
        let at = |k: f64| -> (f64, Vec<f64>) {
            let step: Vec<f64> = v.iter().map(|a| k * h * a / vn).collect();
            let got = x
                .iter()
                .zip(&step)
                .map(|(&a, &b)| ((a + b) as f32) as f64 - a)
                .collect();
            (log_p(w, tokens, layer, t, y, &step), got)
        };
        let ((l1, r1), (lm1, rm1), (l2, r2), (lm2, rm2)) = (at(1.0), at(-1.0), at(2.0), at(-2.0));
        let fd = (8.0 * (l1 - lm1) - (l2 - lm2)) / 12.0;
        let step: Vec<f64> = (0..d)
            .map(|i| (8.0 * (r1[i] - rm1[i]) - (r2[i] - rm2[i])) / 12.0)
            .collect();
        let pred: f64 = g.iter().zip(&step).map(|(a, b)| a * b).sum();
        worst = worst.max((fd - pred).abs() / (norm(g) * norm(&step)));
    }
    worst
}

#[test]
fn gradient_matches_finite_differences_at_every_layer() {
    let w = perturbed(3);
    let mut worst = 0.0f64;
    for (t, y) in [(9usize, 5usize), (4, 17), (0, 2)] {
        for layer in 0..=w.config.n_layer {
            let g = gradient_log_p_at_layer(&w, &TOKENS, layer, t, y).unwrap();
            assert!(g.iter().all(|v| v.is_finite()) && norm(&g) > 0.0);
            let err = fd_error(&w, layer, t, y, &g, (layer * 100 + t) as u64);
            eprintln!(
                "t = {t}, y = {y}, layer {layer}: ‖g‖ = {:.4}, FD relative error {err:.2e}",
                norm(&g)
            );
            worst = worst.max(err);
        }
    }
    eprintln!("worst FD relative error {worst:.2e}");
    assert!(worst <= 1e-4, "worst {worst:e}");
}

#[test]
fn at_h_pre_it_is_the_final_norms_vjp() {
    let w = perturbed(8);
    let fwd = forward_llama_with(&w, &TOKENS, true).unwrap();
    for t in [0, 4, 9] {
        let y = (7 * t + 3) % 40;
        let g = gradient_log_p_at_layer(&w, &TOKENS, 3, t, y).unwrap();
        let h_pre = fwd.residual(3, t).unwrap();
        assert_eq!(g, gradient_log_p_pre_norm(&w, h_pre, y).unwrap());
    }
}

#[test]
fn a_requested_delta_is_realised_to_first_order_and_bad_input_is_refused() {
    let w = perturbed(2);
    for (t, y) in [(9usize, 30usize), (5, 7)] {
        for layer in 0..=w.config.n_layer {
            for delta in [0.01, -0.01] {
                let s = steer_delta_at_layer(&w, &TOKENS, layer, t, y, delta).unwrap();
                let ratio = (s.new_log_p - s.old_log_p) / delta;
                eprintln!("t = {t}, layer {layer}, Δ = {delta:+}: realised/requested = {ratio:.5}");
                assert!((ratio - 1.0).abs() <= 0.05, "layer {layer}: ratio {ratio}");
                assert_eq!(s.predicted_log_p, s.old_log_p + delta);
                assert!((s.norm - norm(&s.delta)).abs() < 1e-15);
                // Realised on the whole sequence too (causality).
                let patch = Patch {
                    site: PatchSite::Residual(layer),
                    position: t,
                    delta: s.delta.clone(),
                };
                let full = forward_llama_patched(&w, &TOKENS, false, Some(&patch)).unwrap();
                assert_eq!(full.log_probs_at(t)[y], s.new_log_p);
            }
        }
    }
    assert_eq!(
        steer_delta_at_layer(&w, &TOKENS, 1, 5, 7, 0.0)
            .unwrap()
            .norm,
        0.0
    );
    for bad in [
        gradient_log_p_at_layer(&w, &TOKENS, 4, 0, 0),
        gradient_log_p_at_layer(&w, &TOKENS, 0, 10, 0),
        gradient_log_p_at_layer(&w, &TOKENS, 0, 0, 40),
        gradient_log_p_at_layer(&w, &[99], 0, 0, 0),
    ] {
        assert!(bad.is_err());
    }
    assert!(steer_delta_at_layer(&w, &TOKENS, 0, 0, 0, f64::NAN).is_err());
}
