//! Reading a device inventory export (`[fleet] inventory`, docs/INVENTORY.md) into the model's
//! compact per-device table. Device ids and names are read only to check the row; none is kept.

use crate::cli::Failure;
use crate::target::{Signature, check_file, write_file};
use fleetsim_model::domain::{Location, UsagePattern};
use fleetsim_model::fleet::{ABSENT, Inventory, Row, START, START_CO_MANAGED};
use fleetsim_model::{JoinType, OsRelease, Scenario};
use std::path::{Path, PathBuf};

mod formats;

use formats::{FORMATS, Field, Format};

/// The columns fleetsim reads (others are ignored), in `Row` order after `device_id`.
const COLUMNS: [&str; 9] = [
    "os",
    "join",
    "configmgr_client",
    "site",
    "location",
    "usage",
    "third_party_mdm",
    "licensed",
    "start",
];

/// Where an inventory's bytes come from: a file, or a file embedded with a named scenario.
pub enum Input<'a> {
    /// A file on disk.
    Path(&'a Path),
    /// Bytes, with the name to show in messages.
    Embedded(&'a str, &'static [u8]),
}

impl Input<'_> {
    fn shown(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Embedded(name, _) => format!("{name} (built in)"),
        }
    }
}

/// How to read an inventory: the scenario's `[fleet] inventory_format` and
/// `[fleet.inventory_columns]`.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    /// The format's name, if the scenario gives it.
    pub format: Option<String>,
    /// fleetsim column = the export's header.
    pub columns: Vec<(String, String)>,
}

impl Mapping {
    /// The scenario's mapping.
    pub fn of(s: &Scenario) -> Self {
        Self {
            format: s.fleet.inventory_format.clone(),
            columns: s.fleet.inventory_columns.clone(),
        }
    }
}

/// Reads `input` into one row per device, checking each value against `s` (site codes).
pub fn read(input: &Input, s: &Scenario) -> Result<Inventory, String> {
    let mut sites: Vec<String> = s.sites.iter().map(|x| x.code.clone()).collect();
    read_sites(input, &Mapping::of(s), &mut sites, true)
}

/// What one export column sets.
#[derive(Clone, Copy)]
enum Source {
    /// A format's mapped column.
    Format(Field),
    /// One of fleetsim's own columns (`Row` index), by its name or renamed.
    Own(usize),
}

/// Reads `input`; site codes are checked against `sites` when `fixed`, else added to it.
fn read_sites(
    input: &Input,
    mapping: &Mapping,
    sites: &mut Vec<String>,
    fixed: bool,
) -> Result<Inventory, String> {
    let shown = input.shown();
    let reader: Box<dyn std::io::Read> = match input {
        Input::Path(p) => Box::new(
            std::fs::File::open(p).map_err(|e| format!("cannot read inventory {shown}: {e}"))?,
        ),
        Input::Embedded(_, bytes) => Box::new(*bytes),
    };
    let mut r = csv::ReaderBuilder::new()
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| format!("inventory {shown}: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let names = |all: Vec<&str>| all.join(", ");
    let format_names = names(FORMATS.iter().map(|f| f.1).collect());
    let format = match mapping.format.as_deref() {
        Some(name) => FORMATS
            .iter()
            .find(|f| f.1 == name)
            .map(|f| f.0)
            .ok_or_else(|| {
                format!("[fleet] inventory_format: unknown format {name:?}; accepted: {format_names}")
            })?,
        None => formats::detect(&headers).ok_or_else(|| {
            format!(
                "inventory {shown}: cannot tell its format from its header (looked for device_id: fleetsim; status with managementAgents or clientRegistrationStatus: comanagement_eligibility; joinType or managementAgent: managed_devices; ResourceID with Name0 or Operating_System_Name_and0: configmgr); set [fleet] inventory_format to one of {format_names}"
            )
        })?,
    };
    let mut all_columns = vec!["device_id"];
    all_columns.extend(COLUMNS);
    // The renamed columns: each fleetsim column at most once, each header present.
    let mut renamed: Vec<(usize, &str)> = Vec::new();
    let mut id_header = format.id_column();
    for (ours, theirs) in &mapping.columns {
        let Some(i) = all_columns.iter().position(|c| c == ours) else {
            return Err(format!(
                "[fleet.inventory_columns]: unknown fleetsim column {ours:?}; accepted: {}",
                all_columns.join(", ")
            ));
        };
        if find(theirs).is_none() {
            return Err(format!(
                "inventory {shown}: [fleet.inventory_columns] {ours} = {theirs:?}: no such column in its header"
            ));
        }
        if i == 0 {
            id_header = theirs;
        } else {
            renamed.push((i - 1, theirs));
        }
    }
    if find(id_header).is_none() {
        return Err(format!(
            "inventory {shown}: no `{id_header}` column, which identifies a device in the {} format (map another with [fleet.inventory_columns] device_id = \"...\")",
            format.name()
        ));
    }
    // Each column read: (index in the record, what it sets, its header for messages).
    let mut plan: Vec<(usize, Source, String)> = Vec::new();
    for (name, field) in format.fields() {
        if let Some(c) = find(name) {
            plan.push((c, Source::Format(*field), (*name).to_string()));
        }
    }
    for (i, col) in COLUMNS.iter().enumerate() {
        let theirs = renamed.iter().find(|(k, _)| *k == i).map(|(_, h)| *h);
        let header = match (theirs, format) {
            (Some(h), _) => h,
            (None, Format::Fleetsim) => col,
            (None, _) => continue,
        };
        if let Some(c) = find(header) {
            plan.push((c, Source::Own(i), header.to_string()));
        }
    }
    let mut rows = Vec::new();
    let mut rec = csv::ByteRecord::new();
    let mut line = 1usize;
    loop {
        line += 1;
        match r.read_byte_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(format!("inventory {shown}: row {line}: {e}")),
        }
        let mut row: Row = [ABSENT; 9];
        for (c, source, header) in &plan {
            let Some(raw) = rec.get(*c) else {
                continue;
            };
            let v = std::str::from_utf8(raw)
                .map_err(|_| {
                    format!("inventory {shown}: row {line}, column {header}: not UTF-8 text")
                })?
                .trim();
            if v.is_empty() {
                continue;
            }
            let bad = |accepted: String| {
                format!(
                    "inventory {shown}: row {line}, column {header}: unknown value {v:?}; accepted: {accepted}"
                )
            };
            match source {
                Source::Format(field) => formats::apply(*field, v, &mut row).map_err(bad)?,
                Source::Own(i) => row[*i] = own(*i, v, sites, fixed).map_err(bad)?,
            }
        }
        rows.push(row);
    }
    Ok(Inventory { rows })
}

/// The `Row` value of `v` in fleetsim's own column `i`, or the accepted values.
fn own(i: usize, v: &str, sites: &mut Vec<String>, fixed: bool) -> Result<u8, String> {
    let names = |all: Vec<&str>| all.join(", ");
    Ok(match i {
        0 => OsRelease::from_name(v)
            .map(|x| x.index() as u8)
            .ok_or_else(|| names(OsRelease::ALL.iter().map(|x| x.name()).collect()))?,
        1 => JoinType::from_name(v)
            .map(|x| x.index() as u8)
            .ok_or_else(|| names(JoinType::ALL.iter().map(|x| x.name()).collect()))?,
        3 => match sites.iter().position(|c| c == v) {
            Some(x) => x as u8,
            None if !fixed && sites.len() < usize::from(ABSENT) => {
                sites.push(v.to_string());
                (sites.len() - 1) as u8
            }
            None => {
                return Err(format!(
                    "the scenario's [[sites]] codes: {}",
                    sites.join(", ")
                ));
            }
        },
        4 => Location::from_name(v)
            .map(|x| x.index() as u8)
            .ok_or_else(|| names(Location::ALL.iter().map(|x| x.name()).collect()))?,
        5 => UsagePattern::from_name(v)
            .map(|x| x.index() as u8)
            .ok_or_else(|| names(UsagePattern::ALL.iter().map(|x| x.name()).collect()))?,
        START => match v {
            "co_managed" => START_CO_MANAGED,
            "not_co_managed" => ABSENT,
            _ => return Err("co_managed, not_co_managed".into()),
        },
        _ => match v.to_ascii_lowercase().as_str() {
            "true" => 1,
            "false" => 0,
            _ => return Err("true, false".into()),
        },
    })
}

/// Reads the scenario's `[fleet] inventory`, if any, relative to `dir` (the scenario file's
/// folder). A built-in scenario (no `dir`) reads the file embedded with it, or else one in
/// the current folder. The fleet becomes the inventory's devices.
pub fn attach(s: &mut Scenario, dir: Option<&Path>) -> Result<(), String> {
    let Some(rel) = s.fleet.inventory.clone() else {
        return Ok(());
    };
    let embedded = crate::scenarios::FILES.iter().find(|(n, _)| *n == rel);
    let path = dir.map_or_else(|| Path::new(&rel).to_path_buf(), |d| d.join(&rel));
    let input = match (dir, embedded) {
        (None, Some((name, bytes))) => Input::Embedded(name, bytes),
        _ => Input::Path(&path),
    };
    let inv = read(&input, s)?;
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
    /// Time reading an inventory and turning it into the fleet (every device's attributes
    /// drawn), and measure the memory it adds; nothing is written.
    Bench {
        /// The inventory CSV (docs/INVENTORY.md).
        file: PathBuf,
        /// Read it as this scenario would (sites, format, column mapping).
        #[arg(long)]
        scenario: Option<String>,
        /// Times to read it; the report gives each and the best.
        #[arg(long, default_value_t = 3)]
        repeat: u32,
    },
}

/// The first line of every fragment `summarize` writes (its signature).
pub const FRAGMENT_HEAD: &str = "# fleetsim inventory summary";

/// Runs `fleetsim inventory`.
pub fn command(args: InventoryArgs) -> Result<(), Failure> {
    let (file, scenario, out, force) = match args.command {
        InventoryCommand::Summarize {
            file,
            scenario,
            out,
            force,
        } => (file, scenario, out, force),
        InventoryCommand::Bench {
            file,
            scenario,
            repeat,
        } => return bench(&file, scenario.as_deref(), repeat),
    };
    let bad = Failure::BadInput;
    let (mut sites, fixed, mapping) = match scenario.as_deref() {
        Some(name) => {
            let (_, s) = crate::scenarios::load(Some(name)).map_err(|e| bad(e.to_string()))?;
            (
                s.sites.iter().map(|x| x.code.clone()).collect(),
                true,
                Mapping::of(&s),
            )
        }
        None => (Vec::new(), false, Mapping::default()),
    };
    if let Some(o) = &out {
        check_file(o, force, Signature::Toml).map_err(bad)?;
    }
    let inv = read_sites(&Input::Path(&file), &mapping, &mut sites, fixed).map_err(bad)?;
    let text = fragment(&file, &inv, &sites);
    match out {
        Some(o) => write_file(&o, text.as_bytes(), Signature::Toml).map_err(Failure::Run),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// `fleetsim inventory bench`: reads `file` `repeat` times into the fleet's table and draws
/// every device from it; prints each time, the best, and the peak memory added per device.
fn bench(file: &Path, scenario: Option<&str>, repeat: u32) -> Result<(), Failure> {
    use fleetsim_engine::RandomStreams;
    use std::time::Instant;
    let bad = Failure::BadInput;
    let base_rss = crate::bench::peak_rss_bytes();
    let mut s = match scenario {
        Some(name) => crate::scenarios::find(Some(name))
            .map_err(|e| bad(e.to_string()))
            .and_then(|src| Scenario::from_toml(&src.text).map_err(|e| bad(e.to_string())))?,
        None => Scenario::from_toml(
            "name = \"inventory-bench\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 1\n",
        )
        .map_err(|e| bad(e.to_string()))?,
    };
    let mapping = Mapping::of(&s);
    let fixed = scenario.is_some();
    let streams = RandomStreams::new(s.seed);
    let mut best = f64::INFINITY;
    let mut devices = 0usize;
    for i in 1..=repeat.max(1) {
        // The previous round's table goes first, so that rounds do not add up.
        s.fleet.overrides = None;
        let started = Instant::now();
        let mut sites: Vec<String> = s.sites.iter().map(|x| x.code.clone()).collect();
        let inv = read_sites(&Input::Path(file), &mapping, &mut sites, fixed).map_err(bad)?;
        let read = started.elapsed().as_secs_f64();
        devices = inv.rows.len();
        s.set_inventory(inv).map_err(|e| bad(e.to_string()))?;
        // Turn every row into its device's attributes, as a run's first pass does.
        let mut check = 0u64;
        for id in 0..s.fleet.devices {
            let p = fleetsim_model::fleet::draw_profile(&s.fleet, &s, &streams, id);
            check = check.wrapping_add(p.os.index() as u64 + u64::from(p.site));
        }
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        println!(
            "run {i}: {secs:.3} s wall ({read:.3} s reading, {:.3} s drawing the devices), {devices} devices, {:.0} ns/device (check {check})",
            secs - read,
            secs * 1e9 / devices.max(1) as f64
        );
    }
    match (crate::bench::peak_rss_bytes(), base_rss) {
        (Some(peak), Some(base)) => println!(
            "best {best:.3} s wall; peak memory added {:.1} MiB, {:.1} bytes/device",
            (peak - base) / (1024.0 * 1024.0),
            (peak - base) / devices.max(1) as f64
        ),
        _ => println!("best {best:.3} s wall; peak memory not available on this system"),
    }
    Ok(())
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
    let co_managed = inv
        .rows
        .iter()
        .filter(|r| r[START] == START_CO_MANAGED)
        .count();
    comments.push(format!(
        "# start: co_managed {co_managed} (a synthetic fleet starts with none co-managed)"
    ));
    format!(
        "{FRAGMENT_HEAD} of {}: {} devices (shares among the rows that give a value)\n{}\n\n[fleet]\n{}\n{site_blocks}",
        file.display(),
        inv.rows.len(),
        comments.join("\n"),
        lines.join("\n")
    )
}
