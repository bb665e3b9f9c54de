//! Uncertain values written as ranges: `{ low = 1, high = 6 }` (uniform),
//! `{ mode = 3, low = 1, high = 6 }` (triangular) or `{ median = 3, p90 = 6 }` (lognormal).
//!
//! A single run uses the range's centre (uniform: the midpoint; triangular: the mode;
//! lognormal: the median), so the resolved [`super::Scenario`] keeps plain numbers; the ranges
//! themselves are kept in [`super::Scenario::ranges`] so a forecast can sample them.
//!
//! Leaves to others: the plain value's checks (the centre goes through the usual parsing and
//! validation), the ranges of each key ([`super::bounds::BOUNDS`]).

// Validation errors are built once per run, never on a hot path: their size does not matter.
#![allow(clippy::result_large_err)]

use super::error::ScenarioError;
use super::units::number;
use toml_edit::{DocumentMut, Item, Value};

/// The keys that may be written as a range: values no Microsoft source pins down.
pub const RANGED_KEYS: &[&str] = &[
    "timing.randomization_days_per_100k",
    "timing.randomization_max_days",
    "enrollment.failure_rate",
    "remediation.*.mean_days",
];

/// The distribution of an uncertain value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Uniform from `low` to `high`.
    Uniform {
        /// Lowest value.
        low: f64,
        /// Highest value.
        high: f64,
    },
    /// Triangular from `low` to `high`, most likely `mode`.
    Triangular {
        /// Lowest value.
        low: f64,
        /// Most likely value.
        mode: f64,
        /// Highest value.
        high: f64,
    },
    /// Lognormal with the given median and 90th percentile.
    LogNormal {
        /// The median.
        median: f64,
        /// The 90th percentile.
        p90: f64,
    },
}

/// The standard normal's 90th percentile.
const Z90: f64 = 1.281_551_565_544_600_5;

impl Dist {
    /// The value a single run uses: the midpoint, the mode or the median.
    pub fn center(&self) -> f64 {
        match *self {
            Dist::Uniform { low, high } => low + (high - low) / 2.0,
            Dist::Triangular { mode, .. } => mode,
            Dist::LogNormal { median, .. } => median,
        }
    }

    /// How the centre was chosen, for the note on stderr: "midpoint of 1..6".
    pub fn describe(&self) -> String {
        match *self {
            Dist::Uniform { low, high } => {
                format!("midpoint of {}..{}", number(low), number(high))
            }
            Dist::Triangular { low, mode, high } => format!(
                "mode of triangular {}..{}..{}",
                number(low),
                number(mode),
                number(high)
            ),
            Dist::LogNormal { median, p90 } => format!(
                "median of lognormal, p90 {}, sigma {:.3}",
                number(p90),
                (p90 / median).ln() / Z90
            ),
        }
    }
}

impl Dist {
    /// The value at cumulative probability `u` (0 < u < 1): how a forecast turns a uniform
    /// draw into a sample.
    pub fn quantile(&self, u: f64) -> f64 {
        let u = u.clamp(1e-12, 1.0 - 1e-12);
        match *self {
            Dist::Uniform { low, high } => low + u * (high - low),
            Dist::Triangular { low, mode, high } => {
                let width = high - low;
                if width <= 0.0 {
                    return low;
                }
                let c = (mode - low) / width;
                if u < c {
                    low + (u * width * (mode - low)).sqrt()
                } else {
                    high - ((1.0 - u) * width * (high - mode)).sqrt()
                }
            }
            Dist::LogNormal { median, p90 } => {
                let sigma = (p90 / median).ln() / Z90;
                median * (sigma * inverse_normal(u)).exp()
            }
        }
    }
}

/// The standard normal's quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9).
pub fn inverse_normal(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// A counter-based 64-bit draw (SplitMix64's finaliser over seed, dimension, sample and
/// purpose): the same inputs give the same draw on any thread, in any order.
fn draw(seed: u64, dim: u64, sample: u64, purpose: u64) -> u64 {
    let mut z = seed
        ^ dim.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ sample.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ purpose.wrapping_mul(0x94D0_49BB_1331_11EB);
    for _ in 0..2 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// A seeded Latin hypercube: `samples` points in `(0, 1)^dims`, each dimension's values one in
/// each of `samples` equal strata. `result[i][d]` is sample `i`'s value in dimension `d`.
/// Deterministic in `seed`, and independent of any thread count.
pub fn latin_hypercube(seed: u64, samples: usize, dims: usize) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; dims]; samples];
    #[allow(clippy::needless_range_loop)] // `d` also seeds the draws
    for d in 0..dims {
        let mut order: Vec<usize> = (0..samples).collect();
        order.sort_by_key(|&i| (draw(seed, d as u64, i as u64, 0), i));
        for (stratum, &i) in order.iter().enumerate() {
            // 53 random bits: a uniform in [0, 1).
            let jitter = (draw(seed, d as u64, i as u64, 1) >> 11) as f64 / (1u64 << 53) as f64;
            out[i][d] = (stratum as f64 + jitter) / samples as f64;
        }
    }
    out
}

/// One value given as a range: its key (such as `remediation.default.mean_days`) and
/// distribution.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranged {
    /// The key's path.
    pub key: String,
    /// Its distribution.
    pub dist: Dist,
}

impl Ranged {
    /// The note `run` prints: "ranged values: X = 3 (midpoint of 1..6)".
    pub fn note(&self) -> String {
        format!(
            "ranged values: {} = {} ({})",
            self.key,
            number(self.dist.center()),
            self.dist.describe()
        )
    }
}

/// The inclusive range a key's values must lie in.
fn limits(key: &str) -> (f64, f64) {
    if key.ends_with("failure_rate") {
        (0.0, 1.0)
    } else {
        super::bounds::bound_of(key).map_or((0.0, f64::MAX), |b| (b.min, b.max))
    }
}

/// Replaces every range in `text` by its centre and lists the ranges. Text without ranges is
/// returned unchanged (and unparsed beyond a quick check).
pub(crate) fn extract(text: &str) -> Result<(String, Vec<Ranged>), ScenarioError> {
    extract_with(text, None)
}

/// As [`extract`], but the `i`th range found takes `values[i]` instead of its centre (a
/// forecast's sample); missing values take the centre.
pub(crate) fn extract_with(
    text: &str,
    values: Option<&[f64]>,
) -> Result<(String, Vec<Ranged>), ScenarioError> {
    let quick = ["low", "high", "median", "p90", "mode"]
        .iter()
        .any(|w| text.contains(w));
    if !quick {
        return Ok((text.to_string(), Vec::new()));
    }
    // Text that is not valid TOML is left to the usual parser, which reports it.
    let Ok(mut doc) = text.parse::<DocumentMut>() else {
        return Ok((text.to_string(), Vec::new()));
    };
    let mut keys: Vec<String> = Vec::new();
    for k in RANGED_KEYS {
        if let Some((head, tail)) = k.split_once(".*.") {
            if let Some(t) = doc.get(head).and_then(Item::as_table_like) {
                keys.extend(t.iter().map(|(name, _)| format!("{head}.{name}.{tail}")));
            }
        } else {
            keys.push((*k).to_string());
        }
    }
    let mut ranges = Vec::new();
    for key in keys {
        let parts: Vec<&str> = key.split('.').collect();
        let mut item: Option<&mut Item> = doc.as_item_mut().get_mut(parts[0]);
        for p in &parts[1..] {
            item = item.and_then(|i| i.get_mut(p));
        }
        let Some(item) = item else { continue };
        let Some(table) = item.as_table_like() else {
            continue;
        };
        let dist = parse(&key, table)?;
        let value = values
            .and_then(|v| v.get(ranges.len()).copied())
            .unwrap_or_else(|| dist.center());
        *item = Item::Value(Value::from(value));
        ranges.push(Ranged { key, dist });
    }
    if ranges.is_empty() {
        return Ok((text.to_string(), ranges));
    }
    Ok((doc.to_string(), ranges))
}

fn parse(key: &str, table: &dyn toml_edit::TableLike) -> Result<Dist, ScenarioError> {
    let err = |m: String| ScenarioError::field(key, m);
    let get = |name: &str| -> Result<Option<f64>, ScenarioError> {
        match table.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_float()
                .or_else(|| v.as_integer().map(|i| i as f64))
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| err(format!("expected `{name}` to be a number"))),
        }
    };
    let (low, mode, high, median, p90) = (
        get("low")?,
        get("mode")?,
        get("high")?,
        get("median")?,
        get("p90")?,
    );
    if let Some((k, _)) = table
        .iter()
        .find(|(k, _)| !["low", "mode", "high", "median", "p90"].contains(k))
    {
        return Err(err(format!(
            "unknown key `{k}` in a range: expected {{ low, high }}, {{ mode, low, high }} or {{ median, p90 }}"
        )));
    }
    let (min, max) = limits(key);
    let within = |name: &str, v: f64| -> Result<(), ScenarioError> {
        if (min..=max).contains(&v) {
            Ok(())
        } else {
            Err(err(format!(
                "expected the range's {name} from {} to {}, found {}",
                number(min),
                number(max),
                number(v)
            )))
        }
    };
    let dist = match (low, mode, high, median, p90) {
        (Some(low), None, Some(high), None, None) => {
            within("low", low)?;
            within("high", high)?;
            if low > high {
                return Err(err(format!(
                    "expected low <= high, found low {} and high {}",
                    number(low),
                    number(high)
                )));
            }
            Dist::Uniform { low, high }
        }
        (Some(low), Some(mode), Some(high), None, None) => {
            within("low", low)?;
            within("high", high)?;
            if !(low <= mode && mode <= high) {
                return Err(err(format!(
                    "expected low <= mode <= high, found {} <= {} <= {}",
                    number(low),
                    number(mode),
                    number(high)
                )));
            }
            Dist::Triangular { low, mode, high }
        }
        (None, None, None, Some(median), Some(p90)) => {
            within("median", median)?;
            within("p90", p90)?;
            if !(p90 > median && median > 0.0) {
                return Err(err(format!(
                    "expected p90 > median > 0, found median {} and p90 {}",
                    number(median),
                    number(p90)
                )));
            }
            Dist::LogNormal { median, p90 }
        }
        _ => {
            return Err(err(
                "expected a range { low, high }, { mode, low, high } or { median, p90 }".into(),
            ));
        }
    };
    Ok(dist)
}

#[cfg(test)]
mod tests {
    use super::Dist;
    use crate::Scenario;

    const HEAD: &str = "name = \"t\"\nstart_date = 2027-01-04\ndays = 10\n[fleet]\ndevices = 100\n";

    fn load(extra: &str) -> Result<Scenario, String> {
        Scenario::from_toml(&format!("{HEAD}{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_plain_scenario_has_no_ranges() {
        assert!(load("").unwrap().ranges.is_empty());
    }

    #[test]
    fn ranges_resolve_to_their_centre_and_are_kept() {
        let s = load(
            "[timing]\nrandomization_days_per_100k = { low = 1, high = 6 }\n\
             randomization_max_days = { mode = 4, low = 2, high = 9 }\n\
             [enrollment]\nfailure_rate = { median = 0.1, p90 = 0.3 }\n",
        )
        .unwrap();
        let plain = load(
            "[timing]\nrandomization_days_per_100k = 3.5\nrandomization_max_days = 4\n\
             [enrollment]\nfailure_rate = 0.1\n",
        )
        .unwrap();
        assert_eq!(s.timing, plain.timing);
        assert_eq!(s.failure_rate, plain.failure_rate);
        let notes: Vec<String> = s.ranges.iter().map(super::Ranged::note).collect();
        assert_eq!(
            notes[0],
            "ranged values: timing.randomization_days_per_100k = 3.5 (midpoint of 1..6)"
        );
        assert!(
            notes[1].contains("= 4 (mode of triangular 2..4..9)"),
            "{}",
            notes[1]
        );
        assert!(
            notes[2].contains("enrollment.failure_rate = 0.1 (median"),
            "{}",
            notes[2]
        );
        assert_eq!(s.ranges.len(), 3);
    }

    #[test]
    fn quantiles_match_their_distributions() {
        let u = Dist::Uniform {
            low: 1.0,
            high: 6.0,
        };
        assert!((u.quantile(0.5) - 3.5).abs() < 1e-12);
        let t = Dist::Triangular {
            low: 1.0,
            mode: 3.0,
            high: 6.0,
        };
        assert!((t.quantile(0.4) - 3.0).abs() < 1e-9, "{}", t.quantile(0.4));
        let l = Dist::LogNormal {
            median: 3.0,
            p90: 6.0,
        };
        assert!((l.quantile(0.5) - 3.0).abs() < 1e-9);
        assert!((l.quantile(0.9) - 6.0).abs() < 1e-6, "{}", l.quantile(0.9));
        assert!((super::inverse_normal(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((super::inverse_normal(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn latin_hypercube_fills_every_stratum_once_and_repeats() {
        let a = super::latin_hypercube(7, 10, 3);
        assert_eq!(a, super::latin_hypercube(7, 10, 3));
        assert_ne!(a, super::latin_hypercube(8, 10, 3));
        for d in 0..3 {
            let mut strata: Vec<usize> = a.iter().map(|p| (p[d] * 10.0) as usize).collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_sample_sets_the_ranged_values() {
        let text = format!("{HEAD}[timing]\nrandomization_max_days = {{ low = 1, high = 6 }}\n");
        let s = Scenario::from_toml_sample(&text, &[2.0]).unwrap();
        assert_eq!(
            s.timing,
            load("[timing]\nrandomization_max_days = 2\n")
                .unwrap()
                .timing
        );
        assert_eq!(s.ranges.len(), 1);
    }

    #[test]
    fn remediation_means_take_ranges() {
        let s = load("[remediation.default]\nmean_days = { low = 2, high = 4 }\n").unwrap();
        assert_eq!(s.ranges[0].key, "remediation.default.mean_days");
        assert_eq!(s.ranges[0].dist.center(), 3.0);
    }

    #[test]
    fn bad_ranges_are_refused_with_the_key_and_line() {
        for (extra, want) in [
            (
                "[enrollment]\nfailure_rate = { low = 0.5, high = 1.5 }\n",
                "high from 0 to 1",
            ),
            (
                "[enrollment]\nfailure_rate = { low = 0.5, high = 0.2 }\n",
                "low <= high",
            ),
            (
                "[timing]\nrandomization_max_days = { mode = 9, low = 1, high = 6 }\n",
                "low <= mode <= high",
            ),
            (
                "[timing]\nrandomization_max_days = { median = 3, p90 = 2 }\n",
                "p90 > median > 0",
            ),
            (
                "[timing]\nrandomization_max_days = { median = 0, p90 = 2 }\n",
                "p90 > median > 0",
            ),
            (
                "[timing]\nrandomization_max_days = { low = 1 }\n",
                "expected a range",
            ),
            (
                "[timing]\nrandomization_max_days = { low = 1, hi = 2 }\n",
                "unknown key `hi`",
            ),
            (
                "[timing]\nrandomization_max_days = { low = -1, high = 2 }\n",
                "from 0 to 365",
            ),
        ] {
            let e = load(extra).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
            assert!(e.contains("line 7"), "{extra}: {e}");
        }
    }
}
