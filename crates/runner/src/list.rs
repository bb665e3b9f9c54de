//! `fleetsim list`: the named scenarios, then the scenario files in `./scenarios/` (which
//! `run NAME` finds before a named scenario of the same name), one line each.

use crate::scenarios;
use std::path::Path;

/// Arguments of `fleetsim list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Names only, one a line (no descriptions).
    #[arg(long, short)]
    pub quiet: bool,
}

/// The `.toml` files in `dir`, sorted by name: (name without `.toml`, text or the error).
pub fn local_files(dir: &Path) -> Vec<(String, Result<String, String>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Result<String, String>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_string_lossy().to_string();
            let text = std::fs::read_to_string(&p).map_err(|e| e.to_string());
            Some((name, text))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Prints the named scenarios, then those in `./scenarios/`, one line each.
pub fn list(args: &ListArgs) {
    let local = local_files(Path::new("scenarios"));
    let width = scenarios::NAMED
        .iter()
        .map(|n| n.name.len())
        .chain(local.iter().map(|(n, _)| n.len()))
        .max()
        .unwrap_or(0);
    if !args.quiet {
        println!("Named scenarios (built in):");
    }
    for n in scenarios::NAMED {
        if args.quiet {
            println!("{}", n.name);
            continue;
        }
        let default = if n.name == scenarios::DEFAULT {
            " (default)"
        } else {
            ""
        };
        let shadowed = if local.iter().any(|(l, _)| l == n.name) {
            " [./scenarios/ has a file of this name: `run` uses that]"
        } else {
            ""
        };
        println!(
            "  {:width$}  {}{default}{shadowed}",
            n.name,
            scenarios::summary_line(n.text)
        );
    }
    if local.is_empty() {
        return;
    }
    if !args.quiet {
        println!("In ./scenarios/ (run them by name):");
    }
    for (name, text) in &local {
        if args.quiet {
            println!("{name}");
            continue;
        }
        let line = match text {
            Ok(t) => scenarios::summary_line(t),
            Err(e) => format!("(unreadable: {e})"),
        };
        println!("  {name:width$}  {line}");
    }
}
