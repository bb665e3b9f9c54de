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
//! | [`bounds`] | the range of every number, one table, and the check that applies it |
//! | [`error`] | [`ScenarioError`]: field, line and message |

pub mod bounds;
pub mod error;
pub mod ranges;
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
    /// Parses and validates a scenario from the bytes of a file: text that is not UTF-8 is
    /// refused with the byte offset of the first bad byte.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ScenarioError> {
        Self::from_toml(Self::text_of(bytes)?)
    }

    /// The bytes of a scenario file as text, or the byte offset of the first byte that is not
    /// UTF-8.
    pub fn text_of(bytes: &[u8]) -> Result<&str, ScenarioError> {
        std::str::from_utf8(bytes).map_err(|e| ScenarioError::not_utf8(bytes, &e))
    }

    /// Parses and validates a scenario from TOML text.
    ///
    /// A value written as a range ([`ranges`]) is read as its centre and listed in
    /// [`Scenario::ranges`].
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let (plain, found) = ranges::extract(text).map_err(|e| e.locate(text, None))?;
        let mut s = Self::from_plain_toml(&plain)?;
        s.ranges = found;
        Ok(s)
    }

    /// As [`Scenario::from_toml`], but the ranges (in the order of [`Scenario::ranges`]) take
    /// `values` instead of their centres: one sample of a forecast. The values are checked as
    /// plain values.
    pub fn from_toml_sample(text: &str, values: &[f64]) -> Result<Self, ScenarioError> {
        let (plain, found) =
            ranges::extract_with(text, Some(values)).map_err(|e| e.locate(text, None))?;
        let mut s = Self::from_plain_toml(&plain)?;
        s.ranges = found;
        Ok(s)
    }

    fn from_plain_toml(text: &str) -> Result<Self, ScenarioError> {
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
    use crate::domain::{AutoEnrollment, Location, OsRelease, UsagePattern};

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
    fn former_overflows_are_refused_before_anything_runs() {
        // Each of these passed validation and then wrapped 32-bit minutes.
        for (extra, field) in [
            (
                "[path2]\ndevices_per_day = 1073741824\n",
                "path2.devices_per_day",
            ),
            (
                "[[strategy.steps]]\nname = \"s\"\naction = \"pause\"\ndate = 9999-12-31\ndelay_days = 5\n",
                "strategy.steps[0].date",
            ),
            (
                "[cloud]\nclient_install_minutes = 4294967295\n",
                "cloud.client_install_minutes",
            ),
            (
                "[[strategy.gates]]\nname = \"g\"\nmetric = \"tickets_per_day\"\ninterval_hours = 1073741824\nsuccess_at_most = 1\n",
                "strategy.gates[0].interval_hours",
            ),
            (
                "[workloads.client_apps]\ndetection_hours = 4294967295\n",
                "workloads.client_apps.detection_hours",
            ),
        ] {
            let e = err(extra);
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert!(e.line.is_some(), "{e}");
        }
    }

    #[test]
    fn the_fleet_plus_arrivals_stays_within_the_maximum() {
        let e = err("[path2]\ndevices_per_day = 50000000\n");
        assert!(e.message.contains("fleet plus new devices"), "{e}");
        let mut s =
            Scenario::from_toml(&format!("{MINIMAL}[path2]\ndevices_per_day = 4000000\n")).unwrap();
        assert!(s.set_devices(MAX_DEVICES).is_err());
        assert!(s.set_devices(1000).is_ok());
    }

    #[test]
    fn non_utf8_bytes_give_their_offset() {
        let mut bytes = MINIMAL.as_bytes().to_vec();
        bytes.extend_from_slice(b"# caf\xe9\n");
        let e = Scenario::from_bytes(&bytes).unwrap_err();
        let at = MINIMAL.len() + "# caf".len();
        assert!(e.message.contains(&format!("byte offset {at}")), "{e}");
        assert_eq!((e.line, e.column), (Some(6), Some(6)));
    }

    #[test]
    fn mix_sampling_follows_shares() {
        let m = Mix::new(&[(1u8, 0.25), (2, 0.0), (3, 0.75)]).unwrap();
        assert_eq!(m.sample(0), 1);
        assert_eq!(m.sample(u64::MAX / 4 - 1000), 1);
        assert_eq!(m.sample(u64::MAX / 4 + 1000), 3);
        assert_eq!(m.sample(u64::MAX), 3);
    }

    #[test]
    fn lasting_causes_are_shares_and_leave_the_error_mix() {
        let e = err("[enrollment]\nlegacy_intune_agent = 1.01\n");
        assert!(e.to_string().contains("legacy_intune_agent"), "{e}");
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
        let e = err("[enrollment]\nerrors = { \"0x80192EE2\" = 0.5, \"0x80180026\" = 0.5 }\n");
        assert!(e.to_string().contains("legacy_intune_agent"), "{e}");
        let e = err("[enrollment]\nplatform_restriction_below = \"win10_9999\"\n");
        assert!(e.to_string().contains("platform_restriction_below"), "{e}");
    }

    #[test]
    fn export_rate_has_a_range() {
        let e = err("[timing]\naad_connect_export_per_hour = 0\n");
        assert!(e.to_string().contains("aad_connect_export_per_hour"), "{e}");
        let e = err("[timing]\naad_connect_export_per_hour = 10000001\n");
        assert!(e.to_string().contains("from 1 to 10000000"), "{e}");
        assert!(
            Scenario::from_toml(&format!(
                "{MINIMAL}[timing]\naad_connect_export_per_hour = 10000000\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn tenant_attach_takes_a_date() {
        let e = err("[tenant_attach]\ndate = \"soon\"\n");
        assert!(e.to_string().contains("tenant_attach"), "{e}");
        let e = err("[tenant_attach]\nwhen = 2027-01-05\n");
        assert!(e.to_string().contains("when"), "{e}");
        let s =
            Scenario::from_toml(&format!("{MINIMAL}[tenant_attach]\ndate = 2027-01-05\n")).unwrap();
        assert_eq!(s.tenant_attach_at, Some(1440));
    }

    #[test]
    fn domains_are_checked() {
        let d = |extra: &str| {
            format!(
                "[[domains]]\nname = \"a\"\nshare = 0.5\nidentity = \"federated\"\n[[domains]]\nname = \"b\"\nidentity = \"pass_through\"\n{extra}"
            )
        };
        let e = err(&d("share = 0.6\n"));
        assert!(e.to_string().contains("domain shares"), "{e}");
        let e = err(&d("share = 1.5\n"));
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
        let e = err(&d("share = 0.5\nupn = true\n"));
        assert!(e.to_string().contains("upn"), "{e}");
        let e = err("[[domains]]\nname = \"a\"\nshare = 1.0\nidentity = \"kerberos\"\n");
        assert!(e.to_string().contains("identity"), "{e}");
        let s = Scenario::from_toml(&format!("{MINIMAL}{}", d("share = 0.5\n"))).unwrap();
        assert_eq!(s.domains.len(), 2);
        assert!(s.domains[1].upn_routable);
    }

    /// `(line, field, message)` of the error `extra` gives.
    fn where_and_what(extra: &str) -> (Option<usize>, String, String) {
        let e = err(extra);
        (e.line, e.field.clone().unwrap_or_default(), e.message)
    }

    const TWO_SITES: &str =
        "[[sites]]\ncode = \"P01\"\nshare = 0.5\n[[sites]]\ncode = \"P02\"\nshare = 0.5\n";

    #[test]
    fn conditional_mixes_resolve_per_value() {
        let s = Scenario::from_toml(&format!(
            "{MINIMAL}{TWO_SITES}[fleet.os.by_site.P02]\nwindows_7 = 1.0\n[fleet.location.by_usage.laptop_intermittent]\ninternet_only = 0.8\nvpn = 0.2\n"
        ))
        .unwrap();
        let os = s.fleet.by.os.as_ref().unwrap();
        assert_eq!(os.on, FleetAttr::Site);
        assert_eq!(os.mixes[0], None);
        assert_eq!(
            os.mixes[1].as_ref().unwrap().share(OsRelease::Windows7),
            1.0
        );
        let loc = s.fleet.by.location.as_ref().unwrap();
        assert_eq!(loc.on, FleetAttr::Usage);
        let laptop = UsagePattern::LaptopIntermittent.index();
        assert_eq!(
            loc.mixes[laptop]
                .as_ref()
                .unwrap()
                .share(Location::InternetOnly),
            0.8
        );
        // A table of by_ tables alone keeps the default fleet-wide mix.
        assert_eq!(s.fleet.os, Scenario::from_toml(MINIMAL).unwrap().fleet.os);
        assert_eq!(
            s.fleet.by.list(),
            vec![
                ("location", FleetAttr::Usage, 1),
                ("os", FleetAttr::Site, 1)
            ]
        );
        assert!(
            Scenario::from_toml(MINIMAL)
                .unwrap()
                .fleet
                .by
                .list()
                .is_empty()
        );
    }

    #[test]
    fn a_conditional_mix_must_sum_to_1() {
        let (line, field, msg) =
            where_and_what("[fleet.location.by_usage.laptop_intermittent]\ninternet_only = 0.5\n");
        assert_eq!(line, Some(6));
        assert_eq!(field, "fleet.location.by_usage.laptop_intermittent");
        assert!(msg.contains("sum to 1") && msg.contains("0.5"), "{msg}");
        // Inline too, and within the same tolerance as a plain mix.
        let (line, field, _) =
            where_and_what("[fleet.os]\nby_site = { P01 = { windows_7 = 0.2 } }\n");
        assert_eq!((line, field.as_str()), (Some(7), "fleet.os.by_site.P01"));
        assert!(
            Scenario::from_toml(&format!(
                "{MINIMAL}[fleet.os.by_site.P01]\nwindows_7 = 0.5\nwin10_22h2 = 0.5000005\n"
            ))
            .is_ok()
        );
        let (_, _, msg) = where_and_what("[fleet.os.by_site.P01]\nwin12 = 1.0\n");
        assert!(msg.contains("win11_24h2"), "{msg}");
    }

    #[test]
    fn a_conditional_mix_names_known_values() {
        let (line, field, msg) =
            where_and_what("[fleet.location.by_usage.laptop]\ninternet_only = 1.0\n");
        assert_eq!(
            (line, field.as_str()),
            (Some(6), "fleet.location.by_usage.laptop")
        );
        assert!(msg.contains("laptop_intermittent"), "{msg}");
        let (line, field, msg) = where_and_what(&format!(
            "{TWO_SITES}[fleet.os.by_site.P09]\nwindows_7 = 1.0\n"
        ));
        assert_eq!((line, field.as_str()), (Some(12), "fleet.os.by_site.P09"));
        assert!(msg.contains("[[sites]] code: P01, P02"), "{msg}");
        let (line, _, msg) =
            where_and_what("[fleet.os.by_domain.\"corp.example.com\"]\nwindows_7 = 1.0\n");
        assert_eq!(line, Some(6));
        assert!(msg.contains("[[domains]] name: (none defined)"), "{msg}");
        let (line, field, msg) = where_and_what("[fleet.location.by_color.red]\nvpn = 1.0\n");
        assert_eq!((line, field.as_str()), (Some(6), "fleet.location.by_color"));
        assert!(
            msg.contains("by_site") && !msg.contains("by_identity"),
            "{msg}"
        );
    }

    #[test]
    fn a_mix_depends_only_on_one_attribute_drawn_before_it() {
        let (line, field, msg) = where_and_what("[fleet.usage.by_os.windows_7]\nalways_on = 1.0\n");
        assert_eq!((line, field.as_str()), (Some(6), "fleet.usage.by_os"));
        assert!(
            msg.contains("drawn before") && msg.contains("site -> usage -> location -> os"),
            "{msg}"
        );
        let (_, field, _) = where_and_what("[fleet.location.by_location.vpn]\nvpn = 1.0\n");
        assert_eq!(field, "fleet.location.by_location");
        let (_, field, msg) = where_and_what(
            "[fleet.location.by_usage.always_on]\nvpn = 1.0\n[fleet.location.by_site.P01]\nvpn = 1.0\n",
        );
        assert!(field.starts_with("fleet.location.by_"), "{field}");
        assert!(msg.contains("keep one"), "{msg}");
        // With [[domains]] the identity option is the domain's.
        let (line, field, msg) = where_and_what(
            "[[domains]]\nname = \"a\"\nshare = 1.0\nidentity = \"federated\"\n[fleet.identity.by_site.P01]\nfederated = 1.0\n",
        );
        assert_eq!((line, field.as_str()), (Some(10), "fleet.identity.by_site"));
        assert!(msg.contains("[[domains]]"), "{msg}");
    }
}
