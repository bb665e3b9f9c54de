//! Rollout: the strategy's steps and gates as they unfold at barriers, the sliders they set,
//! rollbacks and retries, and decisions.csv's rows.
//!
//! Leaves to others: how devices take new sliders ([`workloads`](super::workloads)); the
//! strategy's schema and validation ([`crate::scenario::strategy`]).

use super::device::*;
use super::results::*;
use super::workloads::bit;
use crate::domain::{GateMetric, Slider, Workload};
use crate::scenario::strategy::{OnFailure, StepAction, StepStart};
use crate::scenario::{DAY, Minute, Scenario};

#[derive(Clone, Debug, Default)]
pub(super) struct GateState {
    active: bool,
    passed: bool,
    next_check: Minute,
    failures: u32,
    resume_at: Option<Minute>,
    restore: Option<(Workload, Slider, Option<usize>)>,
    base_switched: u64,
    base_detected: u64,
    last_attempts: u64,
    last_failures: u64,
    last_tickets: u64,
}

/// The strategy as it unfolds: which steps ran, the gates' state, the sliders, the decisions.
pub(super) struct Rollout {
    pub(super) sliders: Sliders,
    done: Vec<Option<Minute>>,
    gates: Vec<GateState>,
    pub(super) decisions: Vec<Decision>,
    pub(super) at_intune: [Option<Minute>; WORKLOADS],
    pub(super) blast_radius: u64,
}

impl Rollout {
    pub(super) fn new(s: &Scenario) -> Self {
        Self {
            sliders: Sliders::default(),
            done: vec![None; s.strategy.steps.len()],
            gates: vec![GateState::default(); s.strategy.gates.len()],
            decisions: Vec::new(),
            at_intune: [None; WORKLOADS],
            blast_radius: 0,
        }
    }

    fn baseline(g: &mut GateState, live: &Live, w: Option<Workload>) {
        if let Some(w) = w {
            g.base_switched = live.switched[w.index()];
            g.base_detected = live.detected[w.index()];
        }
        g.last_attempts = live.attempts;
        g.last_failures = live.failures;
        g.last_tickets = live.tickets;
    }

    /// The workload a gate rolls back: its own, or that of the step it guards.
    fn gate_workload(s: &Scenario, g: usize) -> Option<Workload> {
        s.strategy.gates[g].workload.or_else(|| {
            s.strategy
                .steps
                .iter()
                .filter(|st| st.gate == Some(g))
                .find_map(|st| match st.action {
                    StepAction::Pilot(mask, _) | StepAction::Promote(mask) => {
                        Workload::ALL.iter().find(|w| mask & bit(**w) != 0).copied()
                    }
                    _ => None,
                })
        })
    }

    /// Advances the strategy at a barrier; returns whether the sliders changed and whether a
    /// pilot collection is involved (collection evaluation delays the switch).
    pub(super) fn step(&mut self, s: &Scenario, now: Minute, live: &Live) -> Option<bool> {
        let before = self.sliders;
        let mut pilot_change = false;
        self.blast_radius = self.blast_radius.max(live.incidents_active);
        for w in Workload::ALL {
            let k = w.index();
            if self.at_intune[k].is_none()
                && self.sliders.slider[k] == Slider::Intune
                && live.co_managed > 0
                && live.wl[k] * 100 >= 99 * live.co_managed
            {
                self.at_intune[k] = Some(now);
            }
        }
        // Gates first: a gate that passes lets its step run at the same barrier.
        for (gi, gate) in s.strategy.gates.iter().enumerate() {
            let w = Self::gate_workload(s, gi);
            let g = &mut self.gates[gi];
            if let Some(t) = g.resume_at.filter(|t| now >= *t) {
                g.resume_at = None;
                if let Some((rw, slider, pilot)) = g.restore.take() {
                    self.sliders.version[rw.index()] =
                        self.sliders.version[rw.index()].saturating_add(1);
                    self.sliders.slider[rw.index()] = slider;
                    self.sliders.pilot[rw.index()] = pilot;
                    pilot_change |= slider == Slider::PilotIntune;
                    self.decisions.push(Decision {
                        time: t.max(now),
                        source: DecisionSource::Gate,
                        name: gate.name.clone(),
                        metric: None,
                        value: None,
                        decision: "retry",
                        detail: format!("policy fixed: {} back to {}", rw.name(), slider.name()),
                    });
                }
                Self::baseline(g, live, w);
                g.next_check = now.saturating_add(gate.interval);
            }
            if !g.active || g.passed || g.resume_at.is_some() || now < g.next_check {
                continue;
            }
            let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let value = match gate.metric {
                GateMetric::CoManagedShare => {
                    let c = gate.collection.expect("validated");
                    ratio(live.collection_co[c], live.collection_members[c])
                }
                GateMetric::IncidentRate => {
                    let k = w.expect("validated").index();
                    ratio(
                        live.detected[k] - g.base_detected,
                        live.switched[k] - g.base_switched,
                    )
                }
                GateMetric::EnrollmentFailureRate => ratio(
                    live.failures - g.last_failures,
                    live.attempts - g.last_attempts,
                ),
                GateMetric::TicketsPerDay => {
                    (live.tickets - g.last_tickets) as f64 * f64::from(DAY)
                        / f64::from(gate.interval)
                }
            };
            g.last_attempts = live.attempts;
            g.last_failures = live.failures;
            g.last_tickets = live.tickets;
            // Validation keeps the interval within 1 to 87,600 hours; never spin or wrap anyway.
            while g.next_check <= now {
                g.next_check = g.next_check.saturating_add(gate.interval.max(1));
            }
            let success = gate.success_at_least.is_none_or(|x| value >= x)
                && gate.success_at_most.is_none_or(|x| value <= x);
            let failure = gate.failure_above.is_some_and(|x| value > x)
                || gate.failure_below.is_some_and(|x| value < x);
            let (decision, detail) = if failure {
                g.failures += 1;
                if g.failures < gate.failure_limit {
                    (
                        "fail",
                        format!("failure {} of {}", g.failures, gate.failure_limit),
                    )
                } else {
                    g.failures = 0;
                    match (gate.on_failure, w) {
                        (OnFailure::Rollback, Some(rw))
                            if self.sliders.slider[rw.index()] != Slider::ConfigMgr =>
                        {
                            g.restore = Some((
                                rw,
                                self.sliders.slider[rw.index()],
                                self.sliders.pilot[rw.index()],
                            ));
                            self.sliders.slider[rw.index()] = Slider::ConfigMgr;
                            g.resume_at = Some(now.saturating_add(gate.remediation));
                            (
                                "rollback",
                                format!(
                                    "{} back to configuration_manager; retry after {} days",
                                    rw.name(),
                                    gate.remediation / DAY
                                ),
                            )
                        }
                        _ => ("halt", "check again at the next interval".to_string()),
                    }
                }
            } else if success {
                g.passed = true;
                ("promote", "the guarded step may run".to_string())
            } else {
                ("wait", "neither success nor failure".to_string())
            };
            self.decisions.push(Decision {
                time: now,
                source: DecisionSource::Gate,
                name: gate.name.clone(),
                metric: Some(gate.metric),
                value: Some(value),
                decision,
                detail,
            });
        }
        for (i, step) in s.strategy.steps.iter().enumerate() {
            if self.done[i].is_some() {
                continue;
            }
            let ready = match step.start {
                StepStart::At(t) => Some(t),
                StepStart::After(k, d) => self.done[k].map(|t| t.saturating_add(d)),
            };
            let Some(ready) = ready.filter(|t| *t <= now) else {
                continue;
            };
            if let Some(gi) = step.gate {
                let g = &mut self.gates[gi];
                if !g.passed {
                    if !g.active {
                        g.active = true;
                        g.next_check = ready.max(now).saturating_add(s.strategy.gates[gi].interval);
                        Self::baseline(g, live, Self::gate_workload(s, gi));
                    }
                    continue;
                }
            }
            self.done[i] = Some(now);
            let detail = match step.action {
                StepAction::EnableCoManagement(_) => "co-management enabled".to_string(),
                StepAction::Pilot(mask, c) => {
                    let mut names = Vec::new();
                    for w in Workload::ALL.iter().filter(|w| mask & bit(**w) != 0) {
                        self.sliders.slider[w.index()] = Slider::PilotIntune;
                        self.sliders.pilot[w.index()] = Some(c);
                        names.push(w.name());
                    }
                    pilot_change = true;
                    format!(
                        "{} to pilot_intune for {:?}",
                        names.join(" "),
                        s.collections[c].name
                    )
                }
                StepAction::Promote(mask) => {
                    let mut names = Vec::new();
                    for w in Workload::ALL.iter().filter(|w| mask & bit(**w) != 0) {
                        self.sliders.slider[w.index()] = Slider::Intune;
                        names.push(w.name());
                    }
                    format!("{} to intune for every co-managed device", names.join(" "))
                }
                StepAction::Pause => "pause".to_string(),
            };
            self.decisions.push(Decision {
                time: now,
                source: DecisionSource::Step,
                name: step.name.clone(),
                metric: None,
                value: None,
                decision: "run",
                detail,
            });
        }
        (self.sliders != before).then_some(pilot_change)
    }
}

/// Minutes between barriers while a strategy moves workloads.
pub(super) const STRATEGY_STEP: Minute = 60;

/// Incremental collection evaluation before a pilot switch reaches devices (`memdocs: configmgr/comanage/how-to-switch-workloads.md`).
pub(super) const COLLECTION_EVALUATION: Minute = 5;

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

    #[test]
    fn a_bad_policy_is_caught_by_a_gate_and_rolled_back() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"pilot\"\naction = \"pilot\"\nworkload = \"compliance_policies\"\ncollection = \"Pilot\"\ndate = 2027-01-06\n\
             [[strategy.steps]]\nname = \"all\"\naction = \"promote\"\nworkload = \"compliance_policies\"\nafter = \"pilot\"\ngate = \"g\"\n\
             [[strategy.gates]]\nname = \"g\"\nmetric = \"incident_rate\"\nworkload = \"compliance_policies\"\ninterval_hours = 48\nsuccess_at_most = 0.01\nfailure_above = 0.05\non_failure = \"rollback\"\nremediation_days = 3\n\
             [workloads.compliance_policies]\nincident_rate = 0.5\ndetection_hours = 6\nresolution_days = 30\nticket_share = 1.0\n",
        );
        let r = hourly(&s);
        let kinds: Vec<&str> = r.decisions.iter().map(|d| d.decision).collect();
        assert_eq!(
            kinds,
            ["run", "run", "rollback", "retry", "promote", "run"],
            "{:?}",
            r.decisions
        );
        let rollback = &r.decisions[2];
        assert_eq!(rollback.time, (2 + 2) * DAY);
        assert!(rollback.value.unwrap() > 0.3);
        // Half the pilot got the incident; the rollback cured them at the next poll, and the
        // fixed policy hurt nobody when it went to everyone.
        let members = r.collection_members[0];
        let total = r.counters.last().unwrap()[Counter::IncidentsStarted.index()];
        assert!(
            total > members / 3 && total < members * 2 / 3,
            "{total} of {members}"
        );
        assert_eq!(r.incidents_active[4 * 24 + 2], 0);
        assert_eq!(*r.incidents_active.last().unwrap(), 0);
        assert_eq!(r.blast_radius, total);
        assert_eq!(r.decisions[3].time, (4 + 3) * DAY);
        assert_eq!(*r.workloads.last().unwrap(), {
            let mut v = vec![0; WORKLOADS];
            v[Workload::CompliancePolicies.index()] = 2000;
            v
        });
    }
}
