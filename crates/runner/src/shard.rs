//! A shard folder: what `compare --shard K/N` or `sweep --shard K/N` writes, and what
//! `fleetsim merge` reads.
//!
//! - `manifest.json`: the format, the fleetsim version, the command and the command line, K
//!   and N, the run indices it holds, the study's [`Layout`] (key columns, every variant's keys,
//!   label, sheet name and the SHA-256 of its resolved scenario, replications, base seed), the
//!   SHA-256 of that layout (`study_sha256`, equal in every shard of one study) and of
//!   `runs.jsonl`.
//! - `runs.jsonl`: one JSON object per run, in run-index order: its index, variant (0-based),
//!   replication (1-based), seed, its summary.csv header and row, its timeline.csv columns the
//!   study keeps (`day`, `date` and the band columns) and its findings: everything
//!   [`write_study`](crate::study::write_study) needs, as the text it writes, so the merged
//!   files are the same bytes.

use crate::study::{Layout, RunOut, Shard, replication_seed, sha256_hex};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` of every manifest this version writes.
pub const FORMAT: &str = "fleetsim-shard/1";
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The runs' file name.
pub const RUNS: &str = "runs.jsonl";

/// manifest.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The version of fleetsim that wrote it.
    pub fleetsim_version: String,
    /// The command (`compare`, `sweep`).
    pub command: String,
    /// The command line, for people (shards of one study differ in `--shard` and `--out`).
    pub arguments: Vec<String>,
    /// SHA-256 of the layout's JSON: the same in every shard of one study.
    pub study_sha256: String,
    /// This shard's number K, 1 to N.
    pub shard: u32,
    /// N.
    pub shards: u32,
    /// Runs in the whole study: variants × replications.
    pub total_runs: usize,
    /// The run indices this shard holds: those i with i mod N = K − 1.
    pub runs: Vec<usize>,
    /// SHA-256 of runs.jsonl.
    pub runs_sha256: String,
    /// What the study's files need besides the runs.
    pub layout: Layout,
}

/// One line of runs.jsonl.
#[derive(Serialize, Deserialize)]
struct Record {
    run: usize,
    variant: usize,
    replication: u32,
    #[serde(flatten)]
    out: RunOut,
}

/// SHA-256 of a layout's JSON.
pub fn study_hash(layout: &Layout) -> String {
    sha256_hex(&serde_json::to_vec(layout).unwrap_or_default())
}

/// Writes shard `shard` of a study, holding the runs `indices` (`runs` in the same order), to
/// the folder `dir` (through a temporary folder, replacing `dir` only with `force`).
pub fn write(
    dir: &Path,
    force: bool,
    layout: &Layout,
    shard: Shard,
    indices: &[usize],
    runs: &[RunOut],
) -> Result<()> {
    let mut lines = Vec::new();
    for (i, out) in indices.iter().zip(runs) {
        let (variant, replication) = layout.job(*i);
        let record = Record {
            run: *i,
            variant,
            replication,
            out: out.clone(),
        };
        serde_json::to_writer(&mut lines, &record).context("cannot encode a run")?;
        lines.push(b'\n');
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        fleetsim_version: env!("CARGO_PKG_VERSION").into(),
        command: layout.command.clone(),
        arguments: std::iter::once("fleetsim".to_string())
            .chain(std::env::args().skip(1))
            .collect(),
        study_sha256: study_hash(layout),
        shard: shard.k,
        shards: shard.n,
        total_runs: layout.total_runs(),
        runs: indices.to_vec(),
        runs_sha256: sha256_hex(&lines),
        layout: layout.clone(),
    };
    let mut text = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    text.push(b'\n');
    crate::target::write_dir(dir, force, "shard", |tmp| {
        for (name, bytes) in [(MANIFEST, &text), (RUNS, &lines)] {
            let path = tmp.join(name);
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })
}

/// Reads a shard folder's manifest; the message says why it is not one.
pub fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: not a shard folder (cannot read {MANIFEST}: {e}); shards are written by compare or sweep with --shard K/N",
            dir.display()
        )
    })?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{}: {MANIFEST} is not a shard manifest: {e}",
            path.display()
        )
    })?;
    if m.format != FORMAT {
        return Err(format!(
            "{}: shard format {:?}, this fleetsim reads {FORMAT:?}",
            dir.display(),
            m.format
        ));
    }
    Ok(m)
}

/// Reads a shard folder's runs and checks them against its manifest: `(run index, run)` in
/// the manifest's order.
pub fn read_runs(dir: &Path, m: &Manifest) -> Result<Vec<(usize, RunOut)>, String> {
    let path = dir.join(RUNS);
    let damaged = |why: String| format!("{}: damaged shard: {why}", dir.display());
    let bytes = std::fs::read(&path).map_err(|e| damaged(format!("cannot read {RUNS}: {e}")))?;
    if sha256_hex(&bytes) != m.runs_sha256 {
        return Err(damaged(format!(
            "{RUNS} does not match the SHA-256 in {MANIFEST}"
        )));
    }
    let mut out = Vec::with_capacity(m.runs.len());
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let r: Record = serde_json::from_slice(line)
            .map_err(|e| damaged(format!("{RUNS} line {}: {e}", n + 1)))?;
        let expected = (r.variant, r.replication);
        if m.layout.job(r.run) != expected
            || r.out.seed != replication_seed(m.layout.base_seed, r.replication)
            || r.out.summary.len() < 2
            || r.out.timeline.is_empty()
        {
            return Err(damaged(format!(
                "{RUNS} line {}: run {} is inconsistent",
                n + 1,
                r.run
            )));
        }
        out.push((r.run, r.out));
    }
    if out.iter().map(|(i, _)| *i).ne(m.runs.iter().copied()) {
        return Err(damaged(format!(
            "{RUNS} does not hold the runs its {MANIFEST} lists"
        )));
    }
    Ok(out)
}
