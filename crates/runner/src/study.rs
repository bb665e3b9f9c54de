//! A *study*: variants (scenarios with a label and key cells) run over the same replications,
//! the part `compare` and `sweep` share. `compare` builds one from its scenarios, `sweep` from a
//! grid of settings.
//!
//! Replication r (1, 2, …) of every variant runs with seed `BASE + r − 1` (wrapping at 2^64);
//! since randomness is keyed by seed and device, two variants that share the `[fleet]` settings
//! get the same devices and the same dice in the same replication (common random numbers),
//! and their per-replication differences carry only the effect of what differs.
//!
//! Runs go in parallel on `min(threads, runs)` worker threads, one run per worker at a time,
//! each run with `threads / workers` (at least one) engine threads: on few cores, independent
//! runs keep every core busy without the engine's barriers between threads. Results are put
//! back in (variant, replication) order and every statistic is computed in that order, so the
//! files are the same for any `--threads`.
//!
//! Running and writing are two steps: [`run_jobs`] runs any subset of the runs (all of them,
//! or one `--shard`'s share), and [`write_study`] writes the files from all runs and the
//! study's [`Layout`]. One machine does both; a shard stores its runs in a shard folder
//! (`crate::shard`) and `fleetsim merge` reads every shard and calls the same [`write_study`],
//! so the merged files are the same bytes. Any command that builds a [`Study`] (`forecast` as
//! well) gets `--shard` and `merge` this way.

use crate::cli::{Failure, print_findings};
use crate::output::{self, safe_cell};
use crate::stats::{self, Summary, parse_number};
use crate::xlsx;
use clap::Args;
use fleetsim_model::prereq::Finding;
use fleetsim_model::{RunOptions, Scenario};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Options shared by `compare` and `sweep`: replications and where the results go.
#[derive(Args)]
pub struct StudyArgs {
    /// Runs per scenario; replication r (1, 2, …) uses seed BASE + r − 1 in every scenario,
    /// where BASE is --seed or the (first) scenario's seed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub replications: u32,
    /// Output folder.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Replace the output folder (and the --xlsx file) if it exists and fleetsim wrote it.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no run information on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write a spreadsheet workbook (.xlsx) with the tables and line charts.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
    /// Run only shard K of N (1 ≤ K ≤ N): the runs whose index i (in scenario, replication
    /// order, from 0) has i mod N = K − 1, written as a shard folder for `fleetsim merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

/// One shard of a study: `k` of `n`, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard's number, 1 to `n`.
    pub k: u32,
    /// How many shards the study is split into.
    pub n: u32,
}

impl Shard {
    /// Whether run `index` (0-based, in (variant, replication) order) belongs to this shard.
    pub fn holds(self, index: usize) -> bool {
        index % self.n as usize == (self.k - 1) as usize
    }

    /// The run indices this shard holds out of `total`, ascending.
    pub fn runs(self, total: usize) -> Vec<usize> {
        (0..total).filter(|i| self.holds(*i)).collect()
    }
}

/// The most shards a study may be split into.
pub const MAX_SHARDS: u32 = 100_000;

/// Parses `K/N` with 1 ≤ K ≤ N ≤ [`MAX_SHARDS`].
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let usage = || {
        format!(
            "expected K/N with whole numbers 1 ≤ K ≤ N ≤ {MAX_SHARDS}, such as 2/8, found {s:?}"
        )
    };
    let (k, n) = s.split_once('/').ok_or_else(usage)?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(k) || !digits(n) {
        return Err(usage());
    }
    let (k, n): (u32, u32) = (
        k.parse().map_err(|_| usage())?,
        n.parse().map_err(|_| usage())?,
    );
    if k == 0 || n == 0 || k > n || n > MAX_SHARDS {
        return Err(usage());
    }
    Ok(Shard { k, n })
}

/// One scenario of a study.
pub struct Variant {
    /// Cells of the key columns (CSV-safe), such as its name or the swept values.
    pub keys: Vec<String>,
    /// Its name in charts and messages.
    pub label: String,
    /// The name of its timeline sheet in a workbook (made valid and unique there).
    pub sheet: String,
    /// The scenario (its seed is replaced by each replication's).
    pub scenario: Scenario,
}

/// Variants run over the same replications.
pub struct Study {
    /// The command that runs it (`compare`, `sweep`), recorded in shard manifests.
    pub command: &'static str,
    /// Names of the key columns (`scenario`, or the swept keys).
    pub key_header: Vec<String>,
    /// The variants; the first is the baseline.
    pub variants: Vec<Variant>,
    /// Replications per variant.
    pub replications: u32,
    /// Base seed.
    pub base_seed: u64,
    /// Name of the metric statistics file (`comparison.csv`, `sweep.csv`).
    pub metrics_file: &'static str,
}

/// What the files of a study need besides its runs: everything of a [`Study`] but the
/// scenarios, with a hash of each. A shard manifest carries it, so that `merge` writes the
/// study's files without the scenarios.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The command (`compare`, `sweep`).
    pub command: String,
    /// Name of the metric statistics file.
    pub metrics_file: String,
    /// Names of the key columns.
    pub key_header: Vec<String>,
    /// Replications per variant.
    pub replications: u32,
    /// Base seed.
    pub base_seed: u64,
    /// The variants, in order.
    pub variants: Vec<VariantLayout>,
}

/// A variant in a [`Layout`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantLayout {
    /// Cells of the key columns.
    pub keys: Vec<String>,
    /// Its name in charts and messages.
    pub label: String,
    /// Its timeline sheet's name in a workbook.
    pub sheet: String,
    /// SHA-256 (hex) of its resolved scenario: every setting after overrides and sweep edits.
    pub scenario_sha256: String,
}

/// SHA-256 in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Study {
    /// Runs in all: variants × replications.
    pub fn total_runs(&self) -> usize {
        self.variants.len() * self.replications as usize
    }

    /// The study without its scenarios, each replaced by the hash of its resolved settings
    /// (the model's full description of the scenario, which holds every setting).
    pub fn layout(&self) -> Layout {
        Layout {
            command: self.command.into(),
            metrics_file: self.metrics_file.into(),
            key_header: self.key_header.clone(),
            replications: self.replications,
            base_seed: self.base_seed,
            variants: self
                .variants
                .iter()
                .map(|v| VariantLayout {
                    keys: v.keys.clone(),
                    label: v.label.clone(),
                    sheet: v.sheet.clone(),
                    scenario_sha256: sha256_hex(format!("{:?}", v.scenario).as_bytes()),
                })
                .collect(),
        }
    }
}

impl Layout {
    /// Runs in all: variants × replications.
    pub fn total_runs(&self) -> usize {
        self.variants.len() * self.replications as usize
    }

    /// Run `index`'s variant (0-based) and replication (1-based).
    pub fn job(&self, index: usize) -> (usize, u32) {
        let reps = self.replications.max(1) as usize;
        (index / reps, (index % reps) as u32 + 1)
    }
}

/// The seed of replication `r` (1-based): `base + r − 1`, wrapping.
pub fn replication_seed(base: u64, r: u32) -> u64 {
    base.wrapping_add(u64::from(r.max(1) - 1))
}

/// Timeline columns that timeline_mean.csv gives mean and band of.
const BAND_COLUMNS: [&str; 3] = [
    "state_co_managed",
    "state_scheduled",
    "gateway_concurrent_clients",
];

fn is_band(column: &str) -> bool {
    BAND_COLUMNS.contains(&column) || (column.starts_with("wl_") && column.ends_with("_intune"))
}

/// The timeline columns a run of `command` keeps besides `day` and `date`: the band columns,
/// and for `forecast` the gateway's daily peak too.
fn kept(command: &str, column: &str) -> bool {
    is_band(column) || (command == "forecast" && column == "gateway_peak_concurrent_clients")
}

/// What a study keeps of one run: all its files need, and what a shard folder stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunOut {
    /// The run's seed.
    pub seed: u64,
    /// summary.csv: header and row.
    pub summary: Vec<Vec<String>>,
    /// timeline.csv restricted to `day`, `date` and the band columns.
    pub timeline: Vec<Vec<String>>,
    /// The preflight's findings, one line each as printed.
    pub findings: Vec<String>,
}

fn finding_lines(findings: &[Finding]) -> Vec<String> {
    let mut text = Vec::new();
    print_findings(&mut text, findings);
    String::from_utf8_lossy(&text)
        .lines()
        .map(String::from)
        .collect()
}

fn run_one(command: &str, s: &Scenario, seed: u64, threads: usize) -> Result<RunOut, Failure> {
    let mut s = s.clone();
    s.set_seed(seed);
    let options = RunOptions {
        threads,
        ..RunOptions::default()
    };
    let r = fleetsim_model::run(&s, &options, |_, _| {}).map_err(|e| Failure::Run(e.into()))?;
    let timeline = output::timeline(&s, &r);
    let keep: Vec<usize> = timeline
        .first()
        .map(|h| {
            (0..h.len())
                .filter(|i| *i < 2 || kept(command, &h[*i]))
                .collect()
        })
        .unwrap_or_default();
    Ok(RunOut {
        seed,
        summary: output::summary(&s, &r),
        timeline: timeline
            .iter()
            .map(|row| keep.iter().map(|i| row[*i].clone()).collect())
            .collect(),
        findings: finding_lines(&r.findings),
    })
}

/// Cores to use and runs at once for `jobs` runs on `threads` (0: one per core).
fn workers(threads: usize, jobs: usize) -> (usize, usize) {
    let cores = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    (cores, cores.min(jobs).max(1))
}

/// Estimated memory of `runs` runs of a study: its largest run times the runs at once, plus
/// what is kept of every run (its timeline's text, at most 64 columns of 48 bytes a cell).
fn study_bytes(study: &Study, runs: usize, threads: usize) -> u64 {
    let (_, at_once) = workers(threads, runs);
    let largest = study
        .variants
        .iter()
        .map(|v| crate::cli::run_bytes(&v.scenario, false, 0.0, false))
        .max()
        .unwrap_or(0);
    let longest = study
        .variants
        .iter()
        .map(|v| u64::from(v.scenario.days))
        .max()
        .unwrap_or(0);
    largest
        .saturating_mul(at_once as u64)
        .saturating_add(longest * 64 * 48 * runs as u64)
}

/// Runs the jobs `indices` (0-based run indices in (variant, replication) order) of a study;
/// results in the order of `indices`.
pub fn run_jobs(
    study: &Study,
    indices: &[usize],
    threads: usize,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<RunOut>, Failure> {
    let reps = study.replications.max(1) as usize;
    par_map(indices.len(), threads, "replications", bar, |i, inner| {
        let (v, r) = (indices[i] / reps, (indices[i] % reps) as u32 + 1);
        let seed = replication_seed(study.base_seed, r);
        run_one(study.command, &study.variants[v].scenario, seed, inner)
    })
}

/// Runs jobs `0..n` on `threads` (0: one per core) and returns their results in job order.
///
/// Workers (threads named `name-k`) each take the next job from a shared counter and run it
/// with `inner` = `cores / workers` (at least one) engine threads, one job per worker at a
/// time; results land in their job's slot, so their order never depends on which worker ran
/// what. After a failure no new job starts, and the first failure in job order is returned.
pub fn par_map<T: Send>(
    n: usize,
    threads: usize,
    name: &str,
    bar: &indicatif::ProgressBar,
    job: impl Fn(usize, usize) -> Result<T, Failure> + Sync,
) -> Result<Vec<T>, Failure> {
    let (cores, workers) = workers(threads, n);
    let inner = (cores / workers).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<T, Failure>>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let out = job(i, inner);
            failed.fetch_or(out.is_err(), Ordering::Relaxed);
            bar.inc(1);
            if let Ok(mut slot) = slots[i].lock() {
                *slot = Some(out);
            }
        }
    };
    std::thread::scope(|scope| -> Result<(), Failure> {
        for k in 1..workers {
            std::thread::Builder::new()
                .name(format!("{name}-{k}"))
                .spawn_scoped(scope, work)
                .map_err(|e| Failure::Run(anyhow::anyhow!("cannot start a thread: {e}")))?;
        }
        work();
        Ok(())
    })?;
    // The first failure in job order, if any, is the one reported.
    let mut outs = Vec::with_capacity(n);
    let mut missing = false;
    for slot in slots {
        match slot.into_inner().ok().flatten() {
            Some(Err(e)) => return Err(e),
            Some(Ok(o)) => outs.push(o),
            None => missing = true,
        }
    }
    if missing {
        return Err(Failure::Run(anyhow::anyhow!(
            "a run stopped before it finished"
        )));
    }
    Ok(outs)
}

/// All runs of a study (in run-index order) grouped by variant: [variant][replication].
pub fn by_variant(layout: &Layout, runs: Vec<RunOut>) -> Vec<Vec<RunOut>> {
    let mut runs = runs.into_iter();
    layout
        .variants
        .iter()
        .map(|_| runs.by_ref().take(layout.replications as usize).collect())
        .collect()
}

/// The summary columns that are metrics: every column but `scenario` and `seed` whose cells
/// are numbers or empty in every run.
fn metric_columns(runs: &[Vec<RunOut>]) -> Vec<(usize, String)> {
    let header = &runs[0][0].summary[0];
    (0..header.len())
        .filter(|i| !matches!(header[*i].as_str(), "scenario" | "seed"))
        .filter(|i| {
            runs.iter().flatten().all(|o| {
                let cell = o.summary[1].get(*i).map_or("", String::as_str);
                cell.is_empty() || parse_number(cell).is_some()
            })
        })
        .map(|i| (i, header[i].clone()))
        .collect()
}

/// comparison.csv (or sweep.csv): per metric, per variant, the statistics over replications
/// and the paired difference against the first variant.
fn metric_rows(layout: &Layout, runs: &[Vec<RunOut>]) -> Vec<Vec<String>> {
    let mut header = layout.key_header.clone();
    header.push("metric".into());
    header.extend(Summary::COLUMNS.map(String::from));
    let mut rows = vec![header];
    for (i, name) in metric_columns(runs) {
        let values: Vec<Vec<Option<f64>>> = runs
            .iter()
            .map(|reps| {
                reps.iter()
                    .map(|o| o.summary[1].get(i).and_then(|c| parse_number(c)))
                    .collect()
            })
            .collect();
        for (v, variant) in layout.variants.iter().enumerate() {
            let mut row = variant.keys.clone();
            row.push(name.clone());
            row.extend(Summary::of(&values[v], &values[0]).cells());
            rows.push(row);
        }
    }
    rows
}

/// replications.csv: one summary row per run, after its keys, replication and seed.
fn replication_rows(layout: &Layout, runs: &[Vec<RunOut>]) -> Vec<Vec<String>> {
    let summary_header = &runs[0][0].summary[0];
    let keep: Vec<usize> = (0..summary_header.len())
        .filter(|i| !matches!(summary_header[*i].as_str(), "scenario" | "seed"))
        .collect();
    let mut header = layout.key_header.clone();
    header.extend(["replication", "seed"].map(String::from));
    header.extend(keep.iter().map(|i| summary_header[*i].clone()));
    let mut rows = vec![header];
    for (variant, reps) in layout.variants.iter().zip(runs) {
        for (r, o) in reps.iter().enumerate() {
            let mut row = variant.keys.clone();
            row.push((r + 1).to_string());
            row.push(o.seed.to_string());
            row.extend(
                keep.iter()
                    .map(|i| o.summary[1].get(*i).cloned().unwrap_or_default()),
            );
            rows.push(row);
        }
    }
    rows
}

/// Per variant: its mean timeline, `day`, `date`, then `<column>_mean`, `_p10`, `_p90` for each
/// band column (header first).
fn mean_timelines(runs: &[Vec<RunOut>]) -> Vec<Vec<Vec<String>>> {
    runs.iter()
        .map(|reps| {
            let first = &reps[0].timeline;
            let mut header: Vec<String> = first[0][..2].to_vec();
            for c in &first[0][2..] {
                header.extend(["mean", "p10", "p90"].map(|s| format!("{c}_{s}")));
            }
            let mut rows = vec![header];
            for (i, row) in first.iter().enumerate().skip(1) {
                let mut out = row[..2].to_vec();
                for c in 2..row.len() {
                    let xs: Vec<f64> = reps
                        .iter()
                        .filter_map(|o| o.timeline.get(i)?.get(c).and_then(|x| parse_number(x)))
                        .collect();
                    let sorted = stats::sorted(&xs);
                    out.push(stats::fmt_opt(stats::mean(&xs)));
                    out.push(stats::fmt_opt(stats::percentile(&sorted, 10)));
                    out.push(stats::fmt_opt(stats::percentile(&sorted, 90)));
                }
                rows.push(out);
            }
            rows
        })
        .collect()
}

/// Per variant: its mean timeline with its key cells in front of every row (header first).
fn keyed(layout: &Layout, means: Vec<Vec<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    layout
        .variants
        .iter()
        .zip(means)
        .map(|(variant, mean)| {
            mean.into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let mut r = if i == 0 {
                        layout.key_header.clone()
                    } else {
                        variant.keys.clone()
                    };
                    r.extend(row);
                    r
                })
                .collect()
        })
        .collect()
}

/// Where a study's files go.
pub struct Target<'a> {
    /// The output folder.
    pub out: &'a Path,
    /// The workbook, if asked for.
    pub xlsx: Option<&'a Path>,
    /// Replace them if they exist.
    pub force: bool,
    /// Print nothing on stderr.
    pub quiet: bool,
}

impl Target<'_> {
    /// Fails, before any work, when the folder or workbook may not be written.
    pub fn check(&self) -> Result<(), Failure> {
        crate::target::check_dir(self.out, self.force).map_err(Failure::BadInput)?;
        if let Some(x) = self.xlsx {
            crate::target::check_file(x, self.force, crate::target::Signature::Xlsx)
                .map_err(Failure::BadInput)?;
        }
        Ok(())
    }
}

/// Writes a study's folder (and workbook) from all its runs, grouped [variant][replication]:
/// the one place its statistics are computed, for one machine and for `merge` alike.
pub fn write_study(layout: &Layout, runs: &[Vec<RunOut>], target: &Target) -> Result<(), Failure> {
    if layout.command == "forecast" {
        return crate::forecast::write(layout, runs, target);
    }
    if !target.quiet {
        for (variant, reps) in layout.variants.iter().zip(runs) {
            for line in reps.first().map_or(&[][..], |o| &o.findings[..]) {
                eprintln!("{}: {line}", variant.label);
            }
        }
    }
    let metrics = metric_rows(layout, runs);
    let replications = replication_rows(layout, runs);
    let means = keyed(layout, mean_timelines(runs));
    // timeline_mean.csv: the variants' mean timelines one after the other.
    let timeline_mean = means[0][..1]
        .iter()
        .chain(means.iter().flat_map(|m| &m[1..]))
        .cloned();
    crate::target::write_dir(target.out, target.force, &layout.command, |tmp| {
        output::write_csv(&tmp.join(&layout.metrics_file), metrics.iter().cloned())?;
        output::write_csv(&tmp.join("replications.csv"), replications.iter().cloned())?;
        output::write_csv(&tmp.join("timeline_mean.csv"), timeline_mean)?;
        Ok(())
    })
    .map_err(Failure::Run)?;
    if let Some(path) = target.xlsx {
        let metrics_sheet = layout.metrics_file.trim_end_matches(".csv");
        let mut sheets = vec![xlsx::Sheet {
            name: metrics_sheet.into(),
            rows: metrics,
        }];
        let mut timelines = Vec::new();
        for (variant, mean) in layout.variants.iter().zip(means) {
            timelines.push((safe_cell(&variant.label), sheets.len()));
            sheets.push(xlsx::Sheet {
                name: variant.sheet.clone(),
                rows: mean,
            });
        }
        sheets.push(xlsx::Sheet {
            name: "replications".into(),
            rows: replications,
        });
        let note = format!(
            " (mean of {} replication{})",
            layout.replications,
            plural(layout.replications as usize)
        );
        let charts = xlsx::timeline_charts(&sheets, &timelines, "_mean", &note);
        xlsx::write(path, target.force, &sheets, &charts).map_err(Failure::Run)?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A progress bar over `total` runs, hidden when `show` is off.
fn runs_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} run {pos}/{len} [{bar:30}] ETA {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    // Redrawn every 200 ms even while a long run holds the count still.
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Runs a study and writes its folder (and workbook), or with `--shard` runs its share and
/// writes a shard folder: the part `compare` and `sweep` share. `default_out` is the folder
/// when `--out` is not given (a shard's gets `-shard-K-of-N` appended).
pub fn run_study(
    study: &Study,
    args: &StudyArgs,
    threads: usize,
    default_out: PathBuf,
) -> Result<(), Failure> {
    let out = match (&args.out, args.shard) {
        (Some(out), _) => out.clone(),
        (None, None) => default_out,
        (None, Some(s)) => {
            let mut name = default_out.file_name().unwrap_or_default().to_os_string();
            name.push(format!("-shard-{}-of-{}", s.k, s.n));
            default_out.with_file_name(name)
        }
    };
    if args.shard.is_some() && args.xlsx.is_some() {
        return Err(Failure::BadInput(
            "--xlsx goes with `fleetsim merge`, which writes the study's files; a --shard writes only its runs".into(),
        ));
    }
    let target = Target {
        out: &out,
        xlsx: args.xlsx.as_deref(),
        force: args.force,
        quiet: args.quiet,
    };
    target.check()?;
    let layout = study.layout();
    let indices = match args.shard {
        Some(s) => s.runs(study.total_runs()),
        None => (0..study.total_runs()).collect(),
    };
    crate::cli::check_memory(
        study_bytes(study, indices.len(), threads),
        &format!("{} ({} runs here)", describe(&layout), indices.len()),
        "use fewer --days, --devices or sites, fewer --threads (runs at once), fewer --replications, or --shard",
    )?;
    let bar = runs_bar(
        !args.quiet && std::io::stderr().is_terminal(),
        indices.len() as u64,
    );
    let started = Instant::now();
    let runs = run_jobs(study, &indices, threads, &bar)?;
    bar.finish_and_clear();
    if let Some(shard) = args.shard {
        crate::shard::write(&out, args.force, &layout, shard, &indices, &runs)
            .map_err(Failure::Run)?;
        if !args.quiet {
            eprintln!(
                "shard {}/{} of {} runs: {} run{} in {:.2} s; wrote {} (merge every shard with `fleetsim merge`)",
                shard.k,
                shard.n,
                study.total_runs(),
                runs.len(),
                plural(runs.len()),
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
        return Ok(());
    }
    write_study(&layout, &by_variant(&layout, runs), &target)?;
    if !args.quiet {
        eprintln!(
            "{}: {} runs in {:.2} s; wrote {}{}",
            describe(&layout),
            study.total_runs(),
            started.elapsed().as_secs_f64(),
            out.display(),
            args.xlsx
                .as_ref()
                .map_or(String::new(), |x| format!(" and {}", x.display()))
        );
    }
    Ok(())
}

/// "S scenarios x R replications (seeds A to B)".
pub fn describe(layout: &Layout) -> String {
    let last = replication_seed(layout.base_seed, layout.replications);
    let what = if layout.command == "forecast" {
        "sample"
    } else {
        "scenario"
    };
    format!(
        "{} {what}{} x {} replication{} (seeds {} to {last})",
        layout.variants.len(),
        plural(layout.variants.len()),
        layout.replications,
        plural(layout.replications as usize),
        layout.base_seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_seeds_count_up_from_the_base() {
        assert_eq!(replication_seed(7, 1), 7);
        assert_eq!(replication_seed(7, 3), 9);
        assert_eq!(replication_seed(u64::MAX, 2), 0);
    }

    #[test]
    fn shards_parse_and_split_the_runs_round_robin() {
        assert_eq!(parse_shard("2/3"), Ok(Shard { k: 2, n: 3 }));
        assert_eq!(parse_shard("1/1"), Ok(Shard { k: 1, n: 1 }));
        for bad in [
            "0/3", "4/3", "a/b", "3", "1/0", "/3", "1/", "+1/3", " 1/3", "1/3/5", "1/100001",
        ] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        assert_eq!(Shard { k: 2, n: 3 }.runs(8), [1, 4, 7]);
        assert_eq!(Shard { k: 7, n: 7 }.runs(6), Vec::<usize>::new());
        // Every run in exactly one shard.
        for n in 1..=9u32 {
            let mut all: Vec<usize> = (1..=n).flat_map(|k| Shard { k, n }.runs(20)).collect();
            all.sort_unstable();
            assert_eq!(all, (0..20).collect::<Vec<_>>());
        }
    }

    #[test]
    fn band_columns() {
        assert!(is_band("state_co_managed"));
        assert!(is_band("wl_compliance_policies_intune"));
        assert!(!is_band("state_eligible"));
        assert!(!is_band("wl_compliance_policies_pilot"));
        // A forecast also keeps the gateway's daily peak; compare and sweep do not.
        assert!(kept("forecast", "gateway_peak_concurrent_clients"));
        assert!(!kept("compare", "gateway_peak_concurrent_clients"));
        assert!(kept("sweep", "state_co_managed"));
    }
}
