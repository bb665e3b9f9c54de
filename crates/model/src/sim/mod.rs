//! The rollout as a simulation: every device's way to co-management, replayed event by event
//! on the engine, and the counts a run produces.
//!
//! This module is the dispatch: [`Shard::handle`] notes a device's lifecycle state, routes each
//! event kind to the process that owns it, then moves the state counts and records the change.
//! The device record and the shard's bookkeeping are in `device` (private); the rules live in
//! the process modules:
//!
//! | module | owns |
//! |---|---|
//! | `device` | the device record, events, the shared context, the shard's bookkeeping |
//! | [`identity`] | hybrid Azure AD join, Azure AD Connect sync |
//! | [`enrollment`] | co-management policy, schedule and randomization window, attempts, errors, remediation |
//! | [`provisioning`] | new Path 2 devices, Autopilot and the Enrollment Status Page |
//! | [`client_install`] | the ConfigMgr client as an Intune app, install, registration |
//! | [`gateway`] | the cloud management gateway's capacity and queue |
//! | [`programs`] | client push, OS upgrade, MDM migration; routing a device onto its path |
//! | [`workloads`] | sliders, pilots, policy landing, incidents |
//! | [`rollout`] | the strategy's steps, gates and decisions |
//! | [`results`] | what a run returns and how it is asked for |
//! | [`run`](mod@run) | drawing the fleet, the barrier loop, reducing the shards' counts |

use crate::domain::LifecycleState;
use crate::scenario::Minute;
use fleetsim_engine::{EventQueue, Shard};

pub mod client_install;
mod device;
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
pub use device::{Context, DeviceShard, Ev, Sliders};
pub use enrollment::randomization_window;
pub use results::EspOutcome;
pub use results::{
    BreakdownRow, Bucket, COUNTERS, Counter, Detail, EventCapture, EventRecord, GatewayRow,
    INTUNE_ELIGIBILITY, RunOptions, RunResult, STATES, counter_names,
};
pub use results::{Decision, DecisionSource};
pub use run::{RunError, check, run, run_with_findings};

use device::*;

impl Shard for DeviceShard {
    type Event = Ev;
    type Context = Context;

    fn handle(&mut self, ctx: &Context, now: Minute, ev: Ev, q: &mut EventQueue<Ev>) {
        let i = ev.local as usize;
        let before = self.devices[i].state();
        let sched = self.schedule_of(i);
        let detail = match ev.kind {
            Kind::JoinTask => self.on_join_task(ctx, now, i, &sched, q),
            Kind::JoinComplete => self.join_completed(ctx, now, i, q),
            Kind::PolicyPoll if !self.reaches_site(ctx, i) => Detail::NoSiteContact,
            Kind::PolicyPoll => self.on_policy_poll(ctx, now, i, q),
            Kind::EnrollDue => self.on_enroll_due(ctx, now, i, q),
            Kind::Attempt => self.attempt(ctx, now, i, q),
            Kind::Remediated => self.on_remediated(ctx, now, i, q),
            Kind::Arrive => self.on_arrive(ctx, now, i, q),
            Kind::EspDone(outcome) => self.on_esp_done(ctx, now, i, outcome, q),
            Kind::ClientApp => self.on_client_app(now, i),
            Kind::InstallDone => self.on_install_done(ctx, now, i, &sched, q),
            Kind::Registered => self.on_registered(ctx, now, i, &sched, q),
            Kind::CoManagementPolicy => self.on_co_management_policy(ctx, now, i),
            Kind::Pushed => self.on_pushed(ctx, now, i, q),
            Kind::Upgraded => self.on_upgraded(ctx, now, i, q),
            Kind::Migrated => self.on_migrated(ctx, now, i, q),
            Kind::Reconcile => self.on_reconcile(ctx, now, i, q),
            Kind::IncidentStart(w) => self.on_incident_start(ctx, now, i, w, q),
            Kind::IncidentDetected(w) => self.on_incident_detected(ctx, now, i, w),
            Kind::IncidentEnd(w) => self.on_incident_end(ctx, now, i, w),
        };
        let after = self.devices[i].state();
        self.move_state(ctx, now, i, before, after);
        if after == Some(LifecycleState::CoManaged) && before != after {
            self.on_co_managed(ctx, now, i, q);
        }
        self.record(i, now, before, after, detail);
    }

    fn mark(&mut self, ctx: &Context, t: Minute, q: &mut EventQueue<Ev>) -> bool {
        self.mark_instant(ctx, t, q)
    }

    #[inline]
    fn prefetch(&self, ev: &Ev) {
        let i = ev.local as usize;
        prefetch_index::prefetch_index(&self.devices, i);
        // A 40-byte record can run into the next cache line: the next record's start is in it.
        if i + 1 < self.devices.len() {
            prefetch_index::prefetch_index(&self.devices, i + 1);
        }
    }
}
