//! Bit-identity guard for the kernels: FNV-1a hashes of the exact f64 bit patterns of forward
//! passes, patched passes, `forward_from`, the readout and stepwise generation, recorded from the
//! kernels as they were before the speed work (commit "kernel_bits: pin …"). Any change to the
//! order of an f32/f64 operation anywhere in the pass changes a hash.
//!
//! To re-print the table (only after a deliberate, documented change of the arithmetic):
//! `KERNEL_BITS_PRINT=1 cargo test -p td-transformer --test kernel_bits -- --nocapture`.

use td_rng::Source;
use td_transformer::config::Config;
use td_transformer::forward::{
    forward, forward_from, forward_patched, readout, ForwardOptions, Patch, PatchSite,
};
use td_transformer::generate::{Generator, Sampling};
use td_transformer::weights::Weights;

/// FNV-1a over the little-endian bytes of every value's bits.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn f64s(&mut self, v: &[f64]) {
        self.bytes(&(v.len() as u64).to_le_bytes());
        for x in v {
            self.bytes(&x.to_bits().to_le_bytes());
        }
    }
    fn u32s(&mut self, v: &[u32]) {
        self.bytes(&(v.len() as u64).to_le_bytes());
        for x in v {
            self.bytes(&x.to_le_bytes());
        }
    }
}

fn hash_f64(v: &[f64]) -> u64 {
    let mut h = Fnv::new();
    h.f64s(v);
    h.0
}

/// 128 fixed pseudo-random byte tokens.
fn tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut src = Source::new(seed);
    (0..n)
        .map(|_| ((src.uniform() * vocab as f64) as usize).min(vocab - 1) as u32)
        .collect()
}

/// The default configuration at the GPT-2 init (zero biases, unit gains).
fn default_model() -> Weights {
    Weights::random(Config::default(), 1).unwrap()
}

/// Every tensor perturbed (non-zero biases, non-unit gains) and sharper embeddings, so the bias
/// paths and peaked attention are covered too.
fn perturbed(config: Config, seed: u64) -> Weights {
    let w = Weights::random(config, seed).unwrap();
    let mut src = Source::new(seed ^ 0x5eed);
    let tensors: Vec<Vec<f32>> = w
        .tensors()
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.iter()
                .map(|&x| {
                    let scale = if i == 0 { 5.0 } else { 1.0 };
                    ((x as f64 + 0.05 * src.normal()) * scale) as f32
                })
                .collect()
        })
        .collect();
    Weights::from_tensors(config, tensors).unwrap()
}

/// A small configuration whose sizes are not multiples of the kernels' tiles.
fn odd_config() -> Config {
    Config {
        vocab: 37,
        d_model: 12,
        n_layer: 2,
        n_head: 3,
        context: 23,
        mlp: 20,
    }
}

fn add_forward(out: &mut Vec<(String, u64)>, name: &str, w: &Weights, toks: &[u32]) {
    let d = w.config.d_model;
    let n = toks.len();
    let f = forward(w, toks, ForwardOptions::default()).unwrap();
    out.push((format!("{name}/forward/logits"), hash_f64(&f.logits)));
    out.push((format!("{name}/forward/log_probs"), hash_f64(&f.log_probs)));
    out.push((format!("{name}/forward/h_pre"), hash_f64(&f.h_pre)));
    out.push((format!("{name}/forward/h_post"), hash_f64(&f.h_post)));
    let r = forward(
        w,
        toks,
        ForwardOptions {
            keep_residuals: true,
        },
    )
    .unwrap();
    out.push((format!("{name}/residuals/all"), hash_f64(&r.residuals)));
    out.push((format!("{name}/residuals/logits"), hash_f64(&r.logits)));
    // Resume from layer 1 on a slightly moved residual stream.
    let l1: Vec<f64> = (0..n)
        .flat_map(|t| r.residual(1, t).unwrap().to_vec())
        .enumerate()
        .map(|(i, v)| v + 1e-3 * ((i % 7) as f64 - 3.0))
        .collect();
    let ff = forward_from(w, 1, &l1, n, ForwardOptions::default()).unwrap();
    out.push((format!("{name}/from1/log_probs"), hash_f64(&ff.log_probs)));
    out.push((format!("{name}/from1/h_post"), hash_f64(&ff.h_post)));
    let mut src = Source::new(99);
    let delta: Vec<f64> = (0..d).map(|_| 0.3 * src.normal()).collect();
    let position = n / 3;
    for (site, label) in [
        (PatchSite::Residual(0), "res0"),
        (PatchSite::Residual(w.config.n_layer / 2), "resmid"),
        (PatchSite::Residual(w.config.n_layer), "respre"),
        (PatchSite::PostNorm, "post"),
    ] {
        let p = Patch {
            site,
            position,
            delta: delta.clone(),
        };
        let f = forward_patched(
            w,
            toks,
            ForwardOptions {
                keep_residuals: true,
            },
            Some(&p),
        )
        .unwrap();
        let mut h = Fnv::new();
        for v in [&f.logits, &f.log_probs, &f.h_pre, &f.h_post, &f.residuals] {
            h.f64s(v);
        }
        out.push((format!("{name}/patched/{label}"), h.0));
    }
    // The readout on its own, on an f64 input that is not f32-representable.
    let hh: Vec<f64> = f
        .h_post
        .iter()
        .enumerate()
        .map(|(i, v)| v * (1.0 + 1e-9 * (i % 5) as f64))
        .collect();
    out.push((format!("{name}/readout"), hash_f64(&readout(w, &hh, n))));
}

fn add_generate(
    out: &mut Vec<(String, u64)>,
    name: &str,
    w: &Weights,
    prompt: &[u32],
    n_new: usize,
    patch: Option<Patch>,
) {
    let sampling = Sampling {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        min_p: 0.0,
    };
    let mut g = Generator::new(w, prompt, n_new, sampling, 1, patch).unwrap();
    let mut h = Fnv::new();
    while g.step(w).unwrap().is_some() {
        h.f64s(g.last_log_probs());
    }
    h.u32s(g.tokens());
    out.push((format!("{name}/generate"), h.0));
}

fn table() -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let w = default_model();
    let t128 = tokens(128, 256, 7);
    add_forward(&mut out, "default128", &w, &t128);
    add_forward(&mut out, "default7", &w, &t128[..7]);
    add_generate(&mut out, "default64", &w, &t128[..4], 64, None);
    let p = Patch {
        site: PatchSite::Residual(2),
        position: 2,
        delta: (0..128).map(|i| 0.01 * (i as f64 - 64.0)).collect(),
    };
    add_generate(&mut out, "default-patched", &w, &t128[..5], 20, Some(p));
    let wp = perturbed(Config::default(), 3);
    add_forward(&mut out, "perturbed128", &wp, &t128);
    add_forward(&mut out, "perturbed1", &wp, &t128[..1]);
    add_generate(&mut out, "perturbed", &wp, &t128[..3], 30, None);
    let wo = perturbed(odd_config(), 4);
    let t23 = tokens(23, 37, 8);
    add_forward(&mut out, "odd23", &wo, &t23);
    add_forward(&mut out, "odd6", &wo, &t23[..6]);
    add_generate(&mut out, "odd", &wo, &t23[..2], 21, None);
    out
}

/// Recorded from the kernels before the speed work (see the module docs); the log-probability
/// rows re-recorded when the logits' log-sum-exp took td-lanes' `exp` (within 1e-15 of the
/// platform-`exp` values: `forward.rs`'s `log_softmax_matches_the_platform_exp`).
const EXPECTED: &[(&str, u64)] = &[
    ("default128/forward/logits", 0xfeb42d44409ca54a),
    ("default128/forward/log_probs", 0xb8a7bf65772fa2b5),
    ("default128/forward/h_pre", 0x7a4daf045406a461),
    ("default128/forward/h_post", 0x169d35ce18e65598),
    ("default128/residuals/all", 0x9dec27808558873b),
    ("default128/residuals/logits", 0xfeb42d44409ca54a),
    ("default128/from1/log_probs", 0x2f7f08fc72994ada),
    ("default128/from1/h_post", 0x608d18373d38406c),
    ("default128/patched/res0", 0x2bd5b0a90ad25690),
    ("default128/patched/resmid", 0x7a4de5fee0aff074),
    ("default128/patched/respre", 0xfc30003f966c1614),
    ("default128/patched/post", 0x39f8786338de2832),
    ("default128/readout", 0x2a014e864b1717a3),
    ("default7/forward/logits", 0xc45c7d7d0166916c),
    ("default7/forward/log_probs", 0x4fac2221358c489a),
    ("default7/forward/h_pre", 0x9f7ae4cb86d891d2),
    ("default7/forward/h_post", 0x64a1219b4ca92614),
    ("default7/residuals/all", 0x7d81af200659d0fb),
    ("default7/residuals/logits", 0xc45c7d7d0166916c),
    ("default7/from1/log_probs", 0x9e2180293eb6a409),
    ("default7/from1/h_post", 0xfef1a8db87da6c27),
    ("default7/patched/res0", 0x3961d72d2b1191dc),
    ("default7/patched/resmid", 0xcaa09e54e880f737),
    ("default7/patched/respre", 0x7ec83562d2d91c61),
    ("default7/patched/post", 0x7e7c889926e43e8f),
    ("default7/readout", 0x4d4f67697977dfd2),
    ("default64/generate", 0x32a6f02d0f07da29),
    ("default-patched/generate", 0xc3538bf590778bbe),
    ("perturbed128/forward/logits", 0xbb7c1a897d223667),
    ("perturbed128/forward/log_probs", 0xcca9253b8c2e92ed),
    ("perturbed128/forward/h_pre", 0xa3a1b535f77fc938),
    ("perturbed128/forward/h_post", 0xaaa0386e7c57340c),
    ("perturbed128/residuals/all", 0x8cdf35f68b65e343),
    ("perturbed128/residuals/logits", 0xbb7c1a897d223667),
    ("perturbed128/from1/log_probs", 0x5542d92bee395bcf),
    ("perturbed128/from1/h_post", 0x2a1b723a72105028),
    ("perturbed128/patched/res0", 0x5628167927bce4d8),
    ("perturbed128/patched/resmid", 0xbb06b1ff3d272473),
    ("perturbed128/patched/respre", 0x655bdaad52d0d13a),
    ("perturbed128/patched/post", 0xefc48be82cd165e7),
    ("perturbed128/readout", 0x9b0336bb18fae83b),
    ("perturbed1/forward/logits", 0xa714e3ba1eb8ebcc),
    ("perturbed1/forward/log_probs", 0x22f58ee52adf348e),
    ("perturbed1/forward/h_pre", 0x63dc31f8d43d408e),
    ("perturbed1/forward/h_post", 0x8fda73df11ec76b9),
    ("perturbed1/residuals/all", 0x28262264d92b649a),
    ("perturbed1/residuals/logits", 0xa714e3ba1eb8ebcc),
    ("perturbed1/from1/log_probs", 0xe5e2b547e4ec917c),
    ("perturbed1/from1/h_post", 0x525d50311523d165),
    ("perturbed1/patched/res0", 0xa648e7acef6d7955),
    ("perturbed1/patched/resmid", 0x6b6d20542642a111),
    ("perturbed1/patched/respre", 0xf54e24edd9952a24),
    ("perturbed1/patched/post", 0x505c1eb541a0785a),
    ("perturbed1/readout", 0xee3e52d3f34c1882),
    ("perturbed/generate", 0x1b491f51a6250ed0),
    ("odd23/forward/logits", 0xd0e8ffb65e025a72),
    ("odd23/forward/log_probs", 0x15ed89b3cab83d02),
    ("odd23/forward/h_pre", 0x512e57961eb695a1),
    ("odd23/forward/h_post", 0xc7b8811a6331779f),
    ("odd23/residuals/all", 0x397933e8bdf9a2af),
    ("odd23/residuals/logits", 0xd0e8ffb65e025a72),
    ("odd23/from1/log_probs", 0xfe03ed704642ac18),
    ("odd23/from1/h_post", 0x6fd9f215663465aa),
    ("odd23/patched/res0", 0x008f38a19f228a0b),
    ("odd23/patched/resmid", 0xbfd6a6cad6419549),
    ("odd23/patched/respre", 0x316a6201e9ae6a0b),
    ("odd23/patched/post", 0x9d96a9c9b3d277ff),
    ("odd23/readout", 0x1a0a2799921cfc54),
    ("odd6/forward/logits", 0xaa2326aa65f9986b),
    ("odd6/forward/log_probs", 0x90f971bf3d96ed80),
    ("odd6/forward/h_pre", 0xaeee26c92b2aa3ba),
    ("odd6/forward/h_post", 0x950664badd3c637e),
    ("odd6/residuals/all", 0x1bc15d5ff65f0f21),
    ("odd6/residuals/logits", 0xaa2326aa65f9986b),
    ("odd6/from1/log_probs", 0x5cc07926cf5a90af),
    ("odd6/from1/h_post", 0xd0ce6e6c665d49da),
    ("odd6/patched/res0", 0x3c18c132f203f72b),
    ("odd6/patched/resmid", 0x22068c080f6c6819),
    ("odd6/patched/respre", 0xefa0bfe75ef43eb4),
    ("odd6/patched/post", 0x8b8faf911c2fe043),
    ("odd6/readout", 0x2936ab5c6114ecd2),
    ("odd/generate", 0xe134da4456bcdcf2),
];

#[test]
fn kernel_bits_unchanged() {
    let got = table();
    if std::env::var_os("KERNEL_BITS_PRINT").is_some() {
        for (name, h) in &got {
            println!("    (\"{name}\", 0x{h:016x}),");
        }
    }
    let mut bad = Vec::new();
    assert_eq!(got.len(), EXPECTED.len(), "number of cases");
    for ((name, h), (ename, eh)) in got.iter().zip(EXPECTED) {
        assert_eq!(name, ename, "case order");
        if h != eh {
            bad.push(format!("{name}: got 0x{h:016x}, expected 0x{eh:016x}"));
        }
    }
    assert!(bad.is_empty(), "bits changed:\n{}", bad.join("\n"));
}
