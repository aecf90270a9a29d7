//! Weights kept in bf16 or f16 give the bits of the same weights widened to f32 up front: the
//! kernels widen each weight exactly where they read it, in the same summation order. Checked for
//! both families on the full pass (every residual, the logits, the log-probabilities), the
//! patched pass, cached generation and steering at every layer, at sizes that are not multiples
//! of the kernels' tiles (so the leftover columns and rows are covered too).

use td_rng::Source;
use td_transformer::config::Config;
use td_transformer::forward::{forward, forward_patched, ForwardOptions, Patch, PatchSite};
use td_transformer::generate::{generate, Sampling};
use td_transformer::llama::{
    forward_llama_patched, forward_llama_with, generate_llama_steered, LlamaCache, LlamaConfig,
    LlamaWeights,
};
use td_transformer::matrix::{Dtype, Matrix, TensorRef};
use td_transformer::steer::{steer_delta, steer_margin};
use td_transformer::vjp::steer_delta_at_layer;
use td_transformer::weights::Weights;

/// Every matrix rounded to `dtype` (the gains and biases stay f32), from tensors made less
/// tame than the initialisation (larger weights, non-zero biases) so attention is peaked.
fn stored<'a>(refs: Vec<TensorRef<'a>>, dtype: Dtype, seed: u64) -> Vec<Matrix> {
    let mut src = Source::new(seed);
    refs.into_iter()
        .map(|t| {
            let values: Vec<f32> = t
                .to_f32()
                .iter()
                .map(|&x| (x as f64 * 8.0 + 0.05 * src.normal()) as f32)
                .collect();
            match t {
                TensorRef::Matrix(_) => Matrix::from_f32(values, dtype),
                TensorRef::Vector(_) => Matrix::F32(values),
            }
        })
        .collect()
}

fn gpt2(dtype: Dtype) -> Weights {
    let config = Config {
        vocab: 300,
        d_model: 40,
        n_layer: 2,
        n_head: 4,
        context: 24,
        mlp: 72,
    };
    let w = Weights::random(config, 7).unwrap();
    Weights::from_stored(config, stored(w.tensor_refs(), dtype, 8)).unwrap()
}

fn llama(dtype: Dtype, tied: bool) -> LlamaWeights {
    let config = LlamaConfig {
        vocab: 300,
        d_model: 40,
        n_layer: 2,
        n_head: 4,
        n_kv_head: 2,
        context: 24,
        mlp: 72,
        rms_eps: 1e-5,
        rope_theta: 10_000.0,
        tied,
        init_std: 0.02,
    };
    let w = LlamaWeights::random(config, 7).unwrap();
    LlamaWeights::from_stored(config, stored(w.tensor_refs(), dtype, 8)).unwrap()
}

/// Exact bits of any result (f64's `Debug` prints the shortest string that reads back to the
/// same bits).
fn bits<T: std::fmt::Debug>(x: &T) -> String {
    format!("{x:?}")
}

const TOKENS: [u32; 9] = [3, 141, 59, 265, 35, 89, 79, 32, 299];

#[test]
fn gpt2_in_half_precision_gives_the_bits_of_its_f32_widening() {
    for dtype in [Dtype::Bf16, Dtype::F16] {
        let half = gpt2(dtype);
        let wide = half.widened();
        assert!(half.tensor_refs().iter().any(|t| t.dtype() == dtype));
        assert!(wide.tensor_refs().iter().all(|t| t.dtype() == Dtype::F32));
        assert_eq!(wide.tensors(), half.tensors());
        assert_eq!(2 * half.wte.bytes(), wide.wte.bytes());
        let keep = ForwardOptions {
            keep_residuals: true,
        };
        let a = forward(&half, &TOKENS, keep).unwrap();
        assert_eq!(bits(&a), bits(&forward(&wide, &TOKENS, keep).unwrap()));
        assert!(a.log_probs.iter().all(|v| v.is_finite()));
        let patch = Patch {
            site: PatchSite::Residual(1),
            position: 4,
            delta: (0..40).map(|i| 0.03 * i as f64 - 0.5).collect(),
        };
        let run = |w: &Weights| forward_patched(w, &TOKENS, keep, Some(&patch)).unwrap();
        assert_eq!(bits(&run(&half)), bits(&run(&wide)));
        let sampling = Sampling::default();
        let gen = |w: &Weights, p| generate(w, &TOKENS[..5], 12, sampling, 3, p).unwrap();
        assert_eq!(gen(&half, None), gen(&wide, None));
        assert_eq!(gen(&half, Some(&patch)), gen(&wide, Some(&patch)));
        for layer in 0..=2 {
            let s = |w: &Weights| steer_delta_at_layer(w, &TOKENS, layer, 7, 42, 0.5);
            assert_eq!(bits(&s(&half)), bits(&s(&wide)), "{dtype:?}, layer {layer}");
        }
        let h = a.h(8, td_transformer::HiddenState::PostNorm);
        assert_eq!(
            bits(&steer_delta(&half, h, 17, 1.0)),
            bits(&steer_delta(&wide, h, 17, 1.0))
        );
        assert_eq!(
            bits(&steer_margin(&half, h, 17, 2.0)),
            bits(&steer_margin(&wide, h, 17, 2.0))
        );
    }
}

#[test]
fn llama_in_half_precision_gives_the_bits_of_its_f32_widening() {
    for (dtype, tied) in [
        (Dtype::Bf16, true),
        (Dtype::Bf16, false),
        (Dtype::F16, false),
    ] {
        let half = llama(dtype, tied);
        let wide = half.widened();
        // Matrices take 2 bytes a value instead of 4; the 2·2·40 + 40 RMSNorm gains stay f32.
        assert_eq!(2 * half.bytes() - wide.bytes(), 4 * (2 * 2 * 40 + 40));
        let a = forward_llama_with(&half, &TOKENS, true).unwrap();
        assert_eq!(
            bits(&a),
            bits(&forward_llama_with(&wide, &TOKENS, true).unwrap())
        );
        let (mut ch, mut cw) = (LlamaCache::new(&half), LlamaCache::new(&wide));
        for &t in &TOKENS {
            let lp = ch.extend(&half, t).unwrap();
            assert_eq!(bits(&lp), bits(&cw.extend(&wide, t).unwrap()));
        }
        let patch = Patch {
            site: PatchSite::Residual(1),
            position: 4,
            delta: (0..40).map(|i| 0.03 * i as f64 - 0.5).collect(),
        };
        let run = |w: &LlamaWeights| forward_llama_patched(w, &TOKENS, true, Some(&patch));
        assert_eq!(bits(&run(&half)), bits(&run(&wide)));
        let gen = |w: &LlamaWeights| {
            generate_llama_steered(w, &TOKENS[..5], 12, Sampling::default(), 3, Some(&patch))
        };
        assert_eq!(gen(&half).unwrap(), gen(&wide).unwrap());
        for layer in 0..=2 {
            let s = |w: &LlamaWeights| steer_delta_at_layer(w, &TOKENS, layer, 7, 42, 0.5);
            assert_eq!(bits(&s(&half)), bits(&s(&wide)), "{dtype:?}, layer {layer}");
        }
    }
}

#[test]
fn the_random_twin_is_drawn_in_f32_then_rounded_to_each_tensors_dtype() {
    let half = llama(Dtype::Bf16, false);
    let twin = half.random_like(11).unwrap();
    let f32_twin = LlamaWeights::random(half.config, 11).unwrap();
    assert_eq!(twin.bytes(), half.bytes());
    for (t, f) in twin.tensor_refs().iter().zip(f32_twin.tensor_refs()) {
        assert_eq!(
            t.dtype(),
            if matches!(f, TensorRef::Matrix(_)) {
                Dtype::Bf16
            } else {
                Dtype::F32
            }
        );
        for (&a, &b) in t.to_f32().iter().zip(f.to_f32().iter()) {
            assert_eq!(a.to_bits(), half::bf16::from_f32(b).to_f32().to_bits());
        }
    }
    let g = gpt2(Dtype::F16);
    let twin = g.random_like(11).unwrap();
    assert_eq!(twin.bytes(), g.bytes());
    let f32_twin = Weights::random(g.config, 11).unwrap();
    assert_eq!(
        twin.tensors()[0][..5],
        f32_twin.wte.to_f32()[..5]
            .iter()
            .map(|&x| half::f16::from_f32(x).to_f32())
            .collect::<Vec<_>>()[..]
    );
    // An f32 model's twin is the plain f32 draw.
    let f = Weights::random(g.config, 3).unwrap();
    assert_eq!(f.random_like(11).unwrap(), f32_twin);
}
