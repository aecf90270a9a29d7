//! Hugging Face checkpoints read into token-dynamics' transformer (pure Rust, no web-sys).
//!
//! A checkpoint is the layout people already have: a model folder with `config.json` and
//! `model.safetensors`, or `model.safetensors.index.json` and the shards it names, with f32, f16
//! or bf16 tensors. [`load`] takes the folder's files by name (bytes from a disk, a URL or the
//! hub: where they came from is the caller's business), validates everything before use and
//! returns f32 [`td_transformer::Weights`] that the existing forward pass, energy statistics,
//! steering and generation run on unchanged.
//!
//! Supported architectures (see [`config::Family`]): the GPT-2 family (`GPT2LMHeadModel`:
//! GPT-2 small/medium, DistilGPT-2), whose blocks are exactly td-transformer's (pre-norm
//! LayerNorm with eps 1e-5, `Conv1D` input-major weights, GELU tanh, tied unembedding), and
//! the Llama family (`LlamaForCausalLM`: SmolLM, SmolLM2: RMSNorm, rotary positions, SwiGLU,
//! grouped-query attention, tied or untied), run by `td_transformer::llama`. Anything else is
//! refused naming what is supported. Nothing here panics on bad input: every failure is an
//! `Err(String)` a reader can act on.
//!
//! - [`config`]: `config.json` -> [`config::ModelConfig`] (family, sizes, and the checks of the
//!   settings that change the maths);
//! - [`tensors`]: the safetensors files (single or sharded) -> named tensors as f32;
//! - [`gpt2`]: GPT-2 tensor names (with or without the `transformer.` prefix) -> weights;
//! - [`llama`]: Llama tensor names -> weights (the `[out, in]` projections transposed);
//! - [`tokenizer`]: `tokenizer.json` through Hugging Face's `tokenizers` (Python's ids exactly).

pub mod config;
pub mod gpt2;
pub mod llama;
pub mod tensors;
pub mod tokenizer;

use std::collections::BTreeMap;

use td_transformer::llama::{forward_llama, LlamaWeights};
use td_transformer::{forward, Forward, ForwardOptions, Weights};

pub use config::{Family, ModelConfig};

/// A model's weights, of either family.
#[derive(Debug)]
pub enum Model {
    Gpt2(Weights),
    Llama(LlamaWeights),
}

impl Model {
    /// The full forward pass over `tokens` (logits, log-probabilities, final hidden states).
    pub fn forward(&self, tokens: &[u32]) -> Result<Forward, String> {
        match self {
            Model::Gpt2(w) => forward(w, tokens, ForwardOptions::default()),
            Model::Llama(w) => forward_llama(w, tokens),
        }
    }

    /// The random-weight twin: the same config with the architecture's standard seeded
    /// initialisation.
    pub fn random_twin(&self, seed: u64) -> Result<Model, String> {
        Ok(match self {
            Model::Gpt2(w) => Model::Gpt2(Weights::random(w.config, seed)?),
            Model::Llama(w) => Model::Llama(LlamaWeights::random(w.config, seed)?),
        })
    }
}

/// A checkpoint's files by name (`config.json`, `model.safetensors`, …), as bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// A checkpoint read and validated.
#[derive(Debug)]
pub struct Checkpoint {
    pub config: ModelConfig,
    pub model: Model,
    /// What the tensors were stored as (`"f32"`, `"bf16"`, …; several if mixed).
    pub stored_dtypes: Vec<String>,
    /// The checkpoint's `tokenizer.json`, if it has one (checked to fit the embedding); without
    /// it, text cannot be turned into the model's tokens, only token ids can be given.
    pub tokenizer: Option<tokenizer::TextTokenizer>,
}

/// Reads a checkpoint from its files: `config.json`, then the tensors (`model.safetensors`, or
/// the shards named by `model.safetensors.index.json`), validated against the config.
pub fn load(files: &Files) -> Result<Checkpoint, String> {
    let config_text = files
        .get("config.json")
        .ok_or("the checkpoint has no config.json")?;
    let config_text = std::str::from_utf8(config_text)
        .map_err(|_| "config.json is not UTF-8 text".to_string())?;
    let config = config::parse(config_text)?;
    let tokenizer = match files.get("tokenizer.json") {
        Some(bytes) => {
            let tokenizer = tokenizer::TextTokenizer::from_json(bytes)?;
            tokenizer.check_fits(config.family.vocab())?;
            Some(tokenizer)
        }
        None => None,
    };
    let store = tensors::TensorStore::open(files)?;
    let model = match &config.family {
        Family::Gpt2(sizes) => Model::Gpt2(gpt2::weights(sizes, &store)?),
        Family::Llama(sizes) => Model::Llama(llama::weights(sizes, &store)?),
    };
    Ok(Checkpoint {
        config,
        model,
        stored_dtypes: store.dtypes(),
        tokenizer,
    })
}
