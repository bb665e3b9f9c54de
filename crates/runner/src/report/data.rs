//! Reading a run folder back for the report: timeline.csv (required), summary.csv,
//! breakdown.csv, decisions.csv and incidents.csv (each optional).
//!
//! Columns are read by name, not by position, so files written by later versions (more state
//! columns, `wl_*` and `gateway_*` columns, `<column>_p10`/`<column>_p90` bands) are read
//! without changes here. Nothing is invented: a file or column that is absent stays absent.

use chrono::{NaiveDate, NaiveDateTime};
use std::path::{Path, PathBuf};

/// timeline.csv: one row per day or per hour.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Whether rows are hours (`hour,datetime`) rather than days (`day,date`).
    pub hourly: bool,
    /// Per row: days since the run's start date (0 for the first day).
    pub x: Vec<f64>,
    /// Per row: the date or date-time as written.
    pub labels: Vec<String>,
    /// Every numeric column after the first two, in file order: name and one value per row
    /// (NaN for an empty cell).
    pub columns: Vec<(String, Vec<f64>)>,
}

impl Timeline {
    /// A column's values by name.
    pub fn col(&self, name: &str) -> Option<&[f64]> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Names of the columns that start with `prefix`, in file order, without band columns
    /// (`_p10`, `_p90`).
    /// Like [`Timeline::names_with_prefix`], keeping only columns that are not 0 throughout:
    /// a run that never used the gateway or moved a workload has those columns all 0.
    pub fn active_with_prefix(&self, prefix: &str) -> Vec<&str> {
        self.names_with_prefix(prefix)
            .into_iter()
            .filter(|n| self.col(n).is_some_and(|v| v.iter().any(|x| *x != 0.0)))
            .collect()
    }

    pub fn names_with_prefix(&self, prefix: &str) -> Vec<&str> {
        self.columns
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.starts_with(prefix) && band_base(n).is_none())
            .collect()
    }

    /// The p10 and p90 columns of `name`, when both are present.
    pub fn band(&self, name: &str) -> Option<(&[f64], &[f64])> {
        Some((
            self.col(&format!("{name}_p10"))?,
            self.col(&format!("{name}_p90"))?,
        ))
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether the timeline has no rows.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

/// The column a band column belongs to: `a_p10` gives `a`.
pub fn band_base(name: &str) -> Option<&str> {
    name.strip_suffix("_p10")
        .or_else(|| name.strip_suffix("_p90"))
}

/// summary.csv: one row of named values.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Column name and cell, in file order.
    pub fields: Vec<(String, String)>,
}

impl Summary {
    /// A cell by column name (empty cells are `None`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A cell as a number.
    pub fn num(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|v| v.parse().ok())
    }
}

/// One row of breakdown.csv.
#[derive(Debug, Clone)]
pub struct BreakdownRow {
    /// The attribute: `os`, `join`, `identity`, `location`, `usage`, `site`.
    pub dimension: String,
    /// The attribute's value, such as `win11_23h2`.
    pub value: String,
    /// Devices with this value.
    pub devices: f64,
    /// Devices per state, in the order of [`Breakdown::states`].
    pub states: Vec<f64>,
}

/// breakdown.csv: final devices per state by device attribute.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    /// State names (the `state_` columns without the prefix), in file order.
    pub states: Vec<String>,
    /// Every row, in file order.
    pub rows: Vec<BreakdownRow>,
}

impl Breakdown {
    /// The rows of one dimension.
    pub fn dimension<'a>(&'a self, d: &'a str) -> impl Iterator<Item = &'a BreakdownRow> + 'a {
        self.rows.iter().filter(move |r| r.dimension == d)
    }

    /// A row's devices in one state (0 when the column is absent).
    pub fn state(&self, row: &BreakdownRow, state: &str) -> f64 {
        self.states
            .iter()
            .position(|s| s == state)
            .and_then(|i| row.states.get(i).copied())
            .unwrap_or(0.0)
    }
}

/// What a timeline marker stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkerKind {
    /// A rollout step or gate decision (decisions.csv).
    Decision,
    /// An incident (incidents.csv).
    Incident,
}

impl MarkerKind {
    /// The letter on the marker's badge.
    pub const fn letter(self) -> char {
        match self {
            MarkerKind::Decision => 'D',
            MarkerKind::Incident => 'I',
        }
    }

    /// The file it comes from.
    pub const fn file(self) -> &'static str {
        match self {
            MarkerKind::Decision => "decisions.csv",
            MarkerKind::Incident => "incidents.csv",
        }
    }
}

/// A dated row of decisions.csv or incidents.csv.
#[derive(Debug, Clone)]
pub struct Marker {
    /// Decision or incident.
    pub kind: MarkerKind,
    /// Days since the run's start, when the time could be read.
    pub x: Option<f64>,
    /// The time as written.
    pub time: String,
    /// A short label: the step or gate and the decision, or the incident's name.
    pub label: String,
    /// Every other cell, as `column: value`.
    pub detail: Vec<(String, String)>,
    /// Every cell by column name (undefused).
    pub fields: Vec<(String, String)>,
    /// For a gate's decision: how many identical decisions in a row it stands for.
    pub repeats: usize,
}

/// What a gate did over the run (decisions.csv rows with `source` = `gate`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateSummary {
    /// The gate's name.
    pub name: String,
    /// Checks made (rows).
    pub checks: usize,
    /// Rows per decision (`wait`, `fail`, `promote`…), in first-seen order.
    pub decisions: Vec<(String, usize)>,
    /// The time of the first `promote`, if any.
    pub promoted: Option<String>,
    /// The last decision and its time, with the metric and value when present.
    pub last: (String, String, String),
}

/// Turns every gate check of decisions.csv into the changes a reader needs: a `wait` is not a
/// marker, and consecutive identical decisions of a gate become one marker (with `repeats`).
/// Returns the markers kept and a summary per gate, in order of first check.
pub fn collapse_decisions(rows: Vec<Marker>) -> (Vec<Marker>, Vec<GateSummary>) {
    let field = |m: &Marker, name: &str| {
        m.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut gates: Vec<GateSummary> = Vec::new();
    let mut kept: Vec<Marker> = Vec::new();
    // Per gate: the index in `kept` of its last kept marker and that marker's decision.
    let mut last_kept: Vec<(String, usize, String)> = Vec::new();
    for m in rows {
        if m.kind != MarkerKind::Decision || field(&m, "source") != "gate" {
            kept.push(m);
            continue;
        }
        let name = field(&m, "name");
        let decision = field(&m, "decision");
        let g = match gates.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                gates.push(GateSummary {
                    name: name.clone(),
                    ..GateSummary::default()
                });
                gates.len() - 1
            }
        };
        let gate = &mut gates[g];
        gate.checks += 1;
        match gate.decisions.iter_mut().find(|(d, _)| *d == decision) {
            Some((_, n)) => *n += 1,
            None => gate.decisions.push((decision.clone(), 1)),
        }
        if decision == "promote" && gate.promoted.is_none() {
            gate.promoted = Some(m.time.clone());
        }
        let metric = match (field(&m, "metric"), field(&m, "value")) {
            (k, v) if !k.is_empty() && !v.is_empty() => format!("{k} {v}"),
            _ => String::new(),
        };
        gate.last = (decision.clone(), m.time.clone(), metric);
        if decision == "wait" {
            continue;
        }
        let prev = last_kept.iter_mut().find(|(n, _, _)| *n == name);
        match prev {
            Some((_, i, d)) if *d == decision => {
                kept[*i].repeats += 1;
            }
            Some(p) => {
                p.1 = kept.len();
                p.2 = decision.clone();
                kept.push(m);
            }
            None => {
                last_kept.push((name, kept.len(), decision));
                kept.push(m);
            }
        }
    }
    for m in &mut kept {
        if m.repeats > 1 {
            m.label = format!("{} ×{}", m.label, m.repeats);
        }
    }
    (kept, gates)
}

/// Everything the report knows about one run folder.
#[derive(Debug, Clone)]
pub struct Run {
    /// The folder as given on the command line.
    pub dir: PathBuf,
    /// Its name in the report (the folder name, made unique).
    pub label: String,
    /// The first day of the run (summary.csv, else the timeline's first row).
    pub start: Option<NaiveDate>,
    /// timeline.csv.
    pub timeline: Timeline,
    /// summary.csv, when present.
    pub summary: Option<Summary>,
    /// breakdown.csv, when present.
    pub breakdown: Option<Breakdown>,
    /// decisions.csv and incidents.csv rows, in time order; `None` per file when absent.
    pub markers: Vec<Marker>,
    /// Which marker files were present.
    pub marker_files: Vec<MarkerKind>,
    /// What each gate of decisions.csv did, in order of its first check.
    pub gates: Vec<GateSummary>,
    /// For a scenario (or grid point) of a `compare` or `sweep` folder: the folder's
    /// statistics. Its timeline holds the means (band columns: p10 and p90) and its summary
    /// each metric's mean (with `<metric>_p10`/`_p90`).
    pub study: Option<std::sync::Arc<Study>>,
}

/// A `compare` or `sweep` folder: comparison.csv (or sweep.csv) and timeline_mean.csv.
#[derive(Debug, Clone)]
pub struct Study {
    /// The folder.
    pub dir: PathBuf,
    /// `comparison.csv` or `sweep.csv`.
    pub file: &'static str,
    /// The key columns (`scenario`, or the swept settings).
    pub keys: Vec<String>,
    /// The statistics file's header and rows.
    pub header: Vec<String>,
    /// Its rows.
    pub rows: Vec<Vec<String>>,
}

impl Study {
    /// The label of a row's key: the scenario, or `key=value, key=value` for a sweep.
    pub fn key_label(&self, row: &[String]) -> String {
        if self.keys.len() == 1 && self.keys[0] == "scenario" {
            return undefuse(&row[0]);
        }
        self.keys
            .iter()
            .zip(row)
            .map(|(k, v)| format!("{k}={}", undefuse(v)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A statistic of a row by column name.
    pub fn stat<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        self.header
            .iter()
            .position(|h| h == name)
            .and_then(|i| row.get(i))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The label of each scenario or grid point, in file order.
    pub fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.rows {
            let l = self.key_label(r);
            if !out.contains(&l) {
                out.push(l);
            }
        }
        out
    }

    /// The rows of one metric, in file order.
    pub fn metric<'a>(&'a self, metric: &'a str) -> impl Iterator<Item = &'a Vec<String>> + 'a {
        self.rows
            .iter()
            .filter(move |r| self.stat(r, "metric") == Some(metric))
    }
}

/// Whether a folder was written by `compare` or `sweep`.
pub fn is_study(dir: &Path) -> bool {
    !dir.join("timeline.csv").exists()
        && dir.join("timeline_mean.csv").exists()
        && (dir.join("comparison.csv").exists() || dir.join("sweep.csv").exists())
}

/// Reads a `compare` or `sweep` folder as one run per scenario or grid point.
pub fn read_study(dir: &Path) -> Result<Vec<Run>, String> {
    let file = if dir.join("comparison.csv").exists() {
        "comparison.csv"
    } else {
        "sweep.csv"
    };
    let stats_path = dir.join(file);
    let (header, rows) = read_csv(&stats_path)?.unwrap_or_default();
    let Some(metric_col) = header.iter().position(|h| h == "metric") else {
        return Err(format!("{}: no column `metric`", stats_path.display()));
    };
    let study = std::sync::Arc::new(Study {
        dir: dir.to_path_buf(),
        file,
        keys: header[..metric_col].to_vec(),
        header: header.clone(),
        rows,
    });
    let path = dir.join("timeline_mean.csv");
    let (theader, trows) = read_csv(&path)?.unwrap_or_default();
    let Some(day_col) = theader.iter().position(|h| h == "day") else {
        return Err(format!("{}: no column `day`", path.display()));
    };
    if theader.get(day_col + 1).map(String::as_str) != Some("date") {
        return Err(format!("{}: expected `date` after `day`", path.display()));
    }
    let mut runs: Vec<Run> = Vec::new();
    for (i, row) in trows.iter().enumerate() {
        let line = i + 2;
        let label = study.key_label(&row[..day_col]);
        let time = parse_time(&row[day_col + 1]).ok_or_else(|| {
            format!(
                "{} line {line}: cannot read the date `{}`",
                path.display(),
                row[day_col + 1]
            )
        })?;
        let k = match runs.iter().position(|r| r.label == label) {
            Some(k) => k,
            None => {
                let mut summary = Summary::default();
                summary.fields.push(("scenario".into(), label.clone()));
                summary
                    .fields
                    .push(("start_date".into(), time.date().to_string()));
                for r in study.rows.iter().filter(|r| study.key_label(r) == label) {
                    let m = r[metric_col].clone();
                    for (suffix, stat) in [("", "mean"), ("_p10", "p10"), ("_p90", "p90")] {
                        let v = study.stat(r, stat).unwrap_or("").to_string();
                        summary.fields.push((format!("{m}{suffix}"), v));
                    }
                }
                let columns = theader[day_col + 2..]
                    .iter()
                    .map(|h| (h.strip_suffix("_mean").unwrap_or(h).to_string(), Vec::new()))
                    .collect();
                runs.push(Run {
                    dir: dir.to_path_buf(),
                    label: label.clone(),
                    start: Some(time.date()),
                    timeline: Timeline {
                        hourly: false,
                        columns,
                        ..Timeline::default()
                    },
                    summary: Some(summary),
                    breakdown: None,
                    markers: Vec::new(),
                    marker_files: Vec::new(),
                    gates: Vec::new(),
                    study: Some(study.clone()),
                });
                runs.len() - 1
            }
        };
        let r = &mut runs[k];
        let start = r.start.unwrap_or(time.date());
        r.timeline.x.push(days_between(start, time));
        r.timeline.labels.push(row[day_col + 1].clone());
        for (j, cell) in row[day_col + 2..].iter().enumerate() {
            let v = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse::<f64>().map_err(|_| {
                    format!(
                        "{} line {line}, column `{}`: expected a number, found `{cell}`",
                        path.display(),
                        theader[day_col + 2 + j]
                    )
                })?
            };
            r.timeline.columns[j].1.push(v);
        }
    }
    if runs.is_empty() {
        return Err(format!("{} has no rows", path.display()));
    }
    Ok(runs)
}

impl Run {
    /// The scenario name (summary.csv), without the apostrophe that defuses spreadsheet
    /// formulas.
    pub fn scenario(&self) -> Option<String> {
        self.summary
            .as_ref()
            .and_then(|s| s.get("scenario"))
            .map(undefuse)
    }
}

/// Removes the apostrophe that `output::safe_cell` puts before text a spreadsheet would read
/// as a formula.
pub fn undefuse(s: &str) -> String {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => s.to_string(),
    }
}

/// A CSV file's header and rows.
pub(super) type Csv = (Vec<String>, Vec<Vec<String>>);

/// Reads a CSV file into its header and rows; `Ok(None)` when the file does not exist.
pub(super) fn read_csv(path: &Path) -> Result<Option<Csv>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(text.as_slice());
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(rec.iter().map(|c| c.trim().to_string()).collect::<Vec<_>>());
    }
    if rows.is_empty() {
        return Ok(Some((Vec::new(), Vec::new())));
    }
    let header = rows.remove(0);
    Ok(Some((header, rows)))
}

/// Parses a `date` or `datetime` cell: `2027-01-04` or `2027-01-04 08:00`.
pub fn parse_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn days_between(start: NaiveDate, t: NaiveDateTime) -> f64 {
    let start = start.and_hms_opt(0, 0, 0).unwrap_or_default();
    (t - start).num_minutes() as f64 / 1440.0
}

fn read_timeline(dir: &Path) -> Result<(Timeline, Option<NaiveDate>), String> {
    let path = dir.join("timeline.csv");
    let Some((header, rows)) = read_csv(&path)? else {
        return Err(format!(
            "{} has no timeline.csv: expected a run folder written by `fleetsim run`, or a compare or sweep folder (timeline_mean.csv with comparison.csv or sweep.csv)",
            dir.display()
        ));
    };
    if header.is_empty() {
        return Ok((Timeline::default(), None));
    }
    let hourly = match (
        header.first().map(String::as_str),
        header.get(1).map(String::as_str),
    ) {
        (Some("day"), Some("date")) => false,
        (Some("hour"), Some("datetime")) => true,
        _ => {
            return Err(format!(
                "{}: expected the first columns to be `day,date` or `hour,datetime`, found `{}`",
                path.display(),
                header.iter().take(2).cloned().collect::<Vec<_>>().join(",")
            ));
        }
    };
    let mut t = Timeline {
        hourly,
        columns: header[2..]
            .iter()
            .map(|n| (n.clone(), Vec::with_capacity(rows.len())))
            .collect(),
        ..Timeline::default()
    };
    let mut start = None;
    for (i, row) in rows.iter().enumerate() {
        let line = i + 2;
        let time = parse_time(&row[1]).ok_or_else(|| {
            format!(
                "{} line {line}: cannot read the date `{}`",
                path.display(),
                row[1]
            )
        })?;
        let s = *start.get_or_insert(time.date());
        t.x.push(days_between(s, time));
        t.labels.push(row[1].clone());
        for (j, cell) in row[2..].iter().enumerate() {
            let v = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse::<f64>().map_err(|_| {
                    format!(
                        "{} line {line}, column `{}`: expected a number, found `{cell}`",
                        path.display(),
                        header[j + 2]
                    )
                })?
            };
            t.columns[j].1.push(v);
        }
    }
    Ok((t, start))
}

fn read_summary(dir: &Path) -> Result<Option<Summary>, String> {
    let path = dir.join("summary.csv");
    let Some((header, rows)) = read_csv(&path)? else {
        return Ok(None);
    };
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Summary {
        fields: header.into_iter().zip(row.iter().cloned()).collect(),
    }))
}

fn read_breakdown(dir: &Path) -> Result<Option<Breakdown>, String> {
    let path = dir.join("breakdown.csv");
    let Some((header, rows)) = read_csv(&path)? else {
        return Ok(None);
    };
    if header.is_empty() {
        return Ok(Some(Breakdown::default()));
    }
    let pos = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no column `{name}`", path.display()))
    };
    let (dim, val, dev) = (pos("dimension")?, pos("value")?, pos("devices")?);
    let state_cols: Vec<usize> = (0..header.len())
        .filter(|i| header[*i].starts_with("state_"))
        .collect();
    let num = |line: usize, col: usize, cell: &str| {
        cell.parse::<f64>().map_err(|_| {
            format!(
                "{} line {line}, column `{}`: expected a number, found `{cell}`",
                path.display(),
                header[col]
            )
        })
    };
    let mut b = Breakdown {
        states: state_cols
            .iter()
            .map(|i| header[*i]["state_".len()..].to_string())
            .collect(),
        rows: Vec::with_capacity(rows.len()),
    };
    for (i, row) in rows.iter().enumerate() {
        let line = i + 2;
        b.rows.push(BreakdownRow {
            dimension: row[dim].clone(),
            value: undefuse(&row[val]),
            devices: num(line, dev, &row[dev])?,
            states: state_cols
                .iter()
                .map(|c| num(line, *c, &row[*c]))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(Some(b))
}

/// Column names that make up a marker's label, in the order they are joined.
const LABEL_COLUMNS: [&str; 8] = [
    "step",
    "gate",
    "name",
    "decision",
    "incident",
    "kind",
    "type",
    "description",
];

/// Column names that hold a marker's time, in order of preference.
const TIME_COLUMNS: [&str; 6] = ["time", "datetime", "date", "day", "hour", "minute"];

fn read_markers(
    dir: &Path,
    kind: MarkerKind,
    start: Option<NaiveDate>,
) -> Result<Option<Vec<Marker>>, String> {
    let path = dir.join(kind.file());
    let Some((header, rows)) = read_csv(&path)? else {
        return Ok(None);
    };
    let time_col = TIME_COLUMNS
        .iter()
        .find_map(|t| header.iter().position(|h| h == t))
        .unwrap_or(0);
    let label_cols: Vec<usize> = LABEL_COLUMNS
        .iter()
        .filter_map(|l| header.iter().position(|h| h == l))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let time = row.get(time_col).cloned().unwrap_or_default();
        let x = marker_x(
            header.get(time_col).map_or("", String::as_str),
            &time,
            start,
        );
        let others: Vec<usize> = (0..row.len()).filter(|i| *i != time_col).collect();
        let from = if label_cols.is_empty() {
            &others
        } else {
            &label_cols
        };
        let label = from
            .iter()
            .map(|i| undefuse(&row[*i]))
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(" · ");
        let detail = others
            .iter()
            .filter(|i| !label_cols.contains(i))
            .map(|i| (header[*i].clone(), undefuse(&row[*i])))
            .collect();
        let fields = header
            .iter()
            .zip(row)
            .map(|(h, v)| (h.clone(), undefuse(v)))
            .collect();
        out.push(Marker {
            kind,
            x,
            time,
            label,
            detail,
            fields,
            repeats: 1,
        });
    }
    Ok(Some(out))
}

/// Days since `start` of a marker's time cell; `None` when it cannot be placed.
fn marker_x(column: &str, cell: &str, start: Option<NaiveDate>) -> Option<f64> {
    if let Some(t) = parse_time(cell) {
        return start.map(|s| days_between(s, t));
    }
    let n: f64 = cell.trim().parse().ok()?;
    match column {
        "day" => Some(n - 1.0),
        "hour" => Some((n - 1.0) / 24.0),
        "minute" => Some(n / 1440.0),
        _ => None,
    }
}

/// Reads one run folder. Errors are bad input: they name the file and what is wrong.
pub fn read_run(dir: &Path) -> Result<Run, String> {
    if !dir.is_dir() {
        return Err(if dir.exists() {
            format!(
                "{} is not a folder: expected a run folder written by `fleetsim run`",
                dir.display()
            )
        } else {
            format!("run folder {} does not exist", dir.display())
        });
    }
    let (timeline, first) = read_timeline(dir)?;
    let summary = read_summary(dir)?;
    let start = summary
        .as_ref()
        .and_then(|s| s.get("start_date"))
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .or(first);
    let mut timeline = timeline;
    if let (Some(s), Some(f)) = (start, first)
        && s != f
    {
        let shift = (f - s).num_days() as f64;
        timeline.x.iter_mut().for_each(|x| *x += shift);
    }
    let breakdown = read_breakdown(dir)?;
    let mut markers = Vec::new();
    let mut marker_files = Vec::new();
    for kind in [MarkerKind::Decision, MarkerKind::Incident] {
        if let Some(m) = read_markers(dir, kind, start)? {
            markers.extend(m);
            marker_files.push(kind);
        }
    }
    markers.sort_by(|a, b| {
        a.x.unwrap_or(f64::INFINITY)
            .total_cmp(&b.x.unwrap_or(f64::INFINITY))
            .then(a.kind.cmp(&b.kind))
    });
    let (markers, gates) = collapse_decisions(markers);
    Ok(Run {
        dir: dir.to_path_buf(),
        label: String::new(),
        start,
        timeline,
        summary,
        breakdown,
        markers,
        marker_files,
        gates,
        study: None,
    })
}

/// Reads every run folder and gives each a unique label: its folder name, or the path as
/// given when folder names repeat, or a number after that.
pub fn read_runs(dirs: &[PathBuf]) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    for d in dirs {
        if is_study(d) {
            runs.extend(read_study(d)?);
        } else {
            runs.push(read_run(d)?);
        }
    }
    let name = |r: &Run| {
        if r.study.is_some() {
            return r.label.clone();
        }
        r.dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| r.dir.display().to_string())
    };
    let names: Vec<String> = runs.iter().map(name).collect();
    for (i, run) in runs.iter_mut().enumerate() {
        let n = &names[i];
        run.label = if names.iter().filter(|m| *m == n).count() == 1 {
            n.clone()
        } else {
            run.dir.display().to_string()
        };
    }
    let labels: Vec<String> = runs.iter().map(|r| r.label.clone()).collect();
    for (i, run) in runs.iter_mut().enumerate() {
        if labels.iter().filter(|l| **l == labels[i]).count() > 1 {
            run.label = format!("{} #{}", labels[i], i + 1);
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_dates_and_date_times() {
        let t = parse_time("2027-01-04 08:30").unwrap();
        let start = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        assert!((days_between(start, t) - 8.5 / 24.0).abs() < 1e-9);
        assert_eq!(days_between(start, parse_time("2027-01-06").unwrap()), 2.0);
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn marker_times_by_column() {
        let start = NaiveDate::from_ymd_opt(2027, 1, 4);
        assert_eq!(marker_x("day", "3", start), Some(2.0));
        assert_eq!(marker_x("hour", "25", start), Some(1.0));
        assert_eq!(marker_x("time", "2027-01-05", start), Some(1.0));
        assert_eq!(marker_x("time", "soon", start), None);
    }

    #[test]
    fn defused_cells_are_restored() {
        assert_eq!(undefuse("'=A1"), "=A1");
        assert_eq!(undefuse("'quoted"), "'quoted");
        assert_eq!(undefuse("plain"), "plain");
    }

    #[test]
    fn band_columns_are_recognised() {
        assert_eq!(band_base("state_co_managed_p10"), Some("state_co_managed"));
        assert_eq!(band_base("state_co_managed"), None);
    }
}
