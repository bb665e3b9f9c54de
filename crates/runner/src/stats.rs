//! Statistics over replications: mean, standard deviation, nearest-rank percentiles and the
//! t-based 95% interval of a paired difference.
//!
//! Everything here is plain IEEE arithmetic in a fixed order (sums from the first value to the
//! last, `sqrt`, which IEEE rounds exactly), with no library function whose last bit may differ
//! between machines, so every machine prints the same digits.

/// Decimals of every statistic written to a file.
pub const DECIMALS: usize = 4;

/// `x` with [`DECIMALS`] decimals; never `-0.0000`.
pub fn fmt(x: f64) -> String {
    let s = format!("{x:.DECIMALS$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// An optional statistic: [`fmt`], or an empty cell.
pub fn fmt_opt(x: Option<f64>) -> String {
    x.map(fmt).unwrap_or_default()
}

/// Arithmetic mean, summed in order; `None` for no values.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (denominator n − 1); `None` for fewer than two values.
pub fn sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Nearest-rank percentile: the value of rank ⌈p × n / 100⌉ (at least 1) among the n values
/// sorted in ascending order; `None` for no values. `p` is a whole percent from 0 to 100.
pub fn percentile(sorted: &[f64], p: u32) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (p.min(100) as usize * n).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// The values sorted in ascending order (total order: no NaN reaches here).
pub fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Two-sided 97.5% quantile of Student's t distribution with 1 to 30 degrees of freedom.
const T975: [f64; 30] = [
    12.706_204_736,
    4.302_652_730,
    3.182_446_305,
    2.776_445_105,
    2.570_581_836,
    2.446_911_851,
    2.364_624_252,
    2.306_004_135,
    2.262_157_163,
    2.228_138_852,
    2.200_985_160,
    2.178_812_830,
    2.160_368_656,
    2.144_786_688,
    2.131_449_546,
    2.119_905_299,
    2.109_815_578,
    2.100_922_040,
    2.093_024_054,
    2.085_963_447,
    2.079_613_845,
    2.073_873_068,
    2.068_657_610,
    2.063_898_562,
    2.059_538_553,
    2.055_529_439,
    2.051_830_516,
    2.048_407_142,
    2.045_229_642,
    2.042_272_456,
];

/// The 97.5% quantile of Student's t with `df` degrees of freedom (`df` ≥ 1): a table up to
/// 30, then the Cornish–Fisher expansion around the normal quantile 1.959964 (error below
/// 1e-7 from 31 on).
pub fn t975(df: usize) -> f64 {
    if (1..=30).contains(&df) {
        return T975[df - 1];
    }
    let z: f64 = 1.959_963_984_540_054;
    let v = df.max(1) as f64;
    let (z2, z3) = (z * z, z * z * z);
    let (z5, z7, z9) = (z3 * z2, z3 * z2 * z2, z3 * z3 * z3);
    z + (z3 + z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z)
            / (92160.0 * v * v * v * v)
}

/// The 95% interval of the mean of `xs`: mean ± t(0.975, n − 1) × sd / √n; `None` for fewer
/// than two values.
pub fn interval95(xs: &[f64]) -> Option<(f64, f64)> {
    let m = mean(xs)?;
    let s = sd(xs)?;
    let half = t975(xs.len() - 1) * s / (xs.len() as f64).sqrt();
    Some((m - half, m + half))
}

/// What comparison.csv says of one metric of one scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Replications run.
    pub replications: usize,
    /// Replications in which the metric had a value (was reached).
    pub reached: usize,
    /// Mean, sd, p10, p50, p90, min, max over the replications where it was reached.
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub sd: Option<f64>,
    /// Nearest-rank 10th percentile.
    pub p10: Option<f64>,
    /// Nearest-rank median.
    pub p50: Option<f64>,
    /// Nearest-rank 90th percentile.
    pub p90: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
    /// Mean of the per-replication differences against the baseline, over the replications
    /// where both reached the metric.
    pub diff_mean: Option<f64>,
    /// The 95% interval of that mean.
    pub diff_ci: Option<(f64, f64)>,
    /// Replications where both reached the metric.
    pub diff_pairs: usize,
}

impl Summary {
    /// Statistics of `values` (one per replication, `None` when not reached) and their paired
    /// differences against `baseline` (the same replications of the first scenario).
    pub fn of(values: &[Option<f64>], baseline: &[Option<f64>]) -> Self {
        let reached: Vec<f64> = values.iter().flatten().copied().collect();
        let s = sorted(&reached);
        let diffs: Vec<f64> = values
            .iter()
            .zip(baseline)
            .filter_map(|(x, b)| Some((*x)? - (*b)?))
            .collect();
        Self {
            replications: values.len(),
            reached: reached.len(),
            mean: mean(&reached),
            sd: sd(&reached),
            p10: percentile(&s, 10),
            p50: percentile(&s, 50),
            p90: percentile(&s, 90),
            min: s.first().copied(),
            max: s.last().copied(),
            diff_mean: mean(&diffs),
            diff_ci: interval95(&diffs),
            diff_pairs: diffs.len(),
        }
    }

    /// Column names, in the order of [`Summary::cells`].
    pub const COLUMNS: [&str; 13] = [
        "replications",
        "reached",
        "mean",
        "sd",
        "p10",
        "p50",
        "p90",
        "min",
        "max",
        "diff_mean",
        "diff_ci95_low",
        "diff_ci95_high",
        "diff_pairs",
    ];

    /// The cells, formatted.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.replications.to_string(),
            self.reached.to_string(),
            fmt_opt(self.mean),
            fmt_opt(self.sd),
            fmt_opt(self.p10),
            fmt_opt(self.p50),
            fmt_opt(self.p90),
            fmt_opt(self.min),
            fmt_opt(self.max),
            fmt_opt(self.diff_mean),
            fmt_opt(self.diff_ci.map(|c| c.0)),
            fmt_opt(self.diff_ci.map(|c| c.1)),
            self.diff_pairs.to_string(),
        ]
    }
}

/// A number in a CSV cell: digits with an optional sign, point and exponent (never `inf` or
/// `NaN`); `None` for anything else, the empty cell included.
pub fn parse_number(cell: &str) -> Option<f64> {
    let ok = !cell.is_empty()
        && cell.bytes().any(|b| b.is_ascii_digit())
        && cell
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !ok {
        return None;
    }
    cell.parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sd() {
        assert_eq!(mean(&[]), None);
        assert_eq!(mean(&[2.0, 4.0, 9.0]), Some(5.0));
        assert_eq!(sd(&[3.0]), None);
        // Sample sd of 2, 4, 4, 4, 5, 5, 7, 9: sum of squares 32, n − 1 = 7.
        let s = sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert!((s - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(sd(&[1.5, 1.5, 1.5]), Some(0.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 10), Some(1.0));
        assert_eq!(percentile(&v, 50), Some(5.0));
        assert_eq!(percentile(&v, 90), Some(9.0));
        assert_eq!(percentile(&v, 100), Some(10.0));
        assert_eq!(percentile(&v, 0), Some(1.0));
        // Three values: ranks ⌈0.3⌉ = 1, ⌈1.5⌉ = 2, ⌈2.7⌉ = 3.
        let three = [10.0, 20.0, 30.0];
        assert_eq!(percentile(&three, 10), Some(10.0));
        assert_eq!(percentile(&three, 50), Some(20.0));
        assert_eq!(percentile(&three, 90), Some(30.0));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(sorted(&[3.0, -1.0, 2.0]), [-1.0, 2.0, 3.0]);
    }

    #[test]
    fn t_quantiles() {
        assert_eq!(t975(1), 12.706_204_736);
        assert_eq!(t975(9), 2.262_157_163);
        // The expansion joins the table smoothly and tends to the normal quantile.
        assert!((t975(31) - 2.039_513_4).abs() < 1e-6);
        assert!(t975(31) < t975(30));
        assert!((t975(40) - 2.021_075_390).abs() < 1e-7);
        assert!((t975(120) - 1.979_930_405).abs() < 1e-7);
        assert!((t975(1000) - 1.962_339_081).abs() < 1e-7);
    }

    #[test]
    fn paired_interval() {
        // Differences 1, 2, 3: mean 2, sd 1, half-width t(0.975, 2) / √3.
        let (lo, hi) = interval95(&[1.0, 2.0, 3.0]).unwrap();
        let half = 4.302_652_730 / 3f64.sqrt();
        assert!((lo - (2.0 - half)).abs() < 1e-12 && (hi - (2.0 + half)).abs() < 1e-12);
        assert_eq!(interval95(&[5.0]), None);
        assert_eq!(interval95(&[5.0, 5.0]), Some((5.0, 5.0)));
    }

    #[test]
    fn summary_counts_unreached_apart_and_pairs_only_both_reached() {
        let x = [Some(4.0), None, Some(6.0), Some(8.0)];
        let base = [Some(3.0), Some(1.0), None, Some(5.0)];
        let s = Summary::of(&x, &base);
        assert_eq!((s.replications, s.reached, s.diff_pairs), (4, 3, 2));
        assert_eq!(s.mean, Some(6.0));
        assert_eq!((s.min, s.p50, s.max), (Some(4.0), Some(6.0), Some(8.0)));
        assert_eq!(s.diff_mean, Some(2.0));
        // Differences 1 and 3: sd √2, half-width t(0.975, 1) × √2 / √2.
        let (lo, hi) = s.diff_ci.unwrap();
        assert!((lo + 10.706_204_736).abs() < 1e-9 && (hi - 14.706_204_736).abs() < 1e-9);
        let same = Summary::of(&x, &x);
        assert_eq!(same.diff_mean, Some(0.0));
        assert_eq!(same.diff_ci, Some((0.0, 0.0)));
        let none = Summary::of(&[None, None], &[None, None]);
        assert_eq!(none.cells()[1..4], ["0", "", ""]);
        assert_eq!(Summary::COLUMNS.len(), none.cells().len());
    }

    #[test]
    fn formatting_is_fixed() {
        assert_eq!(fmt(1.0), "1.0000");
        assert_eq!(fmt(-0.00001), "0.0000");
        assert_eq!(fmt(-2.5), "-2.5000");
        assert_eq!(fmt(2.0 / 3.0), "0.6667");
        assert_eq!(fmt_opt(None), "");
    }

    #[test]
    fn numbers_are_parsed_strictly() {
        assert_eq!(parse_number("12"), Some(12.0));
        assert_eq!(parse_number("-1.25"), Some(-1.25));
        assert_eq!(parse_number("1e3"), Some(1000.0));
        for bad in ["", "inf", "NaN", "2027-01-04", "e", "-", "0x80", "tiny"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
