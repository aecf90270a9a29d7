//! Whether a checkpoint fits: the bytes a page holds for it, checked against a budget before any
//! tensor is read (by [`crate::load`], so the command line refuses what the page would).
//!
//! The page holds, at its peak, the checkpoint's safetensors files (copied into the module's
//! WebAssembly memory from the reader's files, freed once the tensors are read), the weights
//! (matrices in the checkpoint's precision, gains and biases in f32) and the random twin (the same
//! layout and precision). The file is freed before the twin is made, but a WebAssembly memory
//! never shrinks and the freed pages may not all be reusable, so the three are added.

use td_transformer::matrix::Dtype;

use crate::config::Family;

/// 3 GiB. A wasm32 memory addresses 4 GiB at most (and a browser may grant less); the last GiB is
/// left for what a report computes beside the weights (the logits of 128 tokens of a
/// 49,152-token vocabulary in f64 are 50 MB, the kept residual streams as much again), the
/// tokenizer, the module itself and the allocator's fragmentation of a memory that only grows.
pub const MEMORY_BUDGET: usize = 3 << 30;

/// The bytes a checkpoint takes in the page (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// The precision of the matrices (and so of the twin's).
    pub dtype: Dtype,
    pub file_bytes: usize,
    pub weight_bytes: usize,
    pub twin_bytes: usize,
}

impl Footprint {
    /// The footprint of a model of `family` whose matrices are stored as `dtype`, read from
    /// files of `file_bytes` bytes.
    pub fn of(family: &Family, dtype: Dtype, file_bytes: usize) -> Footprint {
        let (matrices, vectors) = family.matrix_and_vector_params();
        let weight_bytes = matrices
            .saturating_mul(dtype.size())
            .saturating_add(vectors.saturating_mul(4));
        Footprint {
            dtype,
            file_bytes,
            weight_bytes,
            twin_bytes: weight_bytes,
        }
    }

    /// Every byte held at the peak.
    pub fn total(&self) -> usize {
        self.file_bytes
            .saturating_add(self.weight_bytes)
            .saturating_add(self.twin_bytes)
    }

    /// Errs, with the numbers, when the footprint exceeds [`MEMORY_BUDGET`].
    pub fn check(&self, architecture: &str, family: &Family) -> Result<(), String> {
        if self.total() <= MEMORY_BUDGET {
            return Ok(());
        }
        let gb = |b: usize| match b as f64 {
            x if x >= 1e9 => format!("{:.2} GB", x / 1e9),
            x => format!("{:.1} MB", x / 1e6),
        };
        let name = self.dtype.name();
        let mut message = format!(
            "{architecture}: {:.0}M parameters stored as {name} need {} in this page: {} of \
             weights, {} for the random twin (kept in {name}, like the checkpoint) and the {} \
             file while it is read. This build keeps at most {} (3 GiB) of a tab's WebAssembly \
             memory, which cannot exceed 4 GiB",
            family.n_params() as f64 / 1e6,
            gb(self.total()),
            gb(self.weight_bytes),
            gb(self.twin_bytes),
            gb(self.file_bytes),
            gb(MEMORY_BUDGET),
        );
        if self.dtype == Dtype::F32 {
            // The same weights saved in bf16 (`model.to(torch.bfloat16)`): half the file too.
            let half = Footprint::of(family, Dtype::Bf16, self.file_bytes / 2);
            let verdict = if half.total() <= MEMORY_BUDGET {
                "would fit"
            } else {
                "would not fit either"
            };
            message.push_str(&format!(
                "; saved in bf16 it would need about {} and {verdict}",
                gb(half.total())
            ));
        }
        Err(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use td_transformer::llama::LlamaConfig;
    use td_transformer::Config;

    fn gpt2(d: usize, n_layer: usize, n_head: usize) -> Family {
        Family::Gpt2(Config {
            vocab: 50_257,
            d_model: d,
            n_layer,
            n_head,
            context: 1024,
            mlp: 4 * d,
        })
    }

    fn smollm2(d: usize, n_layer: usize, heads: usize, mlp: usize) -> Family {
        Family::Llama(LlamaConfig {
            vocab: 49_152,
            d_model: d,
            n_layer,
            n_head: heads,
            n_kv_head: heads / 3,
            context: 8192,
            mlp,
            rms_eps: 1e-5,
            rope_theta: 100_000.0,
            tied: true,
            init_std: 0.02,
        })
    }

    #[test]
    fn gpt2_medium_in_f32_is_refused_with_the_numbers_and_fits_in_bf16() {
        let medium = gpt2(1024, 24, 16);
        assert_eq!(medium.n_params(), 354_823_168);
        // The hub's model.safetensors of gpt2-medium: 1,519,902,600 bytes (it carries the
        // attention mask buffers too).
        let f = Footprint::of(&medium, Dtype::F32, 1_519_902_600);
        assert_eq!(f.weight_bytes, 4 * 354_823_168);
        let err = f.check("GPT2LMHeadModel", &medium).unwrap_err();
        assert!(
            err.starts_with(
                "GPT2LMHeadModel: 355M parameters stored as f32 need 4.36 GB in this page: \
                 1.42 GB of weights, 1.42 GB for the random twin (kept in f32, like the \
                 checkpoint) and the 1.52 GB file while it is read. This build keeps at most \
                 3.22 GB (3 GiB)"
            ),
            "{err}"
        );
        assert!(err.ends_with("saved in bf16 it would need about 2.18 GB and would fit"));
        let bf16 = Footprint::of(&medium, Dtype::Bf16, 1_519_902_600 / 2);
        assert!(bf16.check("GPT2LMHeadModel", &medium).is_ok());
        // GPT-2 small in f32 fits (548 MB file).
        let small = gpt2(768, 12, 12);
        assert!(Footprint::of(&small, Dtype::F32, 548_105_171)
            .check("GPT2LMHeadModel", &small)
            .is_ok());
    }

    #[test]
    fn smollm2_360m_fits_in_bf16_and_not_in_f32() {
        let m = smollm2(960, 32, 15, 2560);
        assert_eq!(m.n_params(), 361_821_120);
        // The hub's bf16 model.safetensors: 723,674,912 bytes.
        let bf16 = Footprint::of(&m, Dtype::Bf16, 723_674_912);
        // 2 bytes per matrix weight, 4 per RMSNorm gain (65 vectors of 960).
        assert_eq!(bf16.weight_bytes, 2 * 361_821_120 + 2 * 65 * 960);
        assert!(bf16.total() < MEMORY_BUDGET);
        assert!(bf16.check("LlamaForCausalLM", &m).is_ok());
        let f32 = Footprint::of(&m, Dtype::F32, 2 * 723_674_912);
        let err = f32.check("LlamaForCausalLM", &m).unwrap_err();
        assert!(
            err.contains("362M parameters stored as f32 need 4.34 GB"),
            "{err}"
        );
        assert!(err.ends_with("would fit"), "{err}");
    }
}
