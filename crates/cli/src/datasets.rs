//! Built-in data sets, generated from a seed (so `--seed` decides them too) or, with the `digits`
//! feature, the real data sets that the `smartcore` crate embeds.
//!
//! Classification sets have one-hot targets (1 for the sample's class, 0 elsewhere) and are
//! trained with the seed's squared error E = ‖y − z_n‖²; the predicted class is the largest
//! output.
//!
//! A network here has no biases, so z_{i+1} = W_i a_i is 0 at a_i = 0 and the network with an odd
//! σ (tanh) is an odd function of x. Two interleaved spirals are exactly point-symmetric (one is
//! the other turned by π), which such a network represents well; circles and xor are even, so
//! their defaults use sigmoid or softplus, whose σ(0) ≠ 0 acts as a bias for the next layer.

use crate::data::Table;
use backprop::{Activation, Network, Reduction};
use nalgebra::DMatrix;

/// What a built-in set is and how to train on it by default.
#[derive(Clone, Debug)]
pub struct Builtin {
    /// The samples: `inputs` values then `outputs` targets per row.
    pub table: Table,
    /// l_0.
    pub inputs: usize,
    /// l_n.
    pub outputs: usize,
    /// Class names for a classification set (one-hot targets), `None` for regression.
    pub classes: Option<Vec<String>>,
    /// Default hyper-parameters that train it well.
    pub defaults: Defaults,
    /// The mean loss E/N that a network with an odd σ (tanh, identity) cannot go below: ½ for
    /// the spirals, whose classes are point-symmetric (see the crate's README).
    pub odd_floor: Option<f64>,
}

/// Training defaults of a built-in set.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// The hidden layer sizes l_1..l_{n−1}.
    pub hidden: Vec<usize>,
    /// σ of the hidden layers.
    pub activation: Activation,
    /// The learning rate m.
    pub learning_rate: f64,
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per mini-batch.
    pub batch: usize,
    /// Sum or mean of the batch's gradients.
    pub reduction: Reduction,
}

impl Defaults {
    /// The defaults of a generated set: batches of 16, their gradients averaged.
    fn generated(
        hidden: &[usize],
        activation: Activation,
        learning_rate: f64,
        epochs: usize,
    ) -> Self {
        Defaults {
            hidden: hidden.to_vec(),
            activation,
            learning_rate,
            epochs,
            batch: 16,
            reduction: Reduction::Mean,
        }
    }
}

/// The names of the built-in sets.
pub fn names() -> Vec<&'static str> {
    let mut v = vec!["spiral", "circles", "xor", "sine", "seeded"];
    if cfg!(feature = "digits") {
        v.extend(["digits", "iris", "breast_cancer"]);
    }
    v
}

/// What an error about an unknown set adds when the `digits` feature is off.
pub fn feature_hint() -> &'static str {
    if cfg!(feature = "digits") {
        ""
    } else {
        " (digits, iris and breast_cancer need the `digits` feature)"
    }
}

/// The built-in set `name` generated with `seed`, or `None` for an unknown name.
///
/// # Errors
/// [`backprop::Error::TooLarge`] when `seeded`'s 3-4-5-2 teacher network (336 bytes) cannot
/// be allocated.
pub fn builtin(name: &str, seed: u64) -> backprop::Result<Option<Builtin>> {
    let mut rng = SplitMix64(seed ^ 0x9E37_79B9_7F4A_7C15);
    Ok(Some(match name {
        "spiral" | "spirals" => spiral(&mut rng),
        "circles" => circles(&mut rng),
        "xor" => xor(&mut rng),
        "sine" => sine(&mut rng),
        "seeded" => seeded(&mut rng, seed)?,
        #[cfg(feature = "digits")]
        "digits" => smartcore_sets::digits(),
        #[cfg(feature = "digits")]
        "iris" => smartcore_sets::iris(),
        #[cfg(feature = "digits")]
        "breast_cancer" | "breast-cancer" => smartcore_sets::breast_cancer(),
        _ => return Ok(None),
    }))
}

/// A seeded permutation of 0..n (Fisher–Yates), for the train/test split.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64(seed ^ 0xD1B5_4A32_D192_ED03);
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        p.swap(i, j);
    }
    p
}

/// `count` seeded standard-normal values (the generated data of `backprop check`).
pub fn normal_values(count: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64(seed ^ 0xA076_1D64_78BD_642F);
    (0..count).map(|_| rng.normal()).collect()
}

/// A small deterministic generator (SplitMix64): the data must not depend on another crate's
/// stream changing between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    fn uniform(&mut self) -> f64 {
        // The top 53 bits, scaled by 2^−53: exact.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn classification(
    name: &str,
    inputs: usize,
    classes: &[&str],
    samples: Vec<(Vec<f64>, usize)>,
    defaults: Defaults,
) -> Builtin {
    let k = classes.len();
    let mut values = Vec::with_capacity(samples.len() * (inputs + k));
    for (x, c) in &samples {
        values.extend_from_slice(x);
        values.extend((0..k).map(|j| if j == *c { 1.0 } else { 0.0 }));
    }
    let mut header: Vec<String> = (0..inputs).map(|i| format!("x{i}")).collect();
    header.extend(classes.iter().map(|c| format!("class_{c}")));
    Builtin {
        table: Table {
            source: format!("built-in {name}"),
            header: Some(header),
            values,
            cols: inputs + k,
            lines: (1..=samples.len() as u64).collect(),
        },
        inputs,
        outputs: k,
        classes: Some(classes.iter().map(|c| c.to_string()).collect()),
        defaults,
        odd_floor: None,
    }
}

fn regression(name: &str, inputs: usize, outputs: usize, values: Vec<f64>, d: Defaults) -> Builtin {
    let rows = values.len() / (inputs + outputs);
    let mut header: Vec<String> = (0..inputs).map(|i| format!("x{i}")).collect();
    header.extend((0..outputs).map(|k| format!("y{k}")));
    Builtin {
        table: Table {
            source: format!("built-in {name}"),
            header: Some(header),
            values,
            cols: inputs + outputs,
            lines: (1..=rows as u64).collect(),
        },
        inputs,
        outputs,
        classes: None,
        defaults: d,
        odd_floor: None,
    }
}

/// Two interleaved spirals, 200 points each, 1.5 turns, radius up to 3 (so that tanh's
/// curvature is in reach of W_0 x from Glorot-sized weights), a little noise. Class 1 is class 0
/// turned by π: the set is point-symmetric, like a bias-free tanh network.
fn spiral(rng: &mut SplitMix64) -> Builtin {
    let per_class = 200;
    let mut samples = Vec::with_capacity(2 * per_class);
    for i in 0..per_class {
        let t = 0.05 + 0.95 * (i as f64 / per_class as f64);
        let angle = 3.0 * std::f64::consts::PI * t;
        for class in 0..2 {
            let a = angle + class as f64 * std::f64::consts::PI;
            let x = 3.0 * (t * a.cos() + 0.02 * rng.normal());
            let y = 3.0 * (t * a.sin() + 0.02 * rng.normal());
            samples.push((vec![x, y], class));
        }
    }
    // Class b is class a turned by π: an odd network (tanh, no biases) must answer (u, v) at x
    // and (−u, −v) at −x, while the targets are (1, 0) and (0, 1); the best it can do is
    // (½, −½), a squared error of ½ per sample.
    let spiral = classification(
        "spiral",
        2,
        &["a", "b"],
        samples,
        Defaults::generated(&[24, 24], Activation::Tanh, 0.05, 500),
    );
    Builtin {
        odd_floor: Some(0.5),
        ..spiral
    }
}

/// An inner ring (radius 0.4) and an outer ring (radius 1), 200 points each, with noise.
fn circles(rng: &mut SplitMix64) -> Builtin {
    let per_class = 200;
    let mut samples = Vec::with_capacity(2 * per_class);
    for _ in 0..per_class {
        for (class, r) in [(0, 0.4), (1, 1.0)] {
            let a = rng.range(0.0, std::f64::consts::TAU);
            let r = r + 0.08 * rng.normal();
            samples.push((vec![r * a.cos(), r * a.sin()], class));
        }
    }
    classification(
        "circles",
        2,
        &["inner", "outer"],
        samples,
        Defaults::generated(&[16], Activation::Softplus, 0.1, 300),
    )
}

/// Four blobs at (±0.5, ±0.5); the class is 1 when the signs of x_0 and x_1 differ.
fn xor(rng: &mut SplitMix64) -> Builtin {
    // Drawn like circles, class by class into one-hot rows; only the geometry differs.
    let per_blob = 100;
    let mut samples = Vec::with_capacity(4 * per_blob);
    for _ in 0..per_blob {
        for (cx, cy) in [(0.5, 0.5), (-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5)] {
            let class = usize::from(cx * cy < 0.0);
            let x = cx + 0.15 * rng.normal();
            let y = cy + 0.15 * rng.normal();
            samples.push((vec![x, y], class));
        }
    }
    classification(
        "xor",
        2,
        &["same", "differ"],
        samples,
        Defaults::generated(&[16], Activation::Softplus, 0.1, 300),
    )
}

/// y = sin x for 200 x uniform on [−π, π]: regression, odd like a bias-free tanh network.
fn sine(rng: &mut SplitMix64) -> Builtin {
    let mut values = Vec::with_capacity(400);
    for _ in 0..200 {
        let x = rng.range(-std::f64::consts::PI, std::f64::consts::PI);
        values.extend([x, x.sin()]);
    }
    regression(
        "sine",
        1,
        1,
        values,
        Defaults::generated(&[16], Activation::Tanh, 0.05, 300),
    )
}

/// 256 inputs uniform on [−1, 1]³ and, as targets, the outputs of a random 3-4-5-2 sigmoid
/// network drawn from the same seed: the seed's shape, and a target the shape can fit exactly.
fn seeded(rng: &mut SplitMix64, seed: u64) -> backprop::Result<Builtin> {
    let samples = 256;
    let x = DMatrix::from_fn(3, samples, |_, _| rng.range(-1.0, 1.0));
    // Scaled up so the targets vary more than the initial network's outputs do.
    let teacher = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, seed ^ 0x5EED)?;
    let mut teacher_weights = teacher.into_weights();
    for w in &mut teacher_weights {
        *w *= 3.0;
    }
    let teacher = Network::from_weights(teacher_weights, Activation::Sigmoid)?;
    let y = teacher.predict(x.as_view())?;
    let mut values = Vec::with_capacity(samples * 5);
    for s in 0..samples {
        values.extend(x.column(s).iter());
        values.extend(y.column(s).iter());
    }
    Ok(regression(
        "seeded",
        3,
        2,
        values,
        Defaults {
            hidden: vec![4, 5],
            activation: Activation::Sigmoid,
            learning_rate: 0.05,
            epochs: 400,
            batch: 8,
            reduction: Reduction::Mean,
        },
    ))
}

#[cfg(feature = "digits")]
mod smartcore_sets {
    //! The real data sets that `smartcore` embeds (its `datasets` feature): inputs scaled to be
    //! of order 1, targets one-hot.

    use super::{Builtin, Defaults, classification};
    use backprop::{Activation, Reduction};

    fn from_smartcore<Y: Copy + Into<f64>>(
        name: &str,
        d: smartcore::dataset::Dataset<f32, Y>,
        classes: &[&str],
        scale: impl Fn(usize, &[f32]) -> Vec<f64>,
        defaults: Defaults,
    ) -> Builtin {
        let (n, f) = (d.num_samples, d.num_features);
        let samples = (0..n)
            .map(|s| {
                let x = scale(s, &d.data[s * f..(s + 1) * f]);
                // Targets are class indices (small whole numbers, stored as f32 or u32).
                let class: f64 = d.target[s].into();
                (x, class as usize)
            })
            .collect();
        classification(name, f, classes, samples, defaults)
    }

    /// Standardises every feature to mean 0 and standard deviation 1.
    fn standardise<Y>(d: &smartcore::dataset::Dataset<f32, Y>) -> (Vec<f64>, Vec<f64>) {
        let (n, f) = (d.num_samples, d.num_features);
        let mut mean = vec![0.0; f];
        let mut sd = vec![0.0; f];
        for s in 0..n {
            for k in 0..f {
                mean[k] += f64::from(d.data[s * f + k]) / n as f64;
            }
        }
        for s in 0..n {
            for k in 0..f {
                let e = f64::from(d.data[s * f + k]) - mean[k];
                sd[k] += e * e / n as f64;
            }
        }
        for v in &mut sd {
            *v = if *v > 0.0 { v.sqrt() } else { 1.0 };
        }
        (mean, sd)
    }

    /// The 8×8 handwritten digits: 1797 samples of 64 pixels in 0..16, scaled to [0, 1].
    pub fn digits() -> Builtin {
        let d = smartcore::dataset::digits::load_dataset();
        from_smartcore(
            "digits",
            d,
            &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            |_, x| x.iter().map(|&v| f64::from(v) / 16.0).collect(),
            Defaults::generated(&[64], Activation::Relu, 0.02, 40),
        )
    }

    /// Fisher's iris: 150 samples of 4 measurements, standardised, 3 species.
    pub fn iris() -> Builtin {
        let d = smartcore::dataset::iris::load_dataset();
        let (mean, sd) = standardise(&d);
        from_smartcore(
            "iris",
            d,
            &["setosa", "versicolor", "virginica"],
            move |_, x| {
                x.iter()
                    .enumerate()
                    .map(|(k, &v)| (f64::from(v) - mean[k]) / sd[k])
                    .collect()
            },
            Defaults {
                hidden: vec![8],
                activation: Activation::Sigmoid,
                learning_rate: 0.1,
                epochs: 200,
                batch: 8,
                reduction: Reduction::Mean,
            },
        )
    }

    /// Wisconsin breast cancer: 569 samples of 30 features, standardised, 2 classes.
    pub fn breast_cancer() -> Builtin {
        let d = smartcore::dataset::breast_cancer::load_dataset();
        let (mean, sd) = standardise(&d);
        from_smartcore(
            "breast_cancer",
            d,
            &["malignant", "benign"],
            move |_, x| {
                x.iter()
                    .enumerate()
                    .map(|(k, &v)| (f64::from(v) - mean[k]) / sd[k])
                    .collect()
            },
            Defaults::generated(&[16], Activation::Sigmoid, 0.05, 100),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_with_consistent_shapes() {
        for name in names() {
            let b = builtin(name, 3).unwrap().unwrap();
            let t = &b.table;
            assert_eq!(t.cols, b.inputs + b.outputs, "{name}");
            assert_eq!(t.values.len(), t.rows() * t.cols, "{name}");
            assert!(t.values.iter().all(|v| v.is_finite()), "{name}");
            if let Some(classes) = &b.classes {
                assert_eq!(classes.len(), b.outputs, "{name}");
                for s in 0..t.rows() {
                    let y = &t.row(s)[b.inputs..];
                    assert_eq!(y.iter().sum::<f64>(), 1.0, "{name} row {s} is one-hot");
                    assert!(y.iter().all(|&v| v == 0.0 || v == 1.0), "{name}");
                }
            }
        }
        assert!(builtin("nope", 0).unwrap().is_none());
    }

    #[test]
    fn the_seed_decides_the_data() {
        let a = builtin("circles", 1).unwrap().unwrap().table;
        let b = builtin("circles", 1).unwrap().unwrap().table;
        let c = builtin("circles", 2).unwrap().unwrap().table;
        assert_eq!(a, b);
        assert_ne!(a.values, c.values);
    }

    #[test]
    fn spirals_are_point_symmetric() {
        // Up to noise (σ = 0.06), sample 2i+1 is sample 2i turned by π: x → −x.
        let b = builtin("spiral", 0).unwrap().unwrap();
        let t = &b.table;
        for i in (0..t.rows()).step_by(2) {
            let (p, q) = (t.row(i), t.row(i + 1));
            assert!((p[0] + q[0]).abs() < 0.6 && (p[1] + q[1]).abs() < 0.6);
            assert_eq!((p[2], q[3]), (1.0, 1.0));
        }
    }
}
