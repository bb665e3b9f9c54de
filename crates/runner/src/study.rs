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

use crate::cli::{Failure, print_findings};
use crate::output::{self, safe_cell};
use crate::stats::{self, Summary, parse_number};
use crate::xlsx;
use clap::Args;
use fleetsim_model::prereq::Finding;
use fleetsim_model::{RunOptions, Scenario};
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
    /// Replace the output folder (and the --xlsx file) if it exists.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no run information on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write a spreadsheet workbook (.xlsx) with the tables and line charts.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
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

/// What a study keeps of one run.
struct RunOut {
    seed: u64,
    /// summary.csv: header and row.
    summary: Vec<Vec<String>>,
    /// timeline.csv restricted to `day`, `date` and the band columns.
    timeline: Vec<Vec<String>>,
    findings: Vec<Finding>,
}

fn run_one(s: &Scenario, seed: u64, threads: usize) -> Result<RunOut, Failure> {
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
        .map(|h| (0..h.len()).filter(|i| *i < 2 || is_band(&h[*i])).collect())
        .unwrap_or_default();
    Ok(RunOut {
        seed,
        summary: output::summary(&s, &r),
        timeline: timeline
            .iter()
            .map(|row| keep.iter().map(|i| row[*i].clone()).collect())
            .collect(),
        findings: r.findings.clone(),
    })
}

/// Runs every replication of every variant; results indexed [variant][replication].
///
/// `workers` threads each take the next run from a shared counter and run it with `inner`
/// engine threads, one run per worker at a time; results land in their job's slot, so their
/// order never depends on which worker ran what.
fn run_all(
    study: &Study,
    threads: usize,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<Vec<RunOut>>, Failure> {
    let jobs: Vec<(usize, u32)> = (0..study.variants.len())
        .flat_map(|v| (1..=study.replications).map(move |r| (v, r)))
        .collect();
    let cores = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let workers = cores.min(jobs.len()).max(1);
    let inner = (cores / workers).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<RunOut, Failure>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(v, r)) = jobs.get(i) else { break };
            let seed = replication_seed(study.base_seed, r);
            let out = run_one(&study.variants[v].scenario, seed, inner);
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
                .name(format!("replications-{k}"))
                .spawn_scoped(scope, work)
                .map_err(|e| Failure::Run(anyhow::anyhow!("cannot start a thread: {e}")))?;
        }
        work();
        Ok(())
    })?;
    let done: Vec<Option<Result<RunOut, Failure>>> = slots
        .into_iter()
        .map(|s| s.into_inner().ok().flatten())
        .collect();
    // The first failure in job order, if any, is the one reported.
    let mut outs = Vec::with_capacity(jobs.len());
    let mut missing = false;
    for out in done {
        match out {
            Some(Err(e)) => return Err(e),
            Some(Ok(o)) => outs.push(o),
            None => missing = true,
        }
    }
    if missing {
        return Err(Failure::Run(anyhow::anyhow!(
            "a replication stopped before it finished"
        )));
    }
    let mut outs = outs.into_iter();
    Ok(study
        .variants
        .iter()
        .map(|_| outs.by_ref().take(study.replications as usize).collect())
        .collect())
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
fn metric_rows(study: &Study, runs: &[Vec<RunOut>]) -> Vec<Vec<String>> {
    let mut header = study.key_header.clone();
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
        for (v, variant) in study.variants.iter().enumerate() {
            let mut row = variant.keys.clone();
            row.push(name.clone());
            row.extend(Summary::of(&values[v], &values[0]).cells());
            rows.push(row);
        }
    }
    rows
}

/// replications.csv: one summary row per run, after its keys, replication and seed.
fn replication_rows(study: &Study, runs: &[Vec<RunOut>]) -> Vec<Vec<String>> {
    let summary_header = &runs[0][0].summary[0];
    let keep: Vec<usize> = (0..summary_header.len())
        .filter(|i| !matches!(summary_header[*i].as_str(), "scenario" | "seed"))
        .collect();
    let mut header = study.key_header.clone();
    header.extend(["replication", "seed"].map(String::from));
    header.extend(keep.iter().map(|i| summary_header[*i].clone()));
    let mut rows = vec![header];
    for (variant, reps) in study.variants.iter().zip(runs) {
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
fn keyed(study: &Study, means: Vec<Vec<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    study
        .variants
        .iter()
        .zip(means)
        .map(|(variant, mean)| {
            mean.into_iter()
                .enumerate()
                .map(|(i, row)| {
                    let mut r = if i == 0 {
                        study.key_header.clone()
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

/// Runs a study and writes its folder (and workbook): the part `compare` and `sweep` share.
pub fn run_study(
    study: &Study,
    args: &StudyArgs,
    threads: usize,
    out: &Path,
) -> Result<(), Failure> {
    output::check_target(out, args.force).map_err(Failure::BadInput)?;
    if let Some(x) = &args.xlsx {
        output::check_file_target(x, args.force).map_err(Failure::BadInput)?;
    }
    let total = study.variants.len() as u64 * u64::from(study.replications);
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} run {pos}/{len} [{bar:30}] ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        // Redrawn every 200 ms even while a long run holds the count still.
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let runs = run_all(study, threads, &bar)?;
    bar.finish_and_clear();
    if !args.quiet {
        for (variant, reps) in study.variants.iter().zip(&runs) {
            let mut text = Vec::new();
            print_findings(&mut text, &reps[0].findings);
            for line in String::from_utf8_lossy(&text).lines() {
                eprintln!("{}: {line}", variant.label);
            }
        }
    }
    let metrics = metric_rows(study, &runs);
    let replications = replication_rows(study, &runs);
    let means = keyed(study, mean_timelines(&runs));
    // timeline_mean.csv: the variants' mean timelines one after the other.
    let timeline_mean = means[0][..1]
        .iter()
        .chain(means.iter().flat_map(|m| &m[1..]))
        .cloned();
    output::write_dir(out, args.force, |tmp| {
        output::write_csv(&tmp.join(study.metrics_file), metrics.iter().cloned())?;
        output::write_csv(&tmp.join("replications.csv"), replications.iter().cloned())?;
        output::write_csv(&tmp.join("timeline_mean.csv"), timeline_mean)?;
        Ok(())
    })
    .map_err(Failure::Run)?;
    if let Some(path) = &args.xlsx {
        let metrics_sheet = study.metrics_file.trim_end_matches(".csv");
        let mut sheets = vec![xlsx::Sheet {
            name: metrics_sheet.into(),
            rows: metrics,
        }];
        let mut timelines = Vec::new();
        for (variant, mean) in study.variants.iter().zip(means) {
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
            study.replications,
            if study.replications == 1 { "" } else { "s" }
        );
        let charts = xlsx::timeline_charts(&sheets, &timelines, "_mean", &note);
        xlsx::write(path, args.force, &sheets, &charts).map_err(Failure::Run)?;
    }
    if !args.quiet {
        let last = replication_seed(study.base_seed, study.replications);
        eprintln!(
            "{} scenario{} x {} replication{} (seeds {} to {last}): {total} runs in {:.2} s; wrote {}{}",
            study.variants.len(),
            if study.variants.len() == 1 { "" } else { "s" },
            study.replications,
            if study.replications == 1 { "" } else { "s" },
            study.base_seed,
            started.elapsed().as_secs_f64(),
            out.display(),
            args.xlsx
                .as_ref()
                .map_or(String::new(), |x| format!(" and {}", x.display()))
        );
    }
    Ok(())
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
    fn band_columns() {
        assert!(is_band("state_co_managed"));
        assert!(is_band("wl_compliance_policies_intune"));
        assert!(!is_band("state_eligible"));
        assert!(!is_band("wl_compliance_policies_pilot"));
    }
}
