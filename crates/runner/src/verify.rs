//! `fleetsim verify`: re-run a scenario with its baseline's settings, in memory, and compare
//! the files with the baseline's. Exit 0 when they match (or stay within the tolerances), 1 on
//! a regression, 2 on bad input; it never writes a file.

use crate::baseline::{self, Baseline};
use crate::cli::Failure;
use crate::diff::{self, Mode};
use crate::scenarios;
use crate::tolerance::Tolerances;
use clap::Args;
use fleetsim_model::Scenario;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `fleetsim verify ...`.
#[derive(Args)]
pub struct VerifyArgs {
    /// A named scenario (see `fleetsim list`) or a path to a scenario file.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    scenario: Option<String>,
    /// The baseline folder (default: the scenario's name inside --dir).
    #[arg(long, value_name = "DIR", conflicts_with = "all")]
    baseline: Option<PathBuf>,
    /// Verify every baseline in --dir, each against the scenario its manifest names.
    #[arg(long)]
    all: bool,
    /// The folder of baselines, one folder per scenario inside it.
    #[arg(long, value_name = "DIR", default_value = baseline::ROOT)]
    dir: PathBuf,
    /// Allow the metrics of summary.csv to move: 0.02 or 2% (relative, for every metric),
    /// NAME=1.5 (absolute, in the metric's unit), NAME=5%, PREFIX*=3. Repeat or separate with
    /// commas. Without it, the files must be byte-identical.
    #[arg(long, value_name = "SPEC", allow_hyphen_values = true)]
    tolerance: Vec<String>,
    /// Worker threads, 1 to 1024 (default 0: one per core). Never changes the results.
    #[arg(long, default_value_t = 0, value_parser = crate::cli::parse_threads)]
    threads: usize,
}

/// A scenario and its baseline, checked before anything runs.
struct Job {
    scenario: Scenario,
    baseline: Baseline,
}

/// Runs `fleetsim verify`.
pub fn verify(args: VerifyArgs) -> Result<(), Failure> {
    let tolerances = Tolerances::parse(&args.tolerance).map_err(Failure::BadInput)?;
    let mode = tolerances.as_ref().map_or(Mode::Exact, Mode::Tolerance);
    let jobs = prepare(&args, tolerances.as_ref())?;
    let mut failed: Vec<String> = Vec::new();
    for job in &jobs {
        if !check(job, mode, args.threads)? {
            failed.push(job.scenario.name.clone());
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    let dir = if args.dir == Path::new(baseline::ROOT) {
        String::new()
    } else {
        format!(" --dir {}", args.dir.display())
    };
    let what = if jobs.len() == 1 {
        format!("{} moved from its baseline", failed[0])
    } else {
        format!(
            "{} of {} scenarios moved from their baselines: {}",
            failed.len(),
            jobs.len(),
            failed.join(", ")
        )
    };
    Err(Failure::Run(anyhow::anyhow!(
        "{what}. If the change is deliberate, refresh with `fleetsim baseline update {}{dir}` and commit the new baselines with the change",
        failed.join(" "),
    )))
}

/// Loads every scenario and baseline and checks the tolerances' names, so that bad input is
/// refused before anything runs.
fn prepare(args: &VerifyArgs, tolerances: Option<&Tolerances>) -> Result<Vec<Job>, Failure> {
    let bad = |e: String| Failure::BadInput(e);
    let load = |arg: &str| {
        scenarios::load(Some(arg))
            .map(|(_, s)| s)
            .map_err(|e| bad(e.to_string()))
    };
    let mut pairs: Vec<(Scenario, PathBuf)> = Vec::new();
    if args.all {
        for dir in baseline::list(&args.dir).map_err(bad)? {
            let b = baseline::read(&dir).map_err(|e| bad(e.to_string()))?;
            pairs.push((load(&b.manifest.scenario)?, dir));
        }
    } else if let Some(arg) = &args.scenario {
        let s = load(arg)?;
        let dir = args
            .baseline
            .clone()
            .unwrap_or_else(|| args.dir.join(&s.name));
        pairs.push((s, dir));
    }
    let mut jobs = Vec::new();
    for (mut scenario, dir) in pairs {
        let b = baseline::read(&dir).map_err(|e| bad(e.to_string()))?;
        if b.manifest.scenario != scenario.name {
            return Err(bad(format!(
                "{} is the baseline of scenario {:?}, not {:?}: pass that scenario, or the right --baseline",
                dir.display(),
                b.manifest.scenario,
                scenario.name
            )));
        }
        b.manifest.apply(&mut scenario).map_err(|e| {
            bad(format!(
                "invalid baseline manifest {}: {e}",
                dir.join(baseline::MANIFEST).display()
            ))
        })?;
        if let Some(t) = tolerances {
            let summary = b
                .files
                .iter()
                .find(|(n, _)| *n == diff::TOLERANCE_FILE)
                .map_or(&[][..], |(_, bytes)| bytes.as_slice());
            let header = diff::header(summary).map_err(|e| {
                bad(format!(
                    "baseline file {}: {e}",
                    dir.join(diff::TOLERANCE_FILE).display()
                ))
            })?;
            let metrics: Vec<&str> = header
                .iter()
                .map(String::as_str)
                .filter(|h| !diff::SETTINGS.contains(h))
                .collect();
            t.check_names(&metrics, &diff::SETTINGS).map_err(bad)?;
        }
        jobs.push(Job {
            scenario,
            baseline: b,
        });
    }
    Ok(jobs)
}

/// Re-runs one scenario, compares and prints the account; `Ok(false)` on a regression.
fn check(job: &Job, mode: Mode, threads: usize) -> Result<bool, Failure> {
    let started = Instant::now();
    let files = baseline::fresh_files(&job.scenario, threads)?;
    let diffs = diff::compare_run(&job.baseline.files, &files, mode);
    let secs = started.elapsed().as_secs_f64();
    let fails = diffs.iter().any(|d| d.fails);
    let changed = diffs.iter().any(|d| !d.identical());
    let m = &job.baseline.manifest;
    let how = match (mode, fails, changed) {
        (_, true, _) => "REGRESSION against",
        (Mode::Exact, false, _) => "ok, byte-identical to",
        (Mode::Tolerance(_), false, false) => "ok, byte-identical to",
        (Mode::Tolerance(_), false, true) => "ok, within tolerance of",
    };
    println!(
        "{}: {how} {} ({}; {} mode; {secs:.2} s)",
        job.scenario.name,
        job.baseline.dir.display(),
        m.settings(),
        match mode {
            Mode::Exact => "exact",
            Mode::Tolerance(_) => "tolerance",
        }
    );
    let version = env!("CARGO_PKG_VERSION");
    if m.fleetsim_version != version && changed {
        println!(
            "  note: the baseline was made by fleetsim {}, this is {version}",
            m.fleetsim_version
        );
    }
    for d in &diffs {
        for line in d.lines() {
            println!("  {line}");
        }
    }
    Ok(!fails)
}
