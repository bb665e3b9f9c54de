//! `fleetsim check`: the preflight alone: what blocks which devices, and how many.

use crate::cli::{Failure, Overrides, load, print_findings, run_failure};
use clap::Args;
use fleetsim_model::prereq::Severity;

#[derive(Args)]
pub struct CheckArgs {
    /// A named scenario or a path (default: the built-in mixed enterprise).
    pub scenario: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
}

pub fn check(args: CheckArgs) -> Result<(), Failure> {
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
