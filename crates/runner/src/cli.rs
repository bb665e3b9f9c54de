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
    /// Worker threads; 0 (the default) means one per core. Never changes the results.
    #[arg(long, default_value_t = 0, hide_default_value = true)]
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
    apply_overrides(&mut s, o)?;
    Ok(s)
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
