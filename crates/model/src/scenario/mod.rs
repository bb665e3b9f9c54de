//! The scenario file: a raw serde schema (unknown fields refused, defaults in one place),
//! resolved and validated into a typed [`Scenario`] before anything runs.
//!
//! Dependencies run one way: [`units`] -> [`sections`] -> [`strategy`] -> [`raw`] (schema)
//! and [`resolved`] (typed [`Scenario`]) -> [`validate`] (raw to resolved) ->
//! [`Scenario::from_toml`] here.
//!
//! | module | owns |
//! |---|---|
//! | [`units`] | minutes, shares, days, dates, clock times, mixes |
//! | [`raw`] | every section as written, and the defaults |
//! | [`strategy`] | collections, workload settings, steps and gates: schema and validation |
//! | [`sections`] | the typed sections: sites, tenant, cloud, Path 2, programs, fleet, timing, usage |
//! | [`resolved`] | [`Scenario`]: every section, ready to run |
//! | [`validate`] | the checks across fields, raw to resolved |
//! | [`error`] | [`ScenarioError`]: field, line and message |

pub mod error;
pub mod raw;
pub mod resolved;
pub mod sections;
pub mod strategy;
pub mod units;
pub mod validate;

pub use error::ScenarioError;
pub use resolved::*;
pub use sections::*;
pub use strategy::{Collection, Strategy, WorkloadSettings};
pub use units::*;

impl Scenario {
    /// Parses and validates a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let raw: raw::RawScenario = toml::from_str(text).map_err(|e| {
            let mut err = ScenarioError::plain(e.message().trim_end());
            err.field = None;
            err.locate(text, e.span())
        })?;
        validate::resolve(raw).map_err(|(e, span)| e.locate(text, span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AutoEnrollment;

    const MINIMAL: &str =
        "name = \"t\"\nstart_date = 2027-01-04\ndays = 10\n[fleet]\ndevices = 100\n";

    fn err(extra: &str) -> ScenarioError {
        Scenario::from_toml(&format!("{MINIMAL}{extra}")).unwrap_err()
    }

    #[test]
    fn minimal_scenario_takes_the_defaults() {
        let s = Scenario::from_toml(MINIMAL).unwrap();
        assert_eq!(s.fleet.devices, 100);
        assert_eq!(s.timing.policy_poll, 60);
        assert_eq!(s.timing.aad_connect_sync, 30);
        assert_eq!(s.auto_register_at, Some(0));
        assert_eq!(s.co_management_at, None);
        assert_eq!(s.sites.len(), 1);
        assert_eq!(s.horizon(), 14_400);
    }

    #[test]
    fn unknown_field_names_line_and_field() {
        let e = err("[timing]\npolicy_pol_minutes = 5\n");
        assert_eq!(e.line, Some(7));
        assert_eq!(e.field.as_deref(), Some("timing.policy_pol_minutes"));
        assert!(e.message.contains("unknown field"), "{e}");
        assert!(e.message.contains("policy_poll_minutes"), "{e}");
    }

    #[test]
    fn wrong_type_is_refused() {
        let e = err("[timing]\npolicy_poll_minutes = \"hourly\"\n");
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("whole number"), "{e}");
    }

    #[test]
    fn share_outside_0_1_is_refused() {
        let e = err("[enrollment]\nfailure_rate = 1.5\n");
        assert_eq!(e.line, Some(7));
        assert_eq!(e.field.as_deref(), Some("enrollment.failure_rate"));
        assert!(e.message.contains("between 0 and 1"), "{e}");
    }

    #[test]
    fn cmg_connection_points_outside_1_16_are_refused() {
        let e = err("[cloud]\ncmg_vms = 16\ncmg_connection_points = 17\n");
        assert_eq!(e.line, Some(8));
        assert_eq!(e.field.as_deref(), Some("cloud.cmg_connection_points"));
        assert!(e.message.contains("1 to 16"), "{e}");
        let e = err("[cloud]\ncmg_connection_points = 0\n");
        assert_eq!(e.field.as_deref(), Some("cloud.cmg_connection_points"));
    }

    #[test]
    fn mix_not_summing_to_1_is_refused() {
        let e = err("[fleet.usage]\noffice_hours = 0.5\nalways_on = 0.2\n");
        assert!(
            e.message.contains("sum to 1") && e.message.contains("0.7"),
            "{e}"
        );
        assert!(e.line.is_some_and(|l| l >= 6), "{e:?}");
        assert!(
            e.field
                .as_deref()
                .is_some_and(|f| f.starts_with("fleet.usage")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_mix_key_lists_the_expected_names() {
        let e = err("[fleet.os]\nwin12 = 1.0\n");
        assert!(e.message.contains("win11_24h2"), "{e}");
        assert_eq!(e.line, Some(7));
    }

    #[test]
    fn negative_duration_is_refused() {
        let e = err("[timing]\nenrollment_retry_minutes = -15\n");
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("cannot be negative"), "{e}");
    }

    #[test]
    fn missing_pilot_collection_is_refused_with_its_line() {
        let e = err(
            "[[collections]]\nname = \"Pilot A\"\nshare = 0.1\n[co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"pilot\"\npilot_collection = \"Pilot B\"\n",
        );
        assert_eq!(e.line, Some(12));
        assert_eq!(e.field.as_deref(), Some("co_management.pilot_collection"));
        assert!(e.message.contains("\"Pilot A\""), "{e}");
    }

    #[test]
    fn pilot_scope_resolves_to_the_collection() {
        let s = Scenario::from_toml(&format!("{MINIMAL}[[collections]]\nname = \"Intune Auto Enrollment\"\nshare = 0.1\n[co_management]\nenable_date = 2027-01-05\nauto_enrollment = \"pilot\"\npilot_collection = \"Intune Auto Enrollment\"\n")).unwrap();
        assert_eq!(s.auto_enrollment, AutoEnrollment::Pilot(0));
        assert_eq!(s.co_management_at, Some(1440));
    }

    #[test]
    fn transient_error_cannot_have_a_remediation() {
        let e = err("[remediation]\n\"0x8018002A\" = { mean_days = 3 }\n");
        assert!(e.message.contains("transient"), "{e}");
    }

    #[test]
    fn zero_devices_is_refused() {
        let e = Scenario::from_toml(
            "name = \"t\"\nstart_date = 2027-01-04\ndays = 10\n[fleet]\ndevices = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(5));
        assert_eq!(e.field.as_deref(), Some("fleet.devices"));
    }

    #[test]
    fn mix_sampling_follows_shares() {
        let m = Mix::new(&[(1u8, 0.25), (2, 0.0), (3, 0.75)]).unwrap();
        assert_eq!(m.sample(0), 1);
        assert_eq!(m.sample(u64::MAX / 4 - 1000), 1);
        assert_eq!(m.sample(u64::MAX / 4 + 1000), 3);
        assert_eq!(m.sample(u64::MAX), 3);
    }
}
