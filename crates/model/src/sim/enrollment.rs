//! Enrollment (Path 1): the co-management policy at the client's policy poll, the enrollment
//! schedule and its randomization window, attempts with the device or user token, enrollment
//! errors, retries and remediation; the management points' poll capacity.
//!
//! Leaves to others: the hybrid join it may wait for ([`identity`](super::identity)), the
//! eligibility and programs that put a device on Path 1 ([`programs`](super::programs)), and
//! what happens once co-managed ([`workloads`](super::workloads)).

use super::device::*;
use super::results::*;
use crate::domain::{EnrollmentError, Retry};
use crate::scenario::{Minute, Mix, Remediation, Scenario};
use fleetsim_engine::{EventQueue, Purpose, RandomStreams};

pub(super) const SCHEDULE: Purpose = Purpose::named("enrollment-schedule");

pub(super) const ATTEMPT: Purpose = Purpose::named("enrollment-attempt");

pub(super) const ERROR: Purpose = Purpose::named("enrollment-error");

pub(super) const REMEDIATION: Purpose = Purpose::named("remediation");

/// Whether the device token fails on this device, so that it falls back to the user token.
pub(super) const TOKEN_FALLBACK: Purpose = Purpose::named("device-token-fallback");
/// Whether the user's UPN suffix is non-routable.
pub(super) const CAUSE_UPN: Purpose = Purpose::named("cause-non-routable-upn");
/// Whether the legacy Intune PC agent is installed.
pub(super) const CAUSE_AGENT: Purpose = Purpose::named("cause-legacy-intune-agent");
/// Whether the device is already enrolled elsewhere.
pub(super) const CAUSE_ENROLLED: Purpose = Purpose::named("cause-already-enrolled");

/// [`Device::causes`] bits.
pub(super) const CAUSE_FALLBACK: u8 = 1;
pub(super) const CAUSE_NON_ROUTABLE_UPN: u8 = 2;
pub(super) const CAUSE_LEGACY_AGENT: u8 = 4;
pub(super) const CAUSE_ALREADY_ENROLLED: u8 = 8;
/// The platform restriction was lifted for this device (remediated).
pub(super) const CAUSE_PLATFORM_LIFTED: u8 = 16;

/// Draws device `id`'s lasting causes, once, each from its own stream.
pub(super) fn draw_causes(s: &Scenario, streams: &RandomStreams, id: u32) -> u8 {
    let c = &s.causes;
    let mut bits = 0;
    for (share, purpose, bit) in [
        (c.device_token_fallback, TOKEN_FALLBACK, CAUSE_FALLBACK),
        (c.non_routable_upn, CAUSE_UPN, CAUSE_NON_ROUTABLE_UPN),
        (c.legacy_intune_agent, CAUSE_AGENT, CAUSE_LEGACY_AGENT),
        (c.already_enrolled, CAUSE_ENROLLED, CAUSE_ALREADY_ENROLLED),
    ] {
        if share > 0.0 && streams.unit(id, purpose, 0) < share {
            bits |= bit;
        }
    }
    // With `[[domains]]`, the UPN suffix is the user domain's, not a per-device share.
    if let Some(d) = crate::fleet::domain_of(s, streams, id) {
        bits &= !CAUSE_NON_ROUTABLE_UPN;
        if !s.domains[d].upn_routable {
            bits |= CAUSE_NON_ROUTABLE_UPN;
        }
    }
    bits
}

/// The per-attempt error mix of device-token enrollments: `errors` without the errors that
/// need a user, renormalized, and the share of failures it keeps.
pub(super) fn device_token_errors(
    errors: &Mix<EnrollmentError>,
) -> Option<(Mix<EnrollmentError>, f64)> {
    let kept: Vec<(EnrollmentError, f64)> = EnrollmentError::ALL
        .iter()
        .filter(|e| !e.needs_user())
        .map(|e| (*e, errors.share(*e)))
        .filter(|(_, s)| *s > 0.0)
        .collect();
    let total: f64 = kept.iter().map(|(_, s)| s).sum();
    if total <= 0.0 {
        return None;
    }
    let pairs: Vec<(EnrollmentError, f64)> = kept.iter().map(|(e, s)| (*e, s / total)).collect();
    Mix::new(&pairs).ok().map(|m| (m, total))
}

/// The enrollment randomization window for `in_scope` devices: it grows with the fleet, about
/// `per_100k` minutes per 100,000 devices, between `min` and `max`.
pub fn randomization_window(in_scope: u64, per_100k: Minute, min: Minute, max: Minute) -> Minute {
    let w = in_scope.saturating_mul(u64::from(per_100k)) / 100_000;
    (w.min(u64::from(max)) as Minute).max(min)
}

impl DeviceShard {
    /// The device wants to enroll now: with the device token as soon as it is online, with the
    /// user token at the next sign-in.
    pub(super) fn begin_attempt(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) {
        let sched = self.schedule_of(i);
        let device_token = self.device_token(ctx, i);
        let d = &mut self.devices[i];
        let cal = &ctx.calendar;
        if device_token {
            d.enroll = EnrollStage::Due;
            Self::schedule(q, cal.next_online(&sched, now), i as u32, Kind::Attempt);
        } else {
            d.enroll = EnrollStage::PendingSignIn;
            Self::schedule(q, cal.next_sign_in(&sched, now), i as u32, Kind::Attempt);
        }
    }

    /// Whether the device enrolls with the device token: Windows 10 1803 or later on a site at
    /// 1906 or later, unless its device token fails (then the user token).
    pub(super) fn device_token(&self, ctx: &Context, i: usize) -> bool {
        let d = &self.devices[i];
        d.profile.os.supports_device_token()
            && ctx.scenario.sites[usize::from(d.profile.site)].version >= 1906
            && d.causes & CAUSE_FALLBACK == 0
    }

    /// The lasting cause that fails every attempt of device `i` until remediated, if any; it
    /// is cleared for the device when reported (remediation fixes it).
    fn take_cause(&mut self, ctx: &Context, i: usize) -> Option<EnrollmentError> {
        let restriction = ctx.scenario.causes.platform_restriction_below;
        let d = &mut self.devices[i];
        let restricted = match (restriction.and_then(|r| r.build()), d.profile.os.build()) {
            (Some(min), Some(b)) => b < min,
            _ => false,
        };
        let (error, bit) = if restricted && d.causes & CAUSE_PLATFORM_LIFTED == 0 {
            (EnrollmentError::PlatformBlocked, CAUSE_PLATFORM_LIFTED)
        } else if d.causes & CAUSE_LEGACY_AGENT != 0 {
            (EnrollmentError::ManagementBlocked, CAUSE_LEGACY_AGENT)
        } else if d.causes & CAUSE_ALREADY_ENROLLED != 0 {
            (EnrollmentError::AlreadyEnrolled, CAUSE_ALREADY_ENROLLED)
        } else if d.causes & CAUSE_NON_ROUTABLE_UPN != 0 {
            (EnrollmentError::NonRoutableUpn, CAUSE_NON_ROUTABLE_UPN)
        } else {
            return None;
        };
        // Setting the "lifted" bit or clearing a cause bit: the next attempt, after the
        // remediation, no longer meets this cause.
        d.causes ^= bit;
        Some(error)
    }

    pub(super) fn attempt(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let s = &ctx.scenario;
        let id = self.first + i as u32;
        let sched = self.schedule_of(i);
        let k = u64::from(self.devices[i].attempts);
        self.devices[i].attempts = self.devices[i].attempts.saturating_add(1);
        self.count(ctx, now, Counter::EnrollmentAttempts);
        self.live.attempts += 1;
        let error = if let Some(cause) = self.take_cause(ctx, i) {
            cause
        } else {
            // Per-attempt dice: a device-token enrollment never meets an error that needs a
            // user, so it fails only at the rate of the other errors.
            let (mix, rate) = if self.device_token(ctx, i) {
                match &ctx.device_token_errors {
                    Some((mix, kept)) => (mix, s.failure_rate * kept),
                    None => (&s.errors, 0.0),
                }
            } else {
                (&s.errors, s.failure_rate)
            };
            if ctx.streams.unit(id, ATTEMPT, k) >= rate {
                self.devices[i].enroll = EnrollStage::Done;
                self.devices[i].intune_at = now;
                self.count(ctx, now, Counter::EnrollmentSuccesses);
                return Detail::Enrolled;
            }
            mix.sample(ctx.streams.draw(id, ERROR, k))
        };
        self.count(ctx, now, Counter::EnrollmentFailures);
        self.live.failures += 1;
        let row = self.row(ctx, now);
        self.counter_delta[row * COUNTERS + Counter::ALL.len() + error.index()] += 1;
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

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::PolicyPoll`]: The client receives the co-management policy: a device of the
    /// first wave schedules its enrollment within the randomization window while it lasts (at
    /// once after); a device that entered Path 1 later enrolls at once.
    #[inline]
    pub(super) fn on_policy_poll(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(ctx, now, Counter::PoliciesReceived);
        let start = ctx.co_management_at.unwrap_or(0);
        let first_wave = !self.devices[i].late();
        let due = if first_wave && now < start.saturating_add(ctx.window) && ctx.window > 0 {
            let id = self.first + i as u32;
            now + (ctx.streams.draw(id, SCHEDULE, 0) % u64::from(ctx.window)) as Minute
        } else {
            now
        };
        self.devices[i].enroll = EnrollStage::Scheduled;
        Self::schedule(
            q,
            Some(due).filter(|t| *t < ctx.calendar.horizon),
            i as u32,
            Kind::EnrollDue,
        );
        Detail::PolicyReceived
    }

    /// [`Kind::EnrollDue`]: Enrollment is due: it starts once the device is hybrid joined.
    #[inline]
    pub(super) fn on_enroll_due(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        if self.devices[i].join() == JoinStage::Joined {
            self.begin_attempt(ctx, now, i, q);
        } else {
            self.devices[i].enroll = EnrollStage::Due;
        }
        Detail::EnrollmentDue
    }

    /// [`Kind::Remediated`]: A permanent error was remediated: the device tries again.
    #[inline]
    pub(super) fn on_remediated(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(ctx, now, Counter::Remediations);
        self.begin_attempt(ctx, now, i, q);
        Detail::Remediated
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

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
    fn devices_brought_in_later_enroll_at_their_first_poll() {
        // Half the clients are in the first wave, spread over 5 days; client push brings the
        // other half in on day 2 (2,000 a day from 00:00, so within 6 h): they enroll at their
        // first policy poll after the push, while the first wave's window is still open.
        let s = Scenario::from_toml(
            "name = \"late\"\nstart_date = 2027-01-04\ndays = 7\n[fleet]\ndevices = 1000\nlicensed = 1.0\nthird_party_mdm = 0.0\nos = { win11_23h2 = 1.0 }\njoin = { hybrid_joined = 1.0 }\nconfigmgr_client = { hybrid_joined = 0.5 }\nlocation = { corporate_network = 1.0 }\nusage = { always_on = 1.0 }\n[client_push]\ndevices_per_day = 2000\nstart_date = 2027-01-05\n[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n[timing]\nrandomization_min_minutes = 7200\n",
        )
        .map(|s| without_causes(s, ""))
        .unwrap();
        let r = hourly(&s);
        assert_eq!(r.randomization_window, 7200);
        let pushed = r.counters[35][Counter::ClientPushes.index()];
        assert!((400..=600).contains(&pushed), "{pushed}");
        // By hour 36 every pushed device is co-managed; of the first wave only about 36/120.
        let co = at_hour(&r, 36, S::CoManaged);
        assert!(co >= pushed + 100 && co <= pushed + 250, "{co} {pushed}");
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
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x80180003\" = 1.0 }\ndevice_token_fallback = 0.0\n[remediation]\ndefault = { never = true }\n",
        )
        .with_os("win10_1709");
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
    fn device_token_enrollments_never_meet_user_errors() {
        // Every failure would be a user error: device-token devices (Windows 11, site 2403)
        // enroll at the first attempt; the 30% whose device token fails fall back to the user
        // token and fail every time.
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x8018002A\" = 0.5, \"0x80180002\" = 0.5 }\ndevice_token_fallback = 0.3\n[remediation]\ndefault = { never = true }\n",
        );
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        let co = last[S::CoManaged.index()];
        assert!((620..=780).contains(&co), "{co}");
        assert_eq!(
            last[S::CoManaged.index()]
                + last[S::Enrolling.index()]
                + last[S::AwaitingRemediation.index()],
            1000
        );
        // On a site below 1906 every device uses the user token.
        let old = uniform(
            "federated",
            "[[sites]]\ncode = \"OLD\"\nshare = 1.0\nversion = 1902\n[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x80180002\" = 1.0 }\ndevice_token_fallback = 0.0\n",
        );
        assert_eq!(hourly(&old).states.last().unwrap()[S::CoManaged.index()], 0);
    }

    #[test]
    fn lasting_causes_fail_every_attempt_until_remediated() {
        // 10% have the legacy agent: they fail once, wait 2 days for remediation, then enroll;
        // no per-attempt failures otherwise.
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\nlegacy_intune_agent = 0.1\nnon_routable_upn = 0.0\nalready_enrolled = 0.0\n[remediation]\n\"0x80180026\" = { date = 2027-01-08 }\n",
        );
        let r = hourly(&s);
        let blocked = r.counters.last().unwrap()
            [Counter::ALL.len() + EnrollmentError::ManagementBlocked.index()];
        assert!((60..=140).contains(&blocked), "{blocked}");
        assert_eq!(at_hour(&r, 72, S::AwaitingRemediation), blocked);
        assert_eq!(at_hour(&r, 72, S::CoManaged), 1000 - blocked);
        assert_eq!(r.states.last().unwrap()[S::CoManaged.index()], 1000);
        // The tenant's platform restriction blocks every matching device and no other.
        let p = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\nnon_routable_upn = 0.0\nlegacy_intune_agent = 0.0\nalready_enrolled = 0.0\nplatform_restriction_below = \"win11_24h2\"\n[remediation]\ndefault = { never = true }\n",
        );
        let r = hourly(&p);
        assert_eq!(
            r.states.last().unwrap()[S::AwaitingRemediation.index()],
            1000
        );
        let p = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\nnon_routable_upn = 0.0\nlegacy_intune_agent = 0.0\nalready_enrolled = 0.0\nplatform_restriction_below = \"win11_23h2\"\n",
        );
        assert_eq!(
            hourly(&p).states.last().unwrap()[S::CoManaged.index()],
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

    #[test]
    fn a_stretched_site_polls_spread_over_the_stretched_interval() {
        // 50,000 clients on one management point: the 60-minute poll stretches to 120 min, and
        // the first policies arrive spread over 120 min, about half in the first hour.
        let mut s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n",
        );
        s.set_devices(50_000).unwrap();
        s.set_days(1).unwrap();
        let r = hourly(&s);
        assert_eq!(r.site_poll, vec![120]);
        let policies = |h: usize| r.counters[h - 1][Counter::PoliciesReceived.index()];
        assert!((22_000..=28_000).contains(&policies(1)), "{}", policies(1));
        assert_eq!(policies(2), 50_000);
    }

    #[test]
    fn overloaded_management_points_stretch_policy_polls() {
        assert_eq!(site_poll_interval(60, 25_000, 1), 60);
        assert_eq!(site_poll_interval(60, 50_000, 1), 120);
        assert_eq!(site_poll_interval(60, 50_000, 2), 60);
    }
}
