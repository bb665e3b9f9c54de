//! The named scenarios shipped in `scenarios/` (embedded in the binary) and loading a scenario
//! from a name or a path.

use fleetsim_model::{Scenario, ScenarioError};
use std::path::{Path, PathBuf};

/// A scenario shipped with fleetsim.
pub struct Named {
    /// Its name on the command line (the file name without `.toml`).
    pub name: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// The scenario `fleetsim run` uses without an argument.
pub const DEFAULT: &str = "mixed-enterprise-1m";

/// Embeds `scenarios/<name>.toml` for each name.
macro_rules! named {
    ($($name:literal),+ $(,)?) => {
        &[$(Named { name: $name, text: include_str!(concat!("../../../scenarios/", $name, ".toml")) }),+]
    };
}

/// Every named scenario, in the order `fleetsim list` shows them.
pub const NAMED: &[Named] = named![
    "autopatch-rings",
    "big-bang",
    "inventory-example",
    "mixed-enterprise-1m",
    "path1-existing-clients",
    "path1-pilot-collection",
    "path2-autopilot-internet",
    "tiny",
    "workload-by-workload",
];

/// Files a named scenario refers to (its `[fleet] inventory`), embedded with it: (the name it
/// gives, the bytes).
pub const FILES: &[(&str, &[u8])] = &[(
    "inventory-example.csv",
    include_bytes!("../../../scenarios/inventory-example.csv"),
)];

/// A scenario's source: where it came from and its text.
pub struct Source {
    /// What to call it in messages: a path, or `<name> (built in)`.
    pub origin: String,
    /// The TOML text.
    pub text: String,
    /// The scenario file's folder (paths in it are relative to it); `None` when built in.
    pub dir: Option<PathBuf>,
}

/// A scenario that could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// Neither a readable file nor a known name.
    Unknown(String),
    /// A file that exists but cannot be read.
    Unreadable(PathBuf, std::io::Error),
    /// The text is not a valid scenario.
    Invalid(String, Box<ScenarioError>),
    /// Its `[fleet] inventory` could not be read.
    Inventory(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Unknown(name) => {
                let names: Vec<&str> = NAMED.iter().map(|n| n.name).collect();
                let here = std::env::current_dir()
                    .map(|d| d.join("scenarios").join(format!("{name}.toml")))
                    .unwrap_or_else(|_| Path::new("scenarios").join(format!("{name}.toml")));
                write!(
                    f,
                    "unknown scenario {name:?}: looked for {} and among the named scenarios: {} (see `fleetsim list`); a path to a scenario file ends in .toml",
                    here.display(),
                    names.join(", ")
                )
            }
            LoadError::Unreadable(p, e) => {
                write!(f, "cannot read scenario file {}: {e}", p.display())
            }
            LoadError::Invalid(origin, e) => write!(f, "invalid scenario {origin}: {e}"),
            LoadError::Inventory(e) => write!(f, "{e}"),
        }
    }
}

/// Finds a scenario's text: a path to a file, `scenarios/<name>.toml` in the current folder,
/// or a named scenario built into the binary.
pub fn find(arg: Option<&str>) -> Result<Source, LoadError> {
    let name = arg.unwrap_or(DEFAULT);
    let as_path = Path::new(name);
    let local = Path::new("scenarios").join(format!("{name}.toml"));
    let looks_like_path =
        name.ends_with(".toml") || name.contains(std::path::MAIN_SEPARATOR) || name.contains('/');
    for candidate in [as_path, local.as_path()] {
        if candidate.is_file() && (looks_like_path || candidate == local.as_path()) {
            let bytes = std::fs::read(candidate)
                .map_err(|e| LoadError::Unreadable(candidate.to_path_buf(), e))?;
            let origin = candidate.display().to_string();
            let text = Scenario::text_of(&bytes)
                .map_err(|e| LoadError::Invalid(origin.clone(), Box::new(e)))?
                .to_string();
            let dir = candidate.parent().map(Path::to_path_buf);
            return Ok(Source { origin, text, dir });
        }
    }
    if looks_like_path {
        return Err(LoadError::Unreadable(
            as_path.to_path_buf(),
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    NAMED
        .iter()
        .find(|n| n.name == name)
        .map(|n| Source {
            origin: format!("{} (built in)", n.name),
            text: n.text.to_string(),
            dir: None,
        })
        .ok_or_else(|| LoadError::Unknown(name.to_string()))
}

/// Finds and validates a scenario.
pub fn load(arg: Option<&str>) -> Result<(Source, Scenario), LoadError> {
    let source = find(arg)?;
    let mut scenario = Scenario::from_toml(&source.text)
        .map_err(|e| LoadError::Invalid(source.origin.clone(), Box::new(e)))?;
    crate::inventory::attach(&mut scenario, source.dir.as_deref()).map_err(LoadError::Inventory)?;
    Ok((source, scenario))
}

/// The first line of a scenario's description, for `fleetsim list`.
pub fn summary_line(text: &str) -> String {
    Scenario::from_toml(text)
        .map(|s| {
            s.description
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|e| format!("(invalid: {e})"))
}
