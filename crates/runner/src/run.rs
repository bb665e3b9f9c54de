//! `fleetsim run`: one scenario, its CSV files (and optionally a workbook) in a folder.

use crate::cli::{
    self, Failure, Overrides, RunProgress, Settings, load_with, print_findings, run_failure,
};
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
    #[command(flatten)]
    pub settings: Settings,
    /// Output folder (default: results/<scenario name>).
    #[arg(long, short = 'o')]
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
    let scenario = load_with(args.scenario.as_deref(), &args.overrides, &args.settings)?;
    if !args.quiet {
        // A single run uses each range's centre: say which, so no one mistakes it for a fact.
        for r in &scenario.ranges {
            eprintln!("{}", r.note());
        }
    }
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
    let progress = RunProgress::new(show, scenario.days, u64::from(scenario.fleet.devices));
    // The preflight's findings come before the run: the model hands them over once the fleet
    // is drawn, before day 1 (the fleet is drawn once).
    progress.stage("drawing the fleet and checking prerequisites");
    let started = Instant::now();
    let quiet = args.quiet;
    let progress = std::cell::RefCell::new(progress);
    let result = fleetsim_model::run_with_findings(
        &scenario,
        &options,
        |findings, _| {
            if !quiet {
                let mut text = Vec::new();
                print_findings(&mut text, findings);
                progress
                    .borrow_mut()
                    .println(&String::from_utf8_lossy(&text));
            }
        },
        |day, _| progress.borrow_mut().day(day),
    )
    .map_err(run_failure)?;
    let progress = progress.into_inner();
    progress.finish();
    let elapsed = started.elapsed();
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
        for line in steps_never_run(&scenario, &result) {
            eprintln!("note: {line}");
        }
    }
    Ok(())
}

/// The strategy steps that never ran, each with why: its gate never promoted (with that
/// gate's checks and last decision), the step it follows never ran, or its date is after the
/// run's end.
pub fn steps_never_run(
    scenario: &fleetsim_model::Scenario,
    result: &fleetsim_model::RunResult,
) -> Vec<String> {
    use fleetsim_model::sim::DecisionSource;
    use fleetsim_model::strategy::StepStart;
    let ran = |name: &str| {
        result
            .decisions
            .iter()
            .any(|d| d.source == DecisionSource::Step && d.name == name)
    };
    let steps = &scenario.strategy.steps;
    let mut out = Vec::new();
    for step in steps.iter().filter(|s| !ran(&s.name)) {
        let why = match (step.gate, &step.start) {
            (_, StepStart::After(i, _)) if !steps.get(*i).is_some_and(|p| ran(&p.name)) => {
                format!(
                    "it follows step `{}`, which never ran",
                    steps.get(*i).map_or("?", |p| p.name.as_str())
                )
            }
            (Some(g), _) => {
                let name = scenario
                    .strategy
                    .gates
                    .get(g)
                    .map_or("?", |g| g.name.as_str());
                let checks: Vec<_> = result
                    .decisions
                    .iter()
                    .filter(|d| d.source == DecisionSource::Gate && d.name == name)
                    .collect();
                match checks.last() {
                    None => format!("its gate `{name}` was never checked"),
                    Some(last) => format!(
                        "its gate `{name}` never promoted ({} check{}; last: {}{} on day {})",
                        checks.len(),
                        if checks.len() == 1 { "" } else { "s" },
                        last.decision,
                        last.value.map_or(String::new(), |v| format!(
                            " at {} {v:.4}",
                            last.metric.map_or("", |m| m.name())
                        )),
                        last.time / 1440 + 1
                    ),
                }
            }
            _ => "its start is after the run's end".to_string(),
        };
        out.push(format!("step `{}` never ran: {why}", step.name));
    }
    out
}
