//! Client install (Path 2): the ConfigMgr client as an Intune app at a check-in, the install
//! (failures, the 1,024-character CCMSETUPCMD limit), registration and the co-management
//! policy that ends Path 2; Intune's check-in cadence.
//!
//! Leaves to others: the queue for a gateway connection ([`gateway`](super::gateway)) and the
//! Autopilot provisioning before it ([`provisioning`](super::provisioning)).

use super::device::*;
use super::results::*;
use crate::scenario::Minute;
use crate::schedule::{DeviceSchedule, round_up};
use fleetsim_engine::{EventQueue, Purpose};

pub(super) const INSTALL: Purpose = Purpose::named("client-install");

/// Minutes from an app's assignment to the notified device's check-in (assumption: "Intune
/// immediately notifies the device to check in"; a few minutes for the notification).
pub const PUSH_DELAY: Minute = 5;

/// The next Intune check-in at or after `t` of a device enrolled at `enrolled`: every 3 min
/// for 15 min, every 15 min until 2 h, then every 8 h (`memdocs: intune/configuration/device-profile-troubleshoot.md`).
pub fn intune_check_in(enrolled: Minute, t: Minute) -> Minute {
    if t <= enrolled {
        return enrolled.saturating_add(3);
    }
    let since = t - enrolled;
    let (period, from) = if since <= 15 {
        (3, enrolled)
    } else if since <= 120 {
        (15, enrolled + 15)
    } else {
        (480, enrolled + 120)
    };
    round_up(t.max(from), period, from % period)
}

impl DeviceShard {
    /// Azure AD joined and in Intune: the client app comes at a check-in, unless a Path 2
    /// prerequisite is missing.
    pub(super) fn intune_only(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) {
        let sched = self.schedule_of(i);
        let d = &mut self.devices[i];
        if ctx.path2_blocker.is_some() {
            d.phase = Phase::IntuneOnlyBlocked;
            return;
        }
        d.phase = Phase::IntuneOnly;
        let assigned = ctx.scenario.cloud.client_app_at;
        let t = if assigned > now {
            // Intune notifies the device when the app is assigned: it checks in within
            // minutes, or when it is next online.
            ctx.calendar.next_online(&sched, assigned + PUSH_DELAY)
        } else {
            // Already assigned: it comes at the device's next unprompted check-in.
            ctx.calendar
                .next_online(&sched, intune_check_in(d.intune_at, now))
        };
        Self::schedule(q, t, i as u32, Kind::ClientApp);
    }

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::ClientApp`]: Intune delivers the ConfigMgr client app: the device queues for a gateway connection.
    #[inline]
    pub(super) fn on_client_app(&mut self, now: Minute, i: usize) -> Detail {
        self.request_gateway(now, i);
        Detail::ClientAppReceived
    }

    /// [`Kind::InstallDone`]: The client install ends: a failure retries at a later check-in (never when the command
    /// line is over 1,024 characters); a success registers the client.
    #[inline]
    pub(super) fn on_install_done(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        sched: &DeviceSchedule,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let s = &ctx.scenario;
        self.count(ctx, now, Counter::ClientInstallAttempts);
        let id = self.first + i as u32;
        let k = u64::from(self.devices[i].installs);
        self.devices[i].installs = self.devices[i].installs.saturating_add(1);
        let failed = ctx.install_always_fails
            || ctx.streams.unit(id, INSTALL, k) < s.cloud.client_install_failure_rate;
        if failed {
            self.count(ctx, now, Counter::ClientInstallFailures);
            if ctx.install_always_fails {
                self.count(ctx, now, Counter::ClientInstallCommandLineErrors);
            }
            self.devices[i].phase = Phase::InstallFailed;
            if self.devices[i].in_esp() {
                // Into co-management: the ESP shows the failed install (assumption).
                self.devices[i].set_in_esp(false);
                self.count(ctx, now, Counter::EspFailures);
            }
            if !ctx.install_always_fails {
                // Intune retries the app at a later check-in.
                let t = intune_check_in(self.devices[i].intune_at, now + 1);
                Self::schedule(
                    q,
                    ctx.calendar.next_online(sched, t),
                    i as u32,
                    Kind::ClientApp,
                );
            }
            Detail::ClientInstall(false)
        } else {
            self.count(ctx, now, Counter::ClientInstallsCompleted);
            self.devices[i].profile.client = true;
            self.join_channels(ctx, i);
            self.devices[i].phase = Phase::AwaitingPolicy;
            Self::schedule(
                q,
                Some(now + s.cloud.registration),
                i as u32,
                Kind::Registered,
            );
            Detail::ClientInstall(true)
        }
    }

    /// [`Kind::Registered`]: The client registered: inside an Autopilot ESP into
    /// co-management the ESP applies the co-management policy at once; otherwise the device
    /// takes it at its next policy poll once co-management is enabled.
    #[inline]
    pub(super) fn on_registered(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        sched: &DeviceSchedule,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        if self.esp_client_registered(ctx, now, i, q) {
            return Detail::ClientRegistered;
        }
        if let Some(at) = ctx.co_management_at {
            let p = self.devices[i].profile;
            let (poll, phase) = ctx.poll_of(&p);
            let t = ctx
                .calendar
                .next_online_tick(sched, at.max(now), poll, phase);
            Self::schedule(q, t, i as u32, Kind::CoManagementPolicy);
        }
        Detail::ClientRegistered
    }

    /// [`Kind::CoManagementPolicy`]: The co-management policy arrives: the Path 2 device is co-managed.
    #[inline]
    pub(super) fn on_co_management_policy(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
    ) -> Detail {
        self.count(ctx, now, Counter::PoliciesReceived);
        self.devices[i].phase = Phase::CoManaged;
        Detail::PolicyReceived
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

    #[test]
    fn a_missing_prerequisite_keeps_path2_intune_only() {
        let s = path2(500, "[cloud]\ncmg_vms = 0\n");
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::IntuneOnlyBlocked.index()], 500);
        assert_eq!(r.blocked[Prerequisite::CloudManagementGateway.index()], 500);
        assert!(
            r.findings
                .iter()
                .any(|f| f.prerequisite == Prerequisite::CloudManagementGateway && f.devices == 500)
        );
        let s = path2(500, "[cloud]\nccmsetup_command_line_length = 1500\n");
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::ClientInstallFailed.index()], 500);
        let c = r.counters.last().unwrap();
        assert_eq!(c[Counter::ClientInstallCommandLineErrors.index()], 500);
        assert_eq!(c[Counter::ClientInstallFailures.index()], 500);
        assert_eq!(
            r.counters.last().unwrap()[Counter::ClientInstallsCompleted.index()],
            0
        );
    }

    #[test]
    fn an_assigned_app_is_pushed_to_online_devices_within_minutes() {
        // Enrolled long before (8 h check-ins), the app assigned on day 3 at 00:00: always-on
        // devices are notified and take it within minutes, not at their next 8 h check-in.
        let s = path2(
            300,
            "[cloud]\nclient_app_date = 2027-01-06\nclient_install_minutes = 30\n",
        );
        let r = hourly(&s);
        assert_eq!(at_hour(&r, 48, S::IntuneOnly), 300);
        assert_eq!(at_hour(&r, 49, S::IntuneOnly), 0);
    }

    #[test]
    fn intune_check_ins_follow_the_documented_cadence() {
        assert_eq!(intune_check_in(100, 100), 103);
        assert_eq!(intune_check_in(100, 104), 106);
        assert_eq!(intune_check_in(100, 116), 130);
        assert_eq!(intune_check_in(100, 221), 700);
        assert_eq!(intune_check_in(100, 701), 1180);
    }
}
