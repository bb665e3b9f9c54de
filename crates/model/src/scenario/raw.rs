//! The raw scenario schema, section by section, as written in a scenario file: unknown fields
//! are refused and every default lives here, in the `Default` impls. Nothing is checked across
//! fields here.
//!
//! Leaves to others: validation and resolution into typed values ([`super::validate`]); the
//! schema of collections, workloads and the strategy ([`super::strategy`]).

use super::sections::FleetAttr;
use super::strategy::{RawCollection, RawRings, RawStrategy, RawWorkload};
use super::units::*;
use crate::domain::{
    EnrollmentError, IdentityOption, JoinType, Location, OsRelease, Retry, UsagePattern, Workload,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

// ---------------------------------------------------------------------------------------------
// The raw schema, as written in a scenario file. Defaults live in the `Default` impls below.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) seed: u64,
    /// `posterior`: the path of a calibration's posterior.csv, relative to the scenario file
    /// (the runner reads it; docs/CALIBRATE.md).
    #[serde(default)]
    pub(super) posterior: Option<String>,
    pub(super) start_date: Date,
    pub(super) days: Spanned<Whole>,
    pub(super) fleet: RawFleet,
    #[serde(default)]
    pub(super) sites: Vec<RawSite>,
    #[serde(default)]
    pub(super) collections: Vec<RawCollection>,
    #[serde(default)]
    pub(super) rings: RawRings,
    #[serde(default)]
    pub(super) workloads: BTreeMap<Workload, RawWorkload>,
    #[serde(default)]
    pub(super) strategy: RawStrategy,
    #[serde(default)]
    pub(super) hybrid_join: RawHybridJoin,
    #[serde(default)]
    pub(super) co_management: RawCoManagement,
    #[serde(default)]
    pub(super) timing: RawTiming,
    #[serde(default)]
    pub(super) usage: RawUsage,
    #[serde(default)]
    pub(super) enrollment: RawEnrollment,
    #[serde(default)]
    pub(super) remediation: RawRemediationTable,
    #[serde(default)]
    pub(super) tenant: RawTenant,
    #[serde(default)]
    pub(super) admin_roles: RawAdminRoles,
    #[serde(default)]
    pub(super) cloud: RawCloud,
    #[serde(default)]
    pub(super) path2: RawPath2,
    #[serde(default)]
    pub(super) client_push: RawProgram,
    #[serde(default)]
    pub(super) os_upgrade: RawOsUpgrade,
    #[serde(default)]
    pub(super) mdm_migration: RawProgram,
    #[serde(default)]
    pub(super) tenant_attach: RawTenantAttach,
    #[serde(default)]
    pub(super) domains: Vec<RawDomain>,
}

/// `[[domains]]`: a user domain with its share of the fleet, identity option and UPN suffix.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDomain {
    pub(super) name: Spanned<String>,
    pub(super) share: Share,
    pub(super) identity: IdentityOption,
    #[serde(default = "yes")]
    pub(super) upn_routable: bool,
}

pub(super) fn yes() -> bool {
    true
}

/// `[tenant_attach]`: when ConfigMgr's devices are uploaded to the Intune admin center.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTenantAttach {
    pub(super) date: Option<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTenant {
    pub(super) azure_ad_premium: bool,
    pub(super) intune_admin_license: bool,
    pub(super) aad_connect_sync: bool,
}

impl Default for RawTenant {
    fn default() -> Self {
        Self {
            azure_ad_premium: true,
            intune_admin_license: true,
            aad_connect_sync: true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAdminRoles {
    pub(super) subscription_manager: bool,
    pub(super) global_administrator: bool,
    pub(super) full_administrator_all_scope: bool,
}

impl Default for RawAdminRoles {
    fn default() -> Self {
        Self {
            subscription_manager: true,
            global_administrator: true,
            full_administrator_all_scope: true,
        }
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawVmSize {
    Standard,
    Large,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCloud {
    pub(super) enhanced_http: bool,
    pub(super) cloud_services: bool,
    pub(super) site_onboarded_to_azure_ad: bool,
    pub(super) management_points_for_cmg: bool,
    pub(super) cmg_vms: Spanned<Whole>,
    pub(super) cmg_vm_size: RawVmSize,
    pub(super) cmg_connection_points: Option<Spanned<Whole>>,
    pub(super) client_app_date: Option<Date>,
    pub(super) client_install_minutes: Whole,
    pub(super) client_install_failure_rate: Share,
    pub(super) ccmsetup_command_line_length: Whole,
    pub(super) registration_minutes: Whole,
}

impl Default for RawCloud {
    fn default() -> Self {
        Self {
            enhanced_http: true,
            cloud_services: true,
            site_onboarded_to_azure_ad: true,
            management_points_for_cmg: true,
            cmg_vms: Spanned::new(0..0, Whole(1)),
            cmg_vm_size: RawVmSize::Standard,
            cmg_connection_points: None,
            client_app_date: None,
            client_install_minutes: Whole(30),
            client_install_failure_rate: Share(0.03),
            ccmsetup_command_line_length: Whole(250),
            registration_minutes: Whole(15),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBatch {
    pub(super) date: Date,
    pub(super) devices: Whole,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPath2 {
    pub(super) devices_per_day: Whole,
    pub(super) from_date: Option<Date>,
    pub(super) until_date: Option<Date>,
    pub(super) batches: Vec<RawBatch>,
    pub(super) os: Mix<OsRelease>,
    pub(super) usage: Mix<UsagePattern>,
    pub(super) esp_minutes: Whole,
    pub(super) esp_failure_rate: Share,
    pub(super) esp_timeout_rate: Share,
    pub(super) esp_timeout_minutes: Whole,
    pub(super) autopilot_into_co_management: bool,
}

impl Default for RawPath2 {
    fn default() -> Self {
        Self {
            devices_per_day: Whole(0),
            from_date: None,
            until_date: None,
            batches: Vec::new(),
            os: Mix::new(&[(OsRelease::Win11_24H2, 0.7), (OsRelease::Win11_23H2, 0.3)])
                .expect("sums to 1"),
            usage: Mix::new(&[
                (UsagePattern::OfficeHours, 0.4),
                (UsagePattern::LaptopIntermittent, 0.6),
            ])
            .expect("sums to 1"),
            esp_minutes: Whole(40),
            esp_failure_rate: Share(0.03),
            esp_timeout_rate: Share(0.02),
            esp_timeout_minutes: Whole(60),
            autopilot_into_co_management: false,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProgram {
    pub(super) devices_per_day: Option<Rate>,
    pub(super) devices_per_week: Option<Rate>,
    pub(super) start_date: Option<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawOsUpgrade {
    pub(super) devices_per_day: Option<Rate>,
    pub(super) devices_per_week: Option<Rate>,
    pub(super) start_date: Option<Date>,
    pub(super) target: OsRelease,
    pub(super) legacy_devices_per_week: Option<Spanned<Days>>,
}

impl Default for RawOsUpgrade {
    fn default() -> Self {
        Self {
            devices_per_day: None,
            devices_per_week: None,
            start_date: None,
            target: OsRelease::Win10_22H2,
            legacy_devices_per_week: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFleet {
    pub(super) devices: Spanned<Whole>,
    pub(super) licensed: Share,
    pub(super) third_party_mdm: Share,
    pub(super) os: RawCondMix<OsRelease>,
    pub(super) join: RawCondMix<JoinType>,
    pub(super) configmgr_client: RawClientShares,
    pub(super) identity: RawCondMix<IdentityOption>,
    pub(super) location: RawCondMix<Location>,
    pub(super) usage: RawCondMix<UsagePattern>,
    pub(super) inventory: Option<String>,
    pub(super) inventory_format: Option<String>,
    pub(super) inventory_columns: BTreeMap<String, String>,
}

impl Default for RawFleet {
    fn default() -> Self {
        use OsRelease::*;
        Self {
            devices: Spanned::new(0..0, Whole(10_000)),
            licensed: Share(0.99),
            third_party_mdm: Share(0.01),
            os: RawCondMix::plain(
                Mix::new(&[
                    (Windows7, 0.01),
                    (Windows81, 0.005),
                    (Win10_1607, 0.01),
                    (Win10_1709, 0.005),
                    (Win10_1809, 0.01),
                    (Win10_21H2, 0.05),
                    (Win10_22H2, 0.40),
                    (Win11_22H2, 0.10),
                    (Win11_23H2, 0.25),
                    (Win11_24H2, 0.13),
                    (Win10Mobile, 0.0),
                    (WindowsHome, 0.01),
                    (WindowsServer, 0.02),
                ])
                .expect("default OS mix sums to 1"),
            ),
            join: RawCondMix::plain(
                Mix::new(&[
                    (JoinType::OnPremisesAd, 0.70),
                    (JoinType::HybridJoined, 0.20),
                    (JoinType::AzureAdJoined, 0.05),
                    (JoinType::AzureAdRegistered, 0.02),
                    (JoinType::Workgroup, 0.03),
                ])
                .expect("default join mix sums to 1"),
            ),
            configmgr_client: RawClientShares::default(),
            identity: RawCondMix::plain(
                Mix::new(&[
                    (IdentityOption::PasswordHashSync, 0.7),
                    (IdentityOption::PassThrough, 0.1),
                    (IdentityOption::Federated, 0.2),
                ])
                .expect("default identity mix sums to 1"),
            ),
            location: RawCondMix::plain(
                Mix::new(&[
                    (Location::CorporateNetwork, 0.6),
                    (Location::Vpn, 0.35),
                    (Location::InternetOnly, 0.05),
                ])
                .expect("default location mix sums to 1"),
            ),
            usage: RawCondMix::plain(
                Mix::new(&[
                    (UsagePattern::OfficeHours, 0.55),
                    (UsagePattern::AlwaysOn, 0.15),
                    (UsagePattern::LaptopIntermittent, 0.30),
                ])
                .expect("default usage mix sums to 1"),
            ),
            inventory: None,
            inventory_format: None,
            inventory_columns: BTreeMap::new(),
        }
    }
}

/// A fleet mix as written: its shares (`all`, `None` when the table gives only `by_*` tables,
/// so the default stays) and its mixes per value of another attribute
/// (`[fleet.location.by_usage.laptop_intermittent]`), each summing to 1 like a plain mix.
pub(super) struct RawCondMix<K: Copy + Ord> {
    pub(super) all: Option<Mix<K>>,
    /// Per `by_<attribute>` table, in file order: each value's name and mix, with the mix's
    /// place in the file.
    pub(super) by: Vec<(FleetAttr, PerValue<K>)>,
}

/// The mixes of one `by_<attribute>` table: each value's name and mix, with its place.
pub(super) type PerValue<K> = Vec<(String, Spanned<Mix<K>>)>;

impl<K: Copy + Ord> RawCondMix<K> {
    pub(super) fn plain(all: Mix<K>) -> Self {
        Self {
            all: Some(all),
            by: Vec::new(),
        }
    }
}

/// A key of a fleet mix: one of its values, or `by_<attribute>`.
enum CondKey<K> {
    Value(K),
    By(FleetAttr),
}

impl<'de, K: Deserialize<'de>> Deserialize<'de> for CondKey<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if let Some(attr) = s.strip_prefix("by_") {
            // Identity is settled last: nothing may depend on it.
            let known = |a: &FleetAttr| *a != FleetAttr::Identity;
            return FleetAttr::from_name(attr)
                .filter(known)
                .map(CondKey::By)
                .ok_or_else(|| {
                    let names: Vec<String> = FleetAttr::ALL
                        .iter()
                        .filter(|a| known(a))
                        .map(|a| format!("by_{}", a.name()))
                        .collect();
                    de::Error::custom(format!(
                        "unknown key `{s}`: a mix depends on one of {}",
                        names.join(", ")
                    ))
                });
        }
        K::deserialize(de::value::StrDeserializer::<D::Error>::new(&s)).map(CondKey::Value)
    }
}

impl<'de, K: Copy + Ord + Deserialize<'de>> Deserialize<'de> for RawCondMix<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(std::marker::PhantomData<K>);
        impl<'de, K: Copy + Ord + Deserialize<'de>> Visitor<'de> for V<K> {
            type Value = RawCondMix<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of shares that sum to 1, and optionally by_<attribute> tables")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                let mut by = Vec::new();
                while let Some(key) = map.next_key::<CondKey<K>>()? {
                    match key {
                        CondKey::Value(k) => pairs.push((k, map.next_value::<Share>()?.0)),
                        CondKey::By(attr) => {
                            let per: BTreeMap<String, Spanned<Mix<K>>> = map.next_value()?;
                            by.push((attr, per.into_iter().collect()));
                        }
                    }
                }
                let all = if pairs.is_empty() && !by.is_empty() {
                    None
                } else {
                    Some(Mix::new(&pairs).map_err(de::Error::custom)?)
                };
                Ok(RawCondMix { all, by })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawClientShares {
    pub(super) on_premises_ad: Share,
    pub(super) hybrid_joined: Share,
    pub(super) azure_ad_joined: Share,
    pub(super) azure_ad_registered: Share,
    pub(super) workgroup: Share,
}

impl Default for RawClientShares {
    fn default() -> Self {
        Self {
            on_premises_ad: Share(0.97),
            hybrid_joined: Share(0.97),
            azure_ad_joined: Share(0.30),
            azure_ad_registered: Share(0.0),
            workgroup: Share(0.50),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub(super) code: Spanned<String>,
    pub(super) share: Share,
    #[serde(default = "default_site_version")]
    pub(super) version: Spanned<Whole>,
    #[serde(default = "one")]
    pub(super) management_points: Whole,
    #[serde(default = "default_hierarchy")]
    pub(super) hierarchy: String,
}

pub(super) fn one() -> Whole {
    Whole(1)
}

pub(super) fn default_hierarchy() -> String {
    "H1".into()
}

pub(super) fn default_site_version() -> Spanned<Whole> {
    Spanned::new(0..0, Whole(2403))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHybridJoin {
    pub(super) auto_register: bool,
    pub(super) auto_register_date: Option<Date>,
}

impl Default for RawHybridJoin {
    fn default() -> Self {
        Self {
            auto_register: true,
            auto_register_date: None,
        }
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawScope {
    None,
    Pilot,
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCoManagement {
    pub(super) enable_date: Option<Date>,
    pub(super) auto_enrollment: RawScope,
    pub(super) pilot_collection: Option<Spanned<String>>,
}

impl Default for RawCoManagement {
    fn default() -> Self {
        Self {
            enable_date: None,
            auto_enrollment: RawScope::All,
            pilot_collection: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTiming {
    pub(super) policy_poll_minutes: Whole,
    pub(super) join_task_minutes: Whole,
    pub(super) aad_connect_sync_minutes: Whole,
    pub(super) aad_connect_export_per_hour: Whole,
    pub(super) enrollment_retry_minutes: Whole,
    pub(super) enrollment_tries: Whole,
    pub(super) enrollment_retry_cycle_minutes: Whole,
    pub(super) randomization_days_per_100k: Days,
    pub(super) randomization_max_days: Days,
    pub(super) randomization_min_minutes: Whole,
}

impl Default for RawTiming {
    fn default() -> Self {
        Self {
            policy_poll_minutes: Whole(60),
            join_task_minutes: Whole(60),
            aad_connect_sync_minutes: Whole(30),
            aad_connect_export_per_hour: Whole(84_000),
            enrollment_retry_minutes: Whole(15),
            enrollment_tries: Whole(3),
            enrollment_retry_cycle_minutes: Whole(1440),
            randomization_days_per_100k: Days(3.0),
            randomization_max_days: Days(5.0),
            randomization_min_minutes: Whole(60),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawUsage {
    pub(super) workday_start: ClockTime,
    pub(super) workday_start_spread_minutes: Whole,
    pub(super) workday_minutes: Whole,
    pub(super) laptop_presence: Share,
    pub(super) always_on_sign_in: ClockTime,
}

impl Default for RawUsage {
    fn default() -> Self {
        Self {
            workday_start: ClockTime(7 * 60),
            workday_start_spread_minutes: Whole(120),
            workday_minutes: Whole(570),
            laptop_presence: Share(0.5),
            always_on_sign_in: ClockTime(8 * 60),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEnrollment {
    pub(super) failure_rate: Share,
    pub(super) errors: Mix<EnrollmentError>,
    pub(super) device_token_fallback: Share,
    pub(super) non_routable_upn: Share,
    pub(super) legacy_intune_agent: Share,
    pub(super) already_enrolled: Share,
    pub(super) platform_restriction_below: Option<OsRelease>,
}

impl Default for RawEnrollment {
    fn default() -> Self {
        use EnrollmentError::*;
        Self {
            failure_rate: Share(0.10),
            errors: Mix::new(&[
                (MfaPromptIgnored, 0.20),
                (MdmNotConfigured, 0.05),
                (NameNotResolved, 0.15),
                (InternetTimeout, 0.15),
                (ServerNotFound, 0.10),
                (NeedsUserSignIn, 0.15),
                (NoAzureAdToken, 0.05),
                (UserNotAuthorized, 0.10),
                (LicenseBadState, 0.05),
            ])
            .expect("default error mix sums to 1"),
            device_token_fallback: Share(0.05),
            non_routable_upn: Share(0.01),
            legacy_intune_agent: Share(0.002),
            already_enrolled: Share(0.004),
            platform_restriction_below: None,
        }
    }
}

/// `[remediation]`: `default` and one entry per permanent error code.
#[derive(Default)]
pub(super) struct RawRemediationTable {
    pub(super) default: Option<RawRemediation>,
    pub(super) per_error: Vec<(EnrollmentError, RawRemediation)>,
}

impl<'de> Deserialize<'de> for RawRemediationTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRemediationTable;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a table: default = {...} and error codes such as \"0x80180018\" = {...}",
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = RawRemediationTable::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "default" {
                        out.default = Some(map.next_value()?);
                        continue;
                    }
                    let permanent: Vec<&str> = EnrollmentError::ALL
                        .iter()
                        .filter(|e| e.retry() == Retry::AfterRemediation)
                        .map(|e| e.name())
                        .collect();
                    match EnrollmentError::from_name(&key) {
                        Some(e) if e.retry() == Retry::AfterRemediation => {
                            out.per_error.push((e, map.next_value()?));
                        }
                        Some(_) => {
                            return Err(de::Error::custom(format!(
                                "error {key} is transient and retried by the client; remediation applies only to permanent errors: default, {}",
                                permanent.join(", ")
                            )));
                        }
                        None => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{key}`, expected default or a permanent error code: {}",
                                permanent.join(", ")
                            )));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRemediation {
    pub(super) mean_days: Option<Days>,
    pub(super) date: Option<Date>,
    #[serde(default)]
    pub(super) never: bool,
}
