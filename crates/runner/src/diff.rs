//! Comparing a run's CSV files with a baseline's, cell by cell, and describing what moved:
//! which file, column and row, the old and new values and by how much. Used by `verify` (which
//! judges the changes) and by `baseline update` (which reports them).

use crate::tolerance::{Bound, Tolerances};

/// How changes are judged.
#[derive(Clone, Copy)]
pub enum Mode<'a> {
    /// Every byte must match.
    Exact,
    /// The metrics of summary.csv may move within these bounds; the shape of every file
    /// (columns and rows) must still match.
    Tolerance(&'a Tolerances),
}

/// The file whose metrics tolerance mode checks; other files are checked for shape only.
pub const TOLERANCE_FILE: &str = "summary.csv";

/// Columns of summary.csv that are settings of the run, not results: they must always match.
pub const SETTINGS: [&str; 5] = ["scenario", "seed", "start_date", "days", "devices"];

/// At most this many changed cells are listed per file; the rest are counted.
const LISTED: usize = 20;

/// How one changed cell was judged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Check {
    /// Exact mode: any change fails.
    Differs,
    /// Tolerance mode, a setting column: any change fails.
    Setting,
    /// Tolerance mode, a metric without a tolerance: any change fails.
    NoTolerance,
    /// Tolerance mode: the change is within the bound.
    Within(Bound),
    /// Tolerance mode: the change is outside the bound.
    Outside(Bound),
    /// Tolerance mode, a file whose values it does not check (the timeline).
    Unchecked,
}

impl Check {
    /// Whether this change is a regression.
    pub fn fails(self) -> bool {
        matches!(
            self,
            Check::Differs | Check::Setting | Check::NoTolerance | Check::Outside(_)
        )
    }
}

/// One changed cell.
#[derive(Clone, Debug, PartialEq)]
pub struct CellChange {
    /// The column's header.
    pub column: String,
    /// The row, such as `day 12` (a timeline) or `row 1`.
    pub row: String,
    /// The baseline's value.
    pub old: String,
    /// The new run's value.
    pub new: String,
    /// How it was judged.
    pub check: Check,
}

/// Something that differs in one file.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// One side is not valid CSV.
    Unreadable {
        /// Which side: "baseline" or "new run".
        side: &'static str,
        /// The parser's message.
        message: String,
    },
    /// Columns only one side has.
    Columns {
        /// In the baseline only.
        removed: Vec<String>,
        /// In the new run only.
        added: Vec<String>,
    },
    /// A different number of data rows.
    Rows {
        /// In the baseline.
        old: usize,
        /// In the new run.
        new: usize,
    },
    /// A changed cell.
    Cell(CellChange),
    /// The bytes differ though every cell is the same: line endings or quoting, often from a
    /// Git checkout that converts line endings (see docs/CI.md).
    BytesOnly,
}

/// What differs in one file; no findings when it is byte-identical.
#[derive(Clone, Debug, PartialEq)]
pub struct FileDiff {
    /// The file's name, such as `timeline.csv`.
    pub file: String,
    /// What differs.
    pub findings: Vec<Finding>,
    /// Whether any finding is a regression in the mode used.
    pub fails: bool,
}

impl FileDiff {
    /// Whether the file is byte-identical.
    pub fn identical(&self) -> bool {
        self.findings.is_empty()
    }

    /// The changed cells.
    pub fn cells(&self) -> impl Iterator<Item = &CellChange> {
        self.findings.iter().filter_map(|f| match f {
            Finding::Cell(c) => Some(c),
            _ => None,
        })
    }

    /// A readable account, one line each: the failing changes first, at most [`LISTED`] cells,
    /// then a count of the rest; cells that are not checked are summed up in one line.
    pub fn lines(&self) -> Vec<String> {
        let f = &self.file;
        let mut out = Vec::new();
        for finding in &self.findings {
            match finding {
                Finding::Unreadable { side, message } => {
                    out.push(format!("{f}: the {side}'s file is not valid CSV: {message}"));
                }
                Finding::Columns { removed, added } => {
                    if !removed.is_empty() {
                        out.push(format!(
                            "{f}: columns missing from the new run: {}",
                            removed.join(", ")
                        ));
                    }
                    if !added.is_empty() {
                        out.push(format!(
                            "{f}: columns the baseline does not have: {}",
                            added.join(", ")
                        ));
                    }
                }
                Finding::Rows { old, new } => {
                    out.push(format!("{f}: {old} rows in the baseline, {new} in the new run"));
                }
                Finding::BytesOnly => out.push(format!(
                    "{f}: the bytes differ but every cell is the same (line endings? see docs/CI.md)"
                )),
                Finding::Cell(_) => {}
            }
        }
        let (unchecked, checked): (Vec<&CellChange>, Vec<&CellChange>) =
            self.cells().partition(|c| c.check == Check::Unchecked);
        let mut ordered: Vec<&CellChange> = checked
            .iter()
            .copied()
            .filter(|c| c.check.fails())
            .collect();
        ordered.extend(checked.iter().copied().filter(|c| !c.check.fails()));
        for c in ordered.iter().take(LISTED) {
            out.push(format!(
                "{f} {}, {}: {} -> {}{}{}",
                c.row,
                c.column,
                shown(&c.old),
                shown(&c.new),
                change(&c.old, &c.new).map_or_else(String::new, |d| format!(" ({d})")),
                verdict(c.check, &c.old)
            ));
        }
        if ordered.len() > LISTED {
            out.push(format!(
                "{f}: ... and {} not listed, in columns {}",
                cells(ordered.len() - LISTED),
                columns(&ordered[LISTED..])
            ));
        }
        if !unchecked.is_empty() {
            out.push(format!(
                "{f}: {}, in columns {} (tolerance mode checks {TOLERANCE_FILE} only)",
                cells(unchecked.len()),
                columns(&unchecked)
            ));
        }
        out
    }
}

/// `1 changed cell`, `2 changed cells`.
fn cells(n: usize) -> String {
    if n == 1 {
        "1 changed cell".into()
    } else {
        format!("{n} changed cells")
    }
}

/// The distinct columns of `cells`, in order of first appearance: the first few by name.
fn columns(cells: &[&CellChange]) -> String {
    const NAMED: usize = 8;
    let mut names: Vec<&str> = Vec::new();
    for c in cells {
        if !names.contains(&c.column.as_str()) {
            names.push(&c.column);
        }
    }
    if names.len() > NAMED {
        format!(
            "{} and {} more",
            names[..NAMED].join(", "),
            names.len() - NAMED
        )
    } else {
        names.join(", ")
    }
}

fn shown(v: &str) -> &str {
    if v.is_empty() { "(empty)" } else { v }
}

/// Decimal places written in a number such as `2.33`.
fn decimals(v: &str) -> usize {
    v.split_once('.').map_or(0, |(_, frac)| frac.len())
}

/// `+5, +0.36%`: the change between two numbers, with as many decimals as they are written
/// with; `None` unless both are numbers.
fn change(old: &str, new: &str) -> Option<String> {
    let (o, n) = (old.parse::<f64>().ok()?, new.parse::<f64>().ok()?);
    let places = decimals(old).max(decimals(new));
    let d = n - o;
    let mut s = format!("{d:+.places$}");
    if o != 0.0 {
        s.push_str(&format!(", {:+.2}%", d / o.abs() * 100.0));
    }
    Some(s)
}

fn verdict(check: Check, old: &str) -> String {
    let allowed = |b: Bound| match (b, old.parse::<f64>()) {
        (Bound::Relative(_), Ok(o)) => {
            format!("{b} = ±{:.*}", decimals(old).max(2), b.limit(o))
        }
        _ => b.to_string(),
    };
    match check {
        Check::Differs | Check::Unchecked => String::new(),
        Check::Setting => " [a setting of the run: must match]".into(),
        Check::NoTolerance => " [no tolerance given: must match]".into(),
        Check::Within(b) => format!(" [within {}]", allowed(b)),
        Check::Outside(b) => format!(" [OUTSIDE {}]", allowed(b)),
    }
}

/// A CSV file's rows, header first.
fn parse(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| {
            r.map(|r| r.iter().map(String::from).collect())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// The header of a CSV file.
pub fn header(bytes: &[u8]) -> Result<Vec<String>, String> {
    let rows = parse(bytes)?;
    rows.into_iter()
        .next()
        .ok_or_else(|| "the file is empty".to_string())
}

/// How `mode` judges a change in `column` of `file`.
fn judge(file: &str, column: &str, old: &str, new: &str, mode: Mode) -> Check {
    let Mode::Tolerance(t) = mode else {
        return Check::Differs;
    };
    if file != TOLERANCE_FILE {
        return Check::Unchecked;
    }
    if SETTINGS.contains(&column) {
        return Check::Setting;
    }
    let Some(bound) = t.bound_for(column) else {
        return Check::NoTolerance;
    };
    match (old.parse::<f64>(), new.parse::<f64>()) {
        (Ok(o), Ok(n)) if o.is_finite() && n.is_finite() && bound.allows(o, n) => {
            Check::Within(bound)
        }
        _ => Check::Outside(bound),
    }
}

/// Compares one file of a baseline (`old`) with the same file of a new run.
pub fn compare_file(file: &str, old: &[u8], new: &[u8], mode: Mode) -> FileDiff {
    let mut findings = Vec::new();
    if old != new {
        findings = cell_findings(file, old, new, mode);
        if findings.is_empty() {
            findings.push(Finding::BytesOnly);
        }
    }
    let fails = findings.iter().any(|f| match f {
        Finding::Cell(c) => c.check.fails(),
        Finding::BytesOnly => matches!(mode, Mode::Exact),
        _ => true,
    });
    FileDiff {
        file: file.to_string(),
        findings,
        fails,
    }
}

fn cell_findings(file: &str, old: &[u8], new: &[u8], mode: Mode) -> Vec<Finding> {
    let (old, new) = match (parse(old), parse(new)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(message), _) => {
            return vec![Finding::Unreadable {
                side: "baseline",
                message,
            }];
        }
        (_, Err(message)) => {
            return vec![Finding::Unreadable {
                side: "new run",
                message,
            }];
        }
    };
    let empty = Vec::new();
    let old_header = old.first().unwrap_or(&empty);
    let new_header = new.first().unwrap_or(&empty);
    let mut findings = Vec::new();
    let removed: Vec<String> = old_header
        .iter()
        .filter(|h| !new_header.contains(h))
        .cloned()
        .collect();
    let added: Vec<String> = new_header
        .iter()
        .filter(|h| !old_header.contains(h))
        .cloned()
        .collect();
    if !removed.is_empty() || !added.is_empty() {
        findings.push(Finding::Columns { removed, added });
    }
    let (old_rows, new_rows) = (old.len().saturating_sub(1), new.len().saturating_sub(1));
    if old_rows != new_rows {
        findings.push(Finding::Rows {
            old: old_rows,
            new: new_rows,
        });
    }
    // Cells of the columns both sides have, matched by name, row by row.
    let shared: Vec<(usize, usize)> = old_header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| new_header.iter().position(|x| x == h).map(|j| (i, j)))
        .collect();
    let labelled = matches!(old_header.first().map(String::as_str), Some("day" | "hour"));
    // site_timeline.csv has a row per site and day: the row names its site too.
    let site = old_header.iter().position(|h| h == "site");
    for (r, (o, n)) in old.iter().zip(&new).enumerate().skip(1) {
        let mut row = match (labelled, o.first()) {
            (true, Some(v)) => format!("{} {v}", old_header[0]),
            _ => format!("row {r}"),
        };
        if let Some(code) = site.and_then(|k| o.get(k)) {
            row = format!("{row}, site {code}");
        }
        for &(i, j) in &shared {
            let (ov, nv) = (
                o.get(i).map_or("", String::as_str),
                n.get(j).map_or("", String::as_str),
            );
            if ov != nv {
                let column = &old_header[i];
                findings.push(Finding::Cell(CellChange {
                    column: column.clone(),
                    row: row.clone(),
                    old: ov.to_string(),
                    new: nv.to_string(),
                    check: judge(file, column, ov, nv, mode),
                }));
            }
        }
    }
    findings
}

/// Compares every file of a new run with the baseline's file of the same name (a file the
/// baseline lacks compares as empty).
pub fn compare_run(old: &[(&str, Vec<u8>)], new: &[(&str, Vec<u8>)], mode: Mode) -> Vec<FileDiff> {
    new.iter()
        .map(|(name, bytes)| {
            let before = old
                .iter()
                .find(|(n, _)| n == name)
                .map_or(&[][..], |(_, b)| b.as_slice());
            compare_file(name, before, bytes, mode)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMELINE: &str = "day,date,state_co_managed\n1,2027-01-04,100\n2,2027-01-05,150\n";
    const SUMMARY: &str = "scenario,devices,co_managed,days_to_90pct\ntiny,2000,1545,2.33\n";

    fn tol(specs: &[&str]) -> Tolerances {
        Tolerances::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn identical_files_have_no_findings() {
        let d = compare_file(
            "timeline.csv",
            TIMELINE.as_bytes(),
            TIMELINE.as_bytes(),
            Mode::Exact,
        );
        assert!(d.identical() && !d.fails);
        assert!(d.lines().is_empty());
    }

    #[test]
    fn a_changed_cell_names_file_row_column_and_values() {
        let new = TIMELINE.replace("150", "153");
        let d = compare_file(
            "timeline.csv",
            TIMELINE.as_bytes(),
            new.as_bytes(),
            Mode::Exact,
        );
        assert!(d.fails);
        assert_eq!(
            d.lines(),
            ["timeline.csv day 2, state_co_managed: 150 -> 153 (+3, +2.00%)"]
        );
    }

    #[test]
    fn site_timeline_rows_name_their_site() {
        let old = b"day,date,site,devices_total\n1,2027-01-04,P01,5\n1,2027-01-04,P02,7\n";
        let new = b"day,date,site,devices_total\n1,2027-01-04,P01,5\n1,2027-01-04,P02,8\n";
        let d = compare_file("site_timeline.csv", old, new, Mode::Exact);
        let lines = d.lines().join("\n");
        assert!(lines.contains("day 1, site P02"), "{lines}");
    }

    #[test]
    fn decimals_and_empty_values_are_shown() {
        let new = SUMMARY.replace("2.33", "");
        let d = compare_file(
            "summary.csv",
            SUMMARY.as_bytes(),
            new.as_bytes(),
            Mode::Exact,
        );
        assert_eq!(
            d.lines(),
            ["summary.csv row 1, days_to_90pct: 2.33 -> (empty)"]
        );
        assert_eq!(change("2.33", "2.5").as_deref(), Some("+0.17, +7.30%"));
        assert_eq!(change("0", "4").as_deref(), Some("+4"));
    }

    #[test]
    fn shape_changes_are_reported_and_fail_in_any_mode() {
        let new = "day,date,state_co_managed,extra\n1,2027-01-04,100,0\n";
        let t = tol(&["0.5"]);
        let d = compare_file(
            "timeline.csv",
            TIMELINE.as_bytes(),
            new.as_bytes(),
            Mode::Tolerance(&t),
        );
        assert!(d.fails);
        let text = d.lines().join("\n");
        assert!(
            text.contains("columns the baseline does not have: extra"),
            "{text}"
        );
        assert!(
            text.contains("2 rows in the baseline, 1 in the new run"),
            "{text}"
        );
    }

    #[test]
    fn tolerance_accepts_small_and_rejects_big_summary_changes() {
        let t = tol(&["0.01", "days_to_90pct=0.5"]);
        let small = SUMMARY.replace("1545", "1540").replace("2.33", "2.80");
        let d = compare_file(
            "summary.csv",
            SUMMARY.as_bytes(),
            small.as_bytes(),
            Mode::Tolerance(&t),
        );
        assert!(!d.fails, "{:?}", d.lines());
        assert!(
            d.lines()[0].contains("[within ±1% = ±15.45]"),
            "{:?}",
            d.lines()
        );
        let big = SUMMARY.replace("2.33", "2.84");
        let d = compare_file(
            "summary.csv",
            SUMMARY.as_bytes(),
            big.as_bytes(),
            Mode::Tolerance(&t),
        );
        assert!(d.fails);
        assert_eq!(
            d.lines(),
            ["summary.csv row 1, days_to_90pct: 2.33 -> 2.84 (+0.51, +21.89%) [OUTSIDE ±0.5]"]
        );
        let unreached = SUMMARY.replace("2.33", "");
        let d = compare_file(
            "summary.csv",
            SUMMARY.as_bytes(),
            unreached.as_bytes(),
            Mode::Tolerance(&t),
        );
        assert!(d.fails);
    }

    #[test]
    fn tolerance_mode_never_lets_settings_or_uncovered_metrics_move() {
        let t = tol(&["days_to_90pct=1"]);
        let new = SUMMARY.replace("2000", "2001").replace("1545", "1546");
        let d = compare_file(
            "summary.csv",
            SUMMARY.as_bytes(),
            new.as_bytes(),
            Mode::Tolerance(&t),
        );
        let checks: Vec<Check> = d.cells().map(|c| c.check).collect();
        assert_eq!(checks, [Check::Setting, Check::NoTolerance]);
        assert!(d.fails);
    }

    #[test]
    fn tolerance_mode_counts_timeline_changes_without_failing() {
        let t = tol(&["0.01"]);
        let new = TIMELINE.replace("150", "999");
        let d = compare_file(
            "timeline.csv",
            TIMELINE.as_bytes(),
            new.as_bytes(),
            Mode::Tolerance(&t),
        );
        assert!(!d.fails);
        assert_eq!(
            d.lines(),
            [
                "timeline.csv: 1 changed cell, in columns state_co_managed (tolerance mode checks summary.csv only)"
            ]
        );
    }

    #[test]
    fn line_endings_alone_fail_exact_mode_with_a_hint() {
        let crlf = TIMELINE.replace('\n', "\r\n");
        let d = compare_file(
            "timeline.csv",
            TIMELINE.as_bytes(),
            crlf.as_bytes(),
            Mode::Exact,
        );
        assert_eq!(d.findings, [Finding::BytesOnly]);
        assert!(d.fails && d.lines()[0].contains("line endings"));
        let t = tol(&["0.01"]);
        let d = compare_file(
            "timeline.csv",
            TIMELINE.as_bytes(),
            crlf.as_bytes(),
            Mode::Tolerance(&t),
        );
        assert!(!d.fails);
    }

    #[test]
    fn long_lists_are_cut() {
        let mut old = String::from("day,a\n");
        let mut new = old.clone();
        for i in 1..=30 {
            old.push_str(&format!("{i},0\n"));
            new.push_str(&format!("{i},1\n"));
        }
        let d = compare_file("t.csv", old.as_bytes(), new.as_bytes(), Mode::Exact);
        let lines = d.lines();
        assert_eq!(lines.len(), LISTED + 1);
        assert_eq!(
            lines[LISTED],
            "t.csv: ... and 10 changed cells not listed, in columns a"
        );
    }

    #[test]
    fn a_missing_baseline_file_compares_as_empty() {
        let new = [("summary.csv", SUMMARY.as_bytes().to_vec())];
        let d = compare_run(&[], &new, Mode::Exact);
        assert!(d[0].fails);
        assert!(
            d[0].lines()[0].contains("columns the baseline does not have"),
            "{:?}",
            d[0].lines()
        );
    }
}
