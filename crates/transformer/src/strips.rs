//! Weight matrices copied into the column strips that [`mod@crate::forward`]'s matrix product reads.
//!
//! The product of `n` rows by a `k × m` input-major matrix runs in register tiles of 16 outputs,
//! and each tile reads 16 columns of every row of W. Read in place, those are 64 bytes per row, a
//! row (`4m` bytes) apart: the loads wait on memory, not on arithmetic. So the pass first copies the
//! 16 columns into one contiguous `k × 16` strip (`pack_columns`), which costs about 5% of a
//! 128-token forward pass of the lab's model. A small model ([`STRIPS_MAX_VALUES`]) keeps every
//! strip of its block matrices instead ([`Strips`]), made once at the first pass that needs it
//! (`weights::Layers`), so later passes read them directly. The values and their order are the
//! same either way, so are the results' bits.

use super::matrix::{dispatch, Element, Matrix};

/// Columns per strip (the outputs of one register tile).
pub(crate) const STRIP: usize = 16;

/// Above this many values in a model's block matrices (16 MB as f32), no strips are kept: the
/// copy would double a real checkpoint's memory in a browser tab.
pub const STRIPS_MAX_VALUES: usize = 1 << 22;

/// A `k × m` input-major matrix as f32 strips of 16 columns, each `k × STRIP` row-major,
/// one after another; the last `m mod STRIP` columns as a final `k × (m mod STRIP)` strip. The
/// strip starting at column `o0` therefore starts at value `o0·k`.
#[derive(Clone, Debug, PartialEq)]
pub struct Strips {
    k: usize,
    m: usize,
    values: Vec<f32>,
}

impl Strips {
    /// The strips of `w`, a matrix with rows of `m`.
    pub fn new(w: &Matrix, m: usize) -> Strips {
        let k = w.len() / m.max(1);
        let mut values = Vec::with_capacity(k * m);
        let mut o0 = 0;
        while o0 < m {
            let width = STRIP.min(m - o0);
            append_columns(w, m, o0, width, &mut values);
            o0 += width;
        }
        Strips { k, m, values }
    }

    /// True when these are the strips of a `k × m` matrix.
    pub(crate) fn fits(&self, k: usize, m: usize) -> bool {
        self.k == k && self.m == m
    }

    /// Columns `o0..o0 + width` as `k × width`, for `o0` a multiple of 16 and `width` the
    /// strip's own (a full strip, or the last one).
    pub(crate) fn strip(&self, o0: usize, width: usize) -> &[f32] {
        &self.values[o0 * self.k..(o0 + width) * self.k]
    }

    /// Bytes of the copy.
    pub fn bytes(&self) -> usize {
        4 * self.values.len()
    }
}

/// The strips of one GPT-2 block's four matrices.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStrips {
    pub attn: Strips,
    pub proj: Strips,
    pub fc: Strips,
    pub fc2: Strips,
}

/// Columns `o0..o0 + width` of every row of `w` (rows of `m`), widened to f32, into `pack`
/// (`rows × width`, contiguous): the only step of the tiles that reads the stored precision, so
/// the tiles themselves are compiled once.
pub(crate) fn pack_columns(w: &Matrix, m: usize, o0: usize, width: usize, pack: &mut Vec<f32>) {
    pack.clear();
    append_columns(w, m, o0, width, pack);
}

/// [`pack_columns`] after what `out` already holds (a model's strips, one after another).
fn append_columns(w: &Matrix, m: usize, o0: usize, width: usize, out: &mut Vec<f32>) {
    dispatch!(w, |w| {
        for wrow in w.chunks_exact(m) {
            out.extend(wrow[o0..o0 + width].iter().map(|v| v.widen()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Dtype;

    #[test]
    fn strips_hold_every_column_in_place() {
        // 5 × 37: two full strips and a last one of 5 columns, in each stored precision.
        let (k, m) = (5, 37);
        let values: Vec<f32> = (0..k * m).map(|i| i as f32 * 0.25 - 3.0).collect();
        for dtype in [Dtype::F32, Dtype::Bf16, Dtype::F16] {
            let w = Matrix::from_f32(values.clone(), dtype);
            let wide = w.to_f32();
            let s = Strips::new(&w, m);
            assert!(s.fits(k, m) && !s.fits(m, k));
            assert_eq!(s.bytes(), 4 * k * m);
            for (o0, width) in [(0, STRIP), (STRIP, STRIP), (2 * STRIP, 5)] {
                let strip = s.strip(o0, width);
                for i in 0..k {
                    for c in 0..width {
                        assert_eq!(
                            strip[i * width + c].to_bits(),
                            wide[i * m + o0 + c].to_bits(),
                            "{dtype:?} row {i} column {}",
                            o0 + c
                        );
                    }
                }
            }
        }
    }
}
