//! Observation files: what a pilot has shown, one row per day (docs/CALIBRATE.md).
//!
//! An observation file has a `date` column and any of the series in [`series_names`]
//! (`co_managed`, `enrolled`, `enrollment_failures` and one `fail_<code>` per enrollment
//! error); an empty cell is an unknown value. Every series is a count at the end of the day
//! that never decreases: the model never takes a device out of co-management or out of
//! Intune, and failures are counted cumulatively.
//!
//! `fleetsim observed` builds one from Intune's device list (a Graph `managedDevice` export
//! or the admin center's "All devices" export: enrollment date and management agent) or
//! checks and normalizes a hand-written one. Device names, ids and user names are never read
//! into memory beyond the CSV reader's current row, and never written.

use crate::cli::Failure;
use crate::target::{Signature, check_file, write_file};
use chrono::NaiveDate;
use fleetsim_model::domain::{EnrollmentError, LifecycleState};
use fleetsim_model::{RunResult, Scenario, counter_names};
use std::path::{Path, PathBuf};

/// The series an observation file may hold, in the order they are written.
pub fn series_names() -> Vec<String> {
    let mut v: Vec<String> = ["co_managed", "enrolled", "enrollment_failures"]
        .map(String::from)
        .to_vec();
    v.extend(EnrollmentError::ALL.iter().map(|e| e.column()));
    v
}

/// The simulated value of series `name` at the end of timeline row `day` (0-based).
pub fn simulated(r: &RunResult, name: &str, day: usize) -> Option<u64> {
    let states = r.states.get(day)?;
    match name {
        "co_managed" => Some(states[LifecycleState::CoManaged.index()]),
        "enrolled" => Some(
            LifecycleState::ALL
                .iter()
                .filter(|s| s.in_intune())
                .map(|s| states[s.index()])
                .sum(),
        ),
        _ => {
            let i = counter_names().iter().position(|c| c == name)?;
            r.counters.get(day).map(|c| c[i])
        }
    }
}

/// One day of observations.
#[derive(Clone, Debug, PartialEq)]
pub struct Day {
    /// The file's line (1 is the header).
    pub line: u64,
    /// The date.
    pub date: NaiveDate,
    /// Per column of [`Observed::columns`]: the count, or `None` when unknown.
    pub values: Vec<Option<u64>>,
}

/// An observation file, read and checked on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// Where it came from, for messages.
    pub origin: String,
    /// Its series, in the order of [`series_names`].
    pub columns: Vec<String>,
    /// Its days, in date order.
    pub days: Vec<Day>,
}

/// Parses a date cell: `YYYY-MM-DD`, optionally followed by a time (`T…` or ` …`), or the
/// admin center's `M/D/YYYY` (optionally followed by a time).
fn parse_date(cell: &str) -> Option<NaiveDate> {
    let cell = cell.trim();
    let head = cell.split([' ', 'T']).next()?;
    if let Ok(d) = NaiveDate::parse_from_str(head, "%Y-%m-%d") {
        return Some(d);
    }
    NaiveDate::parse_from_str(head, "%m/%d/%Y").ok()
}

/// Parses a count cell: a whole number of devices, 0 or more; empty is unknown.
fn parse_count(cell: &str) -> Result<Option<u64>, String> {
    let c = cell.trim();
    if c.is_empty() {
        return Ok(None);
    }
    let plain = c.replace('_', "");
    plain.parse::<u64>().map(Some).map_err(|_| {
        format!("expected a whole number of devices (0 or more) or an empty cell, found {c:?}")
    })
}

/// Reads an observation file and checks it on its own: known columns, dates, counts, no
/// duplicate date, no decreasing series.
pub fn read(path: &Path) -> Result<Observed, String> {
    let origin = path.display().to_string();
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("cannot read observations {origin}: {e}"))?;
    let headers = r
        .headers()
        .map_err(|e| format!("observations {origin}: {e}"))?
        .clone();
    let known = series_names();
    let Some(date_at) = headers.iter().position(|h| h == "date") else {
        return Err(format!(
            "observations {origin}: no `date` column (columns: date, then any of co_managed, enrolled, enrollment_failures, fail_<code>; see docs/CALIBRATE.md)"
        ));
    };
    let mut at: Vec<(usize, usize)> = Vec::new(); // (series index, csv column)
    for (c, h) in headers.iter().enumerate() {
        if c == date_at {
            continue;
        }
        match known.iter().position(|k| k == h) {
            Some(k) if at.iter().any(|(x, _)| *x == k) => {
                return Err(format!("observations {origin}: column `{h}` given twice"));
            }
            Some(k) => at.push((k, c)),
            None => {
                return Err(format!(
                    "observations {origin}: unknown column `{h}`; accepted: date, {}",
                    known.join(", ")
                ));
            }
        }
    }
    at.sort_unstable();
    let columns: Vec<String> = at.iter().map(|(k, _)| known[*k].clone()).collect();
    let mut days: Vec<Day> = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("observations {origin}: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let row = |why: String| format!("observations {origin}: row {line}: {why}");
        let cell = rec.get(date_at).unwrap_or("");
        let date = parse_date(cell)
            .ok_or_else(|| row(format!("expected a date YYYY-MM-DD, found {cell:?}")))?;
        let mut values = Vec::with_capacity(at.len());
        for (k, c) in &at {
            let v = parse_count(rec.get(*c).unwrap_or(""))
                .map_err(|e| row(format!("column {}: {e}", known[*k])))?;
            values.push(v);
        }
        if let Some(d) = days.iter().find(|d| d.date == date) {
            return Err(row(format!("date {date} is also on row {}", d.line)));
        }
        days.push(Day { line, date, values });
    }
    days.sort_by_key(|d| d.date);
    let obs = Observed {
        origin,
        columns,
        days,
    };
    obs.check_increasing()?;
    Ok(obs)
}

impl Observed {
    /// Refuses a series that decreases from one known day to a later one.
    fn check_increasing(&self) -> Result<(), String> {
        for (k, name) in self.columns.iter().enumerate() {
            let mut last: Option<(&Day, u64)> = None;
            for d in &self.days {
                let Some(v) = d.values[k] else { continue };
                if let Some((prev, p)) = last
                    && v < p
                {
                    return Err(format!(
                        "observations {}: row {}: {name} {v} on {} is below {p} on {} (row {}): every series counts devices that never leave it, so it cannot decrease",
                        self.origin, d.line, d.date, prev.date, prev.line
                    ));
                }
                last = Some((d, v));
            }
        }
        Ok(())
    }

    /// Checks the observations against a scenario: every date inside the run, no count above
    /// the fleet (devices at the start plus every new device of the run). Returns the number
    /// of days to simulate (up to the last observed date).
    pub fn check_against(&self, s: &Scenario) -> Result<u32, String> {
        let last = s.start_date + chrono::Duration::days(i64::from(s.days) - 1);
        let fleet = u64::from(s.fleet.devices) + u64::from(s.path2.arrivals());
        let mut needed = 0;
        for d in &self.days {
            let row = |why: String| format!("observations {}: row {}: {why}", self.origin, d.line);
            if d.date < s.start_date || d.date > last {
                return Err(row(format!(
                    "date {} is outside the run of scenario {} ({} to {last})",
                    d.date, s.name, s.start_date
                )));
            }
            for (k, v) in d.values.iter().enumerate() {
                if let Some(v) = v
                    && *v > fleet
                {
                    return Err(row(format!(
                        "{} {v} is above the fleet of scenario {} ({fleet} devices with every new device of the run)",
                        self.columns[k], s.name
                    )));
                }
            }
            needed = needed.max((d.date - s.start_date).num_days() as u32 + 1);
        }
        if needed == 0 {
            return Err(format!("observations {}: no rows", self.origin));
        }
        Ok(needed)
    }

    /// Known cells: (day index from `start`, column, value).
    pub fn cells(&self, start: NaiveDate) -> Vec<(usize, usize, u64)> {
        let mut out = Vec::new();
        for d in &self.days {
            let day = (d.date - start).num_days() as usize;
            for (k, v) in d.values.iter().enumerate() {
                if let Some(v) = v {
                    out.push((day, k, *v));
                }
            }
        }
        out
    }

    /// The file's rows: header, then one row per day.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let mut header = vec!["date".to_string()];
        header.extend(self.columns.iter().cloned());
        let mut rows = vec![header];
        for d in &self.days {
            let mut row = vec![d.date.to_string()];
            row.extend(
                d.values
                    .iter()
                    .map(|v| v.map_or(String::new(), |v| v.to_string())),
            );
            rows.push(row);
        }
        rows
    }
}

/// Whether `bytes` look like an observation file fleetsim wrote: a first line of `date` and
/// known series only.
pub fn is_observation_file(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let Some(line) = head.lines().next() else {
        return false;
    };
    let known = series_names();
    let mut cols = line.split(',');
    cols.next() == Some("date") && cols.all(|c| known.iter().any(|k| k == c))
}

/// The columns of a device list that `observed` reads: the enrollment date, the management
/// agent (optional) and the operating system (optional), each under its Graph `managedDevice`
/// name or the admin center export's name.
const ENROLLED_AT: [&str; 2] = ["enrolledDateTime", "Enrollment date"];
const AGENT: [&str; 2] = ["managementAgent", "Managed by"];
const OS: [&str; 2] = ["operatingSystem", "OS"];

/// Whether a management agent value means co-managed: Graph's
/// `configurationManagerClientMdm` (and `configurationManagerClientMdmEas`) or the admin
/// center's `Co-managed`.
fn co_managed_agent(v: &str) -> bool {
    let v = v.trim();
    v.eq_ignore_ascii_case("co-managed")
        || v.eq_ignore_ascii_case("comanaged")
        || v.starts_with("configurationManagerClientMdm")
}

/// Builds an observation file from a device list: per day from `start` to `end`, the Windows
/// devices enrolled by the end of that day and, when the list has a management agent column,
/// those of them co-managed.
fn from_devices(
    path: &Path,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> Result<Observed, String> {
    let origin = path.display().to_string();
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read device list {origin}: {e}"))?;
    let headers = r
        .headers()
        .map_err(|e| format!("device list {origin}: {e}"))?
        .clone();
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.trim_start_matches('\u{feff}') == *n))
    };
    let Some(enrolled_at) = find(&ENROLLED_AT) else {
        return Err(format!(
            "device list {origin}: no enrollment date column ({}); see docs/CALIBRATE.md",
            ENROLLED_AT.join(" or ")
        ));
    };
    let agent = find(&AGENT);
    let os = find(&OS);
    // (date enrolled, co-managed)
    let mut devices: Vec<(NaiveDate, bool)> = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("device list {origin}: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        if let Some(c) = os
            && !rec
                .get(c)
                .unwrap_or("")
                .to_ascii_lowercase()
                .starts_with("windows")
        {
            continue;
        }
        let cell = rec.get(enrolled_at).unwrap_or("");
        let date = parse_date(cell).ok_or_else(|| {
            format!(
                "device list {origin}: row {line}: column {}: expected a date (YYYY-MM-DD or M/D/YYYY, a time may follow), found {:?}",
                headers.get(enrolled_at).unwrap_or(""),
                cell.chars().take(40).collect::<String>()
            )
        })?;
        let co = agent.is_some_and(|c| co_managed_agent(rec.get(c).unwrap_or("")));
        devices.push((date, co));
    }
    let first = devices.iter().map(|d| d.0).min();
    let last = devices.iter().map(|d| d.0).max();
    let (Some(start), Some(end)) = (start.or(first), end.or(last)) else {
        return Err(format!(
            "device list {origin}: no Windows device with an enrollment date; give --start and --end for an empty list"
        ));
    };
    if end < start {
        return Err(format!(
            "device list {origin}: --end {end} is before --start {start}"
        ));
    }
    if (end - start).num_days() > i64::from(fleetsim_model::scenario::MAX_DAYS) {
        return Err(format!(
            "device list {origin}: {start} to {end} is longer than a run may be ({} days)",
            fleetsim_model::scenario::MAX_DAYS
        ));
    }
    let mut columns = vec!["co_managed".to_string(), "enrolled".to_string()];
    if agent.is_none() {
        columns.remove(0);
    }
    let mut days = Vec::new();
    let mut date = start;
    while date <= end {
        let enrolled = devices.iter().filter(|d| d.0 <= date).count() as u64;
        let co = devices.iter().filter(|d| d.0 <= date && d.1).count() as u64;
        let mut values = vec![Some(co), Some(enrolled)];
        if agent.is_none() {
            values.remove(0);
        }
        days.push(Day {
            line: 0,
            date,
            values,
        });
        date += chrono::Duration::days(1);
    }
    Ok(Observed {
        origin,
        columns,
        days,
    })
}

/// `fleetsim observed`.
#[derive(clap::Args)]
pub struct ObservedArgs {
    /// A device list exported from Intune (Graph `managedDevice` names such as
    /// `enrolledDateTime` and `managementAgent`, or the admin center's "All devices" export),
    /// or a hand-written observation file (a `date` column and counts).
    pub file: PathBuf,
    /// First day of the file written (device lists only; default: the first enrollment date).
    #[arg(long, value_parser = parse_date_arg)]
    pub start: Option<NaiveDate>,
    /// Last day of the file written (device lists only; default: the last enrollment date).
    #[arg(long, value_parser = parse_date_arg)]
    pub end: Option<NaiveDate>,
    /// Write the observation file here instead of to stdout.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Replace an existing observation file.
    #[arg(long)]
    pub force: bool,
    /// Print nothing on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_date_arg(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("expected YYYY-MM-DD, found {s:?}"))
}

/// Whether `path` is a device list (it has an enrollment date column) rather than an
/// observation file.
fn is_device_list(path: &Path) -> Result<bool, String> {
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = r
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(headers
        .iter()
        .any(|h| ENROLLED_AT.contains(&h.trim_start_matches('\u{feff}'))))
}

/// Runs `fleetsim observed`.
pub fn command(args: ObservedArgs) -> Result<(), Failure> {
    let bad = Failure::BadInput;
    if let Some(o) = &args.out {
        check_file(o, args.force, Signature::Observations).map_err(bad)?;
    }
    let obs = if is_device_list(&args.file).map_err(bad)? {
        from_devices(&args.file, args.start, args.end).map_err(bad)?
    } else {
        if args.start.is_some() || args.end.is_some() {
            return Err(bad(
                "--start and --end go with a device list; an observation file keeps its own dates"
                    .into(),
            ));
        }
        read(&args.file).map_err(bad)?
    };
    let bytes = crate::output::csv_bytes(obs.rows()).map_err(Failure::Run)?;
    match &args.out {
        Some(o) => {
            write_file(o, &bytes, Signature::Observations).map_err(Failure::Run)?;
            if !args.quiet {
                eprintln!(
                    "observations: {} days ({} to {}), series {}; wrote {}",
                    obs.days.len(),
                    obs.days
                        .first()
                        .map_or(String::new(), |d| d.date.to_string()),
                    obs.days
                        .last()
                        .map_or(String::new(), |d| d.date.to_string()),
                    obs.columns.join(", "),
                    o.display()
                );
            }
            Ok(())
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&bytes)
                .map_err(|e| Failure::Run(e.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("obs.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn a_hand_written_file_is_read_sorted_with_unknown_cells() {
        let (_d, p) = write("date,enrolled,co_managed\n2027-01-05,20,\n2027-01-04,10,8\n");
        let o = read(&p).unwrap();
        assert_eq!(o.columns, ["co_managed", "enrolled"]);
        assert_eq!(o.days[0].values, [Some(8), Some(10)]);
        assert_eq!(o.days[1].values, [None, Some(20)]);
        assert_eq!(o.days[1].line, 2);
    }

    #[test]
    fn bad_files_name_the_row_and_the_reason() {
        for (text, want) in [
            ("day,co_managed\n1,2\n", "no `date` column"),
            (
                "date,comanaged\n2027-01-04,2\n",
                "unknown column `comanaged`",
            ),
            ("date,co_managed\n2027-13-04,2\n", "row 2: expected a date"),
            (
                "date,co_managed\n2027-01-04,x\n",
                "row 2: column co_managed",
            ),
            ("date,co_managed\n2027-01-04,-1\n", "whole number"),
            (
                "date,co_managed\n2027-01-04,5\n2027-01-05,4\n",
                "row 3: co_managed 4 on 2027-01-05 is below 5",
            ),
            (
                "date,co_managed\n2027-01-04,5\n2027-01-04,6\n",
                "also on row 2",
            ),
        ] {
            let (_d, p) = write(text);
            let e = read(&p).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn a_device_list_counts_enrollments_and_co_management_by_day() {
        let (_d, p) = write(
            "deviceName,operatingSystem,enrolledDateTime,managementAgent,userPrincipalName\n\
             PC-1,Windows,2027-01-04T10:00:00Z,configurationManagerClientMdm,a@contoso.com\n\
             PC-2,Windows,2027-01-05T10:00:00Z,mdm,b@contoso.com\n\
             PC-3,Windows,2027-01-06T10:00:00Z,configurationManagerClientMdm,c@contoso.com\n\
             IPHONE,iOS,2027-01-04T10:00:00Z,mdm,d@contoso.com\n",
        );
        let o = from_devices(&p, None, None).unwrap();
        let text = String::from_utf8(crate::output::csv_bytes(o.rows()).unwrap()).unwrap();
        assert_eq!(
            text,
            "date,co_managed,enrolled\n2027-01-04,1,1\n2027-01-05,1,2\n2027-01-06,2,3\n"
        );
        assert!(!text.contains("PC-") && !text.contains("contoso"));
        assert!(is_observation_file(text.as_bytes()));
        // The admin center's names, and no agent column: only `enrolled` is known.
        let (_d, p) = write("Device name,Enrollment date,OS\nPC-1,1/5/2027 10:00:00 AM,Windows\n");
        let o = from_devices(&p, NaiveDate::from_ymd_opt(2027, 1, 4), None).unwrap();
        assert_eq!(o.columns, ["enrolled"]);
        assert_eq!(o.days.len(), 2);
        assert_eq!(o.days[1].values, [Some(1)]);
    }
}
