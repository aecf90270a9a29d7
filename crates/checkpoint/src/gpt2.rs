//! GPT-2 family tensors -> td-transformer weights.
//!
//! `GPT2LMHeadModel`'s blocks are td-transformer's blocks, tensor for tensor: its `Conv1D`
//! weights are stored input-major (`[in, out]`), as ours are, so nothing is transposed. Names come
//! with or without the `transformer.` prefix (the hub's `openai-community/gpt2` has none;
//! `save_pretrained` of a `GPT2LMHeadModel` writes it). `lm_head.weight`, when present, must be
//! the token embedding (GPT-2 ties them). The causal-mask buffers of older exports
//! (`attn.bias`, `attn.masked_bias`) are ignored; any other tensor is an error, since it would
//! mean a computation this build does not do.

use td_transformer::weights::tensor_specs;
use td_transformer::{Config, Weights};

use crate::tensors::{same_values, TensorStore};

/// The Hugging Face name (without prefix) of td-transformer's tensor `ours` (`h3.fc_w`, …).
fn hf_name(ours: &str) -> String {
    let Some((layer, part)) = ours.split_once('.') else {
        return match ours {
            "wte" => "wte.weight",
            "wpe" => "wpe.weight",
            "lnf_g" => "ln_f.weight",
            "lnf_b" => "ln_f.bias",
            other => other,
        }
        .to_string();
    };
    let l = layer.trim_start_matches('h');
    let hf = match part {
        "ln1_g" => "ln_1.weight",
        "ln1_b" => "ln_1.bias",
        "attn_w" => "attn.c_attn.weight",
        "attn_b" => "attn.c_attn.bias",
        "proj_w" => "attn.c_proj.weight",
        "proj_b" => "attn.c_proj.bias",
        "ln2_g" => "ln_2.weight",
        "ln2_b" => "ln_2.bias",
        "fc_w" => "mlp.c_fc.weight",
        "fc_b" => "mlp.c_fc.bias",
        "fc2_w" => "mlp.c_proj.weight",
        "fc2_b" => "mlp.c_proj.bias",
        other => other,
    };
    format!("h.{l}.{hf}")
}

/// Whether `name` (prefix removed) is a buffer older exports carry and the forward pass ignores.
fn ignored_buffer(name: &str) -> bool {
    name.starts_with("h.") && (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias"))
}

/// The weights of a GPT-2 family checkpoint, every tensor checked against the config's shapes.
pub fn weights(config: &Config, store: &TensorStore) -> Result<Weights, String> {
    let prefix = if store.has("wte.weight") {
        ""
    } else if store.has("transformer.wte.weight") {
        "transformer."
    } else {
        return Err(
            "no GPT-2 token embedding (wte.weight or transformer.wte.weight): not a GPT-2 \
             checkpoint, or its tensors are named differently"
                .into(),
        );
    };
    let specs = tensor_specs(config);
    let mut expected: Vec<String> = Vec::with_capacity(specs.len() + 1);
    let mut tensors = Vec::with_capacity(specs.len());
    for (ours, shape, _) in &specs {
        let name = format!("{prefix}{}", hf_name(ours));
        tensors.push(store.tensor(&name, shape)?);
        expected.push(name);
    }
    if store.has("lm_head.weight") {
        let wte_shape = &specs[0].1;
        let head = store.tensor("lm_head.weight", wte_shape)?;
        if !same_values(&head, &tensors[0]) {
            return Err(
                "lm_head.weight differs from the token embedding: an untied GPT-2 head is not \
                 supported (GPT-2 ties them)"
                    .into(),
            );
        }
        expected.push("lm_head.weight".into());
    }
    store.check_no_others(
        &expected,
        |n| ignored_buffer(n.strip_prefix(prefix).unwrap_or(n)),
        "GPT-2",
    )?;
    Weights::from_stored(*config, tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tensor_has_its_hugging_face_name() {
        assert_eq!(hf_name("wte"), "wte.weight");
        assert_eq!(hf_name("lnf_b"), "ln_f.bias");
        assert_eq!(hf_name("h0.attn_w"), "h.0.attn.c_attn.weight");
        assert_eq!(hf_name("h11.fc2_b"), "h.11.mlp.c_proj.bias");
        assert!(ignored_buffer("h.3.attn.bias"));
        assert!(!ignored_buffer("h.3.attn.c_attn.bias"));
    }
}
