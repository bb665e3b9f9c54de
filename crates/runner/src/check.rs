//! `fleetsim check`: the preflight alone: what blocks which devices, and how many.

use crate::cli::{Failure, Overrides, Settings, load_with, print_findings, run_failure};
use clap::Args;
use fleetsim_model::prereq::Severity;

#[derive(Args)]
pub struct CheckArgs {
    /// A named scenario or a path (default: the built-in mixed enterprise).
    pub scenario: Option<String>,
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(flatten)]
    pub settings: Settings,
    /// Only the verdict: no summary line and no findings (the exit code tells).
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn check(args: CheckArgs) -> Result<(), Failure> {
    let scenario = load_with(args.scenario.as_deref(), &args.overrides, &args.settings)?;
    let (findings, counts) =
        fleetsim_model::sim::check(&scenario, args.overrides.threads).map_err(run_failure)?;
    let blocked = findings.iter().any(|f| f.severity == Severity::Blocker);
    if args.quiet {
        return if blocked {
            Err(Failure::Blocked)
        } else {
            Ok(())
        };
    }
    // The devices present at the end of the run: the count the run's stderr line,
    // summary.csv and breakdown.csv give (docs/OUTPUTS.md, "One count of devices").
    let p = &counts.present;
    let late = counts.arrivals - p.arrivals;
    println!(
        "scenario {}: {} devices at the end of the run ({} new over the run{}); Path 1: {} devices ({} eligible), Path 2: {} devices ({} eligible); {} can never be co-managed",
        scenario.name,
        p.devices,
        p.arrivals,
        if late == 0 {
            String::new()
        } else {
            format!("; {late} more planned arrive after the end")
        },
        p.by_path[0],
        p.eligible_by_path[0],
        p.by_path[1],
        p.eligible_by_path[1],
        p.ineligible
    );
    // Conditional mixes, so that the check says which attributes are tied together.
    let by = scenario.fleet.by.list();
    if !by.is_empty() || !scenario.domains.is_empty() {
        let domains = (!scenario.domains.is_empty()).then(|| {
            format!(
                "identity by domain ({} [[domains]])",
                scenario.domains.len()
            )
        });
        let tied: Vec<String> = by
            .iter()
            .map(|(mix, on, n)| {
                format!(
                    "{mix} by {} ({n} value{})",
                    on.name(),
                    if *n == 1 { "" } else { "s" }
                )
            })
            .chain(domains)
            .collect();
        println!("correlated fleet mixes: {}", tied.join(", "));
    }
    let mut stdout = std::io::stdout();
    print_findings(&mut stdout, &findings);
    if blocked {
        return Err(Failure::Blocked);
    }
    println!("ok: no prerequisite blocks a path this scenario relies on");
    Ok(())
}
