//! Llama family tensors -> td-transformer's `llama` weights.
//!
//! `LlamaForCausalLM` names: `model.embed_tokens.weight`, per layer `model.layers.{l}.` +
//! `input_layernorm.weight`, `self_attn.{q,k,v,o}_proj.weight`, `post_attention_layernorm.weight`,
//! `mlp.{gate,up,down}_proj.weight`, then `model.norm.weight` and `lm_head.weight` (absent, or
//! equal to the embedding, when tied). The projections are `nn.Linear` matrices `[out, in]`;
//! they are transposed once here to the input-major layout of the forward pass. The rotary
//! buffers some exports carry (`rotary_emb.inv_freq`) are ignored (they are recomputed from the
//! config); any other tensor is an error.

use td_transformer::llama::{tensor_specs, LlamaConfig, LlamaWeights};

use crate::tensors::{same_values, TensorStore};

/// The Hugging Face name of our tensor `ours`, and whether it is stored `[out, in]` (transposed).
fn hf_name(ours: &str) -> (String, bool) {
    let Some((layer, part)) = ours.split_once('.') else {
        let name = match ours {
            "embed" => "model.embed_tokens.weight",
            "norm" => "model.norm.weight",
            "lm_head" => "lm_head.weight",
            other => other,
        };
        return (name.to_string(), false);
    };
    let l = layer.trim_start_matches('h');
    let (hf, linear) = match part {
        "input_norm" => ("input_layernorm.weight", false),
        "wq" => ("self_attn.q_proj.weight", true),
        "wk" => ("self_attn.k_proj.weight", true),
        "wv" => ("self_attn.v_proj.weight", true),
        "wo" => ("self_attn.o_proj.weight", true),
        "post_norm" => ("post_attention_layernorm.weight", false),
        "gate" => ("mlp.gate_proj.weight", true),
        "up" => ("mlp.up_proj.weight", true),
        "down" => ("mlp.down_proj.weight", true),
        other => (other, false),
    };
    (format!("model.layers.{l}.{hf}"), linear)
}

/// The weights of a Llama-family checkpoint, every tensor checked against the config's shapes.
pub fn weights(config: &LlamaConfig, store: &TensorStore) -> Result<LlamaWeights, String> {
    let specs = tensor_specs(config);
    let mut expected: Vec<String> = Vec::with_capacity(specs.len() + 1);
    let mut tensors = Vec::with_capacity(specs.len());
    for (ours, shape) in &specs {
        let (name, linear) = hf_name(ours);
        let values = if linear {
            // Ours is [in, out]; the file's is [out, in].
            let (in_dim, out_dim) = (shape[0], shape[1]);
            store
                .tensor(&name, &[out_dim, in_dim])?
                .transposed(out_dim, in_dim)
        } else {
            store.tensor(&name, shape)?
        };
        tensors.push(values);
        expected.push(name);
    }
    if config.tied && store.has("lm_head.weight") {
        let head = store.tensor("lm_head.weight", &specs[0].1)?;
        if !same_values(&head, &tensors[0]) {
            return Err(
                "lm_head.weight differs from the token embedding, but config.json says \
                 tie_word_embeddings = true"
                    .into(),
            );
        }
        expected.push("lm_head.weight".into());
    }
    store.check_no_others(&expected, |n| n.ends_with("rotary_emb.inv_freq"), "Llama")?;
    LlamaWeights::from_stored(*config, tensors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_layouts() {
        assert_eq!(
            hf_name("embed"),
            ("model.embed_tokens.weight".into(), false)
        );
        assert_eq!(
            hf_name("h7.wk"),
            ("model.layers.7.self_attn.k_proj.weight".into(), true)
        );
        assert_eq!(
            hf_name("h0.post_norm"),
            (
                "model.layers.0.post_attention_layernorm.weight".into(),
                false
            )
        );
    }
}
