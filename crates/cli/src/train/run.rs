//! Running `backprop train`: the core's [`backprop::Trainer::run`] (mini-batch SGD, the weights
//! restored to the start of the epoch on a non-finite loss or a stop), with the CLI's hooks:
//! Ctrl-C asked before every mini-batch, and after every epoch the evaluation, the epoch's line
//! and the progress bar.

use super::eval::Evaluator;
use super::plan::{AnySession, Plan, Ready, Session};
use super::report::{self, Row, line, loss_text, pct};
use crate::args::sizes_text;
use crate::data;
use crate::io::say;
use crate::outcome::Outcome;
use anyhow::{Result, anyhow};
use backprop::{EpochReport, Hooks, Network, Reduction, Scalar};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nalgebra::DMatrix;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Set by Ctrl-C, SIGTERM or SIGHUP (ctrlc's `termination` feature); asked before every
/// mini-batch.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

fn install_ctrlc() {
    // A second signal exits at once; the files are written atomically, so none is half-written.
    // SIGTERM and SIGHUP are handled as Ctrl-C (the handler cannot tell them apart): exit 130.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    });
}

/// Trains and writes the outputs.
///
/// # Errors
/// A non-finite loss (after writing the last finite model), or a file that cannot be written.
pub fn run(ready: Ready) -> Result<Outcome> {
    match ready.session {
        AnySession::F32(s) => train_typed(ready.plan, s),
        AnySession::F64(s) => train_typed(ready.plan, s),
    }
}

/// The progress bar on a terminal; hidden when the output is a pipe or a file.
fn progress_bar(epochs: usize) -> ProgressBar {
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(epochs as u64), ProgressDrawTarget::stdout());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:24.cyan/blue} {pos}/{len}  {msg}  {elapsed}<{eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The CLI's hooks into the core's training loop.
struct Monitor<'a, T: Scalar> {
    plan: &'a Plan,
    x: &'a DMatrix<T>,
    y: &'a DMatrix<T>,
    test: Option<&'a (DMatrix<T>, DMatrix<T>)>,
    /// The forward passes of the evaluation, into buffers allocated once.
    eval: Evaluator<T>,
    bar: ProgressBar,
    rows: Vec<Row>,
    /// An evaluation that failed (it ends training).
    error: Option<anyhow::Error>,
}

impl<T: Scalar> Monitor<'_, T> {
    /// Prints a line above the progress bar (or plainly, without one).
    fn print(&self, s: &str) {
        if self.bar.is_hidden() {
            say(s);
        } else {
            self.bar.println(s);
        }
    }

    fn row(&mut self, report: &EpochReport, net: &Network<T>) -> Result<Row> {
        let classify = self.plan.classes.is_some();
        let accuracy = if classify {
            self.eval.evaluate(net, self.x, self.y, true)?.1
        } else {
            None
        };
        let (test_loss, test_accuracy) = match self.test {
            Some((tx, ty)) => {
                let (l, a) = self.eval.evaluate(net, tx, ty, classify)?;
                (Some(l), a)
            }
            None => (None, None),
        };
        Ok(Row {
            epoch: report.epoch + 1,
            loss: report.mean_loss,
            accuracy,
            test_loss,
            test_accuracy,
        })
    }
}

impl<T: Scalar> Hooks<T> for Monitor<'_, T> {
    fn stop(&mut self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }

    fn on_epoch(&mut self, report: &EpochReport, net: &Network<T>) -> ControlFlow<()> {
        let row = match self.row(report, net) {
            Ok(row) => row,
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        };
        self.rows.push(row);
        let epochs = self.plan.config.epochs;
        if row.epoch == 1 || row.epoch.is_multiple_of(self.plan.log_every) || row.epoch == epochs {
            self.print(&line(&row, epochs));
        }
        self.bar.set_message(format!(
            "loss {}{}",
            loss_text(row.loss),
            row.accuracy
                .map_or(String::new(), |a| format!("  accuracy {}", pct(a)))
        ));
        self.bar.inc(1);
        ControlFlow::Continue(())
    }
}

fn train_typed<T: Scalar>(plan: Plan, session: Session<T>) -> Result<Outcome> {
    let Session {
        mut net,
        x,
        y,
        test,
        mut trainer,
    } = session;
    // Before the first line is printed: whoever sees it may press Ctrl-C.
    install_ctrlc();
    INTERRUPTED.store(false, Ordering::SeqCst);
    let config = plan.config;
    say(&format!(
        "{}: {} samples ({} training, {} test), network {} {}, {}, {} weights",
        plan.name,
        plan.all_points.rows(),
        x.ncols(),
        test.as_ref().map_or(0, |t| t.0.ncols()),
        sizes_text(&net.sizes()),
        net.activation().name(),
        T::DTYPE.name().to_ascii_lowercase(),
        net.parameter_count()
    ));
    say(&format!(
        "SGD: m = {}, {} epochs, batches of {} ({}), seed {}; loss is E/N, E summed over N samples",
        data::number(config.learning_rate),
        config.epochs,
        config.batch_size,
        match config.reduction {
            Reduction::Sum => "summed",
            Reduction::Mean => "mean",
        },
        config.seed
    ));

    let started = Instant::now();
    let mut monitor = Monitor {
        plan: &plan,
        x: &x,
        y: &y,
        test: test.as_ref(),
        eval: Evaluator::new(
            &net,
            x.ncols().max(test.as_ref().map_or(0, |t| t.0.ncols())),
        ),
        bar: progress_bar(config.epochs),
        rows: Vec::new(),
        error: None,
    };
    let outcome = trainer.run(&mut net, x.as_view(), y.as_view(), &config, &mut monitor);
    monitor.bar.finish_and_clear();
    if let Some(e) = monitor.error.take() {
        return Err(e);
    }
    let rows = std::mem::take(&mut monitor.rows);
    let trained = match outcome {
        Ok(trained) => trained,
        Err(backprop::Error::NonFiniteLoss {
            epoch: 0,
            batch: 0,
            loss,
        }) => {
            // Before the first step: the starting weights' own loss, not the learning rate's
            // doing (`prepare` refuses the whole set's; this is one batch's). Nothing written.
            return Err(anyhow!(
                "training stopped: the loss of the starting weights is not finite ({loss}) on \
                 the first mini-batch, before any step; the learning rate is not the cause: \
                 scale the data or the weights down; nothing written"
            ));
        }
        Err(backprop::Error::NonFiniteLoss { epoch, batch, loss }) => {
            // The core restored the weights of the start of this epoch: the last finite model.
            let written = report::write_outputs(&plan, &net, &rows)?;
            let kept = if epoch == 0 {
                "the initial model".to_string()
            } else {
                format!("the model after epoch {epoch}")
            };
            let others: Vec<String> = written[1..]
                .iter()
                .map(|w| w.path.display().to_string())
                .collect();
            return Err(anyhow!(
                "training stopped: the loss became non-finite ({loss}) in epoch {}, batch {}; \
                 wrote {kept} (the last finite one) to {}{}; try an --lr smaller than {}",
                epoch + 1,
                batch + 1,
                plan.out.display(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (and {})", others.join(", "))
                },
                data::number(config.learning_rate)
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let seconds = started.elapsed().as_secs_f64();
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);
    if interrupted
        && let Some(last) = rows.last()
        && !last.epoch.is_multiple_of(plan.log_every)
    {
        monitor.print(&line(last, config.epochs));
    }
    // A stop between two epochs needs no word: the summary says how many ran.
    if let Some(cut) = trained.stopped
        && (cut.batch > 0 || cut.epoch == 0)
    {
        say(&format!(
            "interrupted in epoch {} after {} of {} mini-batches; {} is written",
            cut.epoch + 1,
            cut.batch,
            cut.batches,
            if cut.epoch == 0 {
                "the initial model".to_string()
            } else {
                format!("the model of epoch {}", cut.epoch)
            }
        ));
    }
    let written = report::write_outputs(&plan, &net, &rows)?;
    if let Some(s) = report::summary(&rows, seconds, interrupted) {
        say(&s);
    }
    for w in &written {
        say(&format!("wrote {}: {}", w.path.display(), w.what));
    }
    Ok(if interrupted {
        Outcome::Interrupted
    } else {
        Outcome::Success
    })
}
