//! `--xlsx FILE`: a spreadsheet workbook of the same rows as the CSV files, with numbers as
//! numbers, dates as dates and native line charts, written with `rust_xlsxwriter`.
//!
//! The workbook is assembled from rows of text (the CSV rows, so the two never disagree): each
//! column whose cells are all numbers is written as numbers, each column of ISO dates as dates
//! with a date format, and anything else as text. Charts go on a first sheet, `charts`, and
//! read their data from the other sheets. The file is written beside its target and renamed
//! into place; its creation time is fixed, so the same rows give the same bytes.

use crate::output;
use crate::stats::parse_number;
use anyhow::{Result, anyhow};
use fleetsim_model::{RunResult, Scenario};
use rust_xlsxwriter::{
    Chart, ChartLegendPosition, ChartType, DocProperties, ExcelDateTime, Format, Workbook,
    Worksheet, XlsxError,
};
use std::path::Path;

/// One worksheet: a header row and data rows, as in a CSV file.
pub struct Sheet {
    /// Wanted name (made valid and unique when written).
    pub name: String,
    /// Rows, header first.
    pub rows: Vec<Vec<String>>,
}

/// One line of a chart: a column of a sheet, against that sheet's date column.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Index of the sheet in the list given to [`write`].
    pub sheet: usize,
    /// Header of the column to plot.
    pub column: String,
}

/// A line chart over time.
pub struct LineChart {
    /// Title.
    pub title: String,
    /// Its lines.
    pub series: Vec<Series>,
}

/// Rows of a worksheet at most (Excel's limit, header included).
const MAX_ROWS: usize = 1_048_576;
/// Length of a worksheet name at most.
const MAX_NAME: usize = 31;

/// The charts of timelines: co-managed devices, and each workload at Intune when the
/// timelines have `wl_<workload>_intune` columns; one series per (label, sheet). `suffix` is
/// appended to the column names (`_mean` for mean timelines) and `note` to the titles.
pub fn timeline_charts(
    sheets: &[Sheet],
    timelines: &[(String, usize)],
    suffix: &str,
    note: &str,
) -> Vec<LineChart> {
    let Some(header) = timelines.first().and_then(|(_, i)| sheets[*i].rows.first()) else {
        return Vec::new();
    };
    let mut charts = vec![(
        "state_co_managed".to_string(),
        "Co-managed devices".to_string(),
    )];
    for h in header {
        if let Some(w) = h
            .strip_suffix(suffix)
            .and_then(|c| c.strip_prefix("wl_"))
            .and_then(|c| c.strip_suffix("_intune"))
        {
            charts.push((
                format!("wl_{w}_intune"),
                format!("Devices with {w} at Intune"),
            ));
        }
    }
    charts
        .into_iter()
        .map(|(column, title)| {
            let column = format!("{column}{suffix}");
            LineChart {
                title: format!("{title}{note}"),
                series: timelines
                    .iter()
                    .filter(|(_, i)| sheets[*i].rows.first().is_some_and(|h| h.contains(&column)))
                    .map(|(label, i)| Series {
                        name: label.clone(),
                        sheet: *i,
                        column: column.clone(),
                    })
                    .collect(),
            }
        })
        .filter(|c| !c.series.is_empty())
        // A workload that never moved (all 0) would only add an empty chart.
        .filter(|c| {
            c.series.iter().any(|sr| {
                let rows = &sheets[sr.sheet].rows;
                let Some(k) = rows
                    .first()
                    .and_then(|h| h.iter().position(|x| *x == sr.column))
                else {
                    return false;
                };
                sr.column.starts_with("state_co_managed")
                    || rows[1..].iter().any(|r| {
                        r.get(k)
                            .and_then(|v| v.parse::<f64>().ok())
                            .is_some_and(|v| v != 0.0)
                    })
            })
        })
        .collect()
}

/// `run --xlsx`: the run's timeline, summary, breakdown and site timeline, and charts of the
/// timeline.
pub fn write_run(path: &Path, force: bool, s: &Scenario, r: &RunResult) -> Result<()> {
    let sheets = vec![
        Sheet {
            name: "timeline".into(),
            rows: output::timeline(s, r),
        },
        Sheet {
            name: "summary".into(),
            rows: output::summary(s, r),
        },
        Sheet {
            name: "breakdown".into(),
            rows: output::breakdown(r),
        },
        Sheet {
            name: "site_timeline".into(),
            rows: output::site_timeline(s, r),
        },
    ];
    let charts = timeline_charts(&sheets, &[(output::safe_cell(&s.name), 0)], "", "");
    write(path, force, &sheets, &charts)
}

/// Writes the workbook: a `charts` sheet with `charts` (when there are any), then `sheets`.
pub fn write(path: &Path, force: bool, sheets: &[Sheet], charts: &[LineChart]) -> Result<()> {
    let bytes = build(sheets, charts).map_err(|e| anyhow!("cannot build the workbook: {e}"))?;
    if path.exists() && !force {
        return Err(anyhow!(
            "{} already exists: pass --force to replace it",
            path.display()
        ));
    }
    crate::target::write_file(path, &bytes, crate::target::Signature::Xlsx)
}

/// Valid, unique worksheet names for `wanted`, in order (`charts` is taken).
fn sheet_names(wanted: &[&str]) -> Vec<String> {
    let mut taken: Vec<String> = vec!["charts".into()];
    let mut names = Vec::new();
    for w in wanted {
        let clean: String = w
            .chars()
            .map(|c| match c {
                '[' | ']' | ':' | '*' | '?' | '/' | '\\' | '\'' => '_',
                c if c.is_control() => '_',
                c => c,
            })
            .collect();
        let clean = clean.trim();
        let clean = if clean.is_empty() { "sheet" } else { clean };
        let mut k = 1;
        let name = loop {
            let tail = if k == 1 {
                String::new()
            } else {
                format!("~{k}")
            };
            let room = MAX_NAME - tail.chars().count();
            let head: String = clean.chars().take(room).collect();
            let candidate = format!("{}{tail}", head.trim_end());
            if !taken.iter().any(|t| t.eq_ignore_ascii_case(&candidate))
                && !candidate.eq_ignore_ascii_case("history")
            {
                break candidate;
            }
            k += 1;
        };
        taken.push(name.clone());
        names.push(name);
    }
    names
}

/// How a column is written.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Number,
    Date,
    DateTime,
    Text,
}

/// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM` as an Excel date.
fn date_of(cell: &str) -> Option<(ExcelDateTime, bool)> {
    let b = cell.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let num = |r: std::ops::Range<usize>| cell[r].parse::<u16>().ok();
    if (b.len() != 10 && b.len() != 16) || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !digits(0..4) || !digits(5..7) || !digits(8..10) {
        return None;
    }
    let date = ExcelDateTime::from_ymd(num(0..4)?, num(5..7)? as u8, num(8..10)? as u8).ok()?;
    if b.len() == 10 {
        return Some((date, false));
    }
    if b[10] != b' ' || b[13] != b':' || !digits(11..13) || !digits(14..16) {
        return None;
    }
    let t = date.and_hms(num(11..13)?, num(14..16)? as u8, 0).ok()?;
    Some((t, true))
}

fn kind_of(rows: &[Vec<String>], col: usize) -> Kind {
    let cells = || {
        rows.iter()
            .skip(1)
            .filter_map(move |r| r.get(col))
            .filter(|c| !c.is_empty())
    };
    if cells().next().is_none() {
        return Kind::Text;
    }
    if cells().all(|c| parse_number(c).is_some()) {
        return Kind::Number;
    }
    let mut kinds = cells().map(|c| date_of(c).map(|(_, time)| time));
    match kinds.next().flatten() {
        Some(time) if kinds.all(|k| k == Some(time)) => {
            if time {
                Kind::DateTime
            } else {
                Kind::Date
            }
        }
        _ => Kind::Text,
    }
}

fn fill(ws: &mut Worksheet, rows: &[Vec<String>]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    if rows.len() > MAX_ROWS {
        ws.write_string(
            0,
            0,
            format!(
                "{} rows do not fit in a worksheet: see the CSV file",
                rows.len()
            ),
        )?;
        return Ok(());
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    for col in 0..width {
        let c = col as u16;
        let kind = kind_of(rows, col);
        for (i, row) in rows.iter().enumerate() {
            let Some(cell) = row.get(col) else { continue };
            let r = i as u32;
            if i == 0 {
                ws.write_string_with_format(r, c, cell, &bold)?;
                continue;
            }
            if cell.is_empty() {
                continue;
            }
            match (kind, parse_number(cell), date_of(cell)) {
                (Kind::Number, Some(x), _) => {
                    ws.write_number(r, c, x)?;
                }
                (Kind::Date, _, Some((d, _))) => {
                    ws.write_datetime_with_format(r, c, &d, &date)?;
                }
                (Kind::DateTime, _, Some((d, _))) => {
                    ws.write_datetime_with_format(r, c, &d, &datetime)?;
                }
                _ => {
                    ws.write_string(r, c, cell)?;
                }
            }
        }
        let w = match kind {
            Kind::Date => Some(11.0),
            Kind::DateTime => Some(16.0),
            _ => None,
        };
        if let Some(w) = w {
            ws.set_column_width(c, w)?;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn build(sheets: &[Sheet], charts: &[LineChart]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    // A fixed creation time: the same rows give the same file.
    let epoch = ExcelDateTime::from_ymd(2000, 1, 1)?;
    wb.set_properties(
        &DocProperties::new()
            .set_creation_datetime(&epoch)
            .set_title("fleetsim results"),
    );
    let names = sheet_names(&sheets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>());
    if !charts.is_empty() {
        let mut ws = Worksheet::new();
        ws.set_name("charts")?;
        // Printed or exported to PDF, each chart fits the page's width.
        ws.set_landscape().set_print_fit_to_pages(1, 0);
        for (k, c) in charts.iter().enumerate() {
            let mut chart = Chart::new(ChartType::Line);
            chart.title().set_name(&c.title);
            chart.set_width(720).set_height(400);
            chart.legend().set_position(ChartLegendPosition::Bottom);
            chart.x_axis().set_name("date").set_date_axis(true);
            chart.x_axis().set_num_format("yyyy-mm-dd");
            chart.y_axis().set_name("devices");
            for s in &c.series {
                let rows = &sheets[s.sheet].rows;
                let Some(header) = rows.first() else { continue };
                let (Some(col), Some(cat)) = (
                    header.iter().position(|h| *h == s.column),
                    header.iter().position(|h| h == "date" || h == "datetime"),
                ) else {
                    continue;
                };
                if rows.len() < 2 || rows.len() > MAX_ROWS {
                    continue;
                }
                let last = (rows.len() - 1) as u32;
                let name = &names[s.sheet];
                // A `!` would make the legend text a cell reference.
                chart
                    .add_series()
                    .set_name(&s.name.replace('!', "_"))
                    .set_categories((name.as_str(), 1, cat as u16, last, cat as u16))
                    .set_values((name.as_str(), 1, col as u16, last, col as u16));
            }
            ws.insert_chart(k as u32 * 21, 0, &chart)?;
        }
        wb.push_worksheet(ws);
    }
    for (s, name) in sheets.iter().zip(&names) {
        let mut ws = Worksheet::new();
        ws.set_name(name)?;
        fill(&mut ws, &s.rows)?;
        wb.push_worksheet(ws);
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_valid_and_unique() {
        let long = "x".repeat(40);
        let names = sheet_names(&["a/b", "charts", &long, &long, "History", " ", "'q'"]);
        assert_eq!(names[0], "a_b");
        assert_eq!(names[1], "charts~2");
        assert_eq!(names[2].len(), 31);
        assert!(names[3].ends_with("~2") && names[3].len() == 31);
        assert_eq!(names[4], "History~2");
        assert_eq!(names[5], "sheet");
        assert_eq!(names[6], "_q_");
    }

    #[test]
    fn columns_are_typed() {
        let rows: Vec<Vec<String>> = [
            ["day", "date", "name", "x", "when"],
            ["1", "2027-01-04", "a", "", "2027-01-04 10:00"],
            ["2", "2027-01-05", "2", "1.5", "2027-01-04 11:00"],
        ]
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
        let kinds: Vec<Kind> = (0..5).map(|c| kind_of(&rows, c)).collect();
        assert_eq!(
            kinds,
            [
                Kind::Number,
                Kind::Date,
                Kind::Text,
                Kind::Number,
                Kind::DateTime
            ]
        );
        assert!(date_of("2027-02-30").is_none());
        assert!(date_of("2027-1-04").is_none());
    }
}
