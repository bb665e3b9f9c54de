//! Path 1 as a simulation: every device's way from ConfigMgr client to co-managed, replayed
//! event by event on the engine, and the counts a run produces.

use crate::domain::{
    AutoEnrollment, EnrollmentError, IneligibleReason, JoinType, LifecycleState, Retry,
};
use crate::fleet::{Profile, draw_profile, in_collection, path1_ineligibility};
use crate::scenario::{DAY, Minute, Remediation, Scenario};
use crate::schedule::{Calendar, DeviceSchedule};
use chrono::Datelike;
use fleetsim_engine::{Engine, EventQueue, Purpose, RandomStreams, Shard, shard_ranges};
use std::sync::Arc;

const SCHEDULE: Purpose = Purpose::named("enrollment-schedule");
const ATTEMPT: Purpose = Purpose::named("enrollment-attempt");
const ERROR: Purpose = Purpose::named("enrollment-error");
const REMEDIATION: Purpose = Purpose::named("remediation");
const SAMPLE: Purpose = Purpose::named("event-sample");

crate::named_enum! {
    /// Cumulative counters of a run, in CSV column order (the error counters follow).
    pub enum Counter {
        /// Enrollment attempts started.
        EnrollmentAttempts => "enrollment_attempts",
        /// Attempts that succeeded (devices that became co-managed).
        EnrollmentSuccesses => "enrollment_successes",
        /// Attempts that failed, any code.
        EnrollmentFailures => "enrollment_failures",
        /// Hybrid Azure AD joins completed during the run.
        HybridJoinsCompleted => "hybrid_joins_completed",
        /// Co-management policies received by clients in scope.
        PoliciesReceived => "co_management_policies_received",
        /// Permanent errors remediated.
        Remediations => "remediations",
    }
}

/// Number of counter columns: the named counters, then one per enrollment error.
pub const COUNTERS: usize = Counter::ALL.len() + EnrollmentError::ALL.len();
const STATES: usize = LifecycleState::ALL.len();

/// The counter column names, in order.
pub fn counter_names() -> Vec<String> {
    Counter::ALL
        .iter()
        .map(|c| c.name().to_string())
        .chain(EnrollmentError::ALL.iter().map(|e| e.column()))
        .collect()
}

/// How long one timeline row lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Bucket {
    /// One row per simulated day.
    #[default]
    Day,
    /// One row per simulated hour.
    Hour,
}

impl Bucket {
    /// Minutes per row.
    pub const fn minutes(self) -> Minute {
        match self {
            Bucket::Day => DAY,
            Bucket::Hour => 60,
        }
    }
}

/// Which state changes a run records one by one.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum EventCapture {
    /// None (the default: only counts).
    #[default]
    Off,
    /// Those of a share of devices, drawn per device (1.0: every device).
    Sample(f64),
}

/// How to run a scenario: nothing here changes the results.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Timeline resolution.
    pub bucket: Bucket,
    /// Event capture.
    pub events: EventCapture,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            bucket: Bucket::Day,
            events: EventCapture::Off,
        }
    }
}

/// What one recorded event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The device's state at the start of the run.
    Initial(Option<IneligibleReason>),
    /// The hybrid join task wrote the device's certificate.
    JoinCertificateWritten,
    /// Hybrid Azure AD join completed.
    HybridJoined,
    /// The client received the co-management policy; enrollment scheduled.
    PolicyReceived,
    /// The randomized enrollment time came.
    EnrollmentDue,
    /// An enrollment attempt succeeded.
    Enrolled,
    /// An enrollment attempt failed with this error.
    Failed(EnrollmentError),
    /// A permanent error was remediated.
    Remediated,
}

/// One recorded state change of one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// Global device id.
    pub device: u32,
    /// When it happened.
    pub time: Minute,
    /// State before.
    pub from: LifecycleState,
    /// State after.
    pub to: LifecycleState,
    /// What happened.
    pub detail: Detail,
}

/// What a run produces: counts only, in a fixed order, independent of threads.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Minutes per timeline row.
    pub bucket: Minute,
    /// Devices in the fleet.
    pub devices: u64,
    /// Devices that can take Path 1.
    pub eligible: u64,
    /// Devices per ineligibility reason (indexed by `IneligibleReason::index`).
    pub reasons: Vec<u64>,
    /// Per row: devices in each state at the end of the row (indexed by `LifecycleState::index`).
    pub states: Vec<[u64; STATES]>,
    /// Per row: cumulative counters at the end of the row (see [`counter_names`]).
    pub counters: Vec<[u64; COUNTERS]>,
    /// Per hour: co-managed devices at the end of the hour.
    pub co_managed_hourly: Vec<u64>,
    /// Recorded events, in time order (then device, then order of occurrence).
    pub events: Vec<EventRecord>,
    /// Events the engine handled.
    pub events_handled: u64,
    /// Enrollment randomization window used, in minutes.
    pub randomization_window: Minute,
    /// Devices in each state at the end, by device attribute.
    pub breakdown: Vec<BreakdownRow>,
}

/// Devices in each state at the end of a run, for one value of one device attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakdownRow {
    /// The attribute: `os`, `join`, `identity`, `location`, `usage` or `site`.
    pub dimension: &'static str,
    /// The attribute's value, such as `win11_23h2` or a site code.
    pub value: String,
    /// Devices per state (indexed by `LifecycleState::index`).
    pub states: [u64; STATES],
}

/// The breakdown's rows, in output order: every value of every attribute, with zero counts.
fn breakdown_rows(s: &Scenario) -> Vec<BreakdownRow> {
    use crate::domain::{IdentityOption, Location, OsRelease, UsagePattern};
    let mut rows = Vec::new();
    let mut add = |dimension: &'static str, names: &mut dyn Iterator<Item = String>| {
        rows.extend(names.map(|value| BreakdownRow {
            dimension,
            value,
            states: [0; STATES],
        }));
    };
    add("os", &mut OsRelease::NAMES.iter().map(|n| n.to_string()));
    add("join", &mut JoinType::NAMES.iter().map(|n| n.to_string()));
    add(
        "identity",
        &mut IdentityOption::NAMES.iter().map(|n| n.to_string()),
    );
    add(
        "location",
        &mut Location::NAMES.iter().map(|n| n.to_string()),
    );
    add(
        "usage",
        &mut UsagePattern::NAMES.iter().map(|n| n.to_string()),
    );
    add("site", &mut s.sites.iter().map(|x| x.code.clone()));
    rows
}

/// The breakdown rows a device counts in (indexes into [`breakdown_rows`]).
fn breakdown_slots(p: &Profile) -> [usize; 6] {
    use crate::domain::{IdentityOption, Location, OsRelease, UsagePattern};
    let mut base = 0;
    let mut slot = |len: usize, i: usize| {
        let at = base + i;
        base = base.saturating_add(len);
        at
    };
    [
        slot(OsRelease::ALL.len(), p.os.index()),
        slot(JoinType::ALL.len(), p.join.index()),
        slot(IdentityOption::ALL.len(), p.identity.index()),
        slot(Location::ALL.len(), p.location.index()),
        slot(UsagePattern::ALL.len(), p.usage.index()),
        slot(usize::MAX, usize::from(p.site)),
    ]
}

impl RunResult {
    /// Hours from the start until at least `percent`% of eligible devices were co-managed.
    pub fn hours_to_co_managed(&self, percent: u64) -> Option<u32> {
        if self.eligible == 0 {
            return None;
        }
        self.co_managed_hourly
            .iter()
            .position(|c| c * 100 >= percent * self.eligible)
            .map(|h| h as u32 + 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum JoinStage {
    NotJoined,
    PendingSync,
    Joined,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum EnrollStage {
    None,
    Scheduled,
    Due,
    PendingSignIn,
    Retrying,
    Remediation,
    Done,
}

/// A device's whole state: its profile and where it stands.
#[derive(Clone, Copy, Debug)]
struct Device {
    profile: Profile,
    reason: Option<IneligibleReason>,
    join: JoinStage,
    enroll: EnrollStage,
    tries: u8,
    attempts: u16,
    in_scope: bool,
    record: bool,
}

impl Device {
    fn state(&self) -> LifecycleState {
        use LifecycleState as S;
        match self.reason {
            Some(IneligibleReason::ThirdPartyMdm) => return S::Coexistence,
            Some(_) => return S::Ineligible,
            None => {}
        }
        match (self.enroll, self.join) {
            (EnrollStage::Done, _) => S::CoManaged,
            (EnrollStage::Remediation, _) => S::AwaitingRemediation,
            (EnrollStage::Retrying, _) => S::Enrolling,
            (EnrollStage::PendingSignIn, _) => S::PendingUserSignIn,
            (EnrollStage::Scheduled, _) | (EnrollStage::Due, JoinStage::Joined) => S::Scheduled,
            (_, JoinStage::NotJoined) => S::AwaitingHybridJoin,
            (_, JoinStage::PendingSync) => S::HybridJoinPendingSync,
            (_, JoinStage::Joined) => S::Eligible,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    JoinTask,
    JoinComplete,
    PolicyPoll,
    EnrollDue,
    Attempt,
    Remediated,
}

/// An event: which device (index within its shard) and what happens.
#[derive(Clone, Copy, Debug)]
pub struct Ev {
    local: u32,
    kind: Kind,
}

/// Everything every shard reads and nobody writes.
#[derive(Clone)]
struct Context {
    scenario: Scenario,
    streams: RandomStreams,
    calendar: Calendar,
    bucket: Minute,
    rows: usize,
    hours: usize,
    window: Minute,
    sample: Option<f64>,
}

/// A contiguous range of devices with their state and the counts they produced.
pub struct DeviceShard {
    ctx: Arc<Context>,
    first: u32,
    devices: Vec<Device>,
    state_delta: Vec<i64>,
    counter_delta: Vec<u64>,
    co_managed_delta: Vec<i64>,
    reasons: Vec<u64>,
    events: Vec<EventRecord>,
}

impl DeviceShard {
    fn schedule_of(&self, i: usize) -> DeviceSchedule {
        let p = &self.devices[i].profile;
        DeviceSchedule {
            device: self.first + i as u32,
            usage: p.usage,
            day_start: p.day_start,
        }
    }

    fn move_state(&mut self, now: Minute, from: LifecycleState, to: LifecycleState) {
        if from != to {
            let row = (now / self.ctx.bucket) as usize * STATES;
            self.state_delta[row + from.index()] -= 1;
            self.state_delta[row + to.index()] += 1;
            let hour = (now / 60) as usize;
            if to == LifecycleState::CoManaged {
                self.co_managed_delta[hour] += 1;
            } else if from == LifecycleState::CoManaged {
                self.co_managed_delta[hour] -= 1;
            }
        }
    }

    fn count(&mut self, now: Minute, column: usize) {
        self.counter_delta[(now / self.ctx.bucket) as usize * COUNTERS + column] += 1;
    }

    fn schedule(q: &mut EventQueue<Ev>, at: Option<Minute>, local: u32, kind: Kind) {
        if let Some(t) = at {
            q.schedule(t, Ev { local, kind });
        }
    }

    /// Draws the shard's devices, counts them, and returns how many are in the automatic
    /// enrollment scope.
    fn populate(&mut self, count: u32) -> u64 {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let pilot = match s.auto_enrollment {
            AutoEnrollment::Pilot(i) => Some(&s.collections[i]),
            _ => None,
        };
        let mut in_scope = 0;
        self.devices.reserve_exact(count as usize);
        for i in 0..count {
            let id = self.first + i;
            let profile = draw_profile(&s.fleet, s, &ctx.streams, id);
            let reason = path1_ineligibility(&profile);
            let scope = match s.auto_enrollment {
                AutoEnrollment::None => false,
                AutoEnrollment::All => true,
                AutoEnrollment::Pilot(_) => {
                    let c = pilot.expect("pilot collection resolved");
                    in_collection(&ctx.streams, id, &c.name, c.share)
                }
            };
            if reason.is_none() && scope && s.co_management_at.is_some() {
                in_scope += 1;
            }
            if let Some(r) = reason {
                self.reasons[r.index()] += 1;
            }
            let record = match ctx.sample {
                None => false,
                Some(share) => share >= 1.0 || ctx.streams.unit(id, SAMPLE, 0) < share,
            };
            self.devices.push(Device {
                profile,
                reason,
                join: JoinStage::Joined,
                enroll: EnrollStage::None,
                tries: 0,
                attempts: 0,
                in_scope: scope,
                record,
            });
        }
        in_scope
    }

    /// Sets each device's starting state and schedules its first events.
    fn start(&mut self, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        for i in 0..self.devices.len() {
            let d = self.devices[i];
            let sched = self.schedule_of(i);
            let local = i as u32;
            if d.reason.is_none() {
                if d.profile.join == JoinType::OnPremisesAd {
                    self.devices[i].join = JoinStage::NotJoined;
                    if let Some(at) = s.auto_register_at {
                        let phase = Minute::from(d.profile.day_start) % s.timing.join_task;
                        let t =
                            ctx.calendar
                                .next_online_tick(&sched, at, s.timing.join_task, phase);
                        Self::schedule(q, t, local, Kind::JoinTask);
                    }
                }
                if let (Some(at), true) = (s.co_management_at, d.in_scope) {
                    let t = ctx.calendar.next_online_tick(
                        &sched,
                        at,
                        s.timing.policy_poll,
                        Minute::from(d.profile.poll_phase),
                    );
                    Self::schedule(q, t, local, Kind::PolicyPoll);
                }
            }
            let state = self.devices[i].state();
            self.state_delta[state.index()] += 1;
            if self.devices[i].record {
                self.events.push(EventRecord {
                    device: self.first + local,
                    time: 0,
                    from: state,
                    to: state,
                    detail: Detail::Initial(d.reason),
                });
            }
        }
    }

    /// The device wants to enroll now: with the device token as soon as it is online, with the
    /// user token at the next sign-in.
    fn begin_attempt(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let sched = self.schedule_of(i);
        let d = &mut self.devices[i];
        let cal = &self.ctx.calendar;
        if d.profile.os.supports_device_token() {
            d.enroll = EnrollStage::Due;
            Self::schedule(q, cal.next_online(&sched, now), i as u32, Kind::Attempt);
        } else {
            d.enroll = EnrollStage::PendingSignIn;
            Self::schedule(q, cal.next_sign_in(&sched, now), i as u32, Kind::Attempt);
        }
    }

    fn attempt(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) -> Detail {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let id = self.first + i as u32;
        let sched = self.schedule_of(i);
        let k = u64::from(self.devices[i].attempts);
        self.devices[i].attempts = self.devices[i].attempts.saturating_add(1);
        self.count(now, Counter::EnrollmentAttempts.index());
        if ctx.streams.unit(id, ATTEMPT, k) >= s.failure_rate {
            self.devices[i].enroll = EnrollStage::Done;
            self.count(now, Counter::EnrollmentSuccesses.index());
            return Detail::Enrolled;
        }
        let error = s.errors.sample(ctx.streams.draw(id, ERROR, k));
        self.count(now, Counter::EnrollmentFailures.index());
        self.count(now, Counter::ALL.len() + error.index());
        let d = &mut self.devices[i];
        match error.retry() {
            Retry::Later => {
                d.enroll = EnrollStage::Retrying;
                d.tries += 1;
                let wait = if u32::from(d.tries) < s.timing.enrollment_tries {
                    s.timing.enrollment_retry
                } else {
                    d.tries = 0;
                    s.timing.enrollment_retry_cycle
                };
                let t = ctx.calendar.next_online(&sched, now.saturating_add(wait));
                Self::schedule(q, t, i as u32, Kind::Attempt);
            }
            Retry::AtSignIn => {
                d.enroll = EnrollStage::PendingSignIn;
                d.tries = 0;
                let t = ctx.calendar.next_sign_in(&sched, now + 1);
                Self::schedule(q, t, i as u32, Kind::Attempt);
            }
            Retry::AfterRemediation => {
                d.enroll = EnrollStage::Remediation;
                d.tries = 0;
                let t = match s.remediation[error.index()] {
                    Remediation::Never => None,
                    Remediation::At(m) => Some(m.max(now)),
                    Remediation::MeanDelay(mean) => {
                        let u = ctx.streams.unit(id, REMEDIATION, k);
                        let delay = -mean * (1.0 - u).ln();
                        Some(now.saturating_add(delay.min(f64::from(u32::MAX / 2)) as Minute))
                    }
                };
                Self::schedule(
                    q,
                    t.filter(|t| *t < ctx.calendar.horizon),
                    i as u32,
                    Kind::Remediated,
                );
            }
        }
        Detail::Failed(error)
    }
}

impl Shard for DeviceShard {
    type Event = Ev;

    fn handle(&mut self, now: Minute, ev: Ev, q: &mut EventQueue<Ev>) {
        let i = ev.local as usize;
        let before = self.devices[i].state();
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let sched = self.schedule_of(i);
        let detail = match ev.kind {
            Kind::JoinTask => {
                if self.devices[i].profile.identity.is_managed() {
                    // The task writes the certificate; Azure AD Connect syncs it at its next
                    // cycle; the task's next run after that completes the registration.
                    self.devices[i].join = JoinStage::PendingSync;
                    let synced = crate::schedule::round_up(now + 1, s.timing.aad_connect_sync, 0);
                    let phase =
                        Minute::from(self.devices[i].profile.day_start) % s.timing.join_task;
                    let t =
                        ctx.calendar
                            .next_online_tick(&sched, synced, s.timing.join_task, phase);
                    Self::schedule(q, t, ev.local, Kind::JoinComplete);
                    Detail::JoinCertificateWritten
                } else {
                    self.join_completed(now, i, q)
                }
            }
            Kind::JoinComplete => self.join_completed(now, i, q),
            Kind::PolicyPoll => {
                self.count(now, Counter::PoliciesReceived.index());
                let start = s.co_management_at.unwrap_or(0);
                let due = if now < start.saturating_add(ctx.window) && ctx.window > 0 {
                    let id = self.first + ev.local;
                    now + (ctx.streams.draw(id, SCHEDULE, 0) % u64::from(ctx.window)) as Minute
                } else {
                    now
                };
                self.devices[i].enroll = EnrollStage::Scheduled;
                Self::schedule(
                    q,
                    Some(due).filter(|t| *t < ctx.calendar.horizon),
                    ev.local,
                    Kind::EnrollDue,
                );
                Detail::PolicyReceived
            }
            Kind::EnrollDue => {
                if self.devices[i].join == JoinStage::Joined {
                    self.begin_attempt(now, i, q);
                } else {
                    self.devices[i].enroll = EnrollStage::Due;
                }
                Detail::EnrollmentDue
            }
            Kind::Attempt => self.attempt(now, i, q),
            Kind::Remediated => {
                self.count(now, Counter::Remediations.index());
                self.begin_attempt(now, i, q);
                Detail::Remediated
            }
        };
        let after = self.devices[i].state();
        self.move_state(now, before, after);
        if self.devices[i].record && (before != after || matches!(detail, Detail::Failed(_))) {
            self.events.push(EventRecord {
                device: self.first + ev.local,
                time: now,
                from: before,
                to: after,
                detail,
            });
        }
    }
}

impl DeviceShard {
    fn join_completed(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) -> Detail {
        self.devices[i].join = JoinStage::Joined;
        self.count(now, Counter::HybridJoinsCompleted.index());
        if self.devices[i].enroll == EnrollStage::Due {
            self.begin_attempt(now, i, q);
        }
        Detail::HybridJoined
    }
}

/// The enrollment randomization window for `in_scope` devices: it grows with the fleet, about
/// `per_100k` minutes per 100,000 devices, between `min` and `max`.
pub fn randomization_window(in_scope: u64, per_100k: Minute, min: Minute, max: Minute) -> Minute {
    let w = in_scope.saturating_mul(u64::from(per_100k)) / 100_000;
    (w.min(u64::from(max)) as Minute).max(min)
}

/// Runs `scenario`. `progress` is called after each simulated day with the day count and the
/// events handled so far.
pub fn run(
    scenario: &Scenario,
    options: &RunOptions,
    mut progress: impl FnMut(u32, u64),
) -> Result<RunResult, RunError> {
    let streams = RandomStreams::new(scenario.seed);
    let horizon = scenario.horizon();
    let bucket = options.bucket.minutes();
    let rows = horizon.div_ceil(bucket) as usize;
    let hours = horizon.div_ceil(60) as usize;
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    let calendar = Calendar {
        first_weekday: scenario.start_date.weekday().num_days_from_monday(),
        horizon,
        usage: scenario.usage.clone(),
        streams,
    };
    let mut ctx = Context {
        scenario: scenario.clone(),
        streams,
        calendar,
        bucket,
        rows,
        hours,
        window: 0,
        sample: match options.events {
            EventCapture::Off => None,
            EventCapture::Sample(s) => Some(s),
        },
    };
    // Shards: a fixed split of the device ids. Results do not depend on it (devices are
    // independent between barriers), only the balance between threads does.
    let parts = (threads as u32 * 4).clamp(1, 256);
    let ranges = shard_ranges(scenario.fleet.devices, parts);

    // Pass 1: draw the fleet and count the devices in scope, which sets the window.
    let make = |ctx: Arc<Context>| -> Vec<DeviceShard> {
        ranges
            .iter()
            .map(|r| DeviceShard {
                ctx: Arc::clone(&ctx),
                first: r.start,
                devices: Vec::new(),
                state_delta: vec![0; (ctx.rows + 1) * STATES],
                counter_delta: vec![0; (ctx.rows + 1) * COUNTERS],
                co_managed_delta: vec![0; ctx.hours + 1],
                reasons: vec![0; IneligibleReason::ALL.len()],
                events: Vec::new(),
            })
            .collect()
    };
    let provisional = Arc::new(ctx.clone());
    let mut engine = Engine::new(make(provisional), threads)
        .map_err(|source| RunError::Threads { threads, source })?;
    let lens: Vec<u32> = ranges.iter().map(|r| r.len() as u32).collect();
    let in_scope: u64 = engine
        .par_each(|i, shard, _| shard.populate(lens[i]))
        .into_iter()
        .sum();
    let t = &scenario.timing;
    ctx.window = randomization_window(
        in_scope,
        t.randomization_per_100k,
        t.randomization_min,
        t.randomization_max,
    );
    let ctx = Arc::new(ctx);
    engine.par_each(|_, shard, q| {
        shard.ctx = Arc::clone(&ctx);
        shard.start(q);
    });

    for day in 0..scenario.days {
        engine.advance_to((day + 1) * DAY);
        progress(day + 1, engine.events_handled());
    }
    let events_handled = engine.events_handled();
    let mut breakdown = breakdown_rows(scenario);
    let slots = breakdown.len();
    let tables = engine.par_each(|_, shard, _| {
        let mut t = vec![[0u64; STATES]; slots];
        for d in &shard.devices {
            let st = d.state().index();
            for slot in breakdown_slots(&d.profile) {
                t[slot][st] += 1;
            }
        }
        t
    });
    for t in tables {
        for (row, counts) in breakdown.iter_mut().zip(t) {
            row.states.iter_mut().zip(counts).for_each(|(a, b)| *a += b);
        }
    }
    let shards = engine.into_shards();

    // Reduce in shard order, over integers.
    let mut state_delta = vec![0i64; (rows + 1) * STATES];
    let mut counter_delta = vec![0u64; (rows + 1) * COUNTERS];
    let mut co_delta = vec![0i64; hours + 1];
    let mut reasons = vec![0u64; IneligibleReason::ALL.len()];
    let mut events = Vec::new();
    for s in &shards {
        state_delta
            .iter_mut()
            .zip(&s.state_delta)
            .for_each(|(a, b)| *a += b);
        counter_delta
            .iter_mut()
            .zip(&s.counter_delta)
            .for_each(|(a, b)| *a += b);
        co_delta
            .iter_mut()
            .zip(&s.co_managed_delta)
            .for_each(|(a, b)| *a += b);
        reasons
            .iter_mut()
            .zip(&s.reasons)
            .for_each(|(a, b)| *a += b);
    }
    for s in shards {
        events.extend(s.events);
    }
    events.sort_by_key(|e| (e.time, e.device));

    let mut states = Vec::with_capacity(rows);
    let mut counters = Vec::with_capacity(rows);
    let mut st = [0i64; STATES];
    let mut co = [0u64; COUNTERS];
    for r in 0..rows {
        for k in 0..STATES {
            st[k] += state_delta[r * STATES + k];
        }
        for k in 0..COUNTERS {
            co[k] += counter_delta[r * COUNTERS + k];
        }
        states.push(st.map(|x| u64::try_from(x).expect("state counts are never negative")));
        counters.push(co);
    }
    let mut acc = 0i64;
    let co_managed_hourly = co_delta[..hours]
        .iter()
        .map(|d| {
            acc += d;
            acc as u64
        })
        .collect();
    let devices = u64::from(scenario.fleet.devices);
    Ok(RunResult {
        bucket,
        devices,
        eligible: devices - reasons.iter().sum::<u64>(),
        reasons,
        states,
        counters,
        co_managed_hourly,
        events,
        events_handled,
        randomization_window: ctx.window,
        breakdown,
    })
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The worker threads could not be started.
    #[error("could not start {threads} worker threads: {source}; try a smaller --threads")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// The thread pool's error.
        source: fleetsim_engine::ThreadPoolBuildError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LifecycleState as S;
    use proptest::prelude::*;

    /// A scenario of one kind of device: 1,000 always-on Windows 11 clients, on-premises AD
    /// joined, with the given identity option and extra TOML.
    fn uniform(identity: &str, extra: &str) -> Scenario {
        Scenario::from_toml(&format!(
            r#"name = "t"
start_date = 2027-01-04
days = 14
[fleet]
devices = 1000
licensed = 1.0
third_party_mdm = 0.0
os = {{ win11_23h2 = 1.0 }}
join = {{ on_premises_ad = 1.0 }}
configmgr_client = {{ on_premises_ad = 1.0 }}
identity = {{ {identity} = 1.0 }}
location = {{ corporate_network = 1.0 }}
usage = {{ always_on = 1.0 }}
{extra}"#
        ))
        .unwrap()
    }

    fn hourly(s: &Scenario) -> RunResult {
        run(
            s,
            &RunOptions {
                threads: 2,
                bucket: Bucket::Hour,
                events: EventCapture::Off,
            },
            |_, _| {},
        )
        .unwrap()
    }

    fn at_hour(r: &RunResult, h: usize, st: S) -> u64 {
        r.states[h - 1][st.index()]
    }

    #[test]
    fn federated_devices_join_at_the_first_task_run() {
        let r = hourly(&uniform("federated", ""));
        // The join task runs hourly at each device's phase: all joined within the first hour.
        assert_eq!(at_hour(&r, 1, S::Eligible), 1000);
        assert_eq!(r.counters[0][Counter::HybridJoinsCompleted.index()], 1000);
    }

    #[test]
    fn managed_devices_wait_for_the_sync_then_the_next_task_run() {
        let r = hourly(&uniform("password_hash_sync", ""));
        // First task run within 60 min writes the certificate; the sync follows within 30 min;
        // the next task run within another 60 min: nobody joins in hour 1, everyone by hour 3.
        assert_eq!(at_hour(&r, 1, S::Eligible), 0);
        assert!(at_hour(&r, 1, S::HybridJoinPendingSync) > 0);
        assert_eq!(at_hour(&r, 3, S::Eligible), 1000);
    }

    #[test]
    fn without_the_client_setting_nobody_joins() {
        let r = hourly(&uniform(
            "federated",
            "[hybrid_join]\nauto_register = false\n[co_management]\nenable_date = 2027-01-04\n",
        ));
        assert_eq!(
            r.states.last().unwrap()[S::AwaitingHybridJoin.index()],
            1000
        );
        assert_eq!(r.states.last().unwrap()[S::CoManaged.index()], 0);
    }

    #[test]
    fn enrollment_spreads_over_the_randomization_window() {
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n[timing]\nrandomization_min_minutes = 1440\n",
        );
        let r = hourly(&s);
        assert_eq!(r.randomization_window, 1440);
        // Policy within 1 h, enrollment uniformly within the next 24 h: roughly half by hour 13,
        // everybody by hour 26, nobody before the policy.
        let half = at_hour(&r, 13, S::CoManaged);
        assert!((350..=650).contains(&half), "{half}");
        assert_eq!(at_hour(&r, 26, S::CoManaged), 1000);
        assert_eq!(
            r.counters.last().unwrap()[Counter::EnrollmentAttempts.index()],
            1000
        );
    }

    #[test]
    fn the_window_grows_with_the_fleet() {
        assert_eq!(randomization_window(100_000, 4320, 60, 7200), 4320);
        assert_eq!(randomization_window(1_000_000, 4320, 60, 7200), 7200);
        assert_eq!(randomization_window(100, 4320, 60, 7200), 60);
    }

    #[test]
    fn user_token_devices_wait_for_sign_in() {
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n",
        )
        .with_os("win10_1709");
        let r = hourly(&s);
        // Always-on users sign in at 08:00 on weekdays: nobody enrolls before hour 9 of day 1.
        assert_eq!(at_hour(&r, 8, S::CoManaged), 0);
        assert!(at_hour(&r, 8, S::PendingUserSignIn) > 0);
        assert_eq!(at_hour(&r, 24 + 9, S::CoManaged), 1000);
    }

    #[test]
    fn permanent_errors_wait_for_remediation() {
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x80180003\" = 1.0 }\n[remediation]\ndefault = { never = true }\n",
        );
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::AwaitingRemediation.index()], 1000);
        assert_eq!(
            r.counters.last().unwrap()
                [Counter::ALL.len() + EnrollmentError::UserNotAuthorized.index()],
            1000
        );
    }

    #[test]
    fn transient_errors_retry_three_times_then_wait_a_day() {
        let mut s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x80192EE2\" = 1.0 }\n",
        );
        s.set_days(3).unwrap();
        let r = hourly(&s);
        let attempts = |h: usize| r.counters[h - 1][Counter::EnrollmentAttempts.index()];
        // Within the first day each device makes one round of 3 tries 15 min apart, then waits
        // 1,440 min: exactly 3,000 tries by hour 24, 6,000 by hour 48.
        assert_eq!(attempts(23), 3000);
        assert_eq!(attempts(47), 6000);
        assert_eq!(r.states.last().unwrap()[S::Enrolling.index()], 1000);
    }

    #[test]
    fn pilot_scope_enrolls_only_the_collection() {
        let s = uniform(
            "federated",
            "[[collections]]\nname = \"Pilot\"\nshare = 0.1\n[co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"pilot\"\npilot_collection = \"Pilot\"\n[enrollment]\nfailure_rate = 0.0\n",
        );
        let r = hourly(&s);
        let co = r.states.last().unwrap()[S::CoManaged.index()];
        assert!((60..=140).contains(&co), "{co}");
        assert_eq!(r.states.last().unwrap()[S::Eligible.index()], 1000 - co);
    }

    impl Scenario {
        fn with_os(mut self, os: &str) -> Self {
            let os = crate::domain::OsRelease::from_name(os).unwrap();
            self.fleet.os = crate::scenario::Mix::new(&[(os, 1.0)]).unwrap();
            self
        }
    }

    fn last_states(r: &RunResult) -> &[u64; STATES] {
        r.states.last().unwrap()
    }

    fn arb_share() -> impl Strategy<Value = f64> {
        (0u32..=100).prop_map(|x| f64::from(x) / 100.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn invariants_hold_for_any_scenario(
            devices in 1u32..400,
            days in 1u32..25,
            seed in 0u64..1000,
            failure in arb_share(),
            licensed in arb_share(),
            presence in arb_share(),
            pilot in proptest::bool::ANY,
            enable_day in 0u32..10,
            threads in 1usize..4,
        ) {
            let scope = if pilot { "auto_enrollment = \"pilot\"\npilot_collection = \"P\"" } else { "auto_enrollment = \"all\"" };
            let s = Scenario::from_toml(&format!(
                "name = \"p\"\nseed = {seed}\nstart_date = 2027-01-0{}\ndays = {days}\n[fleet]\ndevices = {devices}\nlicensed = {licensed}\n[[collections]]\nname = \"P\"\nshare = 0.3\n[co_management]\nenable_date = 2027-01-{:02}\n{scope}\n[enrollment]\nfailure_rate = {failure}\n[usage]\nlaptop_presence = {presence}\n",
                1 + seed % 7, 1 + enable_day,
            )).unwrap();
            let r = run(&s, &RunOptions { threads, bucket: Bucket::Hour, events: EventCapture::Sample(1.0) }, |_, _| {}).unwrap();
            prop_assert_eq!(r.states.len(), days as usize * 24);
            let mut prev = [0u64; COUNTERS];
            for (st, c) in r.states.iter().zip(&r.counters) {
                prop_assert_eq!(st.iter().sum::<u64>(), u64::from(devices));
                prop_assert!(st[S::CoManaged.index()] <= r.eligible);
                prop_assert!(c.iter().zip(prev.iter()).all(|(a, b)| a >= b));
                prop_assert_eq!(c[Counter::EnrollmentAttempts.index()], c[Counter::EnrollmentSuccesses.index()] + c[Counter::EnrollmentFailures.index()]);
                prop_assert_eq!(c[Counter::EnrollmentSuccesses.index()], st[S::CoManaged.index()]);
                let by_code: u64 = c[Counter::ALL.len()..].iter().sum();
                prop_assert_eq!(by_code, c[Counter::EnrollmentFailures.index()]);
                prev = *c;
            }
            prop_assert_eq!(r.eligible + r.reasons.iter().sum::<u64>(), u64::from(devices));
            for dim in ["os", "join", "identity", "location", "usage", "site"] {
                let mut by_state = [0u64; STATES];
                for row in r.breakdown.iter().filter(|b| b.dimension == dim) {
                    by_state.iter_mut().zip(row.states).for_each(|(a, b)| *a += b);
                }
                prop_assert_eq!(&by_state, last_states(&r));
            }
            prop_assert!(r.co_managed_hourly.windows(2).all(|w| w[0] <= w[1]));
            // Events are in time order and replay to the final states.
            prop_assert!(r.events.windows(2).all(|w| (w[0].time, w[0].device) <= (w[1].time, w[1].device)));
            let mut replay = [0i64; STATES];
            for e in &r.events {
                if matches!(e.detail, Detail::Initial(_)) { replay[e.to.index()] += 1; } else { replay[e.from.index()] -= 1; replay[e.to.index()] += 1; }
            }
            let last = r.states.last().unwrap();
            prop_assert!(replay.iter().zip(last.iter()).all(|(a, b)| *a == *b as i64));
        }
    }
}
