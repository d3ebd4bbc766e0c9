//! `step-timer`: times the project's training step on the peers' shapes the way
//! `../shared/peers/run_peers.py` times the peers, and prints one JSON object per line.
//!
//! Per (shape, dtype, threads): one warm-up step, then warm-up steps for at least
//! `--warmup-time` s, then timed samples until both `--min-reps` samples and `--target-time` s
//! are reached (at most `--max-reps`). Before every sample the weights are restored to W0
//! outside the timed region. A sample is one step, or where a step takes under 2 µs (S1),
//! k consecutive steps timed together (k from the fastest warm-up step, so that a sample
//! lasts about 2 µs: reading the clock costs about 26 ns here, a fifth of an S1 step); times
//! are per step. Printed: median, min, quartiles (seconds), reps, samples/s, GFLOP/s.
//!
//! ```text
//! cargo run --release -p backprop-benches --bin step-timer -- \
//!     --shapes S1,S2,S3,S4,S5 --dtypes f64,f32 --threads 1,2 [--target-time 1] [--min-reps 15]
//! cargo run --release -p backprop-benches --bin step-timer -- --gemm 2048   # square GEMM rate
//! cargo run --release -p backprop-benches --bin step-timer -- --shapes S4,S5 --scaling 2
//! ```
//!
//! `--scaling T` measures the speed-up of T threads over one: a 1-thread and a T-thread step
//! alternate, pair after pair, so that a slow phase of a shared host (minutes long here) slows
//! both alike; printed are both medians, their ratio and the median and quartiles of the
//! pairs' ratios.
//!
//! `--impl backprop,nalgebra` times the plain-nalgebra baseline of the same step
//! (`backprop_benches::NalgebraStep`, one thread) beside the project's, on one thread:
//! per (shape, dtype), one step of each alternate round after round (the order rotating), so
//! that both see the same phases of a shared host; printed are one JSON line per
//! implementation as above, one `"kind": "versus"` line with the ratio nalgebra / backprop (of
//! the medians, and the median and quartiles of the rounds' ratios), and at the end a markdown
//! table with the load average. The baseline is not timed for `--threads` above 1.
//!
//! ```text
//! cargo run --release -p backprop-benches --bin step-timer -- \
//!     --impl backprop,nalgebra --shapes S1,S2,S3,T1 --dtypes f64,f32
//! ```
//!
//! `--floor` times, beside both steps (one of each and one pair of passes per round, order
//! rotating), the memory floor of a step: a read, then a read and write, of every weight
//! matrix with no arithmetic (`backprop_kernels::stream`). A step must read W_i in full before
//! it can update any of it, so where the weights do not fit in L1 no step is faster than
//! that; nalgebra / floor is the highest ratio any step could reach (S2, batch 1).
//!
//! ```text
//! cargo run --release -p backprop-benches --bin step-timer -- --floor --shapes S2
//! ```
//!
//! Shapes: the peers' S1–S5 and T1 (2-24-24-2, batch 16, sigmoid: `backprop_benches::T1`).
//! `benches/compare/compare.py` runs it alternately with the peers and prints the table.

use std::hint::black_box;
use std::time::{Duration, Instant};

use backprop::Scalar;
use backprop_benches::{NalgebraBench, SHAPES, Shape, StepBench};
use backprop_kernels::{Operand, Product, ThreadPool};

struct Options {
    shapes: Vec<Shape>,
    dtypes: Vec<String>,
    threads: Vec<usize>,
    target_time: f64,
    warmup_time: f64,
    min_reps: usize,
    max_reps: usize,
    gemm: Vec<usize>,
    scaling: Option<usize>,
    /// The implementations timed: "backprop" (the project's step) and/or "nalgebra" (the
    /// baseline).
    impls: Vec<String>,
    /// `--floor`: time the memory floor beside both implementations.
    floor: bool,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        shapes: SHAPES.to_vec(),
        dtypes: vec!["f64".into(), "f32".into()],
        threads: vec![1],
        target_time: 1.0,
        warmup_time: 0.3,
        min_reps: 15,
        max_reps: 5000,
        gemm: Vec::new(),
        scaling: None,
        impls: vec!["backprop".into()],
        floor: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "step-timer [--shapes S1,..] [--dtypes f64,f32] [--threads 1,2] [--target-time s] \
                 [--warmup-time s] [--min-reps n] [--max-reps n] [--gemm n,n] [--scaling threads] \
                 [--impl backprop,nalgebra] [--floor]"
            );
            std::process::exit(0);
        }
        if flag == "--floor" {
            o.floor = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let list = || value.split(',').map(str::trim).filter(|s| !s.is_empty());
        let num = |s: &str| s.parse::<f64>().map_err(|e| format!("{flag} {s}: {e}"));
        match flag.as_str() {
            "--shapes" => {
                o.shapes = list()
                    .map(|s| backprop_benches::shape(s).ok_or_else(|| format!("unknown shape {s}")))
                    .collect::<Result<_, _>>()?
            }
            "--dtypes" => {
                o.dtypes = list().map(String::from).collect();
                if let Some(d) = o.dtypes.iter().find(|d| *d != "f64" && *d != "f32") {
                    return Err(format!("unknown dtype {d}"));
                }
            }
            "--threads" => {
                o.threads = list()
                    .map(|s| {
                        s.parse::<usize>()
                            .map_err(|e| format!("--threads {s}: {e}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            "--impl" => {
                o.impls = Vec::new();
                for i in list() {
                    if !o.impls.iter().any(|have| have == i) {
                        o.impls.push(i.to_string());
                    }
                }
                if let Some(i) = o
                    .impls
                    .iter()
                    .find(|i| *i != "backprop" && *i != "nalgebra")
                {
                    return Err(format!("unknown implementation {i} (backprop, nalgebra)"));
                }
                if o.impls.is_empty() {
                    return Err("--impl: give backprop, nalgebra or both".into());
                }
            }
            "--target-time" => o.target_time = num(&value)?,
            "--warmup-time" => o.warmup_time = num(&value)?,
            "--min-reps" => o.min_reps = num(&value)? as usize,
            "--max-reps" => o.max_reps = num(&value)? as usize,
            "--gemm" => {
                o.gemm = list()
                    .map(|s| s.parse::<usize>().map_err(|e| format!("--gemm {s}: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--scaling" => {
                let t = value
                    .parse::<usize>()
                    .map_err(|e| format!("--scaling {value}: {e}"))?;
                if t < 2 {
                    return Err(format!("--scaling {t}: give 2 or more threads"));
                }
                o.scaling = Some(t);
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

/// Median, min, p25, p75 of `times` (sorted in place), in seconds.
fn stats(times: &mut [Duration]) -> (f64, f64, f64, f64) {
    times.sort();
    let q = |f: f64| times[((times.len() - 1) as f64 * f).round() as usize].as_secs_f64();
    (q(0.5), times[0].as_secs_f64(), q(0.25), q(0.75))
}

fn time_shape<T: Scalar>(o: &Options, s: &Shape, threads: usize, dtype: &str) {
    let mut bench = StepBench::<T>::new(s, threads);
    let start = Instant::now();
    let mut warm = 0;
    let mut fastest = f64::INFINITY;
    while warm < 2 || start.elapsed().as_secs_f64() < o.warmup_time {
        fastest = fastest.min(bench.timed_step().as_secs_f64());
        warm += 1;
    }
    let per_sample = steps_per_sample(fastest);
    let mut times = Vec::with_capacity(o.max_reps);
    let mut total = 0.0;
    while times.len() < o.max_reps && (times.len() < o.min_reps || total < o.target_time) {
        let t = bench.timed_steps(per_sample);
        total += t.as_secs_f64() * per_sample as f64;
        times.push(t);
    }
    print_step("backprop", s, dtype, threads, per_sample, &mut times);
}

/// Prints the JSON line of a step's timings (sorts `times`); returns the median in seconds.
fn print_step(
    peer: &str,
    s: &Shape,
    dtype: &str,
    threads: usize,
    per_sample: usize,
    times: &mut [Duration],
) -> f64 {
    let reps = times.len();
    let (median, min, p25, p75) = stats(times);
    let flops = s.step_flops();
    // The kernels' instruction set is the project's; the baseline runs nalgebra/matrixmultiply.
    let isa = if peer == "backprop" {
        format!(", \"isa\": \"{:?}\"", backprop_kernels::isa())
    } else {
        String::new()
    };
    println!(
        "{{\"kind\": \"step\", \"peer\": \"{peer}\", \"shape\": \"{}\", \"layers\": {:?}, \"batch\": {}, \
         \"dtype\": \"{dtype}\", \"threads\": {threads}, \"median_s\": {median:e}, \"min_s\": {min:e}, \
         \"p25_s\": {p25:e}, \"p75_s\": {p75:e}, \"n\": {reps}, \"flops\": {flops}, \
         \"samples_per_s\": {:.1}, \"gflops\": {:.3}, \"steps_per_sample\": {per_sample}{isa}}}",
        s.name,
        s.layers,
        s.batch,
        s.batch as f64 / median,
        flops as f64 / median / 1e9,
    );
    median
}

/// One row of the `--impl` table: medians in seconds by implementation, and the rounds'
/// ratios nalgebra / backprop (median, p25, p75) when both ran.
struct VersusRow {
    shape: Shape,
    dtype: String,
    medians: Vec<(String, f64)>,
    ratio: Option<(f64, f64, f64)>,
    rounds: usize,
    /// Consecutive steps per timed sample.
    per_sample: usize,
}

/// Restores W0 (untimed) and times k consecutive steps of an implementation; returns the time
/// per step.
type StepTimer = Box<dyn FnMut(usize) -> Duration>;

/// A timed sample lasts at least this long: shorter steps (S1's 0.1 µs) are timed k at a
/// time, so that reading the clock (about 26 ns here) is not part of each.
const SAMPLE: f64 = 2e-6;

/// k, the consecutive steps per timed sample, for a step of `fastest` seconds: 1 from 2 µs
/// up, at most 1000.
fn steps_per_sample(fastest: f64) -> usize {
    ((SAMPLE / fastest).ceil() as usize).clamp(1, 1000)
}

/// The implementations of `o.impls` on one thread, one step of each per round, alternated
/// in a rotating order, so that each round's steps see the same phase of the host.
fn time_versus<T: Scalar>(o: &Options, s: &Shape, dtype: &str) -> VersusRow {
    // (name, timer) in the order of `--impl`; each timer owns its bench.
    let mut timers: Vec<(&str, StepTimer)> = Vec::new();
    for name in &o.impls {
        if name == "backprop" {
            let mut b = StepBench::<T>::new(s, 1);
            timers.push(("backprop", Box::new(move |k| b.timed_steps(k))));
        } else {
            let mut b = NalgebraBench::<T>::new(s);
            timers.push(("nalgebra", Box::new(move |k| b.timed_steps(k))));
        }
    }
    let k = timers.len();
    let start = Instant::now();
    let mut warm = 0;
    // The fastest implementation's warm-up steps set the steps per sample for all.
    let mut fastest = f64::INFINITY;
    while warm < 2 || start.elapsed().as_secs_f64() < o.warmup_time {
        for (_, t) in timers.iter_mut() {
            fastest = fastest.min(t(1).as_secs_f64());
        }
        warm += 1;
    }
    let per_sample = steps_per_sample(fastest);
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); k];
    let mut ratios = Vec::new();
    let mut total = 0.0;
    let mut rounds = 0;
    while rounds < o.max_reps && (rounds < o.min_reps || total < k as f64 * o.target_time) {
        for j in 0..k {
            let idx = (j + rounds) % k;
            let d = (timers[idx].1)(per_sample);
            total += d.as_secs_f64() * per_sample as f64;
            times[idx].push(d);
        }
        if k == 2 {
            // timers[0] / timers[1] in `--impl` order; the ratio is nalgebra / backprop.
            let (a, b) = (
                times[0][rounds].as_secs_f64(),
                times[1][rounds].as_secs_f64(),
            );
            ratios.push(if timers[0].0 == "nalgebra" {
                a / b
            } else {
                b / a
            });
        }
        rounds += 1;
    }
    let mut medians = Vec::new();
    for (idx, (name, _)) in timers.iter().enumerate() {
        medians.push((
            name.to_string(),
            print_step(name, s, dtype, 1, per_sample, &mut times[idx]),
        ));
    }
    let ratio = (k == 2).then(|| {
        ratios.sort_by(f64::total_cmp);
        let q = |f: f64| ratios[((ratios.len() - 1) as f64 * f).round() as usize];
        (q(0.5), q(0.25), q(0.75))
    });
    if let Some((r50, r25, r75)) = ratio {
        let med = |n: &str| {
            medians
                .iter()
                .find(|(m, _)| m == n)
                .map_or(f64::NAN, |m| m.1)
        };
        println!(
            "{{\"kind\": \"versus\", \"shape\": \"{}\", \"dtype\": \"{dtype}\", \"threads\": 1, \
             \"backprop_median_s\": {:e}, \"nalgebra_median_s\": {:e}, \"ratio_of_medians\": {:.3}, \
             \"round_ratio_median\": {r50:.3}, \"round_ratio_p25\": {r25:.3}, \"round_ratio_p75\": {r75:.3}, \
             \"rounds\": {rounds}, \"steps_per_sample\": {per_sample}}}",
            s.name,
            med("backprop"),
            med("nalgebra"),
            med("nalgebra") / med("backprop"),
        );
    }
    VersusRow {
        shape: *s,
        dtype: dtype.to_string(),
        medians,
        ratio,
        rounds,
        per_sample,
    }
}

/// The 1-, 5- and 15-minute load averages, as `/proc/loadavg` has them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The markdown table of the `--impl` rows (lines that are not JSON: `compare.py` skips them).
fn print_versus_table(rows: &[VersusRow], load_before: &str) {
    let us = |s: f64| {
        let us = s * 1e6;
        if us < 100.0 {
            format!("{us:.2}")
        } else if us < 10000.0 {
            format!("{us:.1}")
        } else {
            format!("{us:.0}")
        }
    };
    println!();
    println!(
        "| shape | layers | B | dtype | backprop µs | nalgebra µs | nalgebra / backprop | rounds' ratio p25–p75 | rounds | steps per sample |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let med = |n: &str| r.medians.iter().find(|(m, _)| m == n).map(|m| m.1);
        let cell = |v: Option<f64>| v.map_or("–".to_string(), us);
        let (ratio, spread) = match r.ratio {
            Some((m, p25, p75)) => (format!("{m:.2}×"), format!("{p25:.2}–{p75:.2}")),
            None => ("–".into(), "–".into()),
        };
        let layers: Vec<String> = r.shape.layers.iter().map(|l| l.to_string()).collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {ratio} | {spread} | {} | {} |",
            r.shape.name,
            layers.join("-"),
            r.shape.batch,
            r.dtype,
            cell(med("backprop")),
            cell(med("nalgebra")),
            r.rounds,
            r.per_sample,
        );
    }
    println!();
    println!(
        "One thread, medians of the rounds' step times (one sample of each implementation per \
         round, order rotating: one step from W0, or where a step takes under 2 µs, that many \
         consecutive steps from W0 timed together, so that reading the clock is not part of \
         each); nalgebra / backprop is the median of the rounds' ratios. Load average before: \
         {load_before}; after: {}.",
        load_average()
    );
}

/// One row of the `--floor` table: medians in seconds.
struct FloorRow {
    shape: Shape,
    dtype: String,
    read: f64,
    flip: f64,
    backprop: f64,
    nalgebra: f64,
    /// Medians of the rounds' ratios: nalgebra / backprop, nalgebra / floor, backprop / floor.
    ratios: [f64; 3],
    rounds: usize,
}

/// `--floor`: the memory floor of one step beside the step and the baseline, on one thread.
/// A step must read every W_i in full before it can update any of it (the update needs
/// δ_{i+1}, which needs all of z_{i+1} = W_i a_i), so where W_i does not fit in L1 it streams
/// each W_i twice: a read, and a read and write. The floor is those two passes with nothing
/// else, `backprop_kernels::stream::read` and `flip` over a copy of every W_i restored from
/// W0 as the step's weights are, timed in the same rounds as both steps (one step each,
/// order rotating). It is the bound for one-sample steps (S2); where a batch makes the step
/// arithmetic-bound it is far below.
fn time_floor<T: Scalar>(o: &Options, s: &Shape, dtype: &str) -> FloorRow {
    let mut ours = StepBench::<T>::new(s, 1);
    let mut baseline = NalgebraBench::<T>::new(s);
    let initial: Vec<Vec<T>> = (0..ours.initial.depth())
        .map(|i| ours.initial.weight(i).as_slice().to_vec())
        .collect();
    let mut w = initial.clone();
    // Restores W0 (untimed), then times a read of every W_i and a read-and-write of every W_i.
    let mut passes = move || {
        for (w, w0) in w.iter_mut().zip(&initial) {
            w.copy_from_slice(w0);
        }
        let t = Instant::now();
        let folded = w
            .iter()
            .fold(0, |x, w| x ^ backprop_kernels::stream::read(w));
        let read = t.elapsed();
        black_box(folded);
        let t = Instant::now();
        for w in &mut w {
            backprop_kernels::stream::flip(black_box(w), 0x80);
        }
        (read, t.elapsed())
    };
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < o.warmup_time {
        ours.timed_step();
        baseline.timed_step();
        passes();
    }
    let (mut read, mut flip, mut bp, mut nb) = (vec![], vec![], vec![], vec![]);
    let mut ratios = [vec![], vec![], vec![]];
    let mut total = 0.0;
    let mut rounds = 0;
    while rounds < o.max_reps && (rounds < o.min_reps || total < 3.0 * o.target_time) {
        for j in 0..3 {
            match (j + rounds) % 3 {
                0 => bp.push(ours.timed_step()),
                1 => nb.push(baseline.timed_step()),
                _ => {
                    let (r, f) = passes();
                    read.push(r);
                    flip.push(f);
                }
            }
        }
        let [r, f, b, n] =
            [read[rounds], flip[rounds], bp[rounds], nb[rounds]].map(|d| d.as_secs_f64());
        total += r + f + b + n;
        ratios[0].push(n / b);
        ratios[1].push(n / (r + f));
        ratios[2].push(b / (r + f));
        rounds += 1;
    }
    let med = |v: &mut Vec<Duration>| stats(v).0;
    let ratios = ratios.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    let row = FloorRow {
        shape: *s,
        dtype: dtype.to_string(),
        read: med(&mut read),
        flip: med(&mut flip),
        backprop: med(&mut bp),
        nalgebra: med(&mut nb),
        ratios,
        rounds,
    };
    println!(
        "{{\"kind\": \"floor\", \"shape\": \"{}\", \"dtype\": \"{dtype}\", \"threads\": 1, \
         \"weight_bytes\": {}, \"read_median_s\": {:e}, \"read_write_median_s\": {:e}, \
         \"backprop_median_s\": {:e}, \"nalgebra_median_s\": {:e}, \"nalgebra_over_backprop\": {:.3}, \
         \"nalgebra_over_floor\": {:.3}, \"backprop_over_floor\": {:.3}, \"rounds\": {rounds}, \
         \"isa\": \"{:?}\"}}",
        s.name,
        (0..s.layers.len() - 1)
            .map(|i| s.layers[i] * s.layers[i + 1])
            .sum::<usize>()
            * std::mem::size_of::<T>(),
        row.read,
        row.flip,
        row.backprop,
        row.nalgebra,
        ratios[0],
        ratios[1],
        ratios[2],
        backprop_kernels::isa(),
    );
    row
}

/// The markdown table of the `--floor` rows.
fn print_floor_table(rows: &[FloorRow], load_before: &str) {
    println!();
    println!(
        "| shape | dtype | read W µs | read + write W µs | floor µs | backprop µs | nalgebra µs | nalgebra / backprop | nalgebra / floor | backprop / floor | rounds |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let us = |s: f64| format!("{:.2}", s * 1e6);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2}× | {:.2}× | {:.2}× | {} |",
            r.shape.name,
            r.dtype,
            us(r.read),
            us(r.flip),
            us(r.read + r.flip),
            us(r.backprop),
            us(r.nalgebra),
            r.ratios[0],
            r.ratios[1],
            r.ratios[2],
            r.rounds,
        );
    }
    println!();
    println!(
        "One thread; medians over rounds of one step of each implementation and one pair of \
         passes (order rotating, weights restored to W0 before each). The floor: a read, then \
         a read and write, of every weight matrix, with no arithmetic; the ratios are the \
         medians of the rounds' ratios, so nalgebra / floor is the most any step that streams \
         W twice could reach. Load average before: {load_before}; after: {}.",
        load_average()
    );
}

/// The speed-up of `threads` threads over one on shape `s`: steps of a 1-thread and a
/// `threads`-thread workspace alternate, so both see the same phases of a shared host.
fn time_scaling<T: Scalar>(o: &Options, s: &Shape, threads: usize, dtype: &str) {
    let mut one = StepBench::<T>::new(s, 1);
    let mut many = StepBench::<T>::new(s, threads);
    let start = Instant::now();
    let mut warm = 0;
    while warm < 2 || start.elapsed().as_secs_f64() < o.warmup_time {
        one.timed_step();
        many.timed_step();
        warm += 1;
    }
    let (mut t1, mut tn, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut total = 0.0;
    while t1.len() < o.max_reps && (t1.len() < o.min_reps || total < 2.0 * o.target_time) {
        let a = one.timed_step();
        let b = many.timed_step();
        total += (a + b).as_secs_f64();
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
        t1.push(a);
        tn.push(b);
    }
    let reps = t1.len();
    let (m1, ..) = stats(&mut t1);
    let (mn, ..) = stats(&mut tn);
    ratios.sort_by(f64::total_cmp);
    let q = |f: f64| ratios[((ratios.len() - 1) as f64 * f).round() as usize];
    println!(
        "{{\"kind\": \"scaling\", \"peer\": \"backprop\", \"shape\": \"{}\", \"dtype\": \"{dtype}\", \
         \"threads\": {threads}, \"median_1_s\": {m1:e}, \"median_n_s\": {mn:e}, \"speedup\": {:.3}, \
         \"pair_ratio_median\": {:.3}, \"pair_ratio_p25\": {:.3}, \"pair_ratio_p75\": {:.3}, \"n\": {reps}, \
         \"isa\": \"{:?}\"}}",
        s.name,
        m1 / mn,
        q(0.5),
        q(0.25),
        q(0.75),
        backprop_kernels::isa(),
    );
}

/// The project's own square GEMM rate C = A B (n × n), best of a few repetitions.
fn time_gemm<T: Scalar>(n: usize, threads: usize, dtype: &str) {
    let a: Vec<T> = (0..n * n)
        .map(|i| T::of_f64((i % 7) as f64 * 0.1))
        .collect();
    let b: Vec<T> = (0..n * n)
        .map(|i| T::of_f64((i % 5) as f64 * 0.1))
        .collect();
    let mut c = vec![T::zero(); n * n];
    let pool = (threads > 1).then(|| ThreadPool::new(threads).expect("threads start"));
    let mut best = f64::INFINITY;
    for _ in 0..4 {
        let t = Instant::now();
        Product::new(Operand::new(&a, n, n), Operand::new(&b, n, n))
            .pool(pool.as_ref())
            .run(&mut c);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"kind\": \"gemm\", \"lib\": \"backprop\", \"dtype\": \"{dtype}\", \"threads\": {threads}, \"n\": {n}, \
         \"best_gflops\": {:.2}, \"isa\": \"{:?}\"}}",
        2.0 * (n as f64).powi(3) / best / 1e9,
        backprop_kernels::isa()
    );
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("step-timer: {e}");
            std::process::exit(2);
        }
    };
    if let Some(threads) = o.scaling {
        for s in &o.shapes {
            for d in &o.dtypes {
                if d == "f64" {
                    time_scaling::<f64>(&o, s, threads, d);
                } else {
                    time_scaling::<f32>(&o, s, threads, d);
                }
            }
        }
        return;
    }
    if o.floor {
        let load_before = load_average();
        let mut rows = Vec::new();
        for s in &o.shapes {
            for d in &o.dtypes {
                rows.push(if d == "f64" {
                    time_floor::<f64>(&o, s, d)
                } else {
                    time_floor::<f32>(&o, s, d)
                });
            }
        }
        print_floor_table(&rows, &load_before);
        return;
    }
    if o.impls.iter().any(|i| i == "nalgebra") && o.gemm.is_empty() {
        let load_before = load_average();
        let mut rows = Vec::new();
        for &threads in &o.threads {
            if threads != 1 {
                // The baseline is one thread; the project's step alone on more.
                eprintln!(
                    "step-timer: the nalgebra baseline runs on one thread only, not timed for --threads {threads}"
                );
                if o.impls.iter().any(|i| i == "backprop") {
                    for s in &o.shapes {
                        for d in &o.dtypes {
                            if d == "f64" {
                                time_shape::<f64>(&o, s, threads, d);
                            } else {
                                time_shape::<f32>(&o, s, threads, d);
                            }
                        }
                    }
                }
                continue;
            }
            for s in &o.shapes {
                for d in &o.dtypes {
                    rows.push(if d == "f64" {
                        time_versus::<f64>(&o, s, d)
                    } else {
                        time_versus::<f32>(&o, s, d)
                    });
                }
            }
        }
        print_versus_table(&rows, &load_before);
        return;
    }
    for &threads in &o.threads {
        for &n in &o.gemm {
            for d in &o.dtypes {
                if d == "f64" {
                    time_gemm::<f64>(n, threads, d);
                } else {
                    time_gemm::<f32>(n, threads, d);
                }
            }
        }
        if !o.gemm.is_empty() {
            continue;
        }
        for s in &o.shapes {
            for d in &o.dtypes {
                if d == "f64" {
                    time_shape::<f64>(&o, s, threads, d);
                } else {
                    time_shape::<f32>(&o, s, threads, d);
                }
            }
        }
    }
}
