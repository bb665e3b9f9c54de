//! The event queue: a two-level timing wheel made for an integer clock.
//!
//! Events are kept by minute (tick) rather than in a comparison heap:
//!
//! - the *current block* of [`WIDTH`] consecutive ticks has one FIFO bucket per tick, and a
//!   bitmap of the buckets that hold anything, so the earliest event is found with a few word
//!   scans and popped in O(1);
//! - events of later blocks wait, unsorted, in one list per block (`later`, keyed by block);
//!   when the current block runs empty the earliest later block becomes current and its list is
//!   dealt into the buckets, in the order the events were scheduled;
//! - events scheduled before the current block (in the past of what was already popped, which
//!   fleetsim never does but the contract allows) go to a small binary heap that is always
//!   served first, since its times are all earlier than anything in the wheel.
//!
//! The pop order is exactly the order of `(time, seq)`, `seq` being the order of scheduling,
//! the same order a binary heap of `(time, seq)` gives: every bucket holds one time, and its
//! events arrive in scheduling order, because a block's list is dealt out (in scheduling order)
//! before anything can be scheduled into that block directly. No sequence number is stored per
//! event except in the rare "past" heap: an event costs `size_of::<E>()` bytes in a bucket and
//! `2 + size_of::<E>()` in a later block's list (fleetsim's events: 8 and 10 bytes, where the
//! binary heap took 24). Emptied buckets and dealt lists give their memory back, so the
//! queue's memory follows the pending events, not the busiest minute of the run.

use crate::Time;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// log2 of the ticks per block.
const BITS: u32 = 12;
/// Ticks per block (4,096 minutes: 2.8 days when a tick is a minute).
const WIDTH: usize = 1 << BITS;
/// 64-bit words of the occupancy bitmap.
const WORDS: usize = WIDTH / 64;
/// A bucket emptied with room for more events than this gives its memory back, so that a busy
/// minute does not hold memory for the rest of the run.
const KEEP: usize = 32;
/// Entries per chunk of a later block's list (a power of two).
const CHUNK: usize = 1 << 12;

/// The events of one later block, in scheduling order, as their offsets in the block and the
/// events themselves in two arrays (no padding: `2 + size_of::<E>()` bytes an event), in chunks
/// of at most [`CHUNK`] events: a list wastes at most part of one chunk, where one growing
/// vector could waste half.
#[derive(Debug)]
struct Later<E> {
    chunks: Vec<Chunk<E>>,
}

/// Part of a [`Later`] list.
#[derive(Debug)]
struct Chunk<E> {
    offsets: Vec<u16>,
    events: Vec<E>,
}

impl<E> Later<E> {
    fn push(&mut self, offset: u16, event: E) {
        match self.chunks.last_mut() {
            Some(c) if c.events.len() < CHUNK => {
                c.offsets.push(offset);
                c.events.push(event);
            }
            last => {
                // The first chunk grows from nothing (doubling up to CHUNK); later ones are
                // made whole at once.
                let n = if last.is_some() { CHUNK } else { 1 };
                let mut c = Chunk {
                    offsets: Vec::with_capacity(n),
                    events: Vec::with_capacity(n),
                };
                c.offsets.push(offset);
                c.events.push(event);
                self.chunks.push(c);
            }
        }
    }

    fn offsets(&self) -> impl Iterator<Item = u16> + '_ {
        self.chunks.iter().flat_map(|c| c.offsets.iter().copied())
    }
}

/// An event scheduled before the current block, ordered so that a max-heap pops the earliest
/// `(time, seq)` first.
#[derive(Clone, Copy, Debug)]
struct Past<E> {
    time: Time,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Past<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Past<E> {}
impl<E> PartialOrd for Past<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Past<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the smallest (time, seq) on top.
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// A priority queue of events with a total order: earliest time first, and among events at the
/// same time, the one scheduled first. Two runs that schedule the same events in the same order
/// pop them in the same order.
///
/// Made for an integer clock: scheduling and popping cost O(1) plus a scan of a small bitmap,
/// whatever the number of pending events (see the module's notes).
#[derive(Debug)]
pub struct EventQueue<E> {
    /// One bucket per tick of the current block, each in scheduling order (empty until the
    /// first event is scheduled).
    buckets: Vec<Vec<E>>,
    /// Which buckets of the current block hold an event.
    occupied: [u64; WORDS],
    /// The current block: ticks `block << BITS ..` the next block.
    block: u32,
    /// No bucket before this offset holds an event.
    cur: usize,
    /// Events of bucket `cur` already popped (they are still at its front).
    head: usize,
    /// Events of blocks after the current one, by block, in scheduling order.
    later: BTreeMap<u32, Later<E>>,
    /// Events scheduled before the current block.
    past: BinaryHeap<Past<E>>,
    /// Scheduling order of the next event that goes to `past`.
    next_seq: u64,
    /// Pending events.
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self {
            buckets: Vec::new(),
            occupied: [0; WORDS],
            block: 0,
            cur: 0,
            head: 0,
            later: BTreeMap::new(),
            past: BinaryHeap::new(),
            next_seq: 0,
            len: 0,
        }
    }
}

impl<E: Copy> EventQueue<E> {
    /// An empty queue. `capacity` is a hint of how many events will be pending at once; the
    /// queue grows by itself, so the hint only saves a few early reallocations.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut q = Self::default();
        q.past.reserve(capacity.min(64));
        q
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn schedule(&mut self, time: Time, event: E) {
        self.len += 1;
        let block = time >> BITS;
        if block == self.block {
            let o = (time as usize) & (WIDTH - 1);
            if o < self.cur {
                self.rewind(o);
            }
            if self.buckets.is_empty() {
                self.buckets = (0..WIDTH).map(|_| Vec::new()).collect();
            }
            self.buckets[o].push(event);
            self.occupied[o / 64] |= 1 << (o % 64);
        } else if block > self.block {
            self.later
                .entry(block)
                .or_insert_with(|| Later { chunks: Vec::new() })
                .push((time as usize & (WIDTH - 1)) as u16, event);
        } else {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.past.push(Past { time, seq, event });
        }
    }

    /// Moves the scan start back to offset `o` of the current block, first dropping the popped
    /// front of the bucket at the old start.
    #[cold]
    fn rewind(&mut self, o: usize) {
        if self.head > 0 {
            self.buckets[self.cur].drain(..self.head);
            self.head = 0;
        }
        self.cur = o;
    }

    /// The first occupied offset of the current block at or after `from`.
    #[inline]
    fn next_occupied(&self, from: usize) -> Option<usize> {
        let mut w = from / 64;
        if w >= WORDS {
            return None;
        }
        let mut bits = self.occupied[w] & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            if w == WORDS {
                return None;
            }
            bits = self.occupied[w];
        }
    }

    /// The first tick of the current block.
    #[inline]
    fn base(&self) -> u64 {
        u64::from(self.block) << BITS
    }

    /// The time of the earliest event, if any. Cheap, except when the earliest pending event
    /// is in a later block: then it reads that block's list (see [`EventQueue::may_have_before`]
    /// for a cheap test).
    #[inline]
    pub fn peek_time(&self) -> Option<Time> {
        if let Some(p) = self.past.peek() {
            return Some(p.time);
        }
        if let Some(o) = self.next_occupied(self.cur) {
            return Some((self.base() + o as u64) as Time);
        }
        let (&block, list) = self.later.first_key_value()?;
        let first = list.offsets().min()?;
        Some(((u64::from(block) << BITS) + u64::from(first)) as Time)
    }

    /// Removes and returns the earliest event if it is due before `limit`.
    #[inline]
    pub fn pop_before(&mut self, limit: Time) -> Option<(Time, E)> {
        loop {
            if let Some(p) = self.past.peek() {
                if p.time >= limit {
                    return None;
                }
                self.len -= 1;
                return self.past.pop().map(|p| (p.time, p.event));
            }
            if let Some(o) = self.next_occupied(self.cur) {
                let time = self.base() + o as u64;
                if time >= u64::from(limit) {
                    return None;
                }
                if o != self.cur {
                    // Bucket `cur` is empty (it would have been found otherwise), so nothing of
                    // it was left popped.
                    self.cur = o;
                    self.head = 0;
                }
                let bucket = &mut self.buckets[o];
                let event = bucket[self.head];
                self.head += 1;
                if self.head == bucket.len() {
                    if bucket.capacity() > KEEP {
                        *bucket = Vec::new();
                    } else {
                        bucket.clear();
                    }
                    self.head = 0;
                    self.occupied[o / 64] &= !(1 << (o % 64));
                }
                self.len -= 1;
                return Some((time as Time, event));
            }
            // The current block is empty: deal out the next one, if it is due.
            let (&block, _) = self.later.first_key_value()?;
            if u64::from(block) << BITS >= u64::from(limit) {
                return None;
            }
            self.load(block);
        }
    }

    /// The event `k` places after the next one to pop (0: the next one itself), if it is in the
    /// current bucket or the next occupied one of the current block; `None` otherwise (also
    /// when earlier-than-current events wait). A hint for warming caches, never for logic:
    /// events scheduled meanwhile may come before it.
    #[inline]
    pub fn ahead(&self, k: usize) -> Option<&E> {
        if !self.past.is_empty() || self.buckets.is_empty() {
            return None;
        }
        let bucket = &self.buckets[self.cur];
        let at = self.head + k;
        if let Some(e) = bucket.get(at) {
            return Some(e);
        }
        let rest = at - bucket.len().max(self.head);
        let o = self.next_occupied(self.cur + 1)?;
        self.buckets[o].get(rest)
    }

    /// Makes `block` (the first of `later`) current; the current block must be empty.
    #[cold]
    fn load(&mut self, block: u32) {
        let Some(list) = self.later.remove(&block) else {
            return;
        };
        self.block = block;
        self.cur = 0;
        self.head = 0;
        if self.buckets.is_empty() {
            self.buckets = (0..WIDTH).map(|_| Vec::new()).collect();
        }
        // Count first, so that every bucket gets exactly the room it needs; then deal the
        // chunks out in order, giving each chunk's memory back once it is dealt, so that the
        // list and the buckets are never both whole in memory.
        let mut count = vec![0u32; WIDTH];
        for o in list.offsets() {
            count[usize::from(o)] += 1;
        }
        for chunk in list.chunks {
            for (&o, &event) in chunk.offsets.iter().zip(&chunk.events) {
                let o = usize::from(o);
                let bucket = &mut self.buckets[o];
                if bucket.is_empty() {
                    bucket.reserve_exact(count[o] as usize);
                }
                bucket.push(event);
                self.occupied[o / 64] |= 1 << (o % 64);
            }
        }
    }

    /// Events pending before `limit` in the current block and the past, without looking at
    /// later blocks: a cheap lower bound of the work up to `limit`, for deciding whether
    /// spreading it over threads pays.
    #[inline]
    pub fn due_before(&self, limit: Time) -> usize {
        let mut n = self.past.iter().filter(|p| p.time < limit).count();
        let end = (u64::from(limit).saturating_sub(self.base())).min(WIDTH as u64) as usize;
        let mut o = self.cur;
        while let Some(found) = self.next_occupied(o) {
            if found >= end {
                break;
            }
            n += self.buckets[found].len();
            if found == self.cur {
                n -= self.head;
            }
            o = found + 1;
        }
        n
    }

    /// Whether an event may be due before `limit`: exact, except that a later block starting
    /// before `limit` counts as due without looking into it. Cheap: no list is scanned.
    #[inline]
    pub fn may_have_before(&self, limit: Time) -> bool {
        if let Some(p) = self.past.peek() {
            return p.time < limit;
        }
        if let Some(o) = self.next_occupied(self.cur) {
            return self.base() + (o as u64) < u64::from(limit);
        }
        self.later
            .first_key_value()
            .is_some_and(|(&b, _)| u64::from(b) << BITS < u64::from(limit))
    }

    /// Number of pending events.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no event is pending.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;

    #[test]
    fn same_time_pops_in_scheduling_order() {
        let mut q = EventQueue::default();
        q.schedule(5, 'a');
        q.schedule(3, 'b');
        q.schedule(5, 'c');
        q.schedule(3, 'd');
        let mut out = vec![];
        while let Some((t, e)) = q.pop_before(Time::MAX) {
            out.push((t, e));
        }
        assert_eq!(out, vec![(3, 'b'), (3, 'd'), (5, 'a'), (5, 'c')]);
    }

    #[test]
    fn pop_before_respects_the_limit() {
        let mut q = EventQueue::default();
        q.schedule(10, 1u8);
        assert_eq!(q.pop_before(10), None);
        assert_eq!(q.pop_before(11), Some((10, 1)));
        assert!(q.is_empty());
    }

    #[test]
    fn far_times_past_times_and_the_end_of_the_clock() {
        let mut q = EventQueue::default();
        q.schedule(Time::MAX, 0u8);
        q.schedule(100_000, 1);
        q.schedule(Time::MAX - 1, 2);
        q.schedule(100_001, 3);
        assert_eq!(q.peek_time(), Some(100_000));
        assert_eq!(q.pop_before(Time::MAX), Some((100_000, 1)));
        // Into the past of what was popped, and before the current block.
        q.schedule(7, 4);
        q.schedule(100_000, 5);
        assert_eq!(q.due_before(100_001), 2);
        assert_eq!(q.pop_before(Time::MAX), Some((7, 4)));
        assert_eq!(q.pop_before(Time::MAX), Some((100_000, 5)));
        assert_eq!(q.pop_before(Time::MAX), Some((100_001, 3)));
        assert_eq!(q.pop_before(Time::MAX), Some((Time::MAX - 1, 2)));
        assert_eq!(q.pop_before(Time::MAX), None);
        assert_eq!(q.len(), 1);
        assert_eq!(q.peek_time(), Some(Time::MAX));
    }

    #[test]
    fn a_later_block_of_several_chunks_pops_in_scheduling_order() {
        // More events in one later block than a chunk holds, at few distinct minutes.
        let mut q = EventQueue::default();
        let n = 3 * CHUNK + 17;
        for i in 0..n {
            q.schedule(50_000 + (i % 7) as Time, i);
        }
        let mut want: Vec<(Time, usize)> = (0..n).map(|i| (50_000 + (i % 7) as Time, i)).collect();
        want.sort_unstable();
        let got: Vec<_> = std::iter::from_fn(|| q.pop_before(Time::MAX)).collect();
        assert_eq!(got, want);
    }

    /// One step of a random interleaving.
    #[derive(Clone, Debug)]
    enum Op {
        /// Schedule at the last popped time plus this (may be far, or wrap into the past).
        Push(u32),
        /// Schedule at an absolute time.
        PushAt(u32),
        /// Pop everything due before the last popped time plus this.
        PopBefore(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u32..200).prop_map(Op::Push),
            2 => (0u32..20_000).prop_map(Op::Push),
            1 => any::<u32>().prop_map(Op::PushAt),
            1 => (0u32..12_000).prop_map(Op::PushAt),
            4 => (0u32..300).prop_map(Op::PopBefore),
            1 => (0u32..30_000).prop_map(Op::PopBefore),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The queue pops exactly what a binary heap of `(time, seq)` pops, in the same order.
        #[test]
        fn pops_like_a_binary_heap(ops in proptest::collection::vec(op(), 0..400)) {
            let mut q = EventQueue::default();
            let mut reference = BinaryHeap::new();
            let mut seq = 0u64;
            let mut now: Time = 0;
            for op in ops {
                match op {
                    Op::Push(d) | Op::PushAt(d) => {
                        let t = match op {
                            Op::Push(_) => now.wrapping_add(d),
                            _ => d,
                        };
                        q.schedule(t, seq);
                        reference.push(Reverse((t, seq)));
                        seq += 1;
                    }
                    Op::PopBefore(d) => {
                        let limit = now.saturating_add(d);
                        prop_assert_eq!(
                            q.due_before(limit) <= reference.iter().filter(|r| r.0.0 < limit).count(),
                            true
                        );
                        loop {
                            let want = match reference.peek() {
                                Some(Reverse((t, s))) if *t < limit => {
                                    let (t, s) = (*t, *s);
                                    reference.pop();
                                    Some((t, s))
                                }
                                _ => None,
                            };
                            prop_assert_eq!(q.pop_before(limit), want);
                            match want {
                                Some((t, _)) => now = t,
                                None => break,
                            }
                        }
                    }
                }
                prop_assert_eq!(q.len(), reference.len());
                let probe = now.saturating_add(37);
                if reference.peek().is_some_and(|r| r.0.0 < probe) {
                    prop_assert!(q.may_have_before(probe));
                }
                prop_assert_eq!(q.peek_time(), reference.peek().map(|r| r.0.0));
            }
            loop {
                let want = reference.pop().map(|Reverse(x)| x);
                prop_assert_eq!(q.pop_before(Time::MAX), want.filter(|(t, _)| *t < Time::MAX));
                if want.is_none_or(|(t, _)| t == Time::MAX) {
                    break;
                }
            }
        }

        #[test]
        fn pops_are_sorted_by_time_then_seq(times in proptest::collection::vec(0u32..50, 0..200)) {
            let mut q = EventQueue::default();
            for (i, t) in times.iter().enumerate() {
                q.schedule(*t, i);
            }
            let mut last: Option<(Time, usize)> = None;
            let mut n = 0;
            while let Some((t, i)) = q.pop_before(Time::MAX) {
                if let Some((lt, li)) = last {
                    prop_assert!(lt < t || (lt == t && li < i));
                }
                last = Some((t, i));
                n += 1;
            }
            prop_assert_eq!(n, times.len());
        }
    }
}
