//! Collections with rules, workload settings and the rollout strategy (steps and gates):
//! their raw schema and their validation into typed values.

// Validation errors are built once per run, never on a hot path: their size does not matter.
#![allow(clippy::result_large_err)]

use super::bounds::{self, Located, check, whole};
use super::error::ScenarioError;
use super::sections::Site;
use super::units::{DAY, Date, Days, Minute, Share, Whole};
use crate::domain::{AutoEnrollment, GateMetric, Location, OsRelease, UsagePattern, Workload};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

crate::named_enum! {
    /// A ring of the Autopatch-like ring scheme.
    pub enum Ring {
        /// Test: a fixed number of devices.
        Test => "test",
        /// First: 1% of the rest (5% for fleets of 200 or fewer).
        First => "first",
        /// Fast: 9% of the rest (15%).
        Fast => "fast",
        /// Broad: 90% of the rest (80%).
        Broad => "broad",
    }
}

/// `[[collections]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCollection {
    pub name: Spanned<String>,
    #[serde(default)]
    pub share: Option<Share>,
    #[serde(default)]
    pub sites: Vec<Spanned<String>>,
    #[serde(default)]
    pub os: Vec<OsRelease>,
    #[serde(default)]
    pub usage: Vec<UsagePattern>,
    #[serde(default)]
    pub location: Vec<Location>,
    #[serde(default)]
    pub min_devices: Option<Whole>,
    #[serde(default)]
    pub rings: Vec<Ring>,
}

/// `[rings]`: the ring scheme's settings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRings {
    pub test_devices: Whole,
}

impl Default for RawRings {
    fn default() -> Self {
        Self {
            test_devices: Whole(50),
        }
    }
}

/// `[workloads.<name>]`: what a switch to Intune risks.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawWorkload {
    pub incident_rate: Option<Share>,
    pub detection_hours: Option<Whole>,
    pub ticket_share: Option<Share>,
    pub resolution_days: Option<Days>,
    pub pilot_collection: Option<Spanned<String>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawAction {
    EnableCoManagement,
    Pilot,
    Promote,
    Pause,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawScope {
    Pilot,
    All,
}

/// `[[strategy.steps]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub name: Spanned<String>,
    pub action: RawAction,
    #[serde(default)]
    pub workload: Option<Spanned<Workload>>,
    #[serde(default)]
    pub workloads: Vec<Spanned<Workload>>,
    #[serde(default)]
    pub collection: Option<Spanned<String>>,
    #[serde(default)]
    pub scope: Option<RawScope>,
    #[serde(default)]
    pub date: Option<Date>,
    #[serde(default)]
    pub after: Option<Spanned<String>>,
    #[serde(default)]
    pub delay_days: Option<Days>,
    #[serde(default)]
    pub gate: Option<Spanned<String>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawOnFailure {
    Halt,
    Rollback,
}

/// `[[strategy.gates]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    pub name: Spanned<String>,
    pub metric: GateMetric,
    #[serde(default)]
    pub collection: Option<Spanned<String>>,
    #[serde(default)]
    pub workload: Option<Workload>,
    #[serde(default = "one_day")]
    pub interval_hours: Whole,
    #[serde(default)]
    pub success_at_least: Option<f64>,
    #[serde(default)]
    pub success_at_most: Option<f64>,
    #[serde(default)]
    pub failure_above: Option<f64>,
    #[serde(default)]
    pub failure_below: Option<f64>,
    #[serde(default = "one")]
    pub failure_limit: Whole,
    #[serde(default = "halt")]
    pub on_failure: RawOnFailure,
    #[serde(default)]
    pub remediation_days: Option<Days>,
}

fn one_day() -> Whole {
    Whole(24)
}
fn one() -> Whole {
    Whole(1)
}
fn halt() -> RawOnFailure {
    RawOnFailure::Halt
}

/// `[strategy]` as written.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawStrategy {
    pub steps: Vec<RawStep>,
    pub gates: Vec<RawGate>,
}

// ---------------------------------------------------------------------------------------------

/// A device collection: members are eligible devices that pass every filter, drawn with
/// `share` (or by ring).
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    /// The collection's name, such as `Intune Auto Enrollment`.
    pub name: String,
    /// Share of matching devices that are members.
    pub share: f64,
    /// Sites (indexes) whose devices may be members; empty: all.
    pub sites: Vec<u8>,
    /// OS releases; empty: all.
    pub os: Vec<OsRelease>,
    /// Usage patterns; empty: all.
    pub usage: Vec<UsagePattern>,
    /// Locations; empty: all.
    pub location: Vec<Location>,
    /// At least this many members (raises the share).
    pub min_devices: u32,
    /// Rings of the ring scheme (bit per `Ring::index`), in place of `share`; 0: none.
    pub rings: u8,
}

impl Collection {
    /// A collection of `share` of all devices, without filters.
    pub fn share_of_all(name: &str, share: f64) -> Self {
        Self {
            name: name.to_string(),
            share,
            sites: vec![],
            os: vec![],
            usage: vec![],
            location: vec![],
            min_devices: 0,
            rings: 0,
        }
    }

    /// A short name for CSV columns: lower case letters, digits and `_`.
    pub fn slug(&self) -> String {
        let mut out = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        let t = out.trim_matches('_').to_string();
        if t.is_empty() { "collection".into() } else { t }
    }
}

/// What a switch of one workload to Intune risks.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadSettings {
    /// Share of switched devices that a bad policy hits (0: none).
    pub incident_rate: f64,
    /// From the device's Intune sync to the incident's detection.
    pub detection: Minute,
    /// Share of detected incidents that raise a helpdesk ticket.
    pub ticket_share: f64,
    /// How long an incident lasts unless the device returns to ConfigMgr first.
    pub resolution: Minute,
    /// The workload's pilot collection (index), if set.
    pub pilot_collection: Option<usize>,
}

/// When a step may run.
#[derive(Clone, Debug, PartialEq)]
pub enum StepStart {
    /// At a fixed minute.
    At(Minute),
    /// A delay after another step (index) ran.
    After(usize, Minute),
}

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepAction {
    /// Enables co-management with this automatic enrollment scope.
    EnableCoManagement(AutoEnrollment),
    /// Moves the workloads (bit per `Workload::index`) to Pilot Intune for the collection.
    Pilot(u8, usize),
    /// Moves the workloads (bit per `Workload::index`) to Intune for every co-managed device.
    Promote(u8),
    /// Does nothing: an anchor for `after`.
    Pause,
}

/// A step of the rollout strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its name.
    pub name: String,
    /// What it does.
    pub action: StepAction,
    /// When it may run.
    pub start: StepStart,
    /// A gate (index) that must decide "promote" first.
    pub gate: Option<usize>,
}

/// What a gate does when its failure limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFailure {
    /// Stop and check again at the next interval.
    Halt,
    /// Move the workload back to ConfigMgr, fix the policy within the remediation delay, and
    /// pilot it again.
    Rollback,
}

/// A gate: a metric checked at an interval with success and failure conditions.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// Its name.
    pub name: String,
    /// What it measures.
    pub metric: GateMetric,
    /// The collection measured (for `co_managed_share`).
    pub collection: Option<usize>,
    /// The workload measured (for `incident_rate`) and rolled back.
    pub workload: Option<Workload>,
    /// Minutes between checks.
    pub interval: Minute,
    /// Success: metric at least this.
    pub success_at_least: Option<f64>,
    /// Success: metric at most this.
    pub success_at_most: Option<f64>,
    /// Failure: metric above this.
    pub failure_above: Option<f64>,
    /// Failure: metric below this.
    pub failure_below: Option<f64>,
    /// Failed checks before acting.
    pub failure_limit: u32,
    /// What to do then.
    pub on_failure: OnFailure,
    /// Delay before trying again after a rollback.
    pub remediation: Minute,
}

/// The whole rollout strategy.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Strategy {
    /// Steps, in file order.
    pub steps: Vec<Step>,
    /// Gates, in file order.
    pub gates: Vec<Gate>,
}

fn err(span: Option<std::ops::Range<usize>>, field: String, message: String) -> Located {
    (
        ScenarioError::field(field, message),
        span.filter(|s| s.start < s.end),
    )
}

/// Resolves the collections (sites by code).
pub(crate) fn resolve_collections(
    raw: &[RawCollection],
    sites: &[Site],
) -> Result<Vec<Collection>, Located> {
    if raw.len() > 32 {
        return Err(err(
            Some(raw[32].name.span()),
            "collections".into(),
            format!("expected at most 32 collections, found {}", raw.len()),
        ));
    }
    let mut out: Vec<Collection> = Vec::new();
    for (i, c) in raw.iter().enumerate() {
        let name = c.name.get_ref().trim().to_string();
        if name.is_empty() || out.iter().any(|x| x.name == name) {
            return Err(err(
                Some(c.name.span()),
                format!("collections[{i}].name"),
                format!("expected a unique, non-empty collection name, found {name:?}"),
            ));
        }
        let mut site_idx = Vec::new();
        for code in &c.sites {
            match sites.iter().position(|s| s.code == code.get_ref().trim()) {
                Some(k) => site_idx.push(k as u8),
                None => {
                    let known: Vec<&str> = sites.iter().map(|s| s.code.as_str()).collect();
                    return Err(err(
                        Some(code.span()),
                        format!("collections[{i}].sites"),
                        format!(
                            "no site {:?}; expected one of {}",
                            code.get_ref(),
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        if !c.rings.is_empty() && c.share.is_some() {
            return Err(err(
                Some(c.name.span()),
                format!("collections[{i}].rings"),
                "give share or rings, not both".into(),
            ));
        }
        out.push(Collection {
            name,
            share: c.share.map_or(1.0, |s| s.0),
            sites: site_idx,
            os: c.os.clone(),
            usage: c.usage.clone(),
            location: c.location.clone(),
            min_devices: match c.min_devices {
                Some(w) => whole(&format!("collections[{i}].min_devices"), w)?,
                None => 0,
            },
            rings: c.rings.iter().fold(0, |m, r| m | (1 << r.index())),
        });
    }
    Ok(out)
}

fn find(
    collections: &[Collection],
    name: &Spanned<String>,
    field: String,
) -> Result<usize, Located> {
    let wanted = name.get_ref().trim();
    collections
        .iter()
        .position(|c| c.name == wanted)
        .ok_or_else(|| {
            let known: Vec<String> = collections
                .iter()
                .map(|c| format!("{:?}", c.name))
                .collect();
            err(
                Some(name.span()),
                field,
                format!(
                    "no collection named {wanted:?}; expected one of the [[collections]] names: {}",
                    if known.is_empty() {
                        "(none defined)".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
}

/// Resolves the workload settings.
pub(crate) fn resolve_workloads(
    raw: &BTreeMap<Workload, RawWorkload>,
    collections: &[Collection],
) -> Result<Vec<WorkloadSettings>, Located> {
    Workload::ALL
        .iter()
        .map(|w| {
            let r = raw.get(w);
            let pilot_collection = match r.and_then(|r| r.pilot_collection.as_ref()) {
                Some(name) => Some(find(
                    collections,
                    name,
                    format!("workloads.{}.pilot_collection", w.name()),
                )?),
                None => None,
            };
            let field = |f: &str| format!("workloads.{}.{f}", w.name());
            Ok(WorkloadSettings {
                incident_rate: r.and_then(|r| r.incident_rate).map_or(0.0, |s| s.0),
                detection: match r.and_then(|r| r.detection_hours) {
                    Some(h) => whole(&field("detection_hours"), h)? * 60,
                    None => 24 * 60,
                },
                ticket_share: r.and_then(|r| r.ticket_share).map_or(0.3, |s| s.0),
                resolution: match r.and_then(|r| r.resolution_days) {
                    Some(d) => bounds::days(&field("resolution_days"), d)?,
                    None => 2 * DAY,
                },
                pilot_collection,
            })
        })
        .collect()
}

/// Resolves and checks the strategy: names, references, cycles, and that no workload moves
/// before co-management is enabled or on sites that lack it.
pub(crate) fn resolve_strategy(
    raw: &RawStrategy,
    collections: &[Collection],
    sites: &[Site],
    minute_of: &dyn Fn(Date) -> Minute,
    co_management_date: Option<Minute>,
) -> Result<Strategy, Located> {
    let mut gates = Vec::new();
    for (i, g) in raw.gates.iter().enumerate() {
        let field = |f: &str| format!("strategy.gates[{i}].{f}");
        let name = g.name.get_ref().trim().to_string();
        if name.is_empty()
            || raw.gates[..i]
                .iter()
                .any(|x| x.name.get_ref().trim() == name)
        {
            return Err(err(
                Some(g.name.span()),
                field("name"),
                format!("expected a unique, non-empty gate name, found {name:?}"),
            ));
        }
        let collection = match &g.collection {
            Some(c) => Some(find(collections, c, field("collection"))?),
            None => None,
        };
        match g.metric {
            GateMetric::CoManagedShare if collection.is_none() => {
                return Err(err(
                    Some(g.name.span()),
                    field("collection"),
                    "metric co_managed_share needs collection = \"<name>\"".into(),
                ));
            }
            GateMetric::IncidentRate if g.workload.is_none() => {
                return Err(err(
                    Some(g.name.span()),
                    field("workload"),
                    "metric incident_rate needs workload = \"<workload>\"".into(),
                ));
            }
            _ => {}
        }
        if g.success_at_least.is_none() && g.success_at_most.is_none() {
            return Err(err(
                Some(g.name.span()),
                field("success_at_most"),
                "a gate needs a success condition: success_at_least or success_at_most".into(),
            ));
        }
        let interval_hours = whole(&field("interval_hours"), g.interval_hours)?;
        let failure_limit = whole(&field("failure_limit"), g.failure_limit)?;
        for (key, v) in [
            ("success_at_least", g.success_at_least),
            ("success_at_most", g.success_at_most),
            ("failure_above", g.failure_above),
            ("failure_below", g.failure_below),
        ] {
            if let Some(v) = v {
                check(&field(key), v)?;
            }
        }
        let remediation = match g.remediation_days {
            Some(d) => bounds::days(&field("remediation_days"), d)?,
            None => 7 * DAY,
        };
        gates.push(Gate {
            name,
            metric: g.metric,
            collection,
            workload: g.workload,
            interval: interval_hours * 60,
            success_at_least: g.success_at_least,
            success_at_most: g.success_at_most,
            failure_above: g.failure_above,
            failure_below: g.failure_below,
            failure_limit,
            on_failure: match g.on_failure {
                RawOnFailure::Halt => OnFailure::Halt,
                RawOnFailure::Rollback => OnFailure::Rollback,
            },
            remediation,
        });
    }

    let names: Vec<String> = raw
        .steps
        .iter()
        .map(|s| s.name.get_ref().trim().to_string())
        .collect();
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let field = |f: &str| format!("strategy.steps[{i}].{f}");
        let name = names[i].clone();
        if name.is_empty() || names[..i].contains(&name) {
            return Err(err(
                Some(s.name.span()),
                field("name"),
                format!("expected a unique, non-empty step name, found {name:?}"),
            ));
        }
        let delay = match s.delay_days {
            Some(d) => bounds::days(&field("delay_days"), d)?,
            None => 0,
        };
        let start = match (&s.date, &s.after) {
            // Dates and delays are bounded, so this cannot saturate; saturate anyway.
            (Some(d), None) => StepStart::At(minute_of(*d).saturating_add(delay)),
            (None, Some(a)) => {
                let Some(k) = names.iter().position(|n| n == a.get_ref().trim()) else {
                    return Err(err(
                        Some(a.span()),
                        field("after"),
                        format!(
                            "no step named {:?}; expected one of: {}",
                            a.get_ref(),
                            names.join(", ")
                        ),
                    ));
                };
                StepStart::After(k, delay)
            }
            _ => {
                return Err(err(
                    Some(s.name.span()),
                    field("date"),
                    "a step needs exactly one of date = <date> or after = \"<step>\"".into(),
                ));
            }
        };
        let workload = |what: &str| -> Result<u8, Located> {
            let listed: Vec<&Spanned<Workload>> =
                s.workload.iter().chain(s.workloads.iter()).collect();
            if listed.is_empty() {
                return Err(err(
                    Some(s.name.span()),
                    field("workload"),
                    format!("action {what} needs workload = \"<workload>\" or workloads = [...]"),
                ));
            }
            let mut mask = 0u8;
            for w in listed {
                let wl = *w.get_ref();
                if let Some(site) = sites.iter().find(|site| !wl.available_at(site.version)) {
                    return Err(err(
                        Some(w.span()),
                        field("workload"),
                        format!(
                            "site {} runs ConfigMgr {}, which no longer has the {} workload (gone from 2203)",
                            site.code,
                            site.version,
                            wl.name()
                        ),
                    ));
                }
                mask |= 1 << wl.index();
            }
            Ok(mask)
        };
        let action = match s.action {
            RawAction::EnableCoManagement => {
                StepAction::EnableCoManagement(match s.scope.unwrap_or(RawScope::All) {
                    RawScope::All => AutoEnrollment::All,
                    RawScope::Pilot => {
                        let Some(c) = &s.collection else {
                            return Err(err(
                                Some(s.name.span()),
                                field("collection"),
                                "scope = \"pilot\" needs collection = \"<name>\"".into(),
                            ));
                        };
                        AutoEnrollment::Pilot(find(collections, c, field("collection"))?)
                    }
                })
            }
            RawAction::Pilot => {
                let w = workload("pilot")?;
                let Some(c) = &s.collection else {
                    return Err(err(
                        Some(s.name.span()),
                        field("collection"),
                        "action pilot needs collection = \"<pilot collection>\"".into(),
                    ));
                };
                StepAction::Pilot(w, find(collections, c, field("collection"))?)
            }
            RawAction::Promote => StepAction::Promote(workload("promote")?),
            RawAction::Pause => StepAction::Pause,
        };
        let gate = match &s.gate {
            Some(g) => Some(
                gates
                    .iter()
                    .position(|x| x.name == g.get_ref().trim())
                    .ok_or_else(|| {
                        let known: Vec<&str> = gates.iter().map(|x| x.name.as_str()).collect();
                        err(
                            Some(g.span()),
                            field("gate"),
                            format!(
                                "no gate named {:?}; expected one of: {}",
                                g.get_ref(),
                                if known.is_empty() {
                                    "(none defined)".into()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        )
                    })?,
            ),
            None => None,
        };
        steps.push(Step {
            name,
            action,
            start,
            gate,
        });
    }

    // Cycles: follow `after` links from every step; name the cycle's steps in order.
    for i in 0..steps.len() {
        let mut chain = vec![i];
        let mut k = i;
        while let StepStart::After(prev, _) = steps[k].start {
            if let Some(at) = chain.iter().position(|c| *c == prev) {
                let cycle = &chain[at..];
                let first = cycle[0];
                let mut names: Vec<String> = cycle
                    .iter()
                    .map(|c| format!("{:?}", steps[*c].name))
                    .collect();
                names.push(format!("{:?}", steps[first].name));
                return Err(err(
                    raw.steps[first].after.as_ref().map(|a| a.span()),
                    format!("strategy.steps[{first}].after"),
                    format!(
                        "a cycle in `after`: {} (each step waits for the next)",
                        names.join(" -> ")
                    ),
                ));
            }
            chain.push(prev);
            k = prev;
        }
    }

    // Earliest time of each step, ignoring gates (a gate only delays).
    let mut earliest = vec![None; steps.len()];
    fn at(steps: &[Step], memo: &mut Vec<Option<Minute>>, i: usize) -> Minute {
        if let Some(t) = memo[i] {
            return t;
        }
        let t = match steps[i].start {
            StepStart::At(t) => t,
            StepStart::After(k, d) => at(steps, memo, k).saturating_add(d),
        };
        memo[i] = Some(t);
        t
    }
    let enable_times: Vec<Minute> = (0..steps.len())
        .filter(|i| matches!(steps[*i].action, StepAction::EnableCoManagement(_)))
        .map(|i| at(&steps, &mut earliest, i))
        .collect();
    if enable_times.len() > 1 {
        return Err(err(
            None,
            "strategy.steps".into(),
            "at most one enable_co_management step".into(),
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        if matches!(s.action, StepAction::EnableCoManagement(_)) && depends_on_gate(&steps, i) {
            return Err(err(
                Some(raw.steps[i].name.span()),
                format!("strategy.steps[{i}].gate"),
                "enable_co_management must not wait for a gate (it is scheduled before the run)"
                    .into(),
            ));
        }
    }
    let enabled = enable_times.first().copied().or(co_management_date);
    for (i, s) in steps.iter().enumerate() {
        if let StepAction::Pilot(mask, _) | StepAction::Promote(mask) = s.action {
            let w = Workload::ALL
                .iter()
                .find(|w| mask & (1 << w.index()) != 0)
                .copied()
                .unwrap_or(Workload::CompliancePolicies);
            let t = at(&steps, &mut earliest, i);
            match enabled {
                Some(e) if t >= e => {}
                _ => {
                    return Err(err(
                        Some(raw.steps[i].name.span()),
                        format!("strategy.steps[{i}]"),
                        format!(
                            "step {:?} moves {} before co-management is enabled ({}): workloads move only on co-managed devices",
                            s.name,
                            w.name(),
                            enabled.map_or("never".to_string(), |e| format!("day {}", e / DAY + 1))
                        ),
                    ));
                }
            }
        }
    }
    Ok(Strategy { steps, gates })
}

fn depends_on_gate(steps: &[Step], mut i: usize) -> bool {
    loop {
        if steps[i].gate.is_some() {
            return true;
        }
        match steps[i].start {
            StepStart::After(k, _) => i = k,
            StepStart::At(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Scenario;
    use crate::scenario::ScenarioError;

    const BASE: &str = "name = \"s\"\nstart_date = 2027-01-04\ndays = 30\n[fleet]\ndevices = 100\n[[collections]]\nname = \"P\"\nshare = 0.5\n";
    const ENABLE: &str = "[[strategy.steps]]\nname = \"enable\"\naction = \"enable_co_management\"\ndate = 2027-01-11\n";

    fn err(extra: &str) -> ScenarioError {
        Scenario::from_toml(&format!("{BASE}{extra}")).unwrap_err()
    }

    #[test]
    fn a_gate_on_an_unknown_metric_is_refused() {
        let e = err(&format!(
            "{ENABLE}[[strategy.gates]]\nname = \"g\"\nmetric = \"happiness\"\nsuccess_at_most = 1\n"
        ));
        assert!(
            e.message.contains("unknown variant `happiness`")
                && e.message.contains("incident_rate"),
            "{e}"
        );
        assert_eq!(e.line, Some(15));
    }

    #[test]
    fn a_workload_step_before_co_management_is_refused() {
        let e = err(&format!(
            "{ENABLE}[[strategy.steps]]\nname = \"early\"\naction = \"promote\"\nworkload = \"client_apps\"\ndate = 2027-01-05\n"
        ));
        assert!(
            e.message
                .contains("before co-management is enabled (day 8)"),
            "{e}"
        );
        assert_eq!(e.line, Some(14));
        let e = err(
            "[[strategy.steps]]\nname = \"early\"\naction = \"promote\"\nworkload = \"client_apps\"\ndate = 2027-01-05\n",
        );
        assert!(
            e.message
                .contains("before co-management is enabled (never)"),
            "{e}"
        );
    }

    #[test]
    fn a_workload_the_site_lacks_is_refused() {
        let e = err(&format!(
            "{ENABLE}[[strategy.steps]]\nname = \"ra\"\naction = \"promote\"\nworkload = \"resource_access_policies\"\ndate = 2027-01-20\n"
        ));
        assert!(
            e.message
                .contains("no longer has the resource_access_policies workload"),
            "{e}"
        );
        assert_eq!(e.line, Some(16));
        let ok = Scenario::from_toml(&format!(
            "{BASE}[[sites]]\ncode = \"OLD\"\nshare = 1.0\nversion = 2107\n{ENABLE}[[strategy.steps]]\nname = \"ra\"\naction = \"promote\"\nworkload = \"resource_access_policies\"\ndate = 2027-01-20\n"
        ));
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_cycle_in_step_dependencies_is_refused() {
        let e = err(&format!(
            "{ENABLE}[[strategy.steps]]\nname = \"a\"\naction = \"pause\"\nafter = \"b\"\n[[strategy.steps]]\nname = \"b\"\naction = \"pause\"\nafter = \"a\"\n"
        ));
        assert!(e.message.contains("cycle"), "{e}");
        assert_eq!(e.field.as_deref(), Some("strategy.steps[1].after"));
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let e = err(&format!(
            "{ENABLE}[[strategy.steps]]\nname = \"p\"\naction = \"pilot\"\nworkload = \"client_apps\"\ncollection = \"Q\"\ndate = 2027-01-20\n"
        ));
        assert!(
            e.message.contains("no collection named \"Q\"") && e.message.contains("\"P\""),
            "{e}"
        );
        let e = err(&format!(
            "{ENABLE}[[strategy.steps]]\nname = \"p\"\naction = \"pause\"\nafter = \"nope\"\n"
        ));
        assert!(e.message.contains("no step named \"nope\""), "{e}");
        let e = err(&format!(
            "{ENABLE}[[strategy.steps]]\nname = \"p\"\naction = \"pause\"\ndate = 2027-01-20\ngate = \"nope\"\n"
        ));
        assert!(e.message.contains("no gate named \"nope\""), "{e}");
    }

    #[test]
    fn at_most_32_collections() {
        let many: String = (0..33)
            .map(|i| format!("[[collections]]\nname = \"C{i}\"\nshare = 0.5\n"))
            .collect();
        let e = err(&many);
        assert!(e.message.contains("at most 32 collections"), "{e}");
    }

    #[test]
    fn co_management_is_enabled_once() {
        let e = err(&format!(
            "[co_management]\nenable_date = 2027-01-04\n{ENABLE}"
        ));
        assert!(e.message.contains("keep one"), "{e}");
        let s = Scenario::from_toml(&format!("{BASE}{ENABLE}")).unwrap();
        assert_eq!(s.co_management_at, Some(7 * 1440));
    }
}
