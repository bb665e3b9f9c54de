//! `fleetsim calibrate`: fits a scenario's ranged values to observed days by simulation
//! (docs/CALIBRATE.md).
//!
//! The method is rejection approximate Bayesian computation (ABC) with common random numbers:
//!
//! 1. `--samples` points are drawn from the ranges (the prior) by the seeded Latin hypercube
//!    of `fleetsim_model::scenario::ranges::latin_hypercube`.
//! 2. Each point is simulated for the observed days only (the run is cut to the last observed
//!    date) in `--replications` replications; replication r uses seed BASE + r − 1 for every
//!    point, so points differ only by their values (common random numbers).
//! 3. Each run (a point and a seed: one joint draw of the values and of chance) is compared
//!    with the observations: over each series' increments between consecutive known days (the
//!    first from 0 at the start), Σ (Δsim − Δobs)² / ((|Δsim| + |Δobs|) / 2 + 1), a
//!    chi-square-like distance that weighs each count by its Poisson noise.
//! 4. The `--accept` share of runs closest to the observations is kept (ties at the cut are
//!    all kept, so observations that tell the runs apart by nothing keep all of them).
//!    Each ranged value's estimate is the median over the kept runs; its interval runs from
//!    the smallest to the largest kept point, widened by the kept points' mean spacing (at
//!    least one Latin-hypercube stratum, the search's resolution) on each side and clamped to
//!    the prior. The kept runs' values go to posterior.csv, which calibrated.toml names:
//!    `forecast` of it runs them anew with seeds past the fitting ones, a draw of the
//!    posterior predictive (the proof test's band).
//!
//! Runs go in parallel on `--threads` (one run per worker); results land in their sample's
//! slot and every statistic is computed in sample order, so the files are the same bytes for
//! any thread count.

use crate::cli::{Failure, parse_threads};
use crate::observed::{self, Observed};
use crate::stats;
use crate::study::par_map;
use fleetsim_model::fleet::Inventory;
use fleetsim_model::scenario::ranges::{Dist, Ranged, latin_hypercube};
use fleetsim_model::{RunOptions, Scenario};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `fleetsim calibrate`.
#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// The scenario whose ranged values are fitted (a named scenario or a file).
    pub scenario: String,
    /// The observation file (`fleetsim observed`, docs/CALIBRATE.md).
    #[arg(long, value_name = "FILE")]
    pub observed: PathBuf,
    /// Points drawn from the ranges (Latin hypercube).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub samples: u32,
    /// Runs per point, each with its own seed (the same seeds for every point).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub replications: u32,
    /// Share of the runs (points × replications) kept: those closest to the observations.
    #[arg(long, default_value_t = 0.1, value_parser = parse_share)]
    pub accept: f64,
    /// Seed of the Latin hypercube and base seed of the replications (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads, 1 to 1024; 0 (the default) means one per core. Never changes the
    /// results.
    #[arg(long, default_value_t = 0, hide_default_value = true, value_parser = parse_threads)]
    pub threads: usize,
    /// Output folder (default: results/calibrate-<scenario name>).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    /// Replace the output folder if it exists and fleetsim wrote it.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(format!(
            "expected a share above 0 and at most 1, found {s:?}"
        )),
    }
}

/// How a calibration searches.
#[derive(Clone, Debug)]
pub struct Search {
    /// Points drawn from the prior.
    pub samples: usize,
    /// Runs per point.
    pub replications: u32,
    /// Share of runs kept.
    pub accept: f64,
    /// Seed of the hypercube; base seed of the replications.
    pub seed: u64,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// A scenario to calibrate: its text (the ranges are set per point) and its fleet.
pub struct Problem {
    /// The scenario file's text.
    pub text: String,
    /// The scenario at its ranges' centres.
    pub scenario: Scenario,
    /// Its inventory, read once, if the fleet is one.
    pub inventory: Option<Inventory>,
}

impl Problem {
    /// A problem from scenario text with no inventory.
    #[cfg(test)]
    pub fn from_text(text: &str) -> Result<Self, String> {
        let scenario = Scenario::from_toml(text).map_err(|e| e.to_string())?;
        Ok(Self {
            text: text.to_string(),
            scenario,
            inventory: None,
        })
    }

    /// The scenario with the ranges at `values`, cut to `days`, with `seed`.
    pub fn at(&self, values: &[f64], days: u32, seed: u64) -> Result<Scenario, Failure> {
        let mut s = Scenario::from_toml_sample(&self.text, values).map_err(|e| {
            Failure::BadInput(format!("scenario with the ranged values {values:?}: {e}"))
        })?;
        if let Some(inv) = &self.inventory {
            s.set_inventory(inv.clone())
                .map_err(|e| Failure::BadInput(e.to_string()))?;
        }
        s.set_days(days)
            .map_err(|e| Failure::BadInput(e.to_string()))?;
        s.set_seed(seed);
        Ok(s)
    }

    /// Per column of `columns`, per day (0 to `days` − 1): the simulated counts of one run.
    pub fn simulate(
        &self,
        values: &[f64],
        days: u32,
        seed: u64,
        threads: usize,
        columns: &[String],
    ) -> Result<Vec<Vec<u64>>, Failure> {
        let s = self.at(values, days, seed)?;
        let options = RunOptions {
            threads,
            ..RunOptions::default()
        };
        let r = fleetsim_model::run(&s, &options, |_, _| {}).map_err(crate::cli::run_failure)?;
        Ok(columns
            .iter()
            .map(|c| {
                (0..days as usize)
                    .map(|d| observed::simulated(&r, c, d).unwrap_or(0))
                    .collect()
            })
            .collect())
    }
}

/// One range's fitted value.
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// The key and its prior.
    pub range: Ranged,
    /// The search's span of the prior: its support, or its 0.1 and 99.9 percentiles for a
    /// lognormal.
    pub prior_low: f64,
    /// See `prior_low`.
    pub prior_high: f64,
    /// Median of the kept points (4 decimals, inside the interval).
    pub estimate: f64,
    /// The interval's low end (rounded down to 4 decimals).
    pub low: f64,
    /// The interval's high end (rounded up to 4 decimals).
    pub high: f64,
}

/// What a calibration found.
pub struct Fit {
    /// Days simulated (to the last observed date).
    pub days: u32,
    /// Each point's values.
    pub points: Vec<Vec<f64>>,
    /// Replications per point.
    pub replications: usize,
    /// Each run's distance to the observations, run j = point j / R, replication j % R.
    pub distance: Vec<f64>,
    /// The kept runs, closest first (ties in run order).
    pub accepted: Vec<usize>,
    /// Per point, per replication, per observed column, per day: simulated counts.
    pub sims: Vec<Vec<Vec<Vec<u64>>>>,
    /// Per range, in the order of `Scenario::ranges`.
    pub fitted: Vec<Fitted>,
}

impl Fit {
    /// Run `j`'s simulated counts: per observed column, per day.
    pub fn run(&self, j: usize) -> &[Vec<u64>] {
        &self.sims[j / self.replications][j % self.replications]
    }
}

/// The cumulative probability a search may reach at each end of a prior: all of it for a
/// bounded prior, 0.1% to 99.9% for a lognormal.
fn unit_span(d: &Dist) -> (f64, f64) {
    match d {
        Dist::LogNormal { .. } => (0.001, 0.999),
        _ => (0.0, 1.0),
    }
}

/// The distance of one point's replications to the observed `cells` (day, column, value;
/// in day order within each column): over each column's increments between consecutive known
/// days (the first from 0 at the start), Σ (Δsim − Δobs)² / ((Δsim + Δobs) / 2 + 1), averaged
/// over the replications. Increments of a count are close to independent, so a slow tail
/// weighs as much as a fast start.
pub fn distance(reps: &[Vec<Vec<u64>>], cells: &[(usize, usize, u64)]) -> f64 {
    if reps.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for rep in reps {
        // Per column: the last known (sim, obs).
        let mut last: Vec<(f64, f64)> = vec![(0.0, 0.0); rep.len()];
        for &(day, col, obs) in cells {
            let (sim, obs) = (rep[col][day] as f64, obs as f64);
            let (ds, d_o) = (sim - last[col].0, obs - last[col].1);
            last[col] = (sim, obs);
            let diff = ds - d_o;
            total += diff * diff / ((ds.abs() + d_o.abs()) / 2.0 + 1.0);
        }
    }
    total / reps.len() as f64
}

/// Fits the problem's ranges to `obs` (already checked against the scenario).
pub fn fit(
    problem: &Problem,
    obs: &Observed,
    search: &Search,
    bar: &indicatif::ProgressBar,
) -> Result<Fit, Failure> {
    let ranges = &problem.scenario.ranges;
    if ranges.is_empty() {
        return Err(Failure::BadInput(format!(
            "scenario {} has no ranged values to calibrate: write the uncertain values as ranges, such as failure_rate = {{ low = 0.05, high = 0.3 }} (docs/SCENARIO.md)",
            problem.scenario.name
        )));
    }
    let days = obs
        .check_against(&problem.scenario)
        .map_err(Failure::BadInput)?;
    let cells = obs.cells(problem.scenario.start_date);
    let n = search.samples.max(1);
    let unit = latin_hypercube(search.seed, n, ranges.len());
    let points: Vec<Vec<f64>> = unit
        .iter()
        .map(|u| {
            u.iter()
                .zip(ranges)
                .map(|(u, r)| {
                    let (a, b) = unit_span(&r.dist);
                    r.dist.quantile(a + u * (b - a))
                })
                .collect()
        })
        .collect();
    let reps = search.replications.max(1) as usize;
    bar.set_length((n * reps) as u64);
    let runs = par_map(n * reps, search.threads, "calibrate", bar, |job, inner| {
        let (i, r) = (job / reps, job % reps);
        let seed = crate::study::replication_seed(search.seed, r as u32 + 1);
        problem.simulate(&points[i], days, seed, inner, &obs.columns)
    })?;
    let mut runs = runs.into_iter();
    let sims: Vec<Vec<Vec<Vec<u64>>>> =
        (0..n).map(|_| runs.by_ref().take(reps).collect()).collect();
    let dist: Vec<f64> = sims
        .iter()
        .flat_map(|s| {
            s.iter()
                .map(|rep| distance(std::slice::from_ref(rep), &cells))
        })
        .collect();
    let total = n * reps;
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by(|a, b| dist[*a].total_cmp(&dist[*b]).then(a.cmp(b)));
    let keep = ((search.accept * total as f64).ceil() as usize).clamp(1, total);
    let cut = dist[order[keep - 1]];
    let accepted: Vec<usize> = order.into_iter().filter(|j| dist[*j] <= cut).collect();
    let stratum = 1.0 / n as f64;
    let fitted = ranges
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let (a, b) = unit_span(&r.dist);
            // Distinct kept points (a point kept with several seeds counts once).
            let mut us = stats::sorted(
                &accepted
                    .iter()
                    .map(|j| unit[*j / reps][k])
                    .collect::<Vec<_>>(),
            );
            us.dedup();
            let vs = stats::sorted(
                &accepted
                    .iter()
                    .map(|j| points[*j / reps][k])
                    .collect::<Vec<_>>(),
            );
            let at = |u: f64| r.dist.quantile(a + u.clamp(0.0, 1.0) * (b - a));
            let (prior_low, prior_high) = (round4(at(0.0), 0), round4(at(1.0), 0));
            // Rounded to 4 decimals outwards, as the calibrated scenario writes them.
            let (first, last) = (
                us.first().copied().unwrap_or(0.0),
                us.last().copied().unwrap_or(1.0),
            );
            // The kept points are taken as a sample of the region that fits: its ends are
            // estimated as for a uniform, min − spacing and max + spacing (spacing: the span
            // over k − 1), and never closer than one stratum, the search's resolution.
            let spacing = if us.len() > 1 {
                (last - first) / (us.len() - 1) as f64
            } else {
                0.0
            };
            let widen = spacing.max(stratum);
            let low = round4(at(first - widen), -1).max(round4(prior_low, -1));
            let high = round4(at(last + widen), 1).min(round4(prior_high, 1));
            let estimate = stats::percentile(&vs, 50).unwrap_or_else(|| r.dist.center());
            Fitted {
                range: r.clone(),
                prior_low,
                prior_high,
                estimate: round4(estimate, 0).clamp(low, high),
                low,
                high,
            }
        })
        .collect();
    Ok(Fit {
        days,
        points,
        replications: reps,
        distance: dist,
        accepted,
        sims,
        fitted,
    })
}

/// `x` rounded to 4 decimals towards `dir` (−1 down, 0 nearest, 1 up), as the shortest
/// decimal that reads back the same.
fn round4(x: f64, dir: i8) -> f64 {
    let scaled = x * 1e4;
    let r = match dir {
        d if d < 0 => scaled.floor(),
        d if d > 0 => scaled.ceil(),
        _ => scaled.round(),
    };
    format!("{:.4}", r / 1e4).parse().unwrap_or(x)
}

/// The calibrated scenario: the source text with each range replaced by a triangular range
/// (`low` and `high` the interval, `mode` the estimate), its name suffixed `-calibrated`, an
/// inventory path made absolute, and a header saying where it came from.
pub fn calibrated_toml(
    text: &str,
    fit: &Fit,
    obs_origin: &str,
    dir: Option<&Path>,
    search: &Search,
) -> Result<String, anyhow::Error> {
    use toml_edit::{DocumentMut, InlineTable, Item, Value};
    let mut doc: DocumentMut = text.parse()?;
    for f in &fit.fitted {
        let parts: Vec<&str> = f.range.key.split('.').collect();
        let mut item: Option<&mut Item> = doc.as_item_mut().get_mut(parts[0]);
        for p in &parts[1..] {
            item = item.and_then(|i| i.get_mut(p));
        }
        let item = item.ok_or_else(|| anyhow::anyhow!("{} not found", f.range.key))?;
        let (lo, hi, mode) = (f.low, f.high, f.estimate);
        let mut t = InlineTable::new();
        t.insert("mode", Value::from(mode));
        t.insert("low", Value::from(lo));
        t.insert("high", Value::from(hi));
        let decor = item
            .as_value()
            .map(|v| v.decor().clone())
            .unwrap_or_default();
        let mut v = Value::InlineTable(t);
        *v.decor_mut() = decor;
        *item = Item::Value(v);
    }
    if let Some(name) = doc.get("name").and_then(Item::as_str) {
        let name = format!("{name}-calibrated");
        doc["name"] = toml_edit::value(name);
    }
    // The posterior: `forecast` draws its samples from the kept runs' values, run with seeds
    // past every fitting seed (fresh chance, not the chance the kept runs were chosen for).
    doc["posterior"] = toml_edit::value(POSTERIOR);
    let fresh = search
        .seed
        .wrapping_add(u64::from(search.replications.max(1)));
    doc["seed"] = toml_edit::value(i64::try_from(fresh).unwrap_or(i64::MAX));
    if let (Some(d), Some(rel)) = (
        dir,
        doc.get("fleet")
            .and_then(|f| f.get("inventory"))
            .and_then(Item::as_str)
            .map(String::from),
    ) {
        let abs = crate::target::resolved(&d.join(rel));
        doc["fleet"]["inventory"] = toml_edit::value(abs.display().to_string());
    }
    Ok(format!(
        "# Calibrated by `fleetsim calibrate` against {obs_origin}: {} points of the ranges \
         (seed {}, {} replication{} each) simulated over the first {} days, {} runs kept.\n\
         # Each range is now triangular: low and high the interval, mode the estimate\n\
         # (calibration.csv); `forecast` draws its samples from the kept runs' values\n\
         # (posterior.csv), and the seed is past every fitting seed (docs/CALIBRATE.md).\n{}",
        fit.points.len(),
        search.seed,
        search.replications,
        if search.replications == 1 { "" } else { "s" },
        fit.days,
        fit.accepted.len(),
        doc
    ))
}

/// The file of the kept runs' values, beside calibrated.toml.
pub const POSTERIOR: &str = "posterior.csv";

/// The columns of posterior.csv before the ranged keys (`forecast` reads only the keys).
pub const POSTERIOR_INFO: [&str; 4] = ["kept", "point", "replication", "distance"];

/// The rows of posterior.csv: one per kept run, closest first: its rank (1 = closest), its
/// point and replication (from 1), its distance and each ranged value, as the number that ran.
pub fn posterior_rows(fit: &Fit) -> Vec<Vec<String>> {
    let mut header: Vec<String> = POSTERIOR_INFO.map(String::from).to_vec();
    header.extend(fit.fitted.iter().map(|f| f.range.key.clone()));
    let mut rows = vec![header];
    for (k, j) in fit.accepted.iter().enumerate() {
        let mut row = vec![
            (k + 1).to_string(),
            (j / fit.replications + 1).to_string(),
            (j % fit.replications + 1).to_string(),
            stats::fmt(fit.distance[*j]),
        ];
        row.extend(fit.points[j / fit.replications].iter().map(f64::to_string));
        rows.push(row);
    }
    rows
}

/// The rows of calibration.csv.
pub fn calibration_rows(fit: &Fit) -> Vec<Vec<String>> {
    let header = [
        "key",
        "prior",
        "prior_low",
        "prior_high",
        "estimate",
        "low",
        "high",
        "width_share",
        "samples",
        "accepted",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = vec![header];
    for f in &fit.fitted {
        let prior = match f.range.dist {
            Dist::Uniform { .. } => "uniform",
            Dist::Triangular { .. } => "triangular",
            Dist::LogNormal { .. } => "lognormal",
        };
        let span = f.prior_high - f.prior_low;
        rows.push(vec![
            f.range.key.clone(),
            prior.into(),
            stats::fmt(f.prior_low),
            stats::fmt(f.prior_high),
            stats::fmt(f.estimate),
            stats::fmt(f.low),
            stats::fmt(f.high),
            if span > 0.0 {
                stats::fmt((f.high - f.low) / span)
            } else {
                String::new()
            },
            fit.points.len().to_string(),
            fit.accepted.len().to_string(),
        ]);
    }
    rows
}

/// The rows of fit.csv: per observed day and series, the observation and the kept points'
/// simulated p10, p50 and p90 (over points and replications) and the closest point's value.
pub fn fit_rows(fit: &Fit, obs: &Observed, start: chrono::NaiveDate) -> Vec<Vec<String>> {
    let header = [
        "date",
        "day",
        "series",
        "observed",
        "simulated_closest",
        "simulated_p10",
        "simulated_p50",
        "simulated_p90",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = vec![header];
    let closest = fit.accepted.first().copied().unwrap_or(0);
    for d in &obs.days {
        let day = (d.date - start).num_days() as usize;
        for (k, name) in obs.columns.iter().enumerate() {
            let xs: Vec<f64> = fit
                .accepted
                .iter()
                .map(|j| fit.run(*j)[k][day] as f64)
                .collect();
            let sorted = stats::sorted(&xs);
            let p = |q| stats::percentile(&sorted, q).map_or(String::new(), |x| format!("{x}"));
            rows.push(vec![
                d.date.to_string(),
                (day + 1).to_string(),
                name.clone(),
                d.values[k].map_or(String::new(), |v| v.to_string()),
                fit.run(closest)[k][day].to_string(),
                p(10),
                p(50),
                p(90),
            ]);
        }
    }
    rows
}

/// The files calibrate writes, in memory: (name, bytes).
pub fn render(
    problem: &Problem,
    fit: &Fit,
    obs: &Observed,
    search: &Search,
    dir: Option<&Path>,
) -> Result<Vec<(&'static str, Vec<u8>)>, Failure> {
    let toml = calibrated_toml(&problem.text, fit, &obs.origin, dir, search)
        .map_err(|e| Failure::Run(e.context("cannot write the calibrated scenario")))?;
    // The calibrated scenario must load as any scenario does, with the same ranges.
    let back = Scenario::from_toml(&toml).map_err(|e| {
        Failure::Run(anyhow::anyhow!(
            "the calibrated scenario does not load: {e}"
        ))
    })?;
    if back.ranges.len() != fit.fitted.len() {
        return Err(Failure::Run(anyhow::anyhow!(
            "the calibrated scenario has {} ranges, expected {}",
            back.ranges.len(),
            fit.fitted.len()
        )));
    }
    let csv = |rows| crate::output::csv_bytes(rows).map_err(Failure::Run);
    Ok(vec![
        ("calibrated.toml", toml.into_bytes()),
        ("calibration.csv", csv(calibration_rows(fit))?),
        (POSTERIOR, csv(posterior_rows(fit))?),
        (
            "fit.csv",
            csv(fit_rows(fit, obs, problem.scenario.start_date))?,
        ),
    ])
}

/// Runs `fleetsim calibrate`.
pub fn command(args: CalibrateArgs) -> Result<(), Failure> {
    let bad = Failure::BadInput;
    let (source, scenario) =
        crate::scenarios::load(Some(&args.scenario)).map_err(|e| bad(e.to_string()))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("calibrate-{}", scenario.name)));
    crate::target::check_dir(&out, args.force).map_err(bad)?;
    let obs = observed::read(&args.observed).map_err(bad)?;
    let days = obs.check_against(&scenario).map_err(bad)?;
    let search = Search {
        samples: args.samples as usize,
        replications: args.replications,
        accept: args.accept,
        seed: args.seed.unwrap_or(scenario.seed),
        threads: args.threads,
    };
    // The inventory, if any, is read once (not once per run).
    let inventory = match &scenario.fleet.inventory {
        None => None,
        Some(_) => {
            let mut with = scenario.clone();
            crate::inventory::attach(&mut with, source.dir.as_deref()).map_err(bad)?;
            with.fleet.overrides.as_deref().cloned()
        }
    };
    let problem = Problem {
        text: source.text.clone(),
        inventory,
        scenario,
    };
    let probe = problem.at(
        &problem
            .scenario
            .ranges
            .iter()
            .map(|r| r.dist.center())
            .collect::<Vec<_>>(),
        days,
        search.seed,
    )?;
    let cores = if search.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        search.threads
    };
    crate::cli::check_memory(
        crate::cli::run_bytes(&probe, false, 0.0, false)
            .saturating_mul(cores.min(search.samples) as u64),
        &format!(
            "calibrate {} ({} devices, {days} days, {} runs at once)",
            probe.name,
            probe.fleet.devices,
            cores.min(search.samples)
        ),
        "use fewer --threads, or a smaller fleet",
    )?;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} run {pos}/{len} [{bar:30}] ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = Instant::now();
    let fit = fit(&problem, &obs, &search, &bar)?;
    bar.finish_and_clear();
    let files = render(&problem, &fit, &obs, &search, source.dir.as_deref())?;
    crate::target::write_dir(&out, args.force, "calibrate", |tmp| {
        for (name, bytes) in &files {
            std::fs::write(tmp.join(name), bytes)?;
        }
        Ok(())
    })
    .map_err(Failure::Run)?;
    if !args.quiet {
        eprintln!(
            "calibrate {}: {} points x {} replication{} of {} days in {:.2} s; kept {} (distance at most {:.2})",
            problem.scenario.name,
            fit.points.len(),
            search.replications,
            if search.replications == 1 { "" } else { "s" },
            fit.days,
            started.elapsed().as_secs_f64(),
            fit.accepted.len(),
            fit.accepted.last().map_or(0.0, |i| fit.distance[*i])
        );
        for f in &fit.fitted {
            eprintln!(
                "  {}: {} (interval {} to {}; prior {} to {})",
                f.range.key,
                stats::fmt(f.estimate),
                stats::fmt(f.low),
                stats::fmt(f.high),
                stats::fmt(f.prior_low),
                stats::fmt(f.prior_high)
            );
        }
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

/// Draws of the posterior predictive: each kept run's values (a point kept with several seeds
/// counts as often) simulated anew over `days` days with `fresh` seeds of their own, per
/// draw per column of `columns` per day. Draw m of kept run i (in `fit.accepted` order) uses
/// seed BASE + R + i·fresh + m, past every fitting seed (BASE to BASE + R − 1), so its chance
/// is new: the draws hold what is left unknown of the values and the run-to-run noise of one
/// realization. In kept order, then seed order: the same for any thread count.
#[cfg(test)]
pub fn predictive(
    problem: &Problem,
    fit: &Fit,
    search: &Search,
    days: u32,
    fresh: u32,
    columns: &[String],
) -> Result<Vec<Vec<Vec<u64>>>, Failure> {
    let fresh = fresh.max(1) as usize;
    let n = fit.accepted.len() * fresh;
    let bar = indicatif::ProgressBar::hidden();
    let base = search
        .seed
        .wrapping_add(u64::from(search.replications.max(1)));
    par_map(n, search.threads, "calibrate", &bar, |job, inner| {
        let values = &fit.points[fit.accepted[job / fresh] / fit.replications];
        problem.simulate(values, days, base.wrapping_add(job as u64), inner, columns)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observed::Day;

    /// A fleet of fixed composition (every device a hybrid-joined Windows 11 client with a
    /// license) so the fleet is the same for every seed, as an inventory's is; three ranged
    /// values.
    const SCENARIO: &str = "name = \"cal\"\nseed = 1\nstart_date = 2027-01-04\ndays = 60\n\
        [fleet]\ndevices = 2000\nos = { win11_23h2 = 1.0 }\njoin = { hybrid_joined = 1.0 }\n\
        configmgr_client = { hybrid_joined = 1.0 }\nlicensed = 1.0\nthird_party_mdm = 0.0\n\
        [co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"all\"\n\
        [timing]\nrandomization_days_per_100k = { low = 30, high = 150 }\n\
        [enrollment]\nfailure_rate = { low = 0.02, high = 0.3 }\n\
        [remediation]\ndefault = { mean_days = { low = 2, high = 20 } }\n";

    fn ok<T>(r: Result<T, Failure>) -> T {
        match r {
            Ok(v) => v,
            Err(Failure::BadInput(m)) => panic!("bad input: {m}"),
            Err(Failure::Run(e)) => panic!("run: {e:#}"),
            Err(Failure::Blocked) => panic!("blocked"),
        }
    }

    fn columns() -> Vec<String> {
        ["co_managed", "enrolled", "enrollment_failures"]
            .map(String::from)
            .to_vec()
    }

    /// Observations of the first `days` days of `truth` (per column, per day).
    fn observe(p: &Problem, truth: &[Vec<u64>], days: usize) -> Observed {
        Observed {
            origin: "truth".into(),
            columns: columns(),
            days: (0..days)
                .map(|d| Day {
                    line: d as u64 + 2,
                    date: p.scenario.start_date + chrono::Duration::days(d as i64),
                    values: truth.iter().map(|c| Some(c[d])).collect(),
                })
                .collect(),
        }
    }

    /// Fresh replications per kept run in the proof's predictive band.
    const FRESH: u32 = 4;

    fn search(threads: usize) -> Search {
        Search {
            samples: 60,
            replications: 4,
            accept: 0.1,
            seed: 1,
            threads,
        }
    }

    /// One trial: known values (point `t` of a hypercube other than the search's), their
    /// truth simulated with a seed the fit never uses, a fit on the first 10 days, and the
    /// p10–p90 band of co-managed devices over days 11–60 from the calibrated forecast (the
    /// posterior's rows run as `fleetsim forecast calibrated.toml --samples K --replications
    /// FRESH` runs them). Returns (each known value inside its interval, days of 11–60 whose
    /// truth lies in the band).
    fn trial(t: usize, trials: usize, set: &SeedSet) -> (Vec<bool>, usize) {
        let p = Problem::from_text(SCENARIO).unwrap();
        let known: Vec<f64> = latin_hypercube(set.known, trials, 3)[t]
            .iter()
            .zip(&p.scenario.ranges)
            .map(|(u, r)| r.dist.quantile(*u))
            .collect();
        let truth = ok(p.simulate(&known, 60, set.truth + t as u64, 1, &columns()));
        let obs = observe(&p, &truth, 10);
        let bar = indicatif::ProgressBar::hidden();
        // The command's defaults (200 points, one replication, 10% kept).
        let s = Search {
            samples: 200,
            replications: 1,
            accept: set.accept,
            seed: set.search,
            threads: 2,
        };
        let fit = ok(fit(&p, &obs, &s, &bar));
        let inside = fit
            .fitted
            .iter()
            .zip(&known)
            .map(|(f, k)| f.low <= *k && *k <= f.high)
            .collect();
        // The calibrated forecast, as `fleetsim forecast` of calibrated.toml draws it: the
        // files written, the posterior read back, sample i the posterior row
        // `posterior_row(i, K)`, every sample run with the forecast's common seeds (the
        // calibrated scenario's seed, past every fitting seed, and the next ones). K samples ×
        // `FRESH` replications: as many runs as the predictive of `predictive`.
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in ok(render(&p, &fit, &obs, &s, None)) {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let text = std::fs::read_to_string(dir.path().join("calibrated.toml")).unwrap();
        let cal = Scenario::from_toml(&text).unwrap();
        let rows = crate::forecast::read_posterior(
            &dir.path().join(cal.posterior.as_deref().unwrap()),
            &cal.ranges,
        )
        .unwrap();
        let jobs = rows.len() * FRESH as usize;
        let bar = indicatif::ProgressBar::hidden();
        let runs = ok(par_map(jobs, 2, "calibrate", &bar, |job, inner| {
            let (i, r) = (job / FRESH as usize, job % FRESH as usize);
            let values = &rows[crate::forecast::posterior_row(i, rows.len())];
            let seed = crate::study::replication_seed(cal.seed, r as u32 + 1);
            p.simulate(values, 60, seed, inner, &columns()[..1])
        }));
        let runs: Vec<Vec<u64>> = runs.into_iter().map(|mut r| r.remove(0)).collect();
        let held = (10..60)
            .filter(|d| {
                let xs: Vec<f64> = runs.iter().map(|r| r[*d] as f64).collect();
                let sorted = stats::sorted(&xs);
                let (lo, hi) = (
                    stats::percentile(&sorted, 10).unwrap(),
                    stats::percentile(&sorted, 90).unwrap(),
                );
                (lo..=hi).contains(&(truth[0][*d] as f64))
            })
            .count();
        (inside, held)
    }

    /// The seeds of a proof: of the known values' hypercube, of the truth (plus the trial),
    /// of the search; and the share kept.
    #[derive(Clone, Copy)]
    struct SeedSet {
        known: u64,
        truth: u64,
        search: u64,
        accept: f64,
    }

    /// The proof's seeds, fixed before any measurement.
    const PROOF: SeedSet = SeedSet {
        known: 4242,
        truth: 1_000_000,
        search: 1,
        accept: 0.1,
    };

    /// A second set, for a check of how firm the proof's figure is (docs/CALIBRATE.md).
    const SECOND: SeedSet = SeedSet {
        known: 4243,
        truth: 2_000_000,
        search: 5,
        accept: 0.1,
    };

    /// Runs the first `trials` of the 20 trials; asserts the known values are inside their
    /// intervals (every value of a trial) in at least 90% of them and that the band holds the
    /// truth on at least 90% of their held-out days.
    fn proof(trials: usize, set: &SeedSet) {
        // PROOF_ACCEPT=0.2 measures another kept share, PROOF_SEEDS=KNOWN,TRUTH,SEARCH another
        // seed set (docs/CALIBRATE.md).
        let seeds: Vec<u64> = std::env::var("PROOF_SEEDS")
            .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_default();
        let set = SeedSet {
            accept: std::env::var("PROOF_ACCEPT")
                .ok()
                .and_then(|a| a.parse().ok())
                .unwrap_or(set.accept),
            known: seeds.first().copied().unwrap_or(set.known),
            truth: seeds.get(1).copied().unwrap_or(set.truth),
            search: seeds.get(2).copied().unwrap_or(set.search),
        };
        let mut all_inside = 0;
        let mut held = 0;
        let mut report = Vec::new();
        for t in 0..trials {
            let (inside, h) = trial(t, 20, &set);
            all_inside += usize::from(inside.iter().all(|x| *x));
            held += h;
            report.push(format!("trial {t}: inside {inside:?}, band held {h}/50"));
        }
        let report = report.join("\n");
        eprintln!(
            "{report}\nknown values inside in {all_inside}/{trials} trials; band held {held}/{} days",
            trials * 50
        );
        assert!(
            all_inside * 10 >= trials * 9,
            "known values inside in {all_inside}/{trials} trials\n{report}"
        );
        assert!(
            held * 10 >= trials * 50 * 9,
            "band held the truth on {held}/{} days\n{report}",
            trials * 50
        );
    }

    /// The first 4 of the 20 trials (about 20 s in a debug build).
    #[test]
    fn calibration_recovers_known_values_in_a_few_trials() {
        proof(4, &PROOF);
    }

    /// The full proof of issue 16 item 5: 20 trials, intervals and band. Too slow for a debug
    /// test build on a shared 2-core machine (about 7 s in a release one); run with
    /// `cargo test --release -p fleetsim --bin fleetsim -- --ignored proof`. Measured
    /// (docs/CALIBRATE.md): the intervals held the known values in 20 of 20 trials and the
    /// calibrated forecast's band held the truth on 940 of 1,000 days (924 with `predictive`).
    #[test]
    #[ignore]
    fn proof_calibration_recovers_known_values_in_20_trials() {
        proof(20, &PROOF);
    }

    /// The same 20 trials on the second seed set (docs/CALIBRATE.md; measured: 20 of 20
    /// trials inside, the band held 935 of 1,000 days, 869 with `predictive`):
    /// `cargo test --release -p fleetsim --bin fleetsim -- --ignored second_seed_set`.
    #[test]
    #[ignore]
    fn proof_on_a_second_seed_set() {
        proof(20, &SECOND);
    }

    #[test]
    fn observations_that_tell_nothing_leave_the_ranges_wide() {
        let p = Problem::from_text(SCENARIO).unwrap();
        let mut obs = observe(&p, &[vec![0; 10], vec![0; 10], vec![0; 10]], 10);
        for d in &mut obs.days {
            d.values = vec![None, None, None];
        }
        let bar = indicatif::ProgressBar::hidden();
        let fit = ok(fit(&p, &obs, &search(1), &bar));
        assert_eq!(fit.accepted.len(), 60 * 4, "every run ties");
        for f in &fit.fitted {
            assert_eq!((f.low, f.high), (f.prior_low, f.prior_high), "{f:?}");
        }
    }

    #[test]
    fn files_are_the_same_for_any_thread_count() {
        let p = Problem::from_text(SCENARIO).unwrap();
        let truth = ok(p.simulate(&[90.0, 0.1, 8.0], 5, 77, 1, &columns()));
        let obs = observe(&p, &truth, 5);
        let bar = indicatif::ProgressBar::hidden();
        let mut s = search(1);
        s.samples = 12;
        let files = |s: &Search| {
            let fit = ok(fit(&p, &obs, s, &bar));
            ok(render(&p, &fit, &obs, s, None))
        };
        let one = files(&s);
        s.threads = 2;
        assert_eq!(one, files(&s));
        s.threads = 3;
        assert_eq!(one, files(&s));
        // So is the posterior predictive, whose seeds are past every fitting seed.
        let fit1 = ok(fit(&p, &obs, &s, &bar));
        let draws = |threads| {
            let s = Search {
                threads,
                ..s.clone()
            };
            ok(predictive(&p, &fit1, &s, 8, 2, &columns()))
        };
        let three = draws(3);
        assert_eq!(three.len(), fit1.accepted.len() * 2);
        assert_eq!(three, draws(1));
        assert_ne!(three[0], three[1], "two fresh seeds");
        // The calibrated scenario loads, narrowed, as any scenario with ranges does.
        let text = String::from_utf8(one[0].1.clone()).unwrap();
        let back = Scenario::from_toml(&text).unwrap();
        assert_eq!(back.name, "cal-calibrated");
        assert_eq!(back.ranges.len(), 3);
        assert!(matches!(back.ranges[1].dist, Dist::Triangular { .. }));
    }
}
