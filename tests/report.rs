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
    // Eligible: every state but ineligible and third-party MDM (coexistence or not).
    let eligible: Vec<f64> = (1..t.len())
        .map(|r| {
            column(&t, "devices_total")[r - 1]
                - column(&t, "state_ineligible")[r - 1]
                - column(&t, "state_coexistence")[r - 1]
                - column(&t, "state_awaiting_mdm_migration")[r - 1]
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
        if std::env::var("FLEETSIM_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("note: FLEETSIM_SKIP_BROWSER=1: the browser test is skipped");
            return;
        }
        panic!(
            "chromium is not installed: the browser test needs it (Debian: apt-get install chromium fonts-dejavu-core; .ci/run installs it). Set FLEETSIM_SKIP_BROWSER=1 to skip this test on purpose."
        );
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
    assert_eq!(charts, "7");
    assert_eq!(visible, charts, "every chart is laid out with a size");
    // The time axes as the browser holds them: each label's date at its position.
    check_time_axes(&dom, "browser", false);
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
    assert!(status.contains(">4 Jan<"), "its date is on the axis");
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
    assert_eq!(series(gw, "gateway_concurrent_clients")[0], 999.0);
    // The capacity: timeline.csv's gateway_capacity per row (summary.csv's value when the
    // timeline has no such column), drawn dashed.
    let t = csv_rows(&d.read("run/timeline.csv"));
    let drawn = series(gw, "gateway_capacity");
    match t[0].iter().position(|h| h == "gateway_capacity") {
        Some(k) => {
            let want: Vec<f64> = t[1..].iter().map(|r| r[k].parse().unwrap()).collect();
            if want.iter().any(|v| *v > 0.0) {
                assert_eq!(drawn, want);
            }
        }
        None => {
            let s = csv_rows(&d.read("run/summary.csv"));
            let cap: f64 = s[1][s[0].iter().position(|h| h == "gateway_capacity").unwrap()]
                .parse()
                .unwrap();
            if cap > 0.0 {
                assert!(drawn.iter().all(|v| *v == cap));
            }
        }
    }
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
    // From enablement: summary.csv's own days_from_enable_to_50pct, as written there.
    let sm = csv_rows(&d.read("run/summary.csv"));
    let from_enable = &sm[1][sm[0]
        .iter()
        .position(|h| h == "days_from_enable_to_50pct")
        .unwrap()];
    assert!(!from_enable.is_empty());
    assert_eq!(
        kpi,
        format!("to 50% co-managed (p10 0.25 – p90 0.5); from enablement: {from_enable}")
    );
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
        "why-never",
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

/// Every chart's x-axis ticks of a report page: (label, x position) with the axis's mapping
/// (start date, first and last day, their x positions).
/// A chart's x axis: chart id, ticks (label, x), [first day, last day, their x positions],
/// start date.
type Axis = (String, Vec<(String, f64)>, [f64; 4], String);

fn x_ticks(html: &str) -> Vec<Axis> {
    let mut out = Vec::new();
    for (i, _) in html.match_indices("<g class=\"x-ticks\"") {
        let g = &html[i..i + html[i..].find("</g>").unwrap()];
        let attr = |name: &str| {
            between(g, "", &format!("{name}=\""), "\"")
                .unwrap()
                .to_string()
        };
        let num = |name: &str| attr(name).parse::<f64>().unwrap();
        let chart_start = html[..i].rfind("data-chart=\"").unwrap() + "data-chart=\"".len();
        let id =
            html[chart_start..chart_start + html[chart_start..].find('"').unwrap()].to_string();
        let ticks = g
            .match_indices("<text ")
            .map(|(k, _)| {
                let t = &g[k..];
                let x: f64 = between(t, "", "x=\"", "\"").unwrap().parse().unwrap();
                let label = between(t, "", ">", "</text>").unwrap().to_string();
                (label, x)
            })
            .collect();
        out.push((
            id,
            ticks,
            [
                num("data-x0"),
                num("data-x1"),
                num("data-px0"),
                num("data-px1"),
            ],
            attr("data-start"),
        ));
    }
    out
}

/// Reads a tick label `1 Mar` or `1 Jan 2028` as a date: the first such date on or after
/// `after` (ticks run left to right).
fn tick_date(label: &str, after: chrono::NaiveDate) -> Option<chrono::NaiveDate> {
    use chrono::Datelike;
    let parts: Vec<&str> = label.split(' ').collect();
    let day: u32 = parts.first()?.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| Some(m) == parts.get(1))? as u32
        + 1;
    if let Some(y) = parts.get(2) {
        return chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, month, day);
    }
    [after.year(), after.year() + 1]
        .into_iter()
        .filter_map(|y| chrono::NaiveDate::from_ymd_opt(y, month, day))
        .find(|d| *d >= after)
}

/// Checks every time axis of a page: each tick label is a date (or an hour after one) drawn
/// at that date's position, on a calendar boundary for daily rows.
fn check_time_axes(html: &str, out: &str, hourly: bool) {
    use chrono::{Datelike, NaiveDate, Weekday};
    let axes = x_ticks(html);
    assert!(!axes.is_empty(), "{out}: no time axis");
    for (chart, ticks, [x0, x1, px0, px1], start) in axes {
        let start = NaiveDate::parse_from_str(&start, "%Y-%m-%d").unwrap();
        assert_eq!(start, NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        assert!(ticks.len() >= 2, "{out}/{chart}: {ticks:?}");
        let mut day = None;
        for (label, x) in &ticks {
            // Hour ticks (`06:00`) belong to the last date tick.
            let (date, hours) = if let Some(h) = label.strip_suffix(":00") {
                (day.unwrap_or(start), h.parse::<f64>().unwrap())
            } else {
                let date = tick_date(label, day.unwrap_or(start - chrono::Duration::days(1)))
                    .unwrap_or_else(|| panic!("{out}/{chart}: tick `{label}` is not a date"));
                day = Some(date);
                (date, 0.0)
            };
            let days = (date - start).num_days() as f64 + hours / 24.0;
            let want = px0 + (days - x0) / (x1 - x0) * (px1 - px0);
            assert!(
                (want - x).abs() <= 0.11,
                "{out}/{chart}: `{label}` drawn at {x}, its date is at {want:.1}"
            );
            // Calendar boundaries: a month's 1st or 15th, a Monday, or (hourly) any day.
            if !hourly && hours == 0.0 {
                assert!(
                    date.day() == 1 || date.day() == 15 || date.weekday() == Weekday::Mon,
                    "{out}/{chart}: `{label}` is not on a calendar boundary"
                );
            }
        }
    }
}

#[test]
fn report_time_axes_are_labelled_with_the_dates_at_their_positions() {
    let d = Dir::new();
    // A short daily run, a long daily run (the scenario starts on Monday 4 January 2027) and
    // an hourly run of a few days.
    for (out, args) in [
        ("short", vec!["--days", "30"]),
        ("long", vec!["--days", "300"]),
        ("hourly", vec!["--days", "3", "--bucket", "hour"]),
    ] {
        let mut all = vec!["--out", out, "-q", "--devices", "300"];
        all.extend(args);
        let o = run_p1(&d, &all);
        assert!(o.status.success(), "{}", stderr(&o));
        let page = format!("{out}.html");
        let svg = format!("{out}-svg");
        let o = d.fleetsim(&["report", out, "--out", &page, "--svg", &svg, "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let html = d.read(&page);
        check_time_axes(&html, out, out == "hourly");
        // The image files carry the same axis.
        check_time_axes(
            &d.read(&format!("{svg}/co-management-status.svg")),
            out,
            out == "hourly",
        );
        for (_, ticks, _, _) in x_ticks(&html) {
            if out == "long" {
                assert!(ticks.iter().all(|(l, _)| l.starts_with("1 ")), "{ticks:?}");
            }
        }
    }
}

/// The ring scenario with its last gate unable to promote (success needs tickets per day of
/// at most -1): the last step never runs.
fn stuck_rings() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/autopatch-rings.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let stuck = text
        .replace("success_at_most = 5\n", "success_at_most = -1\n")
        .replace("failure_above = 20\n", "failure_above = 100000\n");
    assert_ne!(stuck, text, "the scenario's gate settings moved");
    stuck
}

#[test]
fn gate_decisions_are_drawn_as_changes_and_a_step_that_never_ran_is_stated() {
    let d = Dir::new();
    d.write("stuck.toml", &stuck_rings());
    let o = d.fleetsim(&["run", "stuck.toml", "--devices", "2000", "--out", "run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("step `Broad: everyone` never ran: its gate `Fast ring quiet` never promoted"),
        "{err}"
    );
    let rows = csv_rows(&d.read("run/decisions.csv"));
    let col = |n: &str| rows[0].iter().position(|h| h == n).unwrap();
    let (name, decision) = (col("name"), col("decision"));
    let waits = rows[1..].iter().filter(|r| r[decision] == "wait").count();
    assert!(waits > 5, "the gate waits: {waits}");
    // Markers: every row that is not a wait, with identical decisions in a row as one.
    let mut expected = 0;
    let mut last: Vec<(String, String)> = Vec::new();
    for r in &rows[1..] {
        if r[decision] == "wait" {
            continue;
        }
        match last.iter_mut().find(|(n, _)| *n == r[name]) {
            Some((_, d)) if *d == r[decision] && r[col("source")] == "gate" => continue,
            Some((_, d)) => *d = r[decision].clone(),
            None => last.push((r[name].clone(), r[decision].clone())),
        }
        expected += 1;
    }
    let o = d.fleetsim(&["report", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("report.html");
    let table = between(&html, "data-card=\"decisions\"", "", "</figure>").unwrap();
    assert_eq!(table.matches("<tr data-marker=").count(), expected);
    // On the charts, marks at the same time share a badge (`D5–6`): every mark is there once.
    let status = chart(&html, "co-management-status");
    let mut drawn = 0;
    for (i, _) in status.match_indices("class=\"marker\"") {
        let badge = between(
            &status[i..],
            "",
            "font-weight=\"bold\" fill=\"#ffffff\">",
            "<",
        )
        .unwrap();
        let nums: Vec<usize> = badge[1..].split('–').map(|n| n.parse().unwrap()).collect();
        drawn += nums.last().unwrap() - nums[0] + 1;
    }
    assert_eq!(drawn, expected);
    assert!(!status.contains("· wait"), "a wait is not a mark");
    assert!(html.contains("data-never-ran=\"true\""));
    let note = between(&html, "data-never-ran", "<li>", "</li>").unwrap();
    assert!(
        note.contains("Fast ring quiet") && note.contains("never promoted"),
        "{note}"
    );
    assert!(html.contains(&format!(
        "data-gate=\"Fast ring quiet\" data-checks=\"{waits}\" data-promoted=\"false\""
    )));
}

#[test]
fn report_says_why_never_with_counts_and_fixes() {
    let d = Dir::new();
    assert!(run_p1(&d, &["--out", "run", "-q"]).status.success());
    let o = d.fleetsim(&["report", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("report.html");
    let s = csv_rows(&d.read("run/summary.csv"));
    let why = chart(&html, "why-never");
    let table = between(&html, "data-card=\"why-never-table\"", "", "</figure>").unwrap();
    let mut nonzero = 0;
    for (i, h) in s[0].iter().enumerate() {
        if !(h.starts_with("reason_") || h.starts_with("blocked_")) {
            continue;
        }
        let v: f64 = s[1][i].parse().unwrap();
        if v > 0.0 {
            nonzero += 1;
            assert_eq!(bar(why, h), v, "{h}");
            assert!(
                table.contains(&format!("data-why=\"{h}\" data-devices=\"{v}\"")),
                "{h}: {table}"
            );
        } else {
            assert!(!why.contains(&format!("data-category=\"{h}\"")), "{h}");
        }
    }
    assert!(
        nonzero > 0,
        "the P1 fleet has workgroup and registered-only devices"
    );
    // Each row says what would fix it.
    assert_eq!(table.matches("<tr data-why=").count(), nonzero);
    assert!(table.contains("Workgroup"), "{table}");
    assert!(
        !table.contains("see docs/MODEL.md"),
        "a reason without a fix: {table}"
    );
}

#[test]
fn report_reads_compare_and_sweep_folders_with_bands_and_paired_differences() {
    let d = Dir::new();
    d.write("p1.toml", P1);
    d.write("p1b.toml", &P1.replace("mean_days = 5", "mean_days = 1"));
    let o = d.fleetsim(&[
        "compare",
        "p1.toml",
        "p1b.toml",
        "--replications",
        "4",
        "--devices",
        "400",
        "--out",
        "cmp",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["report", "cmp", "--out", "cmp.html", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("cmp.html");
    // Mean curves with p10/p90 bands, one per scenario, in percent of the mean eligible.
    let cmp = csv_rows(&d.read("cmp/comparison.csv"));
    let h = |n: &str| cmp[0].iter().position(|c| c == n).unwrap();
    let mean_of = |scenario: &str, metric: &str| -> f64 {
        cmp.iter()
            .find(|r| r[0] == scenario && r[h("metric")] == metric)
            .unwrap()[h("mean")]
        .parse()
        .unwrap()
    };
    let tm = csv_rows(&d.read("cmp/timeline_mean.csv"));
    let chart_co = chart(&html, "compare-co-managed");
    for scenario in ["tiny", "tiny-2"] {
        let el = mean_of(scenario, "eligible");
        let co = tm[0]
            .iter()
            .position(|c| c == "state_co_managed_mean")
            .unwrap();
        let want: Vec<f64> = tm[1..]
            .iter()
            .filter(|r| r[0] == scenario)
            .map(|r| r[co].parse::<f64>().unwrap() / el * 100.0)
            .collect();
        let got = series(chart_co, scenario);
        assert_eq!(got.len(), want.len(), "{scenario}");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-3, "{scenario}: {g} vs {w}");
        }
        assert!(
            chart_co.contains(&format!("class=\"band\" data-series=\"{scenario}\"")),
            "{scenario}: no band"
        );
    }
    // The paired differences, as comparison.csv has them.
    let row = cmp
        .iter()
        .find(|r| r[0] == "tiny-2" && r[h("metric")] == "days_to_90pct")
        .unwrap();
    let cell = format!(
        "data-metric=\"days_to_90pct\" data-scenario=\"tiny-2\" data-diff=\"{}\" data-low=\"{}\" data-high=\"{}\"",
        row[h("diff_mean")],
        row[h("diff_ci95_low")],
        row[h("diff_ci95_high")]
    );
    assert!(html.contains(&cell), "{cell}");
    assert!(html.contains("data-card=\"differences\""));

    // A sweep folder too.
    let o = d.fleetsim(&[
        "sweep",
        "p1.toml",
        "--set",
        "remediation.default.mean_days=1,9",
        "--replications",
        "2",
        "--devices",
        "300",
        "--out",
        "sw",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["report", "sw", "--out", "sw.html", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("sw.html");
    let c = chart(&html, "compare-co-managed");
    assert!(
        c.contains("data-series=\"remediation.default.mean_days=1\""),
        "{c:.2000}"
    );
    assert!(c.contains("data-series=\"remediation.default.mean_days=9\""));
    assert!(html.contains("Paired differences against remediation.default.mean_days=1"));
}

#[test]
fn report_of_two_runs_shows_what_differs_side_by_side() {
    let d = Dir::new();
    for (s, out) in [("workload-by-workload", "a"), ("autopatch-rings", "b")] {
        let o = d.fleetsim(&["run", s, "--devices", "2000", "--out", out, "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = d.fleetsim(&["report", "a", "b", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("report.html");
    // One chart per workload that moved, one line per run, as the timelines have them.
    let ta = csv_rows(&d.read("a/timeline.csv"));
    let tb = csv_rows(&d.read("b/timeline.csv"));
    let wl = chart(&html, "compare-wl-compliance-policies");
    assert_eq!(
        series(wl, "a"),
        column(&ta, "wl_compliance_policies_intune")
    );
    assert_eq!(
        series(wl, "b"),
        column(&tb, "wl_compliance_policies_intune")
    );
    for id in ["compare-incidents", "compare-tickets"] {
        assert_eq!(
            chart(&html, id).matches("class=\"series\"").count(),
            2,
            "{id}"
        );
    }
    // The table: incidents, tickets, blast radius and days to each workload, per run.
    let table = between(&html, "data-card=\"differences\"", "", "</figure>").unwrap();
    for metric in [
        "incidents_total",
        "helpdesk_tickets",
        "blast_radius",
        "days_to_compliance_policies_intune",
    ] {
        assert!(
            table.contains(&format!("data-metric=\"{metric}\"")),
            "{metric}"
        );
    }
    let sa = csv_rows(&d.read("a/summary.csv"));
    let i = sa[0].iter().position(|h| h == "blast_radius").unwrap();
    let row = between(table, "data-metric=\"blast_radius\"", "<td>", "</td>").unwrap();
    assert_eq!(row.replace(',', ""), sa[1][i]);
}

/// A program the test needs: its path, or a failure that says how to get it, unless the
/// variable `skip` is `1` (then `None`: the caller returns, and says it skipped).
fn required_program(names: &[&str], package: &str, skip: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var(skip).as_deref() == Ok("1") {
            eprintln!("note: {skip}=1 and {} is missing: skipped", names[0]);
            return None;
        }
        panic!(
            "{} is not installed: this test needs it (Debian: apt-get install {package}; .ci/run installs it). Set {skip}=1 to skip this test on purpose.",
            names[0]
        );
    }
    found
}

fn run_tool(program: &Path, args: &[&str], cwd: &Path) -> String {
    let o = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    assert!(
        o.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn workbook_reads_back_with_fitted_columns_and_prints_one_chart_per_page() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let d = Dir::new();
    let o = d.fleetsim(&[
        "run",
        "workload-by-workload",
        "--devices",
        "2000",
        "--out",
        "run",
        "--xlsx",
        "run.xlsx",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = d.path().join("run.xlsx");

    // The summary: a two-column sheet, metric and value, numbers as numbers.
    let csv = csv_rows(&d.read("run/summary.csv"));
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    let summary = wb.worksheet_range("summary").unwrap();
    assert_eq!(summary.get_size(), (csv[0].len() + 1, 2));
    assert_eq!(summary.get((0, 0)), Some(&Data::String("metric".into())));
    for (i, (h, v)) in csv[0].iter().zip(&csv[1]).enumerate() {
        assert_eq!(summary.get((i + 1, 0)), Some(&Data::String(h.clone())));
        match summary.get((i + 1, 1)) {
            Some(Data::Float(x)) => assert_eq!(*x, v.parse::<f64>().unwrap(), "{h}"),
            Some(Data::String(s)) => assert_eq!(s, v, "{h}"),
            Some(Data::DateTime(_)) => assert_eq!(h, "start_date"),
            Some(Data::Empty) | None => assert_eq!(v, "", "{h}"),
            other => panic!("{h}: {other:?}"),
        }
    }

    // Column widths fit the headers: every column of every data sheet has a width of at
    // least its header's length.
    let names = wb.sheet_names();
    for (k, name) in names.iter().enumerate().filter(|(_, n)| *n != "charts") {
        let range = wb.worksheet_range(name).unwrap();
        let xml = super::zip_entry(&path, &format!("xl/worksheets/sheet{}.xml", k + 1))
            .unwrap_or_else(|| panic!("no sheet{} for {name}", k + 1));
        for c in 0..range.get_size().1 {
            let Some(Data::String(header)) = range.get((0, c)) else {
                continue;
            };
            // `<col min max width>` elements; neighbours of one width share an element.
            let width: f64 = xml
                .match_indices("<col ")
                .find_map(|(i, _)| {
                    let e = &xml[i..i + xml[i..].find("/>").unwrap()];
                    let n = |a: &str| {
                        between(e, "", &format!("{a}=\""), "\"")
                            .unwrap()
                            .to_string()
                    };
                    let (lo, hi): (usize, usize) =
                        (n("min").parse().unwrap(), n("max").parse().unwrap());
                    (lo <= c + 1 && c < hi).then(|| n("width").parse().unwrap())
                })
                .unwrap_or_else(|| panic!("{name}: column {c} ({header}) has no width"));
            assert!(
                width >= header.chars().count() as f64,
                "{name}: column `{header}` is {width} wide"
            );
        }
    }

    // Printed through LibreOffice: each chart on a page of its own, then the tables.
    let Some(office) = required_program(
        &["libreoffice", "soffice"],
        "libreoffice-calc-nogui",
        "FLEETSIM_SKIP_LIBREOFFICE",
    ) else {
        return;
    };
    let Some(pdftotext) =
        required_program(&["pdftotext"], "poppler-utils", "FLEETSIM_SKIP_LIBREOFFICE")
    else {
        return;
    };
    let pdfinfo = required_program(&["pdfinfo"], "poppler-utils", "FLEETSIM_SKIP_LIBREOFFICE")
        .expect("pdfinfo comes with pdftotext");
    let profile = format!(
        "-env:UserInstallation=file://{}/lo-profile",
        d.path().display()
    );
    run_tool(
        &office,
        &[
            &profile,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            "pdf",
            "run.xlsx",
        ],
        d.path(),
    );
    let pdf = d.path().join("pdf/run.pdf");
    assert!(pdf.exists(), "LibreOffice wrote no PDF");
    let info = run_tool(&pdfinfo, &[pdf.to_str().unwrap()], d.path());
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut titles = Vec::new();
    for n in 1.. {
        match super::zip_entry(&path, &format!("xl/charts/chart{n}.xml")) {
            Some(xml) => titles.push(
                between(&xml, "<c:title>", "<a:t>", "</a:t>")
                    .unwrap()
                    .to_string(),
            ),
            None => break,
        }
    }
    assert!(titles.len() >= 2, "the run moves workloads: {titles:?}");
    assert!(pages > titles.len());
    // A page's text with runs of white space as one space (titles wrap).
    let page_text = |p: usize| {
        run_tool(
            &pdftotext,
            &[
                "-f",
                &p.to_string(),
                "-l",
                &p.to_string(),
                pdf.to_str().unwrap(),
                "-",
            ],
            d.path(),
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
    };
    for (k, title) in titles.iter().enumerate() {
        let text = page_text(k + 1);
        for (j, other) in titles.iter().enumerate() {
            assert_eq!(
                text.contains(other.as_str()),
                j == k,
                "page {} should hold chart `{title}` alone: {text:.400}",
                k + 1
            );
        }
    }
    // The next page is the timeline sheet's first: nothing of a chart spilled over.
    let next = page_text(titles.len() + 1);
    assert!(
        next.trim_start().starts_with("day"),
        "page {} should start the timeline: {next:.300}",
        titles.len() + 1
    );
}

#[test]
fn one_vocabulary_of_flags() {
    let d = Dir::new();
    // -q/--quiet on every command; -o/--out wherever something is written.
    for cmd in [
        "run", "list", "bench", "check", "verify", "compare", "sweep", "merge", "report",
    ] {
        let help = d.fleetsim(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&help.stdout).to_string();
        assert!(text.contains("-q, --quiet"), "{cmd}: {text}");
        if ["run", "compare", "sweep", "merge", "report"].contains(&cmd) {
            assert!(text.contains("-o, --out"), "{cmd}: {text}");
        }
        // --threads says what 0 means instead of a default that contradicts its help.
        assert!(!text.contains("[default: 0]"), "{cmd}: {text}");
    }
    let help = d.fleetsim(&["baseline", "update", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("-q, --quiet"));
    let help = d.fleetsim(&["verify", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("fleetsim verify [OPTIONS] --all"));
    // report's old --output still works (hidden).
    assert!(
        run_p1(&d, &["-o", "run", "-q", "--devices", "200", "--days", "3"])
            .status
            .success()
    );
    let o = d.fleetsim(&["report", "run", "--output", "old.html", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // --set KEY=VALUE on run, check and compare, validated like sweep's.
    let o = run_p1(
        &d,
        &[
            "--set",
            "fleet.devices=150",
            "--days",
            "2",
            "-o",
            "set",
            "-q",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s = csv_rows(&d.read("set/summary.csv"));
    let i = s[0].iter().position(|h| h == "devices").unwrap();
    assert_eq!(s[1][i], "150");
    let o = d.fleetsim(&["check", "p1.toml", "--set", "fleet.devices=1.5", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--set fleet.devices=1.5: invalid scenario"),
        "{}",
        stderr(&o)
    );
    let o = d.fleetsim(&["run", "p1.toml", "--set", "fleet.devices=1,2", "-o", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("fleetsim sweep"), "{}", stderr(&o));
    assert!(!d.path().join("x").exists());
    let o = d.fleetsim(&[
        "compare",
        "p1.toml",
        "p1.toml",
        "--set",
        "fleet.devices=120",
        "--days",
        "2",
        "--replications",
        "2",
        "-o",
        "cmp",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        d.read("cmp/comparison.csv")
            .contains("tiny,devices,2,2,120.0000")
    );

    // list shows the user's own ./scenarios/ files; an unknown name says where it looked.
    std::fs::create_dir(d.path().join("scenarios")).unwrap();
    d.write("scenarios/mine.toml", P1);
    let o = d.fleetsim(&["list"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("In ./scenarios/") && out.contains("mine"),
        "{out}"
    );
    assert!(out.contains("autopatch-rings"), "{out}");
    let o = d.fleetsim(&["run", "nosuch", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!(
            "scenarios{}nosuch.toml",
            std::path::MAIN_SEPARATOR
        )),
        "{}",
        stderr(&o)
    );
}
