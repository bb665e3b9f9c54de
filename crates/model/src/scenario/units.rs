//! The units a scenario is written in: minutes, shares, whole numbers, days, dates, clock
//! times and mixes (shares of each value that sum to 1), each refusing a bad value while parsing.
//!
//! Leaves to others: which field uses which unit ([`super::raw`]).

use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// Simulated time in minutes since the scenario's start date at 00:00.
pub type Minute = u32;

/// Minutes in a day.
pub const DAY: Minute = 1440;

// ---------------------------------------------------------------------------------------------
// Value types that validate themselves while they are read, so the error points at the value.

/// A number for a message: plain when short, in scientific notation when huge.
pub(crate) fn number(v: f64) -> String {
    if v.is_finite() && v.abs() < 1e15 {
        if v.fract() == 0.0 {
            format!("{}", v as i64)
        } else {
            format!("{v}")
        }
    } else {
        format!("{v:e}")
    }
}

/// A share between 0 and 1.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Share(pub f64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d).map_err(|_| {
            de::Error::custom("expected a share: a number between 0 and 1, such as 0.25")
        })?;
        if v.is_finite() && (0.0..=1.0).contains(&v) {
            Ok(Share(v))
        } else {
            Err(de::Error::custom(format!(
                "expected a share between 0 and 1, found {}",
                number(v)
            )))
        }
    }
}

/// A duration or count that must be a whole number, 0 or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Whole(pub u32);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d)
            .map_err(|_| de::Error::custom("expected a whole number, 0 or more, such as 30"))?;
        u32::try_from(v).map(Whole).map_err(|_| {
            let why = if v < 0 {
                " (it cannot be negative)"
            } else {
                ""
            };
            de::Error::custom(format!(
                "expected a whole number from 0 to {}, found {v}{why}",
                u32::MAX
            ))
        })
    }
}

/// A non-negative number of days (may have a fraction).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Days(pub f64);

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)
            .map_err(|_| de::Error::custom("expected a number of days, 0 or more"))?;
        // The upper bound depends on the field: see `super::bounds::BOUNDS`.
        if v.is_finite() && v >= 0.0 {
            Ok(Days(v))
        } else {
            Err(de::Error::custom(format!(
                "expected a number of days, 0 or more, found {}",
                number(v)
            )))
        }
    }
}

/// A non-negative rate such as devices a day (may have a fraction).
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)
            .map_err(|_| de::Error::custom("expected a rate, 0 or more, such as 50"))?;
        if v.is_finite() && v >= 0.0 {
            Ok(Rate(v))
        } else {
            Err(de::Error::custom(format!(
                "expected a rate, 0 or more, found {}",
                number(v)
            )))
        }
    }
}

/// The earliest date a scenario may name.
pub const DATE_MIN: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a date");
/// The latest date a scenario may name.
pub const DATE_MAX: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a date");

/// A calendar date written as a TOML date: `2027-01-04`, from [`DATE_MIN`] to [`DATE_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = "expected a date such as 2027-01-04 (no quotes, no time)";
        let v = toml::value::Datetime::deserialize(d).map_err(|_| de::Error::custom(expected))?;
        match (v.date, v.time) {
            (Some(date), None) => NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
            .ok_or_else(|| de::Error::custom(expected))
            .and_then(|d| {
                if (DATE_MIN..=DATE_MAX).contains(&d) {
                    Ok(Date(d))
                } else {
                    Err(de::Error::custom(format!(
                        "expected a date from {DATE_MIN} to {DATE_MAX}, found {d}"
                    )))
                }
            }),
            _ => Err(de::Error::custom(expected)),
        }
    }
}

/// A time of day written as `"HH:MM"`, kept as minutes after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockTime(pub Minute);

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = "expected a time of day such as \"07:30\"";
        let s = String::deserialize(d).map_err(|_| de::Error::custom(expected))?;
        let (h, m) = s
            .split_once(':')
            .ok_or_else(|| de::Error::custom(format!("{expected}, found \"{s}\"")))?;
        match (h.parse::<u32>(), m.parse::<u32>()) {
            (Ok(h), Ok(m)) if h < 24 && m < 60 && m.to_string().len() <= 2 => {
                Ok(ClockTime(h * 60 + m))
            }
            _ => Err(de::Error::custom(format!("{expected}, found \"{s}\""))),
        }
    }
}

/// Shares of the values of `K` that sum to 1: a fleet mix. Missing values have share 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix<K: Copy + Ord> {
    shares: BTreeMap<K, f64>,
    /// Cumulative thresholds over the 64-bit draw space, in key order.
    cumulative: Vec<(K, u64)>,
}

impl<K: Copy + Ord> Mix<K> {
    /// A mix from `(value, share)` pairs; shares must sum to 1 (within 1e-6).
    pub fn new(pairs: &[(K, f64)]) -> Result<Self, String> {
        let shares: BTreeMap<K, f64> = pairs.iter().copied().collect();
        let sum: f64 = shares.values().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!(
                "expected shares that sum to 1, but they sum to {}",
                (sum * 1e9).round() / 1e9
            ));
        }
        let mut cumulative = Vec::new();
        let mut acc = 0.0;
        for (k, s) in &shares {
            if *s > 0.0 {
                acc += s;
                // 2^64 as f64; the cast saturates at u64::MAX.
                cumulative.push((*k, (acc * 18_446_744_073_709_551_616.0) as u64));
            }
        }
        if let Some(last) = cumulative.last_mut() {
            last.1 = u64::MAX;
        }
        Ok(Self { shares, cumulative })
    }

    /// The value a uniformly random 64-bit draw selects.
    #[inline]
    pub fn sample(&self, draw: u64) -> K {
        for (k, t) in &self.cumulative {
            if draw < *t {
                return *k;
            }
        }
        self.cumulative
            .last()
            .expect("a mix has a positive share")
            .0
    }

    /// The share of `k`.
    pub fn share(&self, k: K) -> f64 {
        self.shares.get(&k).copied().unwrap_or(0.0)
    }
}

impl<'de, K: Copy + Ord + Deserialize<'de>> Deserialize<'de> for Mix<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: Copy + Ord + Deserialize<'de>> Visitor<'de> for V<K> {
            type Value = Mix<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of shares that sum to 1")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Mix<K>, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<K, Share>()? {
                    pairs.push((k, v.0));
                }
                Mix::new(&pairs).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}
