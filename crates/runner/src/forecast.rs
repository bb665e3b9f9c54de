//! `fleetsim forecast`: the spread of a rollout's outcomes over the scenario's ranged values.
//!
//! The ranged values (`Scenario::ranges`, written `{ low, high }`, `{ mode, low, high }` or
//! `{ median, p90 }`) are sampled with a seeded Latin hypercube (`latin_hypercube`, keyed by
//! the base seed): sample i takes, for each range d, the range's quantile at the hypercube's
//! point `u[i][d]`, rounded to 6 significant digits (the value written in samples.csv is the
//! value that ran). Each sample is one variant of a [`Study`] and runs over the same
//! replications (seeds BASE, BASE + 1, …): every sample meets the same devices and the same
//! dice (common random numbers), so the spread between samples is the effect of the values.
//!
//! The study's runs (any `--threads`, one machine or `--shard` and `fleetsim merge`) come back
//! in (sample, replication) order and [`write`] computes every statistic from them in that
//! order: nearest-rank percentiles pick one run's value, rank correlations are sums of whole
//! numbers, so the files are the same bytes for any thread count and any sharding.
//!
//! Files (docs/OUTPUTS.md): `forecast.csv` (per day, p5/p10/p50/p90/p95 over all runs of the
//! co-managed share, each workload's share at Intune and the gateway's peak), `milestones.csv`
//! (each `days_to_*` milestone's distribution; a run that never reaches it counts as later
//! than any day), `sensitivity.csv` (per milestone, each ranged value's Spearman rank
//! correlation with it, ranked) and `samples.csv` (each sample's values).
//!
//! A calibrated scenario (`Scenario::posterior`, a posterior.csv written by `calibrate`) is
//! forecast from that file's rows instead of the hypercube: sample i takes row
//! [`posterior_row`]`(i, K)`, the rows in order again and again, with the same seeds as above;
//! samples.csv then records the row in `posterior_row`.
//!
//! A scenario without ranges is refused (exit 2): with nothing uncertain there is nothing to
//! forecast, and `compare` gives the spread over replications alone.

use crate::cli::{Failure, Overrides, Settings, apply_overrides};
use crate::output;
use crate::scenarios;
use crate::stats::{self, parse_number};
use crate::study::{Layout, RunOut, Shard, Study, StudyArgs, Target, Variant, run_study};
use clap::Args;
use fleetsim_model::Scenario;
use fleetsim_model::scenario::ranges::{Dist, RANGED_KEYS, latin_hypercube};
use std::path::PathBuf;

#[derive(Args)]
pub struct ForecastArgs {
    /// A named scenario or a path to a scenario file with ranged values (such as
    /// `randomization_max_days = { low = 3, high = 10 }`); `--set KEY={ low = 3, high = 10 }`
    /// adds ranges on the command line.
    scenario: String,
    /// Latin-hypercube samples of the ranged values (2 to 100,000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    samples: u32,
    /// Runs per sample; replication r (1, 2, …) uses seed BASE + r − 1 in every sample, where
    /// BASE is --seed or the scenario's seed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    replications: u32,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    settings: Settings,
    /// Output folder (default: results/forecast-<scenario>).
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
    /// Replace the output folder if it exists and fleetsim wrote it.
    #[arg(long)]
    force: bool,
    /// No progress bar and no run information on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Run only shard K of N (1 ≤ K ≤ N): the runs whose index i (in sample, replication
    /// order, from 0) has i mod N = K − 1, written as a shard folder for `fleetsim merge`.
    #[arg(long, value_name = "K/N", value_parser = crate::study::parse_shard)]
    shard: Option<Shard>,
}

/// The most runs (samples × replications) one forecast may have.
const MAX_RUNS: u64 = 1_000_000;

/// The percentiles of forecast.csv and milestones.csv.
pub const PERCENTILES: [u32; 5] = [5, 10, 50, 90, 95];

/// A sampled value rounded to 6 significant digits, so that the number written is the number
/// that ran.
fn round6(v: f64) -> f64 {
    format!("{v:.5e}").parse().unwrap_or(v)
}

/// The scenario text with the `--set` settings applied.
fn edited_text(text: &str, settings: &Settings) -> Result<String, Failure> {
    let bad = Failure::BadInput;
    if settings.set.is_empty() {
        return Ok(text.to_string());
    }
    let mut parsed: Vec<(String, toml_edit::Value)> = Vec::new();
    for s in &settings.set {
        let axis = crate::sweep::parse_axis(s).map_err(bad)?;
        if axis.values.len() != 1 {
            return Err(bad(format!(
                "--set {s}: one value here (a number or a range such as {{ low = 1, high = 6 }})"
            )));
        }
        if parsed.iter().any(|(k, _)| *k == axis.key) {
            return Err(bad(format!("--set {}: given twice", axis.key)));
        }
        if let Some(v) = axis.values.into_iter().next() {
            parsed.push((axis.key, v.value));
        }
    }
    let pairs: Vec<(&str, &toml_edit::Value)> =
        parsed.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let what = format!("--set {}", settings.set.join(" --set "));
    crate::sweep::edit(text, &pairs).map_err(|e| bad(format!("{what}: {e}")))
}

/// `fleetsim forecast`.
pub fn forecast(args: ForecastArgs) -> Result<(), Failure> {
    let bad = Failure::BadInput;
    let source = scenarios::find(Some(&args.scenario)).map_err(|e| bad(e.to_string()))?;
    let text = edited_text(&source.text, &args.settings)?;
    let with_sets = if args.settings.set.is_empty() {
        String::new()
    } else {
        " with these --set settings".to_string()
    };
    let base = Scenario::from_toml(&text).map_err(|e| {
        bad(format!(
            "invalid scenario {}{with_sets}: {e}",
            source.origin
        ))
    })?;
    if base.ranges.is_empty() {
        return Err(bad(format!(
            "scenario {} has no ranged values: nothing is uncertain, so there is nothing to forecast (use `fleetsim compare` for the spread over replications). Give a range in the file, such as `randomization_max_days = {{ low = 3, high = 10 }}` under [timing], or on the command line: --set 'timing.randomization_max_days={{ low = 3, high = 10 }}'. Keys that take ranges: {}",
            source.origin,
            RANGED_KEYS.join(", ")
        )));
    }
    let runs = u64::from(args.samples) * u64::from(args.replications);
    if runs > MAX_RUNS {
        return Err(bad(format!(
            "--samples {} x --replications {} = {runs} runs, more than {MAX_RUNS}",
            args.samples, args.replications
        )));
    }
    let base_seed = args.overrides.seed.unwrap_or(base.seed);
    let keys: Vec<String> = base.ranges.iter().map(|r| r.key.clone()).collect();
    // A calibrated scenario's posterior: its rows are the samples (`posterior_row`).
    let posterior = match &base.posterior {
        None => None,
        Some(rel) => {
            let path = source
                .dir
                .as_deref()
                .map_or_else(|| PathBuf::from(rel), |d| d.join(rel));
            Some(read_posterior(&path, &base.ranges).map_err(bad)?)
        }
    };
    let points = match &posterior {
        None => latin_hypercube(base_seed, args.samples as usize, keys.len()),
        Some(_) => Vec::new(),
    };
    let mut variants = Vec::with_capacity(args.samples as usize);
    for i in 0..args.samples as usize {
        let values: Vec<f64> = match &posterior {
            Some(rows) => rows[posterior_row(i, rows.len())].clone(),
            None => base
                .ranges
                .iter()
                .zip(&points[i])
                .map(|(r, u)| round6(r.dist.quantile(*u)))
                .collect(),
        };
        let shown = || {
            keys.iter()
                .zip(&values)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = Scenario::from_toml_sample(&text, &values).map_err(|e| {
            bad(format!(
                "sample {} ({}) of scenario {}: {e}",
                i + 1,
                shown(),
                source.origin
            ))
        })?;
        crate::inventory::attach(&mut s, source.dir.as_deref()).map_err(bad)?;
        apply_overrides(&mut s, &args.overrides)?;
        let mut cells = vec![(i + 1).to_string()];
        cells.extend(values.iter().map(|v| v.to_string()));
        if let Some(rows) = &posterior {
            cells.push((posterior_row(i, rows.len()) + 1).to_string());
        }
        variants.push(Variant {
            keys: cells,
            label: format!("sample {}", i + 1),
            sheet: format!("sample {}", i + 1),
            scenario: s,
        });
    }
    let mut key_header = vec!["sample".to_string()];
    key_header.extend(keys.iter().cloned());
    if posterior.is_some() {
        key_header.push(POSTERIOR_ROW.to_string());
    }
    let study = Study {
        command: "forecast",
        key_header,
        variants,
        replications: args.replications,
        base_seed,
        metrics_file: "forecast.csv",
    };
    if !args.quiet {
        match (&posterior, &base.posterior) {
            (Some(rows), Some(rel)) => {
                let k = rows.len();
                eprintln!(
                    "forecast over the posterior {rel}: {} samples from its {k} rows in order (sample i uses row (i - 1) mod {k} + 1), seeds as for ranges",
                    args.samples
                );
                if args.samples as usize % k != 0 || args.samples as usize > k {
                    eprintln!(
                        "note: a row taken twice runs with the same seeds, and rows taken fewer times weigh less: --samples {k} with --replications 4 or more gives every kept run the same weight and fresh chance (docs/CALIBRATE.md)"
                    );
                }
            }
            _ => {
                for r in &base.ranges {
                    eprintln!("forecast over {}: {}", r.key, dist_text(&r.dist));
                }
            }
        }
    }
    let study_args = StudyArgs {
        replications: args.replications,
        out: args.out,
        force: args.force,
        quiet: args.quiet,
        xlsx: None,
        shard: args.shard,
    };
    let out = PathBuf::from("results").join(format!("forecast-{}", base.name));
    run_study(&study, &study_args, args.overrides.threads, out)
}

/// The samples.csv column of a forecast of a posterior: the posterior row (from 1) a sample
/// used.
pub const POSTERIOR_ROW: &str = "posterior_row";

/// The posterior row (from 0) of sample `i` (from 0): the rows in order, again and again, so
/// that `--samples` a multiple of the rows uses every row equally often.
pub fn posterior_row(i: usize, rows: usize) -> usize {
    i % rows.max(1)
}

/// Reads a calibration's posterior.csv (docs/OUTPUTS.md): per row, each ranged value in the
/// order of `ranges`. Its columns are calibrate's information columns (ignored) and exactly the
/// scenario's ranged keys; every value a finite number inside its range.
pub fn read_posterior(
    path: &std::path::Path,
    ranges: &[fleetsim_model::scenario::ranges::Ranged],
) -> Result<Vec<Vec<f64>>, String> {
    let file = path.display();
    let keys: Vec<&str> = ranges.iter().map(|r| r.key.as_str()).collect();
    let mut r = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("posterior {file}: cannot read it: {e}"))?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| format!("posterior {file}: {e}"))?
        .iter()
        .map(String::from)
        .collect();
    let info = crate::calibrate::POSTERIOR_INFO;
    let mut at = Vec::with_capacity(keys.len());
    for (c, h) in header.iter().enumerate() {
        if info.contains(&h.as_str()) {
            continue;
        }
        if !keys.contains(&h.as_str()) {
            return Err(format!(
                "posterior {file}, column {}: {h:?} is not a ranged value of the scenario (its ranged values: {})",
                c + 1,
                keys.join(", ")
            ));
        }
        if at.iter().any(|(k, _)| k == h) {
            return Err(format!("posterior {file}: column {h:?} given twice"));
        }
        at.push((h.clone(), c));
    }
    let mut cols = Vec::with_capacity(keys.len());
    for k in &keys {
        match at.iter().find(|(h, _)| h == k) {
            Some((_, c)) => cols.push(*c),
            None => {
                return Err(format!(
                    "posterior {file}: no column {k:?}, a ranged value of the scenario (the columns must be its ranged values: {})",
                    keys.join(", ")
                ));
            }
        }
    }
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| format!("posterior {file}: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let mut row = Vec::with_capacity(keys.len());
        for (range, c) in ranges.iter().zip(&cols) {
            let cell = rec.get(*c).unwrap_or("");
            let v = cell
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    format!(
                        "posterior {file}, line {line}, column {}: {cell:?} is not a number",
                        range.key
                    )
                })?;
            let inside = match range.dist {
                Dist::Uniform { low, high } | Dist::Triangular { low, high, .. } => {
                    (low..=high).contains(&v)
                }
                Dist::LogNormal { .. } => v > 0.0,
            };
            if !inside {
                return Err(format!(
                    "posterior {file}, line {line}, column {}: {v} is outside the scenario's range ({})",
                    range.key,
                    dist_text(&range.dist)
                ));
            }
            row.push(v);
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(format!("posterior {file}: no rows"));
    }
    Ok(rows)
}

/// A distribution for people: "uniform 1..6".
fn dist_text(d: &Dist) -> String {
    match *d {
        Dist::Uniform { low, high } => format!("uniform {low}..{high}"),
        Dist::Triangular { low, mode, high } => format!("triangular {low}..{mode}..{high}"),
        Dist::LogNormal { median, p90 } => format!("lognormal, median {median}, p90 {p90}"),
    }
}

/// One run's timeline column by name, as numbers (`None` for an empty or missing cell).
fn column(run: &RunOut, name: &str) -> Vec<Option<f64>> {
    let Some(c) = run
        .timeline
        .first()
        .and_then(|h| h.iter().position(|x| x == name))
    else {
        return Vec::new();
    };
    run.timeline[1..]
        .iter()
        .map(|row| row.get(c).and_then(|x| parse_number(x)))
        .collect()
}

/// One run's summary cell by name.
fn summary_cell<'a>(run: &'a RunOut, name: &str) -> Option<&'a str> {
    let c = run.summary.first()?.iter().position(|x| x == name)?;
    run.summary.get(1)?.get(c).map(String::as_str)
}

/// The quantities of forecast.csv: column prefix, and the per-day values of one run.
fn quantities(first: &RunOut) -> Vec<(String, String)> {
    let header = first.timeline.first().cloned().unwrap_or_default();
    let mut out = vec![("co_managed_pct".to_string(), "state_co_managed".to_string())];
    for h in &header {
        if h.starts_with("wl_") && h.ends_with("_intune") {
            out.push((format!("{h}_pct"), h.clone()));
        }
    }
    out.push((
        "gateway_peak_concurrent_clients".to_string(),
        "gateway_peak_concurrent_clients".to_string(),
    ));
    out
}

/// Per run, per day: the quantity's value (a share in percent of eligible devices, or the
/// gateway's peak count).
fn series(run: &RunOut, prefix: &str, source: &str) -> Vec<Option<f64>> {
    let values = column(run, source);
    if !prefix.ends_with("_pct") {
        return values;
    }
    let eligible = summary_cell(run, "eligible")
        .and_then(parse_number)
        .filter(|e| *e > 0.0);
    values
        .into_iter()
        .map(|v| Some(v? * 100.0 / eligible?))
        .collect()
}

/// The rows of forecast.csv.
fn forecast_rows(runs: &[&RunOut]) -> Vec<Vec<String>> {
    let first = runs[0];
    let qs = quantities(first);
    let mut header: Vec<String> = first.timeline[0][..2].to_vec();
    for (prefix, _) in &qs {
        header.extend(PERCENTILES.iter().map(|p| format!("{prefix}_p{p}")));
    }
    let all: Vec<Vec<Vec<Option<f64>>>> = qs
        .iter()
        .map(|(prefix, source)| runs.iter().map(|r| series(r, prefix, source)).collect())
        .collect();
    let mut rows = vec![header];
    for (day, row) in first.timeline.iter().enumerate().skip(1) {
        let mut out = row[..2].to_vec();
        for q in &all {
            let xs: Vec<f64> = q
                .iter()
                .filter_map(|s| s.get(day - 1).copied().flatten())
                .collect();
            let sorted = stats::sorted(&xs);
            out.extend(
                PERCENTILES
                    .iter()
                    .map(|p| stats::fmt_opt(stats::percentile(&sorted, *p))),
            );
        }
        rows.push(out);
    }
    rows
}

/// The milestones: summary columns `days_to_*`, in summary order.
fn milestone_names(first: &RunOut) -> Vec<String> {
    first
        .summary
        .first()
        .map(|h| {
            h.iter()
                .filter(|n| n.starts_with("days_to_"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// A milestone per run; a run that never reached it is `+∞` (later than any day).
fn milestone_values(runs: &[&RunOut], name: &str) -> Vec<f64> {
    runs.iter()
        .map(|r| {
            summary_cell(r, name)
                .and_then(parse_number)
                .unwrap_or(f64::INFINITY)
        })
        .collect()
}

/// A finite statistic, or an empty cell (never reached).
fn cell(x: Option<f64>) -> String {
    stats::fmt_opt(x.filter(|v| v.is_finite()))
}

/// The rows of milestones.csv.
fn milestone_rows(runs: &[&RunOut], names: &[String]) -> Vec<Vec<String>> {
    let mut header: Vec<String> = ["milestone", "runs", "reached", "reached_pct"]
        .map(String::from)
        .to_vec();
    header.extend(PERCENTILES.iter().map(|p| format!("p{p}")));
    header.extend(["min", "max"].map(String::from));
    let mut rows = vec![header];
    for name in names {
        let sorted = stats::sorted(&milestone_values(runs, name));
        let reached = sorted.iter().filter(|v| v.is_finite()).count();
        let mut row = vec![
            name.clone(),
            sorted.len().to_string(),
            reached.to_string(),
            stats::fmt(reached as f64 * 100.0 / sorted.len() as f64),
        ];
        row.extend(
            PERCENTILES
                .iter()
                .map(|p| cell(stats::percentile(&sorted, *p))),
        );
        row.push(cell(sorted.first().copied()));
        row.push(cell(sorted.last().copied()));
        rows.push(row);
    }
    rows
}

/// Twice the rank of each value (ties get their average rank, so twice it is a whole
/// number): the first of k equal values at sorted positions a..a+k (1-based a) gets 2a + k − 1.
fn doubled_ranks(xs: &[f64]) -> Vec<i128> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|a, b| xs[*a].total_cmp(&xs[*b]).then(a.cmp(b)));
    let mut ranks = vec![0i128; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && xs[order[j]].total_cmp(&xs[order[i]]).is_eq() {
            j += 1;
        }
        // Positions i+1 ..= j (1-based): their average doubled is i + 1 + j.
        let r = (i + 1 + j) as i128;
        for k in &order[i..j] {
            ranks[*k] = r;
        }
        i = j;
    }
    ranks
}

/// Spearman's rank correlation of `x` and `y` (ties get average ranks): the Pearson
/// correlation of the ranks, from sums of whole numbers, so it is the same on every machine.
/// `None` when either has a single distinct value.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (rx, ry) = (doubled_ranks(&x[..n]), doubled_ranks(&y[..n]));
    let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0i128, 0i128, 0i128, 0i128, 0i128);
    for (a, b) in rx.iter().zip(&ry) {
        sx += a;
        sy += b;
        sxx += a * a;
        syy += b * b;
        sxy += a * b;
    }
    let n = n as i128;
    let num = n * sxy - sx * sy;
    let (dx, dy) = (n * sxx - sx * sx, n * syy - sy * sy);
    if dx <= 0 || dy <= 0 {
        return None;
    }
    Some((num as f64 / ((dx as f64) * (dy as f64)).sqrt()).clamp(-1.0, 1.0))
}

/// `|rho|` as written (4 decimals), as a whole number of ten-thousandths.
fn printed(rho: f64) -> i64 {
    stats::fmt(rho.abs()).replace('.', "").parse().unwrap_or(0)
}

/// The rows of sensitivity.csv: per milestone, each ranged value ranked by the size of its
/// rank correlation (largest first; equal sizes in the scenario's order of the ranges; values
/// with no correlation, because the milestone or the value never varies, last).
fn sensitivity_rows(
    layout: &Layout,
    runs: &[&RunOut],
    names: &[String],
    params: &[Vec<f64>],
) -> Vec<Vec<String>> {
    let header: Vec<String> = ["milestone", "rank", "parameter", "spearman", "abs_spearman"]
        .map(String::from)
        .to_vec();
    let mut rows = vec![header];
    for name in names {
        let y = milestone_values(runs, name);
        let mut found: Vec<(usize, Option<f64>)> = params
            .iter()
            .enumerate()
            .map(|(k, x)| (k, spearman(x, &y)))
            .collect();
        // Largest printed |rho| first (so that ties are what the file shows), then the
        // scenario's order; no correlation last.
        found.sort_by_key(|(k, rho)| {
            (
                rho.map(|r| std::cmp::Reverse(printed(r))).is_none(),
                rho.map(|r| std::cmp::Reverse(printed(r))),
                *k,
            )
        });
        for (rank, (k, rho)) in found.into_iter().enumerate() {
            rows.push(vec![
                name.clone(),
                (rank + 1).to_string(),
                layout.key_header[k + 1].clone(),
                stats::fmt_opt(rho),
                stats::fmt_opt(rho.map(f64::abs)),
            ]);
        }
    }
    rows
}

/// The rows of samples.csv: each sample's number and values (the study's key cells).
fn sample_rows(layout: &Layout) -> Vec<Vec<String>> {
    std::iter::once(layout.key_header.clone())
        .chain(layout.variants.iter().map(|v| v.keys.clone()))
        .collect()
}

/// Writes a forecast's folder from all its runs, grouped [sample][replication]: the one place
/// its statistics are computed, for one machine and for `merge` alike.
pub fn write(layout: &Layout, runs: &[Vec<RunOut>], target: &Target) -> Result<(), Failure> {
    if !target.quiet
        && let Some(line) = runs.first().and_then(|r| r.first()).map(|o| &o.findings)
    {
        for l in line {
            eprintln!("sample 1: {l}");
        }
    }
    let flat: Vec<&RunOut> = runs.iter().flatten().collect();
    if flat.is_empty() {
        return Err(Failure::Run(anyhow::anyhow!("a forecast without runs")));
    }
    // Each run's values of the ranged parameters, in run order.
    let dims = layout.key_header.len().saturating_sub(1)
        - usize::from(layout.key_header.last().map(String::as_str) == Some(POSTERIOR_ROW));
    let params: Vec<Vec<f64>> = (0..dims)
        .map(|d| {
            layout
                .variants
                .iter()
                .zip(runs)
                .flat_map(|(v, reps)| {
                    let x = v.keys.get(d + 1).and_then(|c| parse_number(c));
                    reps.iter().map(move |_| x.unwrap_or(f64::NAN))
                })
                .collect()
        })
        .collect();
    let names = milestone_names(flat[0]);
    let forecast = forecast_rows(&flat);
    let milestones = milestone_rows(&flat, &names);
    let sensitivity = sensitivity_rows(layout, &flat, &names, &params);
    let samples = sample_rows(layout);
    crate::target::write_dir(target.out, target.force, &layout.command, |tmp| {
        output::write_csv(&tmp.join("forecast.csv"), forecast)?;
        output::write_csv(&tmp.join("milestones.csv"), milestones)?;
        output::write_csv(&tmp.join("sensitivity.csv"), sensitivity)?;
        output::write_csv(&tmp.join("samples.csv"), samples)?;
        Ok(())
    })
    .map_err(Failure::Run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(doubled_ranks(&[3.0, 1.0, 2.0]), [6, 2, 4]);
        // 1, then two 2s at positions 2 and 3 (rank 2.5), then ∞ twice (4.5).
        assert_eq!(
            doubled_ranks(&[2.0, f64::INFINITY, 1.0, 2.0, f64::INFINITY]),
            [5, 9, 2, 5, 9]
        );
    }

    #[test]
    fn spearman_of_monotone_and_constant_series() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(spearman(&x, &[10.0, 20.0, 30.0, 1e9]), Some(1.0));
        assert_eq!(spearman(&x, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(spearman(&x, &[5.0; 4]), None);
        // Never reached (∞) counts as the latest.
        assert_eq!(
            spearman(&x, &[1.0, 2.0, f64::INFINITY, f64::INFINITY]),
            spearman(&x, &[1.0, 2.0, 9.0, 9.0])
        );
        let r = spearman(&x, &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.8).abs() < 1e-12, "{r}");
    }

    #[test]
    fn sampled_values_keep_six_digits() {
        assert_eq!(round6(4.567_891_23), 4.56789);
        assert_eq!(round6(0.000_123_456_78), 0.000_123_457);
        assert_eq!(round6(12.0), 12.0);
    }
}
