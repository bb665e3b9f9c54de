//! Provisioning (Path 2): new devices arriving, Windows Autopilot and the Enrollment Status
//! Page (success, failure, timeout 0x800705B4, reprovisioning at the next sign-in).
//!
//! Leaves to others: the ConfigMgr client installed from Intune after provisioning
//! ([`client_install`](super::client_install)) and the gateway it goes through
//! ([`gateway`](super::gateway)).

use super::device::*;
use super::results::*;
use crate::domain::CoPath;
use crate::scenario::Minute;
use crate::schedule::DeviceSchedule;
use fleetsim_engine::{EventQueue, Purpose};
use std::sync::Arc;

pub(super) const ESP: Purpose = Purpose::named("autopilot-esp");

impl DeviceShard {
    /// Starts an Autopilot provisioning: the outcome is drawn now, the end comes after the ESP
    /// duration (success, failure) or its timeout.
    pub(super) fn provision(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let p2 = &ctx.scenario.path2;
        let id = self.first + i as u32;
        let d = &mut self.devices[i];
        let u = ctx.streams.unit(id, ESP, u64::from(d.installs));
        d.installs = d.installs.saturating_add(1);
        d.phase = Phase::Provisioning;
        let (outcome, took) = if u < p2.esp_failure_rate {
            (EspOutcome::Failure, p2.esp.min(p2.esp_timeout))
        } else if u < p2.esp_failure_rate + p2.esp_timeout_rate {
            (EspOutcome::Timeout, p2.esp_timeout)
        } else {
            (EspOutcome::Success, p2.esp.min(p2.esp_timeout))
        };
        Self::schedule(
            q,
            Some(now + took).filter(|t| *t < ctx.calendar.horizon),
            i as u32,
            Kind::EspDone(outcome),
        );
    }

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::Arrive`]: A new Path 2 device arrives: Autopilot provisioning starts unless it is ineligible.
    #[inline]
    pub(super) fn on_arrive(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) -> Detail {
        self.count(now, Counter::DevicesArrived);
        self.devices[i].path = CoPath::Path2;
        if self.devices[i].reason.is_some() {
            self.devices[i].phase = Phase::Ineligible;
        } else {
            self.provision(now, i, q);
        }
        Detail::Arrived
    }

    /// [`Kind::EspDone`]: The Enrollment Status Page ends: on success the client comes (straight into
    /// co-management at 2111+, else as an Intune app); on failure or timeout the device
    /// reprovisions at the next sign-in.
    #[inline]
    pub(super) fn on_esp_done(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        outcome: EspOutcome,
        sched: &DeviceSchedule,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let s = &ctx.scenario;
        match outcome {
            EspOutcome::Success => {
                self.count(now, Counter::AutopilotProvisionings);
                let p = self.devices[i].profile;
                self.devices[i].intune_at = now;
                let straight = s.path2.into_co_management
                    && ctx.site_into_co_management[usize::from(p.site)]
                    && p.os.supports_autopilot_into_co_management()
                    && ctx.path2_blocker.is_none();
                if straight {
                    // 2111+: the client installs during provisioning.
                    self.request_gateway(now, i);
                } else {
                    self.intune_only(now, i, q);
                }
            }
            EspOutcome::Failure | EspOutcome::Timeout => {
                self.count(
                    now,
                    if outcome == EspOutcome::Failure {
                        Counter::EspFailures
                    } else {
                        Counter::EspTimeouts
                    },
                );
                self.devices[i].phase = Phase::ProvisioningFailed;
                // The user (or a technician) starts again at the next sign-in.
                Self::schedule(
                    q,
                    ctx.calendar.next_sign_in(sched, now + 1),
                    i as u32,
                    Kind::Reprovision,
                );
            }
        }
        Detail::Provisioned(outcome)
    }

    /// [`Kind::Reprovision`]: The user starts Autopilot again.
    #[inline]
    pub(super) fn on_reprovision(
        &mut self,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.provision(now, i, q);
        Detail::Reprovisioning
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

    #[test]
    fn esp_timeout_fails_after_60_minutes_and_retries_at_sign_in() {
        let s = path2(
            0,
            "[path2]\nusage = { always_on = 1.0 }\nbatches = [ { date = 2027-01-04, devices = 100 } ]\nesp_failure_rate = 0.0\nesp_timeout_rate = 1.0\n",
        );
        let r = hourly(&s);
        let c = |h: usize| r.counters[h - 1][Counter::EspTimeouts.index()];
        // Always-on devices arrive at their workday start (07:00-09:00): no timeout before 08:00,
        // all 100 timed out by 10:00, and each retries at the next sign-in (08:00 next day) and
        // times out again at 09:00.
        assert_eq!(c(8), 0);
        assert_eq!(c(10), 100);
        assert_eq!(c(24 + 9), 100);
        assert_eq!(c(24 + 10), 200);
        assert_eq!(at_hour(&r, 12, S::ProvisioningFailed), 100);
    }
}
