//! The scalar type: one bound, [`Scalar`], for every generic item in the crate.

use backprop_kernels::Real;
use nalgebra::RealField;
use std::fmt::{Debug, Display, LowerExp};

/// The element type of a model file's tensors, and of a [`Scalar`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// IEEE 754 binary32 (`f32`).
    F32,
    /// IEEE 754 binary64 (`f64`).
    F64,
}

impl Dtype {
    /// The name used by safetensors and on the command line: `"F32"` or `"F64"`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
        }
    }

    /// Bytes per element: 4 or 8.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

impl Display for Dtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A real floating-point scalar the network computes in: `f32` or `f64`.
///
/// One alias trait over nalgebra's [`RealField`] (and the element trait of the kernels crate,
/// sealed to the same two types), so generic code reads `T: Scalar` and never casts with `as`.
/// Constants enter through [`Scalar::of_f64`] (rounded to nearest).
pub trait Scalar:
    RealField + Real + Copy + Default + Debug + Display + LowerExp + Send + Sync + 'static
{
    /// The dtype of this scalar in a model file.
    const DTYPE: Dtype;
    /// Machine epsilon: the gap between 1 and the next representable number.
    const EPSILON: Self;

    /// `x` rounded to the nearest value of this type.
    fn of_f64(x: f64) -> Self;
    /// This value widened (exactly) to `f64`.
    fn as_f64(self) -> f64;
    /// `true` when the value is neither infinite nor NaN.
    fn finite(self) -> bool;
}

impl Scalar for f32 {
    const DTYPE: Dtype = Dtype::F32;
    const EPSILON: Self = f32::EPSILON;

    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Scalar for f64 {
    const DTYPE: Dtype = Dtype::F64;
    const EPSILON: Self = f64::EPSILON;

    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
}
