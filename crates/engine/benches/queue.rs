//! `cargo bench -p fleetsim-engine`: the event queue under a fleetsim-like load, against a
//! binary heap of `(time, seq)` (what the queue replaced) doing the same work.
//!
//! The load: 100,000 entities with one pending event each; every pop schedules the entity's
//! next event, 70% of them within the hour, 25% within a day and 5% up to 30 days ahead (minute
//! ticks), popped up to barriers every 15 minutes, as fleetsim's engine does.

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use fleetsim_engine::{EventQueue, Time};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

const ENTITIES: u32 = 100_000;
const POPS: u64 = 1_000_000;
const BARRIER: Time = 15;

/// A small deterministic generator (xorshift64*), so both queues see the same delays.
struct Delays(u64);

impl Delays {
    fn next(&mut self) -> Time {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32;
        let span = match x % 100 {
            0..70 => 60,
            70..95 => 1_440,
            _ => 43_200,
        };
        (x >> 8) as Time % span
    }
}

/// A queue as the load drives it.
trait Queue {
    fn push(&mut self, t: Time, e: u32);
    fn pop_before(&mut self, limit: Time) -> Option<(Time, u32)>;
}

impl Queue for EventQueue<u32> {
    fn push(&mut self, t: Time, e: u32) {
        self.schedule(t, e);
    }
    fn pop_before(&mut self, limit: Time) -> Option<(Time, u32)> {
        EventQueue::pop_before(self, limit)
    }
}

/// The binary heap the queue replaced, with its `(time, seq)` order.
#[derive(Default)]
struct Heap {
    heap: BinaryHeap<Reverse<(Time, u64, u32)>>,
    seq: u64,
}

impl Queue for Heap {
    fn push(&mut self, t: Time, e: u32) {
        self.heap.push(Reverse((t, self.seq, e)));
        self.seq += 1;
    }
    fn pop_before(&mut self, limit: Time) -> Option<(Time, u32)> {
        if self.heap.peek()?.0.0 < limit {
            self.heap.pop().map(|Reverse((t, _, e))| (t, e))
        } else {
            None
        }
    }
}

fn filled<Q: Queue>(mut q: Q) -> Q {
    let mut d = Delays(0x9e37_79b9_7f4a_7c15);
    for e in 0..ENTITIES {
        q.push(d.next(), e);
    }
    q
}

/// Pops `POPS` events in barrier steps, each scheduling its entity's next event.
fn drive<Q: Queue>(q: &mut Q) -> u64 {
    let mut d = Delays(0x2545_f491_4f6c_dd1d);
    let mut barrier = BARRIER;
    let mut n = 0;
    let mut check = 0u64;
    while n < POPS {
        while let Some((t, e)) = q.pop_before(barrier) {
            check = check.wrapping_add(u64::from(t) ^ u64::from(e));
            q.push(t + d.next(), e);
            n += 1;
        }
        barrier += BARRIER;
    }
    check
}

fn queue(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue");
    g.throughput(Throughput::Elements(POPS));
    g.sample_size(10);
    g.bench_function("timing wheel: 1M pop+schedule, 100k pending", |b| {
        b.iter_batched_ref(
            || filled(EventQueue::<u32>::default()),
            |q| black_box(drive(q)),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("binary heap: 1M pop+schedule, 100k pending", |b| {
        b.iter_batched_ref(
            || filled(Heap::default()),
            |q| black_box(drive(q)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, queue);
criterion_main!(benches);
