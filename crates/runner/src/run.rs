//! `fleetsim run`: one scenario, its CSV files (and optionally a workbook) in a folder.

use crate::cli::{self, Failure, Overrides, load, print_findings, progress_bar, run_failure};
use crate::target::{self, Signature};
use crate::{output, xlsx};
use clap::{Args, ValueEnum};
use fleetsim_model::{Bucket, EventCapture, RunOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct RunArgs {
    /// A named scenario (see `fleetsim list`) or a path to a scenario file.
    pub scenario: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
    /// Output folder (default: results/<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the output folder (and workbook) if it exists and fleetsim wrote it.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no run information on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Timeline resolution.
    #[arg(long, value_enum, default_value_t = BucketArg::Day)]
    pub bucket: BucketArg,
    /// Also write events.csv, every state change of every device; with a value, of that share
    /// of devices (drawn per device), such as --events 0.01.
    #[arg(long, num_args = 0..=1, default_missing_value = "1", value_name = "SHARE")]
    pub events: Option<f64>,
    /// Also write a spreadsheet workbook (.xlsx) with the tables and line charts.
    #[arg(long, value_name = "FILE")]
    pub xlsx: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum BucketArg {
    /// One row per day.
    Day,
    /// One row per hour.
    Hour,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
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
    target::check_dir(&out, args.force).map_err(Failure::BadInput)?;
    if let Some(x) = &args.xlsx {
        target::check_file(x, args.force, Signature::Xlsx).map_err(Failure::BadInput)?;
    }
    let hourly = matches!(args.bucket, BucketArg::Hour);
    cli::check_run_memory(
        &scenario,
        hourly,
        match events {
            EventCapture::Off => 0.0,
            EventCapture::Sample(s) => s,
        },
        args.xlsx.is_some(),
    )?;
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
