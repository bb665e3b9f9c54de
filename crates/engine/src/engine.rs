use crate::gang::{Each, Gang, Part, Task};
use crate::{EventQueue, Time};
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

/// A part of the simulated world that evolves on its own between barriers: a set of entities
/// and their pending events. Shards never see each other while they run.
pub trait Shard: Send + 'static {
    /// What an event carries (usually an entity index and what happens to it).
    type Event: Copy + Send + 'static;

    /// What every shard reads and none changes while events run (the scenario and the tables
    /// drawn from it). The engine holds one, lent to every shard: no copy per shard and no
    /// reference counting per event.
    type Context: Send + Sync + 'static;

    /// Handles one event at `now`; may schedule more, at `now` or later, in `queue`.
    fn handle(
        &mut self,
        ctx: &Self::Context,
        now: Time,
        event: Self::Event,
        queue: &mut EventQueue<Self::Event>,
    );

    /// Told of an event that will be handled soon (a few events ahead), so that the shard can
    /// ask the CPU to bring its entity's state into the cache while earlier events are handled:
    /// an entity's record is usually far in memory from the last one's, and waiting for it is
    /// most of an event's cost. Must not change anything the shard does (the default: nothing).
    #[inline]
    fn prefetch(&self, _event: &Self::Event) {}

    /// Called by [`Engine::advance_marked`] at each of its stops `t`, once every event before
    /// `t` is handled and before any at `t` or later: what a barrier at `t` would see of this
    /// shard, and what it could change in it, with no barrier. Returns whether the shard may
    /// go on past `t` in this call; `false` holds it at `t` until the caller has decided what
    /// happens there (the default: nothing, go on).
    fn mark(
        &mut self,
        _ctx: &Self::Context,
        _t: Time,
        _queue: &mut EventQueue<Self::Event>,
    ) -> bool {
        true
    }
}

/// The engine could not start its threads.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// A worker thread for the run.
    Worker(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Worker(e) => write!(f, "a worker thread did not start: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Worker(e) => Some(e),
        }
    }
}

/// How many events ahead of the one being handled [`Shard::prefetch`] is told of: far enough
/// for a memory read to finish meanwhile, near enough that the line is still cached.
const LOOKAHEAD: usize = 8;

/// Handles every event of `slot` due before `limit`, telling the shard of each event
/// [`LOOKAHEAD`] events before it is handled.
#[inline]
fn drain_before<S: Shard>(ctx: &S::Context, slot: &mut Slot<S>, limit: Time) -> u64 {
    let mut n = 0u64;
    while let Some((t, ev)) = slot.queue.pop_before(limit) {
        if let Some(next) = slot.queue.ahead(LOOKAHEAD - 1) {
            slot.shard.prefetch(next);
        }
        slot.shard.handle(ctx, t, ev, &mut slot.queue);
        n += 1;
    }
    n
}

/// Splits `0..n` into `parts` contiguous ranges of about equal work, where `work(x)` is the
/// work of the entities before `x` (non-decreasing, `work(0) == 0`): range `k` ends at the
/// first `x` where `work(x)` reaches `k + 1` parts of `work(n)`. For entities whose work
/// differs by kind (fleetsim's new Autopilot devices, after the existing ones, take more
/// than an existing device), so that no shard is left running alone. Which shard an entity
/// is in never changes a result, only the balance of the threads.
pub fn balanced_ranges(n: u32, parts: u32, work: impl Fn(u32) -> u64) -> Vec<Range<u32>> {
    let parts = parts.max(1);
    let total = u128::from(work(n));
    let mut start = 0;
    (1..=parts)
        .map(|k| {
            let target = (total * u128::from(k)).div_ceil(u128::from(parts));
            // The first x in start..=n with work(x) >= target.
            let (mut lo, mut hi) = (start, n);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if u128::from(work(mid)) >= target {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            let r = start..lo;
            start = lo;
            r
        })
        .collect()
}

/// Splits `0..n` into `parts` contiguous ranges whose sizes differ by at most one.
pub fn shard_ranges(n: u32, parts: u32) -> Vec<Range<u32>> {
    let parts = parts.max(1);
    let base = n / parts;
    let extra = n % parts;
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + u32::from(i < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

pub(crate) struct Slot<S: Shard> {
    shard: S,
    queue: EventQueue<S::Event>,
    /// Where the shard stands: its events before `at` are handled (and, after a marked run,
    /// its mark at `at` is made), none at `at` or later.
    at: Time,
}

impl<S: Shard> Part for Slot<S> {
    type Context = S::Context;

    fn run(&mut self, ctx: &S::Context, task: &Task<Self>, index: usize) -> u64 {
        match *task {
            Task::Each(ref f) => {
                f(index, ctx, self);
                0
            }
            Task::Drain { barrier } => {
                let n = drain_before(ctx, self, barrier);
                self.at = self.at.max(barrier);
                n
            }
            Task::Marked { barrier, step } => {
                let mut n = 0u64;
                let mut t = (self.at / step + 1) * step;
                while t <= barrier {
                    n += drain_before(ctx, self, t);
                    self.at = t;
                    if !self.shard.mark(ctx, t, &mut self.queue) {
                        break;
                    }
                    t += step;
                }
                n
            }
        }
    }
}

/// Owns the shards and their queues and advances them in parallel up to barriers.
///
/// Between two barriers every shard runs alone on some thread; which thread never matters,
/// because a shard only sees its own state and its own queue. At a barrier the caller gets all
/// shards back, in their fixed order, to read or change them.
pub struct Engine<S: Shard> {
    context: Arc<S::Context>,
    slots: Vec<Slot<S>>,
    /// For the run's hand-overs (`None` with one thread).
    gang: Option<Gang<Slot<S>>>,
    threads: usize,
    inline_events: usize,
    now: Time,
    events: u64,
    /// Per shard: events it handled in the last hand-over to the gang; the next one shares
    /// the shards out by them.
    weight: Vec<u64>,
    /// Per shard: the gang lane (thread) that ran it last, which runs it again where it can.
    owner: Vec<Option<usize>>,
}

impl<S: Shard> Engine<S> {
    /// Below this many events due before a barrier (in all shards), [`Engine::advance_to`]
    /// runs the shards on the calling thread by default: handing them to the other threads
    /// and back costs about as much as handling that many events.
    pub const INLINE_EVENTS: usize = 256;

    /// Changes the [`Engine::INLINE_EVENTS`] threshold (0: always use the pool when more than
    /// one shard has work). Never changes results, only which thread does the work.
    pub fn set_inline_events(&mut self, events: usize) {
        self.inline_events = events;
    }

    /// An engine over `shards` sharing `context`, run on `threads` worker threads (0: one per
    /// core).
    pub fn new(context: S::Context, shards: Vec<S>, threads: usize) -> Result<Self, StartError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = if threads == 0 { cores } else { threads };
        // The gang's workers spin between hand-overs: never more of them than the machine
        // has cores, or they would spin in each other's way (more threads than cores still
        // make more shards, and never change a result).
        let gang = if threads.min(cores) > 1 {
            Some(Gang::new(threads.min(cores) - 1).map_err(StartError::Worker)?)
        } else {
            None
        };
        let weight = vec![0; shards.len()];
        let owner = vec![None; shards.len()];
        Ok(Self {
            weight,
            owner,
            gang,
            context: Arc::new(context),
            threads,
            inline_events: Self::INLINE_EVENTS,
            slots: shards
                .into_iter()
                .map(|shard| Slot {
                    shard,
                    at: 0,
                    queue: EventQueue::default(),
                })
                .collect(),
            now: 0,
            events: 0,
        })
    }

    /// The context every shard reads.
    #[inline]
    pub fn context(&self) -> &S::Context {
        &self.context
    }

    /// The context, to change between events (at set-up or a barrier).
    pub fn context_mut(&mut self) -> &mut S::Context {
        Arc::get_mut(&mut self.context).expect("no worker holds the context between hand-overs")
    }

    /// Runs `f` on every shard and its queue in parallel (for set-up work such as generating
    /// entities and counting them), lending it the context, on the run's own threads (as
    /// [`Engine::each`]): the results come back in shard order. No second pool: every thread
    /// that allocates keeps an allocator arena, and memory left in the arenas of a pool's
    /// ended threads was not reused by the next run's (a second run of ten million devices in
    /// one process peaked 60 MiB higher).
    pub fn par_each<R: Send + 'static>(
        &mut self,
        f: impl Fn(usize, &S::Context, &mut S, &mut EventQueue<S::Event>) -> R + Send + Sync + 'static,
    ) -> Vec<R> {
        let out: Arc<Vec<Mutex<Option<R>>>> =
            Arc::new((0..self.slots.len()).map(|_| Mutex::new(None)).collect());
        let results = Arc::clone(&out);
        self.each(move |i, ctx, shard, q| {
            let r = f(i, ctx, shard, q);
            *results[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
        });
        out.iter()
            .map(|m| {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .expect("every shard ran")
            })
            .collect()
    }

    /// Runs `f` on every shard and its queue (with the shard's number), on the threads that
    /// run the events: for work that schedules many events, so that their memory comes from,
    /// and goes back to, the same threads' allocator arenas as the events the run schedules
    /// (with glibc, memory freed in one thread's arena is not reused by another's: 80 MiB on
    /// ten million devices when a separate pool scheduled the first events).
    pub fn each(
        &mut self,
        f: impl Fn(usize, &S::Context, &mut S, &mut EventQueue<S::Event>) + Send + Sync + 'static,
    ) {
        let each: Each<Slot<S>> = Arc::new(move |i, ctx: &S::Context, slot: &mut Slot<S>| {
            f(i, ctx, &mut slot.shard, &mut slot.queue)
        });
        self.on_gang(Task::Each(each), |_| true);
    }

    /// Handles, in every shard, every event due before `barrier`; then returns. Events that a
    /// handler schedules before `barrier` are handled in this call too.
    ///
    /// Crossing a barrier is cheap when there is little to do: the shards run on the calling
    /// thread, with no hand-over to the pool and back, when the pool has one thread, when at
    /// most one shard has an event due, or when fewer than [`Engine::INLINE_EVENTS`] (or the
    /// value of [`Engine::set_inline_events`]) events are due in all. Which thread runs a shard never changes its result.
    pub fn advance_to(&mut self, barrier: Time) {
        let mut busy = 0usize;
        let mut due = 0usize;
        if self.threads > 1 {
            for slot in &self.slots {
                if slot.queue.may_have_before(barrier) {
                    busy += 1;
                    due += slot.queue.due_before(barrier);
                }
            }
        }
        let task = Task::Drain { barrier };
        let handled = if self.threads <= 1 || busy <= 1 || due < self.inline_events {
            self.run_here(&task, |_| true)
        } else {
            self.on_gang(task, |_| true)
        };
        self.events += handled;
        self.now = self.now.max(barrier);
    }

    /// Moves every shard that stands at or before `ready` on towards `barrier`, handling its
    /// events and stopping it at every multiple `t` of `step` after where it stands to call
    /// its [`Shard::mark`] once its events before `t` are handled and before any at `t` or
    /// later: what a barrier at each `t` would see of that shard, and what it could change in
    /// it, with no barrier. A shard goes on until `barrier` or until its mark holds it at
    /// some `t` ([`Engine::now`] says where the furthest behind stands); shards standing
    /// after `ready` wait. The shards that move run in parallel (on the gang when more than one does).
    /// `barrier` must be a multiple of `step`.
    pub fn advance_marked(&mut self, barrier: Time, step: Time, ready: Time) {
        assert!(step > 0 && barrier % step == 0, "the span ends on a mark");
        let task = Task::Marked { barrier, step };
        let runs = |s: &Slot<S>| s.at <= ready && s.at < barrier;
        let busy = self.slots.iter().filter(|s| runs(s)).count();
        let handled = if self.threads <= 1 || busy <= 1 {
            self.run_here(&task, runs)
        } else {
            self.on_gang(task, runs)
        };
        self.events += handled;
        self.now = self.slots.iter().map(|s| s.at).min().unwrap_or(barrier);
    }

    /// Runs `task` on the shards that `runs` picks, one after the other on the calling thread,
    /// and returns the events handled.
    fn run_here(&mut self, task: &Task<Slot<S>>, runs: impl Fn(&Slot<S>) -> bool) -> u64 {
        let ctx = &*self.context;
        self.slots
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| runs(s))
            .map(|(i, slot)| slot.run(ctx, task, i))
            .sum()
    }

    /// Runs `task` on the shards that `runs` picks, on the gang's threads (the calling
    /// thread's among them), and returns the events handled. Each shard goes to the thread
    /// that ran it last (its memory is in that thread's allocator arena); the others go
    /// busiest first, by the events each handled the last time (the pending events the first
    /// time), to the least loaded thread; each thread takes its busiest first, then the
    /// lightest left to the others. Which thread runs a shard never changes its result.
    fn on_gang(&mut self, task: Task<Slot<S>>, runs: impl Fn(&Slot<S>) -> bool) -> u64 {
        let Some(gang) = self.gang.as_mut() else {
            return self.run_here(&task, runs);
        };
        if self.weight.iter().all(|w| *w == 0) {
            for (w, slot) in self.weight.iter_mut().zip(&self.slots) {
                *w = slot.queue.len() as u64;
            }
        }
        let mut parts = Vec::new();
        let mut stay = Vec::new();
        for (i, slot) in std::mem::take(&mut self.slots).into_iter().enumerate() {
            if runs(&slot) {
                parts.push((i, slot));
            } else {
                stay.push((i, slot, None));
            }
        }
        // Each shard to the thread that ran it last; then the others, busiest first, to the
        // lane with the least work so far. In each lane the busiest goes last: taken first.
        let lanes = gang.lanes().min(parts.len()).max(1);
        let owner = |i: usize| self.owner[i].filter(|k| *k < lanes);
        parts.sort_by_key(|(i, _)| (owner(*i).is_none(), std::cmp::Reverse(self.weight[*i]), *i));
        let mut lists: Vec<Vec<(usize, Slot<S>)>> = (0..lanes).map(|_| Vec::new()).collect();
        let mut load = vec![0u64; lanes];
        for (i, slot) in parts {
            let lane =
                owner(i).unwrap_or_else(|| (0..lanes).min_by_key(|k| (load[*k], *k)).unwrap_or(0));
            load[lane] += self.weight[i].max(1);
            lists[lane].push((i, slot));
        }
        for l in &mut lists {
            l.reverse();
        }
        // Work other than events says nothing of a shard's load.
        let weigh = !matches!(task, Task::Each(_));
        let back = gang.run(&self.context, task, lists);
        let mut all: Vec<(usize, Slot<S>, Option<u64>)> = Vec::with_capacity(self.weight.len());
        for (i, slot, n, lane) in back {
            self.owner[i] = Some(lane);
            all.push((i, slot, Some(n)));
        }
        all.extend(stay);
        all.sort_unstable_by_key(|(i, _, _)| *i);
        let mut handled = 0;
        for (i, slot, n) in all {
            if let (Some(n), true) = (n, weigh) {
                self.weight[i] = n;
                handled += n;
            }
            self.slots.push(slot);
        }
        handled
    }

    /// The last barrier reached (after [`Engine::advance_marked`]: where the shard furthest
    /// behind stands).
    #[inline]
    pub fn now(&self) -> Time {
        self.now
    }

    /// Events handled so far, over all shards.
    #[inline]
    pub fn events_handled(&self) -> u64 {
        self.events
    }

    /// The shards, in their fixed order.
    pub fn shards(&self) -> impl ExactSizeIterator<Item = &S> {
        self.slots.iter().map(|s| &s.shard)
    }

    /// The shards and their queues, in their fixed order, for changes at a barrier.
    pub fn shards_mut(
        &mut self,
    ) -> impl ExactSizeIterator<Item = (&mut S, &mut EventQueue<S::Event>)> {
        self.slots.iter_mut().map(|s| (&mut s.shard, &mut s.queue))
    }

    /// The context and the shards, for a barrier's work that reads the one and changes the
    /// others.
    pub fn split_mut(&mut self) -> (&S::Context, ShardsMut<'_, S>) {
        (&*self.context, ShardsMut(&mut self.slots))
    }

    /// Gives the shards back.
    pub fn into_shards(self) -> Vec<S> {
        self.into_parts().1
    }

    /// Gives the context and the shards back.
    pub fn into_parts(self) -> (S::Context, Vec<S>) {
        let Self {
            context,
            slots,
            gang,
            ..
        } = self;
        // Stop the workers first: then no one else holds the context.
        drop(gang);
        let context = Arc::try_unwrap(context)
            .unwrap_or_else(|_| panic!("no worker holds the context between hand-overs"));
        (context, slots.into_iter().map(|s| s.shard).collect())
    }
}

/// The shards and their queues, lent by [`Engine::split_mut`].
pub struct ShardsMut<'a, S: Shard>(&'a mut [Slot<S>]);

impl<S: Shard> ShardsMut<'_, S> {
    /// The shards and their queues, in their fixed order.
    pub fn iter_mut(
        &mut self,
    ) -> impl ExactSizeIterator<Item = (&mut S, &mut EventQueue<S::Event>)> {
        self.0.iter_mut().map(|s| (&mut s.shard, &mut s.queue))
    }

    /// Shard `i` and its queue.
    pub fn get_mut(&mut self, i: usize) -> (&mut S, &mut EventQueue<S::Event>) {
        let s = &mut self.0[i];
        (&mut s.shard, &mut s.queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Purpose, RandomStreams};

    /// A toy shard: entities that each tick a random number of times at random intervals,
    /// recording (entity, time) of every tick.
    struct Ticker {
        streams: RandomStreams,
        first: u32,
        count: Vec<u32>,
        log: Vec<(u32, Time)>,
    }

    impl Shard for Ticker {
        type Event = u32;
        type Context = ();
        fn handle(&mut self, _: &(), now: Time, local: u32, q: &mut EventQueue<u32>) {
            let id = self.first + local;
            let k = self.count[local as usize];
            self.count[local as usize] += 1;
            self.log.push((id, now));
            let d = self.streams.draw(id, Purpose(1), u64::from(k));
            if d % 4 != 0 {
                q.schedule(now + 1 + (d % 97) as u32, local);
            }
        }

        // A mark logs itself as entity u32::MAX.
        fn mark(&mut self, _: &(), t: Time, _: &mut EventQueue<u32>) -> bool {
            self.log.push((u32::MAX, t));
            true
        }
    }

    /// 1,000 tickers in `parts` shards on `threads` threads, each with its first event due.
    /// 1,000 tickers in `parts` shards, with no event yet.
    fn ticker_shards(parts: u32) -> Vec<Ticker> {
        shard_ranges(1000, parts)
            .into_iter()
            .map(|r| Ticker {
                streams: RandomStreams::new(5),
                first: r.start,
                count: vec![0; r.len()],
                log: vec![],
            })
            .collect()
    }

    /// Schedules each of the shard's tickers' first event.
    fn first_events(s: &Ticker, q: &mut EventQueue<u32>) {
        for i in 0..s.count.len() as u32 {
            q.schedule(s.streams.draw(s.first + i, Purpose(0), 0) as u32 % 50, i);
        }
    }

    fn tickers(threads: usize, parts: u32) -> Engine<Ticker> {
        let mut e = Engine::new((), ticker_shards(parts), threads).unwrap();
        e.par_each(|_, _, s, q| first_events(s, q));
        e
    }

    fn run(threads: usize, parts: u32, inline_events: usize) -> Vec<(u32, Time)> {
        let mut e = tickers(threads, parts);
        e.set_inline_events(inline_events);
        for b in (100..=1000).step_by(100) {
            e.advance_to(b);
        }
        let mut log: Vec<_> = e.into_shards().into_iter().flat_map(|s| s.log).collect();
        log.sort_unstable();
        log
    }

    #[test]
    fn results_do_not_depend_on_threads_or_shards() {
        let reference = run(1, 1, 0);
        assert!(reference.len() > 1000);
        for (threads, parts, inline) in [(2, 2, 0), (4, 7, 0), (8, 64, 0), (2, 7, 500)] {
            assert_eq!(
                run(threads, parts, inline),
                reference,
                "threads={threads} parts={parts}"
            );
        }
    }

    #[test]
    fn marked_spans_handle_the_same_events_and_stop_at_every_instant() {
        let reference = run(1, 1, 0);
        for (threads, parts) in [(1, 3), (2, 7)] {
            let mut e = tickers(threads, parts);
            // A mark must come after every event before it and before every event at or
            // after it.
            e.advance_marked(500, 100, 500);
            e.advance_marked(1000, 100, 1000);
            assert_eq!(e.now(), 1000);
            let mut log = vec![];
            for s in e.into_shards() {
                let marks: Vec<Time> = s
                    .log
                    .iter()
                    .filter(|(id, _)| *id == u32::MAX)
                    .map(|(_, t)| *t)
                    .collect();
                assert_eq!(marks, (100..=1000).step_by(100).collect::<Vec<_>>());
                let mut last_mark = 0;
                for &(id, t) in &s.log {
                    if id == u32::MAX {
                        last_mark = t;
                    } else {
                        assert!(
                            t >= last_mark && t < last_mark + 100,
                            "{t} after {last_mark}"
                        );
                    }
                }
                log.extend(s.log.into_iter().filter(|(id, _)| *id != u32::MAX));
            }
            log.sort_unstable();
            assert_eq!(log, reference, "threads={threads} parts={parts}");
        }
    }

    #[test]
    fn marks_that_hold_a_shard_keep_it_where_it_stands_until_the_caller_moves_on() {
        /// A ticker that holds itself at every instant whose number of its ticks since the
        /// last is odd, and logs where it stood whenever it moves.
        struct Holder(Ticker, usize);
        impl Shard for Holder {
            type Event = u32;
            type Context = ();
            fn handle(&mut self, c: &(), now: Time, local: u32, q: &mut EventQueue<u32>) {
                self.0.handle(c, now, local, q);
            }
            fn mark(&mut self, _: &(), t: Time, _: &mut EventQueue<u32>) -> bool {
                let ticks = self.0.log.len() - self.1;
                self.1 = self.0.log.len();
                self.0.log.push((u32::MAX, t));
                ticks % 2 == 0
            }
        }
        let reference = run(1, 1, 0);
        for threads in [1, 2, 3] {
            let holders = ticker_shards(7).into_iter().map(|t| Holder(t, 0)).collect();
            let mut e = Engine::new((), holders, threads).unwrap();
            e.par_each(|_, _, s, q| first_events(&s.0, q));
            let mut decided = 0;
            let mut rounds = 0;
            while decided < 1000 {
                e.advance_marked(1000, 100, decided);
                assert!(
                    e.now() > decided,
                    "every round moves the shards furthest behind"
                );
                decided = e.now();
                rounds += 1;
            }
            assert!(rounds > 1, "some shard held itself");
            let mut log = vec![];
            for s in e.into_shards() {
                let marks: Vec<Time> =
                    s.0.log
                        .iter()
                        .filter(|(id, _)| *id == u32::MAX)
                        .map(|(_, t)| *t)
                        .collect();
                assert_eq!(
                    marks,
                    (100..=1000).step_by(100).collect::<Vec<_>>(),
                    "one mark per instant"
                );
                log.extend(s.0.log.into_iter().filter(|(id, _)| *id != u32::MAX));
            }
            log.sort_unstable();
            assert_eq!(log, reference, "threads={threads}");
        }
    }

    #[test]
    fn each_runs_on_every_shard_once_with_its_number() {
        let reference = run(1, 1, 0);
        for threads in [1, 2, 3] {
            let mut e = Engine::new((), ticker_shards(7), threads).unwrap();
            // The first events scheduled on the run's threads, as `tickers` does on the pool;
            // each shard notes its number.
            e.each(move |i, _, s, q| {
                s.log.push((u32::MAX, i as Time));
                first_events(s, q);
            });
            for b in (100..=1000).step_by(100) {
                e.advance_to(b);
            }
            let mut log = vec![];
            for (i, s) in e.into_shards().into_iter().enumerate() {
                assert_eq!(s.log[0], (u32::MAX, i as Time), "shard {i} ran once, first");
                log.extend(s.log.into_iter().skip(1));
            }
            log.sort_unstable();
            assert_eq!(log, reference, "threads={threads}");
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        /// Panics at its first event: the worker that runs it must pass the panic on, not
        /// leave the engine waiting.
        struct Bomb;
        impl Shard for Bomb {
            type Event = ();
            type Context = ();
            fn handle(&mut self, _: &(), _: Time, _: (), _: &mut EventQueue<()>) {
                panic!("bomb");
            }
        }
        let mut e = Engine::new((), (0..8).map(|_| Bomb).collect(), 2).unwrap();
        e.set_inline_events(0);
        e.par_each(|_, _, _, q| q.schedule(5, ()));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| e.advance_to(10)));
        let msg = r.expect_err("the shards' panic comes back");
        assert_eq!(msg.downcast_ref::<&str>(), Some(&"bomb"));
    }

    #[test]
    fn shard_ranges_cover_everything_once() {
        let r = shard_ranges(10, 3);
        assert_eq!(r, vec![0..4, 4..7, 7..10]);
        assert_eq!(shard_ranges(2, 4), vec![0..1, 1..2, 2..2, 2..2]);
    }

    #[test]
    fn balanced_ranges_share_the_work() {
        // Equal work: equal sizes.
        assert_eq!(balanced_ranges(10, 2, u64::from), vec![0..5, 5..10]);
        // The last 10 of 30 take three times as much: 20 + 30 = 50, halves of 25.
        let work = |x: u32| u64::from(x.min(20)) + 3 * u64::from(x.saturating_sub(20));
        let r = balanced_ranges(30, 2, work);
        assert_eq!(r, vec![0..22, 22..30]);
        // Every entity once, in order, for any count of parts.
        for parts in 1..40 {
            let r = balanced_ranges(30, parts, work);
            assert_eq!(r.len(), parts as usize);
            assert_eq!(r[0].start, 0);
            assert_eq!(r.last().unwrap().end, 30);
            assert!(r.windows(2).all(|w| w[0].end == w[1].start));
        }
        assert_eq!(balanced_ranges(0, 3, u64::from), vec![0..0, 0..0, 0..0]);
    }
}
