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

/// Starts the count of [`peak_rss_bytes`] again from the memory resident now (Linux: writing
/// 5 to `/proc/self/clear_refs`; nothing elsewhere), so that a run's peak is its own, not an
/// earlier run's. Memory an earlier run freed but the allocator kept is still resident, and
/// counts.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process so far, in bytes (`VmHWM` of `/proc/self/status`:
/// Linux; `None` elsewhere).
pub fn peak_rss_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
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
    let devices = f64::from(scenario.fleet.devices);
    let device_days = devices * f64::from(scenario.days);
    let mut best = f64::INFINITY;
    let mut events = 0u64;
    // The peak of the fastest run, and the highest of any run.
    let (mut best_peak, mut max_peak) = (None::<f64>, None::<f64>);
    let mib = |b: f64| b / (1024.0 * 1024.0);
    for i in 1..=repeat.max(1) {
        reset_peak_rss();
        let started = Instant::now();
        let r =
            fleetsim_model::run(&scenario, &options, |_, _| {}).map_err(crate::cli::run_failure)?;
        let secs = started.elapsed().as_secs_f64();
        let peak = peak_rss_bytes();
        if secs < best {
            best = secs;
            best_peak = peak;
        }
        max_peak = match (max_peak, peak) {
            (Some(m), Some(p)) => Some(m.max(p)),
            (m, p) => m.or(p),
        };
        events = r.events_handled;
        if quiet {
            continue;
        }
        println!(
            "run {i}: {secs:.3} s wall, {:.1} M device-days/s, {} events, {:.2} M events/s, \
             {:.0} ns/device, {:.1} ns/event{}",
            device_days / secs / 1e6,
            events,
            events as f64 / secs / 1e6,
            secs * 1e9 / devices,
            secs * 1e9 / events.max(1) as f64,
            peak.map_or(String::new(), |b| format!(
                ", peak memory {:.0} MiB",
                mib(b)
            )),
        );
    }
    let per = format!(
        "{:.0} ns/device, {:.1} ns/event",
        best * 1e9 / devices,
        best * 1e9 / events.max(1) as f64
    );
    match (best_peak, max_peak) {
        (Some(b), Some(m)) => println!(
            "best {best:.3} s wall, {per}; peak memory {:.0} MiB, {:.1} bytes/device \
             (highest of the runs: {:.0} MiB)",
            mib(b),
            b / devices,
            mib(m),
        ),
        _ => println!("best {best:.3} s wall, {per}; peak memory not available on this system"),
    }
    Ok(())
}
