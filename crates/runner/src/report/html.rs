//! The report page: one self-contained HTML file (inline CSS, inline SVG charts, a few lines
//! of script that only record errors) that opens from disk with no network.
//!
//! Sections whose data a run does not have (workloads, gateway, decisions and incidents)
//! say so plainly ("Not in this run") instead of being left out.

use super::charts;
use super::data::{MarkerKind, Run};
use super::svg::{BarChart, TimeChart, esc, fmt_count, fmt_data, fmt_pct};
use std::fmt::Write;

/// Runs beyond this many get no detail section (the comparison covers every run).
pub const MAX_DETAILED: usize = 12;

/// The milestones of summary.csv, in percent of eligible devices.
const MILESTONES: [u32; 4] = [50, 90, 95, 99];

/// A chart of the page, for `--svg` and `--png`.
pub struct ChartOut {
    /// The chart's identifier, also its image file name.
    pub id: String,
    /// The standalone SVG document.
    pub svg: String,
}

/// The page being built, and its charts.
pub(super) struct Page {
    pub(super) html: String,
    pub(super) charts: Vec<ChartOut>,
}

impl Page {
    fn figure(&mut self, id: &str, svg: String, caption: &str) {
        let _ = write!(
            self.html,
            r#"<figure class="card" id="card-{}" data-card="{}">{svg}<figcaption>{}</figcaption></figure>"#,
            esc(id),
            esc(id),
            caption
        );
        self.charts.push(ChartOut {
            id: id.to_string(),
            svg,
        });
    }

    pub(super) fn time(&mut self, chart: Option<TimeChart>, caption: &str) -> bool {
        match chart {
            Some(c) => {
                let svg = c.render();
                self.figure(&c.id, svg, caption);
                true
            }
            None => false,
        }
    }

    pub(super) fn bars(&mut self, chart: BarChart, caption: &str) {
        let svg = chart.render();
        self.figure(&chart.id, svg, caption);
    }

    fn absent(&mut self, id: &str, title: &str, why: &str) {
        let _ = write!(
            self.html,
            r#"<figure class="card absent" id="card-{id}" data-card="{id}" data-absent="true"><h3>{}</h3><p class="absent-note"><strong>Not in this run.</strong> {}</p></figure>"#,
            esc(title),
            why,
            id = esc(id),
        );
    }
}

pub(super) const STYLE: &str = r#"
:root{--bg:#f3f4f6;--card:#fff;--text:#1d2433;--muted:#5f6b7a;--line:#dfe3e8;--accent:#1f3a5f}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 "DejaVu Sans","Segoe UI",Verdana,Arial,sans-serif}
header{background:var(--accent);color:#fff;padding:16px 28px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#d5dde8;font-size:13px}
main{padding:16px 28px 8px;max-width:1700px;margin:0 auto}
h2{font-size:18px;margin:22px 0 6px}
h2 small{font-weight:normal;color:var(--muted);font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:14px;margin:12px 0;align-items:start}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:6px;margin:0;min-width:0}
.card.wide{grid-column:1/-1}
.card svg.chart{display:block;width:100%;height:auto}
figcaption{font-size:12px;color:var(--muted);padding:4px 10px 4px}
.absent h3{font-size:16px;margin:8px 10px 4px}
.absent-note{margin:4px 10px 10px;color:var(--muted)}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:8px 0}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px}
.kpi .v{font-size:22px;font-weight:bold}
.kpi .v.text{font-size:17px;line-height:30px}
.kpi .k{font-size:12px;color:var(--muted)}
table{border-collapse:collapse;width:100%;font-size:13px;background:var(--card)}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}
th{background:#eef1f5;font-weight:bold}
th:first-child,td:first-child,td.text,th.text{text-align:left}
.tablecard{padding:0;overflow-x:auto}
.tablecard h3{font-size:16px;margin:10px 12px 6px}
.note{color:var(--muted);font-size:13px;margin:6px 0}
.warn{background:#fff4e5;border:1px solid #f0b45b;border-radius:8px;padding:8px 12px;margin:8px 0}
.warn ul{margin:4px 0 0;padding-left:20px}
footer{color:var(--muted);font-size:12px;padding:8px 28px 20px;max-width:1700px;margin:0 auto}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
"#;

/// Records script errors, resource errors and blocked requests on `<html>` (for tests and
/// for anyone debugging the page), and how many charts were laid out.
pub(super) const SCRIPT: &str = r#"(function(){var d=document.documentElement,n=0;d.setAttribute('data-js-errors','0');
function rec(m){n++;d.setAttribute('data-js-errors',String(n));d.setAttribute('data-js-error-text',((d.getAttribute('data-js-error-text')||'')+' | '+m).slice(0,2000));}
window.addEventListener('error',function(e){rec(e.message||('failed to load '+((e.target&&(e.target.src||e.target.href))||'a resource')));},true);
window.addEventListener('unhandledrejection',function(){rec('unhandled promise rejection');});
document.addEventListener('securitypolicyviolation',function(e){rec('blocked '+e.blockedURI);});
window.addEventListener('load',function(){var c=document.querySelectorAll('svg.chart'),v=0;for(var i=0;i<c.length;i++){var r=c[i].getBoundingClientRect();if(r.width>0&&r.height>0)v++;}d.setAttribute('data-charts',String(c.length));d.setAttribute('data-charts-visible',String(v));d.setAttribute('data-js','ran');});})();"#;

/// Escapes text for a JSON string inside a `<script>` element.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        fmt_data(v)
    } else {
        "null".into()
    }
}

/// The numbers behind the page as JSON: per run, its summary and the timeline's last row.
fn data_json(runs: &[Run]) -> String {
    let mut s = String::from("{");
    let _ = write!(
        s,
        "\"generator\":{},\"runs\":[",
        json_str(&format!("fleetsim {}", env!("CARGO_PKG_VERSION")))
    );
    for (i, r) in runs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let t = &r.timeline;
        let _ = write!(
            s,
            "{{\"label\":{},\"dir\":{},\"start_date\":{},\"bucket\":{},\"rows\":{},",
            json_str(&r.label),
            json_str(&r.dir.display().to_string()),
            r.start.map_or("null".into(), |d| json_str(&d.to_string())),
            json_str(if t.hourly { "hour" } else { "day" }),
            t.len()
        );
        s.push_str("\"last_row\":{");
        for (k, (name, col)) in t.columns.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{}:{}",
                json_str(name),
                col.last().map_or("null".into(), |v| json_num(*v))
            );
        }
        s.push_str("},\"summary\":");
        match &r.summary {
            Some(sum) => {
                s.push('{');
                for (k, (name, v)) in sum.fields.iter().enumerate() {
                    if k > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{}:{}", json_str(name), json_str(v));
                }
                s.push('}');
            }
            None => s.push_str("null"),
        }
        s.push('}');
    }
    s.push_str("]}");
    s
}

/// A value of a run: summary.csv first, else the timeline's last row.
fn final_value(r: &Run, name: &str) -> Option<f64> {
    r.summary.as_ref().and_then(|s| s.num(name)).or_else(|| {
        r.timeline
            .col(name)
            .and_then(|c| c.last().copied())
            .filter(|v| v.is_finite())
    })
}

fn eligible(r: &Run) -> Option<f64> {
    r.summary
        .as_ref()
        .and_then(|s| s.num("eligible"))
        .or_else(|| {
            charts::funnel(&r.timeline, charts::Stage::Eligible).and_then(|v| v.last().copied())
        })
}

/// A milestone: days, "not reached", or "–" without summary.csv; its p10–p90 range when the
/// summary has one; and a note on why it is missing.
struct Milestone {
    value: String,
    band: Option<String>,
    note: String,
    /// Days from enabling co-management (summary's `days_from_enable_to_<p>pct`, when the
    /// run has that column): "not reached" when empty.
    from_enable: Option<String>,
}

fn milestone(r: &Run, p: u32) -> Milestone {
    let missing = |note: String| Milestone {
        value: "–".into(),
        band: None,
        note,
        from_enable: None,
    };
    let Some(s) = &r.summary else {
        return missing("summary.csv not in this run".into());
    };
    let name = format!("days_to_{p}pct");
    if !s.fields.iter().any(|(n, _)| *n == name) {
        return missing(format!("summary.csv has no {name}"));
    }
    Milestone {
        value: s.get(&name).unwrap_or("not reached").to_string(),
        band: match (s.get(&format!("{name}_p10")), s.get(&format!("{name}_p90"))) {
            (Some(a), Some(b)) => Some(format!("p10 {a} – p90 {b}")),
            _ => None,
        },
        note: String::new(),
        from_enable: {
            let e = format!("days_from_enable_to_{p}pct");
            s.fields
                .iter()
                .any(|(n, _)| *n == e)
                .then(|| s.get(&e).unwrap_or("not reached").to_string())
        },
    }
}

fn kpis(html: &mut String, r: &Run) {
    let tile = |html: &mut String, key: &str, value: String, label: &str| {
        let _ = write!(
            html,
            r#"<div class="kpi" data-kpi="{}"><div class="v{}">{}</div><div class="k">{}</div></div>"#,
            esc(key),
            if value.starts_with(|c: char| c.is_ascii_digit()) {
                ""
            } else {
                " text"
            },
            esc(&value),
            esc(label)
        );
    };
    html.push_str(r#"<section class="kpis">"#);
    let num = |v: Option<f64>| v.map_or("–".into(), fmt_count);
    let devices = final_value(r, "devices").or_else(|| final_value(r, "devices_total"));
    tile(html, "devices", num(devices), "devices");
    let el = eligible(r);
    tile(html, "eligible", num(el), "eligible for co-management");
    let co = final_value(r, "co_managed").or_else(|| final_value(r, "state_co_managed"));
    let pct = match (co, el) {
        (Some(c), Some(e)) if e > 0.0 => format!(" ({} of eligible)", fmt_pct(c, e)),
        _ => String::new(),
    };
    tile(
        html,
        "co_managed",
        num(co),
        &format!("co-managed at the end{pct}"),
    );
    for p in MILESTONES {
        let m = milestone(r, p);
        let v = if m.value.starts_with(|c: char| c.is_ascii_digit()) {
            format!("{} days", m.value)
        } else {
            m.value
        };
        let mut label = match m.band {
            Some(b) => format!("to {p}% co-managed ({b})"),
            None => format!("to {p}% co-managed"),
        };
        if let Some(e) = &m.from_enable {
            label = format!("{label}; from enablement: {e}");
        }
        tile(html, &format!("days_to_{p}pct"), v, &label);
    }
    tile(
        html,
        "enrollment_failures",
        num(final_value(r, "enrollment_failures")),
        "failed enrollment attempts",
    );
    html.push_str("</section>");
}

fn milestone_table(html: &mut String, runs: &[Run]) {
    html.push_str(r#"<figure class="card wide tablecard" id="card-milestones" data-card="milestones"><h3>Milestones: days from the start until a share of eligible devices is co-managed (and from enabling co-management, where summary.csv has it)</h3><table class="milestones"><thead><tr><th>Run</th><th class="text">Scenario</th><th>Seed</th><th>Devices</th><th>Eligible</th><th>Co-managed at the end</th>"#);
    for p in MILESTONES {
        let _ = write!(html, "<th>Days to {p}%</th>");
    }
    html.push_str("</tr></thead><tbody>");
    for r in runs {
        let s = |k: &str| {
            r.summary
                .as_ref()
                .and_then(|s| s.get(k))
                .map(|v| v.to_string())
        };
        let co = final_value(r, "co_managed").or_else(|| final_value(r, "state_co_managed"));
        let el = eligible(r);
        let co_text = match (co, el) {
            (Some(c), Some(e)) if e > 0.0 => {
                format!("{} ({})", fmt_count(c), fmt_pct(c, e))
            }
            (Some(c), _) => fmt_count(c),
            _ => "–".into(),
        };
        let _ = write!(
            html,
            r#"<tr data-run="{}"><td>{}</td><td class="text">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"#,
            esc(&r.label),
            esc(&r.label),
            esc(&r.scenario().unwrap_or_else(|| "–".into())),
            esc(&s("seed").unwrap_or_else(|| "–".into())),
            esc(&final_value(r, "devices").map_or("–".into(), fmt_count)),
            esc(&el.map_or("–".into(), fmt_count)),
            esc(&co_text)
        );
        for p in MILESTONES {
            let m = milestone(r, p);
            let mut text = match m.band {
                Some(b) => format!("{} ({b})", m.value),
                None => m.value,
            };
            if let Some(e) = &m.from_enable {
                text = format!("{text}; {e} from enablement");
            }
            let _ = write!(
                html,
                r#"<td data-milestone="{p}" title="{}">{}</td>"#,
                esc(&m.note),
                esc(&text)
            );
        }
        html.push_str("</tr>");
    }
    if runs.len() >= 3 {
        let _ = write!(
            html,
            r#"<tr class="across" data-run=""><td colspan="6"><strong>Across {} runs:</strong> median (min – max)</td>"#,
            runs.len()
        );
        for p in MILESTONES {
            let name = format!("days_to_{p}pct");
            let mut v: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.summary.as_ref().and_then(|s| s.num(&name)))
                .collect();
            let missing = runs.len() - v.len();
            v.sort_by(f64::total_cmp);
            let text = if v.is_empty() {
                "not reached".to_string()
            } else {
                let med = if v.len() % 2 == 1 {
                    v[v.len() / 2]
                } else {
                    (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
                };
                let mut t = format!("{med:.2} ({:.2} – {:.2})", v[0], v[v.len() - 1]);
                if missing > 0 {
                    let _ = write!(t, "; not reached in {missing}");
                }
                t
            };
            let _ = write!(
                html,
                r#"<td data-milestone-across="{p}">{}</td>"#,
                esc(&text)
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></figure>");
}

/// The metrics of summary.csv that show what differs between strategies, with their names
/// for people; `days_to_<workload>_intune` columns are added where present.
const DIFF_METRICS: [(&str, &str); 11] = [
    (
        "co_managed_pct_of_eligible",
        "Co-managed at the end, % of eligible",
    ),
    ("days_to_50pct", "Days to 50% co-managed"),
    ("days_to_90pct", "Days to 90% co-managed"),
    ("days_to_99pct", "Days to 99% co-managed"),
    ("enrollment_failures", "Failed enrollment attempts"),
    ("incidents_total", "Incidents"),
    ("incidents_detected", "Incidents detected"),
    ("helpdesk_tickets", "Helpdesk tickets"),
    (
        "blast_radius",
        "Blast radius (most incidents active at once)",
    ),
    ("workload_switches_to_intune", "Workload switches to Intune"),
    (
        "gateway_peak_concurrent_clients",
        "Gateway peak connections",
    ),
];

/// The metrics to put side by side: [`DIFF_METRICS`] and each workload's days to Intune that
/// any run has.
fn diff_metrics(runs: &[Run]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = DIFF_METRICS
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    for r in runs {
        let Some(s) = &r.summary else { continue };
        for (name, _) in &s.fields {
            if let Some(w) = name
                .strip_prefix("days_to_")
                .and_then(|n| n.strip_suffix("_intune"))
                && !out.iter().any(|(k, _)| k == name)
            {
                out.push((
                    name.clone(),
                    format!("Days to {} at Intune", charts::humanize(w).to_lowercase()),
                ));
            }
        }
    }
    out
}

/// A summary value for the table: the number (with p10–p90 for a compare scenario), "never"
/// for an empty milestone, "–" when absent.
fn summary_cell(r: &Run, metric: &str) -> String {
    let Some(s) = &r.summary else {
        return "–".into();
    };
    if !s.fields.iter().any(|(n, _)| n == metric) {
        return "–".into();
    }
    let fmt = |v: &str| match v.parse::<f64>() {
        Ok(x) if metric.starts_with("days_to_") || metric.ends_with("_pct_of_eligible") => {
            format!("{x:.2}")
        }
        Ok(x) => fmt_count(x),
        Err(_) => v.to_string(),
    };
    // A share of eligible: from the counts when the run has them, so that it never reads
    // 100.00 while devices are left.
    if metric == "co_managed_pct_of_eligible"
        && r.study.is_none()
        && let (Some(co), Some(el)) = (s.num("co_managed"), s.num("eligible"))
    {
        return fmt_pct(co, el);
    }
    match s.get(metric) {
        None => "never".into(),
        Some(v) => match (
            s.get(&format!("{metric}_p10")),
            s.get(&format!("{metric}_p90")),
        ) {
            (Some(a), Some(b)) if r.study.is_some() => {
                format!("{} ({} – {})", fmt(v), fmt(a), fmt(b))
            }
            _ => fmt(v),
        },
    }
}

fn differences_table(html: &mut String, runs: &[Run]) {
    let shown: Vec<&Run> = runs.iter().take(24).collect();
    html.push_str(r#"<figure class="card wide tablecard" id="card-differences" data-card="differences"><h3>Side by side</h3><table class="differences"><thead><tr><th class="text">Metric</th>"#);
    for r in &shown {
        let _ = write!(html, "<th>{}</th>", esc(&r.label));
    }
    html.push_str("</tr></thead><tbody>");
    for (metric, label) in diff_metrics(runs) {
        let cells: Vec<String> = shown.iter().map(|r| summary_cell(r, &metric)).collect();
        if cells.iter().all(|c| c == "–") {
            continue;
        }
        let differs = cells.iter().any(|c| *c != cells[0]);
        let _ = write!(
            html,
            r#"<tr data-metric="{}" data-differs="{differs}"><td class="text">{}</td>"#,
            esc(&metric),
            esc(&label)
        );
        for c in cells {
            let _ = write!(html, "<td>{}</td>", esc(&c));
        }
        html.push_str("</tr>");
    }
    let _ = write!(
        html,
        r#"</tbody></table><figcaption>From each run's <code>summary.csv</code>{}; “never”: not reached in the run. Rows whose values differ are marked <code>data-differs</code>.{}</figcaption></figure>"#,
        if runs.iter().any(|r| r.study.is_some()) {
            " (a compare or sweep scenario: the mean over its replications, p10 – p90 in brackets)"
        } else {
            ""
        },
        if runs.len() > shown.len() {
            format!(" The first {} of {} runs.", shown.len(), runs.len())
        } else {
            String::new()
        }
    );
}

/// The paired differences of a compare or sweep folder: per key metric and scenario, the mean,
/// p10–p90 and the mean difference against the first scenario with its 95% interval; every
/// other metric in a folded table.
fn study_table(html: &mut String, st: &super::data::Study) {
    let labels = st.labels();
    let first = labels.first().cloned().unwrap_or_default();
    let _ = write!(
        html,
        r#"<figure class="card wide tablecard" data-card="paired-differences" data-study="{}"><h3>Paired differences against {} <small>({} in {})</small></h3>"#,
        esc(&st.dir.display().to_string()),
        esc(&first),
        st.file,
        esc(&st.dir.display().to_string())
    );
    let key: Vec<String> = {
        let mut k: Vec<String> = DIFF_METRICS.iter().map(|(m, _)| m.to_string()).collect();
        for r in &st.rows {
            if let Some(m) = st.stat(r, "metric")
                && m.starts_with("days_to_")
                && m.ends_with("_intune")
                && !k.iter().any(|x| x == m)
            {
                k.push(m.to_string());
            }
        }
        k
    };
    let mut metrics: Vec<String> = Vec::new();
    for r in &st.rows {
        if let Some(m) = st.stat(r, "metric")
            && !metrics.iter().any(|x| x == m)
        {
            metrics.push(m.to_string());
        }
    }
    let table = |html: &mut String, list: &[String]| {
        html.push_str(r#"<table class="paired"><thead><tr><th class="text">Metric</th><th class="text">Scenario</th><th>Reached</th><th>Mean</th><th>p10 – p90</th><th>Difference (mean)</th><th>95% interval</th><th class="text">Reading</th></tr></thead><tbody>"#);
        for m in list {
            for r in st.metric(m) {
                let label = st.key_label(r);
                let g = |n: &str| st.stat(r, n).unwrap_or("").to_string();
                let (lo, hi) = (g("diff_ci95_low"), g("diff_ci95_high"));
                let reading = if label == first {
                    "baseline".to_string()
                } else {
                    match (lo.parse::<f64>(), hi.parse::<f64>()) {
                        (Ok(a), Ok(b)) if a > 0.0 || b < 0.0 => "differs".into(),
                        (Ok(_), Ok(_)) => "no clear difference".into(),
                        _ => "too few pairs".into(),
                    }
                };
                let _ = write!(
                    html,
                    r#"<tr data-metric="{}" data-scenario="{}" data-diff="{}" data-low="{}" data-high="{}"><td class="text">{}</td><td class="text">{}</td><td>{} of {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="text">{}</td></tr>"#,
                    esc(m),
                    esc(&label),
                    esc(&g("diff_mean")),
                    esc(&lo),
                    esc(&hi),
                    esc(m),
                    esc(&label),
                    esc(&g("reached")),
                    esc(&g("replications")),
                    esc(&g("mean")),
                    esc(&format!("{} – {}", g("p10"), g("p90"))),
                    esc(&g("diff_mean")),
                    if lo.is_empty() {
                        "–".to_string()
                    } else {
                        esc(&format!("[{lo}, {hi}]"))
                    },
                    reading
                );
            }
        }
        html.push_str("</tbody></table>");
    };
    let key_present: Vec<String> = key.into_iter().filter(|k| metrics.contains(k)).collect();
    table(html, &key_present);
    let rest: Vec<String> = metrics
        .iter()
        .filter(|m| !key_present.contains(m))
        .cloned()
        .collect();
    let _ = write!(
        html,
        r#"<details><summary>Every other metric ({})</summary>"#,
        rest.len()
    );
    table(html, &rest);
    html.push_str(r#"</details><figcaption>Paired over replications with common random numbers: the difference is this scenario's value minus the first scenario's, per replication; its interval is t-based (docs/OUTPUTS.md). “differs”: the 95% interval excludes 0.</figcaption></figure>"#);
}

/// Gates that never promoted: the steps behind them never ran.
pub fn never_promoted(r: &Run) -> Vec<String> {
    r.gates
        .iter()
        .filter(|g| g.promoted.is_none())
        .map(|g| {
            let (d, t, m) = &g.last;
            format!(
                "gate “{}” never promoted: {} check{} ({}); last: {d} on {t}{}. The step it guards never ran.",
                g.name,
                g.checks,
                if g.checks == 1 { "" } else { "s" },
                g.decisions
                    .iter()
                    .map(|(d, n)| format!("{n} {d}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if m.is_empty() { String::new() } else { format!(", {m}") }
            )
        })
        .collect()
}

fn never_ran_note(html: &mut String, r: &Run) {
    let lines = never_promoted(r);
    if lines.is_empty() {
        return;
    }
    html.push_str(
        r#"<div class="warn" data-never-ran="true"><strong>Not every step ran.</strong><ul>"#,
    );
    for l in lines {
        let _ = write!(html, "<li>{}</li>", esc(&l));
    }
    html.push_str("</ul></div>");
}

fn gates_table(html: &mut String, r: &Run) {
    if r.gates.is_empty() {
        return;
    }
    html.push_str(r#"<table class="gates"><thead><tr><th class="text">Gate</th><th>Checks</th><th class="text">Decisions</th><th class="text">Promoted</th><th class="text">Last decision</th></tr></thead><tbody>"#);
    for g in &r.gates {
        let (d, t, m) = &g.last;
        let _ = write!(
            html,
            r#"<tr data-gate="{}" data-checks="{}" data-promoted="{}"><td class="text">{}</td><td>{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td></tr>"#,
            esc(&g.name),
            g.checks,
            g.promoted.is_some(),
            esc(&g.name),
            g.checks,
            esc(&g
                .decisions
                .iter()
                .map(|(d, n)| format!("{d} ×{n}"))
                .collect::<Vec<_>>()
                .join(", ")),
            esc(g
                .promoted
                .as_deref()
                .unwrap_or("never: the step it guards never ran")),
            esc(&format!(
                "{d} on {t}{}",
                if m.is_empty() {
                    String::new()
                } else {
                    format!(" ({m})")
                }
            ))
        );
    }
    html.push_str("</tbody></table>");
}

/// "Why never": a chart and a table of the reasons and missing prerequisites, with what would
/// fix each.
fn why_never(page: &mut Page, r: &Run, id: &str) {
    if charts::why_never_rows(r).is_some_and(|rows| rows.is_empty()) {
        let _ = write!(
            page.html,
            r#"<figure class="card" id="card-{id}" data-card="{id}" data-empty="true"><h3>Why never</h3><p class="absent-note">Every device can be co-managed: <code>summary.csv</code> has no device under a <code>reason_*</code> or <code>blocked_*</code> column.</p></figure>"#,
            id = esc(id)
        );
        return;
    }
    let (Some(chart), Some(rows)) = (charts::why_never(r, id), charts::why_never_rows(r)) else {
        page.absent(
            id,
            "Why never: devices that cannot be co-managed",
            "The run folder has no <code>summary.csv</code> with <code>reason_*</code> or <code>blocked_*</code> columns.",
        );
        return;
    };
    page.bars(
        chart,
        "From <code>summary.csv</code> <code>reason_*</code> (the device's first ineligibility reason) and <code>blocked_*</code> (Path 2 devices left in Intune under the first missing prerequisite). Hover a bar for the fix.",
    );
    let fleet = r.summary.as_ref().and_then(|s| s.num("devices"));
    let _ = write!(
        page.html,
        r#"<figure class="card tablecard" id="card-{id}-table" data-card="{id}-table"><h3>Why never: what would fix each</h3>"#,
        id = esc(id)
    );
    if rows.is_empty() {
        page.html.push_str(r#"<p class="absent-note">Every device can be co-managed: no reason and no missing prerequisite.</p></figure>"#);
        return;
    }
    page.html.push_str(r#"<table class="why-never"><thead><tr><th class="text">Reason or missing prerequisite</th><th>Devices</th><th>Share of the fleet</th><th class="text">What would fix it (program or setting)</th></tr></thead><tbody>"#);
    let mut total = 0.0;
    for w in &rows {
        total += w.devices;
        let _ = write!(
            page.html,
            r#"<tr data-why="{}" data-devices="{}"><td class="text">{}</td><td>{}</td><td>{}</td><td class="text"><code>{}</code></td></tr>"#,
            esc(&w.column),
            fmt_data(w.devices),
            esc(&w.label),
            fmt_count(w.devices),
            fleet.map_or("–".into(), |f| fmt_pct(w.devices, f)),
            esc(w.fix)
        );
    }
    let _ = write!(
        page.html,
        r#"<tr class="across"><td class="text"><strong>Total</strong></td><td>{}</td><td>{}</td><td></td></tr></tbody></table><figcaption>Programs and settings are those of the scenario file (docs/MODEL.md explains each); “none” means co-management does not apply to such devices.</figcaption></figure>"#,
        fmt_count(total),
        fleet.map_or("–".into(), |f| fmt_pct(total, f))
    );
}

fn markers_card(page: &mut Page, r: &Run, id: &str) {
    let title = "Incidents and gate decisions";
    if r.marker_files.is_empty() {
        page.absent(
            id,
            title,
            "The run folder has no <code>decisions.csv</code> or <code>incidents.csv</code>.",
        );
        return;
    }
    let files: Vec<&str> = r.marker_files.iter().map(|k| k.file()).collect();
    let _ = write!(
        page.html,
        r#"<figure class="card wide tablecard" id="card-{id}" data-card="{id}"><h3>{}</h3>"#,
        esc(title),
        id = esc(id)
    );
    if r.markers.is_empty() {
        let _ = write!(
            page.html,
            r#"<p class="absent-note">{} present but empty: no decisions or incidents.</p></figure>"#,
            esc(&files.join(" and "))
        );
        return;
    }
    gates_table(&mut page.html, r);
    page.html.push_str(r#"<table class="markers"><thead><tr><th class="text">Mark</th><th class="text">Time</th><th class="text">Step, gate or incident</th><th class="text">Details</th></tr></thead><tbody>"#);
    let mut n = [0usize; 2];
    for m in &r.markers {
        let k = usize::from(m.kind == MarkerKind::Incident);
        n[k] += 1;
        let detail = m
            .detail
            .iter()
            .filter(|(k, v)| !v.is_empty() && k != "day" && k != "source")
            .map(|(k, v)| {
                if k == "detail" {
                    v.clone()
                } else {
                    format!("{k}: {v}")
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let _ = write!(
            page.html,
            r#"<tr data-marker="{}"><td class="text">{}{}</td><td class="text">{}</td><td class="text">{}</td><td class="text">{}</td></tr>"#,
            match m.kind {
                MarkerKind::Decision => "decision",
                MarkerKind::Incident => "incident",
            },
            m.kind.letter(),
            n[k],
            esc(&m.time),
            esc(&m.label),
            esc(&detail)
                + if m.x.is_none() {
                    " (time not placed on the charts)"
                } else {
                    ""
                }
        );
    }
    let _ = write!(
        page.html,
        r#"</tbody></table><figcaption>From {}. D marks a decision, I an incident, on the time charts above. A gate's <code>wait</code> checks are not marked; identical decisions in a row are one mark (×N).</figcaption></figure>"#,
        esc(&files.join(" and "))
    );
}

/// The detail charts of one run: every dashboard chart, or a plain note where the run lacks
/// the data.
fn run_grid(page: &mut Page, r: &Run, prefix: &str) {
    let id = |s: &str| format!("{prefix}{s}");
    let t = &r.timeline;
    page.html.push_str(r#"<section class="grid">"#);
    if t.is_empty() {
        page.absent(
            &id("co-management-status"),
            "Co-management status over time",
            "<code>timeline.csv</code> has no rows.",
        );
    } else if !page.time(
        charts::status(r, &id("co-management-status")),
        "From <code>timeline.csv</code> <code>state_*</code> columns (stage mapping in docs/REPORT.md). Hover for each day's values.",
    ) {
        page.absent(
            &id("co-management-status"),
            "Co-management status over time",
            "<code>timeline.csv</code> has no <code>state_*</code> columns.",
        );
    }
    match (
        t.is_empty(),
        charts::funnel_bars(r, &id("co-management-funnel")),
    ) {
        (false, Some(c)) => page.bars(c, "Last row of <code>timeline.csv</code>."),
        _ => page.absent(
            &id("co-management-funnel"),
            "Co-management status at the end",
            "<code>timeline.csv</code> has no rows with <code>state_*</code> columns.",
        ),
    }
    if t.is_empty()
        || !page.time(
            charts::states(r, &id("lifecycle-states")),
            "From <code>timeline.csv</code> <code>state_*</code> columns.",
        )
    {
        page.absent(
            &id("lifecycle-states"),
            "Devices by lifecycle state",
            "<code>timeline.csv</code> has no rows with <code>state_*</code> columns.",
        );
    }
    match &r.breakdown {
        Some(b) => {
            page.bars(
                charts::by_join_type(b, &id("enrollment-by-join-type")),
                "From <code>breakdown.csv</code>, dimension <code>join</code>.",
            );
            page.bars(
                charts::os_distribution(b, &id("client-os")),
                "From <code>breakdown.csv</code>, dimension <code>os</code>. Hover a bar for its releases.",
            );
        }
        None => {
            page.absent(
                &id("enrollment-by-join-type"),
                "Enrollment status by join type",
                "The run folder has no <code>breakdown.csv</code>.",
            );
            page.absent(
                &id("client-os"),
                "Client OS distribution",
                "The run folder has no <code>breakdown.csv</code>.",
            );
        }
    }
    match charts::errors(r, &id("enrollment-errors")) {
        Some(c) if !t.is_empty() => page.bars(
            c,
            "Last row of <code>timeline.csv</code> <code>fail_*</code> counters (cumulative). Colour: what the client does after the error.",
        ),
        _ => page.absent(
            &id("enrollment-errors"),
            "Enrollment errors by code",
            "<code>timeline.csv</code> has no rows with <code>fail_*</code> counters.",
        ),
    }
    why_never(page, r, &id("why-never"));
    if t.is_empty()
        || !page.time(
            charts::workloads(r, &id("workloads")),
            "From <code>timeline.csv</code> <code>wl_*_intune</code> columns.",
        )
    {
        page.absent(
            &id("workloads"),
            "Workload transition",
            "<code>timeline.csv</code>'s <code>wl_&lt;workload&gt;_intune</code> columns are absent or 0 throughout: this run moved no workloads to Intune.",
        );
    }
    if t.is_empty()
        || !page.time(
            charts::gateway(r, &id("gateway")),
            "From <code>timeline.csv</code> <code>gateway_*</code> columns.",
        )
    {
        page.absent(
            &id("gateway"),
            "Cloud management gateway: peak, capacity and queue",
            "<code>timeline.csv</code>'s <code>gateway_*</code> columns are absent or 0 throughout: no client went through the gateway in this run.",
        );
    }
    markers_card(page, r, &id("decisions"));
    page.html.push_str("</section>");
}

/// A file-name-safe identifier for a run.
fn slug(label: &str, used: &mut Vec<String>) -> String {
    let mut s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let mut s = s.trim_matches('-').to_string();
    if s.is_empty() {
        s = "run".into();
    }
    let base = s.clone();
    let mut n = 2;
    while used.contains(&s) {
        s = format!("{base}-{n}");
        n += 1;
    }
    used.push(s.clone());
    s
}

fn run_heading(r: &Run) -> String {
    let mut parts = vec![format!("folder {}", r.dir.display())];
    if let Some(s) = r.scenario() {
        parts.push(format!("scenario {s}"));
    }
    if let Some(seed) = r.summary.as_ref().and_then(|s| s.get("seed")) {
        parts.push(format!("seed {seed}"));
    }
    if let Some(d) = r.start {
        parts.push(format!("from {d}"));
    }
    parts.push(format!(
        "{} {}{}",
        r.timeline.len(),
        if r.timeline.hourly { "hour" } else { "day" },
        if r.timeline.len() == 1 { "" } else { "s" }
    ));
    parts.join(" · ")
}

/// Builds the page and its charts.
pub fn page(runs: &[Run]) -> (String, Vec<ChartOut>) {
    let mut page = Page {
        html: String::new(),
        charts: Vec::new(),
    };
    let title = match runs {
        [r] => format!(
            "Co-management report: {}",
            r.scenario().unwrap_or_else(|| r.label.clone())
        ),
        _ if runs.iter().all(|r| r.study.is_some()) => format!(
            "Co-management report: {} scenarios compared over replications",
            runs.len()
        ),
        _ => format!("Co-management report: {} runs compared", runs.len()),
    };
    let sub = match runs {
        [r] => run_heading(r),
        _ => format!(
            "{}: overlaid curves and milestones, then each run's dashboard",
            runs.iter()
                .take(6)
                .map(|r| r.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
                + if runs.len() > 6 { ", …" } else { "" }
        ),
    };
    page_head(&mut page.html, &title, &sub);
    if let [r] = runs {
        kpis(&mut page.html, r);
        never_ran_note(&mut page.html, r);
        run_grid(&mut page, r, "");
    } else {
        page.html
            .push_str(r#"<h2 id="comparison">Comparison</h2><section class="grid">"#);
        page.time(
            Some(charts::compare_co_managed(runs, "compare-co-managed")),
            "Co-managed devices (<code>state_co_managed</code>) over eligible devices, per run; shaded: p10–p90 where the run has <code>_p10</code>/<code>_p90</code> columns.",
        );
        page.time(
            charts::compare_column(
                runs,
                "enrollment_failures",
                "compare-failures",
                "Enrollment failures, cumulative",
                "failed attempts",
            ),
            "<code>enrollment_failures</code> from each run's <code>timeline.csv</code>.",
        );
        milestone_table(&mut page.html, runs);
        page.html.push_str("</section>");
        page.html.push_str(r#"<h2 id="what-differs">What differs <small>workloads, incidents, tickets, blast radius and days to each workload at Intune, side by side</small></h2>"#);
        differences_table(&mut page.html, runs);
        page.html.push_str(r#"<section class="grid">"#);
        for col in charts::workload_columns(runs) {
            let name = col["wl_".len()..].trim_end_matches("_intune");
            page.time(
                charts::compare_column(
                    runs,
                    &col,
                    &format!("compare-wl-{}", name.replace('_', "-")),
                    &format!(
                        "{}: devices with the workload at Intune",
                        charts::humanize(name)
                    ),
                    "devices",
                ),
                &format!("<code>{col}</code> per run."),
            );
        }
        for (col, id, title, y) in [
            (
                "incidents_active",
                "compare-incidents",
                "Active incidents",
                "incidents",
            ),
            (
                "helpdesk_tickets",
                "compare-tickets",
                "Helpdesk tickets, cumulative",
                "tickets",
            ),
            (
                "gateway_peak_concurrent_clients",
                "compare-gateway",
                "Gateway: peak connections in the day",
                "connections",
            ),
        ] {
            page.time(
                charts::compare_column(runs, col, id, title, y),
                &format!("<code>{col}</code> per run."),
            );
        }
        page.html.push_str("</section>");
        let mut studies: Vec<&std::sync::Arc<super::data::Study>> = Vec::new();
        for r in runs {
            if let Some(st) = &r.study
                && !studies.iter().any(|s| std::sync::Arc::ptr_eq(s, st))
            {
                studies.push(st);
            }
        }
        for st in studies {
            study_table(&mut page.html, st);
        }
        let mut used = Vec::new();
        for (i, r) in runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.study.is_none())
            .take(MAX_DETAILED)
        {
            let slug = slug(&r.label, &mut used);
            let _ = write!(
                page.html,
                r#"<section class="run" data-run="{}"><h2 id="run-{}">Run {}: {} <small>{}</small></h2>"#,
                esc(&r.label),
                esc(&slug),
                i + 1,
                esc(&r.label),
                esc(&run_heading(r))
            );
            kpis(&mut page.html, r);
            never_ran_note(&mut page.html, r);
            run_grid(&mut page, r, &format!("{slug}-"));
            page.html.push_str("</section>");
        }
        if runs.len() > MAX_DETAILED {
            let _ = write!(
                page.html,
                r#"<p class="note" id="detail-note">Detail charts are shown for the first {MAX_DETAILED} of {} runs; the comparison above covers all of them.</p>"#,
                runs.len()
            );
        }
    }
    let _ = write!(
        page.html,
        r#"</main>
<footer>Made by fleetsim {} from {} run folder{}. Every chart carries its numbers in <code>data-*</code> attributes; the runs' summaries are in the JSON element <code>#fleetsim-data</code>. Chart sources and the funnel mapping: docs/REPORT.md.</footer>
<script type="application/json" id="fleetsim-data">{}</script>
</body>
</html>
"#,
        env!("CARGO_PKG_VERSION"),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        data_json(runs)
    );
    (page.html, page.charts)
}

/// Writes the start of a report page, up to `<main>`: the document head (the page's own style
/// and script, no outside resource), the title and the line under it.
pub(super) fn page_head(html: &mut String, title: &str, sub: &str) {
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="generator" content="fleetsim {version}">
<title>{t}</title>
<script>{SCRIPT}</script>
<style>{STYLE}</style>
</head>
<body>
<header><h1>{t}</h1><p>{sub}</p></header>
<main>
"#,
        version = env!("CARGO_PKG_VERSION"),
        t = esc(title),
        sub = esc(sub),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_cannot_close_the_script() {
        assert_eq!(json_str("</script>"), r#""\u003c/script\u003e""#);
        assert_eq!(json_str("a\"b\\\n"), r#""a\"b\\\u000a""#);
    }

    #[test]
    fn slugs_are_unique_and_safe() {
        let mut used = Vec::new();
        assert_eq!(slug("Run A/1", &mut used), "run-a-1");
        assert_eq!(slug("run a 1", &mut used), "run-a-1-2");
        assert_eq!(slug("<>", &mut used), "run");
    }
}
