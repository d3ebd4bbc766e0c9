//! `gemm-vs-blas`: the project's matrix product C = α op(A) op(B) against OpenBLAS's, loaded
//! into the same process, the two called alternately on the same operands; prints one JSON
//! object per (op, dtype, size, threads) line. A size is `n` (n × n × n) or `MxKxN`, the m × k
//! by k × n product of one layer of the step (S4's forward W_0 A_0 is `512x784x256`; its
//! fused update W_0 += −m Δ_1 A_0ᵀ is `--ops nt --accumulate 512x256x784`).
//!
//! The GEMM peak of `compare.py` comes from numpy in another process, minutes away from the
//! project's own GEMM on a host whose speed drifts by 2× between phases; here every pair of
//! calls (one each, in alternating order) sees the same phase, so the median of the pairs'
//! speed ratios measures the kernels, not the host. Each pair's results are also compared:
//! the largest |C_ours − C_blas| over max |C_blas| must stay below a bound (1e-12 for f64,
//! 1e-5 for f32, with k ≤ 4096), or the tool exits with status 1.
//!
//! ```text
//! LIB=$(ls /tmp/peers-venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_*.so)
//! cargo bench -p backprop-kernels --bench gemm_vs_blas -- --lib "$LIB" \
//!     [--sizes 512,1024,2048|MxKxN] [--dtypes f64,f32] [--ops nn,tn,nt] [--threads 1,2]
//!     [--rounds 10] [--accumulate]
//! ```
//!
//! With `--accumulate` both compute C ← α op(A) op(B) + C (BLAS's β = 1) with α = −1e-3, the
//! step's fused update; otherwise C ← op(A) op(B).
//!
//! As the peers' harness, `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` are removed before the
//! library loads (so it picks its kernel for this CPU, printed as `blas_core`); its thread
//! count is set with `openblas_set_num_threads` (OpenBLAS) or `MKL_Set_Num_Threads_Local`
//! (MKL). Found, in this order: ILP64 cblas (numpy's `scipy_cblas_dgemm64_`, 64-bit sizes),
//! LP64 cblas (`cblas_dgemm`), and the Fortran `dgemm_`, which is how PyTorch's
//! `libtorch_cpu.so` exports the MKL it carries:
//!
//! ```text
//! MKL=/tmp/peers-venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so
//! cargo bench -p backprop-kernels --bench gemm_vs_blas -- --lib "$MKL" --sizes 1024
//! ```

use std::ffi::{CStr, c_char, c_int};
use std::time::Instant;

use backprop_kernels::reference::relative_difference;
use backprop_kernels::{Operand, Product, Real, ThreadPool};
use libloading::Library;

/// Which product: C = A B, Aᵀ B or A Bᵀ.
#[derive(Clone, Copy, Debug)]
enum Op {
    Nn,
    Tn,
    Nt,
}

const COL_MAJOR: c_int = 102; // CblasColMajor
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

type Gemm64<E> = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    i64,
    i64,
    i64,
    E,
    *const E,
    i64,
    *const E,
    i64,
    E,
    *mut E,
    i64,
);
type Gemm32<E> = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    i32,
    i32,
    i32,
    E,
    *const E,
    i32,
    *const E,
    i32,
    E,
    *mut E,
    i32,
);

/// Fortran `?gemm_`: every argument by reference, then the two hidden lengths of the
/// one-character strings (gfortran's convention; libraries that do not read them ignore them).
type GemmF<E> = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const c_int,
    *const c_int,
    *const c_int,
    *const E,
    *const E,
    *const c_int,
    *const E,
    *const c_int,
    *const E,
    *mut E,
    *const c_int,
    usize,
    usize,
);

/// One `?gemm` of a library: cblas of either integer width, or Fortran.
enum Cblas<E: 'static> {
    Ilp64(Gemm64<E>),
    Lp64(Gemm32<E>),
    Fortran(GemmF<E>),
}

/// How a symbol is called.
#[derive(Clone, Copy)]
enum Abi {
    Ilp64,
    Lp64,
    Fortran,
}

/// The element types, with their cblas names and agreement bounds.
trait Elem: Real + 'static {
    const NAME: &'static str;
    /// Symbols tried in order: ILP64 cblas, LP64 cblas, Fortran.
    const SYMBOLS: [(&'static str, Abi); 4];
    /// Largest accepted max |C_ours − C_blas| / max |C_blas|.
    const BOUND: f64;
}

impl Elem for f64 {
    const NAME: &'static str = "f64";
    const SYMBOLS: [(&'static str, Abi); 4] = [
        ("scipy_cblas_dgemm64_", Abi::Ilp64),
        ("cblas_dgemm64_", Abi::Ilp64),
        ("cblas_dgemm", Abi::Lp64),
        ("dgemm_", Abi::Fortran),
    ];
    const BOUND: f64 = 1e-12;
}

impl Elem for f32 {
    const NAME: &'static str = "f32";
    const SYMBOLS: [(&'static str, Abi); 4] = [
        ("scipy_cblas_sgemm64_", Abi::Ilp64),
        ("cblas_sgemm64_", Abi::Ilp64),
        ("cblas_sgemm", Abi::Lp64),
        ("sgemm_", Abi::Fortran),
    ];
    const BOUND: f64 = 1e-5;
}

struct Options {
    lib: String,
    /// (m, k, n) of each product.
    sizes: Vec<(usize, usize, usize)>,
    accumulate: bool,
    dtypes: Vec<String>,
    ops: Vec<Op>,
    threads: Vec<usize>,
    rounds: usize,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        lib: String::new(),
        sizes: vec![(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048)],
        accumulate: false,
        dtypes: vec!["f64".into(), "f32".into()],
        ops: vec![Op::Nn],
        threads: vec![1],
        rounds: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!(
                "gemm-vs-blas --lib PATH [--sizes n|MxKxN,..] [--dtypes f64,f32] \
                 [--ops nn,tn,nt] [--threads 1,2] [--rounds n] [--accumulate]"
            );
            std::process::exit(0);
        }
        if flag == "--bench" {
            // Passed by `cargo bench`.
            continue;
        }
        if flag == "--accumulate" {
            o.accumulate = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let list = || value.split(',').map(str::trim).filter(|s| !s.is_empty());
        let count = |s: &str| {
            s.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag} {s}: not a positive whole number"))
        };
        match flag.as_str() {
            "--lib" => o.lib = value.clone(),
            "--sizes" => {
                o.sizes = list()
                    .map(
                        |s| match s.split('x').map(count).collect::<Result<Vec<_>, _>>()? {
                            d if d.len() == 1 => Ok((d[0], d[0], d[0])),
                            d if d.len() == 3 => Ok((d[0], d[1], d[2])),
                            _ => Err(format!("--sizes {s}: n or MxKxN")),
                        },
                    )
                    .collect::<Result<_, _>>()?;
            }
            "--threads" => o.threads = list().map(count).collect::<Result<_, _>>()?,
            "--rounds" => o.rounds = count(&value)?,
            "--dtypes" => {
                o.dtypes = list().map(String::from).collect();
                if let Some(d) = o.dtypes.iter().find(|d| *d != "f64" && *d != "f32") {
                    return Err(format!("--dtypes {d}: f64 or f32"));
                }
            }
            "--ops" => {
                o.ops = list()
                    .map(|s| match s {
                        "nn" => Ok(Op::Nn),
                        "tn" => Ok(Op::Tn),
                        "nt" => Ok(Op::Nt),
                        _ => Err(format!("--ops {s}: nn, tn or nt")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            _ => return Err(format!("unknown option {flag} (see --help)")),
        }
    }
    Ok(o)
}

/// A library's thread-count setter.
enum SetThreads {
    OpenBlas(unsafe extern "C" fn(c_int)),
    Mkl(unsafe extern "C" fn(c_int) -> c_int),
}

/// The loaded library: its `?gemm`s, thread setter and core name.
struct Blas {
    lib: Library,
    set_threads: Option<SetThreads>,
    core: String,
}

impl Blas {
    fn load(path: &str) -> Result<Self, String> {
        // SAFETY: loading runs the library's initialisers; OpenBLAS's only start its threads.
        let lib = unsafe { Library::new(path) }.map_err(|e| format!("{path}: {e}"))?;
        // SAFETY: the symbols, where present, have these C signatures in every OpenBLAS.
        let set_threads = [
            "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads64_",
            "openblas_set_num_threads",
        ]
        .iter()
        .find_map(|s| unsafe { lib.get::<unsafe extern "C" fn(c_int)>(s.as_bytes()) }.ok())
        .map(|f| SetThreads::OpenBlas(*f))
        .or_else(|| {
            // SAFETY: MKL's `int MKL_Set_Num_Threads_Local(int)`.
            unsafe { lib.get::<unsafe extern "C" fn(c_int) -> c_int>(b"MKL_Set_Num_Threads_Local") }
                .ok()
                .map(|f| SetThreads::Mkl(*f))
        });
        let core = [
            "scipy_openblas_get_corename64_",
            "openblas_get_corename64_",
            "openblas_get_corename",
        ]
        .iter()
        .find_map(|s| {
            unsafe { lib.get::<unsafe extern "C" fn() -> *const c_char>(s.as_bytes()) }.ok()
        })
        // SAFETY: returns a static NUL-terminated string.
        .map(|f| {
            unsafe { CStr::from_ptr(f()) }
                .to_string_lossy()
                .into_owned()
        })
        .or_else(|| {
            // SAFETY: MKL's `void MKL_Get_Version_String(char *buf, int len)` writes at most
            // len bytes, NUL-terminated.
            let f = unsafe {
                lib.get::<unsafe extern "C" fn(*mut c_char, c_int)>(b"MKL_Get_Version_String")
            }
            .ok()?;
            let mut buf = [0 as c_char; 256];
            unsafe { f(buf.as_mut_ptr(), buf.len() as c_int) };
            // SAFETY: NUL-terminated within buf (zeroed, and written with its length).
            let v = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
            Some(v.split(" for ").next().unwrap_or(&v).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
        Ok(Self {
            lib,
            set_threads,
            core,
        })
    }

    fn gemm<E: Elem>(&self) -> Result<Cblas<E>, String> {
        for (name, abi) in E::SYMBOLS {
            // SAFETY: ?gemm has this signature; the integer width and convention follow the
            // symbol's name.
            let found = unsafe {
                match abi {
                    Abi::Ilp64 => self
                        .lib
                        .get::<Gemm64<E>>(name.as_bytes())
                        .map(|f| Cblas::Ilp64(*f)),
                    Abi::Lp64 => self
                        .lib
                        .get::<Gemm32<E>>(name.as_bytes())
                        .map(|f| Cblas::Lp64(*f)),
                    Abi::Fortran => self
                        .lib
                        .get::<GemmF<E>>(name.as_bytes())
                        .map(|f| Cblas::Fortran(*f)),
                }
            };
            if let Ok(g) = found {
                return Ok(g);
            }
        }
        Err(format!("no cblas gemm for {} in the library", E::NAME))
    }
}

/// Deterministic operands in [−1, 1) (splitmix64's finaliser on the index).
fn operand<E: Elem>(len: usize, seed: u64) -> Vec<E> {
    (0..len as u64)
        .map(|i| {
            let mut z = (i ^ seed.rotate_left(17)).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            E::narrow((z >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times `rounds` pairs (after one untimed pair) of m × k by k × n products, ours and
/// BLAS's: C ← op(A) op(B), or C ← α op(A) op(B) + C with α = −1e-3 if `accumulate`.
#[allow(clippy::too_many_arguments)]
fn compare<E: Elem>(
    blas: &Blas,
    cblas: &Cblas<E>,
    op: Op,
    (m, k, n): (usize, usize, usize),
    accumulate: bool,
    threads: usize,
    rounds: usize,
) -> Result<String, String> {
    let (a, b) = (operand::<E>(m * k, 1), operand::<E>(k * n, 2));
    let c0 = operand::<E>(m * n, 3);
    let (mut c_ours, mut c_blas) = (c0.clone(), c0);
    let (alpha, beta) = if accumulate {
        (E::narrow(-1e-3), E::one())
    } else {
        (E::one(), E::zero())
    };
    let pool = (threads > 1)
        .then(|| ThreadPool::new(threads).map_err(|e| format!("{threads} threads: {e}")))
        .transpose()?;
    // SAFETY: both take the thread count.
    match blas.set_threads {
        Some(SetThreads::OpenBlas(set)) => unsafe { set(threads as c_int) },
        Some(SetThreads::Mkl(set)) => {
            unsafe { set(threads as c_int) };
        }
        None => {}
    }
    // Column-major leading dimensions: A is m × k (k × m if transposed), B k × n (n × k).
    let (ta, tb, lda, ldb) = match op {
        Op::Nn => (NO_TRANS, NO_TRANS, m, k),
        Op::Tn => (TRANS, NO_TRANS, k, k),
        Op::Nt => (NO_TRANS, TRANS, m, n),
    };
    let ours = |c: &mut [E]| {
        let t = Instant::now();
        let (oa, ob) = match op {
            Op::Nn => (Operand::new(&a, m, k), Operand::new(&b, k, n)),
            Op::Tn => (Operand::new(&a, k, m).t(), Operand::new(&b, k, n)),
            Op::Nt => (Operand::new(&a, m, k), Operand::new(&b, n, k).t()),
        };
        Product::new(oa, ob)
            .alpha(alpha)
            .accumulate(accumulate)
            .pool(pool.as_ref())
            .run(c);
        t.elapsed().as_secs_f64()
    };
    let theirs = |c: &mut [E]| {
        let t = Instant::now();
        // SAFETY: operands of the shapes and leading dimensions above, C distinct from A
        // and B.
        unsafe {
            match cblas {
                Cblas::Ilp64(f) => f(
                    COL_MAJOR,
                    ta,
                    tb,
                    m as i64,
                    n as i64,
                    k as i64,
                    alpha,
                    a.as_ptr(),
                    lda as i64,
                    b.as_ptr(),
                    ldb as i64,
                    beta,
                    c.as_mut_ptr(),
                    m as i64,
                ),
                Cblas::Fortran(f) => {
                    let int = |x: usize| c_int::try_from(x).expect("sizes fit in int");
                    let t = |op| {
                        if op == TRANS {
                            c"T".as_ptr()
                        } else {
                            c"N".as_ptr()
                        }
                    };
                    f(
                        t(ta),
                        t(tb),
                        &int(m),
                        &int(n),
                        &int(k),
                        &alpha,
                        a.as_ptr(),
                        &int(lda),
                        b.as_ptr(),
                        &int(ldb),
                        &beta,
                        c.as_mut_ptr(),
                        &int(m),
                        1,
                        1,
                    )
                }
                Cblas::Lp64(f) => {
                    let int = |x: usize| i32::try_from(x).expect("sizes fit in i32");
                    f(
                        COL_MAJOR,
                        ta,
                        tb,
                        int(m),
                        int(n),
                        int(k),
                        alpha,
                        a.as_ptr(),
                        int(lda),
                        b.as_ptr(),
                        int(ldb),
                        beta,
                        c.as_mut_ptr(),
                        int(m),
                    )
                }
            }
        }
        t.elapsed().as_secs_f64()
    };
    let (mut t_ours, mut t_blas, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..=rounds {
        // Alternate which goes first, so neither always follows the other's cache state.
        let (to, tb) = if r % 2 == 0 {
            let to = ours(&mut c_ours);
            (to, theirs(&mut c_blas))
        } else {
            let tb = theirs(&mut c_blas);
            (ours(&mut c_ours), tb)
        };
        if r > 0 {
            t_ours.push(to);
            t_blas.push(tb);
            ratios.push(tb / to);
        }
    }
    let diff = relative_difference(&c_ours, &c_blas);
    if diff > E::BOUND {
        return Err(format!(
            "{op:?} {} {m}x{k}x{n}: max |C_ours − C_blas| / max |C_blas| = {diff:e} > {:e}",
            E::NAME,
            E::BOUND
        ));
    }
    let flop = 2.0 * (m * k * n) as f64 / 1e9;
    let ratio = median(&mut ratios);
    Ok(format!(
        "{{\"kind\": \"gemm_vs_blas\", \"op\": \"{}\", \"dtype\": \"{}\", \"m\": {m}, \"k\": {k}, \"n\": {n}, \
         \"accumulate\": {accumulate}, \
         \"threads\": {threads}, \"pairs\": {rounds}, \"ours_gflops\": {:.2}, \
         \"blas_gflops\": {:.2}, \"ours_over_blas\": {ratio:.4}, \"q25\": {:.4}, \"q75\": {:.4}, \
         \"max_rel_diff\": {diff:.3e}, \"isa\": \"{:?}\", \"blas_core\": \"{}\"}}",
        format!("{op:?}").to_lowercase(),
        E::NAME,
        flop / median(&mut t_ours),
        flop / median(&mut t_blas),
        ratios[ratios.len() / 4],
        ratios[(3 * ratios.len()) / 4],
        backprop_kernels::isa(),
        blas.core,
    ))
}

fn run<E: Elem>(blas: &Blas, o: &Options) -> Result<(), String> {
    let cblas = blas.gemm::<E>()?;
    for &threads in &o.threads {
        for &op in &o.ops {
            for &size in &o.sizes {
                let line = compare::<E>(blas, &cblas, op, size, o.accumulate, threads, o.rounds)?;
                println!("{line}");
            }
        }
    }
    Ok(())
}

fn main() {
    let result = parse().and_then(|o| {
        if o.lib.is_empty() {
            // `cargo bench --workspace` runs every bench without arguments.
            println!(
                "gemm-vs-blas: skipped, no --lib PATH (an OpenBLAS shared library); see --help"
            );
            return Ok(());
        }
        // SAFETY: no other thread exists yet.
        unsafe {
            std::env::remove_var("OPENBLAS_CORETYPE");
            std::env::remove_var("OPENBLAS_L2_SIZE");
        }
        let blas = Blas::load(&o.lib)?;
        for d in &o.dtypes {
            if d == "f64" {
                run::<f64>(&blas, &o)?;
            } else {
                run::<f32>(&blas, &o)?;
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        eprintln!("gemm-vs-blas: {e}");
        std::process::exit(1);
    }
}
