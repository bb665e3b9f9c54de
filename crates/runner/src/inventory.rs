//! Reading a device inventory export (`[fleet] inventory`, docs/INVENTORY.md) into the model's
//! compact per-device table. Device ids and names are read only to check the row; none is kept.

use fleetsim_model::domain::{Location, UsagePattern};
use fleetsim_model::fleet::{ABSENT, Inventory, Row};
use fleetsim_model::{JoinType, OsRelease, Scenario};
use std::path::Path;

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
    let sites: Vec<&str> = s.sites.iter().map(|x| x.code.as_str()).collect();
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
                3 => sites
                    .iter()
                    .position(|c| *c == v)
                    .map(|x| x as u8)
                    .ok_or_else(|| {
                        bad(format!(
                            "the scenario's [[sites]] codes: {}",
                            sites.join(", ")
                        ))
                    })?,
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
