//! Hand-written SVG charts: time series (lines, p10/p90 bands, stacked areas, dated markers)
//! and horizontal stacked bars.
//!
//! Every chart is a standalone SVG document (it is also written as `--svg`/`--png` files), uses
//! presentation attributes only (no page CSS), and carries its numbers in `data-*`
//! attributes (`data-series`/`data-values` on each series, `data-category`/`data-value` on each
//! bar) so that tests and tools can read back exactly what was drawn.

use chrono::{Datelike, Duration, NaiveDate};
use std::fmt::Write;

/// Width of every chart, in SVG units.
pub const WIDTH: f64 = 720.0;
/// The font every chart asks for; the PNG renderer embeds it.
pub const FONT: &str = "DejaVu Sans, Verdana, Arial, sans-serif";
const TEXT: &str = "#222";
const MUTED: &str = "#666";
const GRID: &str = "#e3e3e3";
const AXIS: &str = "#888";

/// Escapes text for HTML and XML (element content and quoted attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A number for a `data-*` attribute: integers as integers, others with up to 4 decimals;
/// missing values (NaN) as an empty string.
pub fn fmt_data(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v == v.round() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A list of numbers for a `data-values` attribute.
pub fn fmt_list(v: &[f64]) -> String {
    v.iter().map(|x| fmt_data(*x)).collect::<Vec<_>>().join(",")
}

/// A count for people: `1,234,567`; fractions keep one decimal.
pub fn fmt_count(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let neg = v < 0.0;
    let r = v.abs();
    let whole = r.trunc() as u64;
    let mut digits = whole.to_string();
    let mut grouped = String::new();
    while digits.len() > 3 {
        let tail = digits.split_off(digits.len() - 3);
        grouped = format!(",{tail}{grouped}");
    }
    grouped = format!("{digits}{grouped}");
    let frac = r - r.trunc();
    if (0.05..0.95).contains(&frac) {
        grouped.push_str(&format!("{:.1}", frac)[1..]);
    } else if frac >= 0.95 {
        return fmt_count(if neg { -(r.round()) } else { r.round() });
    }
    if neg { format!("-{grouped}") } else { grouped }
}

/// `part` as a percentage of `whole` for people, with one decimal, but never rounded to
/// `100.0%` while something is left nor to `0.0%` when something is there: more decimals
/// then (`99.97%`, `0.03%`).
pub fn fmt_pct(part: f64, whole: f64) -> String {
    if !(part.is_finite() && whole.is_finite()) || whole <= 0.0 {
        return "–".into();
    }
    let p = part / whole * 100.0;
    for decimals in 1..=6 {
        let text = format!("{p:.decimals$}");
        let r: f64 = text.parse().unwrap_or(p);
        let wrong_full = r >= 100.0 && part < whole;
        let wrong_empty = r <= 0.0 && part > 0.0;
        if !wrong_full && !wrong_empty {
            return format!("{text}%");
        }
    }
    if part < whole {
        "<99.9999%".into()
    } else {
        ">0%".into()
    }
}

/// A tick label: compact (`250k`, `1.5M`) for large numbers; `top` (the axis's largest
/// tick) picks one unit for every tick of the axis, so `80k` stands beside `100k`.
fn fmt_tick(v: f64, format: YFormat, top: f64) -> String {
    if format == YFormat::Percent {
        return format!("{}%", fmt_data(v));
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = top.abs().max(v.abs());
    if a >= 1e6 {
        format!("{}M", fmt_data((v / 1e4).round() / 100.0))
    } else if a >= 1e5 {
        format!("{}k", fmt_data((v / 1e2).round() / 10.0))
    } else {
        fmt_count(v)
    }
}

/// A text's width for layout, from DejaVu Sans advance widths (in em, rounded; other fonts
/// the browser may pick are narrower, so labels never collide).
pub fn text_width(s: &str, size: f64) -> f64 {
    let em: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '\'' | '|' | 'I' => 0.28,
            ' ' | ',' | '.' | ':' | ';' | '!' => 0.32,
            'f' | 't' | '(' | ')' | '[' | ']' | '-' | '/' => 0.37,
            'r' => 0.41,
            'c' | 's' | 'z' => 0.53,
            'm' => 0.97,
            'w' => 0.82,
            'M' | 'W' | '%' => 0.95,
            'A'..='Z' => 0.72,
            _ => 0.62,
        })
        .sum();
    em * size
}

/// A round step near `raw`: 1, 2, 2.5 or 5 times a power of ten.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let f = raw / p;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * p
}

/// The axis top and tick step for values up to `max`, with about `target` ticks; counts keep
/// whole steps.
pub fn nice_ticks(max: f64, target: usize, whole: bool) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let mut step = nice_step(max / target.max(1) as f64);
    if whole {
        step = step.max(1.0).round();
    }
    let top = (max / step - 1e-9).ceil().max(1.0) * step;
    (top, step)
}

/// How the y axis is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YFormat {
    /// Devices or other counts.
    Count,
    /// Percent (0–100).
    Percent,
}

/// The x axis of a time chart: days since `start`.
///
/// With a start date, ticks sit on calendar boundaries only, the finest kind that fits:
/// hours (3, 6 or 12 apart, for hourly rows over a few days), every day, every second day,
/// Mondays, every second Monday, the 1st and 15th of each month, then the 1st of every 1, 2,
/// 3, 6 or 12 months. Each is labelled with its day and month (`1 Mar`, `15 Mar`), a
/// 1 January also with its year; an hour tick with its time (`06:00`), midnight with its date.
#[derive(Clone, Copy, Debug)]
pub struct TimeAxis {
    /// The date at x = 0; without it ticks read "day N".
    pub start: Option<NaiveDate>,
}

/// A tick of the time axis: where (days since the start) and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Days since the start.
    pub x: f64,
    /// The label, such as `1 Mar` or `06:00`.
    pub label: String,
}

/// Kinds of calendar tick, finest first.
#[derive(Clone, Copy, Debug)]
enum Every {
    Hours(u32),
    Days(u32),
    Mondays(u32),
    HalfMonths,
    Months(u32),
}

const EVERY: [Every; 14] = [
    Every::Hours(3),
    Every::Hours(6),
    Every::Hours(12),
    Every::Days(1),
    Every::Days(2),
    Every::Mondays(1),
    Every::Mondays(2),
    Every::HalfMonths,
    Every::Months(1),
    Every::Months(2),
    Every::Months(3),
    Every::Months(6),
    Every::Months(12),
    Every::Months(24),
];

/// Candidate steps in days for runs without a date, finest first.
const DAY_STEPS: [f64; 14] = [
    0.125, 0.25, 0.5, 1.0, 2.0, 5.0, 7.0, 10.0, 14.0, 30.0, 60.0, 90.0, 180.0, 365.0,
];

impl TimeAxis {
    /// Ticks between `lo` and `hi`, at most `max` of them (hours only when `hourly`).
    pub fn ticks(&self, lo: f64, hi: f64, max: usize, hourly: bool) -> Vec<Tick> {
        let max = max.max(2);
        let Some(start) = self.start else {
            let span = (hi - lo).max(1e-9);
            let step = DAY_STEPS
                .iter()
                .copied()
                .filter(|s| hourly || *s >= 1.0)
                .find(|s| span / s < max as f64)
                .unwrap_or((span / max as f64).ceil());
            let mut out = Vec::new();
            let mut k = (lo / step - 1e-9).ceil();
            while k * step <= hi + 1e-9 {
                let x = k * step;
                let label = if step < 1.0 {
                    format!("day {} {:02}:00", x.floor() as i64 + 1, hour_of(x))
                } else {
                    format!("day {}", x.round() as i64 + 1)
                };
                out.push(Tick { x, label });
                k += 1.0;
            }
            return out;
        };
        for every in EVERY {
            if matches!(every, Every::Hours(_)) && !hourly {
                continue;
            }
            let t = calendar_ticks(start, lo, hi, every, max + 1);
            if t.len() <= max {
                return t;
            }
        }
        calendar_ticks(start, lo, hi, Every::Months(120), usize::MAX)
    }

    /// A point's full date for tooltips.
    pub fn point_label(&self, x: f64, hourly: bool) -> String {
        match self.start {
            Some(s) => {
                let day = s + Duration::days(x.floor() as i64);
                if hourly {
                    format!("{day} {:02}:00", hour_of(x))
                } else {
                    day.to_string()
                }
            }
            None => format!("day {}", x.floor() as i64 + 1),
        }
    }

    /// The axis title: "date (2027)" (years of the range) or "day of run".
    pub fn title(&self, lo: f64, hi: f64) -> String {
        match self.start {
            Some(s) => {
                let a = (s + Duration::days(lo.floor() as i64)).year();
                let b = (s + Duration::days(hi.floor() as i64)).year();
                if a == b {
                    format!("date ({a})")
                } else {
                    format!("date ({a}–{b})")
                }
            }
            None => "day of run".into(),
        }
    }
}

/// A date's tick label: `1 Mar`, or `1 Jan 2028` on a 1 January.
pub fn date_label(d: NaiveDate) -> String {
    if d.month() == 1 && d.day() == 1 {
        format!("1 Jan {}", d.year())
    } else {
        format!("{} {}", d.day(), month(d.month()))
    }
}

/// The ticks of one kind between `lo` and `hi` (days since `start`); stops after `limit`.
fn calendar_ticks(start: NaiveDate, lo: f64, hi: f64, every: Every, limit: usize) -> Vec<Tick> {
    let mut out = Vec::new();
    if let Every::Hours(h) = every {
        let step = f64::from(h) / 24.0;
        let mut k = (lo / step - 1e-9).ceil();
        while k * step <= hi + 1e-9 && out.len() < limit {
            let x = k * step;
            let hour = hour_of(x);
            let label = if hour == 0 {
                date_label(start + Duration::days(x.round() as i64))
            } else {
                format!("{hour:02}:00")
            };
            out.push(Tick { x, label });
            k += 1.0;
        }
        return out;
    }
    let first = start + Duration::days((lo - 1e-9).ceil() as i64);
    let last = start + Duration::days((hi + 1e-9).floor() as i64);
    let mut d = first;
    while d <= last && out.len() < limit {
        let offset = (d - start).num_days();
        let keep = match every {
            Every::Hours(_) => false,
            Every::Days(n) => offset.rem_euclid(i64::from(n)) == 0,
            Every::Mondays(n) => {
                // Every n-th Monday, counted from the first Monday on or after the start.
                let monday = (d.weekday().num_days_from_monday() == 0)
                    .then(|| (d - first_monday(start)).num_days() / 7);
                monday.is_some_and(|w| w.rem_euclid(i64::from(n)) == 0)
            }
            Every::HalfMonths => d.day() == 1 || d.day() == 15,
            Every::Months(n) => d.day() == 1 && (d.month0() + 12 * d.year() as u32) % n == 0,
        };
        if keep {
            out.push(Tick {
                x: offset as f64,
                label: date_label(d),
            });
        }
        d = match every {
            Every::Months(_) | Every::HalfMonths if d.day() > 15 => {
                // Jump to the first of the next month.
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(last + Duration::days(1))
            }
            _ => d + Duration::days(1),
        };
    }
    out
}

fn first_monday(start: NaiveDate) -> NaiveDate {
    let back = i64::from(start.weekday().num_days_from_monday());
    if back == 0 {
        start
    } else {
        start + Duration::days(7 - back)
    }
}

fn hour_of(x: f64) -> u32 {
    (((x - x.floor()) * 24.0).round() as u32).min(23)
}

fn month(m: u32) -> &'static str {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m as usize).saturating_sub(1).min(11)]
}

/// One line of a time chart.
#[derive(Clone, Debug)]
pub struct Line {
    /// Stable key for `data-series` (a CSV column or a derived name).
    pub key: String,
    /// The legend text.
    pub label: String,
    /// Stroke colour.
    pub color: String,
    /// Days since start, per point.
    pub x: Vec<f64>,
    /// Values, per point (NaN leaves a gap).
    pub y: Vec<f64>,
    /// p10 and p90 per point, drawn as a shaded band.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    /// What the band spans, in its tooltip (`p10–p90`; a forecast's outer band `p5–p95`).
    pub band_label: &'static str,
    /// Stroke width.
    pub width: f64,
    /// Stroke opacity.
    pub opacity: f64,
    /// Drawn dashed (a limit such as a capacity, not a measurement).
    pub dashed: bool,
}

impl Line {
    /// A line with the default width and opacity.
    pub fn new(key: &str, label: &str, color: &str, x: &[f64], y: &[f64]) -> Self {
        Self {
            key: key.into(),
            label: label.into(),
            color: color.into(),
            x: x.to_vec(),
            y: y.to_vec(),
            band: None,
            band_label: "p10–p90",
            width: 2.2,
            opacity: 1.0,
            dashed: false,
        }
    }
}

/// One layer of a stacked area chart.
#[derive(Clone, Debug)]
pub struct Area {
    /// Stable key for `data-series`.
    pub key: String,
    /// The legend text.
    pub label: String,
    /// Fill colour.
    pub color: String,
    /// Values per point of the chart's shared x.
    pub y: Vec<f64>,
}

/// A dated vertical marker (a decision or an incident).
#[derive(Clone, Debug)]
pub struct VMarker {
    /// Days since start.
    pub x: f64,
    /// Short badge text, such as `D1`.
    pub badge: String,
    /// The full text, shown on hover.
    pub title: String,
    /// Colour.
    pub color: String,
}

/// A time series chart.
#[derive(Clone, Debug)]
pub struct TimeChart {
    /// Identifier: the chart's `data-chart` and its image file name.
    pub id: String,
    /// Title (drawn inside the chart, so images carry it).
    pub title: String,
    /// A line under the title.
    pub subtitle: String,
    /// y axis title.
    pub y_label: String,
    /// y axis format.
    pub y_format: YFormat,
    /// x axis.
    pub axis: TimeAxis,
    /// Whether rows are hours (for tooltips).
    pub hourly: bool,
    /// Lines, drawn over the areas.
    pub lines: Vec<Line>,
    /// Stacked areas over a shared x.
    pub areas: Option<(Vec<f64>, Vec<Area>)>,
    /// Horizontal dashed guides: value and label.
    pub guides: Vec<(f64, String)>,
    /// Vertical markers.
    pub markers: Vec<VMarker>,
    /// Fixed y top (percent charts use 100).
    pub y_max: Option<f64>,
    /// Legend text used instead of one entry per line (many runs).
    pub legend_note: Option<String>,
}

/// A horizontal stacked bar chart: one bar per category, one segment per kind.
#[derive(Clone, Debug)]
pub struct BarChart {
    /// Identifier: the chart's `data-chart` and its image file name.
    pub id: String,
    /// Title.
    pub title: String,
    /// A line under the title.
    pub subtitle: String,
    /// x axis title.
    pub x_label: String,
    /// Segments: key, legend text and colour.
    pub segments: Vec<(String, String, String)>,
    /// Bars, top to bottom.
    pub rows: Vec<BarRow>,
    /// What to say when there are no bars.
    pub empty_note: String,
}

/// One bar.
#[derive(Clone, Debug)]
pub struct BarRow {
    /// Stable key for `data-category`.
    pub key: String,
    /// The label left of the bar.
    pub label: String,
    /// Value per segment (in the order of [`BarChart::segments`]).
    pub values: Vec<f64>,
    /// Text after the total (such as a percentage).
    pub note: String,
    /// Extra lines for the tooltip.
    pub tooltip: String,
}

/// Legend entries laid out in rows: (x, row, label, colour, kind).
fn legend_layout(items: &[(String, String)], left: f64, width: f64) -> (Vec<(f64, usize)>, usize) {
    let mut out = Vec::with_capacity(items.len());
    let (mut x, mut row) = (left, 0);
    for (label, _) in items {
        let w = 18.0 + text_width(label, 12.0) + 18.0;
        if x > left && x + w > left + width {
            x = left;
            row += 1;
        }
        out.push((x, row));
        x += w;
    }
    (out, if items.is_empty() { 0 } else { row + 1 })
}

fn svg_open(s: &mut String, id: &str, title: &str, h: f64) {
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-{id}" data-chart="{id}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}" font-family="{FONT}" font-size="12" fill="{TEXT}"><title>{t}</title><rect width="{w}" height="{h}" fill="#ffffff"/>"##,
        id = esc(id),
        w = WIDTH,
        h = fmt_data(h.round()),
        t = esc(title),
    );
}

fn heading(s: &mut String, title: &str, subtitle: &str) {
    let _ = write!(
        s,
        r#"<text x="16" y="24" font-size="16" font-weight="bold">{}</text>"#,
        esc(title)
    );
    if !subtitle.is_empty() {
        let _ = write!(
            s,
            r#"<text x="16" y="42" font-size="12" fill="{MUTED}">{}</text>"#,
            esc(subtitle)
        );
    }
}

fn heading_height(subtitle: &str) -> f64 {
    if subtitle.is_empty() { 36.0 } else { 54.0 }
}

fn draw_legend(s: &mut String, items: &[(String, String)], top: f64, left: f64, width: f64) -> f64 {
    let (pos, rows) = legend_layout(items, left, width);
    s.push_str(r#"<g class="legend">"#);
    for ((label, color), (x, row)) in items.iter().zip(pos) {
        let y = top + row as f64 * 18.0;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="14" height="10" rx="2" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            fmt_data(x),
            fmt_data(y + 1.0),
            esc(color),
            fmt_data(x + 19.0),
            fmt_data(y + 10.5),
            esc(label)
        );
    }
    s.push_str("</g>");
    rows as f64 * 18.0
}

impl TimeChart {
    /// Renders the chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let mut xs: Vec<f64> = self
            .lines
            .iter()
            .flat_map(|l| l.x.iter().copied())
            .collect();
        if let Some((x, _)) = &self.areas {
            xs.extend(x.iter().copied());
        }
        xs.retain(|x| x.is_finite());
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        // A single date gets a day's width around it.
        let (lo, hi) = if hi - lo < 1e-9 {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };

        let mut ymax = 0f64;
        for l in &self.lines {
            ymax =
                l.y.iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .fold(ymax, f64::max);
            if let Some((_, p90)) = &l.band {
                ymax = p90
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .fold(ymax, f64::max);
            }
        }
        if let Some((x, areas)) = &self.areas {
            for i in 0..x.len() {
                let total: f64 = areas
                    .iter()
                    .map(|a| a.y.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0))
                    .sum();
                ymax = ymax.max(total);
            }
        }
        let (top_v, step_v) = match self.y_max {
            Some(m) => (m, nice_step(m / 5.0)),
            None => nice_ticks(ymax, 5, self.y_format == YFormat::Count),
        };

        // Legend.
        let mut legend: Vec<(String, String)> = Vec::new();
        if let Some(note) = &self.legend_note {
            legend.push((
                note.clone(),
                self.lines.first().map_or(AXIS.into(), |l| l.color.clone()),
            ));
        } else {
            if let Some((_, areas)) = &self.areas {
                legend.extend(areas.iter().map(|a| (a.label.clone(), a.color.clone())));
            }
            legend.extend(
                self.lines
                    .iter()
                    .map(|l| (l.label.clone(), l.color.clone())),
            );
        }
        let tick_w = (0..=((top_v / step_v).round() as usize))
            .map(|i| text_width(&fmt_tick(i as f64 * step_v, self.y_format, top_v), 11.0))
            .fold(0.0, f64::max);
        let left = (tick_w + 40.0).max(64.0);
        let right = if self.guides.is_empty() { 22.0 } else { 44.0 };
        let plot_w = WIDTH - left - right;
        let head = heading_height(&self.subtitle);
        let (_, legend_rows) = legend_layout(&legend, 16.0, WIDTH - 32.0);
        let legend_h = legend_rows as f64 * 18.0;
        // Badges that would overlap go up a row (at most four rows).
        let mut right_edge = [f64::NEG_INFINITY; 4];
        let badge_rows: Vec<usize> = self
            .markers
            .iter()
            .map(|m| {
                let x = left + (m.x.clamp(lo, hi) - lo) / (hi - lo) * plot_w;
                let w = text_width(&m.badge, 10.0) + 8.0;
                let row = (0..4)
                    .find(|r| x - w / 2.0 >= right_edge[*r] + 2.0)
                    .unwrap_or(3);
                right_edge[row] = right_edge[row].max(x + w / 2.0);
                row
            })
            .collect();
        let marker_h = match badge_rows.iter().max() {
            None => 0.0,
            Some(r) => 22.0 + 18.0 * *r as f64,
        };
        let top = head + legend_h + 10.0 + marker_h;
        let plot_h = 250.0;
        let height = top + plot_h + 50.0;
        let sx = |x: f64| left + (x - lo) / (hi - lo) * plot_w;
        let sy = |y: f64| top + plot_h - (y / top_v).clamp(-0.02, 1.05) * plot_h;

        let mut s = String::new();
        svg_open(&mut s, &self.id, &self.title, height);
        heading(&mut s, &self.title, &self.subtitle);
        draw_legend(&mut s, &legend, head, 16.0, WIDTH - 32.0);

        // Grid and y axis.
        let mut v = 0.0;
        while v <= top_v + step_v * 1e-6 {
            let y = sy(v);
            let _ = write!(
                s,
                r#"<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="{g}"/><text x="{tx}" y="{ty}" text-anchor="end" font-size="11" fill="{MUTED}">{t}</text>"#,
                l = fmt_data(left),
                r = fmt_data(left + plot_w),
                y = fmt_data((y * 10.0).round() / 10.0),
                g = GRID,
                tx = fmt_data(left - 6.0),
                ty = fmt_data((y * 10.0).round() / 10.0 + 4.0),
                t = fmt_tick(v, self.y_format, top_v)
            );
            v += step_v;
        }
        let _ = write!(
            s,
            r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle" font-size="12" fill="{MUTED}">{}</text>"#,
            fmt_data(top + plot_h / 2.0),
            esc(&self.y_label)
        );
        // x axis.
        let ticks = self.axis.ticks(lo, hi, 8, self.hourly);
        let _ = write!(
            s,
            r#"<line x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="{AXIS}"/>"#,
            l = fmt_data(left),
            r = fmt_data(left + plot_w),
            y = fmt_data(top + plot_h)
        );
        // The axis's extent in days and in SVG units, so that a reader can map a tick label's
        // date back to its position.
        let _ = write!(
            s,
            r#"<g class="x-ticks" data-start="{}" data-x0="{}" data-x1="{}" data-px0="{}" data-px1="{}">"#,
            self.axis.start.map(|d| d.to_string()).unwrap_or_default(),
            fmt_data(lo),
            fmt_data(hi),
            fmt_data(left),
            fmt_data(left + plot_w)
        );
        for t in &ticks {
            let x = (sx(t.x) * 10.0).round() / 10.0;
            let _ = write!(
                s,
                r#"<line x1="{x}" x2="{x}" y1="{a}" y2="{b}" stroke="{AXIS}"/><text x="{x}" y="{ty}" text-anchor="middle" font-size="11" fill="{MUTED}" data-x="{dx}">{t}</text>"#,
                x = fmt_data(x),
                a = fmt_data(top + plot_h),
                b = fmt_data(top + plot_h + 5.0),
                ty = fmt_data(top + plot_h + 18.0),
                dx = fmt_data(t.x),
                t = esc(&t.label)
            );
        }
        s.push_str("</g>");
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="{MUTED}">{}</text>"#,
            fmt_data(left + plot_w / 2.0),
            fmt_data(top + plot_h + 40.0),
            esc(&self.axis.title(lo, hi))
        );

        // Guides.
        for (g, label) in &self.guides {
            let y = fmt_data((sy(*g) * 10.0).round() / 10.0);
            let _ = write!(
                s,
                r##"<line class="guide" x1="{l}" x2="{r}" y1="{y}" y2="{y}" stroke="#999" stroke-dasharray="4 3"/><text x="{tx}" y="{ty}" font-size="10" fill="{MUTED}">{t}</text>"##,
                l = fmt_data(left),
                r = fmt_data(left + plot_w),
                tx = fmt_data(left + plot_w + 4.0),
                ty = fmt_data((sy(*g) * 10.0).round() / 10.0 + 3.5),
                t = esc(label)
            );
        }

        // Stacked areas.
        if let Some((x, areas)) = &self.areas {
            let mut base = vec![0.0; x.len()];
            for a in areas {
                let upper: Vec<f64> = base
                    .iter()
                    .zip(&a.y)
                    .map(|(b, v)| b + if v.is_finite() { *v } else { 0.0 })
                    .collect();
                let _ = write!(
                    s,
                    r#"<g class="area" data-series="{}" data-label="{}" data-values="{}">"#,
                    esc(&a.key),
                    esc(&a.label),
                    fmt_list(&a.y)
                );
                if x.len() == 1 {
                    // One row: a bar segment at the single date.
                    let cx = sx(x[0]);
                    let _ = write!(
                        s,
                        r#"<rect x="{}" y="{}" width="24" height="{}" fill="{}"/>"#,
                        fmt_data(cx - 12.0),
                        fmt_data(sy(upper[0])),
                        fmt_data((sy(base[0]) - sy(upper[0])).max(0.0)),
                        esc(&a.color)
                    );
                } else if !x.is_empty() {
                    let mut d = String::new();
                    for (i, xv) in x.iter().enumerate() {
                        let _ = write!(
                            d,
                            "{}{:.1},{:.1}",
                            if i == 0 { "M" } else { "L" },
                            sx(*xv),
                            sy(upper[i])
                        );
                    }
                    for (i, xv) in x.iter().enumerate().rev() {
                        let _ = write!(d, "L{:.1},{:.1}", sx(*xv), sy(base[i]));
                    }
                    d.push('Z');
                    let _ = write!(
                        s,
                        r#"<path d="{d}" fill="{}" fill-opacity="0.88" stroke="none"/>"#,
                        esc(&a.color)
                    );
                }
                let _ = write!(s, "<title>{}</title></g>", esc(&a.label));
                base = upper;
            }
        }

        // Bands, then lines.
        for l in &self.lines {
            if let Some((p10, p90)) = &l.band {
                let pts: Vec<usize> = (0..l.x.len())
                    .filter(|i| {
                        p10.get(*i).is_some_and(|v| v.is_finite())
                            && p90.get(*i).is_some_and(|v| v.is_finite())
                    })
                    .collect();
                let mut d = String::new();
                for (k, i) in pts.iter().enumerate() {
                    let _ = write!(
                        d,
                        "{}{:.1},{:.1}",
                        if k == 0 { "M" } else { "L" },
                        sx(l.x[*i]),
                        sy(p90[*i])
                    );
                }
                for i in pts.iter().rev() {
                    let _ = write!(d, "L{:.1},{:.1}", sx(l.x[*i]), sy(p10[*i]));
                }
                if !pts.is_empty() {
                    d.push('Z');
                }
                let _ = write!(
                    s,
                    r#"<path class="band" data-series="{k}" data-p10="{a}" data-p90="{b}" d="{d}" fill="{c}" fill-opacity="0.18" stroke="{c}" stroke-opacity="0.35" stroke-width="0.8"><title>{t}: {bl}</title></path>"#,
                    bl = l.band_label,
                    k = esc(&l.key),
                    a = fmt_list(p10),
                    b = fmt_list(p90),
                    c = esc(&l.color),
                    t = esc(&l.label)
                );
            }
        }
        // Dots mark the points of short series, where a line alone would hide them (a single
        // day has no line at all).
        let dots = self.lines.len() <= 12;
        for l in &self.lines {
            let last = l.y.iter().rev().find(|v| v.is_finite()).copied();
            let _ = write!(
                s,
                r#"<g class="series" data-series="{}" data-label="{}" data-values="{}">"#,
                esc(&l.key),
                esc(&l.label),
                fmt_list(&l.y)
            );
            let mut d = String::new();
            let mut pen = false;
            let mut count = 0;
            for (x, y) in l.x.iter().zip(&l.y) {
                if !y.is_finite() || !x.is_finite() {
                    pen = false;
                    continue;
                }
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if pen { "L" } else { "M" },
                    sx(*x),
                    sy(*y)
                );
                pen = true;
                count += 1;
            }
            let _ = write!(
                s,
                r#"<path d="{d}" fill="none" stroke="{}" stroke-width="{}" stroke-opacity="{}" stroke-linejoin="round" stroke-linecap="round"{}/>"#,
                esc(&l.color),
                fmt_data(l.width),
                fmt_data(l.opacity),
                if l.dashed {
                    r#" stroke-dasharray="7 4""#
                } else {
                    ""
                }
            );
            if count == 1 || (dots && count <= 14) {
                for (x, y) in l.x.iter().zip(&l.y) {
                    if y.is_finite() && x.is_finite() {
                        let _ = write!(
                            s,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                            sx(*x),
                            sy(*y),
                            esc(&l.color)
                        );
                    }
                }
            }
            let _ = write!(
                s,
                "<title>{}{}</title></g>",
                esc(&l.label),
                last.map(|v| format!(": {} at the end", self.value_text(v)))
                    .unwrap_or_default()
            );
        }

        // Markers.
        for (m, row) in self.markers.iter().zip(&badge_rows) {
            let x = (sx(m.x.clamp(lo, hi)) * 10.0).round() / 10.0;
            let w = text_width(&m.badge, 10.0) + 8.0;
            let lift = 18.0 * *row as f64;
            let _ = write!(
                s,
                r##"<g class="marker" data-x="{dx}"><line x1="{x}" x2="{x}" y1="{a}" y2="{b}" stroke="{c}" stroke-width="1.4" stroke-dasharray="5 3"/><rect x="{rx}" y="{ry}" width="{w}" height="16" rx="3" fill="{c}"/><text x="{x}" y="{ty}" text-anchor="middle" font-size="10" font-weight="bold" fill="#ffffff">{badge}</text><title>{t}</title></g>"##,
                dx = fmt_data(m.x),
                x = fmt_data(x),
                a = fmt_data(top - 4.0 - lift),
                b = fmt_data(top + plot_h),
                c = esc(&m.color),
                rx = fmt_data(x - w / 2.0),
                ry = fmt_data(top - 20.0 - lift),
                w = fmt_data(w),
                ty = fmt_data(top - 8.5 - lift),
                badge = esc(&m.badge),
                t = esc(&m.title)
            );
        }

        // Hover readout: one transparent column per point, with every value in its tooltip.
        self.hover(&mut s, &sx, top, plot_h);
        s.push_str("</svg>");
        s
    }

    fn value_text(&self, v: f64) -> String {
        match self.y_format {
            YFormat::Percent => format!("{:.1}%", v),
            YFormat::Count => fmt_count(v),
        }
    }

    fn hover(&self, s: &mut String, sx: &dyn Fn(f64) -> f64, top: f64, plot_h: f64) {
        if self.lines.len() > 12 {
            return;
        }
        let (x, n) = match (&self.areas, self.lines.first()) {
            (Some((x, _)), _) => (x.clone(), x.len()),
            (None, Some(l)) => (l.x.clone(), l.x.len()),
            _ => return,
        };
        if n == 0 {
            return;
        }
        let stride = n.div_ceil(400);
        s.push_str(r##"<g class="hover" fill="#000000" fill-opacity="0">"##);
        let idx: Vec<usize> = (0..n).step_by(stride).collect();
        for (k, i) in idx.iter().enumerate() {
            let cx = sx(x[*i]);
            let prev = if k == 0 {
                cx - 12.0
            } else {
                (sx(x[idx[k - 1]]) + cx) / 2.0
            };
            let next = if k + 1 == idx.len() {
                cx + 12.0
            } else {
                (sx(x[idx[k + 1]]) + cx) / 2.0
            };
            let mut tip = self.axis.point_label(x[*i], self.hourly);
            if let Some((_, areas)) = &self.areas {
                for a in areas.iter().rev() {
                    if let Some(v) = a.y.get(*i).filter(|v| v.is_finite()) {
                        let _ = write!(tip, "\n{}: {}", a.label, self.value_text(*v));
                    }
                }
            }
            for l in &self.lines {
                if let Some(v) = l.y.get(*i).filter(|v| v.is_finite()) {
                    let _ = write!(tip, "\n{}: {}", l.label, self.value_text(*v));
                }
            }
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
                prev,
                top,
                (next - prev).max(1.0),
                plot_h,
                esc(&tip)
            );
        }
        s.push_str("</g>");
    }
}

impl BarChart {
    /// Renders the chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let legend: Vec<(String, String)> = if self.segments.len() > 1 {
            self.segments
                .iter()
                .map(|(_, l, c)| (l.clone(), c.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let head = heading_height(&self.subtitle);
        let (_, legend_rows) = legend_layout(&legend, 16.0, WIDTH - 32.0);
        let top = head + legend_rows as f64 * 18.0 + 12.0;
        let bar_h = 20.0;
        let pitch = 28.0;
        let label_w = self
            .rows
            .iter()
            .map(|r| text_width(&r.label, 12.0))
            .fold(60.0, f64::max)
            .min(300.0);
        let left = 16.0 + label_w + 10.0;
        let note_w = self
            .rows
            .iter()
            .map(|r| {
                text_width(
                    &format!("{} {}", fmt_count(r.values.iter().sum()), r.note),
                    11.0,
                )
            })
            .fold(40.0, f64::max);
        let plot_w = WIDTH - left - note_w - 20.0;
        let totals: Vec<f64> = self
            .rows
            .iter()
            .map(|r| r.values.iter().filter(|v| v.is_finite()).sum())
            .collect();
        let max = totals.iter().copied().fold(0.0, f64::max);
        let (top_v, step_v) = nice_ticks(max, 5, true);
        let rows_h = (self.rows.len().max(1) as f64) * pitch;
        let height = top + rows_h + 46.0;
        let sx = |v: f64| left + (v / top_v).clamp(0.0, 1.0) * plot_w;

        let mut s = String::new();
        svg_open(&mut s, &self.id, &self.title, height);
        heading(&mut s, &self.title, &self.subtitle);
        draw_legend(&mut s, &legend, head, 16.0, WIDTH - 32.0);
        let axis_y = top + rows_h;
        let mut v = 0.0;
        while v <= top_v + step_v * 1e-6 {
            let x = fmt_data((sx(v) * 10.0).round() / 10.0);
            let _ = write!(
                s,
                r#"<line x1="{x}" x2="{x}" y1="{t}" y2="{b}" stroke="{GRID}"/><text x="{x}" y="{ty}" text-anchor="middle" font-size="11" fill="{MUTED}">{l}</text>"#,
                t = fmt_data(top - 4.0),
                b = fmt_data(axis_y),
                ty = fmt_data(axis_y + 16.0),
                l = fmt_tick(v, YFormat::Count, top_v)
            );
            v += step_v;
        }
        let _ = write!(
            s,
            r#"<line x1="{l}" x2="{l}" y1="{t}" y2="{b}" stroke="{AXIS}"/><text x="{cx}" y="{ty}" text-anchor="middle" font-size="12" fill="{MUTED}">{x}</text>"#,
            l = fmt_data(left),
            t = fmt_data(top - 4.0),
            b = fmt_data(axis_y),
            cx = fmt_data(left + plot_w / 2.0),
            ty = fmt_data(axis_y + 36.0),
            x = esc(&self.x_label)
        );
        if self.rows.is_empty() {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle" fill="{MUTED}">{}</text>"#,
                fmt_data(left + plot_w / 2.0),
                fmt_data(top + pitch / 2.0 + 4.0),
                esc(&self.empty_note)
            );
        }
        for (i, r) in self.rows.iter().enumerate() {
            let y = top + i as f64 * pitch + (pitch - bar_h) / 2.0;
            let total = totals[i];
            let _ = write!(
                s,
                r#"<g class="bar" data-category="{}" data-label="{}" data-total="{}"><text x="{}" y="{}" text-anchor="end">{}</text>"#,
                esc(&r.key),
                esc(&r.label),
                fmt_data(total),
                fmt_data(left - 8.0),
                fmt_data(y + bar_h / 2.0 + 4.0),
                esc(&r.label)
            );
            let mut acc = 0.0;
            for (k, (key, label, color)) in self.segments.iter().enumerate() {
                let val = r
                    .values
                    .get(k)
                    .copied()
                    .filter(|v| v.is_finite())
                    .unwrap_or(0.0);
                let x0 = sx(acc);
                acc += val;
                let x1 = sx(acc);
                let _ = write!(
                    s,
                    r#"<rect class="segment" data-segment="{}" data-value="{}" x="{:.1}" y="{}" width="{:.1}" height="{}" fill="{}"><title>{}: {} {}</title></rect>"#,
                    esc(key),
                    fmt_data(val),
                    x0,
                    fmt_data(y),
                    (x1 - x0).max(0.0),
                    fmt_data(bar_h),
                    esc(color),
                    esc(&r.label),
                    fmt_count(val),
                    esc(&label.to_lowercase())
                );
            }
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" font-size="11" fill="{MUTED}">{} {}</text>"#,
                fmt_data(sx(acc) + 6.0),
                fmt_data(y + bar_h / 2.0 + 4.0),
                fmt_count(total),
                esc(&r.note)
            );
            if !r.tooltip.is_empty() {
                let _ = write!(s, "<title>{}</title>", esc(&r.tooltip));
            }
            s.push_str("</g>");
        }
        s.push_str("</svg>");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn numbers_format_for_data_and_people() {
        assert_eq!(fmt_data(1545.0), "1545");
        assert_eq!(fmt_data(12.5), "12.5");
        assert_eq!(fmt_data(f64::NAN), "");
        assert_eq!(fmt_count(1234567.0), "1,234,567");
        assert_eq!(fmt_count(999.0), "999");
        assert_eq!(fmt_count(12.25), "12.2");
        assert_eq!(fmt_tick(250_000.0, YFormat::Count, 250_000.0), "250k");
        assert_eq!(fmt_tick(80_000.0, YFormat::Count, 100_000.0), "80k");
        assert_eq!(fmt_tick(80_000.0, YFormat::Count, 80_000.0), "80,000");
        assert_eq!(fmt_tick(1_500_000.0, YFormat::Count, 2e6), "1.5M");
        assert_eq!(fmt_tick(250_000.0, YFormat::Count, 1e6), "0.25M");
        assert_eq!(fmt_tick(50.0, YFormat::Percent, 100.0), "50%");
        assert_eq!(fmt_pct(9997.0, 10000.0), "99.97%");
        assert_eq!(fmt_pct(999_999.0, 1_000_000.0), "99.9999%");
        assert_eq!(fmt_pct(10000.0, 10000.0), "100.0%");
        assert_eq!(fmt_pct(3.0, 10000.0), "0.03%");
        assert_eq!(fmt_pct(0.0, 10000.0), "0.0%");
        assert_eq!(fmt_pct(1.0, 3.0), "33.3%");
        assert_eq!(fmt_pct(1.0, 0.0), "–");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(1545.0, 5, true), (2000.0, 500.0));
        assert_eq!(nice_ticks(1200.0, 5, true), (1250.0, 250.0));
        assert_eq!(nice_ticks(0.0, 5, true), (1.0, 1.0));
        assert_eq!(nice_ticks(3.0, 5, true), (3.0, 1.0));
        let (top, step) = nice_ticks(0.37, 5, false);
        assert!((top - 0.4).abs() < 1e-9 && (step - 0.1).abs() < 1e-9);
    }

    fn labels(t: &[Tick]) -> Vec<&str> {
        t.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn time_ticks_sit_on_calendar_boundaries() {
        // 2027-01-04 is a Monday.
        let a = TimeAxis {
            start: NaiveDate::from_ymd_opt(2027, 1, 4),
        };
        let t = a.ticks(0.0, 29.0, 8, false);
        assert_eq!(labels(&t), ["4 Jan", "11 Jan", "18 Jan", "25 Jan", "1 Feb"]);
        assert_eq!(t[1].x, 7.0);
        // Hourly rows over a day: every 3 hours, midnight with its date.
        let t = a.ticks(0.0, 23.0 / 24.0, 8, true);
        assert_eq!(t[0].label, "4 Jan");
        assert_eq!(t[1].label, "03:00");
        // Hourly rows over two weeks: Mondays, then day starts for a few days.
        let t = a.ticks(0.0, 14.0, 8, true);
        assert_eq!(
            labels(&t),
            [
                "4 Jan", "6 Jan", "8 Jan", "10 Jan", "12 Jan", "14 Jan", "16 Jan", "18 Jan"
            ]
        );
        let t = a.ticks(0.0, 4.0, 8, true);
        assert_eq!(labels(&t), ["4 Jan", "5 Jan", "6 Jan", "7 Jan", "8 Jan"]);
        assert_eq!(a.title(0.0, 400.0), "date (2027–2028)");
        let t = a.ticks(-0.5, 0.5, 8, false);
        assert_eq!(labels(&t), ["4 Jan"]);
        // Ten weeks: every second Monday; four months: the 1st and 15th.
        let t = a.ticks(0.0, 70.0, 8, false);
        assert_eq!(
            labels(&t),
            ["4 Jan", "18 Jan", "1 Feb", "15 Feb", "1 Mar", "15 Mar"]
        );
        let t = a.ticks(0.0, 120.0, 8, false);
        assert_eq!(
            labels(&t),
            [
                "15 Jan", "1 Feb", "15 Feb", "1 Mar", "15 Mar", "1 Apr", "15 Apr", "1 May"
            ]
        );
        // A year: the first of every second month, January with its year.
        let t = a.ticks(0.0, 364.0, 8, false);
        assert_eq!(
            labels(&t),
            ["1 Mar", "1 May", "1 Jul", "1 Sep", "1 Nov", "1 Jan 2028"]
        );
        assert_eq!(t[0].x, 56.0);
        // A start that is not a Monday: ticks on the Mondays after it.
        let b = TimeAxis {
            start: NaiveDate::from_ymd_opt(2027, 3, 3),
        };
        let t = b.ticks(0.0, 40.0, 8, false);
        assert_eq!(
            labels(&t),
            ["8 Mar", "15 Mar", "22 Mar", "29 Mar", "5 Apr", "12 Apr"]
        );
        let none = TimeAxis { start: None };
        assert_eq!(none.ticks(0.0, 10.0, 8, false)[0].label, "day 1");
    }

    #[test]
    fn a_single_point_renders_with_a_dot() {
        let c = TimeChart {
            id: "t".into(),
            title: "T".into(),
            subtitle: String::new(),
            y_label: "devices".into(),
            y_format: YFormat::Count,
            axis: TimeAxis { start: None },
            hourly: false,
            lines: vec![Line::new("a", "A", "#000", &[0.0], &[5.0])],
            areas: None,
            guides: vec![],
            markers: vec![],
            y_max: None,
            legend_note: None,
        };
        let s = c.render();
        assert!(s.contains(r#"data-values="5""#));
        assert!(s.contains("<circle"));
        assert!(!s.contains("NaN"));
    }
}
