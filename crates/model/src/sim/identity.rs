//! Identity: hybrid Azure AD join of on-premises AD devices (the Automatic-Device-Join task,
//! Azure AD Connect sync of the device certificate, the task's next run).
//!
//! Leaves to others: when a device is put on Path 1 ([`programs`](super::programs)), the
//! co-management policy and enrollment that wait for the join ([`enrollment`](super::enrollment)).

use super::device::*;
use super::results::*;
use crate::scenario::Minute;
use crate::schedule::{DeviceSchedule, round_up};
use fleetsim_engine::EventQueue;

impl DeviceShard {
    pub(super) fn join_completed(
        &mut self,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.devices[i].join = JoinStage::Joined;
        self.count(now, Counter::HybridJoinsCompleted);
        if self.devices[i].enroll == EnrollStage::Due {
            self.begin_attempt(now, i, q);
        }
        Detail::HybridJoined
    }

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::JoinTask`]: The join task runs: a federated device joins now; a managed one writes its certificate
    /// and completes at the task's first run after the next Azure AD Connect sync.
    #[inline]
    pub(super) fn on_join_task(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        sched: &DeviceSchedule,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let s = &ctx.scenario;
        if self.devices[i].profile.identity.is_managed() {
            // The task writes the certificate; Azure AD Connect syncs it at its next
            // cycle; the task's next run after that completes the registration.
            self.devices[i].join = JoinStage::PendingSync;
            if s.tenant.aad_connect_sync {
                let synced = round_up(now + 1, s.timing.aad_connect_sync, 0);
                let phase = Minute::from(self.devices[i].profile.day_start) % s.timing.join_task;
                let t = ctx
                    .calendar
                    .next_online_tick(sched, synced, s.timing.join_task, phase);
                Self::schedule(q, t, i as u32, Kind::JoinComplete);
            }
            Detail::JoinCertificateWritten
        } else {
            self.join_completed(now, i, q)
        }
    }
}
