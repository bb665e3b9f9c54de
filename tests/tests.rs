//! Command-line tests: run the real `fleetsim` binary in a temporary folder.

mod bounds;
mod calibrate;
mod forecast;
mod inventory;
mod mutate;
mod report;
mod safety;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary working folder with a copy of nothing: each test starts clean.
struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn fleetsim(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run fleetsim")
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = walk(self.path())
            .into_iter()
            .map(|p| p.strip_prefix(self.path()).unwrap().display().to_string())
            .collect();
        v.sort();
        v
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            out.extend(walk(&e));
        }
        out.push(e);
    }
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    std::iter::once(header)
        .chain(
            r.records()
                .map(|x| x.unwrap().iter().map(String::from).collect()),
        )
        .collect()
}

const TINY: &str = "name = \"mini\"\nseed = 3\nstart_date = 2027-01-04\ndays = 5\n[fleet]\ndevices = 300\n[co_management]\nenable_date = 2027-01-04\n";

#[test]
fn same_seed_gives_identical_files_for_any_thread_count() {
    let d = Dir::new();
    let mut outputs = vec![];
    for threads in ["1", "2", "4", "8"] {
        let out = format!("out{threads}");
        let o = d.fleetsim(&[
            "run",
            "tiny",
            "--threads",
            threads,
            "--out",
            &out,
            "--events",
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        outputs.push(
            ["timeline.csv", "summary.csv", "events.csv"].map(|f| d.read(&format!("{out}/{f}"))),
        );
    }
    for o in &outputs[1..] {
        assert!(o == &outputs[0], "outputs differ between thread counts");
    }
    // And a different seed gives a different run.
    let o = d.fleetsim(&["run", "tiny", "--seed", "8", "--out", "other", "-q"]);
    assert!(o.status.success());
    assert_ne!(d.read("other/timeline.csv"), outputs[0][0]);
}

#[test]
fn timeline_states_sum_to_the_fleet_and_counters_never_fall() {
    let d = Dir::new();
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "-q", "--bucket", "hour"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv_rows(&d.read("run/timeline.csv"));
    let h = &rows[0];
    assert_eq!(&h[..3], ["hour", "datetime", "devices_total"]);
    assert_eq!(rows.len() - 1, 30 * 24);
    assert_eq!(rows[1][1], "2027-01-04 00:00");
    let states: Vec<usize> = (0..h.len())
        .filter(|i| h[*i].starts_with("state_"))
        .collect();
    let gateway: Vec<usize> = (0..h.len())
        .filter(|i| h[*i].starts_with("gateway_"))
        .collect();
    assert_eq!(gateway.len(), 5);
    // The block of states comes before the gateway; states added later end the file.
    let block = states.iter().filter(|i| **i < gateway[0]).count();
    assert_eq!(gateway[0], states[block - 1] + 1);
    let later = states.len() - block;
    assert!(later >= 1, "state_awaiting_mdm_migration ends the file");
    assert_eq!(
        states[block..],
        (h.len() - later..h.len()).collect::<Vec<_>>()[..]
    );
    let end = h.len() - later;
    assert_eq!(&h[end - 2..end], ["gateway_capacity", "gateway_queue"]);
    let counters: Vec<usize> = (gateway[2] + 1..end - 2).collect();
    let col = |name: &str| h.iter().position(|x| x == name).unwrap();
    let (arrived, queued, installing) = (
        col("path2_devices_arrived"),
        col("state_client_install_queued"),
        col("state_client_installing"),
    );
    let mut prev = vec![0u64; h.len()];
    for row in &rows[1..] {
        let n = |i: usize| row[i].parse::<u64>().unwrap();
        assert_eq!(states.iter().map(|i| n(*i)).sum::<u64>(), n(2));
        // The fleet is the existing 2,000 plus the new devices arrived so far.
        assert_eq!(n(2), 2000 + n(arrived));
        // The load is the installs plus the online internet clients' notification channels.
        assert!(n(gateway[0]) >= n(installing));
        assert_eq!(n(gateway[1]), n(queued));
        assert!(n(gateway[4]) >= n(queued), "the row's most waiting");
        for i in &counters {
            assert!(n(*i) >= prev[*i], "{} fell", h[*i]);
            prev[*i] = n(*i);
        }
    }
}

#[test]
fn summary_reports_milestones_and_reasons() {
    let d = Dir::new();
    assert!(
        d.fleetsim(&["run", "tiny", "--out", "run", "-q"])
            .status
            .success()
    );
    let rows = csv_rows(&d.read("run/summary.csv"));
    assert_eq!(rows.len(), 2);
    let get = |k: &str| {
        rows[1][rows[0]
            .iter()
            .position(|h| h == k)
            .unwrap_or_else(|| panic!("{k}"))]
        .clone()
    };
    assert_eq!(get("scenario"), "tiny");
    let devices: u64 = get("devices").parse().unwrap();
    assert!(devices > 2000, "tiny adds new Path 2 devices");
    let eligible: u64 = get("eligible").parse().unwrap();
    let reasons: u64 = rows[0]
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("reason_"))
        .map(|(i, _)| rows[1][i].parse::<u64>().unwrap())
        .sum();
    assert_eq!(eligible + reasons, devices);
    let by_path: u64 = get("eligible_path1").parse::<u64>().unwrap()
        + get("eligible_path2").parse::<u64>().unwrap();
    assert_eq!(by_path, eligible);
    let d50: f64 = get("days_to_50pct").parse().unwrap();
    let d90: f64 = get("days_to_90pct").parse().unwrap();
    assert!(d50 > 0.0 && d50 <= d90, "{d50} {d90}");
}

#[test]
fn events_are_written_on_request_and_sampled() {
    let d = Dir::new();
    assert!(
        d.fleetsim(&["run", "tiny", "--out", "all", "-q", "--events"])
            .status
            .success()
    );
    assert!(
        d.fleetsim(&["run", "tiny", "--out", "some", "-q", "--events", "0.1"])
            .status
            .success()
    );
    assert!(
        d.fleetsim(&["run", "tiny", "--out", "none", "-q"])
            .status
            .success()
    );
    assert!(!d.path().join("none/events.csv").exists());
    let all = csv_rows(&d.read("all/events.csv"));
    let some = csv_rows(&d.read("some/events.csv"));
    assert_eq!(all[0], ["device", "time", "from", "to", "detail"]);
    // One "initial" row per device, then its changes.
    assert_eq!(
        all.iter().filter(|r| r[4].starts_with("initial")).count(),
        2000
    );
    assert!(
        some.len() * 5 < all.len() && some.len() > 20,
        "{} vs {}",
        some.len(),
        all.len()
    );
    assert!(
        all[1..].windows(2).all(|w| w[0][1] <= w[1][1]),
        "events in time order"
    );
    assert!(
        all.iter()
            .any(|r| r[3] == "co_managed" && r[4] == "enrolled")
    );
}

#[test]
fn bad_scenarios_exit_2_name_file_line_field_and_write_nothing() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[timing]\npolicy_pol_minutes = 60\n",
            "line 10",
            "unknown field",
        ),
        (
            "[timing]\npolicy_poll_minutes = \"1h\"\n",
            "line 10",
            "whole number",
        ),
        (
            "[enrollment]\nfailure_rate = 2\n",
            "line 10",
            "between 0 and 1",
        ),
        (
            "[fleet.usage]\noffice_hours = 0.5\n",
            "fleet.usage",
            "sum to 1",
        ),
        (
            "[timing]\nenrollment_retry_minutes = -5\n",
            "line 10",
            "cannot be negative",
        ),
        (
            "[enrollment]\nfailure_rate = { low = 0.5, high = 0.2 }\n",
            "line 10",
            "low <= high",
        ),
        (
            "[fleet.location.by_usage.laptop_intermittent]\nvpn = 0.5\n",
            "fleet.location.by_usage.laptop_intermittent",
            "sum to 1",
        ),
        (
            "[fleet.os.by_site.P09]\nwindows_7 = 1.0\n",
            "line 9",
            "unknown site \"P09\": expected a [[sites]] code: P01",
        ),
        (
            "[fleet.usage.by_os.windows_7]\nalways_on = 1.0\n",
            "line 9",
            "drawn before",
        ),
        ("[[collections]]\nname = \"A\"\nshare = 0.1\n", "", ""),
    ];
    for (extra, place, what) in cases {
        let d = Dir::new();
        let file = d.write("bad.toml", &format!("{TINY}{extra}"));
        let o = d.fleetsim(&["run", file.to_str().unwrap()]);
        if place.is_empty() {
            assert!(o.status.success(), "{}", stderr(&o));
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("bad.toml"), "{e}");
        assert!(e.contains(place), "{place}: {e}");
        assert!(e.contains(what), "{what}: {e}");
        assert!(e.contains("field `"), "{e}");
        assert_eq!(d.entries(), ["bad.toml"], "nothing written");
    }
    // A pilot collection that does not exist.
    let d = Dir::new();
    let text = TINY.replace(
        "enable_date = 2027-01-04\n",
        "enable_date = 2027-01-04\nauto_enrollment = \"pilot\"\npilot_collection = \"Ghost\"\n",
    );
    let file = d.write("bad.toml", &text);
    let o = d.fleetsim(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("line 10")
            && e.contains("co_management.pilot_collection")
            && e.contains("Ghost"),
        "{e}"
    );
    assert_eq!(d.entries(), ["bad.toml"]);
}

#[test]
fn ranged_values_run_at_their_centre_and_say_so() {
    let d = Dir::new();
    let ranged = d.write(
        "ranged.toml",
        &format!("{TINY}[timing]\nrandomization_days_per_100k = {{ low = 1, high = 6 }}\n"),
    );
    let plain = d.write(
        "plain.toml",
        &format!("{TINY}[timing]\nrandomization_days_per_100k = 3.5\n"),
    );
    let o = d.fleetsim(&["run", ranged.to_str().unwrap(), "--out", "r"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("ranged values: timing.randomization_days_per_100k = 3.5 (midpoint of 1..6)"),
        "{}",
        stderr(&o)
    );
    let o = d.fleetsim(&["run", plain.to_str().unwrap(), "--out", "p", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(d.read("r/timeline.csv"), d.read("p/timeline.csv"));
    let o = d.fleetsim(&["run", ranged.to_str().unwrap(), "--out", "q", "-q"]);
    assert!(!stderr(&o).contains("ranged values"), "{}", stderr(&o));
}

#[test]
fn unknown_scenario_name_exits_2_and_lists_the_names() {
    let d = Dir::new();
    let o = d.fleetsim(&["run", "no-such-scenario"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("path1-existing-clients"),
        "{}",
        stderr(&o)
    );
    assert!(d.entries().is_empty());
    let o = d.fleetsim(&["run", "missing.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"));
}

#[test]
fn bad_overrides_exit_2() {
    let d = Dir::new();
    for args in [
        ["--devices", "0"],
        ["--days", "0"],
        ["--events", "1.5"],
        ["--threads", "x"],
    ] {
        let o = d.fleetsim(&["run", "path1-pilot-collection", args[0], args[1]]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    assert!(d.entries().is_empty());
}

#[test]
fn existing_results_are_kept_without_force() {
    let d = Dir::new();
    assert!(d.fleetsim(&["run", "tiny", "-q"]).status.success());
    let before = d.read("results/tiny/summary.csv");
    let o = d.fleetsim(&["run", "tiny", "--seed", "99"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"));
    assert_eq!(d.read("results/tiny/summary.csv"), before);
    let o = d.fleetsim(&["run", "tiny", "--seed", "99", "--force", "-q"]);
    assert!(o.status.success());
    assert_ne!(d.read("results/tiny/summary.csv"), before);
    assert_eq!(
        d.entries(),
        [
            "results",
            "results/tiny",
            "results/tiny/.fleetsim-output",
            "results/tiny/breakdown.csv",
            "results/tiny/decisions.csv",
            "results/tiny/site_timeline.csv",
            "results/tiny/summary.csv",
            "results/tiny/timeline.csv"
        ]
    );
}

#[test]
fn scenario_text_cannot_become_a_formula() {
    let d = Dir::new();
    let file = d.write(
        "f.toml",
        &TINY.replace("name = \"mini\"", "name = \"=HYPERLINK(1)\""),
    );
    let o = d.fleetsim(&["run", file.to_str().unwrap(), "--out", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv_rows(&d.read("run/summary.csv"));
    assert_eq!(rows[1][0], "'=HYPERLINK(1)");
}

#[test]
fn list_shows_every_named_scenario() {
    let d = Dir::new();
    let o = d.fleetsim(&["list"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for name in [
        "mixed-enterprise-1m",
        "path1-existing-clients",
        "path1-pilot-collection",
        "path2-autopilot-internet",
        "tiny",
    ] {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains("(default)"));
}

#[test]
fn bench_reports_time_per_device_and_event_and_peak_bytes_per_device_and_writes_nothing() {
    let d = Dir::new();
    let o = d.fleetsim(&["bench", "tiny", "--repeat", "2", "--threads", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.matches("ns/device, ").count(), 3, "{text}");
    assert!(text.contains("run 2: "), "{text}");
    let best = text.lines().find(|l| l.starts_with("best ")).expect(&text);
    let field = |unit: &str| -> f64 {
        let before = best.split(unit).next().unwrap();
        before
            .split([' ', ','])
            .rfind(|w| !w.is_empty())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(field(" ns/device") > 0.0, "{best}");
    assert!(field(" ns/event") > 0.0, "{best}");
    if cfg!(target_os = "linux") {
        assert!(field(" bytes/device") > 0.0, "{best}");
    }
    assert!(d.entries().is_empty(), "{:?}", d.entries());
}

#[test]
fn named_scenarios_in_the_repository_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        // Beside the scenarios: the inventories they name (tests/inventory.rs checks those).
        if p.extension().is_some_and(|x| x == "csv") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        fleetsim_model::Scenario::from_toml(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

#[test]
fn a_local_scenarios_folder_is_found_by_name() {
    let d = Dir::new();
    std::fs::create_dir(d.path().join("scenarios")).unwrap();
    d.write("scenarios/mine.toml", TINY);
    let o = d.fleetsim(&["run", "mine", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.path().join("results/mini/timeline.csv").exists());
}

#[test]
fn check_names_blockers_and_exits_1() {
    let d = Dir::new();
    let o = d.fleetsim(&["check", "tiny"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok: no prerequisite blocks"));
    let text = TINY.to_string()
        + "[path2]\ndevices_per_day = 10\n[cloud]\ncmg_vms = 0\n[admin_roles]\nfull_administrator_all_scope = false\n";
    let file = d.write("blocked.toml", &text);
    let o = d.fleetsim(&["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("BLOCKER: Path 2, 54 devices: there is no cloud management gateway"),
        "{out}"
    );
    assert!(
        out.contains("BLOCKER: all paths") && out.contains("Full Administrator"),
        "{out}"
    );
    // run prints the same findings and still runs.
    let o = d.fleetsim(&["run", file.to_str().unwrap(), "--out", "run"]);
    assert!(o.status.success());
    assert!(stderr(&o).contains("there is no cloud management gateway"));
    let rows = csv_rows(&d.read("run/summary.csv"));
    let col = rows[0]
        .iter()
        .position(|h| h == "blocked_cloud_management_gateway")
        .unwrap();
    assert!(rows[1][col].parse::<u64>().unwrap() > 0);
    // The scenario, the folder, its five files and its marker.
    assert_eq!(d.entries().len(), 1 + 1 + 5 + 1, "{:?}", d.entries());
}

#[test]
fn path2_runs_are_identical_for_any_thread_count() {
    let d = Dir::new();
    let mut seen = vec![];
    for threads in ["1", "3"] {
        let out = format!("p{threads}");
        let o = d.fleetsim(&[
            "run",
            "path2-autopilot-internet",
            "--devices",
            "2000",
            "--days",
            "20",
            "--threads",
            threads,
            "--out",
            &out,
            "-q",
            "--events",
            "0.2",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        seen.push(
            [
                "timeline.csv",
                "summary.csv",
                "site_timeline.csv",
                "events.csv",
            ]
            .map(|f| d.read(&format!("{out}/{f}"))),
        );
    }
    assert!(seen[0] == seen[1]);
    let rows = csv_rows(&seen[0][0]);
    let peak = rows[0]
        .iter()
        .position(|h| h == "gateway_peak_concurrent_clients")
        .unwrap();
    assert!(
        rows[1..].iter().any(|r| r[peak] != "0"),
        "the gateway carries load"
    );
}

#[test]
fn site_timeline_adds_up_to_the_timeline() {
    let d = Dir::new();
    assert!(
        d.fleetsim(&["run", "tiny", "--out", "run", "-q"])
            .status
            .success()
    );
    let total = csv_rows(&d.read("run/timeline.csv"));
    let sites = csv_rows(&d.read("run/site_timeline.csv"));
    assert_eq!(&sites[0][..4], ["day", "date", "site", "devices_total"]);
    for (i, row) in total[1..].iter().enumerate() {
        let sum: u64 = sites[1..]
            .iter()
            .filter(|r| r[0] == row[0])
            .map(|r| r[3].parse::<u64>().unwrap())
            .sum();
        assert_eq!(sum.to_string(), row[2], "day {}", i + 1);
    }
}

fn committed_baselines() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/baselines")
}

/// Rewrites one cell of a CSV file (by column name and data row, 1-based) with `f`.
fn tamper(path: &Path, column: &str, row: usize, f: impl Fn(&str) -> String) -> (String, String) {
    let mut rows = csv_rows(&std::fs::read_to_string(path).unwrap());
    let col = rows[0].iter().position(|h| h == column).unwrap();
    let old = rows[row][col].clone();
    let new = f(&old);
    rows[row][col] = new.clone();
    let mut w = csv::Writer::from_path(path).unwrap();
    for r in rows {
        w.write_record(&r).unwrap();
    }
    w.flush().unwrap();
    (old, new)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn every_named_scenario_matches_its_committed_baseline() {
    // A deliberate model change refreshes the baselines in the same commit:
    // `cargo run -- baseline update --all` (see docs/CI.md).
    let d = Dir::new();
    let root = committed_baselines();
    let o = d.fleetsim(&["verify", "--all", "--dir", root.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for e in std::fs::read_dir(scenarios).unwrap() {
        let name = e
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(
            stdout(&o).contains(&format!("{name}: ok, byte-identical")),
            "no baseline verified for {name}: {}",
            stdout(&o)
        );
        let size: u64 = ["timeline.csv", "summary.csv", "baseline.toml"]
            .iter()
            .map(|f| std::fs::metadata(root.join(&name).join(f)).unwrap().len())
            .sum();
        assert!(size < 1_000_000, "{name}: baseline of {size} bytes");
    }
    assert!(d.entries().is_empty(), "verify writes nothing");
}

#[test]
fn a_fresh_baseline_verifies_and_holds_what_run_writes() {
    let d = Dir::new();
    let o = d.fleetsim(&["baseline", "update", "tiny"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("tiny: created results/baselines/tiny"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        d.entries(),
        [
            "results",
            "results/baselines",
            "results/baselines/tiny",
            "results/baselines/tiny/baseline.toml",
            "results/baselines/tiny/breakdown.csv",
            "results/baselines/tiny/decisions.csv",
            "results/baselines/tiny/site_timeline.csv",
            "results/baselines/tiny/summary.csv",
            "results/baselines/tiny/timeline.csv"
        ]
    );
    let manifest = d.read("results/baselines/tiny/baseline.toml");
    for line in [
        "scenario = \"tiny\"",
        "seed = 7",
        "devices = 2000",
        "days = 30",
        &format!("fleetsim_version = \"{}\"", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(manifest.contains(line), "{line}: {manifest}");
    }
    // The baseline's files are byte for byte what `fleetsim run` writes.
    assert!(
        d.fleetsim(&["run", "tiny", "--out", "run", "-q"])
            .status
            .success()
    );
    for f in ["timeline.csv", "summary.csv"] {
        assert!(d.read(&format!("run/{f}")) == d.read(&format!("results/baselines/tiny/{f}")));
    }
    let o = d.fleetsim(&["verify", "tiny", "--baseline", "results/baselines/tiny"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("tiny: ok, byte-identical"),
        "{}",
        stdout(&o)
    );
    // Without --baseline, the scenario's folder in results/baselines.
    assert_eq!(
        d.fleetsim(&["verify", "tiny", "--threads", "1"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn a_tampered_baseline_cell_is_a_regression_named_by_file_row_column_and_values() {
    let d = Dir::new();
    assert!(d.fleetsim(&["baseline", "update", "tiny"]).status.success());
    let (old, new) = tamper(
        &d.path().join("results/baselines/tiny/timeline.csv"),
        "state_co_managed",
        5,
        |v| (v.parse::<u64>().unwrap() + 7).to_string(),
    );
    let o = d.fleetsim(&["verify", "tiny", "--baseline", "results/baselines/tiny"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("tiny: REGRESSION"), "{out}");
    // The run gives `old`; the tampered baseline holds `new`.
    let line = format!("timeline.csv day 5, state_co_managed: {new} -> {old} (-7, ");
    assert!(out.contains(&line), "{line}\n{out}");
    assert_eq!(out.lines().count(), 2, "one changed cell: {out}");
    let e = stderr(&o);
    assert!(e.starts_with("error: tiny moved from its baseline"), "{e}");
    assert!(e.contains("fleetsim baseline update tiny"), "{e}");
}

#[test]
fn tolerance_mode_accepts_a_small_change_and_rejects_a_big_one() {
    let d = Dir::new();
    assert!(d.fleetsim(&["baseline", "update", "tiny"]).status.success());
    let summary = d.path().join("results/baselines/tiny/summary.csv");
    let count = |delta: i64| move |v: &str| (v.parse::<i64>().unwrap() + delta).to_string();
    let (_, co) = tamper(&summary, "co_managed", 1, |v| v.to_string());
    let (_, days) = tamper(&summary, "days_to_90pct", 1, |v| v.to_string());
    let co: i64 = co.parse().unwrap();
    let days: f64 = days.parse().unwrap();
    tamper(&summary, "co_managed", 1, count(-5));
    tamper(&summary, "days_to_90pct", 1, |v| {
        format!("{:.2}", v.parse::<f64>().unwrap() + 0.25)
    });
    let verify = |tolerance: &str| d.fleetsim(&["verify", "tiny", "--tolerance", tolerance]);
    // Exact mode refuses any change.
    assert_eq!(d.fleetsim(&["verify", "tiny"]).status.code(), Some(1));
    let o = verify("0.01,days_to_90pct=0.5");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("tiny: ok, within tolerance"), "{out}");
    assert!(
        out.contains(&format!("co_managed: {} -> {co} (+5, ", co - 5)),
        "{out}"
    );
    assert!(out.contains("[within ±1% = ±"), "{out}");
    assert!(
        out.contains(&format!(
            "days_to_90pct: {:.2} -> {days:.2} (-0.25, ",
            days + 0.25
        )),
        "{out}"
    );
    assert!(out.contains("[within ±0.5]"), "{out}");
    // A tolerance too tight for the days, or a big change in the count, fails.
    let o = verify("0.01,days_to_90pct=0.1");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("[OUTSIDE ±0.1]"), "{}", stdout(&o));
    tamper(&summary, "co_managed", 1, count(-100));
    let o = verify("1%,days_to_90pct=0.5");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("co_managed: {} -> {co} (+105, ", co - 105)),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("[OUTSIDE ±1% = ±"), "{}", stdout(&o));
    // A metric without a tolerance must match.
    let o = verify("days_to_90pct=0.5");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("[no tolerance given: must match]"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_verify_input_exits_2_and_writes_nothing() {
    let d = Dir::new();
    assert!(
        d.fleetsim(&["baseline", "update", "tiny", "--devices", "300"])
            .status
            .success()
    );
    std::fs::create_dir(d.path().join("broken")).unwrap();
    d.write("broken/baseline.toml", "scenario = \"tiny\"\nseed = 7\n");
    std::fs::create_dir(d.path().join("plain")).unwrap();
    std::fs::create_dir_all(d.path().join("other/tiny")).unwrap();
    d.write("other/tiny/notes.txt", "not a baseline");
    let before = d.entries();
    let cases: &[(&[&str], &str)] = &[
        (&["verify", "no-such-scenario"], "unknown scenario"),
        (
            &["verify", "tiny", "--baseline", "missing"],
            "no baseline at missing",
        ),
        (
            &["verify", "tiny", "--baseline", "plain"],
            "has no baseline.toml",
        ),
        (
            &["verify", "tiny", "--baseline", "broken"],
            "invalid baseline manifest",
        ),
        (
            &[
                "verify",
                "path1-pilot-collection",
                "--baseline",
                "results/baselines/tiny",
            ],
            "is the baseline of scenario \"tiny\"",
        ),
        (
            &["verify", "tiny", "--tolerance", "abc"],
            "expected a number",
        ),
        (&["verify", "tiny", "--tolerance", "5"], "write 500%"),
        (
            &["verify", "tiny", "--tolerance", "co_manged=1"],
            "no such metric",
        ),
        (&["verify", "tiny", "--tolerance", "devices=1"], "setting"),
        (
            &["verify", "--all", "--dir", "plain"],
            "no baselines in plain",
        ),
        (&["verify"], "required"),
        (
            &["baseline", "update", "no-such-scenario"],
            "unknown scenario",
        ),
        (
            &["baseline", "update", "tiny", "--devices", "60000000"],
            "--devices",
        ),
        (
            &["baseline", "update", "tiny", "--dir", "other"],
            "refusing to replace it",
        ),
    ];
    for (args, says) in cases {
        let o = d.fleetsim(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert_eq!(d.entries(), before, "{args:?} wrote something");
    }
}

#[test]
fn run_never_writes_into_the_baselines() {
    let d = Dir::new();
    for out in [
        "results/baselines/x",
        "results/baselines",
        "./results/../results/baselines/y",
    ] {
        for force in [false, true] {
            let mut args = vec!["run", "tiny", "--out", out, "-q"];
            if force {
                args.push("--force");
            }
            let o = d.fleetsim(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            assert!(stderr(&o).contains("baseline update"), "{}", stderr(&o));
        }
    }
    assert!(d.entries().is_empty());
    // Nor into a baseline folder elsewhere.
    assert!(
        d.fleetsim(&[
            "baseline",
            "update",
            "tiny",
            "--dir",
            "ci",
            "--devices",
            "300"
        ])
        .status
        .success()
    );
    let before = d.read("ci/tiny/summary.csv");
    let o = d.fleetsim(&["run", "tiny", "--out", "ci/tiny", "--force", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("holds a baseline.toml"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.read("ci/tiny/summary.csv"), before);
}

#[test]
fn baseline_update_into_another_folder_reports_what_changed() {
    let d = Dir::new();
    let update = |extra: &[&str]| {
        let mut args = vec!["baseline", "update", "--dir", "ci/baselines"];
        args.extend(extra);
        d.fleetsim(&args)
    };
    let o = update(&["tiny", "--devices", "500"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("tiny: created ci/baselines/tiny (seed 7, 500 devices, 30 days)"),
        "{}",
        stdout(&o)
    );
    let verify = || d.fleetsim(&["verify", "tiny", "--dir", "ci/baselines"]);
    assert_eq!(verify().status.code(), Some(0));
    // Refreshing keeps the baseline's fleet size; nothing moved, so nothing is rewritten.
    let o = update(&["--all"]);
    assert!(stdout(&o).contains("tiny: unchanged"), "{}", stdout(&o));
    // After a change, update prints what moved with the same account as verify.
    let (old, new) = tamper(
        &d.path().join("ci/baselines/tiny/summary.csv"),
        "eligible",
        1,
        |v| (v.parse::<u64>().unwrap() + 3).to_string(),
    );
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("fleetsim baseline update tiny --dir ci/baselines"),
        "{}",
        stderr(&o)
    );
    let o = update(&["tiny"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("tiny: updated ci/baselines/tiny (seed 7, 500 devices, 30 days)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "summary.csv row 1, eligible: {new} -> {old} (-3, "
        )),
        "{out}"
    );
    assert_eq!(verify().status.code(), Some(0));
    let mut files: Vec<String> = d
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("ci/baselines/"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "ci/baselines/tiny",
            "ci/baselines/tiny/baseline.toml",
            "ci/baselines/tiny/breakdown.csv",
            "ci/baselines/tiny/decisions.csv",
            "ci/baselines/tiny/site_timeline.csv",
            "ci/baselines/tiny/summary.csv",
            "ci/baselines/tiny/timeline.csv"
        ],
        "no temporary folders left behind"
    );
}

#[test]
fn strategies_write_decisions_and_stay_deterministic() {
    let d = Dir::new();
    let mut seen = vec![];
    for threads in ["1", "4"] {
        let out = format!("r{threads}");
        let o = d.fleetsim(&[
            "run",
            "autopatch-rings",
            "--devices",
            "3000",
            "--days",
            "40",
            "--threads",
            threads,
            "--out",
            &out,
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        seen.push(
            ["timeline.csv", "summary.csv", "decisions.csv"].map(|f| d.read(&format!("{out}/{f}"))),
        );
    }
    assert!(seen[0] == seen[1]);
    let decisions = csv_rows(&seen[0][2]);
    assert_eq!(
        decisions[0],
        [
            "time", "day", "source", "name", "metric", "value", "decision", "detail"
        ]
    );
    assert_eq!(decisions[1][3], "enable co-management");
    assert!(
        decisions
            .iter()
            .any(|r| r[2] == "gate" && r[4] == "incident_rate"),
        "{decisions:?}"
    );
    let timeline = csv_rows(&seen[0][0]);
    for col in [
        "wl_compliance_policies_intune",
        "autopatch_ready",
        "incidents_active",
        "coll_ring_test_co_managed",
    ] {
        assert!(timeline[0].iter().any(|h| h == col), "{col}");
    }
    let summary = csv_rows(&seen[0][1]);
    for col in [
        "days_to_compliance_policies_intune",
        "incidents_total",
        "blast_radius",
        "conditional_access_device_days",
    ] {
        assert!(summary[0].iter().any(|h| h == col), "{col}");
    }
}

#[test]
fn a_collection_that_selects_nothing_exits_2_and_writes_nothing() {
    let d = Dir::new();
    let file = d.write(
        "empty.toml",
        &format!("{TINY}[[collections]]\nname = \"Phones\"\nos = [\"win10_mobile\"]\n"),
    );
    let o = d.fleetsim(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("collection \"Phones\" selects no device"),
        "{}",
        stderr(&o)
    );
    assert_eq!(d.entries(), ["empty.toml"]);
}

const SMALL: [&str; 6] = ["--devices", "300", "--days", "10", "--replications", "3"];

fn study(d: &Dir, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(SMALL);
    all.push("-q");
    let o = d.fleetsim(&all);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

fn col(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]))
}

#[test]
fn compare_files_are_identical_for_any_thread_count() {
    let d = Dir::new();
    let mut seen = vec![];
    for threads in ["1", "2", "3"] {
        let out = format!("c{threads}");
        let xlsx = format!("c{threads}.xlsx");
        study(
            &d,
            &[
                "compare",
                "tiny",
                "path1-pilot-collection",
                "--threads",
                threads,
                "--out",
                &out,
                "--xlsx",
                &xlsx,
            ],
        );
        let files = ["comparison.csv", "replications.csv", "timeline_mean.csv"]
            .map(|f| d.read(&format!("{out}/{f}")));
        seen.push((files, std::fs::read(d.path().join(&xlsx)).unwrap()));
    }
    assert!(seen[1] == seen[0] && seen[2] == seen[0], "files differ");
    // The default folder, and nothing left beside it.
    study(&d, &["compare", "tiny", "path1-pilot-collection"]);
    let entries = d.entries();
    assert!(
        entries.contains(&"results/compare-tiny-vs-path1-pilot-collection/comparison.csv".into())
    );
    assert!(!entries.iter().any(|e| e.contains(".tmp")), "{entries:?}");
}

#[test]
fn identical_scenarios_under_two_names_differ_by_exactly_zero() {
    // Common random numbers: the same seed per replication gives the same devices and draws.
    let d = Dir::new();
    let a = d.write("a.toml", &TINY.replace("name = \"mini\"", "name = \"a\""));
    let b = d.write("b.toml", &TINY.replace("name = \"mini\"", "name = \"b\""));
    let c = d.write(
        "c.toml",
        &(TINY.replace("name = \"mini\"", "name = \"c\"") + "[enrollment]\nfailure_rate = 0.5\n"),
    );
    let (a, b, c) = (
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    study(&d, &["compare", a, b, c, "--out", "out"]);
    let rows = csv_rows(&d.read("out/comparison.csv"));
    assert_eq!(
        rows[0],
        [
            "scenario",
            "metric",
            "replications",
            "reached",
            "mean",
            "sd",
            "p10",
            "p50",
            "p90",
            "min",
            "max",
            "diff_mean",
            "diff_ci95_low",
            "diff_ci95_high",
            "diff_pairs"
        ]
    );
    let (metric, pairs) = (col(&rows, "metric"), col(&rows, "diff_pairs"));
    let diff = [
        col(&rows, "diff_mean"),
        col(&rows, "diff_ci95_low"),
        col(&rows, "diff_ci95_high"),
    ];
    let b_rows: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "b").collect();
    assert!(
        b_rows.len() > 50,
        "every numeric summary column is a metric"
    );
    for r in &b_rows {
        // The interval needs two pairs; the mean one.
        let pairs: usize = r[pairs].parse().unwrap();
        for (k, i) in diff.iter().enumerate() {
            let want = if pairs > k.min(1) { "0.0000" } else { "" };
            assert_eq!(r[*i], want, "{r:?}");
        }
    }
    assert!(
        b_rows
            .iter()
            .any(|r| r[metric] == "days_to_50pct" && r[pairs] == "3")
    );
    // A real change shows: more failures, more attempts.
    let c_attempts = rows
        .iter()
        .find(|r| r[0] == "c" && r[metric] == "enrollment_failures")
        .unwrap();
    assert!(
        c_attempts[diff[0]].parse::<f64>().unwrap() > 0.0,
        "{c_attempts:?}"
    );
    // The replications themselves are equal but for the name.
    let reps = csv_rows(&d.read("out/replications.csv"));
    let strip = |name: &str| -> Vec<Vec<String>> {
        reps.iter()
            .filter(|r| r[0] == name)
            .map(|r| r[1..].to_vec())
            .collect()
    };
    assert_eq!(strip("a"), strip("b"));
    assert_ne!(strip("a"), strip("c"));
}

fn nearest_rank(sorted: &[f64], p: usize) -> f64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[test]
fn comparison_statistics_match_the_replications() {
    let d = Dir::new();
    study(
        &d,
        &[
            "compare",
            "tiny",
            "path1-existing-clients",
            "--seed",
            "100",
            "--out",
            "out",
        ],
    );
    let reps = csv_rows(&d.read("out/replications.csv"));
    let cmp = csv_rows(&d.read("out/comparison.csv"));
    assert_eq!(&reps[0][..3], ["scenario", "replication", "seed"]);
    // Seeds: BASE + r − 1, the same in every scenario.
    let seeds: Vec<&str> = reps[1..].iter().map(|r| r[2].as_str()).collect();
    assert_eq!(seeds, ["100", "101", "102", "100", "101", "102"]);
    let t975_df2 = 4.302_652_730;
    let close = |got: &str, want: f64| {
        let g: f64 = got.parse().unwrap_or_else(|_| panic!("{got:?}"));
        assert!((g - want).abs() < 6e-5, "{got} vs {want}");
    };
    let mut checked = 0;
    for row in &cmp[1..] {
        let (scenario, metric) = (&row[0], &row[1]);
        let c = col(&reps, metric);
        let values = |name: &str| -> Vec<Option<f64>> {
            reps[1..]
                .iter()
                .filter(|r| r[0] == name)
                .map(|r| r[c].parse::<f64>().ok())
                .collect()
        };
        let xs = values(scenario);
        let base = values("tiny");
        let reached: Vec<f64> = xs.iter().flatten().copied().collect();
        let get = |k: &str| row[col(&cmp, k)].as_str();
        assert_eq!(get("replications"), "3");
        assert_eq!(get("reached"), reached.len().to_string(), "{row:?}");
        if reached.is_empty() {
            assert_eq!(get("mean"), "");
            continue;
        }
        let n = reached.len() as f64;
        let mean = reached.iter().sum::<f64>() / n;
        close(get("mean"), mean);
        if reached.len() > 1 {
            let sd = (reached.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            close(get("sd"), sd);
        }
        let mut sorted = reached.clone();
        sorted.sort_by(f64::total_cmp);
        close(get("min"), sorted[0]);
        close(get("max"), *sorted.last().unwrap());
        close(get("p10"), nearest_rank(&sorted, 10));
        close(get("p50"), nearest_rank(&sorted, 50));
        close(get("p90"), nearest_rank(&sorted, 90));
        let diffs: Vec<f64> = xs
            .iter()
            .zip(&base)
            .filter_map(|(x, b)| Some((*x)? - (*b)?))
            .collect();
        assert_eq!(get("diff_pairs"), diffs.len().to_string());
        if diffs.len() == 3 {
            let m = diffs.iter().sum::<f64>() / 3.0;
            let sd = (diffs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 2.0).sqrt();
            let half = t975_df2 * sd / 3f64.sqrt();
            close(get("diff_mean"), m);
            close(get("diff_ci95_low"), m - half);
            close(get("diff_ci95_high"), m + half);
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
    // The mean timeline: one row per scenario and day, bands around the mean.
    let tl = csv_rows(&d.read("out/timeline_mean.csv"));
    assert_eq!(&tl[0][..3], ["scenario", "day", "date"]);
    assert_eq!(tl.len() - 1, 2 * 10);
    let (m, lo, hi) = (
        col(&tl, "state_co_managed_mean"),
        col(&tl, "state_co_managed_p10"),
        col(&tl, "state_co_managed_p90"),
    );
    assert!(col(&tl, "gateway_concurrent_clients_mean") > 0);
    for r in &tl[1..] {
        let x = |i: usize| r[i].parse::<f64>().unwrap();
        assert!(x(lo) <= x(m) && x(m) <= x(hi), "{r:?}");
    }
}

#[test]
fn sweep_runs_the_grid_and_rejects_bad_settings_before_running() {
    let d = Dir::new();
    study(
        &d,
        &[
            "sweep",
            "tiny",
            "--set",
            "enrollment.failure_rate=0.05,0.2",
            "--set",
            "co_management.auto_enrollment=all,\"none\"",
            "--set",
            "remediation.default={ mean_days = 2 }",
            "--xlsx",
            "sweep.xlsx",
        ],
    );
    {
        use calamine::{Reader, Xlsx, open_workbook};
        let wb: Xlsx<_> = open_workbook(d.path().join("sweep.xlsx")).unwrap();
        assert_eq!(
            wb.sheet_names(),
            [
                "charts",
                "sweep",
                "0.05 all { mean_days = 2 }",
                "0.05 none { mean_days = 2 }",
                "0.2 all { mean_days = 2 }",
                "0.2 none { mean_days = 2 }",
                "replications"
            ]
        );
    }
    let rows = csv_rows(&d.read("results/sweep-tiny/sweep.csv"));
    assert_eq!(
        &rows[0][..5],
        [
            "enrollment.failure_rate",
            "co_management.auto_enrollment",
            "remediation.default",
            "metric",
            "replications"
        ]
    );
    let mut points: Vec<Vec<String>> = rows[1..].iter().map(|r| r[..3].to_vec()).collect();
    points.dedup();
    let metrics = rows.len() - 1;
    // Rows come metric by metric, each with every point in grid order.
    assert_eq!(metrics % 4, 0);
    assert_eq!(
        points[..4],
        [
            ["0.05", "all", "{ mean_days = 2 }"],
            ["0.05", "none", "{ mean_days = 2 }"],
            ["0.2", "all", "{ mean_days = 2 }"],
            ["0.2", "none", "{ mean_days = 2 }"],
        ]
    );
    let reps = csv_rows(&d.read("results/sweep-tiny/replications.csv"));
    assert_eq!(reps.len() - 1, 4 * 3);
    let tl = csv_rows(&d.read("results/sweep-tiny/timeline_mean.csv"));
    assert_eq!(tl.len() - 1, 4 * 10);
    // Without automatic enrollment nobody co-manages on Path 1: a large negative difference.
    let co = rows
        .iter()
        .find(|r| r[1] == "none" && r[0] == "0.05" && r[3] == "co_managed")
        .unwrap();
    assert!(
        co[col(&rows, "diff_mean")].parse::<f64>().unwrap() < -50.0,
        "{co:?}"
    );

    let bad: &[(&[&str], &[&str])] = &[
        (
            &["--set", "enrollment.failur_rate=0.1"],
            &["enrollment.failur_rate=0.1", "unknown field"],
        ),
        (
            &["--set", "enrollment.failure_rate=0.1,1.5"],
            &["enrollment.failure_rate=1.5", "between 0 and 1"],
        ),
        (
            &["--set", "co_management.enable_date=soon"],
            &["co_management.enable_date=soon", "expected a date"],
        ),
        (&["--set", "cloud=5"], &["`cloud` is a table"]),
        (&["--set", "days"], &["KEY=V1,V2"]),
        (&["--set", "days=[1"], &["days=[1", "not a TOML value"]),
    ];
    for (args, want) in bad {
        let d = Dir::new();
        let mut all = vec!["sweep", "tiny"];
        all.extend(*args);
        all.extend(["--replications", "2"]);
        let o = d.fleetsim(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        for w in *want {
            assert!(stderr(&o).contains(w), "{w}: {}", stderr(&o));
        }
        assert!(d.entries().is_empty(), "nothing written: {:?}", d.entries());
    }
}

fn serial(date: &str) -> f64 {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
    (d - epoch).num_days() as f64
}

fn zip_entry(path: &Path, name: &str) -> Option<String> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut f = z.by_name(name).ok()?;
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    Some(s)
}

#[test]
fn workbooks_hold_the_tables_as_numbers_and_dates_and_line_charts() {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let d = Dir::new();
    let o = d.fleetsim(&[
        "run",
        "tiny",
        "--devices",
        "300",
        "--days",
        "10",
        "--out",
        "run",
        "--xlsx",
        "run.xlsx",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = d.path().join("run.xlsx");
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "charts",
            "timeline",
            "summary",
            "breakdown",
            "site_timeline"
        ]
    );
    let csv = csv_rows(&d.read("run/timeline.csv"));
    let sheet = wb.worksheet_range("timeline").unwrap();
    assert_eq!(sheet.get_size(), (csv.len(), csv[0].len()));
    for (i, row) in csv.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let got = sheet.get((i, j)).unwrap();
            match got {
                Data::String(s) => assert!(i == 0 && s == cell, "({i},{j}) {got:?}"),
                Data::Float(x) => assert_eq!(*x, cell.parse::<f64>().unwrap(), "({i},{j})"),
                Data::DateTime(t) => assert_eq!(t.as_f64(), serial(cell), "({i},{j})"),
                other => panic!("({i},{j}): {other:?}"),
            }
        }
    }
    // The summary as two columns: metric and value.
    let summary = wb.worksheet_range("summary").unwrap();
    assert_eq!(summary.get((0, 1)), Some(&Data::String("value".into())));
    assert_eq!(summary.get((1, 0)), Some(&Data::String("scenario".into())));
    assert_eq!(summary.get((1, 1)), Some(&Data::String("tiny".into())));
    let chart = zip_entry(&path, "xl/charts/chart1.xml").expect("a chart");
    assert!(
        chart.contains("<c:lineChart>") && chart.contains("timeline!$"),
        "{chart}"
    );
    assert!(zip_entry(&path, "xl/drawings/drawing1.xml").is_some());

    // A comparison: a series per scenario, reading each scenario's mean timeline sheet.
    study(
        &d,
        &[
            "compare",
            "tiny",
            "path1-pilot-collection",
            "--out",
            "cmp",
            "--xlsx",
            "cmp/book.xlsx",
        ],
    );
    let path = d.path().join("cmp/book.xlsx");
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "charts",
            "comparison",
            "tiny",
            "path1-pilot-collection",
            "replications"
        ]
    );
    let cmp = csv_rows(&d.read("cmp/comparison.csv"));
    let sheet = wb.worksheet_range("comparison").unwrap();
    assert_eq!(sheet.get_size().0, cmp.len());
    let mean = col(&cmp, "mean");
    for (i, row) in cmp.iter().enumerate().skip(1) {
        assert_eq!(sheet.get((i, 0)), Some(&Data::String(row[0].clone())));
        match sheet.get((i, mean)) {
            Some(Data::Float(x)) => assert!((x - row[mean].parse::<f64>().unwrap()).abs() < 1e-9),
            Some(Data::Empty) | None => assert_eq!(row[mean], ""),
            other => panic!("{other:?}"),
        }
    }
    let tiny = wb.worksheet_range("tiny").unwrap();
    assert_eq!(tiny.get((1, 0)), Some(&Data::String("tiny".into())));
    assert_eq!(tiny.get((0, 2)), Some(&Data::String("date".into())));
    match tiny.get((1, 2)) {
        Some(Data::DateTime(t)) => assert_eq!(t.as_f64(), serial("2027-01-04")),
        other => panic!("{other:?}"),
    }
    let chart = zip_entry(&path, "xl/charts/chart1.xml").expect("a chart");
    assert_eq!(chart.matches("<c:ser>").count(), 2, "{chart}");
    assert!(chart.contains("Co-managed devices (mean of 3 replications)"));
    assert!(chart.contains("'path1-pilot-collection'!$"), "{chart}");

    // An existing workbook is kept without --force.
    let before = std::fs::read(&path).unwrap();
    let o = d.fleetsim(&[
        "compare",
        "tiny",
        "--out",
        "other",
        "--xlsx",
        "cmp/book.xlsx",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!d.path().join("other").exists());
}

#[test]
fn a_workbook_skips_charts_of_workloads_that_never_moved() {
    let d = Dir::new();
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "-q", "--xlsx", "tiny.xlsx"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(zip_entry(&d.path().join("tiny.xlsx"), "xl/charts/chart1.xml").is_some());
    assert!(zip_entry(&d.path().join("tiny.xlsx"), "xl/charts/chart2.xml").is_none());
    let o = d.fleetsim(&[
        "run",
        "big-bang",
        "--devices",
        "2000",
        "--days",
        "30",
        "--out",
        "bb",
        "-q",
        "--xlsx",
        "bb.xlsx",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Co-managed, then the six workloads big-bang moves (resource access is gone at 2403).
    assert!(zip_entry(&d.path().join("bb.xlsx"), "xl/charts/chart7.xml").is_some());
    assert!(zip_entry(&d.path().join("bb.xlsx"), "xl/charts/chart8.xml").is_none());
}

/// The files a study folder and its workbook hold, as bytes.
fn study_bytes(d: &Dir, out: &str, metrics: &str, xlsx: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [metrics, "replications.csv", "timeline_mean.csv"]
        .iter()
        .map(|f| std::fs::read(d.path().join(out).join(f)).unwrap())
        .collect();
    v.push(std::fs::read(d.path().join(xlsx)).unwrap());
    let mut names: Vec<String> = std::fs::read_dir(d.path().join(out))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    v.push(names.join(",").into_bytes());
    v
}

/// Runs every shard of N of a study into `<prefix>-<N>-<K>` and returns the folders.
fn shards(d: &Dir, study_args: &[&str], prefix: &str, n: usize) -> Vec<String> {
    (1..=n)
        .map(|k| {
            let dir = format!("{prefix}-{n}-{k}");
            let shard = format!("{k}/{n}");
            let mut args = study_args.to_vec();
            args.extend(["--shard", &shard, "--out", &dir]);
            study(d, &args);
            assert!(d.path().join(&dir).join("manifest.json").is_file());
            dir
        })
        .collect()
}

#[test]
fn merged_shards_are_the_one_machine_bytes_for_any_n_and_order() {
    let d = Dir::new();
    // 2 points x 3 replications = 6 runs: with N = 7 one shard holds none.
    let sweep = ["sweep", "tiny", "--set", "enrollment.failure_rate=0.05,0.3"];
    let mut one = sweep.to_vec();
    one.extend(["--out", "one", "--xlsx", "one.xlsx"]);
    study(&d, &one);
    let want = study_bytes(&d, "one", "sweep.csv", "one.xlsx");
    for n in [1, 2, 3, 7] {
        let mut dirs = shards(&d, &sweep, "s", n);
        // Another order every time: reversed, then rotated.
        dirs.reverse();
        dirs.rotate_left(n / 2);
        let (out, xlsx) = (format!("m{n}"), format!("m{n}.xlsx"));
        let mut args = vec!["merge"];
        args.extend(dirs.iter().map(String::as_str));
        args.extend(["--out", &out, "--xlsx", &xlsx, "-q"]);
        let o = d.fleetsim(&args);
        assert!(o.status.success(), "N = {n}: {}", stderr(&o));
        assert!(
            study_bytes(&d, &out, "sweep.csv", &xlsx) == want,
            "N = {n}: merged files differ from the one-machine sweep"
        );
    }
    // The shards hold the runs i with i mod N = K - 1.
    let manifest: serde_json::Value = serde_json::from_str(&d.read("s-3-2/manifest.json")).unwrap();
    assert_eq!(manifest["runs"], serde_json::json!([1, 4]));
    assert_eq!(manifest["shard"], 2);
    assert_eq!(manifest["shards"], 3);
    assert_eq!(manifest["command"], "sweep");
    assert_eq!(manifest["fleetsim_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d.read("s-7-7/runs.jsonl"), "");

    // compare as well.
    let compare = ["compare", "tiny", "path1-pilot-collection"];
    let mut one = compare.to_vec();
    one.extend(["--out", "c-one", "--xlsx", "c-one.xlsx"]);
    study(&d, &one);
    let dirs = shards(&d, &compare, "c", 3);
    let o = d.fleetsim(&[
        "merge", &dirs[2], &dirs[0], &dirs[1], "--out", "c-m", "--xlsx", "c-m.xlsx",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("merged"), "{}", stderr(&o));
    assert!(
        study_bytes(&d, "c-m", "comparison.csv", "c-m.xlsx")
            == study_bytes(&d, "c-one", "comparison.csv", "c-one.xlsx")
    );
}

#[test]
fn merge_refuses_missing_duplicate_and_mismatched_shards() {
    let d = Dir::new();
    let sweep = ["sweep", "tiny", "--set", "enrollment.failure_rate=0.05,0.3"];
    let dirs = shards(&d, &sweep, "s", 3);
    // A copy of shard 2, and shards of other studies.
    std::fs::create_dir(d.path().join("dup")).unwrap();
    for f in ["manifest.json", "runs.jsonl"] {
        std::fs::copy(
            d.path().join(&dirs[1]).join(f),
            d.path().join("dup").join(f),
        )
        .unwrap();
    }
    let other = |name: &str, args: &[&str], shard: &str| {
        let mut all = args.to_vec();
        all.extend(["--shard", shard, "--out", name]);
        study(&d, &all);
    };
    other(
        "other-setting",
        &["sweep", "tiny", "--set", "enrollment.failure_rate=0.05,0.4"],
        "3/3",
    );
    other("other-n", &sweep, "3/4");
    let mut seeded = sweep.to_vec();
    seeded.extend(["--seed", "99"]);
    other("other-seed", &seeded, "3/3");
    // Another scenario file: the same labels, another resolved scenario.
    d.write("mini.toml", &TINY.replace("seed = 3", "seed = 7"));
    other(
        "other-scenario",
        &[
            "sweep",
            "mini.toml",
            "--set",
            "enrollment.failure_rate=0.05,0.3",
        ],
        "3/3",
    );
    other("other-version", &sweep, "3/3");
    other("other-command", &["compare", "tiny"], "3/3");
    let o = d.fleetsim(&[
        "sweep",
        "tiny",
        "--set",
        "enrollment.failure_rate=0.05,0.3",
        "--devices",
        "300",
        "--days",
        "10",
        "--replications",
        "2",
        "--shard",
        "3/3",
        "--out",
        "other-reps",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = d.path().join("other-version/manifest.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let version = format!("\"fleetsim_version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&version));
    std::fs::write(
        &path,
        text.replace(&version, "\"fleetsim_version\": \"0.0.1\""),
    )
    .unwrap();
    std::fs::create_dir(d.path().join("empty")).unwrap();

    let (s1, s2, s3) = (dirs[0].as_str(), dirs[1].as_str(), dirs[2].as_str());
    let cases: &[(&[&str], &[&str])] = &[
        (&[s1, s2], &["missing shard 3/3"]),
        (&[s3, s1], &["missing shard 2/3"]),
        (&[s1, s2, s3, "dup"], &["shard 2/3 given twice", s2, "dup"]),
        (
            &[s1, s2, "other-setting"],
            &[
                "different studies",
                "other-setting",
                "scenarios or settings",
            ],
        ),
        (
            &[s1, s2, "other-n"],
            &["other-n", "number of shards N: 3 vs 4"],
        ),
        (&[s1, s2, "other-seed"], &["other-seed", "base seed"]),
        (
            &[s1, s2, "other-scenario"],
            &["other-scenario", "resolved settings differ"],
        ),
        (
            &[s1, s2, "other-version"],
            &["other-version", "fleetsim version", "0.0.1"],
        ),
        (&[s1, s2, "empty"], &["empty", "not a shard folder"]),
        (
            &[s1, s2, "other-command"],
            &["other-command", "command: sweep vs compare"],
        ),
        (
            &[s1, s2, "other-reps"],
            &["other-reps", "--replications: 3 vs 2"],
        ),
        (&[s1, s2, s2], &["shard 2/3 given twice"]),
        (&[s1, s2, "nowhere"], &["nowhere", "not a shard folder"]),
    ];
    for (shards, want) in cases {
        let before = d.entries();
        let mut args = vec!["merge"];
        args.extend(*shards);
        args.extend(["--out", "merged", "--xlsx", "merged.xlsx"]);
        let o = d.fleetsim(&args);
        assert_eq!(o.status.code(), Some(2), "{shards:?}: {}", stderr(&o));
        for w in *want {
            assert!(stderr(&o).contains(w), "{shards:?}: {w}: {}", stderr(&o));
        }
        assert_eq!(d.entries(), before, "{shards:?}: nothing written");
    }
    // A damaged runs file is refused too.
    std::fs::write(d.path().join("dup/runs.jsonl"), "{}\n").unwrap();
    let o = d.fleetsim(&["merge", s1, "dup", s3, "--out", "merged"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("damaged shard"), "{}", stderr(&o));
    assert!(!d.path().join("merged").exists());
    // The merged study may not replace a shard.
    let o = d.fleetsim(&["merge", s1, s2, s3, "--out", s1, "--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(d.path().join(s1).join("manifest.json").is_file());
}

#[test]
fn bad_shard_arguments_are_rejected_before_running() {
    for shard in ["0/3", "4/3", "a/b", "3", "1/0", "-1/3", "1/3/5", "", "+1/3"] {
        let d = Dir::new();
        let arg = format!("--shard={shard}");
        let o = d.fleetsim(&["sweep", "tiny", "--set", "days=3,4", &arg]);
        assert_eq!(o.status.code(), Some(2), "{shard:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("K/N"), "{shard:?}: {}", stderr(&o));
        assert!(d.entries().is_empty(), "{shard:?}: {:?}", d.entries());
    }
    let d = Dir::new();
    let o = d.fleetsim(&["compare", "tiny", "--shard", "1/2", "--xlsx", "x.xlsx"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("merge"), "{}", stderr(&o));
    assert!(d.entries().is_empty(), "{:?}", d.entries());
    // Without --out a shard gets the study's folder name with -shard-K-of-N.
    let o = d.fleetsim(&[
        "compare",
        "tiny",
        "--shard",
        "2/2",
        "--days",
        "3",
        "--replications",
        "2",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        d.path()
            .join("results/compare-tiny-shard-2-of-2/manifest.json")
            .is_file()
    );
}

/// The number after `label` in `text` (digits only), such as "Path 2: " -> 671.
fn number_after(text: &str, label: &str) -> u64 {
    let at = text
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {text}"))
        + label.len();
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {label:?} in {text}"))
}

#[test]
fn check_run_summary_and_breakdown_count_the_same_devices_overall_and_per_path() {
    let d = Dir::new();
    // A scenario whose Path 2 arrivals go on to the last day, with office-hours devices (whose
    // last days' arrivals wait past the horizon), no-client Azure AD joined devices (Path 2
    // without arriving) and ineligible devices on both paths.
    let late = d.write(
        "late.toml",
        "name = \"late\"\nseed = 11\nstart_date = 2027-01-04\ndays = 12\n[fleet]\ndevices = 1500\n\
         [path2]\ndevices_per_day = 40\n[co_management]\nenable_date = 2027-01-04\n",
    );
    let scenarios: Vec<(String, &[&str])> = vec![
        ("tiny".into(), &[]),
        ("path2-autopilot-internet".into(), &[]),
        ("mixed-enterprise-1m".into(), &["--devices", "20000"]),
        (late.to_str().unwrap().to_string(), &["--threads", "3"]),
    ];
    let mut late_arrivals = 0;
    for (k, (name, extra)) in scenarios.iter().enumerate() {
        let o = d.fleetsim(&[&["check", name.as_str()], *extra].concat());
        let check = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(o.status.code().is_some_and(|c| c <= 1), "{check}");
        let devices = number_after(&check, ": ");
        let path1 = number_after(&check, "Path 1: ");
        let path2 = number_after(&check, "Path 2: ");
        let eligible1 = number_after(&check, &format!("Path 1: {path1} devices ("));
        let eligible2 = number_after(&check, &format!("Path 2: {path2} devices ("));
        if check.contains("more planned arrive after the end") {
            late_arrivals += 1;
        }
        let out = format!("out-{k}");
        let o = d.fleetsim(&[&["run", name.as_str(), "--out", &out], *extra].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let line = stderr(&o);
        assert!(
            line.contains(&format!(
                ": {devices} devices, {} eligible,",
                eligible1 + eligible2
            )),
            "{name}: check says {check}; run says {line}"
        );
        let summary = csv_rows(&d.read(&format!("{out}/summary.csv")));
        let col = |h: &str| -> u64 {
            let c = summary[0].iter().position(|x| x == h).unwrap();
            summary[1][c].parse().unwrap()
        };
        assert_eq!(
            (col("devices"), col("eligible_path1"), col("eligible_path2")),
            (devices, eligible1, eligible2),
            "{name}: summary.csv against check: {check}"
        );
        let breakdown = csv_rows(&d.read(&format!("{out}/breakdown.csv")));
        let row = |value: &str| -> u64 {
            breakdown
                .iter()
                .find(|r| r[0] == "path" && r[1] == value)
                .unwrap_or_else(|| panic!("no path row {value}"))[2]
                .parse()
                .unwrap()
        };
        assert_eq!(
            (row("path1"), row("path2")),
            (path1, path2),
            "{name}: breakdown.csv's path rows against check: {check}"
        );
        assert_eq!(path1 + path2, devices, "{name}: {check}");
    }
    assert!(
        late_arrivals >= 2,
        "the test needs scenarios with arrivals after the end"
    );
}

/// Copies the example inventory scenario (regenerated by scripts/make-inventory.py) into `d`.
fn example_inventory(d: &Dir) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = d.path().join("devices.csv");
    let st = Command::new("python3")
        .arg(root.join("scripts/make-inventory.py"))
        .args(["300", out.to_str().unwrap()])
        .status()
        .expect("python3 is needed to run scripts/make-inventory.py");
    assert!(st.success(), "scripts/make-inventory.py failed");
    let shipped = std::fs::read_to_string(root.join("examples/inventory/devices.csv")).unwrap();
    assert_eq!(
        d.read("devices.csv"),
        shipped,
        "examples/inventory/devices.csv is not what scripts/make-inventory.py writes"
    );
    let scenario = std::fs::read_to_string(root.join("examples/inventory/scenario.toml")).unwrap();
    d.write("inv.toml", &scenario);
}

#[test]
fn an_inventory_is_the_fleet_and_no_device_id_reaches_any_output() {
    let d = Dir::new();
    example_inventory(&d);
    let o = d.fleetsim(&["run", "inv.toml", "--out", "o", "-q", "--events"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv_rows(&d.read("devices.csv"));
    let events = csv_rows(&d.read("o/events.csv"));
    assert_eq!(
        events
            .iter()
            .filter(|r| r[4].starts_with("initial"))
            .count(),
        rows.len() - 1,
        "one device per inventory row"
    );
    let mut out = Vec::new();
    for p in walk(&d.path().join("o")) {
        out.extend(std::fs::read(&p).unwrap());
    }
    let out = String::from_utf8_lossy(&out);
    for r in &rows[1..] {
        for id in [&r[0], &r[1]] {
            assert!(!out.contains(id.as_str()), "{id} appears in an output");
        }
    }
}

#[test]
fn an_unknown_inventory_value_exits_2_names_row_column_values_and_writes_nothing() {
    let d = Dir::new();
    example_inventory(&d);
    let text = d.read("devices.csv").replacen(",vpn,", ",vpm,", 1);
    d.write("devices.csv", &text);
    let o = d.fleetsim(&["run", "inv.toml", "--out", "o", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("devices.csv")
            && e.contains("row ")
            && e.contains("column location")
            && e.contains("corporate_network, vpn, internet_only"),
        "{e}"
    );
    assert!(!d.path().join("o").exists());
}

#[test]
fn inventory_summarize_counts_and_writes_a_fragment_that_loads() {
    let d = Dir::new();
    example_inventory(&d);
    let o = d.fleetsim(&[
        "inventory",
        "summarize",
        "devices.csv",
        "--scenario",
        "inv.toml",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("devices = 300") && text.contains("# os: "),
        "{text}"
    );
    let o = d.fleetsim(&[
        "inventory",
        "summarize",
        "devices.csv",
        "--scenario",
        "inv.toml",
        "--out",
        "frag.toml",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(d.read("frag.toml"), text);
    let again = d.fleetsim(&[
        "inventory",
        "summarize",
        "devices.csv",
        "--out",
        "frag.toml",
    ]);
    assert_eq!(again.status.code(), Some(2), "kept without --force");
    d.write(
        "f.toml",
        &format!("name = \"f\"\nstart_date = 2027-01-04\ndays = 2\n{text}"),
    );
    let o = d.fleetsim(&["check", "f.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("300 devices"), "{out}{}", stderr(&o));
}

/// The share `hits / n` is `p` within four standard errors.
fn near(what: &str, hits: f64, n: f64, p: f64, var: f64) {
    let sigma = var.sqrt() / n;
    assert!(
        (hits / n - p).abs() <= 4.0 * sigma,
        "{what}: {hits} of {n} = {:.4}, expected {p:.4} (4 sigma = {:.4})",
        hits / n,
        4.0 * sigma
    );
}

#[test]
fn a_correlated_fleet_draws_its_mixes_per_value() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let d = Dir::new();
    let scenario = std::fs::read_to_string(root.join("examples/correlated/scenario.toml")).unwrap();
    d.write("c.toml", &scenario);
    let o = d.fleetsim(&["check", "c.toml"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{out}{}",
        stderr(&o)
    );
    assert!(
        out.contains(
            "correlated fleet mixes: location by usage (1 value), os by site (1 value), identity by domain (2 [[domains]])"
        ),
        "{out}"
    );
    let o = d.fleetsim(&["run", "c.toml", "--out", "o", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = csv_rows(&d.read("o/breakdown.csv"));
    let n = |dim: &str, value: &str| -> f64 {
        rows.iter()
            .find(|r| r[0] == dim && r[1] == value)
            .unwrap_or_else(|| panic!("no row {dim},{value}"))[2]
            .parse()
            .unwrap()
    };
    let all = 20_000.0;
    // 15% laptops, 70% of them (and no other device) on the internet only.
    let laptops = n("usage", "laptop_intermittent");
    near("laptops", laptops, all, 0.15, all * 0.15 * 0.85);
    let off = n("location", "internet_only");
    near(
        "laptops off-network",
        off,
        laptops,
        0.7,
        laptops * 0.7 * 0.3,
    );
    // Windows 7: 30% at P02, the default 1% at P01.
    let (p1, p2) = (n("site", "P01"), n("site", "P02"));
    assert_eq!(p1 + p2, all);
    let expected = 0.3 * p2 + 0.01 * p1;
    near(
        "Windows 7",
        n("os", "windows_7"),
        all,
        expected / all,
        p2 * 0.3 * 0.7 + p1 * 0.01 * 0.99,
    );
    // The federated domain's quarter of the fleet.
    near(
        "federated",
        n("identity", "federated"),
        all,
        0.25,
        all * 0.25 * 0.75,
    );
}

/// The README's `tiny` sample is the committed baseline's rows, column by column: a model
/// change that moves the baseline must move the README with it.
#[test]
fn the_readme_sample_of_tiny_matches_its_baseline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("```csv\nday,date,devices_total,")
        .expect("the README's tiny sample")
        + "```csv\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let sample = csv_rows(&readme[start..end]);
    let baseline = csv_rows(
        &std::fs::read_to_string(root.join("results/baselines/tiny/timeline.csv")).unwrap(),
    );
    let at = |name: &str| {
        baseline[0]
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("timeline.csv has no column {name}"))
    };
    let cols: Vec<usize> = sample[0].iter().map(|c| at(c)).collect();
    assert!(sample.len() > 2, "the sample has rows");
    for row in &sample[1..] {
        let day = &row[0];
        let base = baseline[1..]
            .iter()
            .find(|r| &r[0] == day)
            .unwrap_or_else(|| panic!("the baseline has no day {day}"));
        for (k, c) in cols.iter().enumerate() {
            assert_eq!(
                row[k], base[*c],
                "README sample, day {day}, column {}: {} in the README, {} in the baseline",
                sample[0][k], row[k], base[*c]
            );
        }
    }
}
