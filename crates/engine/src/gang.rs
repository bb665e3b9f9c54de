//! The gang: worker threads that stay awake between barriers.
//!
//! A barrier every 15 simulated minutes hands the shards to the other threads and back tens of
//! thousands of times a run. A thread pool that puts its threads to sleep when they run out of
//! work pays for waking them at every hand-over: measured on the 2-core virtual machine this
//! project is built on, about 40 µs for a rayon pool whose threads fell asleep during a few
//! microseconds of serial work, against 2 to 3 µs for a thread that spins. So the engine keeps
//! its own workers for the run's hand-overs: each waits for the next job spinning (with
//! `crossbeam_utils::Backoff`, then yielding), and only parks after [`SPIN`] without one (as
//! when the run is being set up or written out), to be woken by the next job.
//!
//! A job moves the shards it runs to the worker and back (a shard's state is on the heap: a
//! move is a few hundred bytes), so no shard is ever shared between threads and nothing needs
//! a lock while it runs. Which worker runs which shard changes nothing in the result.

use crate::Time;
use crossbeam_utils::Backoff;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a worker spins for the next job before it parks.
const SPIN: Duration = Duration::from_millis(2);

/// What a worker does with the shards it is given (`T`: the engine's shard slot).
pub(crate) trait Part: Send + 'static {
    /// The data every shard reads.
    type Context: Send + Sync + 'static;
    /// Runs `task` on this shard; returns the events handled.
    fn run(&mut self, ctx: &Self::Context, task: Task) -> u64;
}

/// One hand-over's work for every shard.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Task {
    /// Handle every event before the barrier.
    Drain { barrier: Time },
    /// Handle every event before the barrier, stopping at each multiple of `step` after
    /// where the shard stands for its mark (which may hold it there).
    Marked { barrier: Time, step: Time },
}

/// A worker's share of a job: the shards (with their index) and what to do.
struct Job<P: Part> {
    parts: Vec<(usize, P)>,
    ctx: Arc<P::Context>,
    task: Task,
}

/// The shards back, with the events each handled; or the panic that stopped the worker.
type Done<P> = Result<Vec<(usize, P, u64)>, Box<dyn Any + Send>>;

/// What the engine and one worker share.
struct Mailbox<P: Part> {
    /// Jobs posted so far (the worker runs job `posted` once it differs from the last it ran).
    posted: AtomicU64,
    /// The last job the worker finished.
    finished: AtomicU64,
    /// The worker is parked (or about to): the engine must unpark it.
    parked: AtomicBool,
    stop: AtomicBool,
    job: Mutex<Option<Job<P>>>,
    done: Mutex<Option<Done<P>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker's panic is caught and passed on whole: a poisoned box holds nothing half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs a share of a job.
fn run_share<P: Part>(job: Job<P>) -> Vec<(usize, P, u64)> {
    let Job { parts, ctx, task } = job;
    parts
        .into_iter()
        .map(|(i, mut p)| {
            let n = p.run(&ctx, task);
            (i, p, n)
        })
        .collect()
}

fn worker<P: Part>(mb: Arc<Mailbox<P>>) {
    let mut seen = 0u64;
    loop {
        let backoff = Backoff::new();
        let mut idle_since = None;
        loop {
            if mb.stop.load(Ordering::SeqCst) {
                return;
            }
            let posted = mb.posted.load(Ordering::SeqCst);
            if posted != seen {
                seen = posted;
                break;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() < SPIN {
                std::thread::yield_now();
                continue;
            }
            // Park, telling the engine first; look again after, so that a job posted in
            // between is not missed (the engine reads `parked` after posting).
            mb.parked.store(true, Ordering::SeqCst);
            if mb.posted.load(Ordering::SeqCst) == seen && !mb.stop.load(Ordering::SeqCst) {
                std::thread::park_timeout(Duration::from_millis(100));
            }
            mb.parked.store(false, Ordering::SeqCst);
        }
        let job = lock(&mb.job).take();
        if let Some(job) = job {
            let done = catch_unwind(AssertUnwindSafe(|| run_share(job)));
            *lock(&mb.done) = Some(done);
        }
        mb.finished.store(seen, Ordering::SeqCst);
    }
}

/// The engine's workers (one fewer than its threads: the calling thread takes a share too).
pub(crate) struct Gang<P: Part> {
    workers: Vec<(Arc<Mailbox<P>>, JoinHandle<()>)>,
    jobs: u64,
}

impl<P: Part> Gang<P> {
    /// Starts `workers` threads.
    pub(crate) fn new(workers: usize) -> std::io::Result<Self> {
        let mut w = Vec::with_capacity(workers);
        for k in 0..workers {
            let mb = Arc::new(Mailbox {
                posted: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                parked: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                job: Mutex::new(None),
                done: Mutex::new(None),
            });
            let theirs = Arc::clone(&mb);
            let handle = std::thread::Builder::new()
                .name(format!("fleetsim-gang-{k}"))
                .spawn(move || worker(theirs))?;
            w.push((mb, handle));
        }
        Ok(Self {
            workers: w,
            jobs: 0,
        })
    }

    /// Runs `task` on `parts` (shards with their index), split into one share per thread (the
    /// calling thread's first) by `shares`, and gives them back with the events each handled,
    /// in the order of the shares. Panics with a worker's panic, if one panicked.
    pub(crate) fn run(
        &mut self,
        ctx: &Arc<P::Context>,
        task: Task,
        shares: Vec<Vec<(usize, P)>>,
    ) -> Vec<(usize, P, u64)> {
        debug_assert_eq!(shares.len(), self.workers.len() + 1);
        self.jobs += 1;
        let mut shares = shares.into_iter();
        let mine = shares.next().unwrap_or_default();
        for ((mb, handle), parts) in self.workers.iter().zip(shares) {
            *lock(&mb.job) = Some(Job {
                parts,
                ctx: Arc::clone(ctx),
                task,
            });
            mb.posted.store(self.jobs, Ordering::SeqCst);
            if mb.parked.load(Ordering::SeqCst) {
                handle.thread().unpark();
            }
        }
        let mut out = run_share(Job {
            parts: mine,
            ctx: Arc::clone(ctx),
            task,
        });
        let mut panic = None;
        for (mb, _) in &self.workers {
            let backoff = Backoff::new();
            while mb.finished.load(Ordering::SeqCst) != self.jobs {
                backoff.snooze();
            }
            match lock(&mb.done).take() {
                Some(Ok(parts)) => out.extend(parts),
                Some(Err(p)) => panic = Some(p),
                None => {}
            }
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
        out
    }
}

impl<P: Part> Drop for Gang<P> {
    fn drop(&mut self) {
        for (mb, handle) in &self.workers {
            mb.stop.store(true, Ordering::SeqCst);
            handle.thread().unpark();
        }
        for (_, handle) in self.workers.drain(..) {
            // A worker never panics outside a job (a job's panic is caught and passed on).
            let _ = handle.join();
        }
    }
}
