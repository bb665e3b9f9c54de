//! Provisioning (Path 2): new devices arriving, Windows Autopilot and the Enrollment Status
//! Page. In user-driven Autopilot the device is Azure AD joined and enrolled in Intune before
//! the ESP shows, so a device whose ESP fails or times out (0x800705B4) is in Intune and
//! continues from there. Into co-management (2111+) the ConfigMgr client install and its
//! registration run inside the ESP and count against its timeout, and the ESP applies the
//! co-management policy right after registration.
//!
//! Leaves to others: the ConfigMgr client installed from Intune after provisioning
//! ([`client_install`](super::client_install)) and the gateway it goes through
//! ([`gateway`](super::gateway)).

use super::device::*;
use super::results::*;
use crate::domain::CoPath;
use crate::scenario::Minute;
use fleetsim_engine::{EventQueue, Purpose};

pub(super) const ESP: Purpose = Purpose::named("autopilot-esp");

impl DeviceShard {
    /// Starts an Autopilot provisioning: the device is enrolled in Intune at once (before the
    /// ESP shows). Into co-management the client install is requested now and the ESP's
    /// deadline is set; otherwise the outcome is drawn now, the end comes after the ESP
    /// duration (success, failure) or its timeout.
    pub(super) fn provision(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) {
        let p2 = &ctx.scenario.path2;
        let id = self.first + i as u32;
        let p = self.devices[i].profile;
        let straight = p2.into_co_management
            && ctx.site_into_co_management[usize::from(p.site)]
            && p.os.supports_autopilot_into_co_management()
            && ctx.path2_blocker.is_none();
        let d = &mut self.devices[i];
        let u = ctx.streams.unit(id, ESP, u64::from(d.installs));
        d.installs = d.installs.saturating_add(1);
        d.intune_at = now;
        d.phase = Phase::Provisioning;
        let horizon = ctx.calendar.horizon;
        if straight && u >= p2.esp_failure_rate {
            // 2111+: the ESP waits for the client install and registration (through the
            // gateway's queue); the deadline is the ESP timeout.
            d.set_in_esp(true);
            self.request_gateway(now, i);
            Self::schedule(
                q,
                // Past the timeout: an ESP that ends exactly at it succeeds.
                Some(now + p2.esp_timeout + 1).filter(|t| *t < horizon),
                i as u32,
                Kind::EspDone(EspOutcome::Timeout),
            );
            return;
        }
        let (outcome, took) = if u < p2.esp_failure_rate {
            (EspOutcome::Failure, p2.esp.min(p2.esp_timeout))
        } else if u < p2.esp_failure_rate + p2.esp_timeout_rate {
            (EspOutcome::Timeout, p2.esp_timeout)
        } else {
            (EspOutcome::Success, p2.esp.min(p2.esp_timeout))
        };
        Self::schedule(
            q,
            Some(now + took).filter(|t| *t < horizon),
            i as u32,
            Kind::EspDone(outcome),
        );
    }

    /// Into co-management: the client registered inside the ESP. The ESP applies the
    /// production co-management policy at once (no wait for a policy poll) if co-management is
    /// enabled by now, then goes on for its own `esp_minutes` and succeeds unless the deadline
    /// comes first. Returns whether the ESP applied the policy; if not (the ESP already ended,
    /// or co-management is not enabled yet), the device takes it at a policy poll.
    pub(super) fn esp_client_registered(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> bool {
        if !self.devices[i].in_esp() {
            return false;
        }
        let t = now + ctx.scenario.path2.esp;
        Self::schedule(
            q,
            Some(t).filter(|t| *t < ctx.calendar.horizon),
            i as u32,
            Kind::EspDone(EspOutcome::Success),
        );
        let applies = ctx.co_management_at.is_some_and(|at| at <= now);
        if applies {
            Self::schedule(q, Some(now), i as u32, Kind::CoManagementPolicy);
        }
        applies
    }

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::Arrive`]: A new Path 2 device arrives: Autopilot provisioning starts unless it is ineligible.
    #[inline]
    pub(super) fn on_arrive(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(ctx, now, Counter::DevicesArrived);
        self.devices[i].path = CoPath::Path2;
        if self.devices[i].reason.is_some() {
            self.devices[i].phase = Phase::Ineligible;
        } else {
            self.provision(ctx, now, i, q);
        }
        Detail::Arrived
    }

    /// [`Kind::EspDone`]: The Enrollment Status Page ends. The device is in Intune whatever
    /// the outcome: the client comes as an Intune app at a check-in. Into co-management the
    /// ESP ends with the client: a success once the client registered and the rest of the
    /// ESP ran in time, a timeout (0x800705B4) at the deadline otherwise, after which the
    /// install and registration go on.
    #[inline]
    pub(super) fn on_esp_done(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        outcome: EspOutcome,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let counter = match outcome {
            EspOutcome::Success => Counter::AutopilotProvisionings,
            EspOutcome::Failure => Counter::EspFailures,
            EspOutcome::Timeout => Counter::EspTimeouts,
        };
        if self.devices[i].phase != Phase::Provisioning {
            // Into co-management: the ESP waited for the client.
            if !self.devices[i].in_esp() {
                return Detail::EspAlreadyEnded;
            }
            self.devices[i].set_in_esp(false);
            self.count(ctx, now, counter);
            return Detail::Provisioned(outcome);
        }
        self.count(ctx, now, counter);
        self.intune_only(ctx, now, i, q);
        Detail::Provisioned(outcome)
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

    #[test]
    fn a_device_whose_esp_times_out_is_in_intune_and_gets_the_client() {
        let s = path2(
            0,
            "[path2]\nusage = { always_on = 1.0 }\nbatches = [ { date = 2027-01-04, devices = 100 } ]\nesp_failure_rate = 0.0\nesp_timeout_rate = 1.0\n",
        );
        let r = hourly(&s);
        let c = |h: usize| r.counters[h - 1][Counter::EspTimeouts.index()];
        // Always-on devices arrive at their workday start (07:00-09:00): no timeout before
        // 08:00, all 100 timed out by 10:00, once only: they are enrolled already.
        assert_eq!(c(8), 0);
        assert_eq!(c(10), 100);
        assert_eq!(c(24 + 10), 100);
        assert_eq!(at_hour(&r, 12, S::ProvisioningFailed), 0);
        // They continue in Intune: the client app, then co-management.
        let last = r.states.last().unwrap();
        assert!(last[S::CoManaged.index()] > 90, "{last:?}");
    }

    #[test]
    fn into_co_management_the_esp_applies_the_policy_right_after_registration() {
        // 100 always-on devices arrive at 07:00 (minute 420) into co-management; one VM is
        // plenty. The install is granted at the next barrier (435), takes 20 minutes and the
        // registration 15: registered at 470. Policy polls are daily, so waiting for one
        // would take hours.
        let esp = |install: u32, timeout: u32| {
            let s = path2(
                0,
                &format!(
                    "[cloud]\ncmg_vms = 1\nclient_install_minutes = {install}\nregistration_minutes = 15\nclient_install_failure_rate = 0.0\n[timing]\npolicy_poll_minutes = 1440\n[usage]\nworkday_start_spread_minutes = 0\n[path2]\nusage = {{ always_on = 1.0 }}\nbatches = [ {{ date = 2027-01-04, devices = 100 }} ]\nesp_failure_rate = 0.0\nesp_timeout_rate = 0.0\nesp_minutes = 40\nesp_timeout_minutes = {timeout}\nautopilot_into_co_management = true\nos = {{ win11_24h2 = 1.0 }}\n"
                ),
            );
            run(
                &s,
                &RunOptions {
                    threads: 2,
                    bucket: Bucket::Hour,
                    events: EventCapture::Sample(1.0),
                },
                |_, _| {},
            )
            .unwrap()
        };
        let times = |r: &RunResult, detail: Detail| -> Vec<Minute> {
            let mut t: Vec<_> = r
                .events
                .iter()
                .filter(|e| e.detail == detail)
                .map(|e| e.time)
                .collect();
            t.dedup();
            t
        };
        let r = esp(20, 120);
        // Co-managed inside the ESP, at registration: the policy is part of the ESP.
        assert_eq!(times(&r, Detail::ClientInstall(true)), [455]);
        assert_eq!(times(&r, Detail::PolicyReceived), [470]);
        assert_eq!(at_hour(&r, 8, S::CoManaged), 100);
        // Then the ESP goes on for its own 40 minutes and succeeds at 510 (hour 9).
        let c = |h: usize, k: Counter| r.counters[h - 1][k.index()];
        assert_eq!(c(8, Counter::AutopilotProvisionings), 0);
        assert_eq!(c(9, Counter::AutopilotProvisionings), 100);
        assert_eq!(c(240, Counter::EspTimeouts), 0);
        // An ESP that timed out before the registration no longer applies the policy: the
        // device takes it at its next (daily) policy poll, after registering at 435+90+15.
        let r = esp(90, 60);
        assert_eq!(
            r.counters.last().unwrap()[Counter::EspTimeouts.index()],
            100
        );
        assert_eq!(times(&r, Detail::ClientInstall(true)), [525]);
        let policy = times(&r, Detail::PolicyReceived);
        assert!(policy.iter().all(|t| *t > 540), "{policy:?}");
        assert!(
            at_hour(&r, 10, S::CoManaged) < 20,
            "{}",
            at_hour(&r, 10, S::CoManaged)
        );
    }

    #[test]
    fn into_co_management_the_esp_times_out_from_the_gateway_queue_not_a_draw() {
        // 3,000 devices at once through one VM: installs of 50 min plus registration 15 min
        // inside a 60-min ESP time out whatever the draw (the timeout rate is 0).
        let esp = |install: u32, esp: u32| {
            path2(
                0,
                &format!(
                    "[cloud]\ncmg_vms = 1\nclient_install_minutes = {install}\n[path2]\nusage = {{ always_on = 1.0 }}\nbatches = [ {{ date = 2027-01-04, devices = 3000 }} ]\nesp_failure_rate = 0.0\nesp_timeout_rate = 0.0\nesp_minutes = {esp}\nautopilot_into_co_management = true\nos = {{ win11_24h2 = 1.0 }}\n"
                ),
            )
        };
        let r = hourly(&esp(50, 40));
        let c = r.counters.last().unwrap();
        // Every ESP ends in a timeout, but for the installs that failed (3 %) inside it.
        assert_eq!(
            c[Counter::EspTimeouts.index()] + c[Counter::EspFailures.index()],
            3000
        );
        assert!(c[Counter::EspTimeouts.index()] > 2800);
        assert_eq!(c[Counter::AutopilotProvisionings.index()], 0);
        // The devices go on: the client installs, registers and they are co-managed.
        assert!(r.states.last().unwrap()[S::CoManaged.index()] > 2900);
        // A short install fits: the wait for the next barrier (at most 15) + install 20 +
        // registration 15 + the rest of the ESP 10 = at most 60 minutes.
        let r = hourly(&esp(20, 10));
        let c = r.counters.last().unwrap();
        assert_eq!(c[Counter::EspTimeouts.index()], 0);
        assert_eq!(
            c[Counter::AutopilotProvisionings.index()] + c[Counter::EspFailures.index()],
            3000
        );
    }
}
