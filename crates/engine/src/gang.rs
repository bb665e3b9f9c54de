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
//! A job gives each thread (the calling one too: lane 0; worker `k`: lane `k + 1`) a list of
//! shards, the busiest taken first; a thread runs its own list, then takes the lightest shards
//! left in the others' lists, so a thread that drew short runs takes more. The engine gives a
//! shard to the thread that ran it last: its events' memory came from that thread's allocator
//! arena, and memory freed into another thread's arena costs that arena's lock (measured: a
//! shard run by another thread than the one that scheduled its first events took 10% longer).
//! A shard moves to its thread and back (its state is on the heap: a move is a few hundred
//! bytes), so no shard is ever shared between threads and nothing needs a lock while it runs.
//! Which thread runs which shard changes nothing in the result.

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
pub(crate) trait Part: Sized + Send + 'static {
    /// The data every shard reads.
    type Context: Send + Sync + 'static;
    /// Runs `task` on this shard (number `index`); returns the events handled.
    fn run(&mut self, ctx: &Self::Context, task: &Task<Self>, index: usize) -> u64;
}

/// Work done on every shard of a hand-over, by its index and the context.
pub(crate) type Each<P> = Arc<dyn Fn(usize, &<P as Part>::Context, &mut P) + Send + Sync>;

/// One hand-over's work for every shard.
pub(crate) enum Task<P: Part> {
    /// Handle every event before the barrier.
    Drain { barrier: Time },
    /// Handle every event before the barrier, stopping at each multiple of `step` after
    /// where the shard stands for its mark (which may hold it there).
    Marked { barrier: Time, step: Time },
    /// Call this on each shard.
    Each(Each<P>),
}

/// One hand-over: per lane, the shards (with their index) still to run, the last to be taken
/// first by its own thread, the first by another; the shards run (with the events each
/// handled and the lane that ran it); and what to do.
struct Job<P: Part> {
    todo: Vec<Mutex<Vec<(usize, P)>>>,
    done: Mutex<Vec<Ran<P>>>,
    ctx: Arc<P::Context>,
    task: Task<P>,
}

/// How a worker's part of a job ended: the panic that stopped it, if one did.
type Done = Result<(), Box<dyn Any + Send>>;

/// What the engine and one worker share.
struct Mailbox<P: Part> {
    /// Jobs posted so far (the worker runs job `posted` once it differs from the last it ran).
    posted: AtomicU64,
    /// The last job the worker finished.
    finished: AtomicU64,
    /// The worker is parked (or about to): the engine must unpark it.
    parked: AtomicBool,
    stop: AtomicBool,
    job: Mutex<Option<Arc<Job<P>>>>,
    done: Mutex<Option<Done>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker's panic is caught and passed on whole: a poisoned box holds nothing half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A shard after a hand-over: its index, itself, the events it handled and the lane that ran
/// it.
pub(crate) type Ran<P> = (usize, P, u64, usize);

/// Runs lane `me`'s shards of the job, then the others' until none is left.
fn take_and_run<P: Part>(job: &Job<P>, me: usize) {
    let lanes = job.todo.len();
    loop {
        let own = lock(&job.todo[me]).pop();
        let next = own.or_else(|| {
            (1..lanes).find_map(|k| {
                let mut other = lock(&job.todo[(me + k) % lanes]);
                (!other.is_empty()).then(|| other.remove(0))
            })
        });
        let Some((i, mut p)) = next else {
            return;
        };
        let n = p.run(&job.ctx, &job.task, i);
        lock(&job.done).push((i, p, n, me));
    }
}

fn worker<P: Part>(mb: Arc<Mailbox<P>>, lane: usize) {
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
            let done = catch_unwind(AssertUnwindSafe(|| take_and_run(&job, lane)));
            // Let go of the job (and so of the context) before saying it is done.
            drop(job);
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
                .spawn(move || worker(theirs, k + 1))?;
            w.push((mb, handle));
        }
        Ok(Self {
            workers: w,
            jobs: 0,
        })
    }

    /// Lanes a job can use: the calling thread's and one per worker.
    pub(crate) fn lanes(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `task` on the shards (with their index) of `lanes`, at most [`Gang::lanes`]
    /// lists: lane 0 on the calling thread, lane `k` on worker `k - 1`, each taking its own
    /// list from the end (put the busiest last), then the others' from the front. Gives the
    /// shards back with the events each handled and the lane that ran it, in no particular
    /// order. Panics with a worker's panic, if one panicked.
    pub(crate) fn run(
        &mut self,
        ctx: &Arc<P::Context>,
        task: Task<P>,
        lanes: Vec<Vec<(usize, P)>>,
    ) -> Vec<Ran<P>> {
        assert!(
            (1..=self.lanes()).contains(&lanes.len()),
            "one lane per thread at most"
        );
        self.jobs += 1;
        let n = lanes.iter().map(Vec::len).sum();
        let helpers = lanes.len() - 1;
        let job = Arc::new(Job {
            todo: lanes.into_iter().map(Mutex::new).collect(),
            done: Mutex::new(Vec::with_capacity(n)),
            ctx: Arc::clone(ctx),
            task,
        });
        for (mb, handle) in &self.workers[..helpers] {
            *lock(&mb.job) = Some(Arc::clone(&job));
            mb.posted.store(self.jobs, Ordering::SeqCst);
            if mb.parked.load(Ordering::SeqCst) {
                handle.thread().unpark();
            }
        }
        let mut panic = catch_unwind(AssertUnwindSafe(|| take_and_run(&job, 0))).err();
        for (mb, _) in &self.workers[..helpers] {
            let backoff = Backoff::new();
            while mb.finished.load(Ordering::SeqCst) != self.jobs {
                backoff.snooze();
            }
            if let Some(Err(p)) = lock(&mb.done).take() {
                panic = Some(p);
            }
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
        match Arc::try_unwrap(job) {
            Ok(job) => job
                .done
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            Err(_) => unreachable!("every worker lets go of the job before it says it is done"),
        }
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
