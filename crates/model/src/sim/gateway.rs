//! Gateway: the cloud management gateway's load and the queue of client installs waiting for
//! it. Every online ConfigMgr client on the internet holds a connection (its notification
//! channel); installs from Intune add theirs for their duration. The capacity is the VMs its
//! connection points serve (4 per point) times the clients per VM. Over capacity the gateway
//! still serves, with a delay that grows with the overload (MODEL.md, "Cloud management
//! gateway"). Online clients are counted per shard at barriers, from a per-day table of their
//! online windows; connections are granted in order of request time, then device id, so
//! nothing depends on threads.
//!
//! Leaves to others: what the install does once connected ([`client_install`](super::client_install)).

use super::device::*;
use super::results::*;
use crate::domain::{Location, UsagePattern};
use crate::scenario::{DAY, Minute, Scenario};
use crate::schedule::Calendar;
use fleetsim_engine::{Engine, EventQueue, KeyedStream};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::Range;

/// The gateway: its capacity, the installs holding a connection and the queue, granted at
/// barriers in order of request time, then device id, so the order never depends on threads.
pub(super) struct Gateway {
    capacity: u64,
    hold: Minute,
    in_flight: BinaryHeap<Reverse<Minute>>,
    queue: VecDeque<(Minute, u32)>,
    /// The requests of a barrier, being sorted (kept to reuse its memory).
    requests: Vec<(Minute, u32)>,
}

/// Minutes between two barriers when the gateway is in use.
pub(super) const GATEWAY_STEP: Minute = 15;

/// Barrier instants in a day.
pub(super) const SLOTS: usize = (DAY / GATEWAY_STEP) as usize;

/// Days whose laptop windows a shard draws ahead at most ([`DeviceShard::plan_days`]): 25 KiB
/// of tables a shard.
const PLAN_DAYS: u32 = 64;

/// A shard's internet clients and the table of when they are online today.
///
/// Only intermittent laptops need a draw per day (their presence); office-hours clients are
/// online at the same minutes every workday, so their part of a day's table is kept once, as
/// two fixed tables (windows that start that day, and windows of the day before that run into
/// it), and always-on clients as a count. A day's table is built once, when the first barrier
/// of the day asks (its laptops' part drawn then, or beforehand for the days of a held span:
/// [`DeviceShard::plan_days`]), and summed as the barriers of the day go by.
#[derive(Clone, Debug)]
pub(super) struct Channels {
    /// Intermittent laptops holding a channel, by the instants their windows cover.
    laptops: Vec<Laptops>,
    /// Office-hours clients: per barrier instant, change of online clients from the windows
    /// that start the same day (they apply on workdays).
    office_today: [i32; SLOTS + 1],
    /// Office-hours clients: the same from the windows of the day before (they apply on the
    /// day after a workday).
    office_spill: [i32; SLOTS + 1],
    /// Always-on clients (online at every instant).
    always: u64,
    /// The day the table is for (`u32::MAX`: none yet).
    day: u32,
    /// Per barrier instant of `day`: change of online clients (a difference table).
    diff: [i32; SLOTS + 1],
    /// The laptops' windows of `day` that run into the next day: that day's part of `diff`.
    laptop_next: [i32; SLOTS + 1],
    /// Entries of `diff` summed into `online`.
    summed: usize,
    /// The sum of `diff[..summed]`.
    online: i64,
    /// The laptops' part of the tables of the days drawn ahead ([`DeviceShard::plan_days`]):
    /// day `plan_first + k` at `plan[k]` for `k < plan_days` (its windows, and those of the
    /// day before that run into it), and at `plan[plan_days]` the windows of the last that
    /// run into the day after.
    plan: Vec<[i32; SLOTS + 1]>,
    plan_first: u32,
    plan_days: u32,
}

impl Default for Channels {
    fn default() -> Self {
        Self {
            laptops: Vec::new(),
            office_today: [0; SLOTS + 1],
            office_spill: [0; SLOTS + 1],
            always: 0,
            day: u32::MAX,
            diff: [0; SLOTS + 1],
            laptop_next: [0; SLOTS + 1],
            summed: 0,
            online: 0,
            plan: Vec::new(),
            plan_first: 0,
            plan_days: 0,
        }
    }
}

/// The intermittent laptops holding a channel whose windows cover the same barrier instants
/// (`from`, `to`: see [`slots_of`]; `[0, 0]` for none) on a day they are present and on the
/// day after (a window that runs past midnight). A laptop's workday starts at the same minute
/// every day, so its instants are found once, when it joins; a day's table then only counts
/// the laptops of each group that are present (a draw each), and adds each group's count
/// once.
#[derive(Clone, Debug)]
struct Laptops {
    today: [u8; 2],
    spill: [u8; 2],
    /// The laptops' presence draws.
    presence: Vec<KeyedStream>,
}

impl Laptops {
    /// The instants of a window starting at `day_start` for `workday_length`: on its day,
    /// and on the day after.
    fn slots(day_start: u16, workday_length: Minute) -> ([u8; 2], [u8; 2]) {
        let (ds, len, day) = (
            i64::from(day_start),
            i64::from(workday_length),
            i64::from(DAY),
        );
        // At most SLOTS (96): fits a byte.
        let pair = |w: Option<(usize, usize)>| w.map_or([0, 0], |(a, b)| [a as u8, b as u8]);
        (
            pair(slots_of(ds, ds + len)),
            pair(slots_of(ds - day, ds + len - day)),
        )
    }
}

/// How many laptops of `presence` are online on `day` ([`Calendar::laptop_present`]).
#[inline]
fn present(cal: &Calendar, presence: &[KeyedStream], day: u32) -> i32 {
    if !cal.is_workday(day) {
        return 0;
    }
    presence
        .iter()
        .map(|k| i32::from(cal.laptop_present(k, day)))
        .sum()
}

/// Adds `n` windows covering instants `[from, to]` to the difference table `t`.
#[inline]
fn add(t: &mut [i32; SLOTS + 1], [from, to]: [u8; 2], n: i32) {
    t[usize::from(from)] += n;
    t[usize::from(to)] -= n;
}

/// The barrier instants of a day (`from..to` in `GATEWAY_STEP` slots) in which a window
/// from `start` to `end` (minutes from the day's midnight, `start` possibly negative for a
/// window of the day before) counts, if any: the window cut to the day, each end rounded up
/// to a barrier.
fn slots_of(start: i64, end: i64) -> Option<(usize, usize)> {
    let (s, e) = (start.max(0), end.min(i64::from(DAY)));
    (s < e)
        .then(|| {
            let step = i64::from(GATEWAY_STEP);
            ((s + step - 1) / step, (e + step - 1) / step)
        })
        .map(|(a, b)| (a as usize, b as usize))
}

impl Channels {
    /// Adds `delta` at instant `k` of today's table, keeping the running sum right.
    #[inline]
    fn bump(&mut self, k: usize, delta: i32) {
        self.diff[k] += delta;
        if k < self.summed {
            self.online += i64::from(delta);
        }
    }

    /// [`add`] to today's table, keeping the running sum right.
    fn bump_window(&mut self, [from, to]: [u8; 2], n: i32) {
        self.bump(usize::from(from), n);
        self.bump(usize::from(to), -n);
    }

    /// Adds the windows of yesterday and today of the laptops `presence` (whose windows
    /// cover `today` and `spill`) where they were present, to today's table, and the part of
    /// today's windows that runs into tomorrow to `laptop_next`.
    fn add_laptops(
        &mut self,
        cal: &Calendar,
        (today, spill): ([u8; 2], [u8; 2]),
        presence: &[KeyedStream],
        (yesterday, on_today): (bool, bool),
    ) {
        let day = self.day;
        if yesterday {
            self.bump_window(spill, present(cal, presence, day - 1));
        }
        if on_today {
            let n = present(cal, presence, day);
            self.bump_window(today, n);
            add(&mut self.laptop_next, spill, n);
        }
    }

    /// Adds the windows of days `from..` of the laptops `presence` to the days drawn ahead
    /// (where their tables are not built yet).
    fn plan_laptops(
        &mut self,
        cal: &Calendar,
        (today, spill): ([u8; 2], [u8; 2]),
        presence: &[KeyedStream],
        from: u32,
    ) {
        let (first, n) = (self.plan_first, self.plan_days);
        // The days whose windows fall in a planned table: the day before the first, to the
        // last.
        for d in from.max(first.saturating_sub(1))..first + n {
            let count = present(cal, presence, d);
            if count == 0 {
                continue;
            }
            if d >= first {
                add(&mut self.plan[(d - first) as usize], today, count);
            }
            if d + 1 >= first {
                add(&mut self.plan[(d + 1 - first) as usize], spill, count);
            }
        }
    }
}

/// How long a request waits when the gateway carries `load` connections for `capacity`: no
/// wait up to the capacity; above it, the overload's share of the capacity times the hold of
/// an install (assumption, MODEL.md: at twice the capacity a request waits one install).
pub fn overload_delay(load: u64, capacity: u64, hold: Minute) -> Minute {
    if load < capacity || capacity == 0 {
        return 0;
    }
    ((load - capacity) * u64::from(hold) / capacity).min(u64::from(DAY)) as Minute
}

impl DeviceShard {
    pub(super) fn request_gateway(&mut self, now: Minute, i: usize) {
        self.devices[i].phase = Phase::InstallQueued;
        self.gateway_requests.push((now, self.first + i as u32));
        self.waiting += 1;
    }

    /// Whether device `i`'s ConfigMgr client reaches its site: on the corporate network or
    /// VPN always, on the internet only through a gateway that serves clients.
    #[inline]
    pub(super) fn reaches_site(&self, ctx: &Context, i: usize) -> bool {
        ctx.gateway_serves || self.devices[i].profile.location != Location::InternetOnly
    }

    /// Device `i` now holds a notification channel while online, if it is an internet client
    /// and the gateway serves clients.
    pub(super) fn join_channels(&mut self, ctx: &Context, i: usize) {
        let p = self.devices[i].profile;
        if !(p.client && p.location == Location::InternetOnly && ctx.gateway_serves) {
            return;
        }
        let len = i64::from(ctx.calendar.usage.workday_length);
        let ds = i64::from(p.day_start);
        let day = self.channels.day;
        let c = &mut self.channels;
        match p.usage {
            UsagePattern::AlwaysOn => c.always += 1,
            UsagePattern::OfficeHours => {
                let today = slots_of(ds, ds + len);
                let spill = slots_of(ds - i64::from(DAY), ds - i64::from(DAY) + len);
                for ((from, to), table) in
                    [(today, &mut c.office_today), (spill, &mut c.office_spill)]
                        .into_iter()
                        .filter_map(|(w, t)| w.map(|w| (w, t)))
                {
                    table[from] += 1;
                    table[to] -= 1;
                }
                if day != u32::MAX {
                    let cal = &ctx.calendar;
                    if day > 0 && cal.is_workday(day - 1) {
                        if let Some((from, to)) = spill {
                            c.bump(from, 1);
                            c.bump(to, -1);
                        }
                    }
                    if cal.is_workday(day) {
                        if let Some((from, to)) = today {
                            c.bump(from, 1);
                            c.bump(to, -1);
                        }
                    }
                }
            }
            UsagePattern::LaptopIntermittent => {
                let key = ctx
                    .streams
                    .keyed(self.first + i as u32, crate::schedule::PRESENCE);
                let slots = Laptops::slots(p.day_start, ctx.calendar.usage.workday_length);
                match c.laptops.iter_mut().find(|g| (g.today, g.spill) == slots) {
                    Some(g) => g.presence.push(key),
                    None => c.laptops.push(Laptops {
                        today: slots.0,
                        spill: slots.1,
                        presence: vec![key],
                    }),
                }
                let cal = &ctx.calendar;
                if day != u32::MAX {
                    c.add_laptops(cal, slots, &[key], (day > 0, true));
                }
                if c.plan_days > 0 {
                    // Its windows from the table's day on (the day's own, just added, only
                    // for the part that runs into a planned day).
                    let from = if day == u32::MAX { 0 } else { day };
                    c.plan_laptops(cal, slots, &[key], from);
                }
            }
        }
    }

    /// Internet clients of this shard online at barrier `t` (a multiple of the step).
    pub(super) fn online_channels(&mut self, ctx: &Context, t: Minute) -> u64 {
        self.ready_day(ctx, t / DAY);
        let c = &mut self.channels;
        let slot = ((t % DAY) / GATEWAY_STEP) as usize;
        if c.summed > slot + 1 {
            c.summed = 0;
            c.online = 0;
        }
        while c.summed <= slot {
            c.online += i64::from(c.diff[c.summed]);
            c.summed += 1;
        }
        c.always + c.online.max(0) as u64
    }

    /// Builds the table of `day`'s online internet clients, unless it is built already. Done
    /// by the first barrier of the day that counts them, or beforehand, in parallel, by the
    /// barrier loop (the laptops' windows of a day are most of the gateway's work).
    pub(super) fn ready_day(&mut self, ctx: &Context, day: u32) {
        if self.channels.day == day {
            return;
        }
        let c = &mut self.channels;
        // The laptops' part: drawn ahead ([`DeviceShard::plan_days`]), or drawn now.
        let planned = day.wrapping_sub(c.plan_first) < c.plan_days;
        // Yesterday's laptop windows are known when the table was yesterday's.
        let carried = c.day != u32::MAX && c.day.wrapping_add(1) == day;
        if planned {
            let k = (day - c.plan_first) as usize;
            c.diff = c.plan[k];
            // The next day's part: from the plan too, unless this is the last planned.
            c.laptop_next = if k + 1 == c.plan_days as usize {
                c.plan[k + 1]
            } else {
                [0; SLOTS + 1]
            };
        } else {
            c.diff = if carried {
                c.laptop_next
            } else {
                [0; SLOTS + 1]
            };
            c.laptop_next = [0; SLOTS + 1];
        }
        c.day = day;
        c.summed = 0;
        c.online = 0;
        let cal = &ctx.calendar;
        if day > 0 && cal.is_workday(day - 1) {
            c.diff
                .iter_mut()
                .zip(&c.office_spill)
                .for_each(|(a, b)| *a += b);
        }
        if cal.is_workday(day) {
            c.diff
                .iter_mut()
                .zip(&c.office_today)
                .for_each(|(a, b)| *a += b);
        }
        // A laptop has no window on a weekend day: skip the days that need none.
        let yesterday = !carried && day > 0 && cal.is_workday(day - 1);
        let today = cal.is_workday(day);
        if !planned && (yesterday || today) {
            let laptops = std::mem::take(&mut c.laptops);
            for g in &laptops {
                c.add_laptops(cal, (g.today, g.spill), &g.presence, (yesterday, today));
            }
            c.laptops = laptops;
        }
    }

    /// Draws the laptops' windows of the days from the one after this shard's table (or
    /// from `now`'s day, with none) to `last`, at most [`PLAN_DAYS`]: then the barriers
    /// of those days only read their tables. Done in parallel for every shard at the start
    /// of a held span ([`Spans::Held`]), where a shard with a request waiting goes instant by
    /// instant, often alone, and would otherwise draw them when it passes midnight.
    pub(super) fn plan_days(&mut self, ctx: &Context, now: Minute, last: u32) {
        let c = &mut self.channels;
        let first = if c.day == u32::MAX {
            now / DAY
        } else {
            c.day + 1
        };
        let n = (last + 1).saturating_sub(first).min(PLAN_DAYS);
        c.plan.clear();
        c.plan_first = first;
        c.plan_days = n;
        if n == 0 {
            return;
        }
        c.plan.resize(n as usize + 1, [0; SLOTS + 1]);
        // The windows of the day before the first that run into it: kept when the table is
        // that day's.
        let from = if c.day != u32::MAX && c.day + 1 == first {
            c.plan[0] = c.laptop_next;
            first
        } else {
            first.saturating_sub(1)
        };
        let laptops = std::mem::take(&mut c.laptops);
        for g in &laptops {
            c.plan_laptops(&ctx.calendar, (g.today, g.spill), &g.presence, from);
        }
        c.laptops = laptops;
    }

    /// The gateway gives device `local` a connection at `now` (called at a barrier).
    pub(super) fn grant(&mut self, ctx: &Context, local: u32, now: Minute, q: &mut EventQueue<Ev>) {
        let i = local as usize;
        self.waiting -= 1;
        let before = self.devices[i].state();
        self.devices[i].phase = Phase::Installing;
        let after = self.devices[i].state();
        self.move_state(ctx, now, i, before, after);
        self.record(i, now, before, after, Detail::GatewayConnection);
        Self::schedule(
            q,
            Some(now + ctx.scenario.cloud.client_install),
            local,
            Kind::InstallDone,
        );
    }
}

impl Gateway {
    pub(super) fn new(s: &Scenario) -> Self {
        Self {
            capacity: s.cloud.capacity(),
            hold: s.cloud.client_install,
            in_flight: BinaryHeap::new(),
            queue: VecDeque::new(),
            requests: Vec::new(),
        }
    }

    /// At the barrier closing at `next`: takes the shards' requests, counts the online
    /// clients, records the load of the row it closes, and grants connections: at once under
    /// the capacity, after the overload delay above it.
    pub(super) fn barrier(
        &mut self,
        engine: &mut Engine<DeviceShard>,
        ranges: &[Range<u32>],
        next: Minute,
        bucket: Minute,
        gateway_rows: &mut [GatewayRow],
    ) {
        let (ctx, mut shards) = engine.split_mut();
        let mut online = 0u64;
        for (shard, _) in shards.iter_mut() {
            self.requests.append(&mut shard.gateway_requests);
            online += shard.online_channels(ctx, next);
        }
        self.settle(next, online, bucket, gateway_rows, |id| {
            let shard = ranges.partition_point(|r| r.end <= id);
            let (sh, q) = shards.get_mut(shard);
            let local = id - sh.first;
            sh.grant(ctx, local, next, q);
        });
    }

    /// Whether no request waits: then a span can run without barriers
    /// ([`Gateway::replay`]).
    pub(super) fn idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Replays, in time order, the barrier instants that the shards passed in a span run
    /// without barriers, in which each shard granted its requests at the first instant after
    /// them ([`DeviceShard::mark_instant`]): records the rows as [`Gateway::barrier`] would
    /// have. Returns false when the gateway would have kept a request waiting (over the
    /// capacity): the span's grants were then not the gateway's, and the run must be done
    /// again, held ([`Spans::Held`]).
    pub(super) fn replay(
        &mut self,
        engine: &mut Engine<DeviceShard>,
        bucket: Minute,
        gateway_rows: &mut [GatewayRow],
    ) -> bool {
        let marks: Vec<Vec<Mark>> = engine
            .shards_mut()
            .map(|(shard, _)| std::mem::take(&mut shard.marks))
            .collect();
        // The shards granted the requests already: the replay only checks the gateway agrees.
        self.settle_marks(&marks, bucket, gateway_rows, true, |_, _| {})
    }

    /// Decides, in time order, the instants up to `upto` that every shard has passed in a
    /// held span ([`Spans::Held`]) and the gateway has not decided yet, from the shards'
    /// marks: records the rows and grants the requests as [`Gateway::barrier`] does at each.
    /// A request granted at an instant belongs to a shard that stands there, held by it.
    pub(super) fn replay_held(
        &mut self,
        engine: &mut Engine<DeviceShard>,
        ranges: &[Range<u32>],
        upto: Minute,
        bucket: Minute,
        gateway_rows: &mut [GatewayRow],
    ) {
        let (ctx, mut shards) = engine.split_mut();
        let marks: Vec<Vec<Mark>> = shards
            .iter_mut()
            .map(|(shard, _)| {
                let k = shard.marks.partition_point(|m| m.at <= upto);
                shard.marks.drain(..k).collect()
            })
            .collect();
        self.settle_marks(&marks, bucket, gateway_rows, false, |id, next| {
            let shard = ranges.partition_point(|r| r.end <= id);
            let (sh, q) = shards.get_mut(shard);
            let local = id - sh.first;
            sh.grant(ctx, local, next, q);
        });
    }

    /// Settles, instant by instant, the shards' marks (one list per shard, the same instants
    /// in each), calling `grant(id, instant)` for each request granted. With `check`, stops
    /// and returns false at the first instant that leaves a request waiting.
    fn settle_marks(
        &mut self,
        marks: &[Vec<Mark>],
        bucket: Minute,
        gateway_rows: &mut [GatewayRow],
        check: bool,
        mut grant: impl FnMut(u32, Minute),
    ) -> bool {
        let instants = marks.first().map_or(0, Vec::len);
        for k in 0..instants {
            let next = marks[0][k].at;
            let mut online = 0u64;
            for m in marks {
                let m = &m[k];
                debug_assert_eq!(m.at, next, "every shard passed every instant");
                online += m.online;
                self.requests.extend_from_slice(&m.requests);
            }
            self.settle(next, online, bucket, gateway_rows, |id| grant(id, next));
            if check && !self.queue.is_empty() {
                return false;
            }
        }
        true
    }

    /// The barrier's work once the requests are taken and the online clients counted:
    /// `grant(id)` for each request granted at `next`, in order.
    fn settle(
        &mut self,
        next: Minute,
        online: u64,
        bucket: Minute,
        gateway_rows: &mut [GatewayRow],
        mut grant: impl FnMut(u32),
    ) {
        self.requests.sort_unstable();
        self.queue.extend(self.requests.drain(..));
        // Load at the end of the row that this barrier closes: installs that ended before
        // it are done; those ending at it are still counted, as their devices are.
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(end)| *end < next)
        {
            self.in_flight.pop();
        }
        let g = &mut gateway_rows[((next - 1) / bucket) as usize];
        g.concurrent = online + self.in_flight.len() as u64;
        g.queued = self.queue.len() as u64;
        g.peak = g.peak.max(g.concurrent);
        g.peak_queued = g.peak_queued.max(g.queued);
        g.capacity = self.capacity;
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(end)| *end <= next)
        {
            self.in_flight.pop();
        }
        let mut load = online + self.in_flight.len() as u64;
        while let Some(&(at, id)) = self.queue.front() {
            if at + overload_delay(load, self.capacity, self.hold) > next {
                break;
            }
            self.queue.pop_front();
            grant(id);
            self.in_flight.push(Reverse(next + self.hold));
            load += 1;
        }
        if let Some(g) = gateway_rows.get_mut((next / bucket) as usize) {
            g.peak = g.peak.max(load);
            g.peak_queued = g.peak_queued.max(self.queue.len() as u64);
            g.capacity = self.capacity;
        }
    }
}

/// What a shard saw at a barrier instant it passed without a barrier.
#[derive(Clone, Debug)]
pub(super) struct Mark {
    /// The instant.
    at: Minute,
    /// The shard's internet clients online at it.
    online: u64,
    /// The requests the shard made since the instant before, sorted: (request time, global
    /// id). Granted by the shard at this instant in an optimistic span; left to the gateway
    /// in a held one.
    requests: Vec<(Minute, u32)>,
}

/// How a run without a barrier at every gateway instant treats the gateway's requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Spans {
    /// A barrier at every instant.
    Off,
    /// Each shard grants its requests at the first instant after them, as the gateway does
    /// under its capacity; the gateway checks the guess afterwards ([`Gateway::replay`]) and a
    /// wrong guess makes the run start again (made where the gateway is likely to stay under
    /// its capacity).
    Optimistic,
    /// A shard with a request that the gateway has not decided stops at the next instant
    /// and waits there; the others go on. The gateway decides each instant once every shard
    /// has passed it ([`Gateway::replay_held`]), so the grants are the gateway's own, over
    /// its capacity too, and shards without requests (most, most of the time) run on.
    Held,
}

impl DeviceShard {
    /// At barrier instant `t` of a span run without barriers (the shard's
    /// [`Shard::mark`](fleetsim_engine::Shard::mark)): counts the online clients and
    /// takes the requests since the last instant. In an optimistic span it grants them at
    /// once, as the gateway does under its capacity with no queue (in the gateway's order:
    /// request time, then id; the gateway checks that guess when it replays the instant,
    /// [`Gateway::replay`]), and goes on. In a held span it leaves them to the gateway and
    /// stops here while any of its requests waits ([`Gateway::replay_held`]).
    pub(super) fn mark_instant(
        &mut self,
        ctx: &Context,
        t: Minute,
        q: &mut EventQueue<Ev>,
    ) -> bool {
        let online = self.online_channels(ctx, t);
        let mut requests = std::mem::take(&mut self.gateway_requests);
        requests.sort_unstable();
        if !ctx.hold_requests {
            for &(_, id) in &requests {
                self.grant(ctx, id - self.first, t, q);
            }
        }
        self.marks.push(Mark {
            at: t,
            online,
            requests,
        });
        self.waiting == 0
    }
}

#[cfg(test)]
mod tests {
    use super::overload_delay;
    use crate::sim::tests::*;

    /// `devices` hybrid-joined ConfigMgr clients on the internet only, office hours, with
    /// the given extra TOML.
    fn clients_at(location: &str, devices: u32, extra: &str) -> Scenario {
        Scenario::from_toml(&format!(
            "name = \"i\"\nstart_date = 2027-01-04\ndays = 7\n[fleet]\ndevices = {devices}\nlicensed = 1.0\nthird_party_mdm = 0.0\nos = {{ win11_23h2 = 1.0 }}\njoin = {{ hybrid_joined = 1.0 }}\nconfigmgr_client = {{ hybrid_joined = 1.0 }}\nlocation = {{ {location} = 1.0 }}\nusage = {{ office_hours = 1.0 }}\n[usage]\nworkday_start_spread_minutes = 0\n[co_management]\nenable_date = 2027-01-04\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn the_delay_grows_with_the_overload() {
        assert_eq!(overload_delay(5_999, 6_000, 30), 0);
        assert_eq!(overload_delay(6_000, 6_000, 30), 0);
        assert_eq!(overload_delay(9_000, 6_000, 30), 15);
        assert_eq!(overload_delay(12_000, 6_000, 30), 30);
        assert_eq!(overload_delay(24_000, 6_000, 30), 90);
    }

    #[test]
    fn every_online_internet_client_holds_a_connection() {
        let s = clients_at("internet_only", 2_000, "[cloud]\ncmg_vms = 1\n");
        let r = hourly(&s);
        // Monday 2027-01-04: workday from 07:00 for 8 h (no spread): all 2,000 online from the
        // row of 07:00 to the row of 15:00, none at night or on the weekend.
        assert_eq!(r.gateway[3].peak, 0);
        assert_eq!(r.gateway[8].peak, 2_000);
        assert_eq!(r.gateway[8].concurrent, 2_000);
        assert_eq!(r.gateway[20].concurrent, 0);
        assert_eq!(r.gateway[5 * 24 + 10].peak, 0, "Saturday");
        assert!(r.gateway.iter().all(|g| g.capacity == 6_000));
        // They are co-managed through the gateway.
        assert!(r.states.last().unwrap()[S::CoManaged.index()] > 1_900);
    }

    #[test]
    fn internet_clients_without_a_gateway_never_get_the_policy() {
        let s = clients_at("internet_only", 500, "[cloud]\ncmg_vms = 0\n");
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::CoManaged.index()], 0);
        assert_eq!(r.blocked[Prerequisite::CloudManagementGateway.index()], 500);
        let f = r
            .findings
            .iter()
            .find(|f| {
                f.prerequisite == Prerequisite::CloudManagementGateway
                    && f.path == Some(crate::domain::CoPath::Path1)
            })
            .expect("check names the missing gateway for Path 1");
        assert_eq!(f.devices, 500);
        assert_eq!(f.severity, crate::prereq::Severity::Blocker);
        // On VPN (modelled as up whenever the device is online) they reach the site without one.
        let s = clients_at("vpn", 500, "[cloud]\ncmg_vms = 0\n");
        let r = hourly(&s);
        assert_eq!(r.blocked[Prerequisite::CloudManagementGateway.index()], 0);
        assert!(r.states.last().unwrap()[S::CoManaged.index()] > 450);
    }

    #[test]
    fn connection_points_limit_the_vms_that_serve() {
        let s = path2(10, "[cloud]\ncmg_vms = 8\ncmg_connection_points = 1\n");
        assert_eq!(s.cloud.capacity(), 4 * 6_000);
        let r = hourly(&s);
        assert!(
            r.findings
                .iter()
                .any(|f| f.prerequisite == Prerequisite::CloudManagementGateway
                    && f.severity == crate::prereq::Severity::Warning)
        );
        let s = path2(10, "[cloud]\ncmg_vms = 8\n");
        assert_eq!(s.cloud.cmg_connection_points, 2);
        assert_eq!(s.cloud.capacity(), 8 * 6_000);
    }

    #[test]
    fn over_capacity_the_gateway_still_serves_and_a_queue_forms_and_drains() {
        let s = path2(
            3000,
            "[cloud]\ncmg_vms = 1\nclient_install_minutes = 120\n[path2]\nusage = { always_on = 1.0 }\nbatches = [ { date = 2027-01-04, devices = 4000 }, { date = 2027-01-06, devices = 7000 } ]\n",
        );
        assert_eq!(s.cloud.capacity(), 6000);
        let r = hourly(&s);
        let mut queued_somewhere = false;
        let mut over = false;
        for (st, g) in r.states.iter().zip(&r.gateway) {
            // The load is the installs plus the installed clients online (always on here).
            let installed = st[S::CoManaged.index()] + st[S::AwaitingCoManagementPolicy.index()];
            assert_eq!(g.concurrent, st[S::ClientInstalling.index()] + installed);
            assert_eq!(g.queued, st[S::ClientInstallQueued.index()]);
            assert!(g.peak_queued >= g.queued);
            queued_somewhere |= g.queued > 100;
            over |= g.peak > 6000;
        }
        assert!(queued_somewhere, "installs over capacity must wait");
        assert!(over, "over capacity the gateway still serves");
        assert_eq!(r.gateway.last().unwrap().queued, 0, "the queue drains");
        let last = r.states.last().unwrap();
        assert_eq!(last.iter().sum::<u64>(), 14_000);
        assert!(last[S::CoManaged.index()] > 13_000, "{last:?}");
        assert_eq!(r.eligible_by_path, [0, 14_000]);
    }
}
