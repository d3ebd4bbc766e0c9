//! ∂E/∂W_i computed four ways, and the types that keep their layouts apart.
//!
//! | form | module | shape of ∂E/∂W_i | equation |
//! |---|---|---|---|
//! | numerator layout (the seed's Jacobian chain) | [`numerator`] | l_i × l_{i+1} (W_iᵀ) | ∂E/∂z_i = ∂E/∂z_{i+1} · W_i · diag(σ′(z_i)); ∂E/∂W_i = a_i · ∂E/∂z_{i+1} |
//! | denominator layout (δ columns) | [`denominator`] | l_{i+1} × l_i (W_i) | δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1}); ∂E/∂W_i = δ_{i+1} a_iᵀ |
//! | element-wise (the seed's index form) | [`elementwise`] | W_i | (∂E/∂W_i)^{jk} = Σ_r ∂E/∂z_{i+1}^r a_i^k δ_{rj} |
//! | naive chain, O(n²) | [`naive`] | W_i | each chain multiplied from ∂E/∂z_n down, from scratch |
//!
//! Each sums over the samples (columns) of the batch, the seed's dW^total = Σ_s dW^(s). The fast
//! batched path is [`crate::Workspace`]: ∂E/∂W_i = Δ_{i+1} A_iᵀ, one matrix product per layer.
//!
//! A [`Gradient`] carries its layout in its type: a numerator-layout gradient cannot be added
//! to weights or compared with a denominator-layout one without [`Gradient::transpose`].

pub mod denominator;
pub mod elementwise;
pub mod naive;
pub mod numerator;

use crate::scalar::Scalar;
use nalgebra::{DMatrix, DMatrixView};
use std::marker::PhantomData;

/// The work a gradient form performed, counted while it ran (not from a formula): what
/// [`naive::gradient_counted`] and [`denominator::gradient_counted`] return beside ∂E/∂W_i.
///
/// A *chain product* carries ∂E/∂z_{m+1} one layer down, through W_m and diag(σ′(z_m)) (one
/// row-vector–matrix or matrix–vector product and one element-wise product, per sample); an
/// *outer product* is ∂E/∂W_i = δ_{i+1} a_iᵀ for one sample. Backpropagation performs n − 1
/// chain products per sample; the naive chain recomputes each chain from ∂E/∂z_n and performs
/// n(n − 1)/2. `multiplications` counts the scalar multiplications of both kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Products {
    /// Chain products ∂E/∂z_{m+1} → ∂E/∂z_m performed, over all samples.
    pub chain: usize,
    /// Outer products δ_{i+1} a_iᵀ performed, over all samples.
    pub outer: usize,
    /// Scalar multiplications in the chain and outer products (not in the forward pass).
    pub multiplications: usize,
}

/// The two conventions for the derivative of a scalar with respect to a matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// ∂E/∂W_i has the shape of W_iᵀ: what the Jacobian chain rule produces.
    Numerator,
    /// ∂E/∂W_i has the shape of W_i: what is added to W_i in the update.
    Denominator,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Numerator => "numerator",
            Layout::Denominator => "denominator",
        })
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A type-level [`Layout`]: [`Numerator`] or [`Denominator`].
pub trait LayoutTag: sealed::Sealed + Copy + std::fmt::Debug + Send + Sync + 'static {
    /// The layout this tag stands for.
    const LAYOUT: Layout;
    /// The other layout (what [`Gradient::transpose`] produces).
    type Transposed: LayoutTag;
}

/// Tag: numerator layout, ∂E/∂W_i shaped like W_iᵀ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Numerator;
/// Tag: denominator layout, ∂E/∂W_i shaped like W_i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Denominator;

impl sealed::Sealed for Numerator {}
impl sealed::Sealed for Denominator {}
impl LayoutTag for Numerator {
    const LAYOUT: Layout = Layout::Numerator;
    type Transposed = Denominator;
}
impl LayoutTag for Denominator {
    const LAYOUT: Layout = Layout::Denominator;
    type Transposed = Numerator;
}

/// ∂E/∂W_i for i = 0..n−1, in layout `L`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient<T: Scalar, L: LayoutTag> {
    dw: Vec<DMatrix<T>>,
    layout: PhantomData<L>,
}

/// ∂E/∂W_i shaped like W_i (what SGD subtracts).
pub type DenominatorGradient<T> = Gradient<T, Denominator>;
/// ∂E/∂W_i shaped like W_iᵀ (what the Jacobian chain gives).
pub type NumeratorGradient<T> = Gradient<T, Numerator>;

impl<T: Scalar, L: LayoutTag> Gradient<T, L> {
    /// Wraps matrices that are already in layout `L`. The caller vouches for the layout.
    pub fn from_layers(dw: Vec<DMatrix<T>>) -> Self {
        Self {
            dw,
            layout: PhantomData,
        }
    }

    /// All zeros, shaped for weights `w` (denominator layout: like W_i; numerator: like W_iᵀ).
    pub fn zeros_like(w: &[DMatrix<T>]) -> Self {
        Self::from_layers(
            w.iter()
                .map(|w| match L::LAYOUT {
                    Layout::Denominator => DMatrix::zeros(w.nrows(), w.ncols()),
                    Layout::Numerator => DMatrix::zeros(w.ncols(), w.nrows()),
                })
                .collect(),
        )
    }

    /// The layout of this gradient.
    pub fn layout(&self) -> Layout {
        L::LAYOUT
    }

    /// The number n of layers.
    pub fn depth(&self) -> usize {
        self.dw.len()
    }

    /// ∂E/∂W_i in this gradient's layout.
    ///
    /// # Panics
    /// If i ≥ n.
    pub fn layer(&self, i: usize) -> &DMatrix<T> {
        &self.dw[i]
    }

    /// Mutable ∂E/∂W_i (for callers that write their own gradient, such as planted bugs).
    ///
    /// # Panics
    /// If i ≥ n.
    pub fn layer_mut(&mut self, i: usize) -> &mut DMatrix<T> {
        &mut self.dw[i]
    }

    /// All layers, ∂E/∂W_0 first.
    pub fn layers(&self) -> &[DMatrix<T>] {
        &self.dw
    }

    /// The matrices, ∂E/∂W_0 first.
    pub fn into_layers(self) -> Vec<DMatrix<T>> {
        self.dw
    }

    /// The same gradient in the other layout: every ∂E/∂W_i transposed.
    pub fn transpose(&self) -> Gradient<T, L::Transposed> {
        Gradient::from_layers(self.dw.iter().map(|m| m.transpose()).collect())
    }

    /// ‖g‖² = Σ_i Σ_{jk} ((∂E/∂W_i)^{jk})².
    pub fn norm_squared(&self) -> T {
        self.dw
            .iter()
            .map(|m| m.norm_squared())
            .fold(T::zero(), |s, x| s + x)
    }

    /// The largest |g − other| over all elements, by [`max_abs_difference`] layer by layer: ∞
    /// when the depths or shapes differ or when any element on either side is NaN or ±∞, so a
    /// comparison `g.max_abs_diff(&h) <= tol` fails whenever either gradient is not finite.
    pub fn max_abs_diff(&self, other: &Self) -> T {
        if self.dw.len() != other.dw.len() {
            return infinity();
        }
        self.dw
            .iter()
            .zip(&other.dw)
            .map(|(a, b)| max_abs_difference(a.as_view(), b.as_view()))
            .fold(T::zero(), |worst, d| if d > worst { d } else { worst })
    }

    /// g ← g + other, layer by layer.
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn add_assign(&mut self, other: &Self) {
        assert_eq!(
            self.dw.len(),
            other.dw.len(),
            "gradients of different depth"
        );
        for (a, b) in self.dw.iter_mut().zip(&other.dw) {
            *a += b;
        }
    }

    /// g ← s g.
    pub fn scale(&mut self, s: T) {
        for a in &mut self.dw {
            *a *= s;
        }
    }
}

/// +∞ in `T`.
fn infinity<T: Scalar>() -> T {
    T::of_f64(f64::INFINITY)
}

/// max_{jk} |a^{jk} − b^{jk}|, treating what cannot be compared as the largest difference: +∞
/// when the shapes differ or when any element of `a` or `b` is NaN or ±∞ (even where both sides
/// hold the same infinity). `f64::max`, and nalgebra's `amax` built on it, drop a NaN instead,
/// so `(a - b).amax() <= tol` passes for an all-NaN `a`; compare through this function instead.
///
/// ```
/// use backprop::gradient::max_abs_difference;
/// use nalgebra::DMatrix;
///
/// let a = DMatrix::from_row_slice(1, 3, &[1.0, 2.0, 3.0]);
/// let b = DMatrix::from_row_slice(1, 3, &[1.0, 2.5, 3.0]);
/// assert_eq!(max_abs_difference(a.as_view(), b.as_view()), 0.5);
/// let mut c = a.clone();
/// c[(0, 1)] = f64::NAN;
/// assert_eq!(max_abs_difference(a.as_view(), c.as_view()), f64::INFINITY);
/// assert_eq!((&a - &c).amax(), 0.0); // what the NaN-blind comparison says
/// ```
pub fn max_abs_difference<T: Scalar>(a: DMatrixView<'_, T>, b: DMatrixView<'_, T>) -> T {
    if a.shape() != b.shape() {
        return infinity();
    }
    let mut worst = T::zero();
    for (x, y) in a.iter().zip(b.iter()) {
        if !(x.finite() && y.finite()) {
            return infinity();
        }
        let d = (*x - *y).abs();
        if d > worst {
            worst = d;
        }
    }
    worst
}

impl<T: Scalar> Gradient<T, Numerator> {
    /// The denominator-layout gradient (shaped like W_i): the transpose of every layer.
    pub fn to_denominator(&self) -> Gradient<T, Denominator> {
        self.transpose()
    }
}

impl<T: Scalar> Gradient<T, Denominator> {
    /// The numerator-layout gradient (shaped like W_iᵀ): the transpose of every layer.
    pub fn to_numerator(&self) -> Gradient<T, Numerator> {
        self.transpose()
    }
}
