//! Model sizes. Defaults: the lab's byte-level GPT-2-style model (V = 256, d = 128, 4 layers,
//! 4 heads, context 128, MLP 4·d).

/// LayerNorm epsilon (GPT-2's value), used by every LayerNorm of the model.
pub const LN_EPS: f32 = 1e-5;

/// Upper bounds checked by [`Config::validate`] (they keep a garbage file header from asking for an
/// absurd allocation; the lab's model is far below all of them).
pub const MAX_VOCAB: usize = 1 << 20;
pub const MAX_D_MODEL: usize = 4096;
pub const MAX_LAYERS: usize = 64;
pub const MAX_HEADS: usize = 256;
pub const MAX_CONTEXT: usize = 8192;
pub const MAX_MLP: usize = 4 * MAX_D_MODEL;
/// At most 2^30 parameters (a bound against absurd sizes; whether a checkpoint fits a browser
/// tab's memory is decided from its bytes, by td-checkpoint's memory budget).
pub const MAX_PARAMS: usize = 1 << 30;

/// Sizes of a GPT-2-style decoder (pre-norm blocks, GELU-tanh MLP, tied unembedding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Vocabulary size V (256 = bytes).
    pub vocab: usize,
    /// Residual width d.
    pub d_model: usize,
    pub n_layer: usize,
    /// Number of attention heads; must divide `d_model`.
    pub n_head: usize,
    /// Maximum sequence length (rows of the position embedding).
    pub context: usize,
    /// MLP hidden width (4·d by default).
    pub mlp: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            vocab: 256,
            d_model: 128,
            n_layer: 4,
            n_head: 4,
            context: 128,
            mlp: 512,
        }
    }
}

impl Config {
    /// Width of one head, `d_model / n_head`.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head.max(1)
    }

    /// Checks every size is positive, within the `MAX_*` bounds, `n_head` divides `d_model`,
    /// `vocab >= 2` and the total parameter count is at most [`MAX_PARAMS`].
    pub fn validate(&self) -> Result<(), String> {
        let checks: [(&str, usize, usize, usize); 6] = [
            ("vocab", self.vocab, 2, MAX_VOCAB),
            ("d_model", self.d_model, 1, MAX_D_MODEL),
            ("n_layer", self.n_layer, 1, MAX_LAYERS),
            ("n_head", self.n_head, 1, MAX_HEADS),
            ("context", self.context, 1, MAX_CONTEXT),
            ("mlp", self.mlp, 1, MAX_MLP),
        ];
        for (name, value, lo, hi) in checks {
            if value < lo || value > hi {
                return Err(format!("{name} = {value} is outside {lo}..={hi}"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_head) {
            return Err(format!(
                "n_head = {} does not divide d_model = {}",
                self.n_head, self.d_model
            ));
        }
        if self.n_params() > MAX_PARAMS {
            return Err(format!(
                "{} parameters exceed the limit of {MAX_PARAMS}",
                self.n_params()
            ));
        }
        Ok(())
    }

    /// Parameters of one block (two LayerNorms, attention, MLP).
    pub fn params_per_layer(&self) -> usize {
        let d = self.d_model;
        let m = self.mlp;
        2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * m + m) + (m * d + d)
    }

    /// Total parameter count (the tied unembedding is counted once). Saturating, so it never
    /// overflows; call after the per-size bounds of [`Config::validate`].
    pub fn n_params(&self) -> usize {
        let d = self.d_model;
        self.vocab
            .saturating_mul(d)
            .saturating_add(self.context.saturating_mul(d))
            .saturating_add(self.n_layer.saturating_mul(self.params_per_layer()))
            .saturating_add(2 * d)
    }
}
