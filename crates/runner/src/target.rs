//! Where fleetsim may write, and how: the one gate every writer goes through.
//!
//! - **Baselines are never an output.** A target that is, contains or lies inside a baselines
//!   folder is refused (exit 2, nothing touched) by every command but `baseline update`. A
//!   baselines folder is the project's `results/baselines` (relative to the current folder) or
//!   any folder that holds a baseline (a subfolder with a `baseline.toml`); a baseline is a
//!   folder with a `baseline.toml`. Paths are compared resolved: absolute, without `.` and
//!   `..`, with their existing part's symbolic links followed. A folder holding baselines
//!   deeper down (`ci/` with `ci/b/tiny/baseline.toml`) is protected by the next rule: it has
//!   no marker, so `--force` refuses it.
//! - **`--force` replaces only what fleetsim wrote.** Every output folder gets a marker file,
//!   [`MARKER`], naming the command, the version and the files written; `--force` replaces a
//!   folder only while it holds the marker and nothing but the files the marker lists. A
//!   single file (report, workbook, chart image) is replaced only when its content carries
//!   fleetsim's signature (see [`Signature`]).
//! - **A kill at any instant leaves the old result or the new one.** Folders and files are
//!   built under a temporary name beside the target (hidden, unique per process:
//!   `.<name>.fleetsim-tmp.<pid>.<counter>.<nanoseconds>.<host>`) and put in place in one step: a
//!   rename, or for a folder that exists, an atomic exchange of the two (Linux; elsewhere the
//!   old folder is moved aside first, to `.<name>.fleetsim-old.…`). Temporary and aside names
//!   left by a process that is gone are removed before the next write beside them (an aside
//!   whose target is missing is put back); those of live processes, or of another machine
//!   sharing the folder, are left alone.
//!
//! A new writer calls [`check_dir`] or [`check_file`] before any work (exit 2 on failure), then
//! [`write_dir`] or [`write_file`].

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The marker file in every output folder fleetsim writes.
pub const MARKER: &str = ".fleetsim-output";

/// The project's baselines folder, relative to the current folder.
pub const BASELINES: &str = crate::baseline::ROOT;

/// A baseline folder's manifest.
const MANIFEST: &str = crate::baseline::MANIFEST;

/// What [`MARKER`] holds.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// The command that wrote the folder (`run`, `compare`, `sweep`).
    pub command: String,
    /// The fleetsim version that wrote it.
    pub fleetsim_version: String,
    /// The files it wrote, sorted.
    pub files: Vec<String>,
}

impl Marker {
    fn to_text(&self) -> Result<String> {
        Ok(format!(
            "# Written by fleetsim. `--force` replaces this folder only while it holds this file\n\
             # and nothing but the files listed here; see docs/OUTPUTS.md.\n{}",
            toml::to_string(self).context("cannot write the output marker")?
        ))
    }

    fn read(dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        toml::from_str(&text).ok()
    }
}

/// How a single output file shows that fleetsim wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    /// The report: `<meta name="generator" content="fleetsim …">` in its head.
    Html,
    /// A workbook: the document title `fleetsim results` in `docProps/core.xml`.
    Xlsx,
    /// A chart image: an SVG that opens as fleetsim's charts do (`class="chart"`, `data-chart`).
    Svg,
    /// A chart image: a PNG with a `tEXt` chunk `Software` = `fleetsim …`.
    Png,
    /// A scenario fragment from `fleetsim inventory summarize`: its first line.
    Toml,
    /// An observation file from `fleetsim observed`: a header of `date` and known series.
    Observations,
}

/// The `tEXt` keyword of [`png_signed`].
const PNG_KEYWORD: &str = "Software";

impl Signature {
    /// Whether `bytes` carry this signature.
    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            Self::Html => {
                let head = &bytes[..bytes.len().min(4096)];
                String::from_utf8_lossy(head)
                    .contains("<meta name=\"generator\" content=\"fleetsim ")
            }
            Self::Svg => {
                let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
                head.starts_with(
                    "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"chart-",
                ) && head.contains(" data-chart=\"")
            }
            Self::Png => png_text(bytes, PNG_KEYWORD).is_some_and(|v| v.starts_with("fleetsim ")),
            Self::Toml => bytes.starts_with(crate::inventory::FRAGMENT_HEAD.as_bytes()),
            Self::Observations => crate::observed::is_observation_file(bytes),
            Self::Xlsx => {
                let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
                    return false;
                };
                let Ok(mut core) = zip.by_name("docProps/core.xml") else {
                    return false;
                };
                let mut text = String::new();
                std::io::Read::read_to_string(&mut core, &mut text).is_ok()
                    && text.contains("<dc:title>fleetsim results</dc:title>")
            }
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Html => "a report fleetsim wrote (its generator tag)",
            Self::Xlsx => "a workbook fleetsim wrote (its title `fleetsim results`)",
            Self::Svg => "a chart fleetsim drew",
            Self::Png => "a chart fleetsim drew (its Software tag)",
            Self::Toml => "a fleetsim inventory summary (its first line)",
            Self::Observations => "an observation file (a header of date and known series)",
        }
    }
}

/// `png` with a `tEXt` chunk `Software` = `fleetsim <version>` after its header chunk, so that
/// [`Signature::Png`] recognises it. Bytes that are not a PNG are returned unchanged.
pub fn png_signed(png: Vec<u8>) -> Vec<u8> {
    const IHDR_END: usize = 8 + 4 + 4 + 13 + 4;
    if png.len() < IHDR_END || &png[12..16] != b"IHDR" {
        return png;
    }
    let mut data = PNG_KEYWORD.as_bytes().to_vec();
    data.push(0);
    data.extend_from_slice(format!("fleetsim {}", env!("CARGO_PKG_VERSION")).as_bytes());
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    let mut typed = b"tEXt".to_vec();
    typed.extend_from_slice(&data);
    chunk.extend_from_slice(&typed);
    chunk.extend_from_slice(&crc32fast::hash(&typed).to_be_bytes());
    let mut out = Vec::with_capacity(png.len() + chunk.len());
    out.extend_from_slice(&png[..IHDR_END]);
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[IHDR_END..]);
    out
}

/// The text of the first `tEXt` chunk named `keyword` in a PNG.
fn png_text(png: &[u8], keyword: &str) -> Option<String> {
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().ok()?) as usize;
        let kind = &png[at + 4..at + 8];
        let data = png.get(at + 8..at + 8 + len)?;
        if kind == b"tEXt" {
            let nul = data.iter().position(|b| *b == 0)?;
            if &data[..nul] == keyword.as_bytes() {
                return Some(String::from_utf8_lossy(&data[nul + 1..]).into_owned());
            }
        }
        if kind == b"IDAT" || kind == b"IEND" {
            return None;
        }
        at += 12 + len;
    }
    None
}

/// `p` as an absolute path without `.` or `..`, with its existing part resolved on disk
/// (symbolic links, letter case), so that two spellings of one folder compare equal.
pub fn resolved(p: &Path) -> PathBuf {
    let absolute = std::env::current_dir().unwrap_or_default().join(p);
    let mut plain = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                plain.pop();
            }
            c => plain.push(c),
        }
    }
    let mut rest = Vec::new();
    let mut existing = plain.as_path();
    loop {
        if let Ok(mut real) = existing.canonicalize() {
            real.extend(rest.iter().rev());
            return real;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return plain,
        }
    }
}

/// Whether folder `p` holds a baseline (a subfolder with a manifest).
fn holds_baselines(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().join(MANIFEST).is_file())
    })
}

/// Refuses `target` (a folder or file to be written) if it is, contains or lies inside a
/// baselines folder or a baseline: only `fleetsim baseline update` writes there.
pub fn refuse_baselines(target: &Path) -> Result<(), String> {
    let real = resolved(target);
    let root = resolved(Path::new(BASELINES));
    let why = if real.starts_with(&root) {
        Some(format!("is inside {BASELINES}, where the baselines live"))
    } else if root.starts_with(&real) && root.is_dir() {
        Some(format!("contains {BASELINES}, where the baselines live"))
    } else {
        real.ancestors().find_map(|a| {
            if a.join(MANIFEST).is_file() {
                Some(format!(
                    "is or lies inside a baseline ({} holds a {MANIFEST})",
                    a.display()
                ))
            } else if holds_baselines(a) {
                Some(format!(
                    "is or lies inside a folder of baselines ({})",
                    a.display()
                ))
            } else {
                None
            }
        })
    };
    match why {
        None => Ok(()),
        Some(why) => Err(format!(
            "{} {why}: fleetsim never writes output there, not even with --force, because `fleetsim verify` compares against it. Refresh a baseline on purpose with `fleetsim baseline update <scenario>`, or write elsewhere",
            target.display()
        )),
    }
}

/// Whether `dir` holds only what its marker lists (and the marker). `Err` says why not.
fn fleetsim_folder(dir: &Path) -> Result<(), String> {
    let refuse = |why: String| {
        Err(format!(
            "{} {why}; --force replaces only folders fleetsim wrote (with a {MARKER} file, see docs/OUTPUTS.md), so it is left as it is: remove it yourself or write elsewhere",
            dir.display()
        ))
    };
    let Some(marker) = Marker::read(dir) else {
        return refuse(format!(
            "has no readable {MARKER}: fleetsim did not write it"
        ));
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return refuse(format!("cannot be read ({e})")),
    };
    for e in entries {
        let Ok(e) = e else {
            return refuse("cannot be read".into());
        };
        let name = e.file_name().to_string_lossy().into_owned();
        let plain = e.file_type().is_ok_and(|t| t.is_file());
        if name != MARKER && !(plain && marker.files.contains(&name)) {
            return refuse(format!("holds {name}, which fleetsim did not write there"));
        }
    }
    Ok(())
}

/// Fails early, before any work, if output folder `dir` may not be written: it is or touches
/// baselines, it is not a folder, or it exists and `force` is off or it is not all fleetsim's.
pub fn check_dir(dir: &Path, force: bool) -> Result<(), String> {
    refuse_baselines(dir)?;
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{} is a symbolic link: name the folder itself",
            dir.display()
        ));
    }
    if !meta.is_dir() {
        return Err(format!("{} exists and is not a folder", dir.display()));
    }
    if !force {
        return Err(format!(
            "{} already exists: pass --force to replace it, or --out to write elsewhere",
            dir.display()
        ));
    }
    fleetsim_folder(dir)
}

/// Fails early, before any work, if the single output file `path` may not be written: it is or
/// touches baselines, it is a folder, or it exists and `force` is off or its content does not
/// show `signature`.
pub fn check_file(path: &Path, force: bool, signature: Signature) -> Result<(), String> {
    refuse_baselines(path)?;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.is_dir() {
        return Err(format!(
            "{} is a folder, expected a file name",
            path.display()
        ));
    }
    if !meta.is_file() {
        return Err(format!("{} is not a plain file", path.display()));
    }
    if !force {
        return Err(format!(
            "{} already exists: pass --force to replace it",
            path.display()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !signature.matches(&bytes) {
        return Err(format!(
            "{} is not {}: --force replaces only files fleetsim wrote, so it is left as it is; remove it yourself or write elsewhere",
            path.display(),
            signature.describe()
        ));
    }
    Ok(())
}

/// The parent folder of `path` (created if missing) and `path`'s file name.
fn parent_and_name(path: &Path) -> Result<(PathBuf, String)> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("{} names no file or folder", path.display()))?;
    Ok((parent, name))
}

/// This machine's host name, letters, digits and `-` only (Linux; empty elsewhere): process
/// ids are per machine, so leftovers are judged only on the machine that left them.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect()
}

/// A name beside `name` no other process or call uses:
/// `.<name>.fleetsim-<kind>.<pid>.<n>.<ns>.<host>`.
fn unique_name(parent: &Path, name: &str, kind: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    parent.join(format!(
        ".{name}.fleetsim-{kind}.{}.{n}.{nanos}.{}",
        std::process::id(),
        host()
    ))
}

/// Whether process `pid` may still be running (unknown counts as running).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes the temporary and aside names beside `name` in `parent` left by processes that are
/// gone; an aside whose target is missing (a kill between two renames) is put back instead.
pub fn clean_stale(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!(".{name}.fleetsim-");
    let here = host();
    for e in entries.filter_map(|e| e.ok()) {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let mut parts = rest.split('.');
        let kind = parts.next().unwrap_or_default();
        let Some(pid) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let other_host = parts.nth(2).is_some_and(|h| h != here);
        if !matches!(kind, "tmp" | "old") || other_host || alive(pid) {
            continue;
        }
        let path = e.path();
        let target = parent.join(name);
        if kind == "old" && std::fs::symlink_metadata(&target).is_err() {
            std::fs::rename(&path, &target).ok();
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path).ok();
        } else {
            std::fs::remove_file(&path).ok();
        }
    }
}

/// Swaps `a` and `b` (both existing) in one step, where the system can.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<bool> {
    Ok(false)
}

/// Puts the complete folder `tmp` in place as `dir`. An existing `dir` is replaced only with
/// `force` and only while `replaceable` accepts it; otherwise `tmp` is removed and `dir` left.
fn install_dir(
    tmp: &Path,
    dir: &Path,
    force: bool,
    replaceable: impl Fn(&Path) -> Result<(), String>,
) -> Result<()> {
    let give_up = |e: anyhow::Error| {
        std::fs::remove_dir_all(tmp).ok();
        Err(e)
    };
    // A folder that appears between the check and the rename (a concurrent run) is replaced
    // like one that was there before: a few rounds at most.
    for _ in 0..4 {
        if std::fs::symlink_metadata(dir).is_err() {
            match std::fs::rename(tmp, dir) {
                Ok(()) => return Ok(()),
                Err(_) if std::fs::symlink_metadata(dir).is_ok() => continue,
                Err(e) => {
                    return give_up(anyhow!(
                        "cannot rename {} to {}: {e}",
                        tmp.display(),
                        dir.display()
                    ));
                }
            }
        }
        if !force {
            return give_up(anyhow!(
                "{} already exists: pass --force to replace it",
                dir.display()
            ));
        }
        if let Err(why) = replaceable(dir) {
            return give_up(anyhow!(why));
        }
        match exchange(tmp, dir) {
            Ok(true) => {
                // `tmp` now holds the old folder.
                std::fs::remove_dir_all(tmp)
                    .with_context(|| format!("cannot remove {}", tmp.display()))?;
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => {
                return give_up(anyhow!("cannot replace {}: {e}", dir.display()));
            }
        }
        let (parent, name) = parent_and_name(dir)?;
        let old = unique_name(&parent, &name, "old");
        if let Err(e) = std::fs::rename(dir, &old) {
            if std::fs::symlink_metadata(dir).is_err() {
                continue;
            }
            return give_up(anyhow!("cannot move {} aside: {e}", dir.display()));
        }
        if let Err(e) = std::fs::rename(tmp, dir) {
            std::fs::rename(&old, dir).ok();
            return give_up(anyhow!(
                "cannot rename {} to {}: {e}",
                tmp.display(),
                dir.display()
            ));
        }
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("cannot remove {}", old.display()))?;
        return Ok(());
    }
    give_up(anyhow!(
        "{} keeps changing while fleetsim writes it: is another fleetsim writing there?",
        dir.display()
    ))
}

/// A new, empty temporary folder beside `dir` (stale ones of dead processes cleaned first).
fn temp_dir_beside(dir: &Path) -> Result<PathBuf> {
    let (parent, name) = parent_and_name(dir)?;
    clean_stale(&parent, &name);
    let tmp = unique_name(&parent, &name, "tmp");
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    Ok(tmp)
}

/// Builds output folder `dir` for `command`: `fill` writes its files into a temporary folder
/// beside `dir`; the marker is added listing them; the folder is put in place in one step
/// (replacing an existing `dir` only with `force` and only if fleetsim wrote it). On failure the
/// temporary folder is removed and `dir` left as it was. Call [`check_dir`] first.
pub fn write_dir(
    dir: &Path,
    force: bool,
    command: &str,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = temp_dir_beside(dir)?;
    let marked = fill(&tmp).and_then(|()| {
        let mut files = Vec::new();
        for e in
            std::fs::read_dir(&tmp).with_context(|| format!("cannot read {}", tmp.display()))?
        {
            let e = e?;
            if !e.file_type()?.is_file() {
                bail!("{} is not a plain file", e.path().display());
            }
            files.push(e.file_name().to_string_lossy().into_owned());
        }
        files.sort();
        let marker = Marker {
            command: command.into(),
            fleetsim_version: env!("CARGO_PKG_VERSION").into(),
            files,
        };
        let p = tmp.join(MARKER);
        std::fs::write(&p, marker.to_text()?)
            .with_context(|| format!("cannot write {}", p.display()))
    });
    if let Err(e) = marked {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e);
    }
    install_dir(&tmp, dir, force, fleetsim_folder)
}

/// Builds baseline folder `dir` (for `fleetsim baseline update` only): like [`write_dir`],
/// without a marker, replacing an existing `dir` only while it holds nothing but `allowed`.
pub fn write_baseline_dir(
    dir: &Path,
    allowed: &[&str],
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = temp_dir_beside(dir)?;
    if let Err(e) = fill(&tmp) {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e);
    }
    install_dir(&tmp, dir, true, |d| only_files(d, allowed))
}

/// Whether folder `dir` holds nothing but plain files named in `allowed`.
pub fn only_files(dir: &Path, allowed: &[&str]) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !(e.file_type().is_ok_and(|t| t.is_file()) && allowed.contains(&name.as_str())) {
            return Err(format!(
                "{} holds {name}, which fleetsim did not write there: it is left as it is; move it elsewhere first",
                dir.display()
            ));
        }
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place in one step: a
/// reader, or a kill at any instant, sees the old file or the new one. Replaces an existing
/// file only while its content shows `signature` (checked again just before the rename). Call
/// [`check_file`] first.
pub fn write_file(path: &Path, bytes: &[u8], signature: Signature) -> Result<()> {
    let (parent, name) = parent_and_name(path)?;
    clean_stale(&parent, &name);
    let tmp = unique_name(&parent, &name, "tmp");
    let written = std::fs::write(&tmp, bytes)
        .with_context(|| format!("cannot write {}", tmp.display()))
        .and_then(|()| match std::fs::read(path) {
            Ok(old) if !signature.matches(&old) => Err(anyhow!(
                "{} is not {}: it is left as it is",
                path.display(),
                signature.describe()
            )),
            _ => Ok(()),
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
        });
    if written.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_unique_and_hidden() {
        let a = unique_name(Path::new("x"), "run", "tmp");
        let b = unique_name(Path::new("x"), "run", "tmp");
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(&format!(".run.fleetsim-tmp.{}.", std::process::id())));
    }

    #[test]
    fn stale_names_of_dead_processes_are_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        // A pid above Linux's largest is never running.
        let dead = 4_294_967_000u32;
        std::fs::create_dir(p.join(format!(".out.fleetsim-tmp.{dead}.0.1"))).unwrap();
        std::fs::write(p.join(format!(".r.html.fleetsim-tmp.{dead}.0.1")), "x").unwrap();
        let mine = p.join(format!(".out.fleetsim-tmp.{}.0.1", std::process::id()));
        std::fs::create_dir(&mine).unwrap();
        // Another machine's leftovers are not judged here.
        std::fs::create_dir(p.join(format!(".out.fleetsim-tmp.{dead}.0.1.not-{}", host())))
            .unwrap();
        // An aside whose target is missing is put back.
        std::fs::create_dir(p.join(format!(".out.fleetsim-old.{dead}.0.1"))).unwrap();
        std::fs::write(p.join(format!(".out.fleetsim-old.{dead}.0.1/a.csv")), "old").unwrap();
        clean_stale(p, "out");
        clean_stale(p, "r.html");
        let mut left: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mine_name = mine.file_name().unwrap().to_string_lossy().into_owned();
        let other = format!(".out.fleetsim-tmp.{dead}.0.1.not-{}", host());
        let mut expected = vec![mine_name, other, "out".to_string()];
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(std::fs::read_to_string(p.join("out/a.csv")).unwrap(), "old");
    }

    #[test]
    fn png_signature_round_trips() {
        // The smallest valid PNG header: signature and an IHDR chunk, then IEND.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
        png.extend_from_slice(&crc32fast::hash(&png[12..29]).to_be_bytes());
        png.extend_from_slice(&[0, 0, 0, 0]);
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&crc32fast::hash(b"IEND").to_be_bytes());
        assert!(!Signature::Png.matches(&png));
        let signed = png_signed(png);
        assert!(Signature::Png.matches(&signed));
        assert!(!Signature::Html.matches(&signed));
    }

    #[test]
    fn signatures_reject_other_files() {
        for s in [
            Signature::Html,
            Signature::Xlsx,
            Signature::Svg,
            Signature::Png,
        ] {
            assert!(!s.matches(b"my thesis, chapter 3"), "{s:?}");
        }
        assert!(
            Signature::Html
                .matches(b"<!DOCTYPE html>\n<meta name=\"generator\" content=\"fleetsim 0.1.0\">")
        );
    }
}
