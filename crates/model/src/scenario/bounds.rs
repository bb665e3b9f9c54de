//! The documented range of every number in a scenario, in one table ([`BOUNDS`]), and the one
//! check that applies it ([`check`]): a value outside its range is refused with the field's name,
//! line and unit before anything runs. `docs/SCENARIO.md` lists the same table; a test keeps the
//! two in step.
//!
//! Why the ranges matter: every time in the model is a `u32` minute. With dates within
//! [`DATE_MIN`]..=[`DATE_MAX`] (at most about 53 million minutes after the start), delays of at
//! most 3,650 days and durations of at most a year, every sum the model forms stays far below
//! `u32::MAX` (about 4,295 million minutes), so no time arithmetic can wrap.
//!
//! A new numeric key: add a row here (key with `[]` for an array index and `*` for a map key),
//! call [`check`] (or [`whole`], [`days`]) on it in the section's resolve function, and add the
//! row to `docs/SCENARIO.md`.

// Validation errors are built once per run, never on a hot path: their size does not matter.
#![allow(clippy::result_large_err)]

use super::error::ScenarioError;
use super::units::{DAY, Date, Days, Minute, Whole};

/// An error and, when known, the byte span of the offending value.
pub(crate) type Located = (ScenarioError, Option<std::ops::Range<usize>>);

/// What a number counts, for the table and for the wording of its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A duration in minutes.
    Minutes,
    /// A duration in hours.
    Hours,
    /// A duration in days (may have a fraction).
    Days,
    /// A number of devices.
    Devices,
    /// Devices a day (may have a fraction).
    DevicesPerDay,
    /// Devices a week (may have a fraction).
    DevicesPerWeek,
    /// A count of something else (tries, checks, management points, VM instances).
    Count,
    /// Azure AD Connect's writes to Azure AD an hour.
    WritesPerHour,
    /// A length in characters.
    Characters,
    /// A ConfigMgr version number such as 2403.
    Version,
    /// A gate's threshold, in the unit of its metric.
    Threshold,
}

impl Unit {
    /// What the value is, for messages: "a duration", "a number of devices".
    pub fn noun(self) -> &'static str {
        match self {
            Unit::Minutes | Unit::Hours | Unit::Days => "a duration",
            Unit::Devices => "a number of devices",
            Unit::DevicesPerDay | Unit::DevicesPerWeek | Unit::WritesPerHour => "a rate",
            Unit::Count => "a count",
            Unit::Characters => "a length",
            Unit::Version => "a ConfigMgr version",
            Unit::Threshold => "a threshold",
        }
    }

    /// The unit's name after a number, or "" for none.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Minutes => "minutes",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Devices => "devices",
            Unit::DevicesPerDay => "devices a day",
            Unit::DevicesPerWeek => "devices a week",
            Unit::Count | Unit::Version | Unit::Threshold => "",
            Unit::Characters => "characters",
            Unit::WritesPerHour => "writes an hour",
        }
    }

    /// Whether the value must be a whole number.
    pub fn whole(self) -> bool {
        !matches!(
            self,
            Unit::Days | Unit::DevicesPerDay | Unit::DevicesPerWeek | Unit::Threshold
        )
    }
}

/// One row of the table: a key, its unit and its inclusive range.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// The dotted key; `[]` stands for an array index and `*` for a map key.
    pub key: &'static str,
    /// What it counts.
    pub unit: Unit,
    /// Smallest value accepted.
    pub min: f64,
    /// Largest value accepted.
    pub max: f64,
}

const fn b(key: &'static str, unit: Unit, min: f64, max: f64) -> Bound {
    Bound {
        key,
        unit,
        min,
        max,
    }
}

/// Largest fleet, batch or daily flow: [`super::MAX_DEVICES`].
const DEV: f64 = super::resolved::MAX_DEVICES as f64;
/// Longest delay in days: ten years, the longest horizon.
const LONG: f64 = super::resolved::MAX_DAYS as f64;
/// Longest interval or retry wait: 30 days.
const MONTH_MIN: f64 = 30.0 * 1440.0;
// A device's poll phase (below `timing.policy_poll_minutes`) is kept in 16 bits (fleet.rs).
const _: () = assert!(MONTH_MIN <= 65_536.0);
/// Longest single activity (install, ESP, registration): one week.
const WEEK_MIN: f64 = 7.0 * 1440.0;
/// Ten years in hours.
const LONG_HOURS: f64 = LONG * 24.0;

/// Every numeric key of the scenario schema with its range (shares, mixes, dates and clock
/// times have their own fixed ranges; see `docs/SCENARIO.md`).
pub const BOUNDS: &[Bound] = &[
    b("days", Unit::Days, 1.0, LONG),
    b("fleet.devices", Unit::Devices, 0.0, DEV),
    b("sites", Unit::Count, 0.0, 250.0),
    b("sites[].version", Unit::Version, 1000.0, 9999.0),
    b("sites[].management_points", Unit::Count, 1.0, 1000.0),
    b("collections", Unit::Count, 0.0, 32.0),
    b("collections[].min_devices", Unit::Devices, 0.0, DEV),
    b("rings.test_devices", Unit::Devices, 0.0, DEV),
    b("workloads.*.detection_hours", Unit::Hours, 0.0, LONG_HOURS),
    b("workloads.*.resolution_days", Unit::Days, 0.0, LONG),
    b("strategy.steps[].delay_days", Unit::Days, 0.0, LONG),
    b(
        "strategy.gates[].interval_hours",
        Unit::Hours,
        1.0,
        LONG_HOURS,
    ),
    b("strategy.gates[].failure_limit", Unit::Count, 1.0, 10_000.0),
    b("strategy.gates[].remediation_days", Unit::Days, 0.0, LONG),
    b(
        "strategy.gates[].success_at_least",
        Unit::Threshold,
        -1e9,
        1e9,
    ),
    b(
        "strategy.gates[].success_at_most",
        Unit::Threshold,
        -1e9,
        1e9,
    ),
    b("strategy.gates[].failure_above", Unit::Threshold, -1e9, 1e9),
    b("strategy.gates[].failure_below", Unit::Threshold, -1e9, 1e9),
    b("timing.policy_poll_minutes", Unit::Minutes, 1.0, MONTH_MIN),
    b("timing.join_task_minutes", Unit::Minutes, 1.0, MONTH_MIN),
    b(
        "timing.aad_connect_sync_minutes",
        Unit::Minutes,
        1.0,
        MONTH_MIN,
    ),
    b(
        "timing.enrollment_retry_minutes",
        Unit::Minutes,
        1.0,
        MONTH_MIN,
    ),
    b("timing.enrollment_tries", Unit::Count, 1.0, 1000.0),
    b(
        "timing.aad_connect_export_per_hour",
        Unit::WritesPerHour,
        1.0,
        10_000_000.0,
    ),
    b(
        "timing.enrollment_retry_cycle_minutes",
        Unit::Minutes,
        1.0,
        MONTH_MIN,
    ),
    b("timing.randomization_days_per_100k", Unit::Days, 0.0, 365.0),
    b("timing.randomization_max_days", Unit::Days, 0.0, 365.0),
    b(
        "timing.randomization_min_minutes",
        Unit::Minutes,
        0.0,
        365.0 * 1440.0,
    ),
    b(
        "usage.workday_start_spread_minutes",
        Unit::Minutes,
        0.0,
        1440.0,
    ),
    b("usage.workday_minutes", Unit::Minutes, 1.0, 1440.0),
    b("remediation.*.mean_days", Unit::Days, 0.0, LONG),
    b("cloud.cmg_vms", Unit::Count, 0.0, 16.0),
    b("cloud.cmg_connection_points", Unit::Count, 1.0, 16.0),
    b("cloud.client_install_minutes", Unit::Minutes, 1.0, WEEK_MIN),
    b(
        "cloud.ccmsetup_command_line_length",
        Unit::Characters,
        0.0,
        65_535.0,
    ),
    b("cloud.registration_minutes", Unit::Minutes, 0.0, WEEK_MIN),
    b("path2.devices_per_day", Unit::DevicesPerDay, 0.0, DEV),
    b("path2.batches[].devices", Unit::Devices, 0.0, DEV),
    b("path2.esp_minutes", Unit::Minutes, 0.0, WEEK_MIN),
    b("path2.esp_timeout_minutes", Unit::Minutes, 1.0, WEEK_MIN),
    b("client_push.devices_per_day", Unit::DevicesPerDay, 0.0, DEV),
    b(
        "client_push.devices_per_week",
        Unit::DevicesPerWeek,
        0.0,
        7.0 * DEV,
    ),
    b("os_upgrade.devices_per_day", Unit::DevicesPerDay, 0.0, DEV),
    b(
        "os_upgrade.devices_per_week",
        Unit::DevicesPerWeek,
        0.0,
        7.0 * DEV,
    ),
    b(
        "os_upgrade.legacy_devices_per_week",
        Unit::DevicesPerWeek,
        0.0,
        1_000_000.0,
    ),
    b(
        "mdm_migration.devices_per_day",
        Unit::DevicesPerDay,
        0.0,
        DEV,
    ),
    b(
        "mdm_migration.devices_per_week",
        Unit::DevicesPerWeek,
        0.0,
        7.0 * DEV,
    ),
];

pub use super::units::{DATE_MAX, DATE_MIN};

/// The table's row for a field path such as `sites[3].version` or `workloads.client_apps.detection_hours`.
pub fn bound_of(field: &str) -> Option<&'static Bound> {
    let mut key = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => {
                in_index = true;
                key.push('[');
            }
            ']' => {
                in_index = false;
                key.push(']');
            }
            _ if in_index => {}
            _ => key.push(c),
        }
    }
    BOUNDS.iter().find(|b| {
        b.key == key || {
            // `a.*.c` matches `a.<anything>.c`.
            let parts: Vec<&str> = b.key.split('.').collect();
            let have: Vec<&str> = key.split('.').collect();
            parts.len() == have.len() && parts.iter().zip(&have).all(|(p, h)| *p == "*" || p == h)
        }
    })
}

fn show(v: f64) -> String {
    super::units::number(v)
}

/// Checks `value` of `field` against its row in [`BOUNDS`].
///
/// # Panics
/// In debug builds, when `field` has no row (a programming error: add the row).
pub(crate) fn check(field: &str, value: f64) -> Result<(), Located> {
    let Some(b) = bound_of(field) else {
        debug_assert!(false, "no bound for {field}");
        return Ok(());
    };
    if value.is_finite() && (b.min..=b.max).contains(&value) {
        return Ok(());
    }
    let unit = b.unit.name();
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    let whole = if b.unit.whole() { "whole " } else { "" };
    let noun = b.unit.noun();
    let noun = if whole.is_empty() {
        noun.to_string()
    } else {
        // "a count" -> "a whole count"
        noun.replacen("a ", &format!("a {whole}"), 1)
    };
    Err((
        ScenarioError::field(
            field,
            format!(
                "expected {noun} from {} to {}{unit}, found {}",
                show(b.min),
                show(b.max),
                show(value)
            ),
        ),
        None,
    ))
}

/// A whole number checked against its row; returns the value.
pub(crate) fn whole(field: &str, w: Whole) -> Result<u32, Located> {
    check(field, f64::from(w.0)).map(|()| w.0)
}

/// A number of days checked against its row, in whole minutes.
pub(crate) fn days(field: &str, d: Days) -> Result<Minute, Located> {
    check(field, d.0).map(|()| (d.0 * f64::from(DAY)).round() as Minute)
}

/// Minutes from `start` to `d` (0 for dates before the start). Both dates must lie within
/// [`DATE_MIN`]..=[`DATE_MAX`], so the result is at most about 53 million.
pub(crate) fn minute_from(start: Date, d: Date) -> Minute {
    let days = (d.0 - start.0).num_days().max(0);
    u32::try_from(days.saturating_mul(i64::from(DAY))).unwrap_or(Minute::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_indexes_and_map_keys_find_their_row() {
        assert_eq!(
            bound_of("sites[12].version").unwrap().key,
            "sites[].version"
        );
        assert_eq!(
            bound_of("workloads.client_apps.detection_hours")
                .unwrap()
                .key,
            "workloads.*.detection_hours"
        );
        assert!(bound_of("fleet.licensed").is_none());
    }

    #[test]
    fn wording_follows_the_unit() {
        let (e, _) = check("timing.enrollment_tries", 0.0).unwrap_err();
        assert_eq!(
            e.message, "expected a whole count from 1 to 1000, found 0",
            "{e}"
        );
        let (e, _) = check("cloud.client_install_minutes", 4_294_967_295.0).unwrap_err();
        assert!(
            e.message.contains("duration from 1 to 10080 minutes"),
            "{e}"
        );
        let (e, _) = check("path2.devices_per_day", 1e308).unwrap_err();
        assert!(e.message.contains("devices a day"), "{e}");
        assert!(check("strategy.gates[0].success_at_most", f64::NAN).is_err());
    }

    #[test]
    fn every_row_is_in_the_scenario_reference() {
        let doc = include_str!("../../../../docs/SCENARIO.md");
        for b in BOUNDS {
            let row = format!("| `{}` |", b.key);
            let line = doc
                .lines()
                .find(|l| l.starts_with(&row))
                .unwrap_or_else(|| panic!("docs/SCENARIO.md has no row {row}"));
            let range = format!("{} to {}", show(b.min), show(b.max));
            assert!(
                line.replace(',', "").contains(&range),
                "docs/SCENARIO.md row for {} must give the range {range}: {line}",
                b.key
            );
        }
        for d in [DATE_MIN, DATE_MAX] {
            assert!(
                doc.contains(&d.to_string()),
                "docs/SCENARIO.md must name {d}"
            );
        }
    }
}
