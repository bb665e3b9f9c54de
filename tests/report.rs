//! `fleetsim report`: the HTML dashboard, read back from the file and, where Chromium is
//! installed, from a real headless browser.

use super::{Dir, csv_rows, stderr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The text between `from` and the next `to` after the first `after` marker, if any.
fn between<'a>(text: &'a str, after: &str, from: &str, to: &str) -> Option<&'a str> {
    let start = text.find(after)?;
    let rest = &text[start..];
    let a = rest.find(from)? + from.len();
    let b = rest[a..].find(to)?;
    Some(&rest[a..a + b])
}

/// The markup of one chart (`data-chart="id"` up to its `</svg>`).
fn chart<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("data-chart=\"{id}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no chart {id}"));
    let end = html[start..].find("</svg>").expect("chart ends") + start;
    &html[start..end]
}

/// The numbers of a series (`data-series="key"`) of a chart.
fn series(chart: &str, key: &str) -> Vec<f64> {
    let values = between(
        chart,
        &format!("data-series=\"{key}\" data-label="),
        "data-values=\"",
        "\"",
    )
    .unwrap_or_else(|| panic!("no series {key}"));
    values
        .split(',')
        .map(|v| v.parse().unwrap_or(f64::NAN))
        .collect()
}

/// The total of a bar (`data-category="key"`) of a chart.
fn bar(chart: &str, key: &str) -> f64 {
    between(
        chart,
        &format!("data-category=\"{key}\""),
        "data-total=\"",
        "\"",
    )
    .unwrap_or_else(|| panic!("no bar {key}"))
    .parse()
    .unwrap()
}

/// A timeline column as numbers.
fn column(rows: &[Vec<String>], name: &str) -> Vec<f64> {
    let i = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows[1..].iter().map(|r| r[i].parse().unwrap()).collect()
}

/// Checks that the report's charts hold the run's numbers.
fn check_numbers(html: &str, run: &Dir, dir: &str) {
    let t = csv_rows(&run.read(&format!("{dir}/timeline.csv")));
    let status = chart(html, "co-management-status");
    assert_eq!(series(status, "enrolled"), column(&t, "state_co_managed"));
    let states = chart(html, "lifecycle-states");
    for h in t[0].iter().filter(|h| h.starts_with("state_")) {
        assert_eq!(series(states, h), column(&t, h), "{h}");
    }
    // Eligible: every state but ineligible and coexistence.
    let eligible: Vec<f64> = (1..t.len())
        .map(|r| {
            column(&t, "devices_total")[r - 1]
                - column(&t, "state_ineligible")[r - 1]
                - column(&t, "state_coexistence")[r - 1]
        })
        .collect();
    assert_eq!(series(status, "eligible"), eligible);
    let errors = chart(html, "enrollment-errors");
    for h in t[0].iter().filter(|h| h.starts_with("fail_")) {
        let last = *column(&t, h).last().unwrap();
        if last > 0.0 {
            assert_eq!(bar(errors, h), last, "{h}");
        } else {
            assert!(!errors.contains(&format!("data-category=\"{h}\"")));
        }
    }
    let b = csv_rows(&run.read(&format!("{dir}/breakdown.csv")));
    let join = chart(html, "enrollment-by-join-type");
    for r in b[1..].iter().filter(|r| r[0] == "join") {
        assert_eq!(bar(join, &r[1]), r[2].parse::<f64>().unwrap(), "{}", r[1]);
    }
    let os = chart(html, "client-os");
    let group_total: f64 = [
        "windows_7_8",
        "win10_below_1709",
        "win10_1709_and_later",
        "windows_11",
        "other",
    ]
    .iter()
    .map(|g| bar(os, g))
    .sum();
    let os_total: f64 = b[1..]
        .iter()
        .filter(|r| r[0] == "os")
        .map(|r| r[2].parse::<f64>().unwrap())
        .sum();
    assert_eq!(group_total, os_total);
    let win11: f64 = b[1..]
        .iter()
        .filter(|r| r[0] == "os" && r[1].starts_with("win11_"))
        .map(|r| r[2].parse::<f64>().unwrap())
        .sum();
    assert_eq!(bar(os, "windows_11"), win11);
}

/// Chromium, if installed.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLEETSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Runs headless Chromium on a local file with extra arguments; returns stdout and stderr.
/// Gives up (and fails) after two minutes.
fn headless(browser: &Path, work: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let out = work.join("chromium.out");
    let err = work.join("chromium.err");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.join("profile").display()
        ))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium did not finish in 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

/// Console messages Chromium logged (`...:CONSOLE(line)] "message"`).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn report_renders_in_a_real_browser_with_the_runs_numbers() {
    let Some(browser) = chromium() else {
        if std::env::var("FLEETSIM_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("FLEETSIM_REQUIRE_BROWSER=1 but chromium is not installed");
        }
        eprintln!("note: chromium is not installed: skipping the browser test");
        return;
    };
    let started = Instant::now();
    let d = Dir::new();
    for (out, seed) in [("run", "7"), ("other", "8")] {
        let o = run_p1(&d, &["--out", out, "--seed", seed, "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = d.fleetsim(&["report", "run", "-o", "report.html", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = d.path().join("report.html");

    let (dom, log) = headless(&browser, d.path(), &page, &["--dump-dom"]);
    assert!(
        dom.contains("data-js=\"ran\""),
        "page script did not run:\n{log}"
    );
    assert!(
        dom.contains("data-js-errors=\"0\""),
        "script errors: {dom:.2000}"
    );
    let charts = between(&dom, "<html", "data-charts=\"", "\"").unwrap();
    let visible = between(&dom, "<html", "data-charts-visible=\"", "\"").unwrap();
    assert_eq!(charts, "6");
    assert_eq!(visible, charts, "every chart is laid out with a size");
    assert_eq!(console_lines(&log), Vec::<&str>::new(), "console messages");
    check_numbers(&dom, &d, "run");
    assert!(dom.contains("Not in this run."));

    let shot = d.path().join("shot.png");
    let (_, log) = headless(
        &browser,
        d.path(),
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,2400",
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{log}"));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 50_000,
        "a screenshot of charts: {} bytes",
        png.len()
    );
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::write(&keep, &png).unwrap();
    eprintln!("screenshot saved to {}", keep.display());

    // A comparison of two runs renders too, with no errors.
    let o = d.fleetsim(&["report", "run", "other", "-o", "compare.html", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (dom, log) = headless(
        &browser,
        d.path(),
        &d.path().join("compare.html"),
        &["--dump-dom"],
    );
    assert!(dom.contains("data-js-errors=\"0\"") && dom.contains("data-js=\"ran\""));
    assert_eq!(console_lines(&log), Vec::<&str>::new(), "console messages");
    let compare = chart(&dom, "compare-co-managed");
    assert_eq!(compare.matches("class=\"series\"").count(), 2);
    eprintln!("browser test took {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn report_holds_the_runs_numbers_and_says_what_is_absent() {
    let d = Dir::new();
    assert!(run_p1(&d, &["--out", "run", "-q"]).status.success());
    let o = d.fleetsim(&["report", "run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("report.html"));
    let html = d.read("report.html");
    check_numbers(&html, &d, "run");
    // Self-contained: nothing fetched from anywhere.
    for needle in ["http://", "https://", "src=", "<link", "@import"] {
        let hits: Vec<&str> = html
            .match_indices(needle)
            .map(|(i, _)| &html[i.saturating_sub(20)..(i + 40).min(html.len())])
            .filter(|s| !s.contains("www.w3.org/2000/svg"))
            .collect();
        assert!(hits.is_empty(), "{needle}: {hits:?}");
    }
    // No workloads, gateway or decisions in this run: said plainly.
    for card in ["workloads", "gateway"] {
        let c = between(&html, &format!("data-card=\"{card}\""), "", "</figure>").unwrap();
        assert!(c.contains("Not in this run."), "{card}: {c}");
    }
    // A run without a strategy writes decisions.csv with its header only.
    let c = between(&html, "data-card=\"decisions\"", "", "</figure>").unwrap();
    assert!(c.contains("decisions.csv present but empty"), "{c}");
    // The milestones of summary.csv are on the page.
    let s = csv_rows(&d.read("run/summary.csv"));
    let i = s[0].iter().position(|h| h == "days_to_90pct").unwrap();
    let kpi = between(
        &html,
        "data-kpi=\"days_to_90pct\"",
        "<div class=\"v\">",
        "<",
    )
    .unwrap();
    assert_eq!(kpi, format!("{} days", s[1][i]));
    // The embedded JSON holds the summary.
    let json = between(&html, "id=\"fleetsim-data\"", ">", "</script>").unwrap();
    assert!(json.contains("\"days_to_90pct\":\""), "{json:.300}");
}

#[test]
fn report_of_a_single_day_run_renders() {
    let d = Dir::new();
    assert!(
        run_p1(&d, &["--days", "1", "--out", "run", "-q"])
            .status
            .success()
    );
    let o = d.fleetsim(&["report", "run", "-o", "one.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("one.html");
    check_numbers(&html, &d, "run");
    let status = chart(&html, "co-management-status");
    assert_eq!(series(status, "enrolled").len(), 1);
    assert!(status.contains("<circle"), "a single day is drawn as a dot");
    assert!(status.contains(">Jan 4<"), "its date is on the axis");
    assert!(html.contains("not reached"));

    // Hourly rows of one day render too.
    assert!(
        run_p1(
            &d,
            &["--days", "1", "--bucket", "hour", "--out", "hourly", "-q"]
        )
        .status
        .success()
    );
    let o = d.fleetsim(&["report", "hourly", "-o", "hourly.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("hourly.html");
    assert_eq!(
        series(chart(&html, "co-management-status"), "enrolled").len(),
        24
    );
}

#[test]
fn report_of_an_empty_run_renders() {
    let d = Dir::new();
    assert!(
        run_p1(&d, &["--days", "1", "--out", "run", "-q"])
            .status
            .success()
    );
    // A timeline with a header and no rows, and nothing else.
    std::fs::create_dir(d.path().join("empty")).unwrap();
    let header = d
        .read("run/timeline.csv")
        .lines()
        .next()
        .unwrap()
        .to_string();
    d.write("empty/timeline.csv", &format!("{header}\n"));
    // An empty file.
    std::fs::create_dir(d.path().join("blank")).unwrap();
    d.write("blank/timeline.csv", "");
    for dir in ["empty", "blank"] {
        let o = d.fleetsim(&["report", dir, "-o", &format!("{dir}.html")]);
        assert!(o.status.success(), "{dir}: {}", stderr(&o));
        let html = d.read(&format!("{dir}.html"));
        assert!(html.contains("has no rows"), "{dir}");
        assert!(html.contains("no <code>breakdown.csv</code>"), "{dir}");
        assert!(!html.contains("NaN"), "{dir}");
    }
    // Empty next to a real run: still a comparison.
    let o = d.fleetsim(&["report", "empty", "run", "-o", "both.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.read("both.html").contains("NaN"));
}

/// Makes a cell of a new column from the row's index and cells.
type Fill<'a> = &'a dyn Fn(usize, &[String]) -> String;

/// Adds columns to a run's timeline.csv: a name and how to fill each row.
fn add_columns(d: &Dir, dir: &str, cols: &[(&str, Fill)]) {
    let rows = csv_rows(&d.read(&format!("{dir}/timeline.csv")));
    let mut w = csv::Writer::from_path(d.path().join(format!("{dir}/timeline.csv"))).unwrap();
    // A column the run already has (all 0 in a run without workloads or gateway) is replaced.
    let at: Vec<Option<usize>> = cols
        .iter()
        .map(|(name, _)| rows[0].iter().position(|h| h == name))
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let mut row = row.clone();
        for ((name, f), at) in cols.iter().zip(&at) {
            let cell = if i == 0 {
                name.to_string()
            } else {
                f(i, &rows[i])
            };
            match at {
                Some(k) => row[*k] = cell,
                None => row.push(cell),
            }
        }
        w.write_record(&row).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn report_draws_workloads_gateway_bands_and_decisions_when_present() {
    let d = Dir::new();
    assert!(run_p1(&d, &["--out", "run", "-q"]).status.success());
    let co = csv_rows(&d.read("run/timeline.csv"))[0]
        .iter()
        .position(|h| h == "state_co_managed")
        .unwrap();
    let co_f = move |_: usize, r: &[String]| r[co].parse::<f64>().unwrap();
    add_columns(
        &d,
        "run",
        &[
            ("wl_compliance_policies_intune", &|i, _| {
                (i * 10).to_string()
            }),
            ("wl_windows_update_policies_intune", &|i, _| {
                (i * 5).to_string()
            }),
            ("gateway_concurrent_clients", &|i, _| (1000 - i).to_string()),
            ("gateway_queue", &|i, _| (i % 3).to_string()),
            ("state_co_managed_p10", &|i, r| {
                format!("{}", co_f(i, r) - 10.0)
            }),
            ("state_co_managed_p90", &|i, r| {
                format!("{}", co_f(i, r) + 5.5)
            }),
        ],
    );
    d.write(
        "run/decisions.csv",
        "time,gate,co_managed_pct,decision\n2027-01-06,gate 1,85.2,go\n2027-01-10,gate 2,97.0,<hold>\n",
    );
    d.write(
        "run/incidents.csv",
        "time,incident,severity\n2027-01-08 09:00,CMG certificate expired,high\nlater,unplaced,low\n",
    );
    let summary: Vec<String> = d
        .read("run/summary.csv")
        .lines()
        .zip([",days_to_50pct_p10,days_to_50pct_p90", ",0.25,0.5"])
        .map(|(l, extra)| format!("{l}{extra}\n"))
        .collect();
    d.write("run/summary.csv", &summary.concat());
    let o = d.fleetsim(&["report", "run", "--svg", "svg", "--png", "png"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("report.html");
    let wl = chart(&html, "workloads");
    assert_eq!(series(wl, "wl_compliance_policies_intune")[2], 30.0);
    assert!(wl.contains("Compliance policies"));
    let gw = chart(&html, "gateway");
    assert_eq!(series(gw, "gateway_queue")[..4], [1.0, 2.0, 0.0, 1.0]);
    let status = chart(&html, "co-management-status");
    assert!(status.contains("class=\"band\" data-series=\"enrolled\""));
    assert_eq!(
        status.matches("class=\"marker\"").count(),
        3,
        "one unplaced"
    );
    assert!(status.contains(">D1<") && status.contains(">I1<"));
    let table = between(&html, "data-card=\"decisions\"", "", "</figure>").unwrap();
    assert_eq!(table.matches("<tr data-marker=").count(), 4);
    assert!(table.contains("gate 2 · &lt;hold&gt;"), "{table}");
    assert!(table.contains("time not placed"));
    assert!(!html.contains("<hold>"));
    let kpi = between(
        &html,
        "data-kpi=\"days_to_50pct\"",
        "<div class=\"k\">",
        "<",
    )
    .unwrap();
    assert_eq!(kpi, "to 50% co-managed (p10 0.25 – p90 0.5)");
    for id in ["workloads", "gateway", "co-management-status"] {
        assert!(d.path().join(format!("svg/{id}.svg")).exists(), "{id}");
        assert!(d.path().join(format!("png/{id}.png")).exists(), "{id}");
    }
    assert!(
        d.read("svg/workloads.svg")
            .contains("data-series=\"wl_compliance_policies_intune\"")
    );
}

#[test]
fn report_writes_charts_as_svg_and_png() {
    let d = Dir::new();
    assert!(run_p1(&d, &["--out", "run", "-q"]).status.success());
    let o = d.fleetsim(&["report", "run", "--svg", "slides", "--png", "slides"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ids = [
        "co-management-status",
        "co-management-funnel",
        "lifecycle-states",
        "enrollment-by-join-type",
        "client-os",
        "enrollment-errors",
    ];
    for id in ids {
        let svg = d.read(&format!("slides/{id}.svg"));
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{id}"
        );
        let png = std::fs::read(d.path().join(format!("slides/{id}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{id}");
        // 720 units wide at twice the scale.
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(width, 1440, "{id}");
        assert!(png.len() > 15_000, "{id}: {} bytes", png.len());
    }
    assert_eq!(
        std::fs::read_dir(d.path().join("slides")).unwrap().count(),
        2 * ids.len()
    );
    // Existing images are kept without --force, replaced with it.
    let o = d.fleetsim(&["report", "run", "-o", "again.html", "--png", "slides"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"));
    assert!(!d.path().join("again.html").exists());
    let o = d.fleetsim(&[
        "report",
        "run",
        "-o",
        "again.html",
        "--png",
        "slides",
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn report_compares_100_runs() {
    let d = Dir::new();
    let mut args = vec!["report".to_string()];
    for i in 0..100 {
        let out = format!("r{i:03}");
        let o = run_p1(
            &d,
            &[
                "--devices",
                "60",
                "--days",
                "6",
                "--seed",
                &i.to_string(),
                "--out",
                &out,
                "-q",
                "--threads",
                "1",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        args.push(out);
    }
    args.extend(["-o".into(), "all.html".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let o = d.fleetsim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(20));
    let html = d.read("all.html");
    let compare = chart(&html, "compare-co-managed");
    assert_eq!(compare.matches("class=\"series\"").count(), 100);
    assert!(compare.contains("100 runs, one line each"));
    let table = between(&html, "class=\"milestones\"", "", "</table>").unwrap();
    assert_eq!(table.matches("<tr data-run=\"r").count(), 100);
    assert!(table.contains("Across 100 runs"));
    assert_eq!(html.matches("<section class=\"run\"").count(), 12);
    assert!(html.contains("first 12 of 100 runs"));
    assert!(html.len() < 8_000_000, "{} bytes", html.len());
}

#[test]
fn report_bad_input_exits_2_and_writes_nothing() {
    let d = Dir::new();
    assert!(
        run_p1(&d, &["--days", "2", "--out", "run", "-q"])
            .status
            .success()
    );
    std::fs::create_dir(d.path().join("no-timeline")).unwrap();
    std::fs::create_dir(d.path().join("broken")).unwrap();
    let t = d
        .read("run/timeline.csv")
        .replacen("2027-01-05,2000", "2027-01-05,lots", 1);
    d.write("broken/timeline.csv", &t);
    d.write("existing.html", "keep me");
    let before = d.entries();
    let cases: &[(&[&str], &str)] = &[
        (&["report", "missing"], "missing"),
        (&["report", "run", "missing"], "does not exist"),
        (&["report", "no-timeline"], "no timeline.csv"),
        (&["report", "run/timeline.csv"], "not a folder"),
        (&["report", "broken"], "line 3"),
        (&["report", "run", "-o", "existing.html"], "--force"),
        (&["report", "run", "-o", "run"], "folder"),
        (&["report", "run", "--png", "existing.html"], "not a folder"),
        (&["report"], "RUN_DIR"),
    ];
    for (args, says) in cases {
        let o = d.fleetsim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert_eq!(d.entries(), before, "{args:?} wrote something");
    }
    assert_eq!(d.read("existing.html"), "keep me");
    // --force replaces only a report fleetsim wrote.
    let o = d.fleetsim(&["report", "run", "-o", "existing.html", "--force", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a report fleetsim wrote"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.read("existing.html"), "keep me");
    assert_eq!(d.entries(), before);
    let o = d.fleetsim(&["report", "run", "-o", "ours.html", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["report", "run", "-o", "ours.html", "--force", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.read("ours.html").starts_with("<!DOCTYPE html>"));
}

#[test]
fn report_escapes_text_from_the_runs() {
    let d = Dir::new();
    let o = run_p1(&d, &["--days", "2", "--out", "<i>run&co", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Scenario names cannot hold markup, but CSV files can be edited by hand.
    let summary = d.read("<i>run&co/summary.csv").replacen(
        "\ntiny,",
        "\n\"<script>alert('x')</script>&\",",
        1,
    );
    d.write("<i>run&co/summary.csv", &summary);
    let breakdown = d
        .read("<i>run&co/breakdown.csv")
        .replace("site,P01,", "site,<img src=x onerror=alert(1)>,");
    d.write("<i>run&co/breakdown.csv", &breakdown);
    d.write(
        "<i>run&co/decisions.csv",
        "time,gate,decision\n2027-01-05,</table><b>,go\n",
    );
    let o = d.fleetsim(&["report", "<i>run&co", "-o", "r.html"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("r.html");
    for raw in ["<script>alert", "<i>run", "<img", "</table><b>"] {
        assert!(!html.contains(raw), "{raw} not escaped");
    }
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"));
    assert!(html.contains("&lt;i&gt;run&amp;co"));
    let json = between(&html, "id=\"fleetsim-data\"", ">", "</script>").unwrap();
    assert!(!json.contains('<'), "{json:.200}");
}

/// A Path 1 scenario like `tiny` before it gained Path 2 devices and programs: 2,000 devices,
/// no gateway, no strategy, so the report's absent sections show.
const P1: &str = "name = \"tiny\"\nseed = 7\nstart_date = 2027-01-04\ndays = 30\n[fleet]\ndevices = 2_000\njoin = { on_premises_ad = 0.72, hybrid_joined = 0.2, azure_ad_registered = 0.03, workgroup = 0.05 }\nlocation = { corporate_network = 0.65, vpn = 0.35 }\n[co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"all\"\n[remediation]\ndefault = { mean_days = 5 }\n";

/// Runs `fleetsim run <P1> ARGS` in `d`.
fn run_p1(d: &Dir, args: &[&str]) -> std::process::Output {
    d.write("p1.toml", P1);
    let mut all = vec!["run", "p1.toml"];
    all.extend_from_slice(args);
    d.fleetsim(&all)
}
