//! Steering a Llama-family model before its final norm: the RMSNorm vector-Jacobian product
//! against central differences, and the Δ form realised to first order.

use td_rng::Source;
use td_transformer::llama::{forward_llama, rms_norm_f64, LlamaConfig, LlamaWeights};
use td_transformer::steer::{rms_norm_vjp, steer_delta_pre_norm};

fn normals(src: &mut Source, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| scale * src.normal()).collect()
}

#[test]
fn the_rms_norm_vjp_matches_central_differences() {
    let mut src = Source::new(4);
    for d in [2, 7, 64] {
        let x = normals(&mut src, d, 1.5);
        let g32: Vec<f32> = normals(&mut src, d, 1.0)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let g: Vec<f64> = g32.iter().map(|&v| v as f64).collect();
        let u = normals(&mut src, d, 1.0);
        let eps = 1e-5;
        let loss = |x: &[f64]| -> f64 {
            rms_norm_f64(x, &g32, eps)
                .iter()
                .zip(&u)
                .map(|(a, b)| a * b)
                .sum()
        };
        let grad = rms_norm_vjp(&x, &g, eps, &u);
        for i in 0..d {
            let h = 1e-5 * x[i].abs().max(1.0);
            let (mut a, mut b) = (x.clone(), x.clone());
            a[i] += h;
            b[i] -= h;
            let numeric = (loss(&a) - loss(&b)) / (2.0 * h);
            let err = (grad[i] - numeric).abs() / numeric.abs().max(1e-3);
            assert!(err < 1e-6, "d {d}, i {i}: {} vs {numeric}", grad[i]);
        }
    }
}

#[test]
fn the_delta_form_before_the_norm_is_realised_to_first_order() {
    let config = LlamaConfig {
        vocab: 60,
        d_model: 16,
        n_layer: 2,
        n_head: 4,
        n_kv_head: 2,
        context: 12,
        mlp: 24,
        rms_eps: 1e-5,
        rope_theta: 10_000.0,
        tied: false,
        init_std: 0.3,
    };
    let w = LlamaWeights::random(config, 8).unwrap();
    let tokens = [4, 8, 15, 16, 23, 42];
    let fwd = forward_llama(&w, &tokens).unwrap();
    let h_pre = &fwd.h_pre[5 * 16..];
    for y in [0, 7, 59] {
        let s = steer_delta_pre_norm(&w, h_pre, y, 0.01).unwrap();
        let realised = s.new_log_p - s.old_log_p;
        assert!(
            (realised - 0.01).abs() < 1e-4,
            "target {y}: log p moved by {realised}, not 0.01"
        );
        // The steering is evaluated through the same norm the model applies.
        assert!((s.old_log_p - fwd.log_probs_at(5)[y]).abs() < 1e-5);
    }
}
