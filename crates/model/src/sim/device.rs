//! The device record and the shard's bookkeeping: a device's phase and stages and the
//! lifecycle state they mean, the events, the context every shard reads, the shard with its
//! per-row deltas, and the helpers every process uses to move a state, count, schedule and
//! record.
//!
//! Leaves to others: every rule (the process modules) and the dispatch of events to them
//! ([`super`]).

use super::results::*;
use crate::domain::{
    CoPath, EnrollmentError, IneligibleReason, LifecycleState, Prerequisite, Slider, Workload,
};
use crate::fleet::Profile;
use crate::scenario::{Minute, Mix, Scenario};
use crate::schedule::{Calendar, DeviceSchedule};
use fleetsim_engine::{EventQueue, RandomStreams};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum JoinStage {
    NotJoined,
    PendingSync,
    Joined,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum EnrollStage {
    None,
    Scheduled,
    Due,
    PendingSignIn,
    Retrying,
    Remediation,
    Done,
}

/// Where a device is, beyond Path 1's join and enrollment stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    NotArrived,
    Ineligible,
    Coexistence,
    AwaitingMdmMigration,
    AwaitingOsUpgrade,
    AwaitingClientPush,
    Path1,
    Provisioning,
    IntuneOnly,
    IntuneOnlyBlocked,
    InstallQueued,
    Installing,
    InstallFailed,
    AwaitingPolicy,
    CoManaged,
}

/// A device's whole state: its profile and where it stands. When the OS upgrade program and
/// client push reach it, which few devices need, are in [`DeviceShard::program_times`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Device {
    pub(super) profile: Profile,
    pub(super) reason: Option<IneligibleReason>,
    pub(super) phase: Phase,
    pub(super) enroll: EnrollStage,
    pub(super) path: CoPath,
    pub(super) tries: u8,
    /// Its hybrid join stage and its yes/no marks in one byte (read and set through
    /// [`Device::join`], [`Device::in_scope`] and the like).
    pub(super) bits: u8,
    pub(super) attempts: u16,
    pub(super) installs: u16,
    /// When it enrolled in Intune (Path 2; sets its check-in schedule).
    pub(super) intune_at: Minute,
    /// Managed-domain join: the earliest minute Azure AD Connect can have exported its
    /// certificate (its place in the export queue).
    pub(super) export_at: Minute,
    /// Collections it belongs to (bit per collection).
    pub(super) member: u32,
    /// Workloads whose authority is Intune (bit per workload).
    pub(super) authority: u8,
    /// Workloads with an active incident.
    pub(super) incident: u8,
    /// Endpoint Protection / device configuration policies left from a pilot it left.
    pub(super) sticky: u8,
    /// Lasting enrollment error causes and the device token's fallback (`CAUSE_*` bits).
    pub(super) causes: u8,
}

// The record's size is most of a run's memory (bytes per device): keep it from growing unseen.
const _: () = assert!(std::mem::size_of::<Device>() <= 40);

/// [`Device::bits`]: it is in the automatic enrollment's scope.
const IN_SCOPE: u8 = 1;
/// Its events are recorded (events.csv sample).
const RECORD: u8 = 1 << 1;
/// A workload reconciliation is scheduled.
const RECONCILE_PENDING: u8 = 1 << 2;
/// It entered Path 1 after co-management was enabled (brought in by a program): not part of
/// the first wave, so it enrolls at its first policy poll, without randomization.
const LATE: u8 = 1 << 3;
/// Into co-management: its Enrollment Status Page waits for the client install.
const IN_ESP: u8 = 1 << 4;
/// The hybrid join stage's place ([`JoinStage`] as a number, two bits).
const JOIN_SHIFT: u32 = 5;

/// Reads and sets one of [`Device::bits`]' marks.
macro_rules! marks {
    ($($(#[$doc:meta])* $get:ident, $set:ident, $bit:ident;)*) => {
        impl Device {
            $(
                $(#[$doc])*
                #[inline]
                pub(super) fn $get(&self) -> bool {
                    self.bits & $bit != 0
                }
                #[inline]
                pub(super) fn $set(&mut self, on: bool) {
                    self.bits = if on { self.bits | $bit } else { self.bits & !$bit };
                }
            )*
        }
    };
}

marks! {
    /// In the automatic enrollment's scope.
    in_scope, set_in_scope, IN_SCOPE;
    /// Its events are recorded.
    record, set_record, RECORD;
    /// A workload reconciliation is scheduled.
    reconcile_pending, set_reconcile_pending, RECONCILE_PENDING;
    /// Entered Path 1 after co-management was enabled.
    late, set_late, LATE;
    /// Its Enrollment Status Page waits for the client install.
    in_esp, set_in_esp, IN_ESP;
}

impl Device {
    /// Its hybrid join stage.
    #[inline]
    pub(super) fn join(&self) -> JoinStage {
        match (self.bits >> JOIN_SHIFT) & 3 {
            0 => JoinStage::NotJoined,
            1 => JoinStage::PendingSync,
            _ => JoinStage::Joined,
        }
    }

    #[inline]
    pub(super) fn set_join(&mut self, stage: JoinStage) {
        self.bits = (self.bits & !(3 << JOIN_SHIFT)) | ((stage as u8) << JOIN_SHIFT);
    }
}

impl Device {
    pub(super) fn state(&self) -> Option<LifecycleState> {
        use LifecycleState as S;
        Some(match self.phase {
            Phase::NotArrived => return None,
            Phase::Ineligible => S::Ineligible,
            Phase::Coexistence => S::Coexistence,
            Phase::AwaitingMdmMigration => S::AwaitingMdmMigration,
            Phase::AwaitingOsUpgrade => S::AwaitingOsUpgrade,
            Phase::AwaitingClientPush => S::AwaitingClientPush,
            Phase::Provisioning => S::AutopilotProvisioning,
            Phase::IntuneOnly => S::IntuneOnly,
            Phase::IntuneOnlyBlocked => S::IntuneOnlyBlocked,
            Phase::InstallQueued => S::ClientInstallQueued,
            Phase::Installing => S::ClientInstalling,
            Phase::InstallFailed => S::ClientInstallFailed,
            Phase::AwaitingPolicy => S::AwaitingCoManagementPolicy,
            Phase::CoManaged => S::CoManaged,
            Phase::Path1 => match (self.enroll, self.join()) {
                (EnrollStage::Done, _) => S::CoManaged,
                (EnrollStage::Remediation, _) => S::AwaitingRemediation,
                (EnrollStage::Retrying, _) => S::Enrolling,
                (EnrollStage::PendingSignIn, _) => S::PendingUserSignIn,
                (EnrollStage::Scheduled, _) | (EnrollStage::Due, JoinStage::Joined) => S::Scheduled,
                (_, JoinStage::NotJoined) => S::AwaitingHybridJoin,
                (_, JoinStage::PendingSync) => S::HybridJoinPendingSync,
                (_, JoinStage::Joined) => S::Eligible,
            },
        })
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
    JoinTask,
    JoinComplete,
    PolicyPoll,
    EnrollDue,
    Attempt,
    Remediated,
    Arrive,
    EspDone(EspOutcome),
    ClientApp,
    InstallDone,
    Registered,
    CoManagementPolicy,
    Pushed,
    Upgraded,
    Migrated,
    Reconcile,
    IncidentStart(Workload),
    IncidentDetected(Workload),
    IncidentEnd(Workload),
}

/// An event: which device (index within its shard) and what happens.
#[derive(Clone, Copy, Debug)]
pub struct Ev {
    pub(super) local: u32,
    pub(super) kind: Kind,
}

/// Everything every shard reads and nobody writes while events run: the scenario and the
/// tables drawn from it. The engine holds the one copy and lends it to every shard
/// ([`Shard::Context`](fleetsim_engine::Shard::Context)).
#[derive(Clone)]
pub struct Context {
    pub(super) scenario: Scenario,
    pub(super) streams: RandomStreams,
    pub(super) calendar: Calendar,
    pub(super) bucket: Minute,
    pub(super) rows: usize,
    pub(super) hours: usize,
    pub(super) sites: usize,
    pub(super) window: Minute,
    /// The longest stretch the shards run without a barrier when nothing needs one (whole
    /// days; see `span_for` in `run`).
    pub(super) span: Minute,
    /// Rows a shard's per-row tables hold (row `r` at `r % ring`): the rows one step of the
    /// run's loop can touch (a span at most), and one either side.
    pub(super) ring: usize,
    /// In a span, a shard's marks leave its requests to the gateway and hold it at the first
    /// instant where one waits ([`super::gateway::Spans::Held`]); otherwise they grant them
    /// at once ([`super::gateway::Spans::Optimistic`]).
    pub(super) hold_requests: bool,
    pub(super) sample: Option<f64>,
    /// When co-management is effectively enabled (None: never, or a blocker stops it).
    pub(super) co_management_at: Option<Minute>,
    /// Internet clients reach their site: the gateway has capacity and management points.
    pub(super) gateway_serves: bool,
    /// The first missing Path 2 prerequisite.
    pub(super) path2_blocker: Option<Prerequisite>,
    /// Every client install fails (command line over 1,024 characters).
    pub(super) install_always_fails: bool,
    /// Per site: why its devices cannot be co-managed.
    pub(super) site_reason: Vec<Option<IneligibleReason>>,
    /// Per site: whether Autopilot straight into co-management applies (2111+).
    pub(super) site_into_co_management: Vec<bool>,
    /// Per site: the effective policy poll interval.
    pub(super) site_poll: Vec<Minute>,
    /// Per site: for sites at 1902 or older, the one pilot collection of every workload.
    pub(super) site_shared_pilot: Vec<Option<usize>>,
    /// Per site: the workloads its version offers (bit per workload).
    pub(super) site_workloads: Vec<u8>,
    /// The per-attempt error mix without the errors that need a user (device-token
    /// enrollments), and the share of failures it keeps; `None` if every error needs a user.
    pub(super) device_token_errors: Option<(Mix<EnrollmentError>, f64)>,
}

/// Program positions a shard starts from: devices before it in id order.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Ranks {
    pub(super) push: u64,
    pub(super) sync: u64,
    pub(super) upgrade: u64,
    pub(super) legacy: u64,
    pub(super) migration: u64,
}

impl Context {
    /// The device's policy poll interval at its site and its phase in it: the phase drawn in
    /// the base interval, scaled to the site's (possibly stretched) interval so that a
    /// stretched site's devices still poll spread over the whole interval.
    #[inline]
    pub(super) fn poll_of(&self, p: &Profile) -> (Minute, Minute) {
        let poll = self.site_poll[usize::from(p.site)];
        let base = self.scenario.timing.policy_poll.max(1);
        let phase = u64::from(p.poll_phase) * u64::from(poll) / u64::from(base);
        (poll, (phase as Minute) % poll.max(1))
    }
}

/// A contiguous range of devices with their state and the counts they produced.
pub struct DeviceShard {
    pub(super) first: u32,
    pub(super) devices: Vec<Device>,
    /// The few devices the OS upgrade program or client push reaches: (local index, when the
    /// upgrade program reaches it, when client push does; `u32::MAX`: never), by local index.
    pub(super) programs: Vec<(u32, Minute, Minute)>,
    /// Per-row tables (`state_delta`, `counter_delta`, `wl_delta`, `ready_delta`,
    /// `incident_delta`, `collection_delta`, `configmgr_only_delta`) of [`Context::ring`]
    /// rows each ([`DeviceShard::row`]); the run's loop moves finished rows into its totals.
    pub(super) state_delta: Vec<i64>,
    pub(super) counter_delta: Vec<u64>,
    pub(super) co_managed_delta: [Vec<i64>; PATHS],
    /// Per hour: change of co-managed devices among those present at the start.
    pub(super) co_existing_delta: Vec<i64>,
    pub(super) events: Vec<EventRecord>,
    /// Gateway requests since the last barrier: (time, global id).
    pub(super) gateway_requests: Vec<(Minute, u32)>,
    /// Barrier instants passed without a barrier (a span run with
    /// [`Engine::advance_marked`](fleetsim_engine::Engine::advance_marked)): per instant, the
    /// internet clients online and the requests granted there (sorted), for the gateway to
    /// replay in time order.
    pub(super) marks: Vec<super::gateway::Mark>,
    /// Its gateway requests not granted yet.
    pub(super) waiting: u32,
    /// Internet clients holding a notification channel, and when they are online today.
    pub(super) channels: super::gateway::Channels,
    /// The workload sliders as the shard knows them (set at barriers).
    pub(super) sliders: Sliders,
    /// Per row and workload: change of devices with Intune authority.
    pub(super) wl_delta: Vec<i64>,
    /// Per row: change of Autopatch-ready devices and of active incidents.
    pub(super) ready_delta: Vec<i64>,
    pub(super) incident_delta: Vec<i64>,
    /// Per row and collection: change of co-managed members.
    pub(super) collection_delta: Vec<i64>,
    /// Per row: change of devices with the ConfigMgr client that are not in Intune (what
    /// tenant attach adds to the Intune admin center).
    pub(super) configmgr_only_delta: Vec<i64>,
    /// Running totals the strategy's gates read at barriers.
    pub(super) live: Live,
}

/// Running totals of a shard, summed at barriers for the gates.
#[derive(Clone, Debug, Default)]
pub(super) struct Live {
    pub(super) co_managed: u64,
    pub(super) collection_co: Vec<u64>,
    pub(super) collection_members: Vec<u64>,
    pub(super) wl: [u64; WORKLOADS],
    pub(super) switched: [u64; WORKLOADS],
    pub(super) detected: [u64; WORKLOADS],
    pub(super) attempts: u64,
    pub(super) failures: u64,
    pub(super) tickets: u64,
    pub(super) incidents_active: u64,
    /// Compliance device-minutes at Intune, accounted to the horizon when a switch happens.
    pub(super) ca_minutes: i64,
}

impl Live {
    pub(super) fn merge(&mut self, o: &Live) {
        self.co_managed += o.co_managed;
        for (a, b) in self.collection_co.iter_mut().zip(&o.collection_co) {
            *a += b;
        }
        for (a, b) in self
            .collection_members
            .iter_mut()
            .zip(&o.collection_members)
        {
            *a += b;
        }
        for w in 0..WORKLOADS {
            self.wl[w] += o.wl[w];
            self.switched[w] += o.switched[w];
            self.detected[w] += o.detected[w];
        }
        self.attempts += o.attempts;
        self.failures += o.failures;
        self.tickets += o.tickets;
        self.incidents_active += o.incidents_active;
        self.ca_minutes += o.ca_minutes;
    }
}

/// The collections (indexes) set in a membership mask.
pub(super) fn members(mask: u32) -> impl Iterator<Item = usize> {
    // One step per set bit, lowest first (the order of testing every bit).
    let mut rest = mask;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let c = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            c
        })
    })
}

impl DeviceShard {
    /// When the OS upgrade program and client push reach device `i` (`u32::MAX`: never).
    pub(super) fn program_times(&self, i: usize) -> (Minute, Minute) {
        let local = i as u32;
        self.programs
            .binary_search_by_key(&local, |p| p.0)
            .map_or((Minute::MAX, Minute::MAX), |k| {
                (self.programs[k].1, self.programs[k].2)
            })
    }

    pub(super) fn schedule_of(&self, i: usize) -> DeviceSchedule {
        let p = &self.devices[i].profile;
        DeviceSchedule {
            device: self.first + i as u32,
            usage: p.usage,
            day_start: p.day_start,
        }
    }

    pub(super) fn move_state(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        from: Option<LifecycleState>,
        to: Option<LifecycleState>,
    ) {
        if from == to {
            return;
        }
        let d = &self.devices[i];
        let brow = self.row(ctx, now);
        let row = (brow * ctx.sites + usize::from(d.profile.site)) * STATES;
        let hour = (now / 60) as usize;
        let path = d.path.index();
        let existing = (self.first + i as u32) < ctx.scenario.fleet.devices;
        let client = d.profile.client;
        // A device waiting for client push has none; one that moves on from there has just
        // got it, so its earlier state never counted.
        let configmgr_only = |st: LifecycleState| {
            client && !st.in_intune() && st != LifecycleState::AwaitingClientPush
        };
        let member = d.member;
        let crow = brow * ctx.scenario.collections.len();
        if let Some(f) = from {
            self.configmgr_only_delta[brow] -= i64::from(configmgr_only(f));
            self.state_delta[row + f.index()] -= 1;
            if f == LifecycleState::CoManaged {
                self.co_managed_delta[path][hour] -= 1;
                self.co_existing_delta[hour] -= i64::from(existing);
                self.live.co_managed -= 1;
                for c in members(member) {
                    self.live.collection_co[c] -= 1;
                    self.collection_delta[crow + c] -= 1;
                }
            }
        }
        if let Some(t) = to {
            self.configmgr_only_delta[brow] += i64::from(configmgr_only(t));
            self.state_delta[row + t.index()] += 1;
            if t == LifecycleState::CoManaged {
                self.co_managed_delta[path][hour] += 1;
                self.co_existing_delta[hour] += i64::from(existing);
                self.live.co_managed += 1;
                for c in members(member) {
                    self.live.collection_co[c] += 1;
                    self.collection_delta[crow + c] += 1;
                }
            }
        }
    }

    pub(super) fn count(&mut self, ctx: &Context, now: Minute, counter: Counter) {
        let row = self.row(ctx, now);
        self.counter_delta[row * COUNTERS + counter.index()] += 1;
    }

    /// The place in the shard's per-row tables of the row of `now`: they hold the last
    /// [`Context::ring`] rows, the run's loop folding finished rows into its totals.
    #[inline]
    pub(super) fn row(&self, ctx: &Context, now: Minute) -> usize {
        (now / ctx.bucket) as usize % ctx.ring
    }

    pub(super) fn schedule(q: &mut EventQueue<Ev>, at: Option<Minute>, local: u32, kind: Kind) {
        if let Some(t) = at {
            q.schedule(t, Ev { local, kind });
        }
    }

    pub(super) fn record(
        &mut self,
        i: usize,
        now: Minute,
        before: Option<LifecycleState>,
        after: Option<LifecycleState>,
        detail: Detail,
    ) {
        if !self.devices[i].record() {
            return;
        }
        let (Some(to), from) = (after, before) else {
            return;
        };
        // Failures and completed hybrid joins are recorded even when the state shows no change
        // (a device that joins while `scheduled` stays `scheduled`), so that every join time
        // can be read back.
        let changed = before != after
            || matches!(
                detail,
                Detail::Failed(_) | Detail::ClientInstall(false) | Detail::HybridJoined
            );
        if changed {
            self.events.push(EventRecord {
                device: self.first + i as u32,
                time: now,
                from: from.unwrap_or(to),
                to,
                detail,
            });
        }
    }
}

/// The workload sliders, the pilot collection each uses and each policy's version (a rollback
/// fixes the policy: version 1 and later cause no incidents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sliders {
    /// Per workload.
    pub slider: [Slider; WORKLOADS],
    /// Per workload: the pilot collection (index) while at Pilot Intune.
    pub pilot: [Option<usize>; WORKLOADS],
    /// Per workload: the policy's version.
    pub version: [u8; WORKLOADS],
}

impl Default for Sliders {
    fn default() -> Self {
        Self {
            slider: [Slider::ConfigMgr; WORKLOADS],
            pilot: [None; WORKLOADS],
            version: [0; WORKLOADS],
        }
    }
}
