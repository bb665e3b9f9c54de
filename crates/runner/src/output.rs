//! Writing a run's folder: timeline.csv, summary.csv, breakdown.csv, site_timeline.csv,
//! decisions.csv and events.csv, built in a temporary
//! folder beside the target and put in place only when complete (see `crate::target`).

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use fleetsim_model::domain::{CoPath, IneligibleReason, LifecycleState, Prerequisite, Workload};
use fleetsim_model::sim::{DecisionSource, Detail, EspOutcome, counter_names};
use fleetsim_model::{RunResult, Scenario};
use std::path::Path;

/// Makes a text cell safe for spreadsheets: text that a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) gets a leading apostrophe.
pub fn safe_cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// `0.00`-style days from whole hours, computed in integers so every machine prints the same.
pub fn days_from_hours(hours: u32) -> String {
    let hundredths = (u64::from(hours) * 100 + 12) / 24;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn date_time(start: NaiveDate, minute: u32) -> String {
    let date = start + Duration::days(i64::from(minute / 1440));
    let m = minute % 1440;
    format!("{date} {:02}:{:02}", m / 60, m % 60)
}

/// How many states have their `state_*` column in each file's block of states: the states the
/// files had first, `ineligible` to `co_managed`. States added later ([`LifecycleState::ALL`]
/// after these) get their columns at the end of timeline.csv, summary.csv and
/// site_timeline.csv, so that the columns before keep their places (breakdown.csv ends with
/// its block of states anyway).
pub const STATE_BLOCK: usize = LifecycleState::CoManaged.index() + 1;

/// The states of the block, and the states whose columns end the file.
fn state_split() -> (&'static [LifecycleState], &'static [LifecycleState]) {
    LifecycleState::ALL.split_at(STATE_BLOCK)
}

fn state_headers(states: &[LifecycleState]) -> impl Iterator<Item = String> + '_ {
    states.iter().map(|st| format!("state_{}", st.name()))
}

/// The rows of timeline.csv.
pub fn timeline(s: &Scenario, r: &RunResult) -> Vec<Vec<String>> {
    let (block, later) = state_split();
    let mut header = row_header(r.bucket);
    header.push("devices_total".into());
    header.extend(state_headers(block));
    header.extend(GATEWAY_COLUMNS.map(String::from));
    header.extend(
        Workload::ALL
            .iter()
            .map(|w| format!("wl_{}_intune", w.name())),
    );
    header.extend(["autopatch_ready", "incidents_active"].map(String::from));
    header.extend(
        s.collections
            .iter()
            .map(|c| format!("coll_{}_co_managed", c.slug())),
    );
    header.extend(counter_names());
    header.push("cloud_visible".into());
    header.extend(["gateway_capacity", "gateway_queue"].map(String::from));
    header.extend(state_headers(later));
    let mut rows = vec![header];
    for (i, ((states, counters), g)) in r.states.iter().zip(&r.counters).zip(&r.gateway).enumerate()
    {
        let mut row = row_start(s, r.bucket, i);
        row.push(states.iter().sum::<u64>().to_string());
        row.extend(states[..STATE_BLOCK].iter().map(u64::to_string));
        row.extend([g.concurrent, g.queued, g.peak].map(|x| x.to_string()));
        row.extend(r.workloads[i].iter().map(u64::to_string));
        row.push(r.autopatch_ready[i].to_string());
        row.push(r.incidents_active[i].to_string());
        row.extend(r.collection_co_managed[i].iter().map(u64::to_string));
        row.extend(counters.iter().map(u64::to_string));
        row.push(r.cloud_visible(i).to_string());
        row.extend([g.capacity, g.peak_queued].map(|x| x.to_string()));
        row.extend(states[STATE_BLOCK..].iter().map(u64::to_string));
        rows.push(row);
    }
    rows
}

/// The rows of decisions.csv: every step that ran and every gate check.
pub fn decisions(s: &Scenario, r: &RunResult) -> Vec<Vec<String>> {
    let header = [
        "time", "day", "source", "name", "metric", "value", "decision", "detail",
    ]
    .map(String::from)
    .to_vec();
    let rows = r.decisions.iter().map(|d| {
        vec![
            date_time(s.start_date, d.time),
            (d.time / 1440 + 1).to_string(),
            match d.source {
                DecisionSource::Step => "step".into(),
                DecisionSource::Gate => "gate".into(),
            },
            safe_cell(&d.name),
            d.metric.map_or(String::new(), |m| m.name().to_string()),
            d.value.map_or(String::new(), |v| format!("{v:.6}")),
            d.decision.to_string(),
            safe_cell(&d.detail),
        ]
    });
    std::iter::once(header).chain(rows).collect()
}

/// Gateway columns of timeline.csv.
pub const GATEWAY_COLUMNS: [&str; 3] = [
    "gateway_concurrent_clients",
    "gateway_queue_length",
    "gateway_peak_concurrent_clients",
];

/// The first two cells of row `i`: `day,date` or `hour,datetime`.
fn row_start(s: &Scenario, bucket: u32, i: usize) -> Vec<String> {
    let date = if bucket == 60 {
        date_time(s.start_date, i as u32 * bucket)
    } else {
        (s.start_date + Duration::days(i as i64)).to_string()
    };
    vec![(i + 1).to_string(), date]
}

fn row_header(bucket: u32) -> Vec<String> {
    if bucket == 60 {
        vec!["hour".into(), "datetime".into()]
    } else {
        vec!["day".into(), "date".into()]
    }
}

/// The rows of site_timeline.csv: one row per row of the timeline and site.
pub fn site_timeline(s: &Scenario, r: &RunResult) -> Vec<Vec<String>> {
    let (block, later) = state_split();
    let mut header = row_header(r.bucket);
    header.extend(["site", "devices_total"].map(String::from));
    header.extend(state_headers(block));
    header.push("policy_poll_minutes".into());
    header.extend(state_headers(later));
    let mut rows = vec![header];
    for i in 0..r.states.len() {
        for (k, (site, states)) in s.sites.iter().zip(&r.site_states).enumerate() {
            let mut row = row_start(s, r.bucket, i);
            row.push(safe_cell(&site.code));
            row.push(states[i].iter().sum::<u64>().to_string());
            row.extend(states[i][..STATE_BLOCK].iter().map(u64::to_string));
            row.push(r.site_poll[k].to_string());
            row.extend(states[i][STATE_BLOCK..].iter().map(u64::to_string));
            rows.push(row);
        }
    }
    rows
}

/// The milestones reported in summary.csv, in percent of eligible devices.
pub const MILESTONES: [u64; 4] = [50, 90, 95, 99];

/// The rows of summary.csv (a header and one row).
pub fn summary(s: &Scenario, r: &RunResult) -> Vec<Vec<String>> {
    let last_states = r.states.last().copied().unwrap_or_default();
    let last_counters = r
        .counters
        .last()
        .copied()
        .unwrap_or([0; fleetsim_model::sim::COUNTERS]);
    let co = last_states[LifecycleState::CoManaged.index()];
    let mut header: Vec<String> = [
        "scenario",
        "seed",
        "start_date",
        "days",
        "devices",
        "eligible",
        "co_managed",
        "co_managed_pct_of_eligible",
        "randomization_window_minutes",
        "eligible_path1",
        "eligible_path2",
        "gateway_capacity",
        "gateway_peak_concurrent_clients",
        "autopatch_ready",
        "blast_radius",
        "conditional_access_device_days",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for path in [None, Some(CoPath::Path1), Some(CoPath::Path2)] {
        let suffix = path.map_or(String::new(), |p| format!("_{}", p.name()));
        header.extend(MILESTONES.iter().map(|p| format!("days_to_{p}pct{suffix}")));
    }
    let (block, later) = state_split();
    header.extend(state_headers(block));
    header.extend(
        IneligibleReason::ALL
            .iter()
            .map(|x| format!("reason_{}", x.name())),
    );
    header.extend(
        Workload::ALL
            .iter()
            .map(|w| format!("days_to_{}_intune", w.name())),
    );
    header.extend(
        Prerequisite::ALL
            .iter()
            .map(|x| format!("blocked_{}", x.name())),
    );
    header.extend(counter_names());
    header.extend(
        MILESTONES
            .iter()
            .map(|p| format!("days_from_enable_to_{p}pct")),
    );
    header.extend(
        MILESTONES
            .iter()
            .map(|p| format!("days_to_{p}pct_existing")),
    );
    header.extend(
        MILESTONES
            .iter()
            .map(|p| format!("days_from_enable_to_{p}pct_existing")),
    );
    header.push("cloud_visible_pct_of_devices".into());
    header.extend(fleetsim_model::sim::INTUNE_ELIGIBILITY.map(String::from));
    header.extend(
        fleetsim_model::domain::COEXISTENCE_CONFIGMGR_OFF
            .iter()
            .map(|f| format!("coexistence_configmgr_off_{f}")),
    );
    header.extend(state_headers(later));
    let pct = (co * 10_000 + r.eligible / 2)
        .checked_div(r.eligible)
        .map_or_else(String::new, |bp| format!("{}.{:02}", bp / 100, bp % 100));
    let mut row = vec![
        safe_cell(&s.name),
        s.seed.to_string(),
        s.start_date.to_string(),
        s.days.to_string(),
        r.devices.to_string(),
        r.eligible.to_string(),
        co.to_string(),
        pct,
        r.randomization_window.to_string(),
        r.eligible_by_path[0].to_string(),
        r.eligible_by_path[1].to_string(),
        s.cloud.capacity().to_string(),
        r.gateway
            .iter()
            .map(|g| g.peak)
            .max()
            .unwrap_or(0)
            .to_string(),
        r.autopatch_ready.last().copied().unwrap_or(0).to_string(),
        r.blast_radius.to_string(),
        {
            let hundredths = (r.conditional_access_minutes * 100 + 720) / 1440;
            format!("{}.{:02}", hundredths / 100, hundredths % 100)
        },
    ];
    for path in [None, Some(CoPath::Path1), Some(CoPath::Path2)] {
        row.extend(MILESTONES.iter().map(|p| {
            r.hours_to_co_managed(*p, path)
                .map(days_from_hours)
                .unwrap_or_default()
        }));
    }
    row.extend(last_states[..STATE_BLOCK].iter().map(u64::to_string));
    row.extend(r.reasons.iter().map(u64::to_string));
    row.extend(r.workload_at_intune.iter().map(|t| {
        t.map(|m| days_from_hours(m.div_ceil(60)))
            .unwrap_or_default()
    }));
    row.extend(r.blocked.iter().map(u64::to_string));
    row.extend(last_counters.iter().map(u64::to_string));
    let days = |h: Option<u32>| h.map(days_from_hours).unwrap_or_default();
    row.extend(
        MILESTONES
            .iter()
            .map(|p| days(r.from_enable(r.hours_to_co_managed(*p, None)))),
    );
    row.extend(
        MILESTONES
            .iter()
            .map(|p| days(r.hours_to_co_managed_existing(*p))),
    );
    row.extend(
        MILESTONES
            .iter()
            .map(|p| days(r.from_enable(r.hours_to_co_managed_existing(*p)))),
    );
    let present = last_states.iter().sum::<u64>();
    let visible = r
        .states
        .len()
        .checked_sub(1)
        .map_or(0, |i| r.cloud_visible(i));
    row.push(
        (visible * 10_000 + present / 2)
            .checked_div(present)
            .map_or_else(String::new, |bp| format!("{}.{:02}", bp / 100, bp % 100)),
    );
    row.extend(r.intune_eligibility().map(|x| x.to_string()));
    let coexistence = last_states[LifecycleState::Coexistence.index()];
    row.extend(
        fleetsim_model::domain::COEXISTENCE_CONFIGMGR_OFF
            .iter()
            .map(|_| coexistence.to_string()),
    );
    row.extend(last_states[STATE_BLOCK..].iter().map(u64::to_string));
    vec![header, row]
}

/// The rows of breakdown.csv: final devices per state, by device attribute.
pub fn breakdown(r: &RunResult) -> Vec<Vec<String>> {
    let mut header: Vec<String> = ["dimension", "value", "devices"].map(String::from).to_vec();
    header.extend(
        LifecycleState::ALL
            .iter()
            .map(|st| format!("state_{}", st.name())),
    );
    let rows = r.breakdown.iter().map(|b| {
        let mut row = vec![
            b.dimension.to_string(),
            safe_cell(&b.value),
            b.states.iter().sum::<u64>().to_string(),
        ];
        row.extend(b.states.iter().map(u64::to_string));
        row
    });
    std::iter::once(header).chain(rows).collect()
}

fn detail_text(d: Detail) -> String {
    match d {
        Detail::Initial(None) => "initial".into(),
        Detail::Initial(Some(reason)) => format!("initial: {}", reason.name()),
        Detail::JoinCertificateWritten => "join certificate written".into(),
        Detail::HybridJoined => "hybrid joined".into(),
        Detail::PolicyReceived => "co-management policy received".into(),
        Detail::EnrollmentDue => "enrollment due".into(),
        Detail::Enrolled => "enrolled".into(),
        Detail::Failed(e) => format!("failed {}", e.name()),
        Detail::Remediated => "remediated".into(),
        Detail::Arrived => "arrived (new Path 2 device)".into(),
        Detail::Provisioned(EspOutcome::Success) => "autopilot provisioned".into(),
        Detail::Provisioned(EspOutcome::Failure) => "autopilot provisioning failed".into(),
        Detail::Provisioned(EspOutcome::Timeout) => {
            "autopilot provisioning timed out 0x800705B4".into()
        }
        Detail::Reprovisioning => "autopilot provisioning again".into(),
        Detail::EspAlreadyEnded => "esp already ended".into(),
        Detail::ClientAppReceived => "configmgr client app received".into(),
        Detail::GatewayConnection => "gateway connection".into(),
        Detail::NoSiteContact => "no site contact (internet, no gateway)".into(),
        Detail::ClientInstall(true) => "client installed".into(),
        Detail::ClientInstall(false) => "client install failed".into(),
        Detail::ClientRegistered => "client registered".into(),
        Detail::ClientPushed => "client pushed".into(),
        Detail::OsUpgraded => "os upgraded".into(),
        Detail::MdmMigrated => "migrated off third-party mdm".into(),
        Detail::WorkloadsReconciled => "workloads reconciled".into(),
        Detail::Incident(w) => format!("incident {}", w.name()),
    }
}

/// Writes `rows` with `w`: the one place that decides how fleetsim's CSV looks, whether it goes
/// to a file or to memory.
fn write_rows<W: std::io::Write>(
    w: &mut csv::Writer<W>,
    rows: impl IntoIterator<Item = Vec<String>>,
) -> csv::Result<()> {
    for row in rows {
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes `rows` (header first) to a CSV file.
pub fn write_csv(path: &Path, rows: impl IntoIterator<Item = Vec<String>>) -> Result<()> {
    let mut w = csv::Writer::from_path(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    write_rows(&mut w, rows).with_context(|| format!("cannot write {}", path.display()))
}

/// `rows` as the bytes of a CSV file, exactly as [`write_run`] would write them.
pub fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    write_rows(&mut w, rows).context("cannot render CSV")?;
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("cannot render CSV: {}", e.error()))
}

/// The files of a run without events (timeline.csv, summary.csv, breakdown.csv,
/// site_timeline.csv, decisions.csv), rendered in memory as
/// `(file name, bytes)`: byte for byte what `fleetsim run` writes. Baselines store these and
/// `verify` compares them.
pub fn render(s: &Scenario, r: &RunResult) -> Result<Vec<(&'static str, Vec<u8>)>> {
    Ok(vec![
        ("timeline.csv", csv_bytes(timeline(s, r))?),
        ("summary.csv", csv_bytes(summary(s, r))?),
        ("breakdown.csv", csv_bytes(breakdown(r))?),
        ("site_timeline.csv", csv_bytes(site_timeline(s, r))?),
        ("decisions.csv", csv_bytes(decisions(s, r))?),
    ])
}

/// Writes the run's files into a temporary folder beside `dir`, then puts it in place (see
/// [`crate::target::write_dir`]; call [`crate::target::check_dir`] first).
pub fn write_run(dir: &Path, force: bool, s: &Scenario, r: &RunResult, events: bool) -> Result<()> {
    crate::target::write_dir(dir, force, "run", |tmp| {
        for (name, bytes) in render(s, r)? {
            let path = tmp.join(name);
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if events {
            let header = ["device", "time", "from", "to", "detail"]
                .map(String::from)
                .to_vec();
            let rows = r.events.iter().map(|e| {
                vec![
                    e.device.to_string(),
                    date_time(s.start_date, e.time),
                    e.from.name().to_string(),
                    e.to.name().to_string(),
                    detail_text(e.detail),
                ]
            });
            write_csv(&tmp.join("events.csv"), std::iter::once(header).chain(rows))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+1"), "'+1");
        assert_eq!(safe_cell("-1"), "'-1");
        assert_eq!(safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_cell("pilot"), "pilot");
    }

    #[test]
    fn days_from_hours_rounds_to_hundredths() {
        assert_eq!(days_from_hours(24), "1.00");
        assert_eq!(days_from_hours(36), "1.50");
        assert_eq!(days_from_hours(1), "0.04");
        assert_eq!(days_from_hours(169), "7.04");
    }

    #[test]
    fn states_added_later_end_the_files() {
        const { assert!(STATE_BLOCK < LifecycleState::ALL.len()) };
        let s = fleetsim_model::Scenario::from_toml(
            "name = \"u\"\nstart_date = 2027-01-04\ndays = 2\n[fleet]\ndevices = 50\n",
        )
        .unwrap();
        let r = fleetsim_model::run(&s, &fleetsim_model::RunOptions::default(), |_, _| {}).unwrap();
        let last = "state_awaiting_mdm_migration";
        for rows in [summary(&s, &r), timeline(&s, &r), site_timeline(&s, &r)] {
            assert_eq!(rows[0].last().map(String::as_str), Some(last));
            let states = rows[0].iter().filter(|h| h.starts_with("state_")).count();
            assert_eq!(states, LifecycleState::ALL.len());
        }
        assert_eq!(
            breakdown(&r)[0].last().map(String::as_str),
            Some(last),
            "breakdown.csv ends with its states"
        );
    }

    #[test]
    fn summary_columns_are_unique() {
        let s = fleetsim_model::Scenario::from_toml(
            "name = \"u\"\nstart_date = 2027-01-04\ndays = 2\n[fleet]\ndevices = 50\n",
        )
        .unwrap();
        let r = fleetsim_model::run(&s, &fleetsim_model::RunOptions::default(), |_, _| {}).unwrap();
        for rows in [
            summary(&s, &r),
            timeline(&s, &r),
            breakdown(&r),
            site_timeline(&s, &r),
        ] {
            let mut h = rows[0].clone();
            h.sort();
            let n = h.len();
            h.dedup();
            assert_eq!(h.len(), n, "duplicate column names");
            assert!(rows.iter().all(|row| row.len() == n));
        }
    }
}
