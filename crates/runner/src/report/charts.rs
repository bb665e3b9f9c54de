//! The report's charts, built from run data: the co-management funnel, lifecycle states,
//! enrollment status by join type, client OS distribution, enrollment errors, workloads,
//! gateway load and the comparison of several runs.
//!
//! The funnel follows the ConfigMgr co-management dashboard. Each stage counts the devices
//! that got at least that far, from the timeline's `state_*` columns:
//!
//! | stage                | states                                                          |
//! |----------------------|-----------------------------------------------------------------|
//! | Eligible             | every state except `ineligible`, `coexistence` and `awaiting_mdm_migration` |
//! | Scheduled            | `scheduled`, `pending_user_sign_in` and everything below        |
//! | Enrollment initiated | `enrolling`, `awaiting_remediation` and everything below        |
//! | Enrolled             | `co_managed`                                                    |

use super::data::{Breakdown, MarkerKind, Run, Timeline};
use super::svg::{Area, BarChart, BarRow, Line, TimeAxis, TimeChart, VMarker, YFormat, fmt_pct};
use fleetsim_model::domain::{EnrollmentError, JoinType, LifecycleState, OsRelease, Retry};

/// Colours for runs and other unordered series (Tableau 10).
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// A colour from the palette, by position.
pub fn palette(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A stage of the co-management funnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Can be co-managed by Path 1.
    Eligible,
    /// Co-management policy received, enrollment scheduled or later.
    Scheduled,
    /// At least one enrollment attempt made.
    EnrollmentInitiated,
    /// Co-managed.
    Enrolled,
}

impl Stage {
    /// The stages, widest first.
    pub const ALL: [Stage; 4] = [
        Stage::Eligible,
        Stage::Scheduled,
        Stage::EnrollmentInitiated,
        Stage::Enrolled,
    ];

    /// Key for `data-series`.
    pub const fn key(self) -> &'static str {
        match self {
            Stage::Eligible => "eligible",
            Stage::Scheduled => "scheduled",
            Stage::EnrollmentInitiated => "enrollment_initiated",
            Stage::Enrolled => "enrolled",
        }
    }

    /// The dashboard's name.
    pub const fn label(self) -> &'static str {
        match self {
            Stage::Eligible => "Eligible",
            Stage::Scheduled => "Scheduled",
            Stage::EnrollmentInitiated => "Enrollment initiated",
            Stage::Enrolled => "Enrolled",
        }
    }

    const fn color(self) -> &'static str {
        match self {
            Stage::Eligible => "#17a2b8",
            Stage::Scheduled => "#8e6bbf",
            Stage::EnrollmentInitiated => "#3b7dd8",
            Stage::Enrolled => "#2e8b3e",
        }
    }

    /// Whether a device in `state` has reached this stage. States this version does not know
    /// count as eligible only.
    pub fn includes(self, state: &str) -> bool {
        use LifecycleState as S;
        let Some(s) = LifecycleState::from_name(state) else {
            return self == Stage::Eligible;
        };
        match self {
            Stage::Eligible => {
                !matches!(s, S::Ineligible | S::Coexistence | S::AwaitingMdmMigration)
            }
            Stage::Scheduled => {
                matches!(
                    s,
                    S::Scheduled
                        | S::PendingUserSignIn
                        | S::Enrolling
                        | S::AwaitingRemediation
                        | S::CoManaged
                ) || s.is_path2_enrolled()
            }
            // Path 2 devices enrolled in Intune at provisioning: their enrollment is done,
            // they wait for the ConfigMgr client.
            Stage::EnrollmentInitiated => {
                matches!(s, S::Enrolling | S::AwaitingRemediation | S::CoManaged)
                    || s.is_path2_enrolled()
            }
            Stage::Enrolled => s == S::CoManaged,
        }
    }
}

/// The colour of a lifecycle state (or of a state this version does not know).
pub fn state_color(state: &str, i: usize) -> &'static str {
    use LifecycleState as S;
    match LifecycleState::from_name(state) {
        Some(S::Ineligible) => "#9e9e9e",
        Some(S::Coexistence) => "#e377c2",
        Some(S::AwaitingMdmMigration) => "#c994c7",
        Some(S::AwaitingHybridJoin) => "#a0785a",
        Some(S::HybridJoinPendingSync) => "#c9b458",
        Some(S::Eligible) => "#17a2b8",
        Some(S::Scheduled) => "#8e6bbf",
        Some(S::PendingUserSignIn) => "#f28e2b",
        Some(S::Enrolling) => "#3b7dd8",
        Some(S::AwaitingRemediation) => "#d62728",
        Some(S::CoManaged) => "#2e8b3e",
        Some(S::AwaitingOsUpgrade) => "#6b6b6b",
        Some(S::AwaitingClientPush) => "#bcbd22",
        Some(S::AutopilotProvisioning) => "#9edae5",
        Some(S::ProvisioningFailed) => "#ff9896",
        Some(S::IntuneOnly) => "#aec7e8",
        Some(S::IntuneOnlyBlocked) => "#7f3b08",
        Some(S::ClientInstallQueued) => "#c5b0d5",
        Some(S::ClientInstalling) => "#98df8a",
        Some(S::ClientInstallFailed) => "#e7969c",
        Some(S::AwaitingCoManagementPolicy) => "#74c476",
        None => palette(i),
    }
}

/// A lifecycle state's name for people.
pub fn state_label(state: &str) -> String {
    use LifecycleState as S;
    match LifecycleState::from_name(state) {
        Some(S::Ineligible) => "Ineligible".into(),
        Some(S::Coexistence) => "Coexistence (third-party MDM)".into(),
        Some(S::AwaitingMdmMigration) => "Third-party MDM, awaiting migration".into(),
        Some(S::AwaitingHybridJoin) => "Awaiting hybrid join".into(),
        Some(S::HybridJoinPendingSync) => "Hybrid join pending sync".into(),
        Some(S::Eligible) => "Eligible, not scheduled".into(),
        Some(S::Scheduled) => "Scheduled".into(),
        Some(S::PendingUserSignIn) => "Pending user sign-in".into(),
        Some(S::Enrolling) => "Enrolling (retrying)".into(),
        Some(S::AwaitingRemediation) => "Awaiting remediation".into(),
        Some(S::CoManaged) => "Co-managed".into(),
        Some(S::AwaitingOsUpgrade) => "Awaiting OS upgrade".into(),
        Some(S::AwaitingClientPush) => "Awaiting client push".into(),
        Some(S::AutopilotProvisioning) => "Autopilot provisioning".into(),
        Some(S::ProvisioningFailed) => "Provisioning failed".into(),
        Some(S::IntuneOnly) => "Intune only, awaiting client".into(),
        Some(S::IntuneOnlyBlocked) => "Intune only, blocked".into(),
        Some(S::ClientInstallQueued) => "Client install queued (gateway)".into(),
        Some(S::ClientInstalling) => "Client installing".into(),
        Some(S::ClientInstallFailed) => "Client install failed".into(),
        Some(S::AwaitingCoManagementPolicy) => "Awaiting co-management policy".into(),
        None => humanize(state),
    }
}

/// A `snake_case` name for people: `pending_user_sign_in` gives "Pending user sign in".
pub fn humanize(name: &str) -> String {
    let s = name.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The state columns of a timeline (names without `state_`), without band columns.
fn state_names(t: &Timeline) -> Vec<&str> {
    t.names_with_prefix("state_")
        .into_iter()
        .map(|n| &n["state_".len()..])
        .collect()
}

/// Devices per funnel stage, per timeline row; `None` without state columns.
pub fn funnel(t: &Timeline, stage: Stage) -> Option<Vec<f64>> {
    let states = state_names(t);
    if states.is_empty() {
        return None;
    }
    let mut out = vec![0.0; t.len()];
    for s in states.iter().filter(|s| stage.includes(s)) {
        if let Some(col) = t.col(&format!("state_{s}")) {
            for (o, v) in out.iter_mut().zip(col) {
                if v.is_finite() {
                    *o += v;
                }
            }
        }
    }
    Some(out)
}

fn pct(v: &[f64], of: &[f64]) -> Vec<f64> {
    v.iter()
        .zip(of)
        .map(|(a, b)| if *b > 0.0 { a / b * 100.0 } else { f64::NAN })
        .collect()
}

fn axis(run: &Run) -> TimeAxis {
    TimeAxis { start: run.start }
}

fn markers(run: &Run) -> Vec<VMarker> {
    let mut n = [0usize; 2];
    // Markers of one kind at the same time share a badge: `D5–6`.
    let mut out: Vec<(VMarker, MarkerKind, usize, usize)> = Vec::new();
    for m in &run.markers {
        let k = usize::from(m.kind == MarkerKind::Incident);
        n[k] += 1;
        let Some(x) = m.x else { continue };
        let title = format!("{}{} {}: {}", m.kind.letter(), n[k], m.time, m.label);
        if let Some((last, kind, _, to)) = out.last_mut()
            && *kind == m.kind
            && (last.x - x).abs() < 1e-6
        {
            *to = n[k];
            last.title = format!("{}\n{title}", last.title);
            continue;
        }
        out.push((
            VMarker {
                x,
                badge: String::new(),
                title,
                color: match m.kind {
                    MarkerKind::Decision => "#5a4fcf".into(),
                    MarkerKind::Incident => "#c0392b".into(),
                },
            },
            m.kind,
            n[k],
            n[k],
        ));
    }
    out.into_iter()
        .map(|(mut v, kind, from, to)| {
            v.badge = if from == to {
                format!("{}{from}", kind.letter())
            } else {
                format!("{}{from}–{to}", kind.letter())
            };
            v
        })
        .collect()
}

fn time_chart(id: &str, title: &str, subtitle: &str, y_label: &str, run: &Run) -> TimeChart {
    TimeChart {
        id: id.into(),
        title: title.into(),
        subtitle: subtitle.into(),
        y_label: y_label.into(),
        y_format: YFormat::Count,
        axis: axis(run),
        hourly: run.timeline.hourly,
        lines: Vec::new(),
        areas: None,
        guides: Vec::new(),
        markers: Vec::new(),
        y_max: None,
        legend_note: None,
    }
}

/// A line for a timeline column, with its p10/p90 band when present.
fn column_line(t: &Timeline, name: &str, label: &str, color: &str) -> Option<Line> {
    let mut l = Line::new(name, label, color, &t.x, t.col(name)?);
    l.band = t.band(name).map(|(a, b)| (a.to_vec(), b.to_vec()));
    Some(l)
}

/// Co-management status over time: the dashboard's funnel stages, with decisions and
/// incidents marked.
pub fn status(run: &Run, id: &str) -> Option<TimeChart> {
    let t = &run.timeline;
    let mut c = time_chart(
        id,
        "Co-management status over time",
        "Devices at each stage of the ConfigMgr dashboard funnel; each stage includes the later ones",
        "devices",
        run,
    );
    for stage in Stage::ALL {
        let mut l = Line::new(
            stage.key(),
            stage.label(),
            stage.color(),
            &t.x,
            &funnel(t, stage)?,
        );
        if stage == Stage::Enrolled {
            l.band = t
                .band("state_co_managed")
                .map(|(a, b)| (a.to_vec(), b.to_vec()));
        }
        c.lines.push(l);
    }
    c.markers = markers(run);
    Some(c)
}

/// Devices by lifecycle state, stacked.
pub fn states(run: &Run, id: &str) -> Option<TimeChart> {
    let t = &run.timeline;
    let names = state_names(t);
    if names.is_empty() {
        return None;
    }
    let mut c = time_chart(
        id,
        "Devices by lifecycle state",
        "Every device is in exactly one state; co-managed at the bottom",
        "devices",
        run,
    );
    let areas = names
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(i, s)| {
            Some(Area {
                key: format!("state_{s}"),
                label: state_label(s),
                color: state_color(s, i).into(),
                y: t.col(&format!("state_{s}"))?.to_vec(),
            })
        })
        .collect();
    c.areas = Some((t.x.clone(), areas));
    Some(c)
}

/// The funnel on the last row, as bars.
pub fn funnel_bars(run: &Run, id: &str) -> Option<BarChart> {
    let t = &run.timeline;
    let values: Vec<f64> = Stage::ALL
        .iter()
        .map(|s| funnel(t, *s).and_then(|v| v.last().copied()))
        .collect::<Option<_>>()?;
    let eligible = values[0];
    let date = t.labels.last().cloned().unwrap_or_default();
    Some(BarChart {
        id: id.into(),
        title: "Co-management status at the end".into(),
        subtitle: format!("Funnel on {date}; percentages of eligible devices"),
        x_label: "devices".into(),
        segments: vec![("devices".into(), "devices".into(), "#3b7dd8".into())],
        rows: Stage::ALL
            .iter()
            .zip(&values)
            .map(|(s, v)| BarRow {
                key: s.key().into(),
                label: s.label().into(),
                values: vec![*v],
                note: if eligible > 0.0 {
                    format!("({})", fmt_pct(*v, eligible))
                } else {
                    String::new()
                },
                tooltip: format!("{}: {}", s.label(), stage_help(*s)),
            })
            .collect(),
        empty_note: "no rows in this run".into(),
    })
}

fn stage_help(s: Stage) -> &'static str {
    match s {
        Stage::Eligible => {
            "every device except ineligible ones and those under a third-party MDM (in coexistence or awaiting migration)"
        }
        Stage::Scheduled => {
            "co-management policy received; enrollment scheduled, waiting for sign-in, or later"
        }
        Stage::EnrollmentInitiated => {
            "enrollment attempted: retrying, awaiting remediation, or enrolled"
        }
        Stage::Enrolled => "co-managed",
    }
}

/// Dashboard statuses for the join type chart: (key, label, colour, states).
const JOIN_STATUSES: [(&str, &str, &str, &[LifecycleState]); 8] = {
    use LifecycleState as S;
    [
        ("enrolled", "Enrolled", "#2e8b3e", &[S::CoManaged]),
        (
            "enrollment_initiated",
            "Enrollment initiated (retrying)",
            "#3b7dd8",
            &[S::Enrolling],
        ),
        (
            "failed",
            "Failed (awaiting remediation)",
            "#d62728",
            &[S::AwaitingRemediation],
        ),
        (
            "pending_user_sign_in",
            "Pending user sign-in",
            "#f28e2b",
            &[S::PendingUserSignIn],
        ),
        ("scheduled", "Scheduled", "#8e6bbf", &[S::Scheduled]),
        (
            "intune_awaiting_client",
            "In Intune, awaiting the ConfigMgr client (Path 2)",
            "#aec7e8",
            &[
                S::IntuneOnly,
                S::IntuneOnlyBlocked,
                S::ClientInstallQueued,
                S::ClientInstalling,
                S::ClientInstallFailed,
                S::AwaitingCoManagementPolicy,
            ],
        ),
        (
            "not_scheduled",
            "Not scheduled yet",
            "#17a2b8",
            &[
                S::Eligible,
                S::AwaitingHybridJoin,
                S::HybridJoinPendingSync,
                S::AwaitingOsUpgrade,
                S::AwaitingClientPush,
                S::AutopilotProvisioning,
                S::ProvisioningFailed,
            ],
        ),
        (
            "not_eligible",
            "Ineligible, or under a third-party MDM",
            "#b0b0b0",
            &[S::Ineligible, S::Coexistence, S::AwaitingMdmMigration],
        ),
    ]
};

fn join_label(v: &str) -> String {
    match JoinType::from_name(v) {
        Some(JoinType::OnPremisesAd) => "On-premises AD joined".into(),
        Some(JoinType::HybridJoined) => "Hybrid Azure AD joined".into(),
        Some(JoinType::AzureAdJoined) => "Azure AD joined".into(),
        Some(JoinType::AzureAdRegistered) => "Azure AD registered".into(),
        Some(JoinType::Workgroup) => "Workgroup".into(),
        None => v.to_string(),
    }
}

/// Enrollment status by join type, from breakdown.csv.
pub fn by_join_type(b: &Breakdown, id: &str) -> BarChart {
    let mut segments: Vec<(String, String, String)> = JOIN_STATUSES
        .iter()
        .map(|(k, l, c, _)| (k.to_string(), l.to_string(), c.to_string()))
        .collect();
    let unknown: Vec<&String> = b
        .states
        .iter()
        .filter(|s| LifecycleState::from_name(s).is_none())
        .collect();
    if !unknown.is_empty() {
        segments.push(("other".into(), "Other states".into(), "#555555".into()));
    }
    let rows = b
        .dimension("join")
        .map(|r| {
            let mut values: Vec<f64> = JOIN_STATUSES
                .iter()
                .map(|(_, _, _, states)| states.iter().map(|s| b.state(r, s.name())).sum())
                .collect();
            if !unknown.is_empty() {
                values.push(unknown.iter().map(|s| b.state(r, s)).sum());
            }
            let eligible: f64 = r.devices - values[6];
            BarRow {
                key: r.value.clone(),
                label: join_label(&r.value),
                note: if eligible > 0.0 {
                    format!("({} of eligible enrolled)", fmt_pct(values[0], eligible))
                } else {
                    String::new()
                },
                values,
                tooltip: String::new(),
            }
        })
        .collect();
    BarChart {
        id: id.into(),
        title: "Enrollment status by join type".into(),
        subtitle: "Devices per directory join type at the end of the run".into(),
        x_label: "devices".into(),
        segments,
        rows,
        empty_note: "no join type rows in breakdown.csv".into(),
    }
}

/// The dashboard's OS groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsGroup {
    /// Windows 7 and 8.1.
    Legacy,
    /// Windows 10 before 1709 (build 16299).
    Win10Below1709,
    /// Windows 10 1709 and later.
    Win10From1709,
    /// Windows 11.
    Win11,
    /// Server, Home, Mobile and anything unknown.
    Other,
}

impl OsGroup {
    /// Every group, in display order.
    pub const ALL: [OsGroup; 5] = [
        OsGroup::Legacy,
        OsGroup::Win10Below1709,
        OsGroup::Win10From1709,
        OsGroup::Win11,
        OsGroup::Other,
    ];

    /// Key for `data-category`.
    pub const fn key(self) -> &'static str {
        match self {
            OsGroup::Legacy => "windows_7_8",
            OsGroup::Win10Below1709 => "win10_below_1709",
            OsGroup::Win10From1709 => "win10_1709_and_later",
            OsGroup::Win11 => "windows_11",
            OsGroup::Other => "other",
        }
    }

    /// The label.
    pub const fn label(self) -> &'static str {
        match self {
            OsGroup::Legacy => "Windows 7/8.x",
            OsGroup::Win10Below1709 => "Windows 10 below 1709",
            OsGroup::Win10From1709 => "Windows 10 1709 and later",
            OsGroup::Win11 => "Windows 11",
            OsGroup::Other => "Other (Server, Home, Mobile)",
        }
    }

    /// The group of an `os` value of breakdown.csv.
    pub fn of(value: &str) -> OsGroup {
        use OsRelease as O;
        match OsRelease::from_name(value) {
            Some(O::Windows7 | O::Windows81) => OsGroup::Legacy,
            Some(o) => match o.build() {
                Some(b) if b >= 22000 => OsGroup::Win11,
                Some(b) if b >= 16299 => OsGroup::Win10From1709,
                Some(_) => OsGroup::Win10Below1709,
                None => OsGroup::Other,
            },
            None => OsGroup::Other,
        }
    }
}

/// Client OS distribution, from breakdown.csv.
pub fn os_distribution(b: &Breakdown, id: &str) -> BarChart {
    let rows = OsGroup::ALL
        .iter()
        .map(|g| {
            let members: Vec<_> = b
                .dimension("os")
                .filter(|r| OsGroup::of(&r.value) == *g)
                .collect();
            let devices: f64 = members.iter().map(|r| r.devices).sum();
            let co: f64 = members.iter().map(|r| b.state(r, "co_managed")).sum();
            let tooltip = members
                .iter()
                .filter(|r| r.devices > 0.0)
                .map(|r| format!("{}: {}", r.value, super::svg::fmt_count(r.devices)))
                .collect::<Vec<_>>()
                .join("\n");
            BarRow {
                key: g.key().into(),
                label: g.label().into(),
                values: vec![co, devices - co],
                note: String::new(),
                tooltip,
            }
        })
        .collect::<Vec<_>>();
    let total: f64 = rows.iter().map(|r| r.values.iter().sum::<f64>()).sum();
    let rows = rows
        .into_iter()
        .map(|mut r| {
            let v: f64 = r.values.iter().sum();
            if total > 0.0 {
                r.note = format!("({})", fmt_pct(v, total));
            }
            r
        })
        .collect();
    BarChart {
        id: id.into(),
        title: "Client OS distribution".into(),
        subtitle: "Devices per OS group at the end of the run".into(),
        x_label: "devices".into(),
        segments: vec![
            ("co_managed".into(), "Co-managed".into(), "#2e8b3e".into()),
            (
                "not_co_managed".into(),
                "Not co-managed".into(),
                "#b0b0b0".into(),
            ),
        ],
        rows,
        empty_note: "no OS rows in breakdown.csv".into(),
    }
}

/// A short description of an enrollment error.
pub fn error_text(e: EnrollmentError) -> &'static str {
    use EnrollmentError::*;
    match e {
        NoAzureAdToken => "no Azure AD token",
        UserNotAuthorized => "user not authorized",
        AlreadyEnrolled => "already enrolled",
        PlatformBlocked => "platform blocked",
        LicenseBadState => "license in a bad state",
        ManagementBlocked => "management blocked",
        MfaPromptIgnored => "MFA prompt ignored",
        MdmNotConfigured => "MDM not configured",
        NonRoutableUpn => "non-routable UPN",
        NameNotResolved => "name not resolved",
        InternetTimeout => "internet timeout",
        ServerNotFound => "server not found",
        NeedsUserSignIn => "needs user sign-in",
    }
}

/// Enrollment errors by code: the `fail_*` counters on the last row, largest first.
pub fn errors(run: &Run, id: &str) -> Option<BarChart> {
    let t = &run.timeline;
    let names = t.names_with_prefix("fail_");
    if names.is_empty() {
        return None;
    }
    let kinds = [
        ("retried", "Retried automatically", "#f28e2b", Retry::Later),
        (
            "at_sign_in",
            "Retried at user sign-in",
            "#8e6bbf",
            Retry::AtSignIn,
        ),
        (
            "remediation",
            "Needs remediation",
            "#d62728",
            Retry::AfterRemediation,
        ),
    ];
    let mut rows: Vec<BarRow> = names
        .iter()
        .filter_map(|n| {
            let v = t.col(n)?.iter().rev().find(|v| v.is_finite()).copied()?;
            let code = &n["fail_".len()..];
            let e = EnrollmentError::from_name(code);
            let mut values = vec![0.0; kinds.len() + 1];
            let slot = e
                .map(|e| {
                    kinds
                        .iter()
                        .position(|k| k.3 == e.retry())
                        .unwrap_or(kinds.len())
                })
                .unwrap_or(kinds.len());
            values[slot] = v;
            Some(BarRow {
                key: n.to_string(),
                label: match e {
                    Some(e) => format!("{} {}", code.trim_end_matches("_upn"), error_text(e)),
                    None => code.to_string(),
                },
                values,
                note: String::new(),
                tooltip: String::new(),
            })
        })
        .filter(|r| r.values.iter().sum::<f64>() > 0.0)
        .collect();
    rows.sort_by(|a, b| {
        b.values
            .iter()
            .sum::<f64>()
            .total_cmp(&a.values.iter().sum::<f64>())
    });
    let total: f64 = rows.iter().map(|r| r.values.iter().sum::<f64>()).sum();
    for r in &mut rows {
        r.note = format!("({})", fmt_pct(r.values.iter().sum::<f64>(), total));
    }
    let mut segments: Vec<(String, String, String)> = kinds
        .iter()
        .map(|(k, l, c, _)| (k.to_string(), l.to_string(), c.to_string()))
        .collect();
    segments.push(("unknown".into(), "Other".into(), "#777777".into()));
    Some(BarChart {
        id: id.into(),
        title: "Enrollment errors by code".into(),
        subtitle: "Failed enrollment attempts per error code over the whole run".into(),
        x_label: "failed attempts".into(),
        segments,
        rows,
        empty_note: "no enrollment errors in this run".into(),
    })
}

/// Workload transition: `wl_<workload>_intune` columns, devices with the workload on Intune.
pub fn workloads(run: &Run, id: &str) -> Option<TimeChart> {
    let t = &run.timeline;
    let names = t.active_with_prefix("wl_");
    if names.is_empty() {
        return None;
    }
    let mut c = time_chart(
        id,
        "Workload transition",
        "Devices with each workload switched to Intune, and active incidents",
        "devices",
        run,
    );
    for (i, n) in names.iter().enumerate() {
        let label = humanize(n["wl_".len()..].trim_end_matches("_intune"));
        c.lines.extend(column_line(t, n, &label, palette(i)));
    }
    // Incidents caused by switched workloads, on the same time axis.
    for n in t.active_with_prefix("incidents_active") {
        c.lines
            .extend(column_line(t, n, "Active incidents", "#c0392b"));
    }
    c.markers = markers(run);
    Some(c)
}

/// The gateway's columns of timeline.csv the chart knows, with their labels and colours, in
/// drawing order. Others (`gateway_*` columns added later) follow with palette colours.
const GATEWAY_COLUMNS: [(&str, &str, &str); 5] = [
    (
        "gateway_peak_concurrent_clients",
        "Peak connections in the day",
        "#1f5fa8",
    ),
    (
        "gateway_concurrent_clients",
        "Connections at the end of the row",
        "#7fa7d6",
    ),
    (
        "gateway_queue",
        "Most waiting at once in the row",
        "#d62728",
    ),
    (
        "gateway_queue_length",
        "Waiting at the end of the row",
        "#f4a3a3",
    ),
    ("gateway_queue_peak", "Peak queue in the day", "#f28e2b"),
];

/// Cloud management gateway: the day's peak connections, the capacity (a `gateway_capacity`
/// column, else summary.csv's `gateway_capacity`) as a dashed line, and the queue.
pub fn gateway(run: &Run, id: &str) -> Option<TimeChart> {
    let t = &run.timeline;
    let names = t.active_with_prefix("gateway_");
    if names.is_empty() {
        return None;
    }
    let mut c = time_chart(
        id,
        "Cloud management gateway: peak, capacity and queue",
        "Connections in use at the gateway against what it serves, and devices waiting for one",
        "connections / devices",
        run,
    );
    let mut known: Vec<&str> = Vec::new();
    let present = t.names_with_prefix("gateway_");
    for (name, label, color) in GATEWAY_COLUMNS {
        // A queue column is drawn even when it is 0 throughout: no queue is an answer.
        let queue = name.contains("queue") && present.contains(&name);
        if names.contains(&name) || queue {
            let label = if names.contains(&name) {
                label.to_string()
            } else {
                format!("{label} (0 throughout)")
            };
            c.lines.extend(column_line(t, name, &label, color));
            known.push(name);
        }
    }
    for (i, n) in names.iter().enumerate() {
        if !known.contains(n) && *n != "gateway_capacity" {
            let label = humanize(&n["gateway_".len()..]);
            c.lines.extend(column_line(t, n, &label, palette(i + 3)));
        }
    }
    let capacity = match t.col("gateway_capacity") {
        Some(col) => Some(col.to_vec()),
        None => run
            .summary
            .as_ref()
            .and_then(|s| s.num("gateway_capacity"))
            .filter(|v| *v > 0.0)
            .map(|v| vec![v; t.len()]),
    };
    if let Some(cap) = capacity {
        let last = cap.iter().rev().find(|v| v.is_finite()).copied();
        let mut l = Line::new(
            "gateway_capacity",
            &format!(
                "Capacity{}",
                last.map_or(String::new(), |v| format!(
                    " ({} connections)",
                    super::svg::fmt_count(v)
                ))
            ),
            "#444444",
            &t.x,
            &cap,
        );
        l.dashed = true;
        l.width = 1.6;
        c.lines.push(l);
    }
    c.markers = markers(run);
    Some(c)
}

/// Overlay of several runs: co-managed percentage of eligible devices, with p10/p90 bands
/// where a run has them.
pub fn compare_co_managed(runs: &[Run], id: &str) -> TimeChart {
    let many = runs.len() > 12;
    let mut lines = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let t = &r.timeline;
        let (Some(co), Some(el)) = (t.col("state_co_managed"), eligible_series(r)) else {
            continue;
        };
        let y = pct(co, &el);
        let mut l = Line::new(&r.label, &r.label, palette(i), &t.x, &y);
        if let Some((p10, p90)) = t.band("state_co_managed") {
            l.band = Some((pct(p10, &el), pct(p90, &el)));
        }
        if many {
            l.width = 1.2;
            l.opacity = 0.45;
        }
        lines.push(l);
    }
    TimeChart {
        id: id.into(),
        title: "Co-managed devices, percent of eligible".into(),
        subtitle: format!(
            "{} runs overlaid; dashed lines mark the 50%, 90% and 99% milestones",
            runs.len()
        ),
        y_label: "% of eligible devices".into(),
        y_format: YFormat::Percent,
        axis: common_axis(runs),
        hourly: runs.iter().any(|r| r.timeline.hourly),
        legend_note: many.then(|| format!("{} runs, one line each", lines.len())),
        lines,
        areas: None,
        guides: vec![
            (50.0, "50%".into()),
            (90.0, "90%".into()),
            (99.0, "99%".into()),
        ],
        markers: Vec::new(),
        y_max: Some(100.0),
    }
}

/// Eligible devices per timeline row: from the state columns of a run, or the mean of
/// summary's `eligible` for a scenario of a compare or sweep folder (its timeline holds only
/// some states).
pub fn eligible_series(r: &Run) -> Option<Vec<f64>> {
    if r.study.is_some() {
        let e = r.summary.as_ref()?.num("eligible")?;
        return Some(vec![e; r.timeline.len()]);
    }
    funnel(&r.timeline, Stage::Eligible)
}

/// Overlay of several runs (or scenarios of a compare folder) for one timeline column, with
/// p10/p90 bands where present; `None` when no run has the column with a value other than 0.
pub fn compare_column(
    runs: &[Run],
    column: &str,
    id: &str,
    title: &str,
    y_label: &str,
) -> Option<TimeChart> {
    let many = runs.len() > 12;
    let mut lines = Vec::new();
    let mut any = false;
    for (i, r) in runs.iter().enumerate() {
        if let Some(mut l) = column_line(&r.timeline, column, &r.label, palette(i)) {
            any |= l.y.iter().any(|v| v.is_finite() && *v != 0.0);
            l.key = r.label.clone();
            if many {
                l.width = 1.2;
                l.opacity = 0.45;
            }
            lines.push(l);
        }
    }
    if !any {
        return None;
    }
    Some(TimeChart {
        id: id.into(),
        title: title.into(),
        subtitle: format!(
            "{} overlaid{}",
            if lines.len() == 1 {
                "1 run".to_string()
            } else {
                format!("{} runs", lines.len())
            },
            if lines.iter().any(|l| l.band.is_some()) {
                "; shaded: p10–p90 over the replications"
            } else {
                ""
            }
        ),
        y_label: y_label.into(),
        y_format: YFormat::Count,
        axis: common_axis(runs),
        hourly: runs.iter().any(|r| r.timeline.hourly),
        legend_note: many.then(|| format!("{} runs, one line each", lines.len())),
        lines,
        areas: None,
        guides: Vec::new(),
        markers: Vec::new(),
        y_max: None,
    })
}

/// The `wl_<workload>_intune` columns any run has with a value other than 0, in the order
/// first seen.
pub fn workload_columns(runs: &[Run]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in runs {
        for n in r.timeline.active_with_prefix("wl_") {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    out
}

/// Dates on the x axis when every run starts on the same day, else days of the run.
fn common_axis(runs: &[Run]) -> TimeAxis {
    let first = runs.first().and_then(|r| r.start);
    TimeAxis {
        start: if runs.iter().all(|r| r.start == first) {
            first
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funnel_stages_nest() {
        for s in LifecycleState::ALL {
            let n = s.name();
            for w in Stage::ALL.windows(2) {
                assert!(!w[1].includes(n) || w[0].includes(n), "{n}");
            }
        }
        assert!(Stage::Scheduled.includes("pending_user_sign_in"));
        assert!(!Stage::EnrollmentInitiated.includes("pending_user_sign_in"));
        assert!(Stage::EnrollmentInitiated.includes("awaiting_remediation"));
        assert!(!Stage::Eligible.includes("coexistence"));
        assert!(!Stage::Eligible.includes("awaiting_mdm_migration"));
        assert!(Stage::Eligible.includes("some_future_state"));
        assert!(!Stage::Enrolled.includes("some_future_state"));
    }

    #[test]
    fn os_groups_follow_the_dashboard() {
        assert_eq!(OsGroup::of("windows_8_1"), OsGroup::Legacy);
        assert_eq!(OsGroup::of("win10_1703"), OsGroup::Win10Below1709);
        assert_eq!(OsGroup::of("win10_1709"), OsGroup::Win10From1709);
        assert_eq!(OsGroup::of("win10_22h2"), OsGroup::Win10From1709);
        assert_eq!(OsGroup::of("win11_21h2"), OsGroup::Win11);
        assert_eq!(OsGroup::of("windows_server"), OsGroup::Other);
        assert_eq!(OsGroup::of("beos"), OsGroup::Other);
    }

    #[test]
    fn join_statuses_cover_every_state_once() {
        for s in LifecycleState::ALL {
            let n = JOIN_STATUSES
                .iter()
                .filter(|(_, _, _, states)| states.contains(s))
                .count();
            assert_eq!(n, 1, "{}", s.name());
        }
    }

    #[test]
    fn humanize_reads_well() {
        assert_eq!(humanize("pending_user_sign_in"), "Pending user sign in");
        assert_eq!(humanize(""), "");
    }
}

/// What keeps devices from co-management, from summary.csv: a device's own reason
/// (`reason_*`) or a missing scenario prerequisite (`blocked_*`).
#[derive(Clone, Debug, PartialEq)]
pub struct WhyNever {
    /// The summary column, such as `reason_no_license`.
    pub column: String,
    /// Its name for people.
    pub label: String,
    /// `reason` (the device can never be co-managed as it is) or `blocked` (a Path 2
    /// prerequisite the scenario lacks).
    pub group: &'static str,
    /// Devices at the end.
    pub devices: f64,
    /// What would fix it: the program or setting of the scenario file.
    pub fix: &'static str,
}

/// What would fix an ineligibility reason or a missing prerequisite (names without the
/// `reason_`/`blocked_` prefix); `None` for a name this version does not know.
pub fn fix_for(group: &str, name: &str) -> Option<&'static str> {
    Some(match (group, name) {
        ("reason", "legacy_os") => {
            "replace or upgrade to Windows 10 1709+ or Windows 11 (no program: Windows 7/8.1 cannot be co-managed)"
        }
        ("reason", "server") => "none: servers stay managed by ConfigMgr alone",
        ("reason", "win10_mobile") => "none: retire or replace the device",
        ("reason", "home_edition") => "upgrade to Pro or Enterprise (no program in fleetsim)",
        ("reason", "os_below_1709") => "an [os_upgrade] program (to 1709 or later)",
        ("reason", "third_party_mdm") => "an [mdm_migration] program",
        ("reason", "azure_ad_registered_only") => {
            "hybrid or Azure AD join the device (no program in fleetsim)"
        }
        ("reason", "workgroup") => "domain join, or reprovision with Autopilot ([path2])",
        ("reason", "no_configmgr_client") => {
            "a [client_push] program (reaches devices with line of sight to the site)"
        }
        ("reason", "no_license") => "Intune licenses for every user: fleet.licensed = 1.0",
        ("reason", "no_dc_line_of_sight") => {
            "VPN or the corporate network for the join ([fleet.location]), or Autopilot ([path2])"
        }
        ("reason", "site_version_below_1710") => "upgrade the site: sites.N.version ≥ 1710",
        ("reason", "site_version_below_1806") => {
            "upgrade the site: sites.N.version ≥ 1806 (several hierarchies)"
        }
        ("blocked", "azure_ad_premium") => "tenant.azure_ad_premium = true",
        ("blocked", "intune_admin_license") => "tenant.intune_admin_license = true",
        ("blocked", "full_administrator_all_scope") => {
            "admin_roles.full_administrator_all_scope = true"
        }
        ("blocked", "co_management_enabled") => "co_management.enable_date",
        ("blocked", "configmgr_1710") => "sites.N.version ≥ 1710",
        ("blocked", "configmgr_1806_for_several_hierarchies") => "sites.N.version ≥ 1806",
        ("blocked", "aad_connect_sync") => "tenant.aad_connect_sync = true",
        ("blocked", "auto_register_client_setting") => "hybrid_join.auto_register = true",
        ("blocked", "automatic_enrollment") => {
            "co_management.auto_enrollment = \"all\" (not \"none\")"
        }
        ("blocked", "enhanced_http") => "cloud.enhanced_http = true",
        ("blocked", "cloud_services") => "cloud.cloud_services = true",
        ("blocked", "site_onboarded_to_azure_ad") => "cloud.site_onboarded_to_azure_ad = true",
        ("blocked", "cloud_management_gateway") => "cloud.cmg_vms ≥ 1",
        ("blocked", "management_points_for_cmg") => "cloud.management_points_for_cmg = true",
        ("blocked", "subscription_manager") => "admin_roles.subscription_manager = true",
        ("blocked", "global_administrator") => "admin_roles.global_administrator = true",
        ("blocked", "ccmsetup_command_line") => "cloud.ccmsetup_command_line_length ≤ 1024",
        ("blocked", "autopilot_into_co_management_2111") => {
            "sites.N.version ≥ 2111, or path2.autopilot_into_co_management = false"
        }
        ("blocked", "management_point_capacity") => {
            "more sites.N.management_points (each serves 25,000 clients)"
        }
        _ => return None,
    })
}

/// The reasons and missing prerequisites with devices at the end, largest first; `None`
/// without summary.csv or without such columns.
pub fn why_never_rows(run: &Run) -> Option<Vec<WhyNever>> {
    let s = run.summary.as_ref()?;
    let mut any = false;
    let mut rows: Vec<WhyNever> = Vec::new();
    for (col, _) in &s.fields {
        let (group, name) = if let Some(n) = col.strip_prefix("reason_") {
            ("reason", n)
        } else if let Some(n) = col.strip_prefix("blocked_") {
            ("blocked", n)
        } else {
            continue;
        };
        any = true;
        let devices = s.num(col).unwrap_or(0.0);
        if devices <= 0.0 {
            continue;
        }
        rows.push(WhyNever {
            column: col.clone(),
            label: if group == "reason" {
                reason_label(name)
            } else {
                format!("Missing: {}", name.replace('_', " "))
            },
            group,
            devices,
            fix: fix_for(group, name).unwrap_or("see docs/MODEL.md"),
        });
    }
    rows.sort_by(|a, b| b.devices.total_cmp(&a.devices));
    any.then_some(rows)
}

/// An ineligibility reason for people.
fn reason_label(name: &str) -> String {
    match name {
        "legacy_os" => "Windows 7 or 8.1".into(),
        "server" => "Windows Server".into(),
        "win10_mobile" => "Windows 10 Mobile".into(),
        "home_edition" => "Windows Home edition".into(),
        "os_below_1709" => "Windows 10 below 1709".into(),
        "third_party_mdm" => "Third-party MDM".into(),
        "azure_ad_registered_only" => "Azure AD registered only".into(),
        "workgroup" => "Workgroup (not domain joined)".into(),
        "no_configmgr_client" => "No ConfigMgr client".into(),
        "no_license" => "No Intune license".into(),
        "no_dc_line_of_sight" => "No line of sight to a DC".into(),
        "site_version_below_1710" => "Site below ConfigMgr 1710".into(),
        "site_version_below_1806" => "Site below 1806 (several hierarchies)".into(),
        other => humanize(other),
    }
}

/// "Why never": devices per reason and missing prerequisite, as bars.
pub fn why_never(run: &Run, id: &str) -> Option<BarChart> {
    let rows = why_never_rows(run)?;
    let fleet = run.summary.as_ref().and_then(|s| s.num("devices"));
    Some(BarChart {
        id: id.into(),
        title: "Why never: devices that cannot be co-managed".into(),
        subtitle: "Ineligibility reasons and missing Path 2 prerequisites at the end of the run"
            .into(),
        x_label: "devices".into(),
        segments: vec![
            (
                "reason".into(),
                "The device (ineligible)".into(),
                "#9e9e9e".into(),
            ),
            (
                "blocked".into(),
                "A missing prerequisite (Path 2, blocked)".into(),
                "#7f3b08".into(),
            ),
        ],
        rows: rows
            .iter()
            .map(|r| BarRow {
                key: r.column.clone(),
                label: r.label.clone(),
                values: if r.group == "reason" {
                    vec![r.devices, 0.0]
                } else {
                    vec![0.0, r.devices]
                },
                note: match fleet {
                    Some(f) if f > 0.0 => format!("({} of the fleet)", fmt_pct(r.devices, f)),
                    _ => String::new(),
                },
                tooltip: format!("Fix: {}", r.fix),
            })
            .collect(),
        empty_note: "every device can be co-managed: no reason and no missing prerequisite".into(),
    })
}
