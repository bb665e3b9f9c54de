//! The rollout as a simulation: every device's way to co-management, replayed event by event
//! on the engine, and the counts a run produces.
//!
//! This module is the core: the device record ([`Device`], its phase and stages), the events
//! ([`Ev`]), the context every shard reads, the shard's bookkeeping (state moves, counters,
//! recorded events) and the dispatch that routes each event kind to the process that owns it.
//! The rules live in the process modules:
//!
//! | module | owns |
//! |---|---|
//! | [`identity`] | hybrid Azure AD join, Azure AD Connect sync |
//! | [`enrollment`] | co-management policy, schedule and randomization window, attempts, errors, remediation |
//! | [`provisioning`] | new Path 2 devices, Autopilot and the Enrollment Status Page |
//! | [`client_install`] | the ConfigMgr client as an Intune app, install, registration |
//! | [`gateway`] | the cloud management gateway's capacity and queue |
//! | [`programs`] | client push, OS upgrade, MDM migration; routing a device onto its path |
//! | [`workloads`] | sliders, pilots, policy landing, incidents |
//! | [`rollout`] | the strategy's steps, gates and decisions |
//! | [`results`] | what a run returns and how it is asked for |
//! | [`run`] | drawing the fleet, the barrier loop, reducing the shards' counts |

use crate::domain::{CoPath, IneligibleReason, LifecycleState, Prerequisite, Workload};
use crate::fleet::Profile;
use crate::scenario::{Minute, Scenario};
use crate::schedule::{Calendar, DeviceSchedule};
use fleetsim_engine::{EventQueue, RandomStreams, Shard};
use std::sync::Arc;

pub mod client_install;
pub mod enrollment;
pub mod gateway;
pub mod identity;
pub mod programs;
pub mod provisioning;
pub mod results;
pub mod rollout;
pub mod run;
#[cfg(test)]
mod tests;
pub mod workloads;

pub use crate::schedule::site_poll_interval;
pub use client_install::intune_check_in;
pub use enrollment::randomization_window;
pub use provisioning::EspOutcome;
pub use results::{
    BreakdownRow, Bucket, COUNTERS, Counter, Detail, EventCapture, EventRecord, GatewayRow,
    RunOptions, RunResult, STATES, counter_names,
};
pub use rollout::{Decision, DecisionSource};
pub use run::{RunError, check, run};
pub use workloads::Sliders;

use gateway::*;
use results::*;
use rollout::*;
use workloads::*;

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

/// Where a device is, beyond Path 1's join and enrollment stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    NotArrived,
    Ineligible,
    Coexistence,
    AwaitingOsUpgrade,
    AwaitingClientPush,
    Path1,
    Provisioning,
    ProvisioningFailed,
    IntuneOnly,
    IntuneOnlyBlocked,
    InstallQueued,
    Installing,
    InstallFailed,
    AwaitingPolicy,
    CoManaged,
}

/// A device's whole state: its profile and where it stands.
#[derive(Clone, Copy, Debug)]
struct Device {
    profile: Profile,
    reason: Option<IneligibleReason>,
    phase: Phase,
    join: JoinStage,
    enroll: EnrollStage,
    path: CoPath,
    tries: u8,
    in_scope: bool,
    record: bool,
    attempts: u16,
    installs: u16,
    /// When it enrolled in Intune (Path 2; sets its check-in schedule).
    intune_at: Minute,
    /// When the OS upgrade program reaches it (`u32::MAX`: never).
    upgrade_at: Minute,
    /// When client push reaches it (`u32::MAX`: never).
    push_at: Minute,
    /// Collections it belongs to (bit per collection).
    member: u32,
    /// Workloads whose authority is Intune (bit per workload).
    authority: u8,
    /// Workloads with an active incident.
    incident: u8,
    /// Endpoint Protection / device configuration policies left from a pilot it left.
    sticky: u8,
    /// A workload reconciliation is scheduled.
    reconcile_pending: bool,
}

impl Device {
    fn state(&self) -> Option<LifecycleState> {
        use LifecycleState as S;
        Some(match self.phase {
            Phase::NotArrived => return None,
            Phase::Ineligible => S::Ineligible,
            Phase::Coexistence => S::Coexistence,
            Phase::AwaitingOsUpgrade => S::AwaitingOsUpgrade,
            Phase::AwaitingClientPush => S::AwaitingClientPush,
            Phase::Provisioning => S::AutopilotProvisioning,
            Phase::ProvisioningFailed => S::ProvisioningFailed,
            Phase::IntuneOnly => S::IntuneOnly,
            Phase::IntuneOnlyBlocked => S::IntuneOnlyBlocked,
            Phase::InstallQueued => S::ClientInstallQueued,
            Phase::Installing => S::ClientInstalling,
            Phase::InstallFailed => S::ClientInstallFailed,
            Phase::AwaitingPolicy => S::AwaitingCoManagementPolicy,
            Phase::CoManaged => S::CoManaged,
            Phase::Path1 => match (self.enroll, self.join) {
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
enum Kind {
    JoinTask,
    JoinComplete,
    PolicyPoll,
    EnrollDue,
    Attempt,
    Remediated,
    Arrive,
    EspDone(EspOutcome),
    Reprovision,
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
    sites: usize,
    window: Minute,
    sample: Option<f64>,
    /// When co-management is effectively enabled (None: never, or a blocker stops it).
    co_management_at: Option<Minute>,
    /// The first missing Path 2 prerequisite.
    path2_blocker: Option<Prerequisite>,
    /// Every client install fails (command line over 1,024 characters).
    install_always_fails: bool,
    /// Per site: why its devices cannot be co-managed.
    site_reason: Vec<Option<IneligibleReason>>,
    /// Per site: whether Autopilot straight into co-management applies (2111+).
    site_into_co_management: Vec<bool>,
    /// Per site: the effective policy poll interval.
    site_poll: Vec<Minute>,
    /// Per site: for sites at 1902 or older, the one pilot collection of every workload.
    site_shared_pilot: Vec<Option<usize>>,
    /// Per site: the workloads its version offers (bit per workload).
    site_workloads: Vec<u8>,
}

/// Program positions a shard starts from: devices before it in id order.
#[derive(Clone, Copy, Debug, Default)]
struct Ranks {
    push: u64,
    upgrade: u64,
    migration: u64,
}

/// A contiguous range of devices with their state and the counts they produced.
pub struct DeviceShard {
    ctx: Arc<Context>,
    first: u32,
    devices: Vec<Device>,
    state_delta: Vec<i64>,
    counter_delta: Vec<u64>,
    co_managed_delta: [Vec<i64>; PATHS],
    events: Vec<EventRecord>,
    /// Gateway requests since the last barrier: (time, global id).
    gateway_requests: Vec<(Minute, u32)>,
    /// The workload sliders as the shard knows them (set at barriers).
    sliders: Sliders,
    /// Per row and workload: change of devices with Intune authority.
    wl_delta: Vec<i64>,
    /// Per row: change of Autopatch-ready devices and of active incidents.
    ready_delta: Vec<i64>,
    incident_delta: Vec<i64>,
    /// Per row and collection: change of co-managed members.
    collection_delta: Vec<i64>,
    /// Running totals the strategy's gates read at barriers.
    live: Live,
}

/// Running totals of a shard, summed at barriers for the gates.
#[derive(Clone, Debug, Default)]
struct Live {
    co_managed: u64,
    collection_co: Vec<u64>,
    collection_members: Vec<u64>,
    wl: [u64; WORKLOADS],
    switched: [u64; WORKLOADS],
    detected: [u64; WORKLOADS],
    attempts: u64,
    failures: u64,
    tickets: u64,
    incidents_active: u64,
    /// Compliance device-minutes at Intune, accounted to the horizon when a switch happens.
    ca_minutes: i64,
}

impl Live {
    fn merge(&mut self, o: &Live) {
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
fn members(mask: u32) -> impl Iterator<Item = usize> {
    (0..32).filter(move |c| mask & (1 << c) != 0)
}

impl Shard for DeviceShard {
    type Event = Ev;

    fn handle(&mut self, now: Minute, ev: Ev, q: &mut EventQueue<Ev>) {
        let i = ev.local as usize;
        let before = self.devices[i].state();
        let ctx = Arc::clone(&self.ctx);
        let sched = self.schedule_of(i);
        let detail = match ev.kind {
            Kind::JoinTask => self.on_join_task(&ctx, now, i, &sched, q),
            Kind::JoinComplete => self.join_completed(now, i, q),
            Kind::PolicyPoll => self.on_policy_poll(&ctx, now, i, q),
            Kind::EnrollDue => self.on_enroll_due(now, i, q),
            Kind::Attempt => self.attempt(now, i, q),
            Kind::Remediated => self.on_remediated(now, i, q),
            Kind::Arrive => self.on_arrive(now, i, q),
            Kind::EspDone(outcome) => self.on_esp_done(&ctx, now, i, outcome, &sched, q),
            Kind::Reprovision => self.on_reprovision(now, i, q),
            Kind::ClientApp => self.on_client_app(now, i),
            Kind::InstallDone => self.on_install_done(&ctx, now, i, &sched, q),
            Kind::Registered => self.on_registered(&ctx, now, i, &sched, q),
            Kind::CoManagementPolicy => self.on_co_management_policy(now, i),
            Kind::Pushed => self.on_pushed(now, i, q),
            Kind::Upgraded => self.on_upgraded(&ctx, now, i, q),
            Kind::Migrated => self.on_migrated(now, i, q),
            Kind::Reconcile => self.on_reconcile(now, i, q),
            Kind::IncidentStart(w) => self.on_incident_start(&ctx, now, i, w, q),
            Kind::IncidentDetected(w) => self.on_incident_detected(&ctx, now, i, w),
            Kind::IncidentEnd(w) => self.on_incident_end(now, i, w),
        };
        let after = self.devices[i].state();
        self.move_state(now, i, before, after);
        if after == Some(LifecycleState::CoManaged) && before != after {
            self.on_co_managed(now, i, q);
        }
        self.record(i, now, before, after, detail);
    }
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

    fn move_state(
        &mut self,
        now: Minute,
        i: usize,
        from: Option<LifecycleState>,
        to: Option<LifecycleState>,
    ) {
        if from == to {
            return;
        }
        let d = &self.devices[i];
        let row = ((now / self.ctx.bucket) as usize * self.ctx.sites + usize::from(d.profile.site))
            * STATES;
        let hour = (now / 60) as usize;
        let path = d.path.index();
        let member = d.member;
        let crow = (now / self.ctx.bucket) as usize * self.ctx.scenario.collections.len();
        if let Some(f) = from {
            self.state_delta[row + f.index()] -= 1;
            if f == LifecycleState::CoManaged {
                self.co_managed_delta[path][hour] -= 1;
                self.live.co_managed -= 1;
                for c in members(member) {
                    self.live.collection_co[c] -= 1;
                    self.collection_delta[crow + c] -= 1;
                }
            }
        }
        if let Some(t) = to {
            self.state_delta[row + t.index()] += 1;
            if t == LifecycleState::CoManaged {
                self.co_managed_delta[path][hour] += 1;
                self.live.co_managed += 1;
                for c in members(member) {
                    self.live.collection_co[c] += 1;
                    self.collection_delta[crow + c] += 1;
                }
            }
        }
    }

    fn count(&mut self, now: Minute, counter: Counter) {
        self.counter_delta[(now / self.ctx.bucket) as usize * COUNTERS + counter.index()] += 1;
    }

    fn schedule(q: &mut EventQueue<Ev>, at: Option<Minute>, local: u32, kind: Kind) {
        if let Some(t) = at {
            q.schedule(t, Ev { local, kind });
        }
    }

    fn record(
        &mut self,
        i: usize,
        now: Minute,
        before: Option<LifecycleState>,
        after: Option<LifecycleState>,
        detail: Detail,
    ) {
        if !self.devices[i].record {
            return;
        }
        let (Some(to), from) = (after, before) else {
            return;
        };
        let changed =
            before != after || matches!(detail, Detail::Failed(_) | Detail::ClientInstall(false));
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
