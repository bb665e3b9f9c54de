//! Reading a device inventory export (`[fleet] inventory`, docs/INVENTORY.md) into the model's
//! compact per-device table. Device ids and names are read only to check the row; none is kept.

use crate::cli::Failure;
use crate::target::{Signature, check_file, write_file};
use fleetsim_model::domain::{Location, UsagePattern};
use fleetsim_model::fleet::{ABSENT, Inventory, Row};
use fleetsim_model::{JoinType, OsRelease, Scenario};
use std::path::{Path, PathBuf};

/// The columns fleetsim reads (others are ignored), in `Row` order after `device_id`.
const COLUMNS: [&str; 8] = [
    "os",
    "join",
    "configmgr_client",
    "site",
    "location",
    "usage",
    "third_party_mdm",
    "licensed",
];

/// Reads `path` into one row per device, checking each value against `s` (site codes).
pub fn read(path: &Path, s: &Scenario) -> Result<Inventory, String> {
    let mut sites: Vec<String> = s.sites.iter().map(|x| x.code.clone()).collect();
    read_sites(path, &mut sites, true)
}

/// Reads `path`; site codes are checked against `sites` when `fixed`, else added to it.
fn read_sites(path: &Path, sites: &mut Vec<String>, fixed: bool) -> Result<Inventory, String> {
    let shown = path.display();
    let mut r =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read inventory {shown}: {e}"))?;
    let headers = r
        .headers()
        .map_err(|e| format!("inventory {shown}: {e}"))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    if find("device_id").is_none() {
        return Err(format!(
            "inventory {shown}: no `device_id` column (columns: device_id, {})",
            COLUMNS.join(", ")
        ));
    }
    let at: Vec<Option<usize>> = COLUMNS.iter().map(|c| find(c)).collect();
    let mut rows = Vec::new();
    for (n, rec) in r.records().enumerate() {
        let line = n + 2;
        let rec = rec.map_err(|e| format!("inventory {shown}: row {line}: {e}"))?;
        let mut row: Row = [ABSENT; 8];
        for (i, col) in at.iter().enumerate() {
            let Some(v) = col.and_then(|c| rec.get(c)).map(str::trim) else {
                continue;
            };
            if v.is_empty() {
                continue;
            }
            let bad = |accepted: String| {
                format!(
                    "inventory {shown}: row {line}, column {}: unknown value {v:?}; accepted: {accepted}",
                    COLUMNS[i]
                )
            };
            let names = |all: Vec<&str>| all.join(", ");
            row[i] = match i {
                0 => OsRelease::from_name(v)
                    .map(|x| x.index() as u8)
                    .ok_or_else(|| bad(names(OsRelease::ALL.iter().map(|x| x.name()).collect())))?,
                1 => JoinType::from_name(v)
                    .map(|x| x.index() as u8)
                    .ok_or_else(|| bad(names(JoinType::ALL.iter().map(|x| x.name()).collect())))?,
                3 => match sites.iter().position(|c| c == v) {
                    Some(x) => x as u8,
                    None if !fixed && sites.len() < usize::from(ABSENT) => {
                        sites.push(v.to_string());
                        (sites.len() - 1) as u8
                    }
                    None => {
                        return Err(bad(format!(
                            "the scenario's [[sites]] codes: {}",
                            sites.join(", ")
                        )));
                    }
                },
                4 => Location::from_name(v)
                    .map(|x| x.index() as u8)
                    .ok_or_else(|| bad(names(Location::ALL.iter().map(|x| x.name()).collect())))?,
                5 => UsagePattern::from_name(v)
                    .map(|x| x.index() as u8)
                    .ok_or_else(|| {
                        bad(names(UsagePattern::ALL.iter().map(|x| x.name()).collect()))
                    })?,
                _ => match v.to_ascii_lowercase().as_str() {
                    "true" => 1,
                    "false" => 0,
                    _ => return Err(bad("true, false".into())),
                },
            };
        }
        rows.push(row);
    }
    Ok(Inventory { rows })
}

/// Reads the scenario's `[fleet] inventory`, if any, relative to `dir` (the scenario file's
/// folder; the current folder for a built-in scenario), and makes it the fleet.
pub fn attach(s: &mut Scenario, dir: Option<&Path>) -> Result<(), String> {
    let Some(rel) = s.fleet.inventory.clone() else {
        return Ok(());
    };
    let path = dir.map_or_else(|| Path::new(&rel).to_path_buf(), |d| d.join(&rel));
    let inv = read(&path, s)?;
    s.set_inventory(inv).map_err(|e| e.to_string())
}

/// `fleetsim inventory`.
#[derive(clap::Args)]
pub struct InventoryArgs {
    #[command(subcommand)]
    command: InventoryCommand,
}

#[derive(clap::Subcommand)]
enum InventoryCommand {
    /// Count an inventory's devices by OS, join type, client, site, location, usage, MDM and
    /// license, and write the equivalent mixes as a scenario fragment (TOML).
    Summarize {
        /// The inventory CSV (docs/INVENTORY.md).
        file: PathBuf,
        /// Check site codes against this scenario's `[[sites]]`.
        #[arg(long)]
        scenario: Option<String>,
        /// Write the fragment to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an existing fragment file.
        #[arg(long)]
        force: bool,
    },
}

/// The first line of every fragment `summarize` writes (its signature).
pub const FRAGMENT_HEAD: &str = "# fleetsim inventory summary";

/// Runs `fleetsim inventory`.
pub fn command(args: InventoryArgs) -> Result<(), Failure> {
    let InventoryCommand::Summarize {
        file,
        scenario,
        out,
        force,
    } = args.command;
    let bad = Failure::BadInput;
    let (mut sites, fixed) = match scenario.as_deref() {
        Some(name) => {
            let (_, s) = crate::scenarios::load(Some(name)).map_err(|e| bad(e.to_string()))?;
            (s.sites.iter().map(|x| x.code.clone()).collect(), true)
        }
        None => (Vec::new(), false),
    };
    if let Some(o) = &out {
        check_file(o, force, Signature::Toml).map_err(bad)?;
    }
    let inv = read_sites(&file, &mut sites, fixed).map_err(bad)?;
    let text = fragment(&file, &inv, &sites);
    match out {
        Some(o) => write_file(&o, text.as_bytes(), Signature::Toml).map_err(Failure::Run),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Counts of column `i`'s values (index: the value's index), and of empty cells.
fn counts(inv: &Inventory, i: usize, n: usize) -> (Vec<u64>, u64) {
    let mut c = vec![0u64; n];
    let mut empty = 0;
    for r in &inv.rows {
        match r[i] {
            ABSENT => empty += 1,
            v => c[usize::from(v)] += 1,
        }
    }
    (c, empty)
}

/// A mix as TOML (`{ a = 0.5, b = 0.5 }`) and a comment line of its counts.
fn mix(name: &str, names: &[String], (c, empty): &(Vec<u64>, u64)) -> Option<(String, String)> {
    let given: u64 = c.iter().sum();
    if given == 0 {
        return None;
    }
    let mut shares = Vec::new();
    let mut seen = Vec::new();
    for (k, n) in names.iter().zip(c) {
        if *n > 0 {
            shares.push(format!("{k} = {:?}", *n as f64 / given as f64));
            seen.push(format!("{k} {n}"));
        }
    }
    let comment = format!("# {name}: {}, empty {empty}", seen.join(", "));
    Some((format!("{{ {} }}", shares.join(", ")), comment))
}

/// The scenario fragment for `inv`.
fn fragment(file: &Path, inv: &Inventory, sites: &[String]) -> String {
    let names = |all: Vec<&str>| all.into_iter().map(String::from).collect::<Vec<_>>();
    let os = names(OsRelease::ALL.iter().map(|x| x.name()).collect());
    let join = names(JoinType::ALL.iter().map(|x| x.name()).collect());
    let loc = names(Location::ALL.iter().map(|x| x.name()).collect());
    let usage = names(UsagePattern::ALL.iter().map(|x| x.name()).collect());
    let tf = vec!["false".to_string(), "true".to_string()];
    let mut comments = Vec::new();
    let mut lines = vec![format!("devices = {}", inv.rows.len())];
    for (key, i, n) in [
        ("os", 0, &os),
        ("join", 1, &join),
        ("location", 4, &loc),
        ("usage", 5, &usage),
    ] {
        if let Some((m, c)) = mix(key, n, &counts(inv, i, n.len())) {
            lines.push(format!("{key} = {m}"));
            comments.push(c);
        }
    }
    for (key, i) in [("third_party_mdm", 6), ("licensed", 7)] {
        let cnt = counts(inv, i, 2);
        if let Some((_, c)) = mix(key, &tf, &cnt) {
            let given = cnt.0[0] + cnt.0[1];
            lines.push(format!("{key} = {:?}", cnt.0[1] as f64 / given as f64));
            comments.push(c);
        }
    }
    // The client share by join type: only rows that give both.
    let mut with = [0u64; 5];
    let mut all = [0u64; 5];
    for r in &inv.rows {
        if r[1] != ABSENT && r[2] != ABSENT {
            all[usize::from(r[1])] += 1;
            with[usize::from(r[1])] += u64::from(r[2]);
        }
    }
    let shares: Vec<String> = (0..5)
        .filter(|j| all[*j] > 0)
        .map(|j| format!("{} = {:?}", join[j], with[j] as f64 / all[j] as f64))
        .collect();
    if !shares.is_empty() {
        lines.push(format!("configmgr_client = {{ {} }}", shares.join(", ")));
    }
    if let Some((_, c)) = mix("configmgr_client", &tf, &counts(inv, 2, 2)) {
        comments.push(c);
    }
    let site_counts = counts(inv, 3, sites.len());
    let mut site_blocks = String::new();
    if let Some((_, c)) = mix("site", sites, &site_counts) {
        comments.push(c);
        let given: u64 = site_counts.0.iter().sum();
        for (code, n) in sites.iter().zip(&site_counts.0) {
            site_blocks.push_str(&format!(
                "\n[[sites]]\ncode = \"{code}\"\nshare = {:?}\n# version, management_points: the site's own\n",
                *n as f64 / given as f64
            ));
        }
    }
    format!(
        "{FRAGMENT_HEAD} of {}: {} devices (shares among the rows that give a value)\n{}\n\n[fleet]\n{}\n{site_blocks}",
        file.display(),
        inv.rows.len(),
        comments.join("\n"),
        lines.join("\n")
    )
}
