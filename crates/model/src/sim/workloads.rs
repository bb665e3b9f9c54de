//! Workloads: the co-management sliders (ConfigMgr, Pilot Intune, Intune) and their pilot
//! collections, devices taking them at the next policy poll, authority switches, policy
//! landing at the next Intune sync, incidents, detection and helpdesk tickets.
//!
//! Leaves to others: when the sliders move ([`rollout`](super::rollout)) and how a device became
//! co-managed (the paths).

use super::device::*;
use super::results::*;
use crate::domain::{LifecycleState, Slider, Workload};
use crate::scenario::{DAY, Minute};
use fleetsim_engine::{EventQueue, Purpose};

pub(super) const INCIDENT: Purpose = Purpose::named("workload-incident");

pub(super) const TICKET: Purpose = Purpose::named("helpdesk-ticket");

pub(super) const fn bit(w: Workload) -> u8 {
    1 << w.index()
}

/// Workloads that Windows Autopatch needs at Intune.
pub(super) const AUTOPATCH: u8 = bit(Workload::WindowsUpdatePolicies)
    | bit(Workload::DeviceConfiguration)
    | bit(Workload::OfficeClickToRun);

impl Sliders {
    /// Whether a device should have Intune as authority for `w`. `shared_pilot`: for sites
    /// at 1902 or older, the one pilot collection every workload uses.
    fn intune(&self, member: u32, shared_pilot: Option<usize>, w: Workload) -> bool {
        let own = |w: Workload| match self.slider[w.index()] {
            Slider::ConfigMgr => false,
            Slider::Intune => true,
            Slider::PilotIntune => shared_pilot
                .or(self.pilot[w.index()])
                .is_some_and(|c| member & (1 << c) != 0),
        };
        own(w)
            || (matches!(
                w,
                Workload::ResourceAccessPolicies | Workload::EndpointProtection
            ) && own(Workload::DeviceConfiguration))
    }

    fn authority(&self, member: u32, shared_pilot: Option<usize>) -> u8 {
        Workload::ALL
            .iter()
            .filter(|w| self.intune(member, shared_pilot, **w))
            .fold(0, |a, w| a | bit(*w))
    }

    fn any_intune(&self) -> bool {
        self.slider.iter().any(|s| *s != Slider::ConfigMgr)
    }
}

impl DeviceShard {
    /// The device became co-managed: it takes the workload sliders at its next policy poll.
    pub(super) fn on_co_managed(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) {
        if self.sliders.any_intune() {
            self.schedule_reconcile(ctx, now, i, q);
        }
    }

    pub(super) fn schedule_reconcile(
        &mut self,
        ctx: &Context,
        from: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) {
        if self.devices[i].reconcile_pending() {
            return;
        }
        let sched = self.schedule_of(i);
        let p = self.devices[i].profile;
        let (poll, phase) = ctx.poll_of(&p);
        let t = ctx.calendar.next_online_tick(&sched, from, poll, phase);
        if t.is_some() {
            self.devices[i].set_reconcile_pending(true);
        }
        Self::schedule(q, t, i as u32, Kind::Reconcile);
    }

    /// New sliders from the strategy at a barrier: co-managed devices whose authority would
    /// change take them at their next policy poll (after collection evaluation for pilots).
    pub(super) fn set_sliders(
        &mut self,
        ctx: &Context,
        new: Sliders,
        now: Minute,
        evaluation: Minute,
        q: &mut EventQueue<Ev>,
    ) {
        let old = self.sliders;
        // Leaving a Pilot Intune of Endpoint Protection or device configuration returns the
        // authority to ConfigMgr, but Intune does not remove its policies from the device:
        // their settings stay (an incident they caused is not cured by the switch back).
        for w in [Workload::EndpointProtection, Workload::DeviceConfiguration] {
            if old.slider[w.index()] == Slider::PilotIntune
                && new.slider[w.index()] == Slider::ConfigMgr
            {
                let carried = if w == Workload::DeviceConfiguration {
                    bit(w)
                        | bit(Workload::EndpointProtection)
                        | bit(Workload::ResourceAccessPolicies)
                } else {
                    bit(w)
                };
                for d in self.devices.iter_mut() {
                    d.sticky |= d.authority & carried;
                }
            }
            if new.slider[w.index()] == Slider::Intune {
                for d in self.devices.iter_mut() {
                    d.sticky &= !bit(w);
                }
            }
        }
        self.sliders = new;
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            let site = usize::from(d.profile.site);
            let shared = ctx.site_shared_pilot[site];
            let want = new.authority(d.member, shared) & ctx.site_workloads[site];
            if d.state() == Some(LifecycleState::CoManaged) && want != d.authority {
                self.schedule_reconcile(ctx, now + evaluation, i, q);
            }
        }
    }

    /// Takes the current sliders: switches authority, draws incidents for bad policies.
    pub(super) fn reconcile(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) {
        let s = &ctx.scenario;
        let id = self.first + i as u32;
        let sched = self.schedule_of(i);
        self.devices[i].set_reconcile_pending(false);
        if self.devices[i].state() != Some(LifecycleState::CoManaged) {
            return;
        }
        let d = self.devices[i];
        let site = usize::from(d.profile.site);
        // A workload the site's version does not offer (resource access from 2203) never moves.
        let want = self
            .sliders
            .authority(d.member, ctx.site_shared_pilot[site])
            & ctx.site_workloads[site];
        if want == d.authority {
            return;
        }
        let row = self.row(ctx, now);
        let to_horizon = i64::from(ctx.calendar.horizon.saturating_sub(now));
        for w in Workload::ALL {
            let b = bit(*w);
            let k = w.index();
            if want & b != 0 && d.authority & b == 0 {
                self.live.wl[k] += 1;
                self.live.switched[k] += 1;
                self.wl_delta[row * WORKLOADS + k] += 1;
                self.count(ctx, now, Counter::WorkloadSwitches);
                if *w == Workload::CompliancePolicies {
                    self.live.ca_minutes += to_horizon;
                }
                let settings = &s.workloads[k];
                if settings.incident_rate > 0.0
                    && self.sliders.version[k] == 0
                    && ctx.streams.unit(id, INCIDENT, k as u64) < settings.incident_rate
                {
                    // The switch makes the device sync MDM policy at once: the bad policy lands
                    // now (Office C2R about 24 h later).
                    let sync = now
                        + if *w == Workload::OfficeClickToRun {
                            DAY
                        } else {
                            0
                        };
                    Self::schedule(
                        q,
                        ctx.calendar.next_online(&sched, sync),
                        i as u32,
                        Kind::IncidentStart(*w),
                    );
                }
            } else if want & b == 0 && d.authority & b != 0 {
                self.live.wl[k] -= 1;
                self.wl_delta[row * WORKLOADS + k] -= 1;
                if *w == Workload::CompliancePolicies {
                    self.live.ca_minutes -= to_horizon;
                }
                // The settings of a left Endpoint Protection or device configuration pilot stay
                // on the device: its incident runs its course.
                if d.incident & b != 0 && d.sticky & b == 0 {
                    self.end_incident(ctx, now, i, *w);
                }
            }
        }
        let ready_before = d.authority & AUTOPATCH == AUTOPATCH;
        let ready_after = want & AUTOPATCH == AUTOPATCH;
        if ready_before != ready_after {
            self.ready_delta[row] += if ready_after { 1 } else { -1 };
        }
        self.devices[i].authority = want;
    }

    pub(super) fn end_incident(&mut self, ctx: &Context, now: Minute, i: usize, w: Workload) {
        self.devices[i].incident &= !bit(w);
        self.live.incidents_active -= 1;
        let row = self.row(ctx, now);
        self.incident_delta[row] -= 1;
    }

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::Reconcile`]: The device takes the current sliders at its policy poll.
    #[inline]
    pub(super) fn on_reconcile(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.reconcile(ctx, now, i, q);
        Detail::WorkloadsReconciled
    }

    /// [`Kind::IncidentStart`]: A bad policy lands: an incident starts if the workload is still at Intune.
    #[inline]
    pub(super) fn on_incident_start(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        w: Workload,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let s = &ctx.scenario;
        let d = &self.devices[i];
        if d.authority & bit(w) != 0 && d.incident & bit(w) == 0 {
            self.devices[i].incident |= bit(w);
            self.live.incidents_active += 1;
            let row = self.row(ctx, now);
            self.incident_delta[row] += 1;
            self.count(ctx, now, Counter::IncidentsStarted);
            let settings = &s.workloads[w.index()];
            Self::schedule(
                q,
                Some(now + settings.detection),
                i as u32,
                Kind::IncidentDetected(w),
            );
            Self::schedule(
                q,
                Some(now + settings.resolution),
                i as u32,
                Kind::IncidentEnd(w),
            );
        }
        Detail::Incident(w)
    }

    /// [`Kind::IncidentDetected`]: The incident is detected; a share of detections raise a helpdesk ticket.
    #[inline]
    pub(super) fn on_incident_detected(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        w: Workload,
    ) -> Detail {
        let s = &ctx.scenario;
        if self.devices[i].incident & bit(w) != 0 {
            self.live.detected[w.index()] += 1;
            self.count(ctx, now, Counter::IncidentsDetected);
            let id = self.first + i as u32;
            if ctx.streams.unit(id, TICKET, w.index() as u64) < s.workloads[w.index()].ticket_share
            {
                self.live.tickets += 1;
                self.count(ctx, now, Counter::HelpdeskTickets);
            }
        }
        Detail::Incident(w)
    }

    /// [`Kind::IncidentEnd`]: The incident is resolved.
    #[inline]
    pub(super) fn on_incident_end(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        w: Workload,
    ) -> Detail {
        if self.devices[i].incident & bit(w) != 0 {
            self.end_incident(ctx, now, i, w);
        }
        Detail::Incident(w)
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

    #[test]
    fn the_mdm_sync_follows_the_switch_at_once_and_office_waits_a_day() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"all\"\naction = \"promote\"\nworkload = \"compliance_policies\"\ndate = 2027-01-06\n\
             [[strategy.steps]]\nname = \"office\"\naction = \"promote\"\nworkload = \"office_click_to_run\"\ndate = 2027-01-06\n\
             [workloads.compliance_policies]\nincident_rate = 1.0\nresolution_days = 30\n\
             [workloads.office_click_to_run]\nincident_rate = 1.0\nresolution_days = 30\n",
        );
        let r = hourly(&s);
        // The switch reaches every device at its hourly poll on day 3 and the MDM sync (and
        // its bad compliance policy) follows at once, not at the next 8 h check-in; the Office
        // policy lands about 24 h later.
        assert_eq!(r.incidents_active[47], 0);
        assert_eq!(r.incidents_active[48], 2000);
        assert_eq!(r.incidents_active[71], 2000);
        assert_eq!(r.incidents_active[73], 4000);
    }

    #[test]
    fn a_promotion_reaches_devices_at_their_next_policy_poll() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"all\"\naction = \"promote\"\nworkload = \"compliance_policies\"\ndate = 2027-01-06\n",
        );
        let r = hourly(&s);
        // Everyone is co-managed within day 1 (window 60 min for 2,000 devices); the switch
        // at day 3, 00:00 reaches each device at its next hourly poll: none before, all after.
        assert_eq!(at_hour(&r, 24, S::CoManaged), 2000);
        assert_eq!(wl(&r, 48, Workload::CompliancePolicies), 0);
        assert_eq!(wl(&r, 49, Workload::CompliancePolicies), 2000);
        assert_eq!(wl(&r, 49, Workload::WindowsUpdatePolicies), 0);
        assert_eq!(r.decisions.len(), 2);
        assert_eq!(
            r.workload_at_intune[Workload::CompliancePolicies.index()],
            Some(49 * 60)
        );
        // Conditional access: 2,000 devices from about hour 48 to the end (day 20).
        let days = r.conditional_access_minutes as f64 / 1440.0;
        assert!((2000.0 * 17.9..=2000.0 * 18.0).contains(&days), "{days}");
    }

    #[test]
    fn a_pilot_reaches_only_its_collection_after_evaluation() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"pilot\"\naction = \"pilot\"\nworkload = \"device_configuration\"\ncollection = \"Pilot\"\ndate = 2027-01-06\n",
        );
        let r = hourly(&s);
        let members = r.collection_members[0];
        assert!((150..=250).contains(&members), "{members}");
        // Collection evaluation takes 5 minutes: devices that poll in the first 5 minutes of
        // the hour take the switch an hour later.
        let first_hour = wl(&r, 49, Workload::DeviceConfiguration);
        assert!(
            first_hour < members && first_hour > members * 3 / 4,
            "{first_hour} of {members}"
        );
        assert_eq!(wl(&r, 50, Workload::DeviceConfiguration), members);
        // Device configuration carries resource access and Endpoint Protection.
        assert_eq!(wl(&r, 50, Workload::EndpointProtection), members);
        assert_eq!(wl(&r, 50, Workload::CompliancePolicies), 0);
        // The default site runs 2403: resource access is gone, so it never moves.
        assert_eq!(wl(&r, 50, Workload::ResourceAccessPolicies), 0);
        let mut old_site = s.clone();
        old_site.sites[0].version = 2107;
        let r = hourly(&old_site);
        assert_eq!(wl(&r, 50, Workload::ResourceAccessPolicies), members);
    }

    #[test]
    fn leaving_an_endpoint_protection_pilot_keeps_its_policies() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"pilot\"\naction = \"pilot\"\nworkload = \"endpoint_protection\"\ncollection = \"Pilot\"\ndate = 2027-01-06\n\
             [[strategy.steps]]\nname = \"never\"\naction = \"promote\"\nworkload = \"endpoint_protection\"\nafter = \"pilot\"\ngate = \"g\"\n\
             [[strategy.gates]]\nname = \"g\"\nmetric = \"tickets_per_day\"\ninterval_hours = 24\nsuccess_at_most = -1.0\nfailure_above = -1.0\non_failure = \"rollback\"\nremediation_days = 100\n\
             [workloads.endpoint_protection]\nincident_rate = 1.0\nresolution_days = 30\n",
        );
        let r = hourly(&s);
        assert!(r.decisions.iter().any(|d| d.decision == "rollback"));
        let members = r.collection_members[0];
        // The bad policy's settings stay: its incidents are not cured by the switch back.
        assert_eq!(*r.incidents_active.last().unwrap(), members);
        // The slider went back to ConfigMgr: the pilot devices no longer count at Intune
        // (their settings stay on the device).
        assert!(members > 0);
        assert_eq!(
            *r.workloads
                .last()
                .unwrap()
                .get(Workload::EndpointProtection.index())
                .unwrap(),
            0
        );
    }
}
