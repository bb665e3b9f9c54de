//! `fleetsim bench`: speed and memory of a run, with no files written.

use crate::cli::{Failure, Overrides, load};
use clap::Args;
use fleetsim_model::RunOptions;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    /// A named scenario or a path (default: the built-in mixed enterprise).
    pub scenario: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
    /// Runs to time; the report gives each and the best.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Only the line with the best time and the peak memory.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Peak resident memory of this process so far, in MiB (Linux; `None` elsewhere).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn bench(arg: Option<&str>, o: &Overrides, repeat: u32, quiet: bool) -> Result<(), Failure> {
    let scenario = load(arg, o)?;
    crate::cli::check_run_memory(&scenario, false, 0.0, false)?;
    let options = RunOptions {
        threads: o.threads,
        ..RunOptions::default()
    };
    let threads = if o.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        o.threads
    };
    if !quiet {
        println!(
            "scenario {}: {} devices x {} days, {} threads",
            scenario.name, scenario.fleet.devices, scenario.days, threads
        );
    }
    let mut best = f64::INFINITY;
    for i in 1..=repeat.max(1) {
        let started = Instant::now();
        let r =
            fleetsim_model::run(&scenario, &options, |_, _| {}).map_err(crate::cli::run_failure)?;
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        let device_days = f64::from(scenario.fleet.devices) * f64::from(scenario.days);
        if quiet {
            continue;
        }
        println!(
            "run {i}: {secs:.3} s wall, {:.1} M device-days/s, {} events, {:.2} M events/s",
            device_days / secs / 1e6,
            r.events_handled,
            r.events_handled as f64 / secs / 1e6
        );
    }
    match peak_rss_mib() {
        Some(m) => println!("best {best:.3} s wall; peak memory {m:.0} MiB"),
        None => println!("best {best:.3} s wall; peak memory not available on this system"),
    }
    Ok(())
}
