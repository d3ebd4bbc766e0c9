/*!
Backpropagation for bias-free feedforward networks, with every equation of the method in code.
The book (`docs/book` in the source repository) derives each equation below beside the code
that computes it; each module's docs name its chapter.

# The network

Layers 0..n have sizes l_0..l_n; the n weight matrices W_i ∈ R^{l_{i+1} × l_i} have no biases:

```text
a_0 = x
z_{i+1} = W_i a_i               i = 0..n−1
a_i = σ(z_i)                    i = 1..n−1     (σ element-wise; z_0 and a_n are never used)
E = ‖y − z_n‖² = Σ_k (y^k − z_n^k)²            (no ½: ∂E/∂z_n = −2 (y − z_n))
```

Training adds dW_i = −m ∂E/∂W_i to W_i, with ∂E/∂W_i in denominator layout (the shape of W_i)
and summed over the samples of a batch.

# The gradient, four ways

| | module | result |
|---|---|---|
| numerator layout, the Jacobian chain ∂E/∂z_{i+1} · W_i · diag(σ′(z_i)) | [`gradient::numerator`] | [`NumeratorGradient`] (W_iᵀ-shaped) |
| denominator layout, δ_i = σ′(z_i) ⊙ (W_iᵀ δ_{i+1}), ∂E/∂W_i = δ_{i+1} a_iᵀ | [`gradient::denominator`] | [`DenominatorGradient`] |
| the element-wise index form (∂E/∂W_i)^{jk} = ∂E/∂z_{i+1}^j a_i^k | [`gradient::elementwise`] | [`DenominatorGradient`] |
| the naive O(n²) chain, recomputed for every W_i | [`gradient::naive`] | [`DenominatorGradient`] |
| batched: ∂E/∂W_i = Δ_{i+1} A_iᵀ, one product per layer, no allocation | [`Workspace`] | [`DenominatorGradient`] |

All agree: numerator(∂E/∂W_i)ᵀ = denominator(∂E/∂W_i) = element-wise = naive = batched. The
layout is part of the type, so the two cannot be mixed up without [`Gradient::transpose`].

# Example

```
use backprop::{Activation, Network, TrainConfig, train};
use nalgebra::DMatrix;

// The seed's 3-4-5-2 network, one sample per column.
let mut net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
let x = DMatrix::from_column_slice(3, 2, &[0.1, 0.5, -0.3, 0.9, -0.2, 0.4]);
let y = DMatrix::from_column_slice(2, 2, &[0.5, -0.5, -0.25, 0.75]);

// ∂E/∂W_i three ways: the layouts agree once the numerator one is transposed.
let (e, num) = backprop::gradient::numerator::gradient(&net, x.as_view(), y.as_view())?;
let (_, den) = backprop::gradient::denominator::gradient(&net, x.as_view(), y.as_view())?;
let (_, idx) = backprop::gradient::elementwise::gradient(&net, x.as_view(), y.as_view())?;
assert!(num.to_denominator().max_abs_diff(&den) < 1e-12);
assert!(idx.max_abs_diff(&den) < 1e-12);

// SGD with the seed's summed gradients: the loss falls.
let config = TrainConfig { learning_rate: 0.1, epochs: 200, batch_size: 2, ..Default::default() };
let history = train(&mut net, x.as_view(), y.as_view(), &config)?;
assert!(history.last().unwrap().loss < e / 10.0);
# Ok::<(), backprop::Error>(())
```

# Speed

[`Workspace`] runs the step on the kernels of the `backprop-kernels` crate: on x86-64, a
blocked GEMM with AVX-512 or AVX2 + FMA micro-kernels chosen at run time; everywhere else (or
with this crate's `portable` feature) nalgebra's own matrix product, `matrixmultiply`. On the
x86 kernels it allocates nothing after it is built (on the portable path, `matrixmultiply`
allocates a packing buffer per product); its buffers (Z_i, A_i, Δ_i, the batch) start on a cache
line. The crate itself is safe Rust only (`forbid`), and has no code specific to an architecture.

Build the crate optimised even in a debug build of your program: unoptimised, a training step
is about 100 times slower (S3, 784-128-10 in batches of 64, f64, one thread: 25.6 ms against
0.236 ms, the benches' `step-timer` built without and with `--release` on an AVX-512 host). In
your `Cargo.toml`:

```toml
[profile.dev.package.backprop]
opt-level = 3
[profile.dev.package.backprop-kernels]
opt-level = 3
```

# Model files

[`Network::save`] and [`Network::load`] read and write safetensors: tensors `W0`, `W1`, … of
shape [l_{i+1}, l_i], row-major, dtype F32 or F64, and the metadata key `activation`.
*/

#![forbid(unsafe_code)]

pub mod activation;
pub mod error;
pub mod forward;
pub mod gradient;
pub mod loss;
pub mod model_file;
#[cfg(feature = "mutants")]
pub mod mutants;
pub mod network;
pub mod scalar;
pub mod train;
pub mod workspace;

pub use activation::{Activation, ActivationFn};
pub use error::{Error, ModelError, Result};
pub use forward::Trace;
pub use gradient::{
    Denominator, DenominatorGradient, Gradient, Layout, LayoutTag, Numerator, NumeratorGradient,
};
pub use loss::{loss, loss_gradient};
pub use model_file::AnyNetwork;
pub use network::{Init, Network};
pub use scalar::{Dtype, Scalar};
pub use train::{
    EpochConfig, EpochReport, Hooks, Stopped, TrainConfig, Trained, Trainer, train, train_with,
};
pub use workspace::{Reduction, Workspace};

/// The crate README's example, compiled and run as a doc test (the README ships in the package;
/// the workspace README's examples run as doc tests of `backprop-benches`).
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
