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
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.devices[i].set_join(JoinStage::Joined);
        self.count(ctx, now, Counter::HybridJoinsCompleted);
        if self.devices[i].enroll == EnrollStage::Due {
            self.begin_attempt(ctx, now, i, q);
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
            self.devices[i].set_join(JoinStage::PendingSync);
            if s.tenant.aad_connect_sync {
                // The next sync cycle that can export it: the export queue lets at most
                // `aad_connect_export_per_hour` certificates through an hour.
                let from = (now + 1).max(self.devices[i].export_at);
                let synced = round_up(from, s.timing.aad_connect_sync, 0);
                let phase = Minute::from(self.devices[i].profile.day_start) % s.timing.join_task;
                let t = ctx
                    .calendar
                    .next_online_tick(sched, synced, s.timing.join_task, phase);
                Self::schedule(q, t, i as u32, Kind::JoinComplete);
            }
            Detail::JoinCertificateWritten
        } else {
            self.join_completed(ctx, now, i, q)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

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
    fn managed_joins_complete_no_faster_than_the_export_rate() {
        // 100 exports an hour: 1,000 certificates take 10 hours to reach Azure AD.
        let r = hourly(&uniform(
            "password_hash_sync",
            "[timing]\naad_connect_export_per_hour = 100\n",
        ));
        for h in 1..=12 {
            let joined = at_hour(&r, h, S::Eligible);
            assert!(joined <= 100 * h as u64, "hour {h}: {joined}");
        }
        assert!(at_hour(&r, 5, S::Eligible) >= 300);
        assert_eq!(at_hour(&r, 12, S::Eligible), 1000);
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
}
