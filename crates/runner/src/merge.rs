//! `fleetsim merge`: the shard folders of one study (from `compare --shard K/N` or
//! `sweep --shard K/N`, in any order) into the files the command writes on one machine, byte
//! for byte: the statistics are computed once, by [`write_study`], from every run.
//!
//! Before anything is written, every shard is checked: each folder must be a shard, all must
//! come from the same study (format, fleetsim version, command, scenarios and settings,
//! replications, base seed, N), each K from 1 to N must be given exactly once, and each shard's
//! runs must be the ones its manifest lists. Otherwise the command exits 2 naming the folders.

use crate::cli::Failure;
use crate::shard::{self, Manifest};
use crate::study::{Layout, RunOut, Shard, Target, by_variant, describe, write_study};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct MergeArgs {
    /// Shard folders written by `compare --shard K/N` or `sweep --shard K/N`, every K once, in
    /// any order.
    #[arg(required = true, value_name = "SHARD_DIR")]
    shards: Vec<PathBuf>,
    /// Output folder: what the command writes without --shard.
    #[arg(long)]
    out: PathBuf,
    /// Replace the output folder (and the --xlsx file) if it exists and fleetsim wrote it.
    #[arg(long)]
    force: bool,
    /// No run information on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Also write a spreadsheet workbook (.xlsx) with the tables and line charts.
    #[arg(long, value_name = "FILE")]
    xlsx: Option<PathBuf>,
}

/// The first difference between two shards' studies, as "what: a vs b", if any.
fn difference(a: &Manifest, b: &Manifest) -> Option<String> {
    let differs = |what: &str, x: String, y: String| Some(format!("{what}: {x} vs {y}"));
    if a.fleetsim_version != b.fleetsim_version {
        return differs(
            "fleetsim version",
            a.fleetsim_version.clone(),
            b.fleetsim_version.clone(),
        );
    }
    if a.command != b.command {
        return differs("command", a.command.clone(), b.command.clone());
    }
    if a.shards != b.shards {
        return differs(
            "number of shards N",
            a.shards.to_string(),
            b.shards.to_string(),
        );
    }
    let (x, y) = (&a.layout, &b.layout);
    if x.replications != y.replications {
        return differs(
            "--replications",
            x.replications.to_string(),
            y.replications.to_string(),
        );
    }
    if x.base_seed != y.base_seed {
        return differs(
            "base seed",
            x.base_seed.to_string(),
            y.base_seed.to_string(),
        );
    }
    let labels = |l: &Layout| {
        l.variants
            .iter()
            .map(|v| v.label.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if x.key_header != y.key_header
        || x.variants.len() != y.variants.len()
        || x.variants
            .iter()
            .zip(&y.variants)
            .any(|(p, q)| p.keys != q.keys || p.label != q.label)
    {
        return differs("scenarios or settings", labels(x), labels(y));
    }
    if let Some((p, _)) = x
        .variants
        .iter()
        .zip(&y.variants)
        .find(|(p, q)| p.scenario_sha256 != q.scenario_sha256)
    {
        return Some(format!(
            "scenario {}: its resolved settings differ (other scenario file, --devices, --days or version)",
            p.label
        ));
    }
    if a.study_sha256 != b.study_sha256 || x != y {
        return Some("study (its layout or hash) differs".into());
    }
    None
}

/// The shard number as `K/N`.
fn name(m: &Manifest) -> String {
    format!("{}/{}", m.shard, m.shards)
}

/// Reads and checks every shard; all runs in run-index order, and the layout.
fn gather(dirs: &[PathBuf]) -> Result<(Layout, Vec<RunOut>), String> {
    let manifests = dirs
        .iter()
        .map(|d| shard::read_manifest(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &manifests[0];
    for (dir, m) in dirs.iter().zip(&manifests).skip(1) {
        if let Some(d) = difference(first, m) {
            return Err(format!(
                "{} and {} are shards of different studies ({d}); merge the shards of one study",
                dirs[0].display(),
                dir.display()
            ));
        }
    }
    let n = first.shards;
    let mut by_k: BTreeMap<u32, &Path> = BTreeMap::new();
    for (dir, m) in dirs.iter().zip(&manifests) {
        let total = m.layout.total_runs();
        let valid = (1..=n).contains(&m.shard)
            && m.total_runs == total
            && m.study_sha256 == shard::study_hash(&m.layout)
            && m.runs == Shard { k: m.shard, n }.runs(total);
        if !valid {
            return Err(format!(
                "{}: damaged shard: its manifest's shard {}, runs or hash do not add up",
                dir.display(),
                name(m)
            ));
        }
        if let Some(other) = by_k.insert(m.shard, dir) {
            return Err(format!(
                "shard {} given twice: {} and {}",
                name(m),
                other.display(),
                dir.display()
            ));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !by_k.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        let shown = missing.len().min(20);
        return Err(format!(
            "missing shard{} {}{} of {n}: give every shard folder of the study",
            if missing.len() == 1 { "" } else { "s" },
            missing[..shown].join(", "),
            if missing.len() > shown { ", …" } else { "" }
        ));
    }
    let layout = first.layout.clone();
    let mut slots: Vec<Option<RunOut>> = vec![None; layout.total_runs()];
    for (dir, m) in dirs.iter().zip(&manifests) {
        for (i, run) in shard::read_runs(dir, m)? {
            slots[i] = Some(run);
        }
    }
    let runs: Option<Vec<RunOut>> = slots.into_iter().collect();
    let runs = runs.ok_or_else(|| "the shards do not hold every run of the study".to_string())?;
    Ok((layout, runs))
}

/// Whether `a` and `b` name the same existing folder.
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// `fleetsim merge`.
pub fn merge(args: MergeArgs) -> Result<(), Failure> {
    let started = Instant::now();
    if let Some(d) = args.shards.iter().find(|d| same_folder(d, &args.out)) {
        return Err(Failure::BadInput(format!(
            "--out {} is one of the shard folders ({}): write the merged study elsewhere",
            args.out.display(),
            d.display()
        )));
    }
    let target = Target {
        out: &args.out,
        xlsx: args.xlsx.as_deref(),
        force: args.force,
        quiet: args.quiet,
    };
    target.check()?;
    let (layout, runs) = gather(&args.shards).map_err(Failure::BadInput)?;
    let total = runs.len();
    write_study(&layout, &by_variant(&layout, runs), &target)?;
    if !args.quiet {
        eprintln!(
            "{}: {total} runs from {} shard{} merged in {:.2} s; wrote {}{}",
            describe(&layout),
            args.shards.len(),
            if args.shards.len() == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64(),
            args.out.display(),
            args.xlsx
                .as_ref()
                .map_or(String::new(), |x| format!(" and {}", x.display()))
        );
    }
    Ok(())
}
