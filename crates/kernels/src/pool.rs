//! A fixed set of worker threads, started once, that run one job at a time: the calling thread
//! does part 0 and worker t does part t. Handing a job over allocates nothing (a pointer to
//! the caller's closure under a mutex, and a condition variable), so a multi-threaded training
//! step stays allocation-free. Both sides spin for up to `SPIN` (200 µs) before they sleep: the
//! workers for the next job, the caller for the workers' parts to end.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The job: a borrowed closure, its lifetime erased. [`ThreadPool::run`] does not return before
/// every worker has finished with it, so the borrow outlives every use.
#[derive(Clone, Copy)]
struct Job(*const (dyn Fn(usize) + Sync + 'static));

// SAFETY: the closure is `Sync`, so calling it from several threads through a shared pointer is
// allowed; the pointer itself is only read while `run` keeps the closure alive.
unsafe impl Send for Job {}

struct State {
    job: Option<Job>,
    generation: u64,
    pending: usize,
    panicked: bool,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    done: Condvar,
    /// A copy of `State::generation` that workers spin on briefly before they sleep.
    generation: AtomicU64,
    /// A copy of `State::pending` that the caller spins on briefly before it sleeps.
    pending: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long a worker spins for the next job, and the caller for the workers to finish their
/// parts, before sleeping on a condition variable. Consecutive products of a step follow each
/// other within microseconds, and the parts of one product end within about a hundred (S4 on
/// the AMD EPYC host); a sleep and its wake-up cost tens of microseconds each in a VM.
const SPIN: Duration = Duration::from_micros(200);

/// Spins until `done()` or until [`SPIN`] has passed (the caller then checks under the lock
/// and sleeps if it must).
fn spin_until(done: impl Fn() -> bool) {
    let start = Instant::now();
    while start.elapsed() < SPIN {
        for _ in 0..64 {
            if done() {
                return;
            }
            std::hint::spin_loop();
        }
    }
}

/// Worker threads for the parallel products and passes of a training step.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serialises `run` when clones of a workspace share the pool across threads.
    run_lock: Mutex<()>,
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl ThreadPool {
    /// A pool for `threads` parts: the caller and `threads − 1` workers.
    ///
    /// # Errors
    /// The I/O error of a thread that could not be spawned.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                job: None,
                generation: 0,
                pending: 0,
                panicked: false,
                shutdown: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            generation: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
        });
        let mut pool = Self {
            shared,
            workers: Vec::new(),
            run_lock: Mutex::new(()),
        };
        for t in 1..threads.max(1) {
            let shared = Arc::clone(&pool.shared);
            let handle = std::thread::Builder::new()
                .name(format!("backprop-{t}"))
                .spawn(move || worker(&shared, t))?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// The number of parts a job is split into (workers + the caller).
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(0)` on the calling thread and `f(t)` on worker t for t = 1..threads, and returns
    /// when all have finished.
    ///
    /// # Panics
    /// If `f` panicked on a worker (after all parts have finished).
    pub fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.workers.is_empty() {
            f(0);
            return;
        }
        let _serial = self.run_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let ptr: *const (dyn Fn(usize) + Sync + '_) = f;
        // SAFETY: only the lifetime is erased (same pointer layout); the workers use the
        // pointer only until `pending` reaches 0, which this function waits for below while
        // `f` is still borrowed.
        let job = Job(unsafe {
            std::mem::transmute::<
                *const (dyn Fn(usize) + Sync + '_),
                *const (dyn Fn(usize) + Sync + 'static),
            >(ptr)
        });
        {
            let mut s = self.shared.lock();
            s.job = Some(job);
            s.pending = self.workers.len();
            self.shared.pending.store(s.pending, Ordering::Relaxed);
            s.panicked = false;
            s.generation += 1;
            self.shared
                .generation
                .store(s.generation, Ordering::Release);
        }
        self.shared.work.notify_all();
        let mine = catch_unwind(AssertUnwindSafe(|| f(0)));
        // The workers' writes happen before their decrements of `pending` (under the lock, and
        // then this Release copy): the Acquire load, or the lock below, sees them.
        spin_until(|| self.shared.pending.load(Ordering::Acquire) == 0);
        let mut s = self.shared.lock();
        while s.pending > 0 {
            s = self
                .shared
                .done
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        s.job = None;
        let panicked = s.panicked;
        drop(s);
        if let Err(payload) = mine {
            std::panic::resume_unwind(payload);
        }
        assert!(!panicked, "a backprop worker thread panicked");
    }
}

fn worker(shared: &Shared, index: usize) {
    let mut seen = 0u64;
    loop {
        spin_until(|| shared.generation.load(Ordering::Acquire) != seen);
        let job = {
            let mut s = shared.lock();
            while s.generation == seen && !s.shutdown {
                s = shared.work.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            if s.shutdown {
                return;
            }
            seen = s.generation;
            s.job
        };
        let ok = match job {
            // SAFETY: `run` keeps the closure alive until this worker decrements `pending`.
            Some(Job(f)) => catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(index) })).is_ok(),
            None => true,
        };
        let mut s = shared.lock();
        s.panicked |= !ok;
        s.pending -= 1;
        shared.pending.store(s.pending, Ordering::Release);
        if s.pending == 0 {
            shared.done.notify_one();
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once_per_job() {
        let pool = ThreadPool::new(3).unwrap();
        assert_eq!(pool.threads(), 3);
        let hits: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..200 {
            pool.run(&|t| {
                hits[t].fetch_add(1, Ordering::Relaxed);
            });
        }
        for (t, h) in hits.iter().enumerate() {
            assert_eq!(h.load(Ordering::Relaxed), 200, "part {t}");
        }
    }

    /// A pointer the parts of a job write through, each to its own element.
    struct Out(*mut u64);
    // SAFETY: every part writes a different element, and `run` returns after all of them.
    unsafe impl Sync for Out {}
    impl Out {
        fn at(&self, t: usize) -> *mut u64 {
            self.0.wrapping_add(t)
        }
    }

    #[test]
    fn the_caller_sees_every_part_whether_it_and_the_worker_spin_or_sleep() {
        // A worker that ends its part within the caller's spin, and one that ends after it
        // (the caller sleeps); a next job that comes within the worker's spin, and one after
        // it (the worker sleeps). Every time the caller reads both parts' plain writes.
        let pool = ThreadPool::new(2).unwrap();
        for (late, pause) in [
            (Duration::ZERO, Duration::ZERO),
            (3 * SPIN, Duration::ZERO),
            (Duration::ZERO, 3 * SPIN),
        ] {
            for round in 0..20u64 {
                let mut out = [0u64; 2];
                let p = Out(out.as_mut_ptr());
                pool.run(&|t| {
                    if t == 1 {
                        std::thread::sleep(late);
                    }
                    // SAFETY: part t writes element t only.
                    unsafe { *p.at(t) = round * 2 + t as u64 + 1 };
                });
                assert_eq!(
                    out,
                    [round * 2 + 1, round * 2 + 2],
                    "late {late:?}, pause {pause:?}"
                );
                std::thread::sleep(pause);
            }
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_caller() {
        let pool = ThreadPool::new(2).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.run(&|t| {
                if t == 1 {
                    panic!("boom");
                }
            })
        }));
        assert!(r.is_err());
        // The pool still works afterwards.
        let n = AtomicUsize::new(0);
        pool.run(&|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }
}
