//! Hugging Face checkpoints read into token-dynamics' transformer (pure Rust, no web-sys).
//!
//! A checkpoint is the layout people already have: a model folder with `config.json` and
//! `model.safetensors`, or `model.safetensors.index.json` and the shards it names, with f32, f16
//! or bf16 tensors. [`load`] takes the folder's files by name (bytes from a disk, a URL or the
//! hub: where they came from is the caller's business), validates everything before use and
//! returns [`td_transformer::Weights`] (or the Llama family's) that the existing forward pass,
//! energy statistics, steering and generation run on unchanged. The matrices stay in the
//! checkpoint's precision (a bf16 checkpoint takes half the memory of its f32 widening); the
//! kernels widen them exactly as they read them, so every result has the bits of the f32 model.
//!
//! Supported architectures (see [`config::Family`]): the GPT-2 family (`GPT2LMHeadModel`:
//! GPT-2 small/medium, DistilGPT-2; what fits a tab is decided by its bytes, see [`memory`]), whose blocks
//! are exactly td-transformer's (pre-norm LayerNorm with eps 1e-5, `Conv1D` input-major weights, GELU tanh, tied unembedding), and
//! the Llama family (`LlamaForCausalLM`: SmolLM, SmolLM2: RMSNorm, rotary positions, SwiGLU,
//! grouped-query attention, tied or untied), run by `td_transformer::llama`. Anything else is
//! refused naming what is supported. Nothing here panics on bad input: every failure is an
//! `Err(String)` a reader can act on.
//!
//! - [`config`]: `config.json` -> [`config::ModelConfig`] (family, sizes, and the checks of the
//!   settings that change the maths);
//! - [`tensors`]: the safetensors files (single or sharded) -> named tensors in their precision;
//! - [`memory`]: the bytes a checkpoint takes in the page (file, weights, twin) and the budget
//!   they must fit, checked before any tensor is read;
//! - [`gpt2`]: GPT-2 tensor names (with or without the `transformer.` prefix) -> weights;
//! - [`llama`]: Llama tensor names -> weights (the `[out, in]` projections transposed);
//! - [`tokenizer`]: `tokenizer.json` through Hugging Face's `tokenizers` (Python's ids exactly).
//! - [`report`]: one report of a checkpoint on a text (energy, statistics beside the random twin,
//!   next tokens, layers, generation, steering), printed by `token-dynamics model` and the page.
//! - [`figures`]: the energy lab's figures of a report (the model beside its random twin), as SVG.

pub mod config;
pub mod figures;
pub mod gpt2;
pub mod llama;
pub mod memory;
pub mod report;
pub mod tensors;
pub mod tokenizer;

use std::collections::BTreeMap;

use td_transformer::forward::log_softmax;
use td_transformer::llama::{
    forward_llama, forward_llama_with, generate_llama_steered, LlamaWeights,
};
use td_transformer::matrix::{Dtype, TensorRef};
use td_transformer::steer::{logits, FinalNorm};
use td_transformer::{forward, generate, Forward, ForwardOptions, Sampling, Weights};

pub use config::{Family, ModelConfig};

/// One layer's view (see [`Model::layer_lens`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerLens {
    /// 0..n_layer: the stream entering block `layer`; n_layer: the last block's output.
    pub layer: usize,
    /// Mean `‖r(t+1) - r(t)‖` (None with fewer than 3 tokens).
    pub mean_speed: Option<f64>,
    /// The lens' most probable next tokens at the last position (id, probability).
    pub top: Vec<(u32, f64)>,
}

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

    /// Every layer's view of the tokens: the residual stream entering each block (and, last, the
    /// final one before the norm) — its mean speed `‖r(t+1) - r(t)‖` over t = 1..=n-2 (the
    /// positions of the energy with the first one skipped), and the logit lens at the last
    /// position: the final norm (f64) and the unembedding applied to that layer's stream, its
    /// `top` most probable tokens.
    pub fn layer_lens(&self, tokens: &[u32], top: usize) -> Result<Vec<LayerLens>, String> {
        let fwd = match self {
            Model::Gpt2(w) => forward(
                w,
                tokens,
                ForwardOptions {
                    keep_residuals: true,
                },
            )?,
            Model::Llama(w) => forward_llama_with(w, tokens, true)?,
        };
        let (n, d) = (fwd.n, fwd.d);
        let mut out = Vec::with_capacity(fwd.n_layer + 1);
        for layer in 0..=fwd.n_layer {
            let row = |t: usize| fwd.residual(layer, t).unwrap_or(&[]);
            let speeds: Vec<f64> = (1..n.saturating_sub(1))
                .map(|t| {
                    row(t + 1)
                        .iter()
                        .zip(row(t))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            let mean_speed =
                (!speeds.is_empty()).then(|| speeds.iter().sum::<f64>() / speeds.len() as f64);
            let last = row(n - 1);
            let z = match self {
                Model::Gpt2(w) => logits(w, &w.final_norm(last)),
                Model::Llama(w) => logits(w, &w.final_norm(last)),
            };
            let lp = log_softmax(&z);
            let mut order: Vec<u32> = (0..lp.len() as u32).collect();
            order.sort_by(|&a, &b| lp[b as usize].total_cmp(&lp[a as usize]));
            let top = order
                .into_iter()
                .take(top)
                .map(|id| (id, lp[id as usize].exp()))
                .collect();
            debug_assert_eq!(last.len(), d);
            out.push(LayerLens {
                layer,
                mean_speed,
                top,
            });
        }
        Ok(out)
    }

    /// Up to `n_new` tokens after `prompt` (capped by the context), with the key/value cache and
    /// seeded sampling; returns prompt + generated tokens.
    pub fn generate(
        &self,
        prompt: &[u32],
        n_new: usize,
        sampling: Sampling,
        seed: u64,
    ) -> Result<Vec<u32>, String> {
        self.generate_patched(prompt, n_new, sampling, seed, None)
    }

    /// [`Model::generate`] with a steering patch added on every pass (either family).
    pub fn generate_patched(
        &self,
        prompt: &[u32],
        n_new: usize,
        sampling: Sampling,
        seed: u64,
        patch: Option<&td_transformer::forward::Patch>,
    ) -> Result<Vec<u32>, String> {
        match self {
            Model::Gpt2(w) => generate(w, prompt, n_new, sampling, seed, patch),
            Model::Llama(w) => generate_llama_steered(w, prompt, n_new, sampling, seed, patch),
        }
    }

    /// Parameters of the model (the config's count).
    pub fn n_params(&self) -> usize {
        match self {
            Model::Gpt2(w) => w.config.n_params(),
            Model::Llama(w) => w.config.n_params(),
        }
    }

    /// The random-weight twin: the same config with the architecture's standard seeded
    /// initialisation, drawn in f32 and rounded (to nearest, ties to even) to the precision of
    /// each of the model's tensors, so it takes the memory the model does.
    pub fn random_twin(&self, seed: u64) -> Result<Model, String> {
        Ok(match self {
            Model::Gpt2(w) => Model::Gpt2(w.random_like(seed)?),
            Model::Llama(w) => Model::Llama(w.random_like(seed)?),
        })
    }

    /// Bytes the weights take in memory.
    pub fn bytes(&self) -> usize {
        match self {
            Model::Gpt2(w) => w.bytes(),
            Model::Llama(w) => w.bytes(),
        }
    }

    /// The precision the matrices are kept in (the widest, if they differ).
    pub fn matrix_dtype(&self) -> Dtype {
        let refs = match self {
            Model::Gpt2(w) => w.tensor_refs(),
            Model::Llama(w) => w.tensor_refs(),
        };
        refs.iter()
            .filter_map(|t| match t {
                TensorRef::Matrix(m) => Some(m.dtype()),
                TensorRef::Vector(_) => None,
            })
            .max_by_key(|d| d.size())
            .unwrap_or(Dtype::F32)
    }

    /// The same model with every matrix stored as f32 (the values, and so every result, are
    /// unchanged: widening is exact).
    pub fn widened(&self) -> Model {
        match self {
            Model::Gpt2(w) => Model::Gpt2(w.widened()),
            Model::Llama(w) => Model::Llama(w.widened()),
        }
    }
}

/// A checkpoint's files by name (`config.json`, `model.safetensors`, …), as bytes.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The files of a checkpoint folder on disk that a checkpoint may need (config, tokenizer,
/// safetensors, shard index), by name; the command line and the tests read folders with it.
pub fn read_folder(dir: &std::path::Path) -> Result<Files, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Files::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = name == "config.json"
            || name == "tokenizer.json"
            || name.ends_with(".safetensors")
            || name == tensors::INDEX;
        if wanted {
            let bytes = std::fs::read(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            files.insert(name, bytes);
        }
    }
    Ok(files)
}

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
    memory::Footprint::of(&config.family, store.matrix_dtype(), store.file_bytes())
        .check(&config.architecture, &config.family)?;
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
