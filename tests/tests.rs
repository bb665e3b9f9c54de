//! Command-line tests: run the real `fleetsim` binary in a temporary folder.

mod report;

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
fn tiny_scenario_output_is_pinned() {
    // Golden files: a deliberate model change regenerates them with
    // `FLEETSIM_UPDATE_GOLDEN=1 cargo test` and says so in its commit.
    let d = Dir::new();
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden");
    for f in ["timeline.csv", "summary.csv", "breakdown.csv"] {
        let got = d.read(&format!("run/{f}"));
        let path = golden.join(format!("tiny-{f}"));
        if std::env::var_os("FLEETSIM_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            got == want,
            "{f} differs from {}; if the change is deliberate, regenerate it",
            path.display()
        );
    }
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
    let counters: Vec<usize> = (states.last().unwrap() + 1..h.len()).collect();
    let mut prev = vec![0u64; h.len()];
    for row in &rows[1..] {
        let n = |i: usize| row[i].parse::<u64>().unwrap();
        assert_eq!(states.iter().map(|i| n(*i)).sum::<u64>(), n(2));
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
    assert_eq!(get("devices"), "2000");
    let eligible: u64 = get("eligible").parse().unwrap();
    let reasons: u64 = rows[0]
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("reason_"))
        .map(|(i, _)| rows[1][i].parse::<u64>().unwrap())
        .sum();
    assert_eq!(eligible + reasons, 2000);
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
        let o = d.fleetsim(&["run", "tiny", args[0], args[1]]);
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
            "results/tiny/breakdown.csv",
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
        "tiny",
    ] {
        assert!(text.contains(name), "{text}");
    }
    assert!(text.contains("(default)"));
}

#[test]
fn named_scenarios_in_the_repository_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
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
