//! `fleetsim sweep`: one scenario over a grid of settings, each point run over the same
//! replications as in `compare`.
//!
//! `--set KEY=V1,V2,…` edits the scenario file's text at the dotted path KEY with `toml_edit`
//! (tables, inline tables, and arrays of tables by index such as `sites.0.share`; a missing
//! table is created) and the edited text is validated like any scenario file, so a bad key or
//! value is reported, naming both, before anything runs. Several `--set` give every
//! combination (the first `--set` varies slowest).

use crate::cli::{Failure, Overrides, apply_overrides};
use crate::output::safe_cell;
use crate::scenarios;
use crate::study::{Study, StudyArgs, Variant, run_study};
use clap::Args;
use fleetsim_model::Scenario;
use std::path::PathBuf;
use toml_edit::{DocumentMut, Item, Table, TableLike, Value};

#[derive(Args)]
pub struct SweepArgs {
    /// A named scenario or a path to a scenario file.
    scenario: String,
    /// A setting to vary, KEY=V1,V2,…: KEY is a dotted path in the scenario file (such as
    /// enrollment.failure_rate or sites.0.share), each value a TOML value (number, true/false,
    /// date, "quoted string"; a bare word is taken as a string). Repeat for a grid of every
    /// combination.
    #[arg(long = "set", value_name = "KEY=V1,V2,...", required = true)]
    sets: Vec<String>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(flatten)]
    study: StudyArgs,
}

/// The most grid points a sweep may have.
const MAX_POINTS: usize = 10_000;

/// One swept value: its text on the command line, its cell in the files and the TOML value.
#[derive(Clone, Debug)]
struct Setting {
    text: String,
    cell: String,
    value: Value,
}

/// One `--set`: a key and its values.
#[derive(Debug)]
struct Axis {
    key: String,
    values: Vec<Setting>,
}

/// Splits at commas outside quotes, brackets and braces.
fn split_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut cur).trim().to_string());
                    continue;
                }
                _ => {}
            },
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

/// A value as TOML; a bare word (letters, digits, `_`, `-`, `.`) that is not TOML is a string.
fn parse_value(text: &str) -> Option<Value> {
    if let Ok(v) = text.parse::<Value>() {
        return Some(v.decorated(" ", ""));
    }
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    bare.then(|| Value::from(text).decorated(" ", ""))
}

fn parse_axis(arg: &str) -> Result<Axis, String> {
    let Some((key, values)) = arg.split_once('=') else {
        return Err(format!(
            "--set {arg}: expected KEY=V1,V2,… such as enrollment.failure_rate=0.05,0.1"
        ));
    };
    let key = key.trim();
    let key_ok = !key.is_empty()
        && key.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if !key_ok {
        return Err(format!(
            "--set {arg}: expected a dotted key of letters, digits, _ and - (such as co_management.enable_date), found {key:?}"
        ));
    }
    if key == "seed" {
        return Err(
            "--set seed: replications set the seed; use --seed for the base seed".to_string(),
        );
    }
    let mut settings = Vec::new();
    for text in split_values(values) {
        if text.is_empty() {
            return Err(format!("--set {arg}: an empty value"));
        }
        let Some(value) = parse_value(&text) else {
            return Err(format!(
                "--set {key}={text}: {text} is not a TOML value (a number, true or false, a date such as 2027-01-04, or a \"quoted string\")"
            ));
        };
        let cell = match value.as_str() {
            Some(s) => safe_cell(s),
            None => text.clone(),
        };
        settings.push(Setting { text, cell, value });
    }
    Ok(Axis {
        key: key.to_string(),
        values: settings,
    })
}

/// Sets `value` at the dotted `path` under `table`; `done` is the part of the path already
/// walked, for messages.
fn set_in(
    table: &mut dyn TableLike,
    path: &[&str],
    done: &str,
    value: &Value,
) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        return Err("an empty key".into());
    };
    let here = if done.is_empty() {
        (*head).to_string()
    } else {
        format!("{done}.{head}")
    };
    if rest.is_empty() {
        match table.get_mut(head) {
            Some(item) if item.is_table() || item.is_array_of_tables() => Err(format!(
                "`{here}` is a table: give a key inside it, such as {here}.<field>"
            )),
            Some(item) => {
                let mut v = value.clone();
                if let Some(old) = item.as_value() {
                    *v.decor_mut() = old.decor().clone();
                }
                *item = Item::Value(v);
                Ok(())
            }
            None => {
                table.insert(head, Item::Value(value.clone()));
                Ok(())
            }
        }
    } else {
        if table.get(head).is_none() {
            if rest[0].bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "`{here}` is not in the scenario file: an index such as {here}.{} needs a list of [[{here}]] tables there",
                    rest[0]
                ));
            }
            table.insert(head, Item::Table(Table::new()));
        }
        let Some(item) = table.get_mut(head) else {
            return Err(format!("cannot create table `{here}`"));
        };
        if let Some(list) = item.as_array_of_tables_mut() {
            let (index, rest) = rest.split_first().unwrap_or((&"", &[]));
            let len = list.len();
            let Some(t) = index.parse::<usize>().ok().and_then(|i| list.get_mut(i)) else {
                return Err(format!(
                    "`{here}` is a list of {len} tables: give an index from 0 to {} such as {here}.0.<field>",
                    len.saturating_sub(1)
                ));
            };
            if rest.is_empty() {
                return Err(format!("`{here}.{index}` is a table: give a key inside it"));
            }
            return set_in(t, rest, &format!("{here}.{index}"), value);
        }
        match item.as_table_like_mut() {
            Some(t) => set_in(t, rest, &here, value),
            None => Err(format!("`{here}` is a value, not a table")),
        }
    }
}

/// The scenario text with `key` set to `value`.
fn edit(text: &str, settings: &[(&str, &Value)]) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    for (key, value) in settings {
        let path: Vec<&str> = key.split('.').collect();
        set_in(doc.as_table_mut(), &path, "", value)?;
    }
    Ok(doc.to_string())
}

/// Every combination of the axes' values, the first axis varying slowest.
fn grid(axes: &[Axis]) -> Vec<Vec<usize>> {
    let mut points = vec![vec![]];
    for a in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                (0..a.values.len()).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    points
}

/// `fleetsim sweep`.
pub fn sweep(args: SweepArgs) -> Result<(), Failure> {
    let bad = Failure::BadInput;
    let (source, base) = scenarios::load(Some(&args.scenario)).map_err(|e| bad(e.to_string()))?;
    let mut axes = Vec::new();
    for s in &args.sets {
        let axis = parse_axis(s).map_err(bad)?;
        if axes.iter().any(|a: &Axis| a.key == axis.key) {
            return Err(bad(format!(
                "--set {}: given twice; list every value in one --set",
                axis.key
            )));
        }
        axes.push(axis);
    }
    let points = axes
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|n| *n <= MAX_POINTS)
        .ok_or_else(|| bad(format!("--set: more than {MAX_POINTS} grid points")))?;
    // Each value on its own first, so a bad one is named alone; then every point.
    let validate = |settings: &[(&str, &Value)], what: &str| -> Result<Scenario, Failure> {
        let text = edit(&source.text, settings).map_err(|e| bad(format!("{what}: {e}")))?;
        let mut s = Scenario::from_toml(&text).map_err(|e| {
            bad(format!(
                "{what}: invalid scenario {} with this setting: {e}",
                source.origin
            ))
        })?;
        apply_overrides(&mut s, &args.overrides)?;
        Ok(s)
    };
    for a in &axes {
        for v in &a.values {
            validate(
                &[(&a.key, &v.value)],
                &format!("--set {}={}", a.key, v.text),
            )?;
        }
    }
    let mut variants = Vec::with_capacity(points);
    for point in grid(&axes) {
        let settings: Vec<(&str, &Value)> = axes
            .iter()
            .zip(&point)
            .map(|(a, i)| (a.key.as_str(), &a.values[*i].value))
            .collect();
        let label = axes
            .iter()
            .zip(&point)
            .map(|(a, i)| format!("{}={}", a.key, a.values[*i].text))
            .collect::<Vec<_>>()
            .join(" ");
        let scenario = validate(&settings, &format!("--set {label}"))?;
        let sheet = axes
            .iter()
            .zip(&point)
            .map(|(a, i)| a.values[*i].cell.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        variants.push(Variant {
            sheet,
            keys: axes
                .iter()
                .zip(&point)
                .map(|(a, i)| a.values[*i].cell.clone())
                .collect(),
            label,
            scenario,
        });
    }
    let out = PathBuf::from("results").join(format!("sweep-{}", base.name));
    let study = Study {
        command: "sweep",
        key_header: axes.iter().map(|a| a.key.clone()).collect(),
        variants,
        replications: args.study.replications,
        base_seed: args.overrides.seed.unwrap_or(base.seed),
        metrics_file: "sweep.csv",
    };
    run_study(&study, &args.study, args.overrides.threads, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_outside_quotes_and_brackets() {
        assert_eq!(split_values("0.05, 0.1,0.2"), ["0.05", "0.1", "0.2"]);
        assert_eq!(
            split_values("\"a,b\",{ mean_days = 5, x = [1, 2] },c"),
            ["\"a,b\"", "{ mean_days = 5, x = [1, 2] }", "c"]
        );
        assert_eq!(split_values(""), [""]);
    }

    #[test]
    fn values_are_toml_or_bare_words() {
        let a =
            parse_axis("co_management.auto_enrollment=pilot,\"all\",2027-01-04,0.5,true").unwrap();
        let cells: Vec<&str> = a.values.iter().map(|v| v.cell.as_str()).collect();
        assert_eq!(cells, ["pilot", "all", "2027-01-04", "0.5", "true"]);
        assert!(a.values[0].value.is_str() && a.values[2].value.is_datetime());
        assert!(parse_axis("x=a b").is_err());
        assert!(parse_axis("x=1,,2").is_err());
        assert!(parse_axis("noequals").is_err());
        assert!(parse_axis("a..b=1").is_err());
        assert!(parse_axis("seed=1,2").is_err());
        // Text that a spreadsheet would evaluate is defused in the key cell.
        assert_eq!(parse_axis("name=\"=1+1\"").unwrap().values[0].cell, "'=1+1");
    }

    #[test]
    fn edits_tables_inline_tables_and_arrays_of_tables() {
        let text = "name = \"x\" # the name\n[timing]\npolicy_poll_minutes = 60 # poll\n[remediation]\ndefault = { mean_days = 5 }\n[[sites]]\ncode = \"A\"\n[[sites]]\ncode = \"B\"\n";
        let v = |s: &str| parse_value(s).unwrap();
        let (a, b, c, d, e) = (v("30"), v("9"), v("2"), v("\"C\""), v("0.2"));
        let out = edit(
            text,
            &[
                ("timing.policy_poll_minutes", &a),
                ("remediation.default.mean_days", &b),
                ("sites.1.code", &d),
                ("enrollment.failure_rate", &e),
                ("days", &c),
            ],
        )
        .unwrap();
        assert!(out.contains("policy_poll_minutes = 30 # poll"), "{out}");
        assert!(out.contains("default = { mean_days = 9 }"), "{out}");
        assert!(
            out.contains("code = \"A\"") && out.contains("code = \"C\""),
            "{out}"
        );
        assert!(out.contains("[enrollment]\nfailure_rate = 0.2"), "{out}");
        assert!(out.contains("days = 2"), "{out}");
        assert!(
            edit(text, &[("timing", &a)])
                .unwrap_err()
                .contains("is a table")
        );
        assert!(
            edit(text, &[("name.x", &a)])
                .unwrap_err()
                .contains("not a table")
        );
        assert!(
            edit(text, &[("sites.5.code", &a)])
                .unwrap_err()
                .contains("index")
        );
        assert!(
            edit(text, &[("groups.0.x", &a)])
                .unwrap_err()
                .contains("not in the scenario")
        );
    }

    #[test]
    fn grid_is_the_cartesian_product_first_axis_slowest() {
        let axes = vec![parse_axis("a=1,2").unwrap(), parse_axis("b=x,y,z").unwrap()];
        let g = grid(&axes);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], [0, 0]);
        assert_eq!(g[1], [0, 1]);
        assert_eq!(g[5], [1, 2]);
    }
}
