//! `fleetsim compare`: several scenarios, each run over the same replications (seeds), with
//! statistics of every summary metric and the paired difference against the first scenario.
//! The replications, statistics and files are the study's (`crate::study`), shared with `sweep`.

use crate::cli::{Failure, Overrides, load};
use crate::output::safe_cell;
use crate::study::{Study, StudyArgs, Variant, run_study};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct CompareArgs {
    /// Scenarios (names or paths); the first is the baseline of the paired differences.
    #[arg(required = true, value_name = "SCENARIO")]
    scenarios: Vec<String>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    study: StudyArgs,
}

/// Labels from names, each unique: a repeated name gets `-2`, `-3`, … appended.
fn unique_labels(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let mut label = n.clone();
        let mut k = 2;
        while out.contains(&label) {
            label = format!("{n}-{k}");
            k += 1;
        }
        out.push(label);
    }
    out
}

/// `fleetsim compare`.
pub fn compare(args: CompareArgs) -> Result<(), Failure> {
    let scenarios = args
        .scenarios
        .iter()
        .map(|a| load(Some(a), &args.overrides))
        .collect::<Result<Vec<_>, _>>()?;
    let labels = unique_labels(&scenarios.iter().map(|s| s.name.clone()).collect::<Vec<_>>());
    let base_seed = args.overrides.seed.unwrap_or(scenarios[0].seed);
    let joined = labels.join("-vs-");
    let folder = if joined.len() <= 150 {
        format!("compare-{joined}")
    } else {
        format!("compare-{}-and-{}-more", labels[0], labels.len() - 1)
    };
    let out = PathBuf::from("results").join(folder);
    let study = Study {
        command: "compare",
        key_header: vec!["scenario".into()],
        variants: scenarios
            .into_iter()
            .zip(labels)
            .map(|(scenario, label)| Variant {
                keys: vec![safe_cell(&label)],
                sheet: label.clone(),
                label,
                scenario,
            })
            .collect(),
        replications: args.study.replications,
        base_seed,
        metrics_file: "comparison.csv",
    };
    run_study(&study, &args.study, args.overrides.threads, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique() {
        let names = ["a", "b", "a", "a"].map(String::from);
        assert_eq!(unique_labels(&names), ["a", "b", "a-2", "a-3"]);
    }
}
