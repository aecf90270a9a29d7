//! `config.json`: which architecture, its sizes, and the settings that change the maths.
//!
//! Only what the forward pass depends on is read; a setting this build does not implement is an
//! error naming it (a checkpoint is never run with a silently different computation).

use serde_json::{Map, Value};
use td_transformer::config::{Config, LN_EPS};
use td_transformer::llama::LlamaConfig;

/// The architectures this build can run, with their sizes (validated).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    /// `GPT2LMHeadModel` (GPT-2 small/medium/large, DistilGPT-2): td-transformer's blocks.
    Gpt2(Config),
    /// `LlamaForCausalLM` (SmolLM, SmolLM2, Llama): td-transformer's `llama` pass.
    Llama(LlamaConfig),
}

impl Family {
    pub fn vocab(&self) -> usize {
        match self {
            Family::Gpt2(c) => c.vocab,
            Family::Llama(c) => c.vocab,
        }
    }

    pub fn context(&self) -> usize {
        match self {
            Family::Gpt2(c) => c.context,
            Family::Llama(c) => c.context,
        }
    }

    /// How many transformer blocks.
    pub fn n_layer(&self) -> usize {
        match self {
            Family::Gpt2(c) => c.n_layer,
            Family::Llama(c) => c.n_layer,
        }
    }

    pub fn n_params(&self) -> usize {
        match self {
            Family::Gpt2(c) => c.n_params(),
            Family::Llama(c) => c.n_params(),
        }
    }

    /// Parameters in matrices (kept in the checkpoint's precision) and in gain and bias vectors
    /// (kept in f32).
    pub fn matrix_and_vector_params(&self) -> (usize, usize) {
        let shapes: Vec<Vec<usize>> = match self {
            Family::Gpt2(c) => td_transformer::weights::tensor_specs(c)
                .into_iter()
                .map(|(_, shape, _)| shape)
                .collect(),
            Family::Llama(c) => td_transformer::llama::tensor_specs(c)
                .into_iter()
                .map(|(_, shape)| shape)
                .collect(),
        };
        shapes.iter().fold((0, 0), |(m, v), shape| {
            let len = shape.iter().product::<usize>();
            if shape.len() >= 2 {
                (m + len, v)
            } else {
                (m, v + len)
            }
        })
    }

    /// The sizes in one line.
    pub fn describe(&self) -> String {
        match self {
            Family::Gpt2(c) => format!(
                "vocab {}, d {}, {} layers, {} heads, context {}, MLP {}",
                c.vocab, c.d_model, c.n_layer, c.n_head, c.context, c.mlp
            ),
            Family::Llama(c) => format!(
                "vocab {}, d {}, {} layers, {} query heads sharing {} key/value heads, context {}, \
                 SwiGLU {}, rope theta {}, {} unembedding",
                c.vocab,
                c.d_model,
                c.n_layer,
                c.n_head,
                c.n_kv_head,
                c.context,
                c.mlp,
                c.rope_theta,
                if c.tied { "tied" } else { "untied" }
            ),
        }
    }
}

/// A parsed `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    /// `architectures[0]` or `model_type`, for messages and links.
    pub architecture: String,
}

/// What the supported architectures are, for messages.
pub const SUPPORTED: &str = "the GPT-2 family (GPT2LMHeadModel: GPT-2 small/medium, DistilGPT-2) \
                             and the Llama family (LlamaForCausalLM: SmolLM, SmolLM2)";

/// Parses and checks `config.json`.
pub fn parse(text: &str) -> Result<ModelConfig, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("config.json is not valid JSON: {e}"))?;
    let Some(obj) = value.as_object() else {
        return Err("config.json is not a JSON object".into());
    };
    let architectures: Vec<&str> = obj
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let model_type = obj.get("model_type").and_then(Value::as_str).unwrap_or("");
    let architecture = architectures
        .first()
        .copied()
        .unwrap_or(model_type)
        .to_string();
    // `architectures` names the class (a causal LM, or a classifier on the same blocks), and
    // `model_type` the family: a config whose two disagree, or that names another class, is not
    // run as one of ours.
    const CLASSES: [(&str, &str); 2] = [("GPT2LMHeadModel", "gpt2"), ("LlamaForCausalLM", "llama")];
    let family = if architectures.is_empty() {
        CLASSES.iter().find(|(_, ty)| *ty == model_type)
    } else {
        let found = CLASSES
            .iter()
            .find(|(class, _)| architectures.contains(class));
        if let Some((class, ty)) = found {
            if !model_type.is_empty() && model_type != *ty {
                return Err(format!(
                    "config.json: architectures says {class} but model_type says {model_type}; \
                     one of them is wrong, so the checkpoint is not run"
                ));
            }
        } else if CLASSES.iter().any(|(_, ty)| *ty == model_type) {
            return Err(format!(
                "{architecture} is a {model_type} model with another head, not a causal language \
                 model: this build runs {SUPPORTED}"
            ));
        }
        found
    };
    match family {
        Some(("GPT2LMHeadModel", _)) => return gpt2(obj, architecture),
        Some(_) => return llama(obj, architecture),
        None => {}
    }
    let named = if architecture.is_empty() {
        "config.json names no architecture (neither architectures nor model_type)".to_string()
    } else {
        format!("{architecture} is not supported")
    };
    Err(format!("{named}: this build runs {SUPPORTED}"))
}

/// A non-negative integer field.
fn size(obj: &Map<String, Value>, key: &str) -> Result<Option<usize>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("config.json: {key} = {v} is not a whole number")),
    }
}

fn required(obj: &Map<String, Value>, keys: &[&str]) -> Result<usize, String> {
    for key in keys {
        if let Some(n) = size(obj, key)? {
            return Ok(n);
        }
    }
    let name = match keys {
        [one] => (*one).to_string(),
        [first, rest @ ..] => format!("{first} (or {})", rest.join(", ")),
        [] => String::new(),
    };
    Err(format!("config.json: {name} is missing"))
}

fn flag(obj: &Map<String, Value>, key: &str, default: bool) -> Result<bool, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!("config.json: {key} = {v} is not true or false")),
    }
}

fn gpt2(obj: &Map<String, Value>, architecture: String) -> Result<ModelConfig, String> {
    let d_model = required(obj, &["n_embd"])?;
    let sizes = Config {
        vocab: required(obj, &["vocab_size"])?,
        d_model,
        n_layer: required(obj, &["n_layer"])?,
        n_head: required(obj, &["n_head"])?,
        context: required(obj, &["n_positions", "n_ctx"])?,
        mlp: size(obj, "n_inner")?.unwrap_or(4 * d_model),
    };
    sizes
        .validate()
        .map_err(|e| format!("{architecture}: {e}"))?;
    let activation = obj
        .get("activation_function")
        .and_then(Value::as_str)
        .unwrap_or("gelu_new");
    if !matches!(activation, "gelu_new" | "gelu_pytorch_tanh") {
        return Err(format!(
            "{architecture}: activation_function = {activation:?} is not supported (this build \
             computes GELU's tanh form: gelu_new or gelu_pytorch_tanh)"
        ));
    }
    if let Some(eps) = obj.get("layer_norm_epsilon") {
        let eps = eps
            .as_f64()
            .ok_or_else(|| format!("config.json: layer_norm_epsilon = {eps} is not a number"))?;
        if (eps - f64::from(LN_EPS)).abs() > 1e-12 {
            return Err(format!(
                "{architecture}: layer_norm_epsilon = {eps} is not supported (this build's \
                 LayerNorm uses {LN_EPS})"
            ));
        }
    }
    if !flag(obj, "scale_attn_weights", true)? {
        return Err(format!(
            "{architecture}: scale_attn_weights = false is not supported (attention scores are \
             scaled by 1/sqrt(head size))"
        ));
    }
    if flag(obj, "scale_attn_by_inverse_layer_idx", false)? {
        return Err(format!(
            "{architecture}: scale_attn_by_inverse_layer_idx = true is not supported"
        ));
    }
    if !flag(obj, "tie_word_embeddings", true)? {
        return Err(format!(
            "{architecture}: tie_word_embeddings = false is not supported for the GPT-2 family \
             (its unembedding is the token embedding)"
        ));
    }
    Ok(ModelConfig {
        family: Family::Gpt2(sizes),
        architecture,
    })
}

fn number(obj: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("config.json: {key} = {v} is not a number")),
    }
}

/// A rope setting other than the plain one (`rope_scaling`, or a `rope_type` in
/// `rope_parameters`), which this build does not compute.
fn rope_variant(obj: &Map<String, Value>) -> Option<String> {
    let kind = |v: &Value| {
        v.get("rope_type")
            .or_else(|| v.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for key in ["rope_scaling", "rope_parameters"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            let k = kind(v);
            if !(k.is_empty() || k == "default") {
                return Some(format!("{key} of type {k:?}"));
            }
        }
    }
    None
}

fn llama(obj: &Map<String, Value>, architecture: String) -> Result<ModelConfig, String> {
    let d_model = required(obj, &["hidden_size"])?;
    let n_head = required(obj, &["num_attention_heads"])?;
    let theta = match number(obj, "rope_theta")? {
        Some(t) => t,
        None => obj
            .get("rope_parameters")
            .and_then(|p| p.get("rope_theta"))
            .and_then(Value::as_f64)
            .unwrap_or(10_000.0),
    };
    let sizes = LlamaConfig {
        vocab: required(obj, &["vocab_size"])?,
        d_model,
        n_layer: required(obj, &["num_hidden_layers"])?,
        n_head,
        n_kv_head: size(obj, "num_key_value_heads")?.unwrap_or(n_head),
        context: required(obj, &["max_position_embeddings"])?,
        mlp: required(obj, &["intermediate_size"])?,
        rms_eps: number(obj, "rms_norm_eps")?.unwrap_or(1e-6),
        rope_theta: theta,
        tied: flag(obj, "tie_word_embeddings", false)?,
        init_std: number(obj, "initializer_range")?.unwrap_or(0.02),
    };
    sizes
        .validate()
        .map_err(|e| format!("{architecture}: {e}"))?;
    let refuse = |what: String| Err(format!("{architecture}: {what} is not supported"));
    let activation = obj
        .get("hidden_act")
        .and_then(Value::as_str)
        .unwrap_or("silu");
    if activation != "silu" {
        return refuse(format!(
            "hidden_act = {activation:?} (this build computes SwiGLU with silu)"
        ));
    }
    for key in ["attention_bias", "mlp_bias"] {
        if flag(obj, key, false)? {
            return refuse(format!("{key} = true"));
        }
    }
    if let Some(hd) = size(obj, "head_dim")? {
        if hd != sizes.head_dim() {
            return refuse(format!(
                "head_dim = {hd} (other than hidden_size / num_attention_heads = {})",
                sizes.head_dim()
            ));
        }
    }
    if size(obj, "pretraining_tp")?.is_some_and(|tp| tp != 1) {
        return refuse("pretraining_tp other than 1".into());
    }
    if let Some(variant) = rope_variant(obj) {
        return refuse(variant);
    }
    Ok(ModelConfig {
        family: Family::Llama(sizes),
        architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GPT2_SMALL: &str = r#"{"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024,
        "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "resid_pdrop": 0.1,
        "summary_activation": null, "vocab_size": 50257}"#;

    #[test]
    fn gpt2_small_config_reads_as_its_sizes() {
        let c = parse(GPT2_SMALL).unwrap();
        assert_eq!(c.architecture, "GPT2LMHeadModel");
        assert_eq!(
            c.family,
            Family::Gpt2(Config {
                vocab: 50257,
                d_model: 768,
                n_layer: 12,
                n_head: 12,
                context: 1024,
                mlp: 3072
            })
        );
        assert_eq!(c.family.n_params(), 124_439_808);
    }

    #[test]
    fn settings_that_change_the_maths_are_refused_by_name() {
        let with = |key: &str, value: &str| {
            let mut v: Value = serde_json::from_str(GPT2_SMALL).unwrap();
            v[key] = serde_json::from_str(value).unwrap();
            parse(&v.to_string())
        };
        for (key, value, needle) in [
            ("activation_function", "\"relu\"", "activation_function"),
            ("layer_norm_epsilon", "1e-6", "layer_norm_epsilon"),
            ("scale_attn_weights", "false", "scale_attn_weights"),
            (
                "scale_attn_by_inverse_layer_idx",
                "true",
                "inverse_layer_idx",
            ),
            ("tie_word_embeddings", "false", "tie_word_embeddings"),
            ("n_head", "7", "n_head"),
            ("n_embd", "-3", "n_embd"),
            ("n_layer", "1e9", "n_layer"),
        ] {
            let err = with(key, value).unwrap_err();
            assert!(err.contains(needle), "{key} = {value}: {err}");
        }
        assert!(with("n_inner", "null").is_ok());
        assert!(with("activation_function", "\"gelu_pytorch_tanh\"").is_ok());
    }

    /// SmolLM2-135M's config.json as the hub serves it.
    const SMOLLM2_135M: &str = r#"{"architectures": ["LlamaForCausalLM"], "attention_bias": false,
        "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu",
        "hidden_size": 576, "initializer_range": 0.041666666666666664, "intermediate_size": 1536,
        "is_llama_config": true, "max_position_embeddings": 8192, "model_type": "llama",
        "num_attention_heads": 9, "num_hidden_layers": 30, "num_key_value_heads": 3,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_interleaved": false,
        "rope_scaling": null, "rope_theta": 100000, "tie_word_embeddings": true,
        "torch_dtype": "bfloat16", "transformers_version": "4.42.3", "use_cache": true,
        "vocab_size": 49152}"#;

    #[test]
    fn smollm2_config_reads_as_its_sizes() {
        let c = parse(SMOLLM2_135M).unwrap();
        let Family::Llama(l) = c.family else {
            panic!("{c:?}")
        };
        assert_eq!(
            (l.d_model, l.n_head, l.n_kv_head, l.head_dim()),
            (576, 9, 3, 64)
        );
        assert_eq!((l.rope_theta, l.rms_eps, l.tied), (100_000.0, 1e-5, true));
        assert_eq!(c.family.n_params(), 134_515_008);
        let with = |key: &str, value: &str| {
            let mut v: Value = serde_json::from_str(SMOLLM2_135M).unwrap();
            v[key] = serde_json::from_str(value).unwrap();
            parse(&v.to_string())
        };
        for (key, value, needle) in [
            ("hidden_act", "\"gelu\"", "hidden_act"),
            ("attention_bias", "true", "attention_bias"),
            (
                "rope_scaling",
                r#"{"rope_type": "llama3", "factor": 8}"#,
                "llama3",
            ),
            ("num_key_value_heads", "4", "n_kv_head"),
            ("head_dim", "32", "head_dim"),
        ] {
            let err = with(key, value).unwrap_err();
            assert!(err.contains(needle), "{key} = {value}: {err}");
        }
        // transformers 5 writes the rope settings inside rope_parameters.
        let mut v: Value = serde_json::from_str(SMOLLM2_135M).unwrap();
        v.as_object_mut().unwrap().remove("rope_theta");
        v["rope_parameters"] = serde_json::json!({"rope_theta": 5000.0, "rope_type": "default"});
        let Family::Llama(l) = parse(&v.to_string()).unwrap().family else {
            panic!()
        };
        assert_eq!(l.rope_theta, 5000.0);
    }

    #[test]
    fn other_architectures_say_what_is_supported() {
        let bert = r#"{"architectures": ["BertForMaskedLM"], "model_type": "bert"}"#;
        let err = parse(bert).unwrap_err();
        assert!(
            err.contains("BertForMaskedLM is not supported") && err.contains("GPT2LMHeadModel"),
            "{err}"
        );
        for bad in ["", "[]", "{", "null", r#"{"n_embd": 4}"#] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // The class and the family must agree, and the class be a causal language model.
        let err = parse(&GPT2_SMALL.replace(r#""model_type": "gpt2""#, r#""model_type": "llama""#))
            .unwrap_err();
        assert!(
            err.contains("architectures says GPT2LMHeadModel but model_type says llama"),
            "{err}"
        );
        let err = parse(&GPT2_SMALL.replace("GPT2LMHeadModel", "GPT2ForSequenceClassification"))
            .unwrap_err();
        assert!(
            err.contains("GPT2ForSequenceClassification is a gpt2 model with another head"),
            "{err}"
        );
        assert!(parse(&GPT2_SMALL.replace(r#""model_type": "gpt2","#, "")).is_ok());
        let missing =
            r#"{"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 10}"#;
        let err = parse(missing).unwrap_err();
        assert!(err.contains("n_positions"), "{err}");
    }
}
