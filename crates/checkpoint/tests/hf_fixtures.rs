//! Hugging Face checkpoints (made by `scripts/fixtures/make_hf_checkpoints.py`, committed): the
//! weights read by td-checkpoint give PyTorch's logits and final hidden states (transformers'
//! `GPT2LMHeadModel` and `LlamaForCausalLM`, float32) to 1e-4, in every layout; every damaged or
//! foreign checkpoint is an error that says what is wrong, never a panic.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use td_checkpoint::{load, Files};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn files(variant: &str) -> Files {
    let dir = fixtures().join(variant);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().into_string().unwrap(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect()
}

fn reference() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect()
}

/// Largest `|a - b| / max(1, |b|)`.
fn worst(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f64::max)
}

#[test]
fn every_layout_gives_pytorchs_logits_and_hidden_states() {
    let refs = reference();
    for (variant, dtype) in [
        ("gpt2-hub-f32", "f32"),
        ("gpt2-saved-bf16", "bf16"),
        ("gpt2-sharded-f16", "f16"),
        ("llama-tied-f32", "f32"),
        ("llama-untied-bf16", "bf16"),
    ] {
        let checkpoint = load(&files(variant)).unwrap_or_else(|e| panic!("{variant}: {e}"));
        assert_eq!(
            checkpoint.stored_dtypes,
            vec![dtype.to_string()],
            "{variant}"
        );
        assert_eq!(
            checkpoint.tokenizer.is_some(),
            variant == "gpt2-hub-f32" || variant == "llama-tied-f32"
        );
        let family = if variant.starts_with("gpt2") {
            "GPT2LMHeadModel"
        } else {
            "LlamaForCausalLM"
        };
        assert_eq!(checkpoint.config.architecture, family);
        let r = &refs[variant];
        let tokens: Vec<u32> = r["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect();
        let out = checkpoint.model.forward(&tokens).unwrap();
        let (logits, h_post) = (matrix(&r["logits"]), matrix(&r["h_post"]));
        let (dz, dh) = (worst(&out.logits, &logits), worst(&out.h_post, &h_post));
        eprintln!("{variant}: logits {dz:e}, h_post {dh:e}");
        assert!(dz <= 1e-4, "{variant}: logits differ by {dz:e}");
        assert!(dh <= 1e-4, "{variant}: hidden states differ by {dh:e}");
        // The fixture must be able to fail this test: its logits are far from uniform.
        let spread = logits.iter().fold(0.0f64, |m, z| m.max(z.abs()));
        assert!(
            spread > 0.5,
            "{variant}: logits too flat to test ({spread})"
        );
    }
}

#[test]
fn the_folders_tokenizer_turns_text_into_the_models_tokens() {
    let checkpoint = load(&files("gpt2-hub-f32")).unwrap();
    let tokenizer = checkpoint.tokenizer.as_ref().unwrap();
    let text = "The next-token distribution moves.";
    let tokens = tokenizer.encode(text).unwrap();
    assert!(tokens.ids.len() > 2 && tokens.ids.len() < text.len());
    assert_eq!(tokenizer.decode(&tokens.ids).unwrap(), text);
    let out = checkpoint.model.forward(&tokens.ids).unwrap();
    assert_eq!(out.logits.len(), tokens.ids.len() * 400);
    assert!(out.logits.iter().all(|z| z.is_finite()));
}

#[test]
fn a_tokenizer_that_is_not_json_is_refused() {
    let mut f = files("gpt2-hub-f32");
    f.insert("tokenizer.json".into(), b"{\"version\": ".to_vec());
    assert!(load(&f)
        .unwrap_err()
        .contains("tokenizer.json cannot be read"));
}

#[test]
fn a_llama_head_that_contradicts_tied_embeddings_is_refused() {
    let mut f = files("llama-untied-bf16");
    let mut config: Value = serde_json::from_slice(&f["config.json"]).unwrap();
    config["tie_word_embeddings"] = true.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    let err = load(&f).unwrap_err();
    assert!(err.contains("tie_word_embeddings = true"), "{err}");
    // Untied in the config but no head in the file.
    let mut f = files("llama-tied-f32");
    let mut config: Value = serde_json::from_slice(&f["config.json"]).unwrap();
    config["tie_word_embeddings"] = false.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    assert!(load(&f).unwrap_err().contains("lm_head.weight is missing"));
    // Grouped-query attention that does not match the tensors.
    let mut f = files("llama-tied-f32");
    let mut config: Value = serde_json::from_slice(&f["config.json"]).unwrap();
    config["num_key_value_heads"] = 4.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    let err = load(&f).unwrap_err();
    assert!(err.contains("k_proj.weight has shape [12, 24]"), "{err}");
}

#[test]
fn an_untied_head_is_refused() {
    let err = load(&files("gpt2-untied")).unwrap_err();
    assert!(err.contains("lm_head.weight differs"), "{err}");
}

#[test]
fn missing_files_are_named() {
    let mut f = files("gpt2-hub-f32");
    f.remove("config.json");
    assert!(load(&f).unwrap_err().contains("config.json"));
    let mut f = files("gpt2-hub-f32");
    f.remove("model.safetensors");
    assert!(load(&f).unwrap_err().contains("model.safetensors"));
    let mut f = files("gpt2-sharded-f16");
    f.remove("model-00002-of-00003.safetensors");
    let err = load(&f).unwrap_err();
    assert!(
        err.contains("model-00002-of-00003.safetensors") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn a_config_that_does_not_match_the_tensors_is_refused() {
    let mut f = files("gpt2-hub-f32");
    let mut config: Value = serde_json::from_slice(&f["config.json"]).unwrap();
    config["n_layer"] = 3.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    let err = load(&f).unwrap_err();
    assert!(err.contains("h.2.ln_1.weight is missing"), "{err}");
    config["n_layer"] = 2.into();
    config["n_embd"] = 32.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    let err = load(&f).unwrap_err();
    assert!(err.contains("has shape [400, 16]"), "{err}");
    config["n_embd"] = 16.into();
    config["vocab_size"] = 401.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    let err = load(&f).unwrap_err();
    assert!(err.contains("wte.weight has shape [400, 16]"), "{err}");
    // Fewer embedding rows than the tokenizer has ids: the tokenizer is refused first.
    config["vocab_size"] = 399.into();
    f.insert("config.json".into(), config.to_string().into_bytes());
    let err = load(&f).unwrap_err();
    assert!(
        err.contains("ids up to 399") && err.contains("399 rows"),
        "{err}"
    );
}

/// The byte offset of a tensor's data in a single safetensors file.
fn data_offset(bytes: &[u8], name: &str) -> usize {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    8 + n + header[name]["data_offsets"][0].as_u64().unwrap() as usize
}

#[test]
fn non_finite_weights_are_refused() {
    let mut f = files("gpt2-hub-f32");
    let bytes = f.get_mut("model.safetensors").unwrap();
    let at = data_offset(bytes, "h.1.mlp.c_fc.weight") + 4 * 5;
    bytes[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let err = load(&f).unwrap_err();
    assert!(
        err.contains("h.1.mlp.c_fc.weight holds a non-finite value at element 5"),
        "{err}"
    );
}

#[test]
fn truncated_files_are_refused() {
    let whole = files("gpt2-hub-f32");
    let len = whole["model.safetensors"].len();
    for cut in [0, 7, 8, 100, len / 2, len - 1] {
        let mut f = whole.clone();
        f.get_mut("model.safetensors").unwrap().truncate(cut);
        let err = load(&f).unwrap_err();
        assert!(err.contains("truncated or corrupt"), "cut at {cut}: {err}");
    }
}

#[test]
fn foreign_tensors_are_named() {
    // A file with one more tensor than GPT-2 has: rebuild the header by hand.
    let mut f = files("gpt2-hub-f32");
    let bytes = &f["model.safetensors"];
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data_len = bytes.len() - 8 - n;
    header["h.0.mlp.gate.weight"] =
        serde_json::json!({"dtype": "F32", "shape": [1], "data_offsets": [data_len, data_len + 4]});
    let mut text = header.to_string();
    while !(text.len()).is_multiple_of(8) {
        text.push(' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out.extend_from_slice(&1.0f32.to_le_bytes());
    f.insert("model.safetensors".into(), out);
    let err = load(&f).unwrap_err();
    assert!(
        err.contains("a GPT-2 model does not have: h.0.mlp.gate.weight"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any damaged byte anywhere in a checkpoint's files gives weights or an error, never a panic.
    #[test]
    fn damaged_bytes_never_panic(file in 0usize..3, at in any::<prop::sample::Index>(), value in any::<u8>()) {
        let mut f = files("gpt2-sharded-f16");
        let names: Vec<String> = ["config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors"]
            .iter().map(|s| s.to_string()).collect();
        let bytes = f.get_mut(&names[file]).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = value;
        let _ = load(&f);
    }
}

#[test]
fn the_last_layers_lens_is_the_models_own_prediction() {
    for variant in ["gpt2-hub-f32", "llama-tied-f32", "llama-untied-bf16"] {
        let checkpoint = load(&files(variant)).unwrap();
        let tokens = [5, 17, 0, 42, 42, 9, 399, 3];
        let lens = checkpoint.model.layer_lens(&tokens, 5).unwrap();
        let fwd = checkpoint.model.forward(&tokens).unwrap();
        assert_eq!(lens.len(), fwd.n_layer + 1, "{variant}");
        let last = lens.last().unwrap();
        let lp = fwd.log_probs_at(tokens.len() - 1);
        for &(id, p) in &last.top {
            // The lens normalises in f64, the pass in f32: the same distribution to ~1e-6.
            let q = lp[id as usize].exp();
            assert!(
                (p - q).abs() <= 1e-5 * q.max(1e-3),
                "{variant}: token {id}: {p} vs {q}"
            );
        }
        let best = (0..lp.len())
            .max_by(|&a, &b| lp[a].total_cmp(&lp[b]))
            .unwrap();
        assert_eq!(last.top[0].0 as usize, best, "{variant}");
        // Earlier layers see other things: the first layer's lens differs from the last's.
        assert_ne!(lens[0].top, last.top, "{variant}");
        assert!(lens
            .iter()
            .all(|l| l.mean_speed.is_some_and(|s| s.is_finite() && s > 0.0)));
    }
}

/// What fits is decided by bytes, from the stored precision, before a tensor is read: the
/// config of a model too large for the page's memory is refused with the numbers even though
/// its file (a tiny fixture's) is small, and a bf16 file of the same config says it would not
/// fit either; the native command line reads through the same check.
#[test]
fn a_checkpoint_too_large_for_the_pages_memory_is_refused_by_its_bytes() {
    for (variant, dtype) in [("gpt2-hub-f32", "f32"), ("gpt2-saved-bf16", "bf16")] {
        let mut f = files(variant);
        let mut config: Value = serde_json::from_slice(&f["config.json"]).unwrap();
        // GPT-2 large's width with 40 blocks: 851M parameters, 3.4 GB with the twin in bf16.
        for (key, value) in [("n_embd", 1280), ("n_layer", 40), ("n_head", 20)] {
            config[key] = value.into();
        }
        config["vocab_size"] = 50_257.into();
        config["n_positions"] = 1024.into();
        f.insert("config.json".into(), config.to_string().into_bytes());
        f.remove("tokenizer.json");
        let err = load(&f).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "GPT2LMHeadModel: 853M parameters stored as {dtype} need"
            )),
            "{err}"
        );
        assert!(
            err.contains("This build keeps at most 3.22 GB (3 GiB)"),
            "{err}"
        );
        if dtype == "f32" {
            assert!(err.ends_with("and would not fit either"), "{err}");
        }
    }
}
