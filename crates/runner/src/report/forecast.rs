//! The report of a `fleetsim forecast` folder: a fan chart of the co-managed share (p5–p95 and
//! p10–p90 bands around the p50 line), a bar chart of which ranged value moves the 90%
//! milestone most, and a table of every milestone's spread and its top-ranked values.
//!
//! A forecast folder is reported on its own page (one or more forecast folders, not mixed with
//! run, compare or sweep folders): its files hold percentiles over samples, not one run's
//! counts, so it shares no chart with them.

use super::data::{Csv, parse_time, read_csv, undefuse};
use super::html::{ChartOut, Page};
use super::svg::{BarChart, BarRow, Line, TimeAxis, TimeChart, YFormat, esc};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The files of a forecast folder.
const FILES: [&str; 4] = [
    "forecast.csv",
    "milestones.csv",
    "sensitivity.csv",
    "samples.csv",
];

/// Whether a folder was written by `fleetsim forecast`.
pub fn is_forecast(dir: &Path) -> bool {
    !dir.join("timeline.csv").exists() && FILES.iter().all(|f| dir.join(f).is_file())
}

/// A forecast folder read back.
pub struct Forecast {
    dir: PathBuf,
    forecast: Csv,
    milestones: Csv,
    sensitivity: Csv,
    samples: Csv,
}

/// Reads a forecast folder.
pub fn read(dir: &Path) -> Result<Forecast, String> {
    let get = |f: &str| -> Result<Csv, String> {
        let path = dir.join(f);
        let csv = read_csv(&path)?.ok_or_else(|| format!("{}: missing", path.display()))?;
        if csv.0.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(csv)
    };
    let f = Forecast {
        dir: dir.to_path_buf(),
        forecast: get(FILES[0])?,
        milestones: get(FILES[1])?,
        sensitivity: get(FILES[2])?,
        samples: get(FILES[3])?,
    };
    for (name, csv, need) in [
        (
            FILES[0],
            &f.forecast,
            &["day", "date", "co_managed_pct_p50"][..],
        ),
        (
            FILES[1],
            &f.milestones,
            &["milestone", "p10", "p50", "p90"][..],
        ),
        (
            FILES[2],
            &f.sensitivity,
            &["milestone", "rank", "parameter", "spearman"][..],
        ),
    ] {
        if let Some(c) = need.iter().find(|c| !csv.0.iter().any(|h| h == *c)) {
            return Err(format!(
                "{}: no column `{c}`: not a forecast folder of this fleetsim",
                dir.join(name).display()
            ));
        }
    }
    Ok(f)
}

fn col(csv: &Csv, name: &str) -> Option<usize> {
    csv.0.iter().position(|h| h == name)
}

/// A column as numbers (NaN for empty or unreadable cells).
fn values(csv: &Csv, name: &str) -> Vec<f64> {
    let Some(c) = col(csv, name) else {
        return Vec::new();
    };
    csv.1
        .iter()
        .map(|r| r.get(c).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN))
        .collect()
}

impl Forecast {
    /// Its name in the report: the folder name.
    fn label(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    fn runs(&self) -> String {
        col(&self.milestones, "runs")
            .and_then(|c| self.milestones.1.first()?.get(c).cloned())
            .unwrap_or_default()
    }

    /// The fan chart of the co-managed share.
    fn fan(&self, id: &str) -> TimeChart {
        let dates = col(&self.forecast, "date").unwrap_or(1);
        let times: Vec<_> = self
            .forecast
            .1
            .iter()
            .map(|r| r.get(dates).and_then(|d| parse_time(d)))
            .collect();
        let start = times.first().copied().flatten();
        let x: Vec<f64> = match start {
            Some(s) => times
                .iter()
                .enumerate()
                .map(|(i, t)| t.map_or(i as f64, |t| (t - s).num_minutes() as f64 / 1440.0))
                .collect(),
            None => (0..self.forecast.1.len()).map(|i| i as f64).collect(),
        };
        let v = |p: &str| values(&self.forecast, &format!("co_managed_pct_{p}"));
        let nan = vec![f64::NAN; x.len()];
        let mut outer = Line::new("co_managed_pct_p5_p95", "spread", "#1f77b4", &x, &nan);
        outer.band = Some((v("p5"), v("p95")));
        outer.band_label = "p5–p95";
        let mut mid = Line::new(
            "co_managed_pct_p50",
            "p50 (p10–p90 shaded)",
            "#1f77b4",
            &x,
            &v("p50"),
        );
        mid.band = Some((v("p10"), v("p90")));
        TimeChart {
            id: id.into(),
            title: "Co-managed devices, percent of eligible: forecast".into(),
            subtitle: format!(
                "{} runs over the ranged values; light: p5–p95, darker: p10–p90, line: p50",
                self.runs()
            ),
            y_label: "% of eligible devices".into(),
            y_format: YFormat::Percent,
            axis: TimeAxis {
                start: start.map(|t| t.date()),
            },
            hourly: false,
            lines: vec![outer, mid],
            areas: None,
            guides: vec![(50.0, "50%".into()), (90.0, "90%".into())],
            markers: Vec::new(),
            y_max: Some(100.0),
            legend_note: None,
        }
    }

    /// The ranking of one milestone as bars of |ρ| × 100.
    fn ranking(&self, milestone: &str, id: &str) -> BarChart {
        let (m, p, r) = (
            col(&self.sensitivity, "milestone").unwrap_or(0),
            col(&self.sensitivity, "parameter").unwrap_or(2),
            col(&self.sensitivity, "spearman").unwrap_or(3),
        );
        let rows = self
            .sensitivity
            .1
            .iter()
            .filter(|row| row.get(m).is_some_and(|x| x == milestone))
            .map(|row| {
                let rho: f64 = row.get(r).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
                let name = undefuse(row.get(p).map_or("", String::as_str));
                BarRow {
                    key: name.clone(),
                    label: name.clone(),
                    values: vec![if rho.is_finite() {
                        rho.abs() * 100.0
                    } else {
                        0.0
                    }],
                    note: if rho.is_finite() {
                        format!("(ρ = {rho:+.2})")
                    } else {
                        "no correlation".into()
                    },
                    tooltip: format!(
                        "{name}: Spearman ρ {} with {milestone}",
                        row.get(r).map_or("", String::as_str)
                    ),
                }
            })
            .collect();
        BarChart {
            id: id.into(),
            title: format!("What moves {milestone} most"),
            subtitle:
                "Spearman rank correlation over every run; ρ > 0: a higher value, a later milestone"
                    .into(),
            x_label: "|Spearman ρ| × 100".into(),
            segments: vec![("abs_spearman".into(), "|ρ| × 100".into(), "#1f77b4".into())],
            rows,
            empty_note: "no ranged values".into(),
        }
    }

    /// The milestone whose ranking is drawn: days_to_90pct when any run reached it, else the
    /// first milestone with a correlation.
    fn headline(&self) -> Option<String> {
        let (m, r) = (
            col(&self.sensitivity, "milestone")?,
            col(&self.sensitivity, "spearman")?,
        );
        let has = |name: &str| {
            self.sensitivity
                .1
                .iter()
                .any(|row| row[m] == name && !row[r].is_empty())
        };
        if has("days_to_90pct") {
            return Some("days_to_90pct".into());
        }
        self.sensitivity
            .1
            .iter()
            .find(|row| !row[r].is_empty())
            .map(|row| row[m].clone())
    }

    /// The table: each milestone's reached share, p10/p50/p90 and its top two values.
    fn table(&self, html: &mut String) {
        let ms = &self.milestones;
        let cell = |row: &[String], name: &str| {
            col(ms, name)
                .and_then(|c| row.get(c).cloned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "not reached".into())
        };
        let (sm, sr, sp, ss) = (
            col(&self.sensitivity, "milestone").unwrap_or(0),
            col(&self.sensitivity, "rank").unwrap_or(1),
            col(&self.sensitivity, "parameter").unwrap_or(2),
            col(&self.sensitivity, "spearman").unwrap_or(3),
        );
        let top = |milestone: &str, rank: &str| {
            self.sensitivity
                .1
                .iter()
                .find(|r| r[sm] == milestone && r[sr] == rank && !r[ss].is_empty())
                .map(|r| format!("{} ({})", undefuse(&r[sp]), r[ss]))
                .unwrap_or_else(|| "–".into())
        };
        let _ = write!(
            html,
            r#"<figure class="card wide tablecard" data-card="forecast-milestones"><h3>Milestones and what moves them <small>(days from the start; {} runs)</small></h3><table class="forecast-milestones"><thead><tr><th class="text">Milestone</th><th>Reached</th><th>p10</th><th>p50</th><th>p90</th><th class="text">Moves it most (ρ)</th><th class="text">Second (ρ)</th></tr></thead><tbody>"#,
            esc(&self.runs())
        );
        for row in &ms.1 {
            let name = &row[0];
            let _ = write!(
                html,
                r#"<tr data-milestone="{n}"><td><code>{n}</code></td><td>{}%</td><td>{}</td><td>{}</td><td>{}</td><td class="text">{}</td><td class="text">{}</td></tr>"#,
                esc(&cell(row, "reached_pct")),
                esc(&cell(row, "p10")),
                esc(&cell(row, "p50")),
                esc(&cell(row, "p90")),
                esc(&top(name, "1")),
                esc(&top(name, "2")),
                n = esc(name),
            );
        }
        html.push_str("</tbody></table></figure>");
    }
}

/// The report page of forecast folders.
pub fn page(forecasts: &[Forecast]) -> (String, Vec<ChartOut>) {
    let mut page = Page {
        html: String::new(),
        charts: Vec::new(),
    };
    let title = match forecasts {
        [f] => format!("Forecast report: {}", f.label()),
        _ => format!("Forecast report: {} forecasts", forecasts.len()),
    };
    super::html::page_head(
        &mut page.html,
        &title,
        "percentiles over Latin-hypercube samples of the scenario's ranged values (forecast.csv, milestones.csv, sensitivity.csv)",
    );
    let mut used: Vec<String> = Vec::new();
    for (i, f) in forecasts.iter().enumerate() {
        let mut slug: String = f
            .label()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        if slug.is_empty() || used.contains(&slug) {
            slug = format!("{slug}-{}", i + 1);
        }
        used.push(slug.clone());
        let prefix = if forecasts.len() == 1 {
            String::new()
        } else {
            format!("{slug}-")
        };
        // A calibrated forecast's samples.csv ends with the posterior row each sample took.
        let posterior =
            f.samples.0.last().map(String::as_str) == Some(crate::forecast::POSTERIOR_ROW);
        let keys = &f.samples.0[1..f.samples.0.len() - usize::from(posterior)];
        let params = keys.len();
        let _ = write!(
            page.html,
            r#"<section class="forecast" data-forecast="{}"><h2 id="forecast-{}">{} <small>folder {}; {} samples {}of {} ranged value{}: {}</small></h2><section class="grid">"#,
            esc(&f.label()),
            esc(&slug),
            esc(&f.label()),
            esc(&f.dir.display().to_string()),
            f.samples.1.len(),
            if posterior {
                "(rows of the calibration's posterior) "
            } else {
                ""
            },
            params,
            if params == 1 { "" } else { "s" },
            esc(&keys
                .iter()
                .map(|k| undefuse(k))
                .collect::<Vec<_>>()
                .join(", ")),
        );
        page.time(
            Some(f.fan(&format!("{prefix}forecast-fan"))),
            "<code>co_managed_pct_p5</code> … <code>_p95</code> from <code>forecast.csv</code>: the share of eligible devices co-managed at each day's end, percentiles over every run.",
        );
        if let Some(m) = f.headline() {
            page.bars(
                f.ranking(&m, &format!("{prefix}forecast-sensitivity")),
                &format!(
                    "<code>sensitivity.csv</code>, milestone <code>{}</code>.",
                    esc(&m)
                ),
            );
        }
        f.table(&mut page.html);
        page.html.push_str("</section></section>");
    }
    let _ = write!(
        page.html,
        r#"</main>
<footer>Made by fleetsim {} from {} forecast folder{}. Every chart carries its numbers in <code>data-*</code> attributes. Files and columns: docs/OUTPUTS.md.</footer>
</body>
</html>
"#,
        env!("CARGO_PKG_VERSION"),
        forecasts.len(),
        if forecasts.len() == 1 { "" } else { "s" },
    );
    (page.html, page.charts)
}
