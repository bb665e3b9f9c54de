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
    /// license, and write the equivalent mixes as a scenario fragment (TOML), each mix
    /// conditioned on the attribute settled before it that explains it best when a
    /// chi-square test finds the dependence (docs/INVENTORY.md).
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

/// Rows a value of the attribute depended on must have for its own table
/// (`[fleet.<mix>.by_<attribute>.<value>]`); rows of rarer values draw from the fleet-wide mix.
pub const MIN_ROWS_PER_VALUE: u64 = 50;

/// The upper 0.1% point of the standard normal distribution (the chi-square test's level).
const Z_0_001: f64 = 3.090_232;

/// The chi-square distribution's upper 0.1% point on `df` degrees of freedom, by the
/// Wilson-Hilferty approximation (within 1% of the exact value from 3 degrees of freedom).
fn chi2_critical(df: f64) -> f64 {
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + Z_0_001 * a.sqrt()).powi(3)
}

/// Shares of `counts` (index: value) rounded to six decimals that sum to exactly 1: the
/// largest share takes the rounding remainder; a value whose share rounds to 0 is left out.
/// Each share is written without trailing zeros (`0.25`, `1.0`).
fn rounded(counts: &[u64]) -> Vec<(usize, String)> {
    const ONE: u64 = 1_000_000;
    let given: u64 = counts.iter().sum();
    if given == 0 {
        return Vec::new();
    }
    let mut q: Vec<(usize, u64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| {
            let x = (u128::from(*n) * u128::from(ONE) * 2 + u128::from(given))
                / (u128::from(given) * 2);
            (k, x as u64)
        })
        .filter(|(_, x)| *x > 0)
        .collect();
    let top = (0..q.len())
        .max_by_key(|i| (q[*i].1, std::cmp::Reverse(*i)))
        .unwrap_or(0);
    let others: u64 = q
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != top)
        .map(|(_, x)| x.1)
        .sum();
    if let Some(t) = q.get_mut(top) {
        t.1 = ONE - others;
    }
    q.into_iter()
        .map(|(k, x)| {
            let frac = format!("{:06}", x % ONE);
            let frac = frac.trim_end_matches('0');
            (
                k,
                format!("{}.{}", x / ONE, if frac.is_empty() { "0" } else { frac }),
            )
        })
        .collect()
}

/// A TOML key: bare when it may be, else quoted.
fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// Entropy in bits of counts.
fn entropy(c: &[u64]) -> f64 {
    let n: u64 = c.iter().sum();
    if n == 0 {
        return 0.0;
    }
    c.iter()
        .filter(|x| **x > 0)
        .map(|x| {
            let p = *x as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// How well one attribute settled before a mix explains it, over the rows that give both.
struct Explains {
    /// The attribute's `Row` index.
    by: usize,
    /// The mix's entropy, and its entropy once the attribute is known (bits): values under
    /// [`MIN_ROWS_PER_VALUE`] rows are pooled, as they draw from the fleet-wide mix.
    before: f64,
    after: f64,
    /// The G statistic (2 N ln 2 times the entropy reduction) and its degrees of freedom.
    g: f64,
    df: u64,
    /// The mix's counts per attribute value with their own table (index: the value).
    tables: Vec<(usize, Vec<u64>)>,
    /// Values (with rows) pooled into the fleet-wide mix.
    pooled: usize,
}

impl Explains {
    /// Whether the dependence is significant (chi-square test at the 0.1% level).
    fn significant(&self) -> bool {
        self.df > 0 && !self.tables.is_empty() && self.g > chi2_critical(self.df as f64)
    }
}

/// How attribute `by` (`nb` values) explains mix `m` (`nm` values) in `inv`.
fn explains(inv: &Inventory, m: usize, nm: usize, by: usize, nb: usize) -> Explains {
    let mut t = vec![vec![0u64; nm]; nb];
    for r in &inv.rows {
        if r[m] != ABSENT && r[by] != ABSENT {
            t[usize::from(r[by])][usize::from(r[m])] += 1;
        }
    }
    let mut pool = vec![0u64; nm];
    let mut all = vec![0u64; nm];
    let mut tables = Vec::new();
    let mut pooled = 0;
    for (v, row) in t.into_iter().enumerate() {
        let n: u64 = row.iter().sum();
        for (a, x) in all.iter_mut().zip(&row) {
            *a += x;
        }
        if n >= MIN_ROWS_PER_VALUE {
            tables.push((v, row));
        } else if n > 0 {
            pooled += 1;
            for (a, x) in pool.iter_mut().zip(&row) {
                *a += x;
            }
        }
    }
    let total: u64 = all.iter().sum();
    let groups: Vec<&Vec<u64>> = tables
        .iter()
        .map(|(_, c)| c)
        .chain((pool.iter().sum::<u64>() > 0).then_some(&pool))
        .collect();
    let before = entropy(&all);
    let after = groups
        .iter()
        .map(|c| c.iter().sum::<u64>() as f64 / total.max(1) as f64 * entropy(c))
        .sum::<f64>();
    let values = all.iter().filter(|x| **x > 0).count() as u64;
    let df = (groups.len() as u64).saturating_sub(1) * values.saturating_sub(1);
    Explains {
        by,
        before,
        after,
        g: 2.0 * total as f64 * std::f64::consts::LN_2 * (before - after),
        df,
        tables,
        pooled,
    }
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
    // The attributes in settle order (docs/SCENARIO.md): `Row` index, `by_` name, values.
    let settled: [(usize, &str, &[String]); 5] = [
        (3, "site", sites),
        (5, "usage", &usage),
        (4, "location", &loc),
        (0, "os", &os),
        (1, "join", &join),
    ];
    let mut kept = Vec::new();
    let mut tables = String::new();
    for (key, i, n) in [
        ("usage", 5, &usage),
        ("location", 4, &loc),
        ("os", 0, &os),
        ("join", 1, &join),
    ] {
        let cnt = counts(inv, i, n.len());
        let Some((_, c)) = mix(key, n, &cnt) else {
            continue;
        };
        comments.push(c);
        let own = settled.iter().position(|a| a.0 == i).unwrap_or(0);
        // The attribute settled before this mix that explains it best (largest entropy
        // reduction) among those whose dependence is significant.
        let best = settled[..own]
            .iter()
            .filter(|a| !a.2.is_empty())
            .map(|a| explains(inv, i, n.len(), a.0, a.2.len()))
            .filter(Explains::significant)
            .fold(None::<Explains>, |b, e| match b {
                Some(b) if b.before - b.after >= e.before - e.after => Some(b),
                _ => Some(e),
            });
        let shares = |c: &[u64], sep: &str| {
            rounded(c)
                .into_iter()
                .map(|(k, v)| format!("{} = {v}", n[k]))
                .collect::<Vec<_>>()
                .join(sep)
        };
        match best {
            None => {
                lines.push(format!("{key} = {{ {} }}", shares(&cnt.0, ", ")));
                kept.push(format!(
                    "# {key}: fleet-wide only (no attribute settled before it explains it)"
                ));
            }
            Some(e) => {
                let (_, by, values) = settled
                    .iter()
                    .find(|a| a.0 == e.by)
                    .copied()
                    .unwrap_or(settled[0]);
                tables.push_str(&format!("\n[fleet.{key}]\n{}\n", shares(&cnt.0, "\n")));
                for (v, c) in &e.tables {
                    tables.push_str(&format!(
                        "\n[fleet.{key}.by_{by}.{}]   # {} rows\n{}\n",
                        toml_key(&values[*v]),
                        c.iter().sum::<u64>(),
                        shares(c, "\n")
                    ));
                }
                kept.push(format!(
                    "# {key} by {by}: entropy {:.3} -> {:.3} bits, G = {:.1} on {} df (p < 0.001); {} table(s), {} value(s) under {MIN_ROWS_PER_VALUE} rows use the fleet-wide mix",
                    e.before, e.after, e.g, e.df, e.tables.len(), e.pooled
                ));
            }
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
        "{FRAGMENT_HEAD} of {}: {} devices (shares among the rows that give a value)\n{}\n# Correlations kept (a mix by the attribute settled before it that explains it best, when a chi-square test finds the dependence at the 0.1% level; docs/INVENTORY.md):\n{}\n\n[fleet]\n{}\n{tables}{site_blocks}",
        file.display(),
        inv.rows.len(),
        comments.join("\n"),
        kept.join("\n"),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows with only `usage` (index 5) and `location` (index 4) given.
    fn inventory(pairs: &[(u8, u8, usize)]) -> Inventory {
        let mut rows = Vec::new();
        for (u, l, n) in pairs {
            for _ in 0..*n {
                let mut r: Row = [ABSENT; 9];
                r[5] = *u;
                r[4] = *l;
                rows.push(r);
            }
        }
        Inventory { rows }
    }

    #[test]
    fn rounded_shares_sum_to_exactly_one() {
        let total = |v: &[(usize, String)]| -> u64 {
            v.iter()
                .map(|(_, s)| (s.parse::<f64>().unwrap() * 1e6).round() as u64)
                .sum()
        };
        let thirds = rounded(&[1, 1, 1]);
        assert_eq!(total(&thirds), 1_000_000);
        assert_eq!(
            thirds[0].1, "0.333334",
            "the largest (first on a tie) takes the rest"
        );
        assert_eq!(rounded(&[0, 5]), vec![(1, "1.0".to_string())]);
        let tiny = rounded(&[1, 10_000_000, 3, 0, 7]);
        assert_eq!(total(&tiny), 1_000_000);
        assert!(
            tiny.iter().all(|(k, _)| *k != 3),
            "no share for a zero count"
        );
        assert!(rounded(&[0, 0]).is_empty());
    }

    #[test]
    fn a_dependence_is_kept_only_when_significant_with_enough_rows() {
        // Location depends on usage: laptops (2) mostly internet only (2).
        let dep = inventory(&[(0, 0, 300), (0, 1, 100), (2, 2, 200), (2, 1, 100)]);
        let e = explains(&dep, 4, 3, 5, 3);
        assert!(e.significant() && e.after < e.before);
        assert_eq!(e.tables.len(), 2);
        // Independent: the same location shares for every usage.
        let ind = inventory(&[(0, 0, 300), (0, 1, 100), (2, 0, 150), (2, 1, 50)]);
        assert!(!explains(&ind, 4, 3, 5, 3).significant());
        // A value under the minimum rows is pooled, not given a table.
        let few = inventory(&[(0, 0, 300), (0, 1, 100), (2, 2, 49)]);
        let e = explains(&few, 4, 3, 5, 3);
        assert_eq!((e.tables.len(), e.pooled), (1, 1));
        // The fragment then writes the table and says so.
        let text = fragment(Path::new("x.csv"), &dep, &[]);
        assert!(text.contains("# location by usage: "), "{text}");
        assert!(
            text.contains("[fleet.location.by_usage.laptop_intermittent]"),
            "{text}"
        );
        assert!(!text.contains("location = {"), "{text}");
        let text = fragment(Path::new("x.csv"), &ind, &[]);
        assert!(text.contains("# location: fleet-wide only"), "{text}");
        assert!(!text.contains(".by_"), "{text}");
    }
}
