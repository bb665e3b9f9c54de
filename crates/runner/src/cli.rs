//! What every command shares: the failure type and its exit code, the overrides of what is
//! simulated (`--seed`, `--devices`, `--days`, `--threads`), loading a scenario with them, and
//! printing the preflight's findings.

use crate::scenarios;
use clap::Args;
use fleetsim_model::Scenario;
use fleetsim_model::domain::CoPath;
use fleetsim_model::prereq::{Finding, Severity};

/// Settings that change what is simulated.
#[derive(Args, Clone)]
pub struct Overrides {
    /// Seed of every random stream (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fleet size (default: the scenario's).
    #[arg(long)]
    pub devices: Option<u32>,
    /// Simulated days (default: the scenario's).
    #[arg(long)]
    pub days: Option<u32>,
    /// Worker threads, 1 to 1024 (default 0: one per core). Never changes the results.
    #[arg(long, default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
}

/// The most worker threads `--threads` accepts.
pub const MAX_THREADS: usize = 1024;

/// Parses `--threads`: 0 (one per core) or 1 to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= MAX_THREADS => Ok(n),
        _ => Err(format!(
            "expected a number of worker threads from 1 to {MAX_THREADS}, or 0 for one per core"
        )),
    }
}

/// Default memory budget of one command, in MiB: estimates above it are refused before
/// anything runs. `FLEETSIM_MEMORY_BUDGET_MIB` sets another.
pub const MEMORY_BUDGET_MIB: u64 = 8 * 1024;

/// Bytes the model keeps per device: its 48-byte state, about one pending event of 8 to 10
/// bytes and its share of the shards' tables; measured peaks are 72 to 76 bytes a device
/// (README, "Speed and memory"), rounded up with room.
const BYTES_PER_DEVICE: u64 = 100;

/// Bytes per cell of a timeline: the number in the run's result (8), its text in the rows
/// rendered before writing (a `String` of 24 bytes and its heap block of at least 32), its
/// share of the row, and the CSV text (about 8); measured: 250 sites x 365 days peaked at
/// 208 MiB, estimated at 212 MiB.
const BYTES_PER_CELL: u64 = 96;

/// Bytes per recorded event: the record and its share of the rendering (*assumption*: at most
/// 10 events per recorded device).
const BYTES_PER_EVENT_DEVICE: u64 = 10 * 48;

/// An estimate of the memory one run of `s` needs, in bytes: devices times
/// [`BYTES_PER_DEVICE`], plus the cells of timeline.csv and site_timeline.csv (rows times
/// columns, per site for the site timeline) times [`BYTES_PER_CELL`], twice with a workbook,
/// plus recorded events.
pub fn run_bytes(s: &Scenario, hourly: bool, events_share: f64, workbook: bool) -> u64 {
    use fleetsim_model::domain::{LifecycleState, Workload};
    let states = LifecycleState::ALL.len() as u64;
    let rows = u64::from(s.days) * if hourly { 24 } else { 1 };
    let timeline_columns = 2
        + 1
        + states
        + 3
        + Workload::ALL.len() as u64
        + 2
        + s.collections.len() as u64
        + fleetsim_model::sim::counter_names().len() as u64;
    let site_columns = 2 + 2 + states + 1;
    let cells = rows.saturating_mul(
        timeline_columns.saturating_add((s.sites.len() as u64).saturating_mul(site_columns)),
    );
    let devices = u64::from(s.fleet.devices);
    let events = (devices as f64 * events_share.clamp(0.0, 1.0)) as u64;
    devices
        .saturating_mul(BYTES_PER_DEVICE)
        .saturating_add(
            cells
                .saturating_mul(BYTES_PER_CELL)
                .saturating_mul(if workbook { 2 } else { 1 }),
        )
        .saturating_add(events.saturating_mul(BYTES_PER_EVENT_DEVICE))
}

/// The memory budget in bytes: [`MEMORY_BUDGET_MIB`] or `FLEETSIM_MEMORY_BUDGET_MIB`.
pub fn memory_budget() -> Result<u64, Failure> {
    let mib = match std::env::var("FLEETSIM_MEMORY_BUDGET_MIB") {
        Err(_) => MEMORY_BUDGET_MIB,
        Ok(text) => text.trim().parse::<u64>().ok().filter(|m| *m > 0).ok_or_else(|| {
            Failure::BadInput(format!(
                "FLEETSIM_MEMORY_BUDGET_MIB: expected a whole number of MiB above 0, found {:?}",
                text.chars().take(40).collect::<String>()
            ))
        })?,
    };
    Ok(mib.saturating_mul(1 << 20))
}

/// Refuses (exit 2, before anything runs) one run of `s` over the memory budget (see
/// [`run_bytes`]).
pub fn check_run_memory(
    s: &Scenario,
    hourly: bool,
    events_share: f64,
    workbook: bool,
) -> Result<(), Failure> {
    check_memory(
        run_bytes(s, hourly, events_share, workbook),
        &format!(
            "{} ({} devices, {} sites, {} days{})",
            s.name,
            s.fleet.devices,
            s.sites.len(),
            s.days,
            if hourly { ", hourly" } else { "" }
        ),
        if hourly {
            "run fewer --days, use --bucket day, or fewer sites or --devices"
        } else {
            "run fewer --days, or fewer sites or --devices"
        },
    )
}

/// Refuses (exit 2, before anything runs) a command whose estimated memory `needed` is over
/// the budget, saying what to change.
pub fn check_memory(needed: u64, what: &str, hints: &str) -> Result<(), Failure> {
    let budget = memory_budget()?;
    if needed > budget {
        return Err(Failure::BadInput(format!(
            "{what} would need about {} MiB of memory, over the budget of {} MiB: {hints}, or raise the budget with FLEETSIM_MEMORY_BUDGET_MIB",
            needed.div_ceil(1 << 20),
            budget >> 20
        )));
    }
    Ok(())
}

/// A failure and the exit code it deserves.
pub enum Failure {
    /// Bad input: exit 2, nothing written.
    BadInput(String),
    /// The run failed: exit 1.
    Run(anyhow::Error),
    /// `check` found a blocker: exit 1 (already printed).
    Blocked,
}

/// Loads a scenario and applies the overrides.
pub fn load(arg: Option<&str>, o: &Overrides) -> Result<Scenario, Failure> {
    let (_, mut s) = scenarios::load(arg).map_err(|e| Failure::BadInput(e.to_string()))?;
    apply_overrides(&mut s, o)?;
    Ok(s)
}

/// Applies the overrides to a scenario.
pub fn apply_overrides(s: &mut Scenario, o: &Overrides) -> Result<(), Failure> {
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
pub fn print_findings(out: &mut dyn std::io::Write, findings: &[Finding]) {
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

/// A run error's exit code: a collection that selects nothing is bad input (2).
pub fn run_failure(e: fleetsim_model::RunError) -> Failure {
    match e {
        fleetsim_model::RunError::EmptyCollection { .. } => Failure::BadInput(e.to_string()),
        other => Failure::Run(other.into()),
    }
}

pub fn progress_bar(show: bool, days: u32) -> indicatif::ProgressBar {
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
