//! Running `backprop train`: the core's [`backprop::Trainer::run`] (mini-batch SGD, the weights
//! restored to the start of the epoch on a non-finite loss or a stop), with the CLI's hooks:
//! Ctrl-C asked before every mini-batch, and after every epoch the evaluation, the epoch's line
//! and the progress bar.
//!
//! The evaluation (the accuracy on the training set, the test loss and accuracy: forward passes
//! over whole sets) runs on a thread of its own on a copy of the epoch's network, while the next
//! epoch trains; in the main job it was a third of the time. Same numbers, lines in the same
//! order; a network too large to copy every epoch, or a machine with one core, evaluates on the
//! training thread.

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
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};
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

/// The sets an epoch is evaluated on.
struct Sets<'a, T: Scalar> {
    plan: &'a Plan,
    x: &'a DMatrix<T>,
    y: &'a DMatrix<T>,
    test: Option<&'a (DMatrix<T>, DMatrix<T>)>,
}

impl<T: Scalar> Clone for Sets<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Scalar> Copy for Sets<'_, T> {}

impl<T: Scalar> Sets<'_, T> {
    /// Whether an epoch has anything to evaluate: the accuracy, or a test set.
    fn evaluates(&self) -> bool {
        self.plan.classes.is_some() || self.test.is_some()
    }

    /// The epoch's row: its training loss, and the accuracy and test numbers of `net`.
    fn row(&self, eval: &mut Evaluator<T>, report: &EpochReport, net: &Network<T>) -> Result<Row> {
        let classify = self.plan.classes.is_some();
        let accuracy = if classify {
            eval.evaluate(net, self.x, self.y, true)?.1
        } else {
            None
        };
        let (test_loss, test_accuracy) = match self.test {
            Some((tx, ty)) => {
                let (l, a) = eval.evaluate(net, tx, ty, classify)?;
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

    /// Whether evaluating on a thread of its own pays: there is something to evaluate, the
    /// machine has a second core, and the network is small enough to copy every epoch.
    fn thread_pays(&self, net: &Network<T>) -> bool {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let bytes = net.parameter_count().saturating_mul(T::DTYPE.size());
        self.evaluates() && cores > 1 && bytes <= THREAD_EVALUATION_MAX_BYTES
    }

    /// The evaluator for these sets: buffers for the larger one.
    fn evaluator(&self, net: &Network<T>) -> Evaluator<T> {
        Evaluator::new(
            net,
            self.x.ncols().max(self.test.map_or(0, |t| t.0.ncols())),
        )
    }
}

/// The rows of the epochs evaluated so far, their lines and the progress bar.
struct Log<'a> {
    plan: &'a Plan,
    bar: ProgressBar,
    rows: Vec<Row>,
    /// An evaluation that failed (it ends training).
    error: Option<anyhow::Error>,
}

impl Log<'_> {
    /// Prints a line above the progress bar (or plainly, without one).
    fn print(&self, s: &str) {
        if self.bar.is_hidden() {
            say(s);
        } else {
            self.bar.println(s);
        }
    }

    /// Keeps the epoch's row, prints its line if it is one of those shown, moves the bar.
    fn record(&mut self, row: Row) {
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
    }
}

/// The weights of a network up to which its epochs are evaluated on a thread of their own:
/// every epoch hands that thread a copy, and up to three are alive at once (the one training,
/// one waiting, one being evaluated). Larger networks are evaluated on the training thread.
const THREAD_EVALUATION_MAX_BYTES: usize = 64 << 20;

/// Where the epochs are evaluated.
enum Evaluation<'scope, 'a, T: Scalar> {
    /// On the training thread, after each epoch.
    Inline {
        sets: Sets<'a, T>,
        eval: Evaluator<T>,
        log: Log<'a>,
    },
    /// On a thread of their own, while the next epoch trains: the training thread sends a
    /// copy of the network after each epoch; the evaluating thread records the rows and
    /// prints the lines, in the order of the epochs, and stops at the first failed
    /// evaluation. The evaluations are the same as inline, so are their numbers.
    Thread {
        jobs: SyncSender<(EpochReport, Network<T>)>,
        worker: ScopedJoinHandle<'scope, Log<'a>>,
    },
}

/// The CLI's hooks into the core's training loop.
struct Monitor<'scope, 'a, T: Scalar> {
    evaluation: Evaluation<'scope, 'a, T>,
}

impl<'scope, 'a, T: Scalar> Monitor<'scope, 'a, T> {
    /// Hooks that evaluate on a thread of `scope` if `threaded` (and the thread starts), on
    /// the training thread otherwise.
    fn new<'env>(
        scope: &'scope Scope<'scope, 'env>,
        sets: Sets<'a, T>,
        net: &Network<T>,
        bar: ProgressBar,
        threaded: bool,
    ) -> Self
    where
        'a: 'scope,
    {
        let log = |bar: ProgressBar| Log {
            plan: sets.plan,
            bar,
            rows: Vec::new(),
            error: None,
        };
        if threaded {
            let (jobs, inbox) = sync_channel::<(EpochReport, Network<T>)>(1);
            let mut eval = sets.evaluator(net);
            let mut log_there = log(bar.clone());
            let work = move || {
                for (report, net) in inbox {
                    match sets.row(&mut eval, &report, &net) {
                        Ok(row) => log_there.record(row),
                        Err(e) => {
                            // Dropping the inbox tells the training thread to stop.
                            log_there.error = Some(e);
                            break;
                        }
                    }
                }
                log_there
            };
            if let Ok(worker) = std::thread::Builder::new()
                .name("evaluation".into())
                .spawn_scoped(scope, work)
            {
                return Self {
                    evaluation: Evaluation::Thread { jobs, worker },
                };
            }
        }
        Self {
            evaluation: Evaluation::Inline {
                sets,
                eval: sets.evaluator(net),
                log: log(bar),
            },
        }
    }

    /// Waits for the evaluations still under way; returns the rows and lines' log.
    fn finish(self) -> Log<'a> {
        match self.evaluation {
            Evaluation::Inline { log, .. } => log,
            Evaluation::Thread { jobs, worker } => {
                drop(jobs);
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
        }
    }
}

impl<T: Scalar> Hooks<T> for Monitor<'_, '_, T> {
    fn stop(&mut self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }

    fn on_epoch(&mut self, report: &EpochReport, net: &Network<T>) -> ControlFlow<()> {
        match &mut self.evaluation {
            Evaluation::Inline { sets, eval, log } => match sets.row(eval, report, net) {
                Ok(row) => log.record(row),
                Err(e) => {
                    log.error = Some(e);
                    return ControlFlow::Break(());
                }
            },
            Evaluation::Thread { jobs, .. } => {
                // Waits while the evaluating thread is more than an epoch behind. An error
                // means it stopped at a failed evaluation: training stops too.
                if jobs.send((*report, net.clone())).is_err() {
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Runs the epochs with the CLI's hooks, evaluating on a thread of its own if `threaded`;
/// returns the trainer's outcome and the epochs' rows.
fn train_epochs<'a, T: Scalar>(
    trainer: &mut backprop::Trainer<T>,
    net: &mut Network<T>,
    sets: Sets<'a, T>,
    bar: ProgressBar,
    threaded: bool,
) -> (backprop::Result<backprop::Trained>, Log<'a>) {
    std::thread::scope(|scope| {
        let mut monitor = Monitor::new(scope, sets, net, bar, threaded);
        let config = &sets.plan.config;
        let outcome = trainer.run(
            net,
            sets.x.as_view(),
            sets.y.as_view(),
            config,
            &mut monitor,
        );
        (outcome, monitor.finish())
    })
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
    let sets = Sets {
        plan: &plan,
        x: &x,
        y: &y,
        test: test.as_ref(),
    };
    let threaded = sets.thread_pays(&net);
    let bar = progress_bar(config.epochs);
    let (outcome, mut log) = train_epochs(&mut trainer, &mut net, sets, bar, threaded);
    log.bar.finish_and_clear();
    if let Some(e) = log.error.take() {
        return Err(e);
    }
    let rows = std::mem::take(&mut log.rows);
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
        log.print(&line(last, config.epochs));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::ready;

    /// The rows and the trained weights, evaluating on a thread or inline.
    fn rows<T: Scalar>(plan: &Plan, session: Session<T>, threaded: bool) -> (Vec<Row>, Vec<T>) {
        let Session {
            mut net,
            x,
            y,
            test,
            mut trainer,
        } = session;
        let sets = Sets {
            plan,
            x: &x,
            y: &y,
            test: test.as_ref(),
        };
        let (outcome, log) = train_epochs(
            &mut trainer,
            &mut net,
            sets,
            ProgressBar::hidden(),
            threaded,
        );
        outcome.unwrap();
        assert!(log.error.is_none());
        let weights = (0..net.depth())
            .flat_map(|i| net.weight(i).iter().copied().collect::<Vec<_>>())
            .collect();
        (log.rows, weights)
    }

    #[test]
    fn evaluating_on_a_thread_gives_the_rows_and_model_of_evaluating_inline() {
        let dir = tempfile::tempdir().unwrap();
        for args in [
            &["--epochs", "40"][..],
            &["--data", "circles", "--epochs", "30", "--dtype", "f32"],
            &["--data", "sine", "--epochs", "30"],
            &["--data", "xor", "--epochs", "30", "--test-split", "0"],
        ] {
            let run = |threaded: bool| {
                let out = dir.path().join("m.safetensors");
                let mut all = vec!["--no-plots", "--out", out.to_str().unwrap()];
                all.extend_from_slice(args);
                let Ready { plan, session } = ready(&all);
                let (rows, weights) = match session {
                    AnySession::F32(s) => {
                        let (r, w) = rows(&plan, s, threaded);
                        (r, w.iter().map(|&v| f64::from(v)).collect::<Vec<_>>())
                    }
                    AnySession::F64(s) => rows(&plan, s, threaded),
                };
                assert_eq!(rows.len(), plan.config.epochs, "{args:?}");
                (rows, weights)
            };
            let (inline, threaded) = (run(false), run(true));
            assert_eq!(inline.0, threaded.0, "{args:?}");
            let bits = |w: &[f64]| w.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&inline.1), bits(&threaded.1), "{args:?}");
        }
    }
}
