//! Sampling and generation (`td_transformer::generate`): the sampled distribution (temperature,
//! top-k, top-p), the inverse-CDF draw, seeded determinism, the stepwise generator against full
//! forward passes (bit for bit), steering the first generated token, the context cap, errors.

use proptest::prelude::*;
use td_transformer::config::Config;
use td_transformer::forward::{
    bytes_to_tokens, forward, forward_patched, log_softmax, ForwardOptions, HiddenState, Patch,
    PatchSite,
};
use td_transformer::generate::{draw, generate, sampling_distribution, Generator, Sampling};
use td_transformer::steer::steer_margin;
use td_transformer::weights::Weights;

fn small_config() -> Config {
    Config {
        vocab: 256,
        d_model: 32,
        n_layer: 2,
        n_head: 4,
        context: 40,
        mlp: 128,
    }
}

/// A random model with sharper predictions than the GPT-2 init (scaled embeddings), so sampling
/// settings matter.
fn sharp_weights(seed: u64) -> Weights {
    let mut w = Weights::random(small_config(), seed).unwrap();
    for x in w.wte.make_f32().iter_mut() {
        *x *= 6.0;
    }
    w
}

fn s(temperature: f64, top_k: usize, top_p: f64) -> Sampling {
    Sampling {
        temperature,
        top_k,
        top_p,
        min_p: 0.0,
    }
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (j, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = j;
        }
    }
    best
}

fn assert_distribution(p: &[f64]) {
    assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0), "{p:?}");
    let total: f64 = p.iter().sum();
    assert!((total - 1.0).abs() <= 1e-12, "sum {total}");
}

#[test]
fn sampling_distribution_basics() {
    let lp = log_softmax(&[0.3, 2.0, -1.0, 2.0, 0.9, -5.0, 1.7, 0.0]);
    for sampling in [
        s(1.0, 0, 1.0),
        s(0.5, 3, 1.0),
        s(2.0, 0, 0.7),
        s(0.7, 5, 0.9),
        s(0.0, 0, 1.0),
    ] {
        assert_distribution(&sampling_distribution(&lp, &sampling));
    }
    // Temperature 1, nothing cut: the model's own distribution.
    let p = sampling_distribution(&lp, &s(1.0, 0, 1.0));
    for (a, b) in p.iter().zip(&lp) {
        assert!((a - b.exp()).abs() < 1e-15);
    }
    // Temperature 0 and top_k = 1: argmax, lowest index on the tie between 1 and 3.
    let one_hot = |j: usize| (0..8).map(|i| f64::from(i == j)).collect::<Vec<f64>>();
    assert_eq!(sampling_distribution(&lp, &s(0.0, 0, 1.0)), one_hot(1));
    assert_eq!(sampling_distribution(&lp, &s(1.0, 1, 1.0)), one_hot(1));
    assert_eq!(sampling_distribution(&lp, &s(3.0, 1, 0.5)), one_hot(1));
    // Top-k = 2 keeps the tied pair, evenly.
    let p = sampling_distribution(&lp, &s(1.0, 2, 1.0));
    assert!((p[1] - 0.5).abs() < 1e-15 && (p[3] - 0.5).abs() < 1e-15);
    // Top-k = 3 keeps 1, 3 and 6 (logit 1.7).
    let p = sampling_distribution(&lp, &s(1.0, 3, 1.0));
    let kept: Vec<usize> = (0..8).filter(|&j| p[j] > 0.0).collect();
    assert_eq!(kept, [1, 3, 6]);
    // Tiny top_p keeps exactly the top token.
    assert_eq!(sampling_distribution(&lp, &s(1.0, 0, 1e-9)), one_hot(1));
    // Top-p: the smallest prefix with mass ≥ top_p.
    let q = [0.5f64, 0.3, 0.15, 0.05];
    let lq: Vec<f64> = q.iter().map(|v| v.ln()).collect();
    for (top_p, n_kept) in [(0.5, 1), (0.6, 2), (0.8, 2), (0.81, 3), (0.96, 4), (1.0, 4)] {
        let p = sampling_distribution(&lq, &s(1.0, 0, top_p));
        assert_eq!(
            p.iter().filter(|&&v| v > 0.0).count(),
            n_kept,
            "top_p {top_p}"
        );
        let mass: f64 = q[..n_kept].iter().sum();
        for j in 0..n_kept {
            assert!((p[j] - q[j] / mass).abs() < 1e-12);
        }
    }
    // Top-p applies to the renormalised top-k distribution: top 3 renormalised = .526, .316, .158.
    let p = sampling_distribution(&lq, &s(1.0, 3, 0.8));
    assert_eq!(p.iter().filter(|&&v| v > 0.0).count(), 2);
    let p = sampling_distribution(&lq, &s(1.0, 3, 0.85));
    assert_eq!(p.iter().filter(|&&v| v > 0.0).count(), 3);
    // Large temperature: near-uniform over the kept set.
    let p = sampling_distribution(&lp, &s(100.0, 0, 1.0));
    assert!(p.iter().all(|&v| (v - 0.125).abs() < 0.01), "{p:?}");
    let p = sampling_distribution(&lp, &s(100.0, 4, 1.0));
    for j in [1, 3, 6, 4] {
        assert!((p[j] - 0.25).abs() < 0.005, "{p:?}");
    }
    assert!(sampling_distribution(&lp, &s(1e6, 0, 1.0))
        .iter()
        .all(|v| v.is_finite()));
    // Lower temperature sharpens.
    let cold = sampling_distribution(&lp, &s(0.2, 0, 1.0));
    let hot = sampling_distribution(&lp, &s(5.0, 0, 1.0));
    assert!(cold[6] < hot[6] && cold[1] > hot[1]);
    // Degenerate inputs: never NaN.
    assert!(sampling_distribution(&[], &s(1.0, 0, 1.0)).is_empty());
    let inf = f64::INFINITY;
    assert_eq!(
        sampling_distribution(&[-inf, -inf], &s(1.0, 0, 1.0)),
        [0.5, 0.5]
    );
    assert_eq!(
        sampling_distribution(&[f64::NAN, -1.0, inf, inf], &s(1.0, 0, 1.0)),
        [0.0, 0.0, 0.5, 0.5]
    );
    assert_eq!(
        sampling_distribution(&[f64::NAN, -1.0, -2.0], &s(1e-300, 0, 1.0)),
        [0.0, 1.0, 0.0]
    );
    for bad in [
        s(f64::NAN, 0, 1.0),
        s(-1.0, 0, f64::NAN),
        s(1.0, 0, -1.0),
        s(inf, 0, 2.0),
    ] {
        assert_distribution(&sampling_distribution(&lp, &bad));
    }
}

#[test]
fn min_p_keeps_the_tokens_within_its_ratio_of_the_top_one() {
    // probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 (log space)
    let lp: Vec<f64> = [0.5f64, 0.25, 0.125, 0.0625, 0.0625]
        .iter()
        .map(|p| p.ln())
        .collect();
    let with = |min_p: f64| {
        sampling_distribution(
            &lp,
            &Sampling {
                min_p,
                ..s(1.0, 0, 1.0)
            },
        )
    };
    assert_eq!(with(0.0), sampling_distribution(&lp, &s(1.0, 0, 1.0)));
    // 0.5·0.5 = 0.25: the first two stay (0.25 is not below the floor), renormalised.
    let p = with(0.5);
    assert!((p[0] - 2.0 / 3.0).abs() < 1e-15 && (p[1] - 1.0 / 3.0).abs() < 1e-15);
    assert_eq!(&p[2..], &[0.0, 0.0, 0.0]);
    // min_p = 1: only the most probable; above 1 or NaN is clamped / off, never NaN.
    assert_eq!(with(1.0), vec![1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(with(7.0), vec![1.0, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(with(f64::NAN), with(0.0));
    // After temperature: T = 2 flattens the ratios (0.25 -> sqrt(0.25) = 0.5 of the top).
    let flat = sampling_distribution(
        &lp,
        &Sampling {
            min_p: 0.4,
            ..s(2.0, 0, 1.0)
        },
    );
    assert_eq!(flat.iter().filter(|&&v| v > 0.0).count(), 3);
    assert!(Sampling {
        min_p: 1.5,
        ..s(1.0, 0, 1.0)
    }
    .validate()
    .is_err());
    assert!(Sampling {
        min_p: -0.1,
        ..s(1.0, 0, 1.0)
    }
    .validate()
    .is_err());
}

#[test]
fn draw_boundaries() {
    let p = [0.0, 0.25, 0.0, 0.5, 0.25, 0.0];
    assert_eq!(draw(&p, 0.0), 1);
    assert_eq!(draw(&p, 0.2499), 1);
    assert_eq!(draw(&p, 0.25), 3); // "exceeds": 0.25 is not > 0.25
    assert_eq!(draw(&p, 0.7499), 3);
    assert_eq!(draw(&p, 0.75), 4);
    assert_eq!(draw(&p, 0.9999999), 4);
    // Cumulative sum below u (rounding, or u ≥ 1): the last nonzero entry, never a zero one.
    assert_eq!(draw(&p, 1.0), 4);
    assert_eq!(draw(&[0.3, 0.3, 0.3, 0.0], 0.95), 2);
    assert_eq!(draw(&p, f64::NAN), 4);
    assert_eq!(draw(&[0.0, 0.0], 0.5), 0);
    assert_eq!(draw(&[], 0.5), 0);
    assert_eq!(draw(&[f64::NAN, -1.0, 0.5, 0.5], 0.1), 2);
    // Empirical frequencies of evenly spaced u match the probabilities.
    let q = [0.1, 0.2, 0.3, 0.4];
    let mut counts = [0usize; 4];
    for i in 0..10_000 {
        counts[draw(&q, (i as f64 + 0.5) / 10_000.0)] += 1;
    }
    assert_eq!(counts, [1000, 2000, 3000, 4000]);
}

#[test]
fn seeded_generation_is_deterministic() {
    let w = sharp_weights(1);
    let prompt = bytes_to_tokens(b"the cat ");
    let sampling = s(1.0, 0, 1.0);
    let a = generate(&w, &prompt, 20, sampling, 7, None).unwrap();
    let b = generate(&w, &prompt, 20, sampling, 7, None).unwrap();
    let c = generate(&w, &prompt, 20, sampling, 8, None).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), prompt.len() + 20);
    assert_eq!(&a[..prompt.len()], &prompt[..]);
    // Greedy ignores the seed.
    let g1 = generate(&w, &prompt, 10, Sampling::greedy(), 1, None).unwrap();
    let g2 = generate(&w, &prompt, 10, Sampling::greedy(), 2, None).unwrap();
    assert_eq!(g1, g2);
    // Greedy = argmax of a full forward pass at every step.
    for k in prompt.len()..g1.len() {
        let fwd = forward(&w, &g1[..k], ForwardOptions::default()).unwrap();
        assert_eq!(g1[k] as usize, argmax(fwd.log_probs_at(k - 1)));
    }
}

#[test]
fn generator_steps_match_generate_and_full_forward_passes() {
    let w = sharp_weights(2);
    let prompt = bytes_to_tokens(b"Once upon");
    let d = w.config.d_model;
    let patch = Patch {
        site: PatchSite::Residual(1),
        position: 4,
        delta: (0..d).map(|i| 0.3 * ((i % 5) as f64 - 2.0)).collect(),
    };
    for (sampling, patch) in [
        (s(0.9, 40, 0.95), None),
        (s(1.3, 0, 1.0), Some(patch.clone())),
        (
            Sampling::greedy(),
            Some(Patch {
                site: PatchSite::PostNorm,
                position: prompt.len() - 1,
                ..patch.clone()
            }),
        ),
    ] {
        let all = generate(&w, &prompt, 25, sampling, 3, patch.as_ref()).unwrap();
        let mut g = Generator::new(&w, &prompt, 25, sampling, 3, patch.clone()).unwrap();
        assert_eq!(
            (g.prompt_len(), g.n_new(), g.done()),
            (prompt.len(), 25, false)
        );
        assert!(g.last_log_probs().is_empty());
        let mut steps = 0;
        while let Some(tok) = g.step(&w).unwrap() {
            steps += 1;
            let n = g.tokens().len();
            assert_eq!(g.tokens()[n - 1], tok);
            // The cached step is bit-identical to a full patched pass over the tokens so far.
            let full = forward_patched(
                &w,
                &g.tokens()[..n - 1],
                ForwardOptions::default(),
                patch.as_ref(),
            )
            .unwrap();
            assert_eq!(g.last_log_probs(), full.log_probs_at(n - 2));
            assert_eq!(
                g.last_distribution(),
                &sampling_distribution(full.log_probs_at(n - 2), &sampling)[..]
            );
            assert!(g.last_distribution()[tok as usize] > 0.0);
        }
        assert_eq!(steps, 25);
        assert!(g.done());
        assert_eq!(g.step(&w).unwrap(), None);
        assert_eq!(g.tokens(), &all[..]);
    }
}

#[test]
fn post_norm_steer_sets_the_first_generated_token() {
    let w = sharp_weights(4);
    let prompt = bytes_to_tokens(b"Hello, wor");
    let last = prompt.len() - 1;
    let plain = generate(&w, &prompt, 5, Sampling::greedy(), 0, None).unwrap();
    let fwd = forward(&w, &prompt, ForwardOptions::default()).unwrap();
    for target in [b'Q', b'!', b'z'] {
        let y = target as usize;
        assert_ne!(plain[prompt.len()] as usize, y);
        let st = steer_margin(&w, fwd.h(last, HiddenState::PostNorm), y, 3.0).unwrap();
        let patch = Patch {
            site: PatchSite::PostNorm,
            position: last,
            delta: st.delta,
        };
        let steered = generate(&w, &prompt, 5, Sampling::greedy(), 0, Some(&patch)).unwrap();
        assert_eq!(steered[prompt.len()] as usize, y);
        // Nothing else is patched: the rest continues greedily from the new token.
        let again = generate(
            &w,
            &steered[..=prompt.len()],
            4,
            Sampling::greedy(),
            0,
            None,
        )
        .unwrap();
        assert_eq!(again, steered);
    }
}

#[test]
fn context_cap_and_errors() {
    let w = sharp_weights(5);
    let ctx = w.config.context;
    let prompt = bytes_to_tokens(b"0123456789012345678901234567890123456");
    assert_eq!(prompt.len(), ctx - 3);
    let mut g = Generator::new(&w, &prompt, 100, s(1.0, 0, 1.0), 1, None).unwrap();
    assert_eq!(g.n_new(), 3);
    let mut count = 0;
    while g.step(&w).unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, 3);
    assert_eq!(g.tokens().len(), ctx);
    let full = bytes_to_tokens(&[b'a'; 40]);
    let g = Generator::new(&w, &full, 5, s(1.0, 0, 1.0), 1, None).unwrap();
    assert!(g.done() && g.n_new() == 0);
    assert_eq!(
        generate(&w, &full, 5, s(1.0, 0, 1.0), 1, None).unwrap(),
        full
    );
    assert_eq!(
        generate(&w, &prompt, 0, s(1.0, 0, 1.0), 1, None).unwrap(),
        prompt
    );

    let ok = s(1.0, 0, 1.0);
    let p = &prompt[..5];
    assert!(Generator::new(&w, &[], 5, ok, 1, None).is_err());
    assert!(Generator::new(&w, &[1; 41], 5, ok, 1, None).is_err());
    assert!(Generator::new(&w, &[1, 256], 5, ok, 1, None).is_err());
    for bad in [
        s(-0.1, 0, 1.0),
        s(f64::NAN, 0, 1.0),
        s(f64::INFINITY, 0, 1.0),
        s(101.0, 0, 1.0),
        s(1.0, 0, 0.0),
        s(1.0, 0, 1.5),
        s(1.0, 0, f64::NAN),
        s(1.0, 0, -0.5),
    ] {
        assert!(Generator::new(&w, p, 5, bad, 1, None).is_err(), "{bad:?}");
        assert!(generate(&w, p, 5, bad, 1, None).is_err());
    }
    assert!(Generator::new(&w, p, 5, s(100.0, 3, 1e-9), 1, None).is_ok());
    let d = w.config.d_model;
    let patch = |position, site, len| Patch {
        site,
        position,
        delta: vec![0.1; len],
    };
    assert!(Generator::new(&w, p, 5, ok, 1, Some(patch(4, PatchSite::PostNorm, d))).is_ok());
    // The patch must sit inside the prompt, at a layer ≤ n_layer, with d values.
    assert!(Generator::new(&w, p, 5, ok, 1, Some(patch(5, PatchSite::PostNorm, d))).is_err());
    assert!(Generator::new(&w, p, 5, ok, 1, Some(patch(0, PatchSite::Residual(3), d))).is_err());
    assert!(Generator::new(&w, p, 5, ok, 1, Some(patch(0, PatchSite::Residual(2), d))).is_ok());
    assert!(Generator::new(&w, p, 5, ok, 1, Some(patch(0, PatchSite::PostNorm, 3))).is_err());
    // Stepping with other weights is an error, not a panic.
    let mut g = Generator::new(&w, p, 5, ok, 1, None).unwrap();
    g.step(&w).unwrap();
    let other = Weights::random(Config::default(), 1).unwrap();
    assert!(g.step(&other).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn distribution_is_finite_and_sums_to_one(
        logits in prop::collection::vec(-50.0f64..50.0, 1..40),
        temperature in prop_oneof![Just(0.0), 1e-6f64..100.0, Just(100.0)],
        top_k in 0usize..50,
        top_p in prop_oneof![Just(1.0), 1e-9f64..1.0],
        ties in any::<bool>(),
        u in 0.0f64..1.0,
    ) {
        let mut z = logits.clone();
        if ties {
            for v in z.iter_mut() {
                *v = v.round();
            }
        }
        let lp = log_softmax(&z);
        let sampling = s(temperature, top_k, top_p);
        prop_assert!(sampling.validate().is_ok());
        let p = sampling_distribution(&lp, &sampling);
        prop_assert_eq!(p.len(), z.len());
        prop_assert!(p.iter().all(|v| v.is_finite() && *v >= 0.0));
        let total: f64 = p.iter().sum();
        prop_assert!((total - 1.0).abs() <= 1e-12, "sum {}", total);
        let kept = p.iter().filter(|&&v| v > 0.0).count();
        prop_assert!(kept >= 1);
        if top_k > 0 {
            prop_assert!(kept <= top_k);
        }
        // The argmax (lowest index) is always kept; the draw lands on a kept token.
        prop_assert!(p[argmax(&z)] > 0.0);
        prop_assert!(p[draw(&p, u)] > 0.0);
    }
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn timing_generation() {
    let w = Weights::random(Config::default(), 1).unwrap();
    let prompt =
        bytes_to_tokens(b"It was a bright cold day in April, and the clocks were striking");
    let sampling = s(0.8, 40, 0.95);
    let mut best = f64::INFINITY;
    let mut best_full = f64::INFINITY;
    for _ in 0..5 {
        let t0 = std::time::Instant::now();
        let out = generate(&w, &prompt, 64, sampling, 1, None).unwrap();
        best = best.min(t0.elapsed().as_secs_f64());
        assert_eq!(out.len(), prompt.len() + 64);
        // The same with a full forward pass per token (what the cache saves).
        let t0 = std::time::Instant::now();
        let mut toks = prompt.clone();
        let mut src = td_rng::Source::new(1);
        for _ in 0..64 {
            let fwd = forward(&w, &toks, ForwardOptions::default()).unwrap();
            let p = sampling_distribution(fwd.log_probs_at(toks.len() - 1), &sampling);
            toks.push(draw(&p, src.uniform()) as u32);
        }
        best_full = best_full.min(t0.elapsed().as_secs_f64());
        assert_eq!(toks, out);
    }
    eprintln!(
        "64 tokens after a {}-token prompt: {:.2} ms with the cache, {:.1} ms with a full pass per token",
        prompt.len(),
        best * 1e3,
        best_full * 1e3
    );
}
