//! `step-timer`: times the project's training step on the peers' shapes the way
//! `../shared/peers/run_peers.py` times the peers, and prints one JSON object per line.
//!
//! Per (shape, dtype, threads): one warm-up step, then warm-up steps for at least
//! `--warmup-time` s, then timed steps until both `--min-reps` steps and `--target-time` s are
//! reached (at most `--max-reps`). Before every step the weights are restored to W0 outside
//! the timed region. Printed: median, min, quartiles (seconds), reps, samples/s, GFLOP/s.
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
//! `benches/compare/compare.py` runs it alternately with the peers and prints the table.

use std::time::{Duration, Instant};

use backprop::Scalar;
use backprop_benches::{SHAPES, Shape, StepBench};
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
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "step-timer [--shapes S1,..] [--dtypes f64,f32] [--threads 1,2] [--target-time s] \
                 [--warmup-time s] [--min-reps n] [--max-reps n] [--gemm n,n] [--scaling threads]"
            );
            std::process::exit(0);
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
    while warm < 2 || start.elapsed().as_secs_f64() < o.warmup_time {
        bench.timed_step();
        warm += 1;
    }
    let mut times = Vec::with_capacity(o.max_reps);
    let mut total = 0.0;
    while times.len() < o.max_reps && (times.len() < o.min_reps || total < o.target_time) {
        let t = bench.timed_step();
        total += t.as_secs_f64();
        times.push(t);
    }
    let reps = times.len();
    let (median, min, p25, p75) = stats(&mut times);
    let flops = s.step_flops();
    println!(
        "{{\"kind\": \"step\", \"peer\": \"backprop\", \"shape\": \"{}\", \"layers\": {:?}, \"batch\": {}, \
         \"dtype\": \"{dtype}\", \"threads\": {threads}, \"median_s\": {median:e}, \"min_s\": {min:e}, \
         \"p25_s\": {p25:e}, \"p75_s\": {p75:e}, \"n\": {reps}, \"flops\": {flops}, \
         \"samples_per_s\": {:.1}, \"gflops\": {:.3}, \"isa\": \"{:?}\"}}",
        s.name,
        s.layers,
        s.batch,
        s.batch as f64 / median,
        flops as f64 / median / 1e9,
        backprop_kernels::isa(),
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
