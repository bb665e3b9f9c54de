use crate::{EventQueue, Time};
use rayon::prelude::*;
use std::ops::Range;

/// A part of the simulated world that evolves on its own between barriers: a set of entities
/// and their pending events. Shards never see each other while they run.
pub trait Shard: Send {
    /// What an event carries (usually an entity index and what happens to it).
    type Event: Copy + Send;

    /// Handles one event at `now`; may schedule more, at `now` or later, in `queue`.
    fn handle(&mut self, now: Time, event: Self::Event, queue: &mut EventQueue<Self::Event>);
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

struct Slot<S: Shard> {
    shard: S,
    queue: EventQueue<S::Event>,
}

/// Owns the shards and their queues and advances them in parallel up to barriers.
///
/// Between two barriers every shard runs alone on some thread; which thread never matters,
/// because a shard only sees its own state and its own queue. At a barrier the caller gets all
/// shards back, in their fixed order, to read or change them.
pub struct Engine<S: Shard> {
    slots: Vec<Slot<S>>,
    pool: rayon::ThreadPool,
    now: Time,
    events: u64,
}

impl<S: Shard> Engine<S> {
    /// An engine over `shards`, run on `threads` worker threads (0: one per core).
    pub fn new(shards: Vec<S>, threads: usize) -> Result<Self, rayon::ThreadPoolBuildError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()?;
        Ok(Self {
            slots: shards
                .into_iter()
                .map(|shard| Slot {
                    shard,
                    queue: EventQueue::default(),
                })
                .collect(),
            pool,
            now: 0,
            events: 0,
        })
    }

    /// Runs `f` on every shard and its queue in parallel (for set-up work such as generating
    /// entities and scheduling their first events). The results come back in shard order.
    pub fn par_each<R: Send>(
        &mut self,
        f: impl Fn(usize, &mut S, &mut EventQueue<S::Event>) -> R + Sync + Send,
    ) -> Vec<R> {
        let slots = &mut self.slots;
        self.pool.install(|| {
            slots
                .par_iter_mut()
                .enumerate()
                .map(|(i, s)| f(i, &mut s.shard, &mut s.queue))
                .collect()
        })
    }

    /// Handles, in every shard, every event due before `barrier`; then returns. Events that a
    /// handler schedules before `barrier` are handled in this call too.
    pub fn advance_to(&mut self, barrier: Time) {
        let slots = &mut self.slots;
        let handled: u64 = self.pool.install(|| {
            slots
                .par_iter_mut()
                .map(|slot| {
                    let mut n = 0u64;
                    while let Some((t, ev)) = slot.queue.pop_before(barrier) {
                        slot.shard.handle(t, ev, &mut slot.queue);
                        n += 1;
                    }
                    n
                })
                .sum()
        });
        self.events += handled;
        self.now = self.now.max(barrier);
    }

    /// The last barrier reached.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Events handled so far, over all shards.
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

    /// One shard and its queue, for changes at a barrier.
    pub fn shard_mut(&mut self, i: usize) -> (&mut S, &mut EventQueue<S::Event>) {
        let s = &mut self.slots[i];
        (&mut s.shard, &mut s.queue)
    }

    /// Gives the shards back.
    pub fn into_shards(self) -> Vec<S> {
        self.slots.into_iter().map(|s| s.shard).collect()
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
        fn handle(&mut self, now: Time, local: u32, q: &mut EventQueue<u32>) {
            let id = self.first + local;
            let k = self.count[local as usize];
            self.count[local as usize] += 1;
            self.log.push((id, now));
            let d = self.streams.draw(id, Purpose(1), u64::from(k));
            if d % 4 != 0 {
                q.schedule(now + 1 + (d % 97) as u32, local);
            }
        }
    }

    fn run(threads: usize, parts: u32) -> Vec<(u32, Time)> {
        let streams = RandomStreams::new(5);
        let shards = shard_ranges(1000, parts)
            .into_iter()
            .map(|r| Ticker {
                streams,
                first: r.start,
                count: vec![0; r.len()],
                log: vec![],
            })
            .collect();
        let mut e = Engine::new(shards, threads).unwrap();
        e.par_each(|_, s, q| {
            for i in 0..s.count.len() as u32 {
                q.schedule(streams.draw(s.first + i, Purpose(0), 0) as u32 % 50, i);
            }
        });
        for b in (100..=1000).step_by(100) {
            e.advance_to(b);
        }
        let mut log: Vec<_> = e.into_shards().into_iter().flat_map(|s| s.log).collect();
        log.sort_unstable();
        log
    }

    #[test]
    fn results_do_not_depend_on_threads_or_shards() {
        let reference = run(1, 1);
        assert!(reference.len() > 1000);
        for (threads, parts) in [(2, 2), (4, 7), (8, 64)] {
            assert_eq!(
                run(threads, parts),
                reference,
                "threads={threads} parts={parts}"
            );
        }
    }

    #[test]
    fn shard_ranges_cover_everything_once() {
        let r = shard_ranges(10, 3);
        assert_eq!(r, vec![0..4, 4..7, 7..10]);
        assert_eq!(shard_ranges(2, 4), vec![0..1, 1..2, 2..2, 2..2]);
    }
}
