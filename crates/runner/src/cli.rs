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
    /// Worker threads, 1 to 1024; 0 (the default) means one per core. Never changes the
    /// results.
    #[arg(long, default_value_t = 0, hide_default_value = true, value_parser = parse_threads)]
    pub threads: usize,
}

/// `--set KEY=VALUE`: settings of the scenario file changed for this command (as `sweep`
/// varies them, with one value each).
#[derive(Args, Clone, Default)]
pub struct Settings {
    /// Change a setting of the scenario file, KEY=VALUE: KEY is a dotted path (such as
    /// enrollment.failure_rate or sites.0.share), VALUE a TOML value (number, true/false,
    /// date, "quoted string"; a bare word is taken as a string). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Loads a scenario, changes the `--set` settings in its text (validated like a scenario file,
/// each error naming the setting), and applies the overrides.
pub fn load_with(
    arg: Option<&str>,
    o: &Overrides,
    settings: &Settings,
) -> Result<Scenario, Failure> {
    if settings.set.is_empty() {
        return load(arg, o);
    }
    let bad = Failure::BadInput;
    let source = scenarios::find(arg).map_err(|e| bad(e.to_string()))?;
    let mut parsed = Vec::new();
    for s in &settings.set {
        let axis = crate::sweep::parse_axis(s).map_err(bad)?;
        if axis.values.len() != 1 {
            return Err(bad(format!(
                "--set {s}: one value here; `fleetsim sweep` runs a list of values"
            )));
        }
        if parsed.iter().any(|(k, _): &(String, _)| *k == axis.key) {
            return Err(bad(format!("--set {}: given twice", axis.key)));
        }
        let v = axis.values.into_iter().next().map(|v| v.value);
        parsed.extend(v.map(|v| (axis.key, v)));
    }
    let pairs: Vec<(&str, &toml_edit::Value)> =
        parsed.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let what = format!("--set {}", settings.set.join(" --set "));
    let text = crate::sweep::edit(&source.text, &pairs).map_err(|e| bad(format!("{what}: {e}")))?;
    let mut s = Scenario::from_toml(&text).map_err(|e| {
        bad(format!(
            "{what}: invalid scenario {} with this setting: {e}",
            source.origin
        ))
    })?;
    crate::inventory::attach(&mut s, source.dir.as_deref()).map_err(bad)?;
    apply_overrides(&mut s, o)?;
    Ok(s)
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

/// Progress of `run` on a terminal: a spinner from the start ("checking prerequisites",
/// then "drawing the fleet", which the model reports nothing about), then a bar over the
/// simulated days, redrawn at least every 200 ms. Its estimate of the time left is the time
/// per day of the most recent tenth of the days done times the days left, shown once a tenth
/// of the days are done and only while that tenth is steady (its two halves within a factor
/// 1.5 of each other): an enrollment wave makes some days cost a hundred times others (a
/// 5,000,000-device run spends 20 of its 24 s on 12 days), and an average over all days so
/// far is then minutes off; while days differ, the bar says the time left is uncertain.
pub struct RunProgress {
    bar: indicatif::ProgressBar,
    days: u32,
    devices: u64,
    first_day: Option<std::time::Instant>,
    /// When each day ended, from the first.
    ends: Vec<std::time::Instant>,
}

impl RunProgress {
    /// A hidden reporter when `show` is false.
    pub fn new(show: bool, days: u32, devices: u64) -> Self {
        let bar = if show {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Self {
            bar,
            days,
            devices,
            first_day: None,
            ends: Vec::new(),
        }
    }

    /// Says what is being done before the days start.
    pub fn stage(&self, what: &str) {
        self.bar.set_message(what.to_string());
    }

    /// Prints lines above the bar.
    pub fn println(&self, text: &str) {
        if self.bar.is_hidden() {
            eprint!("{text}");
        } else {
            self.bar.suspend(|| eprint!("{text}"));
        }
    }

    /// After simulated day `day` (1-based).
    pub fn day(&mut self, day: u32) {
        let now = std::time::Instant::now();
        let Some(first) = self.first_day else {
            self.first_day = Some(now);
            self.ends.push(now);
            self.bar.set_length(u64::from(self.days));
            self.bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} day {pos}/{len} [{bar:30}] {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            self.bar.set_position(u64::from(day));
            self.bar.set_message("estimating the time left");
            return;
        };
        self.bar.set_position(u64::from(day));
        self.ends.push(now);
        let ends: Vec<f64> = self
            .ends
            .iter()
            .map(|t| (*t - first).as_secs_f64())
            .collect();
        let Some(estimate) = time_left(&ends, self.days) else {
            return;
        };
        self.bar.set_message(match estimate {
            Some((per_day, left)) => format!(
                "{:.1} M device-days/s, about {} left",
                self.devices as f64 / per_day / 1e6,
                human_secs(left)
            ),
            None => "time left uncertain: days differ in cost".to_string(),
        });
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The time left of a run of `days` days whose day k (1, 2, …) ended `ends[k - 1]` seconds
/// after day 1 ended: `None` before a tenth of the days are done; `Some(None)` when the most
/// recent tenth of the days done (at least 4) is not steady (its two halves' cost per day
/// differ by more than a factor 1.5); else `Some(Some((seconds per day, seconds left)))`,
/// from that tenth's cost per day.
pub fn time_left(ends: &[f64], days: u32) -> Option<Option<(f64, f64)>> {
    let n = ends.len();
    let done = n.saturating_sub(1) as f64;
    if done < 1.0 || done < f64::from(days) * 0.1 {
        return None;
    }
    let k = ((n / 10).max(4) & !1).min((n - 1) & !1);
    if k < 2 {
        return None;
    }
    let span = |a: usize, b: usize| ends[b] - ends[a];
    let (older, newer) = (span(n - 1 - k, n - 1 - k / 2), span(n - 1 - k / 2, n - 1));
    let per_day = (older + newer) / k as f64;
    let steady = older > 0.0 && newer > 0.0 && (older / newer).max(newer / older) <= 1.5;
    let left = f64::from(days.saturating_sub(n as u32)) * per_day;
    Some(steady.then_some((per_day, left)))
}

/// A duration for people: `42 s`, `3 min 05 s`, `1 h 02 min`.
pub fn human_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_waits_for_a_tenth_and_steady_days() {
        // 100 days of 0.5 s each: nothing before day 11, then 0.5 s × the days left.
        let even: Vec<f64> = (0..100).map(|d| f64::from(d) * 0.5).collect();
        assert_eq!(time_left(&even[..10], 100), None);
        let (per_day, left) = time_left(&even[..40], 100).unwrap().unwrap();
        assert!((per_day - 0.5).abs() < 1e-9 && (left - 30.0).abs() < 1e-9);
        // A wave: days 5-15 cost 2 s, the rest 0.01 s. During and right after it the estimate
        // is withheld; once the recent days are cheap again it is theirs, not the average's.
        let mut t = 0.0;
        let wave: Vec<f64> = (1..=100)
            .map(|d| {
                let e = t;
                t += if (5..=15).contains(&d) { 2.0 } else { 0.01 };
                e
            })
            .collect();
        assert_eq!(time_left(&wave[..17], 100), Some(None));
        let (_, left) = time_left(&wave[..40], 100).unwrap().unwrap();
        assert!(left < 1.0, "{left}");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_secs(42.4), "42 s");
        assert_eq!(human_secs(185.0), "3 min 05 s");
        assert_eq!(human_secs(3720.0), "1 h 02 min");
    }
}
