//! `fleetsim`: rehearse a ConfigMgr estate's move to co-management with Intune.
//!
//! The binary is thin: it parses the command line, loads the scenario, runs the model and
//! writes the files. Exit codes: 0 success, 1 the run failed (I/O, threads), 2 bad input
//! (command line or scenario); on exit code 2 nothing is written.

mod baseline;
mod bench;
mod compare;
mod diff;
mod output;
mod report;
mod scenarios;
mod stats;
mod sweep;
mod tolerance;
mod verify;
mod xlsx;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fleetsim_model::domain::CoPath;
use fleetsim_model::prereq::{Finding, Severity};
use fleetsim_model::{Bucket, EventCapture, RunOptions, Scenario};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "fleetsim", version, about = "Rehearse a ConfigMgr estate's move to co-management with Intune on a synthetic fleet.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its CSV timeline (default: the built-in mixed enterprise).
    Run(RunArgs),
    /// List the named scenarios.
    List,
    /// Measure speed and memory on a scenario (writes no files).
    Bench(BenchArgs),
    /// Check a scenario's prerequisites: what blocks which devices, and how many (exit 1 when a
    /// blocker stops a path the scenario relies on).
    Check(CheckArgs),
    /// Re-run a scenario with its baseline's settings and compare (writes no files).
    Verify(verify::VerifyArgs),
    /// Manage the baselines that `verify` compares against.
    Baseline(baseline::BaselineArgs),
    /// Compare scenarios over replications with common random numbers: statistics of every
    /// summary metric, paired differences against the first scenario, mean timelines.
    Compare(compare::CompareArgs),
    /// Run a scenario over a grid of settings (--set key=v1,v2), each point over replications.
    Sweep(sweep::SweepArgs),
    /// Write an HTML dashboard (and optionally chart images) of one or more run folders.
    Report(report::ReportArgs),
}

#[derive(Args)]
struct CheckArgs {
    /// A named scenario or a path (default: the built-in mixed enterprise).
    scenario: Option<String>,
    #[command(flatten)]
    overrides: Overrides,
}

/// Settings that change what is simulated.
#[derive(Args, Clone)]
struct Overrides {
    /// Seed of every random stream (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Fleet size (default: the scenario's).
    #[arg(long)]
    devices: Option<u32>,
    /// Simulated days (default: the scenario's).
    #[arg(long)]
    days: Option<u32>,
    /// Worker threads (default: one per core). Never changes the results.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct RunArgs {
    /// A named scenario (see `fleetsim list`) or a path to a scenario file.
    scenario: Option<String>,
    #[command(flatten)]
    overrides: Overrides,
    /// Output folder (default: results/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    force: bool,
    /// No progress bar and no run information on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Timeline resolution.
    #[arg(long, value_enum, default_value_t = BucketArg::Day)]
    bucket: BucketArg,
    /// Also write events.csv, every state change of every device; with a value, of that share
    /// of devices (drawn per device), such as --events 0.01.
    #[arg(long, num_args = 0..=1, default_missing_value = "1", value_name = "SHARE")]
    events: Option<f64>,
    /// Also write a spreadsheet workbook (.xlsx) with the tables and line charts.
    #[arg(long, value_name = "FILE")]
    xlsx: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// A named scenario or a path (default: the built-in mixed enterprise).
    scenario: Option<String>,
    #[command(flatten)]
    overrides: Overrides,
    /// Runs to time; the report gives each and the best.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
}

#[derive(Clone, Copy, ValueEnum)]
enum BucketArg {
    /// One row per day.
    Day,
    /// One row per hour.
    Hour,
}

/// A failure and the exit code it deserves.
enum Failure {
    /// Bad input: exit 2, nothing written.
    BadInput(String),
    /// The run failed: exit 1.
    Run(anyhow::Error),
    /// `check` found a blocker: exit 1 (already printed).
    Blocked,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::List => {
            list();
            Ok(())
        }
        Command::Bench(args) => {
            bench::bench(args.scenario.as_deref(), &args.overrides, args.repeat)
        }
        Command::Check(args) => check(args),
        Command::Verify(args) => verify::verify(args),
        Command::Baseline(args) => baseline::command(args),
        Command::Compare(args) => compare::compare(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Report(args) => report::report(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Blocked) => ExitCode::from(1),
    }
}

fn list() {
    let width = scenarios::NAMED
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(0);
    for n in scenarios::NAMED {
        let default = if n.name == scenarios::DEFAULT {
            " (default)"
        } else {
            ""
        };
        println!(
            "{:width$}  {}{default}",
            n.name,
            scenarios::summary_line(n.text)
        );
    }
}

/// Loads a scenario and applies the overrides.
fn load(arg: Option<&str>, o: &Overrides) -> Result<Scenario, Failure> {
    let (_, mut s) = scenarios::load(arg).map_err(|e| Failure::BadInput(e.to_string()))?;
    apply_overrides(&mut s, o)?;
    Ok(s)
}

/// Applies the overrides to a scenario.
fn apply_overrides(s: &mut Scenario, o: &Overrides) -> Result<(), Failure> {
    if let Some(seed) = o.seed {
        s.set_seed(seed);
    }
    if let Some(d) = o.devices {
        s.set_devices(d)
            .map_err(|e| Failure::BadInput(e.to_string()))?;
    }
    if let Some(d) = o.days {
        s.set_days(d)
            .map_err(|e| Failure::BadInput(e.to_string()))?;
    }
    Ok(())
}

/// Prints the preflight's findings, one line each, to `out`.
fn print_findings(out: &mut dyn std::io::Write, findings: &[Finding]) {
    for f in findings {
        let severity = match f.severity {
            Severity::Blocker => "BLOCKER",
            Severity::Warning => "warning",
        };
        let path = f.path.map_or("all paths", |p| match p {
            CoPath::Path1 => "Path 1",
            CoPath::Path2 => "Path 2",
        });
        let _ = writeln!(
            out,
            "{severity}: {path}, {} devices: {}",
            f.devices, f.message
        );
    }
}

fn check(args: CheckArgs) -> Result<(), Failure> {
    let scenario = load(args.scenario.as_deref(), &args.overrides)?;
    let (findings, counts) =
        fleetsim_model::sim::check(&scenario, args.overrides.threads).map_err(run_failure)?;
    println!(
        "scenario {}: {} devices ({} new over the run); Path 1: {} devices, Path 2: {} devices; {} can never be co-managed",
        scenario.name,
        counts.devices,
        counts.arrivals,
        counts.path1_candidates,
        counts.path2_candidates,
        counts.reasons.iter().sum::<u64>()
    );
    let mut stdout = std::io::stdout();
    print_findings(&mut stdout, &findings);
    if findings.iter().any(|f| f.severity == Severity::Blocker) {
        return Err(Failure::Blocked);
    }
    println!("ok: no prerequisite blocks a path this scenario relies on");
    Ok(())
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let scenario = load(args.scenario.as_deref(), &args.overrides)?;
    let events = match args.events {
        None => EventCapture::Off,
        Some(s) if s > 0.0 && s <= 1.0 => EventCapture::Sample(s),
        Some(s) => {
            return Err(Failure::BadInput(format!(
                "--events: expected a share above 0 and at most 1, found {s}"
            )));
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&scenario.name));
    baseline::refuse_as_run_output(&out).map_err(Failure::BadInput)?;
    output::check_target(&out, args.force).map_err(Failure::BadInput)?;
    if let Some(x) = &args.xlsx {
        output::check_file_target(x, args.force).map_err(Failure::BadInput)?;
    }
    let options = RunOptions {
        threads: args.overrides.threads,
        bucket: match args.bucket {
            BucketArg::Day => Bucket::Day,
            BucketArg::Hour => Bucket::Hour,
        },
        events,
    };
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = progress_bar(show, scenario.days);
    let started = Instant::now();
    let devices = u64::from(scenario.fleet.devices);
    let result = fleetsim_model::run(&scenario, &options, |day, _| {
        bar.set_position(u64::from(day));
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "{:.1} M device-days/s",
            devices as f64 * f64::from(day) / secs / 1e6
        ));
    })
    .map_err(run_failure)?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    if !args.quiet {
        print_findings(&mut std::io::stderr(), &result.findings);
    }
    output::write_run(
        &out,
        args.force,
        &scenario,
        &result,
        events != EventCapture::Off,
    )
    .map_err(Failure::Run)?;
    if let Some(x) = &args.xlsx {
        xlsx::write_run(x, args.force, &scenario, &result).map_err(Failure::Run)?;
    }
    if !args.quiet {
        let co = result.states.last().map_or(0, |s| {
            s[fleetsim_model::domain::LifecycleState::CoManaged.index()]
        });
        eprintln!(
            "{}: {} devices, {} eligible, {} co-managed after {} days; {} events in {:.2} s; wrote {}",
            scenario.name,
            result.devices,
            result.eligible,
            co,
            scenario.days,
            result.events_handled,
            elapsed.as_secs_f64(),
            out.display()
        );
    }
    Ok(())
}

/// A run error's exit code: a collection that selects nothing is bad input (2).
fn run_failure(e: fleetsim_model::RunError) -> Failure {
    match e {
        fleetsim_model::RunError::EmptyCollection { .. } => Failure::BadInput(e.to_string()),
        other => Failure::Run(other.into()),
    }
}

fn progress_bar(show: bool, days: u32) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(u64::from(days));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} day {pos}/{len} [{bar:30}] {msg}, ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}
