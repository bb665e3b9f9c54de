//! `--tolerance` for `fleetsim verify`: how far a result may move from its baseline before it
//! counts as a regression.
//!
//! The syntax (also in docs/CI.md):
//! - `0.02` or `2%`: the global tolerance, relative to the baseline value, for every metric
//!   that has no tolerance of its own. A bare global number is a share (0.02 is 2%).
//! - `NAME=1.0`: an absolute tolerance for one metric, in its own unit (days for
//!   `days_to_90pct`, devices for `co_managed`).
//! - `NAME=5%`: a relative tolerance for one metric.
//! - `PREFIX*=...`: the same for every metric whose name starts with `PREFIX`, such as `fail_*=3`.
//!
//! Several may be given, repeated or separated by commas. A metric's own name wins over a
//! pattern, a longer pattern over a shorter one, and any of them over the global tolerance; a
//! metric that none of them covers must match exactly.

use std::fmt;

/// How far one value may move.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    /// At most this share of the baseline value (0.02 is 2%).
    Relative(f64),
    /// At most this much, in the metric's own unit.
    Absolute(f64),
}

impl Bound {
    /// The largest allowed change from `old`.
    pub fn limit(self, old: f64) -> f64 {
        match self {
            Bound::Relative(r) => r * old.abs(),
            Bound::Absolute(a) => a,
        }
    }

    /// Whether moving from `old` to `new` stays within the bound (with a little slack for
    /// decimal values such as 2.33 that binary floating point cannot hold exactly).
    pub fn allows(self, old: f64, new: f64) -> bool {
        let slack = 1e-9 * old.abs().max(1.0);
        (new - old).abs() <= self.limit(old) + slack
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Relative(r) => write!(f, "±{}%", trim(r * 100.0)),
            Bound::Absolute(a) => write!(f, "±{}", trim(*a)),
        }
    }
}

/// A number without trailing zeros, rounded to 6 decimals: `2`, `0.5`, `1.25`.
fn trim(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Which metrics a tolerance is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// One metric, by its column name in summary.csv.
    Name(String),
    /// Every metric whose name starts with this (written `PREFIX*`).
    Prefix(String),
}

impl Pattern {
    /// Whether the pattern covers `metric`.
    pub fn matches(&self, metric: &str) -> bool {
        match self {
            Pattern::Name(n) => n == metric,
            Pattern::Prefix(p) => metric.starts_with(p.as_str()),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Name(n) => f.write_str(n),
            Pattern::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

/// The tolerances of a `verify` run in tolerance mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tolerances {
    /// For metrics that no rule covers.
    pub global: Option<Bound>,
    /// Per metric or per pattern, in the order given.
    pub rules: Vec<(Pattern, Bound)>,
}

impl Tolerances {
    /// Parses the values of `--tolerance` (each may hold several, separated by commas).
    /// `Ok(None)` when there are none: exact mode.
    pub fn parse(specs: &[String]) -> Result<Option<Self>, String> {
        let mut t = Tolerances::default();
        let mut any = false;
        for spec in specs.iter().flat_map(|s| s.split(',')) {
            let spec = spec.trim();
            if spec.is_empty() {
                return Err(
                    "--tolerance: empty value; expected a share such as 0.02 or 2%, or NAME=VALUE such as days_to_90pct=1"
                        .into(),
                );
            }
            any = true;
            match spec.split_once('=') {
                Some((name, value)) => {
                    let pattern = parse_pattern(name.trim())?;
                    let bound = parse_value(value.trim(), spec, Unit::Absolute)?;
                    if t.rules.iter().any(|(p, _)| *p == pattern) {
                        return Err(format!(
                            "--tolerance: {pattern} is given twice; give each metric one tolerance"
                        ));
                    }
                    t.rules.push((pattern, bound));
                }
                None => {
                    let bound = parse_value(spec, spec, Unit::Share)?;
                    if t.global.is_some() {
                        return Err(format!(
                            "--tolerance {spec}: the global tolerance is given twice; give it once, and per-metric tolerances as NAME=VALUE"
                        ));
                    }
                    t.global = Some(bound);
                }
            }
        }
        Ok(any.then_some(t))
    }

    /// The bound for `metric`: its own rule, else the longest matching pattern, else the
    /// global tolerance; `None` if it must match exactly.
    pub fn bound_for(&self, metric: &str) -> Option<Bound> {
        let named = self
            .rules
            .iter()
            .find(|(p, _)| matches!(p, Pattern::Name(n) if n == metric));
        let prefixed = self
            .rules
            .iter()
            .filter_map(|(p, b)| match p {
                Pattern::Prefix(x) if metric.starts_with(x.as_str()) => Some((x.len(), *b)),
                _ => None,
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, b)| b);
        named.map(|(_, b)| *b).or(prefixed).or(self.global)
    }

    /// Checks that every rule names at least one of `metrics`; `settings` (columns that must
    /// always match, such as `devices`) cannot have a tolerance.
    pub fn check_names(&self, metrics: &[&str], settings: &[&str]) -> Result<(), String> {
        for (pattern, _) in &self.rules {
            if let Some(s) = settings.iter().find(|s| pattern.matches(s)) {
                return Err(format!(
                    "--tolerance {pattern}: `{s}` is a setting of the run, not a result, and must always match; remove it"
                ));
            }
            if !metrics.iter().any(|m| pattern.matches(m)) {
                return Err(format!(
                    "--tolerance {pattern}: no such metric in summary.csv; expected one of: {}",
                    metrics.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// What a bare number means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// A share of the baseline value (the global tolerance).
    Share,
    /// An amount in the metric's unit (a per-metric tolerance).
    Absolute,
}

fn parse_pattern(name: &str) -> Result<Pattern, String> {
    let (stem, prefix) = match name.strip_suffix('*') {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let valid = !stem.is_empty() && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "--tolerance: {name:?} is not a metric name; expected a summary.csv column such as days_to_90pct, or a prefix such as fail_*"
        ));
    }
    Ok(if prefix {
        Pattern::Prefix(stem.to_string())
    } else {
        Pattern::Name(stem.to_string())
    })
}

fn parse_value(value: &str, spec: &str, unit: Unit) -> Result<Bound, String> {
    let (number, percent) = match value.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (value, false),
    };
    let x: f64 = number
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| {
            format!(
                "--tolerance {spec}: expected a number, 0 or more, such as 0.02, 2% or days_to_90pct=1.5, found {value:?}"
            )
        })?;
    Ok(match (percent, unit) {
        (true, _) => Bound::Relative(x / 100.0),
        (false, Unit::Absolute) => Bound::Absolute(x),
        (false, Unit::Share) if x > 1.0 => {
            return Err(format!(
                "--tolerance {spec}: a global tolerance is a share of the baseline value such as 0.02 (2%); {x} would allow changes of {}%: write {}% if you mean it",
                trim(x * 100.0),
                trim(x * 100.0)
            ));
        }
        (false, Unit::Share) => Bound::Relative(x),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(specs: &[&str]) -> Result<Option<Tolerances>, String> {
        Tolerances::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn no_tolerance_is_exact_mode() {
        assert_eq!(parse(&[]), Ok(None));
    }

    #[test]
    fn global_is_relative_and_named_is_absolute() {
        let t = parse(&["0.02", "days_to_90pct=1.0"]).unwrap().unwrap();
        assert_eq!(t.global, Some(Bound::Relative(0.02)));
        assert_eq!(t.bound_for("days_to_90pct"), Some(Bound::Absolute(1.0)));
        assert_eq!(t.bound_for("co_managed"), Some(Bound::Relative(0.02)));
    }

    #[test]
    fn percent_sign_means_relative_and_commas_separate() {
        let t = parse(&["2%,co_managed=0.5%", "fail_*=3"]).unwrap().unwrap();
        assert_eq!(t.global, Some(Bound::Relative(0.02)));
        assert_eq!(t.bound_for("co_managed"), Some(Bound::Relative(0.005)));
        assert_eq!(t.bound_for("fail_0x80180002"), Some(Bound::Absolute(3.0)));
    }

    #[test]
    fn name_beats_longer_prefix_beats_shorter_prefix_beats_global() {
        let t = parse(&["0.1", "state_*=1", "state_co*=2", "state_co_managed=3"])
            .unwrap()
            .unwrap();
        assert_eq!(t.bound_for("state_co_managed"), Some(Bound::Absolute(3.0)));
        assert_eq!(t.bound_for("state_coexistence"), Some(Bound::Absolute(2.0)));
        assert_eq!(t.bound_for("state_eligible"), Some(Bound::Absolute(1.0)));
        assert_eq!(t.bound_for("eligible"), Some(Bound::Relative(0.1)));
        let only_named = parse(&["eligible=1"]).unwrap().unwrap();
        assert_eq!(only_named.bound_for("co_managed"), None);
    }

    #[test]
    fn bad_syntax_is_refused_with_what_was_expected() {
        for (spec, says) in [
            ("abc", "expected a number"),
            ("-0.1", "expected a number"),
            ("2", "write 200%"),
            ("NaN", "expected a number"),
            ("days_to_90pct=", "expected a number"),
            ("=1", "not a metric name"),
            ("days to 90=1", "not a metric name"),
            ("a-b=1", "not a metric name"),
            ("0.1,", "empty value"),
        ] {
            let e = parse(&[spec]).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
        assert!(parse(&["0.1", "2%"]).unwrap_err().contains("twice"));
        assert!(parse(&["a=1", "a=2"]).unwrap_err().contains("twice"));
    }

    #[test]
    fn names_are_checked_against_the_metrics() {
        let metrics = ["co_managed", "days_to_90pct", "fail_0x1"];
        let settings = ["devices", "days"];
        let ok = parse(&["co_managed=1", "fail_*=2", "fail_0x1=3"])
            .unwrap()
            .unwrap();
        assert_eq!(ok.check_names(&metrics, &settings), Ok(()));
        let unknown = parse(&["co_manged=1"]).unwrap().unwrap();
        let e = unknown.check_names(&metrics, &settings).unwrap_err();
        assert!(
            e.contains("co_manged") && e.contains("days_to_90pct"),
            "{e}"
        );
        let setting = parse(&["devices=10"]).unwrap().unwrap();
        let e = setting.check_names(&metrics, &settings).unwrap_err();
        assert!(e.contains("setting"), "{e}");
    }

    #[test]
    fn bounds_allow_up_to_their_limit() {
        assert!(Bound::Absolute(0.01).allows(2.33, 2.34));
        assert!(!Bound::Absolute(0.01).allows(2.33, 2.35));
        assert!(Bound::Relative(0.02).allows(1000.0, 980.0));
        assert!(!Bound::Relative(0.02).allows(1000.0, 979.0));
        assert!(!Bound::Relative(0.5).allows(0.0, 1.0));
        assert!(Bound::Relative(0.5).allows(0.0, 0.0));
        assert_eq!(Bound::Relative(0.02).to_string(), "±2%");
        assert_eq!(Bound::Absolute(1.5).to_string(), "±1.5");
    }
}
