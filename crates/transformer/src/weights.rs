//! Parameters, one flat row-major tensor each: the matrices (`wte`, `wpe`, `attn_w`, `proj_w`,
//! `fc_w`, `fc2_w`) as a [`Matrix`] (f32 for the lab's model; a checkpoint's bf16 or f16 when read
//! from one), the gains and biases as `Vec<f32>`.
//!
//! Linear maps are stored **input-major** (GPT-2's `Conv1D` layout): a `[in × out]` matrix `W` maps
//! a row vector `x` to `x·W`, element `(i, o)` at `W[i * out + o]`. So GPT-2 checkpoints export
//! without transposes.
//!
//! Tensor order (this is also the file order of `format.rs` and the draw order of [`Weights::random`]):
//! 1. `wte` `[vocab × d]` token embedding (also the tied unembedding: logits = h · wteᵀ);
//! 2. `wpe` `[context × d]` position embedding;
//! 3. for each layer `l = 0..n_layer`:
//!    `ln1_g [d]`, `ln1_b [d]`, `attn_w [d × 3d]` (columns q | k | v, head `h` uses columns
//!    `h·hd .. (h+1)·hd` of each), `attn_b [3d]`, `proj_w [d × d]`, `proj_b [d]`, `ln2_g [d]`,
//!    `ln2_b [d]`, `fc_w [d × mlp]`, `fc_b [mlp]`, `fc2_w [mlp × d]`, `fc2_b [d]`;
//! 4. `lnf_g [d]`, `lnf_b [d]`.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::config::Config;
use super::matrix::{Dtype, Matrix, TensorRef};
use super::strips::{LayerStrips, Strips, STRIPS_MAX_VALUES};
use td_rng::Source;

/// One pre-norm block.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub ln1_g: Vec<f32>,
    pub ln1_b: Vec<f32>,
    pub attn_w: Matrix,
    pub attn_b: Vec<f32>,
    pub proj_w: Matrix,
    pub proj_b: Vec<f32>,
    pub ln2_g: Vec<f32>,
    pub ln2_b: Vec<f32>,
    pub fc_w: Matrix,
    pub fc_b: Vec<f32>,
    pub fc2_w: Matrix,
    pub fc2_b: Vec<f32>,
}

/// The blocks of a model, read as a `Vec<Layer>` (through `Deref`), with the copy of their
/// matrices in the strips the forward pass's products read ([`crate::strips`]), made at the first
/// pass that wants it. Every mutable access (`DerefMut`, `&mut` iteration) drops that copy first,
/// so it is never older than the weights it was made from.
#[derive(Clone, Default)]
pub struct Layers {
    layers: Vec<Layer>,
    strips: OnceLock<Option<Vec<LayerStrips>>>,
}

impl Layers {
    /// The strips of every layer, made now if not yet; `None` above [`STRIPS_MAX_VALUES`].
    pub fn strips(&self) -> Option<&[LayerStrips]> {
        self.strips
            .get_or_init(|| {
                let values: usize = self
                    .layers
                    .iter()
                    .map(|l| l.attn_w.len() + l.proj_w.len() + l.fc_w.len() + l.fc2_w.len())
                    .sum();
                (values <= STRIPS_MAX_VALUES).then(|| {
                    self.layers
                        .iter()
                        .map(|l| LayerStrips {
                            attn: Strips::new(&l.attn_w, l.attn_b.len()),
                            proj: Strips::new(&l.proj_w, l.proj_b.len()),
                            fc: Strips::new(&l.fc_w, l.fc_b.len()),
                            fc2: Strips::new(&l.fc2_w, l.fc2_b.len()),
                        })
                        .collect()
                })
            })
            .as_deref()
    }

    /// These layers never keeping strips: every pass packs its strips as it goes, as a large
    /// model's do (the comparison the tests make; the results' bits are the same).
    pub fn without_strips(mut self) -> Layers {
        self.strips = OnceLock::from(None);
        self
    }

    /// True when the strips have been made (and not dropped since).
    pub fn has_strips(&self) -> bool {
        matches!(self.strips.get(), Some(Some(_)))
    }
}

impl From<Vec<Layer>> for Layers {
    fn from(layers: Vec<Layer>) -> Layers {
        Layers {
            layers,
            strips: OnceLock::new(),
        }
    }
}

impl std::ops::Deref for Layers {
    type Target = Vec<Layer>;
    fn deref(&self) -> &Vec<Layer> {
        &self.layers
    }
}

impl std::ops::DerefMut for Layers {
    fn deref_mut(&mut self) -> &mut Vec<Layer> {
        self.strips.take();
        &mut self.layers
    }
}

impl<'a> IntoIterator for &'a Layers {
    type Item = &'a Layer;
    type IntoIter = std::slice::Iter<'a, Layer>;
    fn into_iter(self) -> Self::IntoIter {
        self.layers.iter()
    }
}

impl<'a> IntoIterator for &'a mut Layers {
    type Item = &'a mut Layer;
    type IntoIter = std::slice::IterMut<'a, Layer>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// Equal layers (the strips are derived from them).
impl PartialEq for Layers {
    fn eq(&self, other: &Layers) -> bool {
        self.layers == other.layers
    }
}

/// The layers (the strips, a copy of them, only as a flag).
impl std::fmt::Debug for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layers")
            .field("layers", &self.layers)
            .field("strips", &self.has_strips())
            .finish()
    }
}

/// All parameters of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub config: Config,
    pub wte: Matrix,
    pub wpe: Matrix,
    pub layers: Layers,
    pub lnf_g: Vec<f32>,
    pub lnf_b: Vec<f32>,
}

/// How a tensor is initialised by [`Weights::random`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitKind {
    /// normal(0, 0.02)
    Normal,
    /// normal(0, 0.02 / sqrt(2·n_layer)) (residual output projections `proj_w`, `fc2_w`)
    NormalResidual,
    Zeros,
    Ones,
}

/// Name, shape and initialisation of every tensor, in the documented order.
pub fn tensor_specs(config: &Config) -> Vec<(String, Vec<usize>, InitKind)> {
    let (v, d, m, c) = (config.vocab, config.d_model, config.mlp, config.context);
    use InitKind::*;
    let mut out = vec![
        ("wte".to_string(), vec![v, d], Normal),
        ("wpe".to_string(), vec![c, d], Normal),
    ];
    for l in 0..config.n_layer {
        let t = |name: &str, shape: Vec<usize>, kind| (format!("h{l}.{name}"), shape, kind);
        out.push(t("ln1_g", vec![d], Ones));
        out.push(t("ln1_b", vec![d], Zeros));
        out.push(t("attn_w", vec![d, 3 * d], Normal));
        out.push(t("attn_b", vec![3 * d], Zeros));
        out.push(t("proj_w", vec![d, d], NormalResidual));
        out.push(t("proj_b", vec![d], Zeros));
        out.push(t("ln2_g", vec![d], Ones));
        out.push(t("ln2_b", vec![d], Zeros));
        out.push(t("fc_w", vec![d, m], Normal));
        out.push(t("fc_b", vec![m], Zeros));
        out.push(t("fc2_w", vec![m, d], NormalResidual));
        out.push(t("fc2_b", vec![d], Zeros));
    }
    out.push(("lnf_g".to_string(), vec![d], Ones));
    out.push(("lnf_b".to_string(), vec![d], Zeros));
    out
}

/// GPT-2's initialisation standard deviation.
pub const INIT_STD: f64 = 0.02;

impl Weights {
    /// GPT-2 initialisation, seeded and stable across versions and targets.
    ///
    /// One [`Source`] (PCG-64 MCG seeded through splitmix64, the frozen algorithm of `td_rng`) is
    /// drawn from in tensor order (module docs), element by element in storage order. Each `Normal` /
    /// `NormalResidual` element consumes one standard normal `z` (Box–Muller cosine branch, two
    /// uniforms) and stores `(std · z) as f32` with `std = 0.02` or `0.02 / sqrt(2·n_layer)`
    /// (computed in f64). Zeros / ones consume no draws. Pinned by a test: seed 42 gives `wte[0..3]`
    /// with the f32 bits `[3112437646, 3145662608, 1012916672]`.
    pub fn random(config: Config, seed: u64) -> Result<Weights, String> {
        Weights::random_in(config, seed, Dtype::F32)
    }

    /// [`Weights::random`] with every matrix rounded (to nearest, ties to even) to `dtype`: a
    /// model of a checkpoint's shape and precision without the checkpoint (the benchmark's). The
    /// gains and biases (exact zeros and ones) stay f32.
    pub fn random_in(config: Config, seed: u64, dtype: Dtype) -> Result<Weights, String> {
        Weights::random_stored(config, seed, |_| dtype)
    }

    /// [`Weights::random`] with every tensor rounded (to nearest, ties to even) to the dtype of
    /// the same tensor of `self`: the random twin of a checkpoint takes the memory the checkpoint
    /// does. The draws are those of [`Weights::random`]; one tensor at a time is held in f32.
    pub fn random_like(&self, seed: u64) -> Result<Weights, String> {
        let dtypes: Vec<Dtype> = self.tensor_refs().iter().map(|t| t.dtype()).collect();
        Weights::random_stored(self.config, seed, |i| {
            dtypes.get(i).copied().unwrap_or(Dtype::F32)
        })
    }

    /// The seeded draws of [`Weights::random`], tensor `i` rounded to `dtype(i)`.
    fn random_stored(
        config: Config,
        seed: u64,
        dtype: impl Fn(usize) -> Dtype,
    ) -> Result<Weights, String> {
        config.validate()?;
        let mut src = Source::new(seed);
        let res_std = INIT_STD / (2.0 * config.n_layer as f64).sqrt();
        let flat: Vec<Matrix> = tensor_specs(&config)
            .into_iter()
            .enumerate()
            .map(|(i, (_, shape, kind))| {
                let len: usize = shape.iter().product();
                let values = match kind {
                    InitKind::Zeros => vec![0.0; len],
                    InitKind::Ones => vec![1.0; len],
                    InitKind::Normal => {
                        (0..len).map(|_| (INIT_STD * src.normal()) as f32).collect()
                    }
                    InitKind::NormalResidual => {
                        (0..len).map(|_| (res_std * src.normal()) as f32).collect()
                    }
                };
                Matrix::from_f32(values, dtype(i))
            })
            .collect();
        Weights::from_stored(config, flat)
    }

    /// Builds weights from f32 tensors in the documented order, checking count and lengths.
    pub fn from_tensors(config: Config, tensors: Vec<Vec<f32>>) -> Result<Weights, String> {
        Weights::from_stored(config, tensors.into_iter().map(Matrix::F32).collect())
    }

    /// [`Weights::from_tensors`] from tensors in any stored precision: the matrices keep theirs,
    /// the gains and biases are widened to f32 (exactly).
    pub fn from_stored(config: Config, tensors: Vec<Matrix>) -> Result<Weights, String> {
        config.validate()?;
        let specs = tensor_specs(&config);
        if tensors.len() != specs.len() {
            return Err(format!(
                "expected {} tensors, got {}",
                specs.len(),
                tensors.len()
            ));
        }
        for ((name, shape, _), t) in specs.iter().zip(&tensors) {
            let len: usize = shape.iter().product();
            if t.len() != len {
                return Err(format!(
                    "tensor {name}: expected {len} values, got {}",
                    t.len()
                ));
            }
        }
        let mut it = tensors.into_iter();
        let mut next = || it.next().unwrap_or_default();
        let wte = next();
        let wpe = next();
        let mut layers = Vec::with_capacity(config.n_layer);
        for _ in 0..config.n_layer {
            layers.push(Layer {
                ln1_g: next().into_f32(),
                ln1_b: next().into_f32(),
                attn_w: next(),
                attn_b: next().into_f32(),
                proj_w: next(),
                proj_b: next().into_f32(),
                ln2_g: next().into_f32(),
                ln2_b: next().into_f32(),
                fc_w: next(),
                fc_b: next().into_f32(),
                fc2_w: next(),
                fc2_b: next().into_f32(),
            });
        }
        let lnf_g = next().into_f32();
        let lnf_b = next().into_f32();
        Ok(Weights {
            config,
            wte,
            wpe,
            layers: layers.into(),
            lnf_g,
            lnf_b,
        })
    }

    /// Every tensor as held, in the documented order.
    pub fn tensor_refs(&self) -> Vec<TensorRef<'_>> {
        use TensorRef::{Matrix as M, Vector as V};
        let mut out = vec![M(&self.wte), M(&self.wpe)];
        for l in &self.layers {
            out.extend([
                V(&l.ln1_g),
                V(&l.ln1_b),
                M(&l.attn_w),
                V(&l.attn_b),
                M(&l.proj_w),
                V(&l.proj_b),
                V(&l.ln2_g),
                V(&l.ln2_b),
                M(&l.fc_w),
                V(&l.fc_b),
                M(&l.fc2_w),
                V(&l.fc2_b),
            ]);
        }
        out.extend([V(&self.lnf_g), V(&self.lnf_b)]);
        out
    }

    /// Every tensor as f32 (borrowed where stored as f32), in the documented order.
    pub fn tensors(&self) -> Vec<Cow<'_, [f32]>> {
        self.tensor_refs().iter().map(TensorRef::to_f32).collect()
    }

    /// Bytes the tensors take in memory (a small model's strips, a copy of its block matrices as
    /// f32 made at its first pass, come on top: [`crate::strips`]).
    pub fn bytes(&self) -> usize {
        self.tensor_refs().iter().map(TensorRef::bytes).sum()
    }

    /// The same weights with every matrix stored as f32 (the values are unchanged).
    pub fn widened(&self) -> Weights {
        let layers = self
            .layers
            .iter()
            .map(|l| Layer {
                attn_w: l.attn_w.widened(),
                proj_w: l.proj_w.widened(),
                fc_w: l.fc_w.widened(),
                fc2_w: l.fc2_w.widened(),
                ln1_g: l.ln1_g.clone(),
                ln1_b: l.ln1_b.clone(),
                attn_b: l.attn_b.clone(),
                proj_b: l.proj_b.clone(),
                ln2_g: l.ln2_g.clone(),
                ln2_b: l.ln2_b.clone(),
                fc_b: l.fc_b.clone(),
                fc2_b: l.fc2_b.clone(),
            })
            .collect::<Vec<Layer>>();
        Weights {
            config: self.config,
            wte: self.wte.widened(),
            wpe: self.wpe.widened(),
            layers: layers.into(),
            lnf_g: self.lnf_g.clone(),
            lnf_b: self.lnf_b.clone(),
        }
    }

    /// Row `token` of the (tied) unembedding, i.e. of `wte`, as f32.
    pub fn unembedding_row(&self, token: usize) -> Cow<'_, [f32]> {
        let d = self.config.d_model;
        self.wte.slice_f32(token * d, d)
    }
}
