//! A small model keeps its block matrices as strips (`td_transformer::strips`), made at its first
//! pass of two or more rows; a pass that reads them gives the bits of one that packs as it goes,
//! a change to the weights drops them, and a large model never makes them.

use td_transformer::{forward, Config, Dtype, Forward, ForwardOptions, Weights};

/// Widths that are not multiples of the strip's 16 columns (3d = 72, mlp = 40), so the last,
/// narrower strip is used too.
fn config() -> Config {
    Config {
        vocab: 40,
        d_model: 24,
        n_layer: 2,
        n_head: 2,
        context: 16,
        mlp: 40,
    }
}

fn bits(f: &Forward) -> Vec<u64> {
    [&f.residuals, &f.h_pre, &f.h_post, &f.logits, &f.log_probs]
        .iter()
        .flat_map(|v| v.iter().map(|x| x.to_bits()))
        .collect()
}

fn pass(w: &Weights, tokens: &[u32]) -> Forward {
    let opts = ForwardOptions {
        keep_residuals: true,
    };
    forward(w, tokens, opts).expect("forward")
}

const TOKENS: [u32; 11] = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

#[test]
fn passes_through_strips_have_the_bits_of_passes_without() {
    for dtype in [Dtype::F32, Dtype::Bf16, Dtype::F16] {
        for n in [2, 7, 11] {
            let w = Weights::random_in(config(), 11, dtype).expect("weights");
            assert!(!w.layers.has_strips(), "strips before any pass");
            let with = pass(&w, &TOKENS[..n]);
            assert!(
                w.layers.has_strips(),
                "{dtype:?}: no strips after a pass of {n} rows"
            );
            let mut plain = w.clone();
            plain.layers = plain.layers.clone().without_strips();
            let without = pass(&plain, &TOKENS[..n]);
            assert!(!plain.layers.has_strips());
            assert_eq!(bits(&with), bits(&without), "{dtype:?}, {n} rows");
        }
    }
}

#[test]
fn a_single_row_makes_no_strips() {
    let w = Weights::random(config(), 3).expect("weights");
    pass(&w, &TOKENS[..1]);
    assert!(!w.layers.has_strips());
}

#[test]
fn changing_the_weights_drops_the_strips() {
    let mut w = Weights::random(config(), 5).expect("weights");
    let before = pass(&w, &TOKENS);
    assert!(w.layers.has_strips());
    // The same change through each kind of mutable access: indexing and `&mut` iteration.
    w.layers[1].fc_w.make_f32()[7] += 0.5;
    assert!(!w.layers.has_strips(), "indexing mutably kept stale strips");
    let changed = pass(&w, &TOKENS);
    assert!(w.layers.has_strips());
    for l in &mut w.layers {
        l.attn_w.make_f32()[3] -= 0.25;
    }
    assert!(
        !w.layers.has_strips(),
        "iterating mutably kept stale strips"
    );
    let changed_twice = pass(&w, &TOKENS);

    let mut fresh = Weights::random(config(), 5).expect("weights");
    fresh.layers = fresh.layers.clone().without_strips();
    fresh.layers[1].fc_w.make_f32()[7] += 0.5;
    assert_eq!(bits(&changed), bits(&pass(&fresh, &TOKENS)));
    for l in &mut fresh.layers {
        l.attn_w.make_f32()[3] -= 0.25;
    }
    assert_eq!(bits(&changed_twice), bits(&pass(&fresh, &TOKENS)));
    assert_ne!(bits(&before), bits(&changed));
}

#[test]
fn a_large_model_makes_no_strips() {
    // 2 × 12·d² = 4,718,592 block values at d = 448: above the 2^22 limit.
    let big = Config {
        vocab: 8,
        d_model: 448,
        n_layer: 2,
        n_head: 4,
        context: 4,
        mlp: 4 * 448,
    };
    let w = Weights::random_in(big, 1, Dtype::Bf16).expect("weights");
    let values: usize = w
        .layers
        .iter()
        .map(|l| l.attn_w.len() + l.proj_w.len() + l.fc_w.len() + l.fc2_w.len())
        .sum();
    assert!(values > td_transformer::strips::STRIPS_MAX_VALUES);
    assert!(w.layers.strips().is_none());
    pass(&w, &TOKENS[..3]);
    assert!(!w.layers.has_strips());
}
