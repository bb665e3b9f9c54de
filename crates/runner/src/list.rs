//! `fleetsim list`: the named scenarios, one line each.

use crate::scenarios;

/// Prints the named scenarios, one line each.
pub fn list() {
    let width = scenarios::NAMED
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(0);
    for n in scenarios::NAMED {
        let default = if n.name == scenarios::DEFAULT {
            " (default)"
        } else {
            ""
        };
        println!(
            "{:width$}  {}{default}",
            n.name,
            scenarios::summary_line(n.text)
        );
    }
}
