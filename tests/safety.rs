//! Output safety and bounded commands: baselines are never an output, `--force` replaces only
//! what fleetsim wrote, a kill or a concurrent run leaves the old result or the new one, and
//! `--threads` and a run's memory are bounded before anything runs.

use super::{Dir, stderr};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Every file under `root` with its bytes (symbolic links as their target), for comparing a
/// folder before and after.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf(), vec![]);
                stack.push(path);
            } else if t.is_symlink() {
                let to = std::fs::read_link(&path).unwrap();
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    to.to_string_lossy().as_bytes().to_vec(),
                );
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    out
}

/// Asserts that `o` is a refusal: exit 2, and stderr holds `needle`.
fn refused(o: &std::process::Output, needle: &str, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
    assert!(stderr(o).contains(needle), "{what}: {}", stderr(o));
}

/// Names in `dir` left by unfinished writes (`.<name>.fleetsim-tmp…`, `.<name>.fleetsim-old…`).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".fleetsim-tmp.") || n.contains(".fleetsim-old."))
        .collect()
}

/// Whether run folder `dir` is complete: its marker lists every file it holds, and each is there.
fn complete_run(dir: &Path) -> bool {
    let Ok(marker) = std::fs::read_to_string(dir.join(".fleetsim-output")) else {
        return false;
    };
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".fleetsim-output")
        .collect();
    files.len() == 5 && files.iter().all(|f| marker.contains(&format!("\"{f}\"")))
}

#[test]
fn no_command_writes_into_the_baselines() {
    let d = Dir::new();
    let o = d.fleetsim(&["baseline", "update", "tiny", "--devices", "300"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A second folder of baselines, outside results/.
    let o = d.fleetsim(&[
        "baseline",
        "update",
        "tiny",
        "--devices",
        "300",
        "--dir",
        "ci/b",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    #[cfg(unix)]
    std::os::unix::fs::symlink("results/baselines", d.path().join("link")).unwrap();
    let before = snapshot(d.path());
    let here = d.path().to_str().unwrap().to_string();
    let abs_results = format!("{here}/results");
    let mut outs = vec![
        "results",
        ".",
        here.as_str(),
        abs_results.as_str(),
        "results/baselines",
        "results/baselines/tiny",
        "results/baselines/new",
        "./results/../results/baselines/y",
        "run/../results",
        "ci/b",
        "ci/b/tiny",
        "ci/b/new",
        "ci",
    ];
    if cfg!(unix) {
        outs.extend(["link", "link/new", "link/tiny"]);
    }
    for out in &outs {
        for force in [false, true] {
            let mut args = vec!["run", "tiny", "--out", out, "-q"];
            if force {
                args.push("--force");
            }
            let o = d.fleetsim(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            // "ci" holds no baseline itself: it is refused as not fleetsim's folder.
            if *out != "ci" {
                assert!(stderr(&o).contains("baseline"), "{args:?}: {}", stderr(&o));
            }
        }
    }
    let into = ["results/baselines/c", "ci/b/c", "results/baselines/tiny/c"];
    for out in into {
        let o = d.fleetsim(&[
            "compare",
            "tiny",
            "tiny",
            "--replications",
            "1",
            "--out",
            out,
            "--force",
            "-q",
        ]);
        refused(&o, "baseline", out);
        let o = d.fleetsim(&[
            "sweep",
            "tiny",
            "--set",
            "enrollment.failure_rate=0.05,0.2",
            "--replications",
            "1",
            "--out",
            out,
            "-q",
        ]);
        refused(&o, "baseline", out);
        let o = d.fleetsim(&[
            "compare",
            "tiny",
            "tiny",
            "--replications",
            "2",
            "--shard",
            "1/2",
            "--out",
            out,
            "-q",
        ]);
        refused(&o, "baseline", out);
        let o = d.fleetsim(&["merge", "some-shard", "--out", out, "--force", "-q"]);
        refused(&o, "baseline", out);
        let html = format!("{out}.html");
        let o = d.fleetsim(&["report", "run", "-o", &html, "--force", "-q"]);
        refused(&o, "baseline", &html);
        let o = d.fleetsim(&["report", "run", "-o", "ok.html", "--png", out, "-q"]);
        refused(&o, "baseline", out);
        let xlsx = format!("{out}.xlsx");
        let o = d.fleetsim(&["run", "tiny", "--out", "ok", "--xlsx", &xlsx, "-q"]);
        refused(&o, "baseline", &xlsx);
        let o = d.fleetsim(&[
            "compare",
            "tiny",
            "--replications",
            "1",
            "--out",
            "ok",
            "--xlsx",
            &xlsx,
            "-q",
        ]);
        refused(&o, "baseline", &xlsx);
    }
    assert_eq!(snapshot(d.path()), before, "nothing touched");
    // `baseline update` still writes there.
    let o = d.fleetsim(&["baseline", "update", "tiny", "--devices", "400"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn force_into_a_folder_containing_the_baselines_leaves_them_byte_identical() {
    // End to end, in a copy of the project's layout: scenarios resolve by name, and the
    // baselines are the committed ones.
    let d = Dir::new();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/baselines");
    let root = d.path().join("results/baselines");
    for e in std::fs::read_dir(&committed).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let to = root.join(e.file_name());
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(e.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
    }
    let before = snapshot(d.path());
    assert!(before.len() > 10, "baselines copied");
    for out in ["results", ".", "results/baselines/tiny"] {
        let o = d.fleetsim(&["run", "tiny", "--out", out, "--force", "-q"]);
        refused(&o, "baselines live", out);
    }
    assert_eq!(snapshot(d.path()), before);
    let o = d.fleetsim(&["verify", "tiny"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn force_replaces_only_what_fleetsim_wrote() {
    let d = Dir::new();
    // A user's folder holding a document.
    std::fs::create_dir(d.path().join("mine")).unwrap();
    d.write("mine/thesis.docx", "four years of work");
    let o = d.fleetsim(&["run", "tiny", "--out", "mine", "--force", "-q"]);
    refused(&o, ".fleetsim-output", "user folder");
    assert_eq!(d.read("mine/thesis.docx"), "four years of work");
    assert_eq!(std::fs::read_dir(d.path().join("mine")).unwrap().count(), 1);
    // A run folder the user added a file to.
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.read("run/.fleetsim-output").contains("command = \"run\""));
    d.write("run/notes.txt", "mine");
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "--force", "-q"]);
    refused(&o, "notes.txt", "extra file");
    assert_eq!(d.read("run/notes.txt"), "mine");
    std::fs::remove_file(d.path().join("run/notes.txt")).unwrap();
    // A subfolder is not fleetsim's either.
    std::fs::create_dir(d.path().join("run/sub")).unwrap();
    let o = d.fleetsim(&["run", "tiny", "--out", "run", "--force", "-q"]);
    refused(&o, "sub", "subfolder");
    std::fs::remove_dir(d.path().join("run/sub")).unwrap();
    // Fleetsim's own folder is replaced.
    let o = d.fleetsim(&[
        "run", "tiny", "--seed", "9", "--out", "run", "--force", "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(complete_run(&d.path().join("run")));
    // Nor does merge replace a user's folder.
    let o = d.fleetsim(&["merge", "some-shard", "--out", "mine", "--force", "-q"]);
    refused(&o, ".fleetsim-output", "merge onto a user folder");
    assert_eq!(d.read("mine/thesis.docx"), "four years of work");
    // Compare and sweep folders carry their command and are replaced by it.
    for args in [
        &[
            "compare",
            "tiny",
            "tiny",
            "--replications",
            "1",
            "--out",
            "c",
            "-q",
        ][..],
        &[
            "sweep",
            "tiny",
            "--set",
            "enrollment.failure_rate=0.05,0.2",
            "--replications",
            "1",
            "--out",
            "s",
            "-q",
        ][..],
    ] {
        let o = d.fleetsim(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut again = args.to_vec();
        again.push("--force");
        let o = d.fleetsim(&again);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = args[args.len() - 2];
        assert!(
            d.read(&format!("{out}/.fleetsim-output"))
                .contains(&format!("command = \"{}\"", args[0]))
        );
    }
    // Single files: replaced only when fleetsim wrote them.
    d.write("report.html", "<html>my own page</html>");
    d.write("book.xlsx", "my own workbook");
    std::fs::create_dir(d.path().join("slides")).unwrap();
    d.write("slides/funnel.png", "my own picture");
    d.write("slides/co-management-status.svg", "<svg>mine</svg>");
    let before = snapshot(d.path());
    for (args, needle) in [
        (
            &["report", "run", "--force", "-q"][..],
            "report.html is not",
        ),
        (
            &[
                "run",
                "tiny",
                "--out",
                "x",
                "--xlsx",
                "book.xlsx",
                "--force",
                "-q",
            ][..],
            "book.xlsx is not",
        ),
        (
            &[
                "report", "run", "-o", "r.html", "--svg", "slides", "--force", "-q",
            ][..],
            ".svg is not",
        ),
    ] {
        let o = d.fleetsim(args);
        refused(&o, needle, needle);
    }
    assert_eq!(snapshot(d.path()), before, "nothing touched");
    // Fleetsim's own files are replaced with --force.
    for args in [
        &[
            "report", "run", "-o", "r.html", "--svg", "svg", "--png", "png", "-q",
        ][..],
        &["run", "tiny", "--out", "y", "--xlsx", "y.xlsx", "-q"][..],
    ] {
        let o = d.fleetsim(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut again = args.to_vec();
        again.push("--force");
        let o = d.fleetsim(&again);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let png = std::fs::read(d.path().join("png/co-management-status.png")).unwrap();
    assert!(png.windows(17).any(|w| w == b"Software\0fleetsim"));
    assert!(leftovers(d.path()).is_empty());
}

/// A scenario of `sites` sites over `days` days.
fn wide(d: &Dir, sites: usize, days: u32) -> PathBuf {
    let mut text = format!(
        "name = \"wide\"\nstart_date = 2027-01-04\ndays = {days}\n[fleet]\ndevices = 2000\n[co_management]\nenable_date = 2027-01-04\n"
    );
    for i in 0..sites {
        text.push_str(&format!(
            "[[sites]]\ncode = \"S{i:03}\"\nshare = {}\n",
            1.0 / sites as f64
        ));
    }
    d.write("wide.toml", &text)
}

#[test]
fn a_kill_during_the_write_leaves_the_old_result_or_the_new_one() {
    let d = Dir::new();
    let scenario = wide(&d, 250, 120);
    let scenario = scenario.to_str().unwrap();
    let o = d.fleetsim(&["run", scenario, "--out", "new", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let new = super::walk(&d.path().join("new"))
        .into_iter()
        .map(|p| (p.file_name().unwrap().to_owned(), std::fs::read(p).unwrap()))
        .collect::<BTreeMap<_, _>>();
    let o = d.fleetsim(&["run", "tiny", "--out", "r", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let old = d.read("r/summary.csv");
    let mut outcomes = vec![];
    // Kill at the start of the write, a little into it, and further in.
    for delay_ms in [0u64, 5, 40, 150] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(["run", scenario, "--out", "r", "--force", "-q"])
            .current_dir(d.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run fleetsim");
        let started = Instant::now();
        // Wait for the temporary folder: the write has begun.
        while leftovers(d.path()).is_empty() && started.elapsed() < Duration::from_secs(120) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().ok();
        let status = child.wait().unwrap();
        let r = d.path().join("r");
        assert!(
            complete_run(&r),
            "after a kill at +{delay_ms} ms: incomplete"
        );
        let summary = d.read("r/summary.csv");
        if summary == old {
            outcomes.push("old");
        } else {
            for (name, bytes) in &new {
                assert_eq!(&std::fs::read(r.join(name)).unwrap(), bytes, "{name:?}");
            }
            outcomes.push("new");
        }
        eprintln!(
            "kill at +{delay_ms} ms ({status}): {}",
            outcomes.last().unwrap()
        );
        // A later --force works and cleans what the killed run left.
        let o = d.fleetsim(&["run", "tiny", "--out", "r", "--force", "-q"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(d.read("r/summary.csv"), old);
        assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
    }
    assert!(
        outcomes.contains(&"old"),
        "no kill landed during the write: {outcomes:?}"
    );
}

#[test]
fn a_stale_temporary_folder_of_a_dead_run_is_cleaned() {
    let d = Dir::new();
    let o = d.fleetsim(&["run", "tiny", "--out", "r", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Left by runs that are gone (a pid above any Linux pid) and by a live one (this test).
    let dead = d.path().join(".r.fleetsim-tmp.4294967000.0.1");
    std::fs::create_dir(&dead).unwrap();
    std::fs::write(dead.join("timeline.csv"), "half").unwrap();
    let dead_file = d.path().join(".report.html.fleetsim-tmp.4294967000.3.9");
    std::fs::write(&dead_file, "half").unwrap();
    let live = d
        .path()
        .join(format!(".r.fleetsim-tmp.{}.0.1", std::process::id()));
    std::fs::create_dir(&live).unwrap();
    let o = d.fleetsim(&["run", "tiny", "--out", "r", "--force", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = d.fleetsim(&["report", "r", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    if cfg!(target_os = "linux") {
        assert!(!dead.exists());
        assert!(!dead_file.exists());
    }
    assert!(live.exists(), "a live process's folder is left alone");
}

#[test]
fn concurrent_force_runs_leave_one_complete_result() {
    let d = Dir::new();
    for existing in [false, true] {
        if existing {
            let o = d.fleetsim(&["run", "tiny", "--out", "r", "-q"]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        let children: Vec<_> = (0..4)
            .map(|i| {
                Command::new(env!("CARGO_BIN_EXE_fleetsim"))
                    .args(["run", "tiny", "--seed", &format!("{}", 100 + i)])
                    .args(["--out", "r", "--force", "-q"])
                    .current_dir(d.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run fleetsim")
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(
                o.status.success() || o.status.code() == Some(2),
                "{}",
                stderr(&o)
            );
        }
        assert!(complete_run(&d.path().join("r")));
        let summary = d.read("r/summary.csv");
        assert!(
            (100..104).any(|s| summary.contains(&format!(",{s},"))),
            "{summary}"
        );
        assert!(leftovers(d.path()).is_empty(), "{:?}", leftovers(d.path()));
        std::fs::remove_dir_all(d.path().join("r")).unwrap();
    }
}

#[test]
fn threads_are_bounded() {
    let d = Dir::new();
    for args in [
        &["run", "tiny", "--threads", "1025"][..],
        &["run", "tiny", "--threads=-1"][..],
        &["compare", "tiny", "--threads", "100000"][..],
        &["verify", "tiny", "--threads", "99999999999999999999"][..],
        &["bench", "tiny", "--threads", "5000"][..],
    ] {
        let o = d.fleetsim(args);
        refused(&o, "from 1 to 1024", &format!("{args:?}"));
    }
    assert!(d.entries().is_empty());
}

#[test]
fn runs_over_the_memory_budget_are_refused_before_they_start() {
    let d = Dir::new();
    let scenario = wide(&d, 250, 3650);
    let scenario = scenario.to_str().unwrap();
    let o = d.fleetsim(&["run", scenario, "--bucket", "hour", "-q"]);
    refused(&o, "--bucket day", "250 sites x 3650 days hourly");
    assert!(
        stderr(&o).contains("over the budget of 8192 MiB"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).lines().count() <= 3);
    // A budget of one MiB refuses even a small run; compare says what to change too.
    let small = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fleetsim"))
            .args(args)
            .env("FLEETSIM_MEMORY_BUDGET_MIB", "1")
            .current_dir(d.path())
            .output()
            .unwrap()
    };
    let o = small(&["run", "tiny", "--devices", "20000", "-q"]);
    refused(&o, "fewer --days", "budget 1 MiB");
    let o = small(&["compare", "tiny", "tiny", "--devices", "20000", "-q"]);
    refused(&o, "--replications", "compare over budget");
    for args in [
        &["bench", "tiny", "--devices", "20000"][..],
        &["baseline", "update", "tiny", "--devices", "20000"][..],
    ] {
        refused(&small(args), "over the budget", &format!("{args:?}"));
    }
    let o = Command::new(env!("CARGO_BIN_EXE_fleetsim"))
        .args(["run", "tiny", "-q"])
        .env("FLEETSIM_MEMORY_BUDGET_MIB", "lots")
        .current_dir(d.path())
        .output()
        .unwrap();
    refused(&o, "FLEETSIM_MEMORY_BUDGET_MIB", "bad budget");
    assert_eq!(d.entries(), ["wide.toml"], "nothing written");
    // The same scenario by day fits.
    let o = d.fleetsim(&["run", scenario, "--days", "30", "-q", "--out", "w"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
