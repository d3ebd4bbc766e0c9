//! What `backprop train` reports: the numbers of an epoch (E/N and the accuracy, on the training
//! and the test set), their lines on the terminal, and the files written at the end (the
//! model, the history CSV, the loss curve and the boundary or fit picture).
//!
//! The loss shown is E/N, the seed's squared error E = Σ_s ‖y_s − z_n(x_s)‖² averaged over the
//! samples (for the training set: summed over an epoch's batches, each computed just before its
//! update). Classification targets are one-hot; the accuracy counts samples whose largest
//! output is at their class.

use super::plan::Plan;
use crate::args::sizes_text;
use crate::data;
use crate::io::{self, ensure_parent};
use crate::plot::boundary::{self, Boundary};
use crate::plot::draw::{Pending, draw_pending, format_of, render};
use crate::plot::fit::Fit;
use crate::plot::loss::LossCurve;
use crate::tensors;
use anyhow::Result;
use backprop::{ActivationFn, Network, Scalar};
use std::path::{Path, PathBuf};

/// One epoch's numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// E/N on the training set, each batch's E taken before its update.
    pub loss: f64,
    /// The fraction of training samples classified right (classification only).
    pub accuracy: Option<f64>,
    /// E/N on the test set after the epoch.
    pub test_loss: Option<f64>,
    /// The fraction of test samples classified right.
    pub test_accuracy: Option<f64>,
}

/// A loss: six decimals for ordinary values, scientific for very large or small ones.
pub fn loss_text(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.6}")
    } else {
        format!("{v:.6e}")
    }
}

/// A fraction as a percentage with one decimal.
pub fn pct(a: f64) -> String {
    format!("{:.1}%", 100.0 * a)
}

/// The line printed for an epoch.
pub fn line(row: &Row, epochs: usize) -> String {
    let width = epochs.to_string().len();
    let mut s = format!(
        "epoch {:>width$}/{epochs}  loss {}",
        row.epoch,
        loss_text(row.loss)
    );
    if let Some(a) = row.accuracy {
        s.push_str(&format!("  accuracy {:>6}", pct(a)));
    }
    if let Some(l) = row.test_loss {
        s.push_str(&format!("  test loss {}", loss_text(l)));
    }
    if let Some(a) = row.test_accuracy {
        s.push_str(&format!("  test accuracy {:>6}", pct(a)));
    }
    s
}

/// The summary after the last epoch: how many epochs ran, the loss from first to last, and
/// the last accuracy.
pub fn summary(rows: &[Row], seconds: f64, interrupted: bool) -> Option<String> {
    let (first, last) = (rows.first()?, rows.last()?);
    let mut s = format!(
        "{} {} epochs in {seconds:.1} s: loss {} -> {}",
        if interrupted {
            "interrupted after"
        } else {
            "trained"
        },
        last.epoch,
        loss_text(first.loss),
        loss_text(last.loss)
    );
    if let Some(a) = last.accuracy {
        s.push_str(&format!(", accuracy {}", pct(a)));
    }
    if let Some(a) = last.test_accuracy {
        s.push_str(&format!(", test accuracy {}", pct(a)));
    } else if let Some(l) = last.test_loss {
        s.push_str(&format!(", test loss {}", loss_text(l)));
    }
    Some(s)
}

/// A file written, and what it holds.
pub struct Written {
    /// Its path.
    pub path: PathBuf,
    /// What it holds, for the user: "the model", "loss per epoch", ….
    pub what: &'static str,
}

/// `true` when σ is odd, σ(−z) = −σ(z) (tanh, identity): then so is the bias-free network,
/// z_n(−x) = −z_n(x).
fn is_odd<T: Scalar>(sigma: &dyn ActivationFn<T>) -> bool {
    [0.25, 1.0, 3.0].iter().all(|&z| {
        let (p, m) = (
            sigma.sigma(T::of_f64(z)).as_f64(),
            sigma.sigma(T::of_f64(-z)).as_f64(),
        );
        (p + m).abs() <= 1e-6 * p.abs().max(1e-30)
    })
}

/// Writes the model, the history and the pictures; returns what was written, the model first.
pub fn write_outputs<T: Scalar>(
    plan: &Plan,
    net: &Network<T>,
    rows: &[Row],
) -> Result<Vec<Written>> {
    let title = format!(
        "{}: {} {}, m = {}, batch {}",
        plan.name,
        sizes_text(&net.sizes()),
        net.activation().name(),
        data::number(plan.config.learning_rate),
        plan.config.batch_size
    );
    // The boundary (or fit) picture, its forward passes over a grid, drawing and encoding, is
    // made on a thread of its own while the model, the history and the loss curve are written;
    // it is put at its path after them, as before (after an error there, it is dropped).
    std::thread::scope(|scope| {
        let picture = plan.boundary_picture.as_ref().map(|p| {
            let title = &title;
            std::thread::Builder::new()
                .name("picture".into())
                .spawn_scoped(scope, move || answer_picture(plan, net, rows, title, p))
        });
        let mut written = Vec::new();
        write_in_order(plan, net, rows, &title, &mut written)?;
        if let Some(p) = &plan.boundary_picture {
            let (pending, what) = match picture {
                Some(Ok(thread)) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                // No thread could be started: drawn here.
                _ => answer_picture(plan, net, rows, &title, p)?,
            };
            pending.commit()?;
            written.push(Written {
                path: p.clone(),
                what,
            });
        }
        Ok(written)
    })
}

/// Writes the model, the history and the loss curve, in this order, onto `written`.
fn write_in_order<T: Scalar>(
    plan: &Plan,
    net: &Network<T>,
    rows: &[Row],
    title: &str,
    written: &mut Vec<Written>,
) -> Result<()> {
    tensors::save_model(&plan.out, net)?;
    written.push(Written {
        path: plan.out.clone(),
        what: "the model",
    });
    if let Some(p) = &plan.history {
        let mut text = String::from("epoch,loss,accuracy,test_loss,test_accuracy\n");
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for r in rows {
            text.push_str(&format!(
                "{},{},{},{},{}\n",
                r.epoch,
                r.loss,
                opt(r.accuracy),
                opt(r.test_loss),
                opt(r.test_accuracy)
            ));
        }
        io::write_file(p, text.as_bytes())?;
        written.push(Written {
            path: p.clone(),
            what: "loss and accuracy per epoch, CSV",
        });
    }
    if let Some(p) = &plan.loss_picture {
        ensure_parent(p)?;
        let floor = plan
            .odd_floor
            .filter(|_| is_odd(net.activation()))
            .map(|f| {
                (
                    f,
                    format!(
                        "E/N = {f}: the least an odd network (odd σ, no biases) can reach here"
                    ),
                )
            });
        let curve = LossCurve {
            title: title.to_string(),
            train: rows.iter().map(|r| r.loss).collect(),
            test: rows.iter().filter_map(|r| r.test_loss).collect(),
            train_accuracy: rows.iter().filter_map(|r| r.accuracy).collect(),
            test_accuracy: rows.iter().filter_map(|r| r.test_accuracy).collect(),
            floor,
        };
        render(p, &curve)?;
        written.push(Written {
            path: p.clone(),
            what: if curve.train_accuracy.is_empty() {
                "loss per epoch"
            } else {
                "loss and accuracy per epoch"
            },
        });
    }
    Ok(())
}

/// The boundary picture (2 inputs) or the fitted curve (1 input) at `p`, drawn and encoded,
/// not yet at its path; and what it shows.
fn answer_picture<T: Scalar>(
    plan: &Plan,
    net: &Network<T>,
    rows: &[Row],
    title: &str,
    p: &Path,
) -> Result<(Pending, &'static str)> {
    ensure_parent(p)?;
    let last = rows.last();
    let caption = match (
        last.and_then(|r| r.accuracy),
        last.and_then(|r| r.test_accuracy),
    ) {
        (Some(a), Some(t)) => format!("{title}, accuracy {} (test {})", pct(a), pct(t)),
        (Some(a), None) => format!("{title}, accuracy {}", pct(a)),
        _ => title.to_string(),
    };
    Ok(if plan.inputs == 2 {
        let cells = boundary::cells(format_of(p)?);
        let picture =
            Boundary::sample(net, &plan.all_points, plan.classes.clone(), cells, caption)?;
        let what = if plan.classes.is_some() {
            "the decision boundary"
        } else {
            "the first output over the input plane"
        };
        (draw_pending(p, &picture)?, what)
    } else {
        let fit = Fit::sample(net, &plan.all_points, caption)?;
        (draw_pending(p, &fit)?, "the fitted curve")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backprop::Activation;

    #[test]
    fn losses_print_compactly_at_any_magnitude() {
        assert_eq!(loss_text(0.5), "0.500000");
        assert_eq!(loss_text(0.0), "0.000000");
        assert_eq!(loss_text(3.6e252), "3.600000e252");
        assert_eq!(loss_text(2.5e-7), "2.500000e-7");
        assert_eq!(loss_text(f64::INFINITY), "inf");
    }

    /// A spiral plan with every output in `dir`, and its untrained network.
    fn planned(dir: &Path) -> (Plan, Network<f64>) {
        let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
        let (out, history) = (at("m.safetensors"), at("h.csv"));
        let args = ["--epochs", "3", "--out", &out, "--history", &history];
        let ready = crate::train::ready(&args);
        match ready.session {
            super::super::plan::AnySession::F64(s) => (ready.plan, s.net),
            _ => unreachable!(),
        }
    }

    fn rows() -> Vec<Row> {
        (1..=3)
            .map(|epoch| Row {
                epoch,
                loss: 1.0 / epoch as f64,
                accuracy: Some(0.5),
                test_loss: Some(0.9),
                test_accuracy: Some(0.6),
            })
            .collect()
    }

    #[test]
    fn the_outputs_are_those_drawn_one_after_another() {
        let dir = tempfile::tempdir().unwrap();
        let (plan, net) = planned(dir.path());
        let written = write_outputs(&plan, &net, &rows()).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|w| w.path.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["m.safetensors", "h.csv", "m.loss.png", "m.boundary.png"]
        );
        // The boundary picture made on its own thread is the one `render` makes here.
        let p = dir.path().join("again.png");
        let title = "spiral: 2-24-24-2 tanh, m = 0.05, batch 16, accuracy 50.0% (test 60.0%)";
        let cells = boundary::cells(format_of(&p).unwrap());
        let picture = Boundary::sample(
            &net,
            &plan.all_points,
            plan.classes.clone(),
            cells,
            title.into(),
        )
        .unwrap();
        render(&p, &picture).unwrap();
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(dir.path().join("m.boundary.png")).unwrap()
        );
    }

    #[test]
    fn after_a_failed_output_the_boundary_picture_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let (mut plan, net) = planned(dir.path());
        // The loss curve's path is now a directory: that output fails.
        let loss = plan.loss_picture.clone().unwrap();
        std::fs::create_dir(&loss).unwrap();
        plan.loss_picture = Some(loss);
        assert!(write_outputs(&plan, &net, &rows()).is_err());
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().to_string())
            .collect();
        left.sort();
        assert_eq!(left, ["h.csv", "m.loss.png", "m.safetensors"]);
    }

    #[test]
    fn tanh_and_identity_are_odd_and_the_others_are_not() {
        let odd = |a: Activation| is_odd::<f64>(&a);
        assert!(odd(Activation::Tanh) && odd(Activation::Identity));
        assert!(!odd(Activation::Sigmoid) && !odd(Activation::Relu) && !odd(Activation::Softplus));
    }
}
