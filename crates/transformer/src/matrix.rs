//! Weight matrices kept in the precision they were stored in: f32, bf16 or f16.
//!
//! A Hugging Face checkpoint in bf16 holds half the bytes of its f32 widening; keeping it so
//! halves the memory a model (and its random twin) takes in a browser tab. The kernels widen each
//! weight to f32 where they read it ([`Element::widen`]). Widening bf16 or f16 to f32 is exact,
//! so a pass over a half-precision [`Matrix`] gives the bits of the same pass over its
//! [`Matrix::widened`] copy, in the same summation order.
//!
//! The kernels are generic over the element type ([`Element`]), reached from a [`Matrix`] through
//! the crate-private `dispatch!` macro: one `match` per kernel call, no per-weight branching.

use std::borrow::Cow;

/// How the elements of a [`Matrix`] are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dtype {
    F32,
    /// bfloat16: the top 16 bits of an f32 (8 exponent bits, 7 mantissa bits).
    Bf16,
    /// IEEE binary16 (5 exponent bits, 10 mantissa bits).
    F16,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::Bf16 | Dtype::F16 => 2,
        }
    }

    /// The safetensors / PyTorch short name (`"f32"`, `"bf16"`, `"f16"`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::Bf16 => "bf16",
            Dtype::F16 => "f16",
        }
    }
}

/// A bfloat16 value, by its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(transparent)]
pub struct Bf16(pub u16);

/// An IEEE half-precision value, by its bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(transparent)]
pub struct F16(pub u16);

/// A stored weight: widened to f32 exactly, rounded from f32 to nearest, ties to even.
pub trait Element: Copy + Default + Send + Sync + 'static {
    const DTYPE: Dtype;
    /// The exact f32 value.
    fn widen(self) -> f32;
    /// `x` rounded to this type (round to nearest, ties to even, as PyTorch's `.to(dtype)`).
    fn round(x: f32) -> Self;
}

impl Element for f32 {
    const DTYPE: Dtype = Dtype::F32;
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
    fn round(x: f32) -> Self {
        x
    }
}

impl Element for Bf16 {
    const DTYPE: Dtype = Dtype::Bf16;
    /// A shift (no branch: the kernels' loops stay vectorisable; a NaN's payload is kept, not
    /// quieted, and weights are checked finite anyway).
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from_bits(u32::from(self.0) << 16)
    }
    fn round(x: f32) -> Self {
        Bf16(half::bf16::from_f32(x).to_bits())
    }
}

impl Element for F16 {
    const DTYPE: Dtype = Dtype::F16;
    #[inline(always)]
    fn widen(self) -> f32 {
        half::f16::from_bits(self.0).to_f32()
    }
    fn round(x: f32) -> Self {
        F16(half::f16::from_f32(x).to_bits())
    }
}

/// A tensor of weights in its stored precision (row-major, flat).
#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    F32(Vec<f32>),
    Bf16(Vec<Bf16>),
    F16(Vec<F16>),
}

/// Runs `$body` with `$v` bound to the matrix's elements as a slice `&[T]`, `T: Element`.
macro_rules! dispatch {
    ($m:expr, |$v:ident| $body:expr) => {
        match $m {
            $crate::matrix::Matrix::F32(values) => {
                let $v = &values[..];
                $body
            }
            $crate::matrix::Matrix::Bf16(values) => {
                let $v = &values[..];
                $body
            }
            $crate::matrix::Matrix::F16(values) => {
                let $v = &values[..];
                $body
            }
        }
    };
}
pub(crate) use dispatch;

impl From<Vec<f32>> for Matrix {
    fn from(values: Vec<f32>) -> Matrix {
        Matrix::F32(values)
    }
}

impl Default for Matrix {
    fn default() -> Matrix {
        Matrix::F32(Vec::new())
    }
}

fn rounded<T: Element>(values: &[f32]) -> Vec<T> {
    values.iter().map(|&v| T::round(v)).collect()
}

impl Matrix {
    /// `values` rounded to `dtype` (round to nearest, ties to even; f32 keeps them).
    pub fn from_f32(values: Vec<f32>, dtype: Dtype) -> Matrix {
        match dtype {
            Dtype::F32 => Matrix::F32(values),
            Dtype::Bf16 => Matrix::Bf16(rounded(&values)),
            Dtype::F16 => Matrix::F16(rounded(&values)),
        }
    }

    pub fn dtype(&self) -> Dtype {
        dispatch!(self, |v| element_dtype(v))
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        dispatch!(self, |v| v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the elements take.
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype().size()
    }

    /// Every element widened to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        self.slice_f32(0, self.len()).into_owned()
    }

    /// The same values stored as f32.
    pub fn widened(&self) -> Matrix {
        Matrix::F32(self.to_f32())
    }

    /// The elements as f32 (moved when stored as f32).
    pub fn into_f32(self) -> Vec<f32> {
        match self {
            Matrix::F32(v) => v,
            other => other.to_f32(),
        }
    }

    /// The elements as f32 to change in place; a half-precision matrix is widened to f32 storage
    /// first (exactly).
    pub fn make_f32(&mut self) -> &mut Vec<f32> {
        match self {
            Matrix::F32(v) => v,
            half => {
                *half = half.widened();
                half.make_f32()
            }
        }
    }

    /// Elements `start..start + len` as f32 (borrowed when stored as f32). Panics if out of
    /// range, as slicing does.
    pub fn slice_f32(&self, start: usize, len: usize) -> Cow<'_, [f32]> {
        match self {
            Matrix::F32(v) => Cow::Borrowed(&v[start..start + len]),
            other => {
                let mut out = vec![0f32; len];
                other.widen_into(start, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// Widens elements `start..start + out.len()` into `out`. Panics if out of range.
    pub fn widen_into(&self, start: usize, out: &mut [f32]) {
        dispatch!(self, |v| widen_slice(&v[start..start + out.len()], out))
    }

    /// Whether every element is finite (and where the first one that is not is).
    pub fn first_non_finite(&self) -> Option<usize> {
        dispatch!(self, |v| v.iter().position(|x| !x.widen().is_finite()))
    }

    /// The `rows × cols` row-major matrix transposed (`cols × rows`), in the same dtype.
    pub fn transposed(&self, rows: usize, cols: usize) -> Matrix {
        match self {
            Matrix::F32(v) => Matrix::F32(transpose(v, rows, cols)),
            Matrix::Bf16(v) => Matrix::Bf16(transpose(v, rows, cols)),
            Matrix::F16(v) => Matrix::F16(transpose(v, rows, cols)),
        }
    }
}

/// A tensor of a model as held: a gain or bias vector (f32) or a matrix in its stored precision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TensorRef<'a> {
    Vector(&'a [f32]),
    Matrix(&'a Matrix),
}

impl<'a> TensorRef<'a> {
    pub fn len(&self) -> usize {
        match self {
            TensorRef::Vector(v) => v.len(),
            TensorRef::Matrix(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> Dtype {
        match self {
            TensorRef::Vector(_) => Dtype::F32,
            TensorRef::Matrix(m) => m.dtype(),
        }
    }

    /// Bytes the values take.
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype().size()
    }

    /// The values as f32 (borrowed where stored as f32).
    pub fn to_f32(&self) -> Cow<'a, [f32]> {
        match *self {
            TensorRef::Vector(v) => Cow::Borrowed(v),
            TensorRef::Matrix(m) => m.slice_f32(0, m.len()),
        }
    }
}

fn element_dtype<T: Element>(_: &[T]) -> Dtype {
    T::DTYPE
}

/// `out[i] = src[i]` widened (lengths must match).
#[inline(always)]
pub(crate) fn widen_slice<T: Element>(src: &[T], out: &mut [f32]) {
    for (o, &s) in out.iter_mut().zip(src) {
        *o = s.widen();
    }
}

/// `[rows, cols]` row-major -> `[cols, rows]` row-major.
fn transpose<T: Copy + Default>(m: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut t = vec![T::default(); m.len()];
    for (r, row) in m.chunks_exact(cols).enumerate().take(rows) {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Widening bf16 is the top half of an f32; rounding agrees with the `half` crate's
        /// round-to-nearest-even and widening back from a bf16 value is the identity.
        #[test]
        fn bf16_widens_exactly_and_rounds_to_nearest_even(bits in any::<u16>(), x in any::<f32>()) {
            let v = Bf16(bits).widen();
            prop_assert_eq!(v.to_bits(), u32::from(bits) << 16);
            prop_assert_eq!(Bf16::round(x).0, half::bf16::from_f32(x).to_bits());
            if v.is_finite() {
                prop_assert_eq!(Bf16::round(v), Bf16(bits));
            }
        }

        #[test]
        fn f16_widens_exactly_and_rounds_to_nearest_even(bits in any::<u16>(), x in any::<f32>()) {
            let v = F16(bits).widen();
            prop_assert_eq!(v.to_bits(), half::f16::from_bits(bits).to_f32().to_bits());
            prop_assert_eq!(F16::round(x).0, half::f16::from_f32(x).to_bits());
            if v.is_finite() {
                prop_assert_eq!(F16::round(v), F16(bits));
                prop_assert_eq!(f64::from(v), half::f16::from_bits(bits).to_f64());
            }
        }

        /// A strip widened from any offset equals the elements widened one by one.
        #[test]
        fn strips_widen_element_by_element(bits in prop::collection::vec(any::<u16>(), 1..80), a in 0usize..80, len in 0usize..80) {
            let start = a.min(bits.len());
            let len = len.min(bits.len() - start);
            let m = Matrix::Bf16(bits.iter().map(|&b| Bf16(b)).collect());
            let mut out = vec![0f32; len];
            m.widen_into(start, &mut out);
            for (o, &b) in out.iter().zip(&bits[start..]) {
                prop_assert_eq!(o.to_bits(), u32::from(b) << 16);
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&m.slice_f32(start, len)), bits(&out));
        }
    }

    #[test]
    fn ties_round_to_even_and_sizes_follow_the_dtype() {
        // 1 + 2^-8 lies halfway between bf16's 1 and 1 + 2^-7: to the even one, 1.
        assert_eq!(Bf16::round(1.0 + 2f32.powi(-8)).widen(), 1.0);
        // 1 + 3·2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: to the even one, 1 + 2^-6.
        assert_eq!(
            Bf16::round(1.0 + 3.0 * 2f32.powi(-8)).widen(),
            1.0 + 2f32.powi(-6)
        );
        let m = Matrix::from_f32(vec![0.1, -2.5, 3.0], Dtype::Bf16);
        assert_eq!((m.dtype(), m.len(), m.bytes()), (Dtype::Bf16, 3, 6));
        assert_eq!(m.widened().bytes(), 12);
        assert_eq!(m.to_f32()[1], -2.5);
        assert_eq!(Matrix::from_f32(vec![1.0; 5], Dtype::F16).bytes(), 10);
        assert_eq!(Matrix::from(vec![1.0f32; 5]).bytes(), 20);
        assert_eq!(m.first_non_finite(), None);
        assert_eq!(
            Matrix::from_f32(vec![1.0, f32::INFINITY], Dtype::F16).first_non_finite(),
            Some(1)
        );
        // Beyond f16's range (65504) rounds to infinity, which the check catches.
        assert_eq!(
            Matrix::from_f32(vec![1e6], Dtype::F16).first_non_finite(),
            Some(0)
        );
    }

    #[test]
    fn transposes_in_any_dtype() {
        // [[1, 2, 3], [4, 5, 6]] (2 × 3) -> [[1, 4], [2, 5], [3, 6]].
        let m = Matrix::from_f32(vec![1., 2., 3., 4., 5., 6.], Dtype::Bf16);
        assert_eq!(m.transposed(2, 3).to_f32(), vec![1., 4., 2., 5., 3., 6.]);
        assert_eq!(m.transposed(2, 3).dtype(), Dtype::Bf16);
    }
}
