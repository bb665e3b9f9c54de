//! `fleetsim`: rehearse a ConfigMgr estate's move to co-management with Intune.
//!
//! The binary is thin: `main` parses the command line and hands it to the command's module
//! (`run`, `check`, `list`, `bench`, `verify`, `baseline`, `compare`, `sweep`, `forecast`, `merge`,
//! `report`, `inventory`, `observed`, `calibrate`).
//! What commands share lives in one place each: `cli` (exit codes, overrides, loading a
//! scenario, printing findings), `study` (replications for `compare` and `sweep`), `shard` (shard folders for `merge`), `output`
//! (CSV rows), `target` (where output may go and how it is put in place: every writer goes
//! through it), `scenarios` (the named scenarios). Exit codes: 0 success, 1 the run failed (I/O, threads) or `check`/`verify`
//! found a blocker or a regression, 2 bad input (command line or scenario); on exit code 2
//! nothing is written.

mod baseline;
mod bench;
mod calibrate;
mod check;
mod cli;
mod compare;
mod diff;
mod forecast;
mod inventory;
mod list;
mod merge;
mod observed;
mod output;
mod report;
mod run;
mod scenarios;
mod shard;
mod stats;
mod study;
mod sweep;
mod target;
mod tolerance;
mod verify;
mod xlsx;

use clap::{Parser, Subcommand};
use cli::Failure;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "fleetsim", version, about = "Rehearse a ConfigMgr estate's move to co-management with Intune on a synthetic fleet.", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its CSV timeline (default: the built-in mixed enterprise).
    Run(run::RunArgs),
    /// List the named scenarios and the scenario files in ./scenarios/.
    List(list::ListArgs),
    /// Measure speed and memory on a scenario (writes no files).
    Bench(bench::BenchArgs),
    /// Check a scenario's prerequisites: what blocks which devices, and how many (exit 1 when a
    /// blocker stops a path the scenario relies on).
    Check(check::CheckArgs),
    /// Re-run a scenario with its baseline's settings and compare (writes no files).
    #[command(
        override_usage = "fleetsim verify [OPTIONS] <SCENARIO>\n       fleetsim verify [OPTIONS] --all"
    )]
    Verify(verify::VerifyArgs),
    /// Manage the baselines that `verify` compares against.
    Baseline(baseline::BaselineArgs),
    /// Compare scenarios over replications with common random numbers: statistics of every
    /// summary metric, paired differences against the first scenario, mean timelines.
    Compare(compare::CompareArgs),
    /// Run a scenario over a grid of settings (--set key=v1,v2), each point over replications.
    Sweep(sweep::SweepArgs),
    /// Forecast a scenario with ranged values: Latin-hypercube samples of the ranges, each over
    /// replications with common random numbers; percentiles per day, milestone distributions
    /// and which range moves each milestone most.
    Forecast(forecast::ForecastArgs),
    /// Merge the shard folders of a `compare --shard`, `sweep --shard` or `forecast --shard` study into the files
    /// the command writes on one machine, byte for byte.
    Merge(merge::MergeArgs),
    /// Write an HTML dashboard (and optionally chart images) of run folders, or of compare and
    /// sweep folders.
    Report(report::ReportArgs),
    /// Work with a device inventory export (docs/INVENTORY.md): `summarize` counts it.
    Inventory(inventory::InventoryArgs),
    /// Build a daily observation file (docs/CALIBRATE.md) from an Intune device list export,
    /// or check a hand-written one; writes CSV to stdout or --out.
    Observed(observed::ObservedArgs),
    /// Fit a scenario's ranged values to observed days by simulation (rejection ABC with
    /// common random numbers): a calibrated scenario, calibration.csv and fit.csv.
    Calibrate(calibrate::CalibrateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::List(args) => {
            list::list(&args);
            Ok(())
        }
        Command::Bench(args) => bench::bench(
            args.scenario.as_deref(),
            &args.overrides,
            args.repeat,
            args.quiet,
        ),
        Command::Check(args) => check::check(args),
        Command::Verify(args) => verify::verify(args),
        Command::Baseline(args) => baseline::command(args),
        Command::Compare(args) => compare::compare(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Forecast(args) => forecast::forecast(args),
        Command::Merge(args) => merge::merge(args),
        Command::Report(args) => report::report(args),
        Command::Inventory(args) => inventory::command(args),
        Command::Observed(args) => observed::command(args),
        Command::Calibrate(args) => calibrate::command(args),
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
