//! `config.json`: which architecture, its sizes, and the settings that change the maths.
//!
//! Only what the forward pass depends on is read; a setting this build does not implement is an
//! error naming it (a checkpoint is never run with a silently different computation).

use serde_json::{Map, Value};
use td_transformer::config::{Config, LN_EPS};

/// The architectures this build can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `GPT2LMHeadModel` (GPT-2 small/medium/large, DistilGPT-2).
    Gpt2,
}

/// A parsed `config.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub family: Family,
    /// The sizes, as td-transformer's [`Config`] (validated).
    pub sizes: Config,
    /// `architectures[0]` or `model_type`, for messages and links.
    pub architecture: String,
}

/// What the supported architectures are, for messages.
pub const SUPPORTED: &str = "the GPT-2 family (GPT2LMHeadModel: GPT-2 small/medium, DistilGPT-2)";

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
    let is = |arch: &str, ty: &str| architectures.contains(&arch) || model_type == ty;
    if is("GPT2LMHeadModel", "gpt2") {
        return gpt2(obj, architecture);
    }
    if is("LlamaForCausalLM", "llama") {
        return Err(format!(
            "{architecture}: Llama-family checkpoints (SmolLM, SmolLM2, Llama) are recognised but \
             not supported yet: this build runs {SUPPORTED}"
        ));
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
        family: Family::Gpt2,
        sizes,
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
        assert_eq!(c.family, Family::Gpt2);
        assert_eq!(c.architecture, "GPT2LMHeadModel");
        assert_eq!(
            c.sizes,
            Config {
                vocab: 50257,
                d_model: 768,
                n_layer: 12,
                n_head: 12,
                context: 1024,
                mlp: 3072
            }
        );
        assert_eq!(c.sizes.n_params(), 124_439_808);
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

    #[test]
    fn other_architectures_say_what_is_supported() {
        let llama = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}"#;
        let err = parse(llama).unwrap_err();
        assert!(err.contains("Llama") && err.contains("GPT-2"), "{err}");
        let bert = r#"{"architectures": ["BertForMaskedLM"], "model_type": "bert"}"#;
        let err = parse(bert).unwrap_err();
        assert!(
            err.contains("BertForMaskedLM is not supported") && err.contains("GPT2LMHeadModel"),
            "{err}"
        );
        for bad in ["", "[]", "{", "null", r#"{"n_embd": 4}"#] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let missing =
            r#"{"model_type": "gpt2", "n_embd": 16, "n_layer": 1, "n_head": 2, "vocab_size": 10}"#;
        let err = parse(missing).unwrap_err();
        assert!(err.contains("n_positions"), "{err}");
    }
}
