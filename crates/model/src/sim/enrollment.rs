//! Enrollment (Path 1): the co-management policy at the client's policy poll, the enrollment
//! schedule and its randomization window, attempts with the device or user token, enrollment
//! errors, retries and remediation; the management points' poll capacity.
//!
//! Leaves to others: the hybrid join it may wait for ([`identity`](super::identity)), the
//! eligibility and programs that put a device on Path 1 ([`programs`](super::programs)), and
//! what happens once co-managed ([`workloads`](super::workloads)).

use super::device::*;
use super::results::*;
use crate::domain::Retry;
use crate::scenario::{Minute, Remediation};
use fleetsim_engine::{EventQueue, Purpose};
use std::sync::Arc;

pub(super) const SCHEDULE: Purpose = Purpose::named("enrollment-schedule");

pub(super) const ATTEMPT: Purpose = Purpose::named("enrollment-attempt");

pub(super) const ERROR: Purpose = Purpose::named("enrollment-error");

pub(super) const REMEDIATION: Purpose = Purpose::named("remediation");

/// The enrollment randomization window for `in_scope` devices: it grows with the fleet, about
/// `per_100k` minutes per 100,000 devices, between `min` and `max`.
pub fn randomization_window(in_scope: u64, per_100k: Minute, min: Minute, max: Minute) -> Minute {
    let w = in_scope.saturating_mul(u64::from(per_100k)) / 100_000;
    (w.min(u64::from(max)) as Minute).max(min)
}

impl DeviceShard {
    /// The device wants to enroll now: with the device token as soon as it is online, with the
    /// user token at the next sign-in.
    pub(super) fn begin_attempt(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let sched = self.schedule_of(i);
        let d = &mut self.devices[i];
        let cal = &self.ctx.calendar;
        if d.profile.os.supports_device_token() {
            d.enroll = EnrollStage::Due;
            Self::schedule(q, cal.next_online(&sched, now), i as u32, Kind::Attempt);
        } else {
            d.enroll = EnrollStage::PendingSignIn;
            Self::schedule(q, cal.next_sign_in(&sched, now), i as u32, Kind::Attempt);
        }
    }

    pub(super) fn attempt(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) -> Detail {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let id = self.first + i as u32;
        let sched = self.schedule_of(i);
        let k = u64::from(self.devices[i].attempts);
        self.devices[i].attempts = self.devices[i].attempts.saturating_add(1);
        self.count(now, Counter::EnrollmentAttempts);
        self.live.attempts += 1;
        if ctx.streams.unit(id, ATTEMPT, k) >= s.failure_rate {
            self.devices[i].enroll = EnrollStage::Done;
            self.devices[i].intune_at = now;
            self.count(now, Counter::EnrollmentSuccesses);
            return Detail::Enrolled;
        }
        let error = s.errors.sample(ctx.streams.draw(id, ERROR, k));
        self.count(now, Counter::EnrollmentFailures);
        self.live.failures += 1;
        self.counter_delta
            [(now / ctx.bucket) as usize * COUNTERS + Counter::ALL.len() + error.index()] += 1;
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

    /// [`Kind::PolicyPoll`]: The client receives the co-management policy: enrollment is scheduled within the
    /// randomization window while it lasts, at once after.
    #[inline]
    pub(super) fn on_policy_poll(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(now, Counter::PoliciesReceived);
        let start = ctx.co_management_at.unwrap_or(0);
        let due = if now < start.saturating_add(ctx.window) && ctx.window > 0 {
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
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        if self.devices[i].join == JoinStage::Joined {
            self.begin_attempt(now, i, q);
        } else {
            self.devices[i].enroll = EnrollStage::Due;
        }
        Detail::EnrollmentDue
    }

    /// [`Kind::Remediated`]: A permanent error was remediated: the device tries again.
    #[inline]
    pub(super) fn on_remediated(
        &mut self,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(now, Counter::Remediations);
        self.begin_attempt(now, i, q);
        Detail::Remediated
    }
}
