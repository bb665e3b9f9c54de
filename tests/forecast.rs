//! `fleetsim forecast`: its files, their statistics, determinism across threads and shards,
//! and that the sensitivity ranking finds the value that matters.

use super::{Dir, csv_rows, stderr};

/// A scenario where the enrollment window's cap decides the pace (20,000 devices at 100 days
/// per 100,000 would take 20 days; the cap, ranged 2 to 16, cuts that) and a remediation mean
/// that barely matters is ranged too.
const CAP: &str = "name = \"cap\"\nseed = 11\nstart_date = 2027-01-04\ndays = 40\n\
[fleet]\ndevices = 20000\n[co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"all\"\n\
[timing]\nrandomization_days_per_100k = 100\nrandomization_max_days = { low = 2, high = 16 }\n\
[remediation]\ndefault = { mean_days = { low = 1, high = 30 } }\n";

/// `tiny` with two ranges given on the command line.
const TINY_RANGES: [&str; 5] = [
    "tiny",
    "--set",
    "timing.randomization_max_days={ low = 1, high = 10 }",
    "--set",
    "enrollment.failure_rate={ low = 0.01, high = 0.3 }",
];

fn forecast(d: &Dir, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["forecast"];
    args.extend(TINY_RANGES);
    args.extend(extra);
    let o = d.fleetsim(&args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

fn col(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]))
}

fn num(cell: &str) -> f64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("not a number: {cell:?}"))
}

/// Every file of a forecast folder, sorted by name, with its bytes.
fn files(d: &Dir, out: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d.path().join(out))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn forecast_files_have_their_columns_and_ordered_percentiles() {
    let d = Dir::new();
    let o = forecast(&d, &["--samples", "6", "--replications", "2", "--out", "f"]);
    assert!(
        stderr(&o).contains("6 samples x 2 replications"),
        "{}",
        stderr(&o)
    );
    let names: Vec<String> = files(&d, "f").into_iter().map(|(n, _)| n).collect();
    for f in [
        "forecast.csv",
        "milestones.csv",
        "samples.csv",
        "sensitivity.csv",
    ] {
        assert!(names.contains(&f.to_string()), "{f} missing: {names:?}");
    }

    // forecast.csv: one row per day, five ordered percentiles per quantity.
    let fc = csv_rows(&d.read("f/forecast.csv"));
    assert_eq!(&fc[0][..2], ["day", "date"]);
    assert_eq!(fc.len(), 31, "30 days of tiny");
    let prefixes: Vec<String> = fc[0][2..]
        .iter()
        .filter_map(|h| h.strip_suffix("_p5").map(String::from))
        .collect();
    assert_eq!(prefixes[0], "co_managed_pct");
    assert!(prefixes.contains(&"wl_compliance_policies_intune_pct".to_string()));
    assert_eq!(prefixes.last().unwrap(), "gateway_peak_concurrent_clients");
    assert_eq!(fc[0].len(), 2 + 5 * prefixes.len());
    for p in &prefixes {
        let cols: Vec<usize> = ["p5", "p10", "p50", "p90", "p95"]
            .iter()
            .map(|s| col(&fc, &format!("{p}_{s}")))
            .collect();
        for row in &fc[1..] {
            let v: Vec<f64> = cols.iter().map(|c| num(&row[*c])).collect();
            assert!(
                v.windows(2).all(|w| w[0] <= w[1]),
                "{p} day {}: {v:?}",
                row[0]
            );
            if p.ends_with("_pct") {
                assert!(v.iter().all(|x| (0.0..=100.0).contains(x)), "{p}: {v:?}");
            }
        }
    }
    // The co-managed share's median never falls far: it ends above where it starts.
    let p50 = col(&fc, "co_managed_pct_p50");
    assert!(num(&fc[30][p50]) > num(&fc[1][p50]));

    // milestones.csv: every days_to_* milestone of summary.csv, over all 12 runs.
    let ms = csv_rows(&d.read("f/milestones.csv"));
    assert_eq!(
        ms[0],
        [
            "milestone",
            "runs",
            "reached",
            "reached_pct",
            "p5",
            "p10",
            "p50",
            "p90",
            "p95",
            "min",
            "max"
        ]
    );
    let names: Vec<&str> = ms[1..].iter().map(|r| r[0].as_str()).collect();
    for m in [
        "days_to_50pct",
        "days_to_90pct",
        "days_to_99pct_path1",
        "days_to_compliance_policies_intune",
    ] {
        assert!(names.contains(&m), "{m} missing: {names:?}");
    }
    for row in &ms[1..] {
        assert_eq!(row[1], "12");
        let reached: usize = row[2].parse().unwrap();
        // p5 … p95: ordered, and empty only from some point on (never reached); min ≤ p5 and
        // p95 ≤ max where given.
        let get = |i: usize| (!row[i].is_empty()).then(|| num(&row[i]));
        let ps: Vec<Option<f64>> = (4..9).map(get).collect();
        let first_empty = ps.iter().position(Option::is_none).unwrap_or(5);
        assert!(ps[first_empty..].iter().all(Option::is_none), "{row:?}");
        let v: Vec<f64> = ps.iter().flatten().copied().collect();
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        if let (Some(min), Some(p5)) = (get(9), ps[0]) {
            assert!(min <= p5, "{row:?}");
        }
        if let (Some(max), Some(p95)) = (get(10), ps[4]) {
            assert!(p95 <= max, "{row:?}");
        }
        assert_eq!(
            reached == 12,
            !row[10].is_empty(),
            "max is empty iff a run never reached it: {row:?}"
        );
        assert_eq!(reached == 0, row[9].is_empty(), "{row:?}");
    }

    // samples.csv: one row per sample, values inside their ranges, one in each sixth.
    let sa = csv_rows(&d.read("f/samples.csv"));
    assert_eq!(
        sa[0],
        [
            "sample",
            "timing.randomization_max_days",
            "enrollment.failure_rate"
        ]
    );
    assert_eq!(sa.len(), 7);
    let mut strata: Vec<usize> = sa[1..]
        .iter()
        .map(|r| ((num(&r[1]) - 1.0) / 9.0 * 6.0) as usize)
        .collect();
    strata.sort_unstable();
    assert_eq!(strata, [0, 1, 2, 3, 4, 5], "a Latin hypercube: {sa:?}");
    assert!(sa[1..].iter().all(|r| (0.01..=0.3).contains(&num(&r[2]))));

    // sensitivity.csv: per milestone, both ranges ranked 1 and 2 by |spearman|.
    let se = csv_rows(&d.read("f/sensitivity.csv"));
    assert_eq!(
        se[0],
        ["milestone", "rank", "parameter", "spearman", "abs_spearman"]
    );
    assert_eq!(se.len() - 1, 2 * (ms.len() - 1));
    for pair in se[1..].chunks(2) {
        assert_eq!(pair[0][0], pair[1][0]);
        assert_eq!((pair[0][1].as_str(), pair[1][1].as_str()), ("1", "2"));
        if let (Ok(a), Ok(b)) = (pair[0][4].parse::<f64>(), pair[1][4].parse::<f64>()) {
            assert!(a >= b, "{pair:?}");
            assert!((-1.0..=1.0).contains(&num(&pair[0][3])));
        } else {
            assert!(
                pair[1][4].is_empty(),
                "an empty correlation ranks last: {pair:?}"
            );
        }
    }
}

#[test]
fn forecast_files_are_identical_for_any_thread_count_and_from_merged_shards() {
    let d = Dir::new();
    let base = ["--samples", "5", "--replications", "2", "-q"];
    let mut one = base.to_vec();
    one.extend(["--threads", "1", "--out", "t1"]);
    forecast(&d, &one);
    let mut two = base.to_vec();
    two.extend(["--threads", "2", "--out", "t2"]);
    forecast(&d, &two);
    let want = files(&d, "t1");
    assert!(files(&d, "t2") == want, "--threads 1 and 2 differ");

    for n in [2usize, 3] {
        let mut dirs = Vec::new();
        for k in 1..=n {
            let (shard, dir) = (format!("{k}/{n}"), format!("s{n}-{k}"));
            let mut args = base.to_vec();
            args.extend(["--shard", &shard, "--out", &dir]);
            forecast(&d, &args);
            dirs.push(dir);
        }
        dirs.reverse();
        let out = format!("m{n}");
        let mut args = vec!["merge"];
        args.extend(dirs.iter().map(String::as_str));
        args.extend(["--out", &out, "-q"]);
        let o = d.fleetsim(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            files(&d, &out) == want,
            "N = {n}: merged files differ from one machine"
        );
    }
    let manifest: serde_json::Value = serde_json::from_str(&d.read("s2-1/manifest.json")).unwrap();
    assert_eq!(manifest["command"], "forecast");
}

#[test]
fn sensitivity_ranks_the_window_cap_first_when_it_sets_the_pace() {
    let d = Dir::new();
    d.write("cap.toml", CAP);
    let o = d.fleetsim(&[
        "forecast",
        "cap.toml",
        "--samples",
        "10",
        "--out",
        "cap",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let se = csv_rows(&d.read("cap/sensitivity.csv"));
    for m in ["days_to_50pct", "days_to_90pct", "days_to_95pct"] {
        let first = se[1..]
            .iter()
            .find(|r| r[0] == m && r[1] == "1")
            .unwrap_or_else(|| panic!("no rank 1 for {m}"));
        assert_eq!(first[2], "timing.randomization_max_days", "{m}: {first:?}");
        assert!(num(&first[3]) > 0.8, "a longer cap means later: {first:?}");
    }
    // And the milestone's spread is the cap's: p95 well after p5.
    let ms = csv_rows(&d.read("cap/milestones.csv"));
    let row = ms.iter().find(|r| r[0] == "days_to_90pct").unwrap();
    assert!(num(&row[8]) - num(&row[4]) > 5.0, "{row:?}");
}

#[test]
fn forecast_refuses_a_scenario_without_ranges_and_bad_arguments() {
    let d = Dir::new();
    let o = d.fleetsim(&["forecast", "tiny", "--samples", "4", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("no ranged values") && e.contains("randomization_max_days"),
        "{e}"
    );
    for args in [
        vec!["forecast", "tiny"],
        vec!["forecast", "tiny", "--samples", "1"],
        vec!["forecast", "tiny", "--samples", "4", "--replications", "0"],
        vec![
            "forecast",
            "tiny",
            "--samples",
            "4",
            "--set",
            "timing.randomization_max_days={ low = 9, high = 2 }",
        ],
        vec![
            "forecast",
            "tiny",
            "--samples",
            "4",
            "--set",
            "enrollment.failure_rate={ low = 0.1, high = 2 }",
        ],
    ] {
        let o = d.fleetsim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(d.entries().is_empty(), "nothing written: {:?}", d.entries());
}

#[test]
fn report_draws_a_fan_chart_and_the_ranking_of_a_forecast() {
    let d = Dir::new();
    d.write("cap.toml", CAP);
    let o = d.fleetsim(&[
        "forecast",
        "cap.toml",
        "--samples",
        "4",
        "--out",
        "cap",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["report", "cap", "-o", "r.html", "--svg", "svg", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = d.read("r.html");
    for card in [
        "forecast-fan",
        "forecast-sensitivity",
        "forecast-milestones",
    ] {
        assert!(html.contains(&format!("data-card=\"{card}\"")), "{card}");
    }
    // Two bands (p5–p95 outside p10–p90) and the p50 line, with the numbers of forecast.csv.
    let fan = d.read("svg/forecast-fan.svg");
    assert_eq!(fan.matches("class=\"band\"").count(), 2, "{fan}");
    assert!(fan.contains("p5–p95") && fan.contains("p10–p90"));
    let fc = csv_rows(&d.read("cap/forecast.csv"));
    let p50 = col(&fc, "co_managed_pct_p50");
    let last = num(&fc.last().unwrap()[p50]);
    assert!(
        fan.contains(&format!("{last:.1}%")) || fan.contains(&format!("{last}")),
        "the p50 line carries the file's numbers"
    );
    let bars = d.read("svg/forecast-sensitivity.svg");
    let cap = bars.find("timing.randomization_max_days").expect("cap bar");
    let rem = bars
        .find("remediation.default.mean_days")
        .expect("remediation bar");
    assert!(cap < rem, "the cap's bar comes first");
    // A forecast folder is not mixed with run folders.
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["report", "cap", "run", "-o", "mixed.html"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!d.path().join("mixed.html").exists());
}
