//! Baselines: the reference output of a scenario, kept under version control so that CI can
//! tell when a change moves the results.
//!
//! A baseline is a folder, `results/baselines/<scenario name>/` by default, holding the files
//! `fleetsim run` writes (every file but events.csv) and a manifest, `baseline.toml`, with the
//! settings that made them. `fleetsim baseline update` writes baselines on purpose;
//! `fleetsim verify` re-runs with the manifest's settings and compares; `fleetsim run` never
//! writes into a baseline.

use crate::cli::Failure;
use crate::diff::{self, Mode};
use crate::{output, scenarios, target};
use anyhow::Context;
use clap::{Args, Subcommand};
use fleetsim_model::{Bucket, EventCapture, RunOptions, Scenario};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where baselines live, relative to the current folder, unless `--dir` says otherwise.
pub const ROOT: &str = "results/baselines";

/// The manifest's file name inside a baseline folder.
pub const MANIFEST: &str = "baseline.toml";

/// The fleet size of a new baseline: the scenario's, but at most this, so that CI re-runs
/// take well under a second even in a debug build.
pub const DEFAULT_MAX_DEVICES: u32 = 20_000;

/// The files of a baseline besides the manifest: what `fleetsim run` writes without events.
pub const FILES: [&str; 5] = [
    "timeline.csv",
    "summary.csv",
    "breakdown.csv",
    "site_timeline.csv",
    "decisions.csv",
];

/// Everything a baseline folder holds: `update` replaces a folder only while it holds no more.
const ALLOWED: [&str; 6] = [MANIFEST, FILES[0], FILES[1], FILES[2], FILES[3], FILES[4]];

/// `baseline.toml`: the settings that made a baseline, so that `verify` can repeat them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The scenario's name (its `name` field, as in summary.csv).
    pub scenario: String,
    /// The seed of every random stream.
    pub seed: u64,
    /// Fleet size.
    pub devices: u32,
    /// Simulated days.
    pub days: u32,
    /// The fleetsim version that wrote the baseline.
    pub fleetsim_version: String,
}

impl Manifest {
    /// The manifest of a run of `s` by this fleetsim.
    pub fn of(s: &Scenario) -> Self {
        Self {
            scenario: s.name.clone(),
            seed: s.seed,
            devices: s.fleet.devices,
            days: s.days,
            fleetsim_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The manifest's text, with a comment that says what it is.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        Ok(format!(
            "# fleetsim baseline: the files beside this one are what `fleetsim run` wrote for these\n\
             # settings; `fleetsim verify` re-runs them and compares. Refresh with\n\
             # `fleetsim baseline update {}` rather than by hand.\n{}",
            self.scenario,
            toml::to_string(self)?
        ))
    }

    /// Gives `s` the manifest's seed, devices and days.
    pub fn apply(&self, s: &mut Scenario) -> Result<(), String> {
        s.set_seed(self.seed);
        s.set_devices(self.devices)
            .and_then(|()| s.set_days(self.days))
            .map_err(|e| {
                // The model's message names the command-line flag; here it is a manifest field.
                e.message.trim_start_matches("--").to_string()
            })
    }

    /// `seed 7, 2000 devices, 30 days`.
    pub fn settings(&self) -> String {
        format!(
            "seed {}, {} devices, {} days",
            self.seed, self.devices, self.days
        )
    }
}

/// A baseline read from its folder.
pub struct Baseline {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its files, by name, in the order of [`FILES`].
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Why a folder is not a usable baseline.
#[derive(Debug)]
pub enum ReadError {
    /// The folder does not exist.
    Missing(PathBuf),
    /// The folder exists but has no manifest: it is not a baseline.
    NotABaseline(PathBuf),
    /// The manifest is unreadable or invalid.
    BadManifest(PathBuf, String),
    /// The manifest is there but a file is missing or unreadable.
    BadFile(PathBuf, String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing(d) => write!(
                f,
                "no baseline at {}: make one with `fleetsim baseline update <scenario>` (add --dir to write elsewhere than {ROOT})",
                d.display()
            ),
            ReadError::NotABaseline(d) => write!(
                f,
                "{} is not a baseline folder: it has no {MANIFEST} (baselines are made by `fleetsim baseline update`)",
                d.display()
            ),
            ReadError::BadManifest(p, e) => write!(
                f,
                "invalid baseline manifest {}: {e}; refresh the baseline with `fleetsim baseline update <scenario>`",
                p.display()
            ),
            ReadError::BadFile(p, e) => write!(
                f,
                "baseline file {}: {e}; refresh the baseline with `fleetsim baseline update <scenario>`",
                p.display()
            ),
        }
    }
}

/// Reads the baseline in `dir`.
pub fn read(dir: &Path) -> Result<Baseline, ReadError> {
    if !dir.is_dir() {
        return Err(ReadError::Missing(dir.to_path_buf()));
    }
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Err(ReadError::NotABaseline(dir.to_path_buf()));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ReadError::BadManifest(path.clone(), e.to_string()))?;
    let manifest: Manifest = toml::from_str(&text)
        .map_err(|e| ReadError::BadManifest(path.clone(), e.message().trim_end().to_string()))?;
    let mut files = Vec::new();
    for name in FILES {
        let p = dir.join(name);
        let bytes = std::fs::read(&p).map_err(|e| ReadError::BadFile(p, e.to_string()))?;
        files.push((name, bytes));
    }
    Ok(Baseline {
        dir: dir.to_path_buf(),
        manifest,
        files,
    })
}

/// The baseline folders in `root` (those with a manifest), sorted by name.
pub fn list(root: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(root).map_err(|e| {
        format!(
            "cannot read the baselines folder {}: {e}; make baselines with `fleetsim baseline update <scenario>`, or pass --dir",
            root.display()
        )
    })?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        // Hidden folders are unfinished writes (see `crate::target`), not baselines.
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
                && p.join(MANIFEST).is_file()
        })
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(format!(
            "no baselines in {}: make them with `fleetsim baseline update <scenario>`",
            root.display()
        ));
    }
    Ok(dirs)
}

/// Runs `s` as a baseline run (daily timeline, no events) and renders its files.
pub fn fresh_files(s: &Scenario, threads: usize) -> Result<Vec<(&'static str, Vec<u8>)>, Failure> {
    crate::cli::check_run_memory(s, false, 0.0, false)?;
    let options = RunOptions {
        threads,
        bucket: Bucket::Day,
        events: EventCapture::Off,
    };
    let result = fleetsim_model::run(s, &options, |_, _| {}).map_err(|e| Failure::Run(e.into()))?;
    let files = output::render(s, &result).map_err(Failure::Run)?;
    debug_assert!(files.iter().map(|(n, _)| *n).eq(FILES));
    Ok(files)
}

/// `fleetsim baseline ...`.
#[derive(Args)]
pub struct BaselineArgs {
    #[command(subcommand)]
    command: BaselineCommand,
}

#[derive(Subcommand)]
enum BaselineCommand {
    /// Re-run scenarios and replace their baselines, printing what changed.
    Update(UpdateArgs),
}

#[derive(Args)]
struct UpdateArgs {
    /// Named scenarios (see `fleetsim list`) or paths to scenario files.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    scenarios: Vec<String>,
    /// Refresh every baseline already in --dir.
    #[arg(long)]
    all: bool,
    /// Fleet size (default: the old baseline's; for a new one, the scenario's, at most 20000).
    #[arg(long)]
    devices: Option<u32>,
    /// The folder of baselines, one folder per scenario inside it.
    #[arg(long, value_name = "DIR", default_value = ROOT)]
    dir: PathBuf,
    /// Worker threads, 1 to 1024 (default 0: one per core). Never changes the results.
    #[arg(long, default_value_t = 0, value_parser = crate::cli::parse_threads)]
    threads: usize,
}

/// Runs `fleetsim baseline ...`.
pub fn command(args: BaselineArgs) -> Result<(), Failure> {
    match args.command {
        BaselineCommand::Update(a) => update(a),
    }
}

/// One baseline to write, checked before anything runs.
struct Job {
    scenario: Scenario,
    target: PathBuf,
    old: Option<Baseline>,
    /// Why an old baseline could not be read, when it is replaced anyway.
    old_problem: Option<String>,
}

fn update(args: UpdateArgs) -> Result<(), Failure> {
    let names: Vec<String> = if args.all {
        let mut names = Vec::new();
        for dir in list(&args.dir).map_err(Failure::BadInput)? {
            let b = read(&dir).map_err(|e| Failure::BadInput(e.to_string()))?;
            names.push(b.manifest.scenario);
        }
        names
    } else {
        args.scenarios.clone()
    };
    let mut jobs: Vec<Job> = Vec::new();
    for name in &names {
        let job = prepare(name, &args)?;
        if !jobs.iter().any(|j| j.target == job.target) {
            jobs.push(job);
        }
    }
    for job in jobs {
        write(job, args.threads)?;
    }
    Ok(())
}

fn prepare(name: &str, args: &UpdateArgs) -> Result<Job, Failure> {
    let (_, mut scenario) =
        scenarios::load(Some(name)).map_err(|e| Failure::BadInput(e.to_string()))?;
    let target = args.dir.join(&scenario.name);
    let (old, old_problem) = match read(&target) {
        Ok(b) => (Some(b), None),
        Err(ReadError::Missing(_)) => (None, None),
        Err(e @ ReadError::NotABaseline(_)) => {
            return Err(Failure::BadInput(format!(
                "{e}; refusing to replace it: remove it or pass another --dir"
            )));
        }
        Err(e) => (None, Some(e.to_string())),
    };
    if target.is_dir() {
        target::only_files(&target, &ALLOWED).map_err(Failure::BadInput)?;
    }
    let devices = args
        .devices
        .or(old.as_ref().map(|b| b.manifest.devices))
        .unwrap_or(scenario.fleet.devices.min(DEFAULT_MAX_DEVICES));
    scenario
        .set_devices(devices)
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    Ok(Job {
        scenario,
        target,
        old,
        old_problem,
    })
}

fn write(job: Job, threads: usize) -> Result<(), Failure> {
    let Job {
        scenario,
        target,
        old,
        old_problem,
    } = job;
    let manifest = Manifest::of(&scenario);
    let files = fresh_files(&scenario, threads)?;
    let manifest_text = manifest
        .to_toml()
        .context("cannot write the baseline manifest")
        .map_err(Failure::Run)?;
    let name = &scenario.name;
    let shown = target.display();
    let mut lines = Vec::new();
    match &old {
        None => {
            if let Some(problem) = &old_problem {
                println!("{name}: replacing an unreadable baseline ({problem})");
            }
        }
        Some(b) => {
            let old_manifest_text =
                std::fs::read_to_string(b.dir.join(MANIFEST)).unwrap_or_default();
            if b.files == files && old_manifest_text == manifest_text {
                println!("{name}: unchanged ({shown}; {})", manifest.settings());
                return Ok(());
            }
            if b.manifest.settings() != manifest.settings() {
                lines.push(format!(
                    "settings: {} -> {}",
                    b.manifest.settings(),
                    manifest.settings()
                ));
            }
            if b.manifest.fleetsim_version != manifest.fleetsim_version {
                lines.push(format!(
                    "fleetsim version: {} -> {}",
                    b.manifest.fleetsim_version, manifest.fleetsim_version
                ));
            }
            for diff in diff::compare_run(&b.files, &files, Mode::Exact) {
                lines.extend(diff.lines());
            }
        }
    }
    target::write_baseline_dir(&target, &ALLOWED, |tmp| {
        for (file, bytes) in &files {
            let p = tmp.join(file);
            std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        }
        let p = tmp.join(MANIFEST);
        std::fs::write(&p, &manifest_text).with_context(|| format!("cannot write {}", p.display()))
    })
    .map_err(Failure::Run)?;
    let verb = if old.is_some() || old_problem.is_some() {
        "updated"
    } else {
        "created"
    };
    println!("{name}: {verb} {shown} ({})", manifest.settings());
    for line in lines {
        println!("  {line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_refuses_unknown_fields() {
        let m = Manifest {
            scenario: "tiny".into(),
            seed: 7,
            devices: 2000,
            days: 30,
            fleetsim_version: "0.1.0".into(),
        };
        let text = m.to_toml().unwrap();
        assert!(text.starts_with("# fleetsim baseline"));
        assert!(text.contains("devices = 2000\n"), "{text}");
        assert_eq!(toml::from_str::<Manifest>(&text).unwrap(), m);
        let typo = text.replace("devices", "device");
        assert!(toml::from_str::<Manifest>(&typo).is_err());
    }

    #[test]
    fn manifest_settings_apply_and_are_checked() {
        // A scenario without new Path 2 devices: there a fleet of 0 is refused.
        let (_, mut s) = scenarios::load(Some("path1-pilot-collection")).unwrap();
        let mut m = Manifest::of(&s);
        m.devices = 50;
        m.days = 3;
        m.seed = 9;
        m.apply(&mut s).unwrap();
        assert_eq!((s.fleet.devices, s.days, s.seed), (50, 3, 9));
        m.devices = 0;
        let e = m.apply(&mut s).unwrap_err();
        assert!(e.starts_with("devices: expected"), "{e}");
    }

    #[test]
    fn a_fresh_run_has_the_baseline_files_and_the_setting_columns() {
        let (_, mut s) = scenarios::load(Some("tiny")).unwrap();
        s.set_devices(50).unwrap();
        s.set_days(2).unwrap();
        let Ok(files) = fresh_files(&s, 1) else {
            panic!("the run failed")
        };
        assert!(files.iter().map(|(n, _)| *n).eq(FILES));
        let header = diff::header(&files[1].1).unwrap();
        for column in diff::SETTINGS {
            assert!(header.iter().any(|h| h == column), "{column}: {header:?}");
        }
    }

    #[test]
    fn paths_inside_the_baselines_folder_are_recognised() {
        use crate::target::resolved;
        let root = resolved(Path::new(ROOT));
        for p in [
            "results/baselines",
            "results/baselines/x",
            "./results/../results/baselines/x/y",
        ] {
            assert!(resolved(Path::new(p)).starts_with(&root), "{p}");
        }
        for p in ["results/baselines-old", "results/x", "baselines"] {
            assert!(!resolved(Path::new(p)).starts_with(&root), "{p}");
        }
    }
}
