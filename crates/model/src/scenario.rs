//! The scenario file: a raw serde schema (unknown fields refused, defaults in one place), resolved
//! and validated into a typed [`Scenario`] before anything runs.

use crate::domain::Workload;
use crate::domain::{
    AutoEnrollment, EnrollmentError, IdentityOption, JoinType, Location, OsRelease, Retry,
    UsagePattern,
};
use crate::error::ScenarioError;
pub use crate::strategy::{Collection, Strategy, WorkloadSettings};
use crate::strategy::{
    RawCollection, RawRings, RawStrategy, RawWorkload, resolve_collections, resolve_strategy,
    resolve_workloads,
};
use chrono::NaiveDate;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use toml::Spanned;

/// Simulated time in minutes since the scenario's start date at 00:00.
pub type Minute = u32;

/// Minutes in a day.
pub const DAY: Minute = 1440;

// ---------------------------------------------------------------------------------------------
// Value types that validate themselves while they are read, so the error points at the value.

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
                "expected a share between 0 and 1, found {v}"
            )))
        }
    }
}

/// A duration or count that must be a whole number, 0 or more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Whole(pub u32);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = i64::deserialize(d).map_err(|_| {
            de::Error::custom("expected a whole number, 0 or more (durations are in minutes)")
        })?;
        u32::try_from(v).map(Whole).map_err(|_| {
            de::Error::custom(format!(
                "expected a whole number from 0 to {}, found {v} (durations cannot be negative)",
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
        if v.is_finite() && (0.0..=36_500.0).contains(&v) {
            Ok(Days(v))
        } else {
            Err(de::Error::custom(format!(
                "expected a number of days from 0 to 36500, found {v} (durations cannot be negative)"
            )))
        }
    }
}

/// A calendar date written as a TOML date: `2027-01-04`.
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
            .map(Date)
            .ok_or_else(|| de::Error::custom(expected)),
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

// ---------------------------------------------------------------------------------------------
// The raw schema, as written in a scenario file. Defaults live in the `Default` impls below.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    seed: u64,
    start_date: Date,
    days: Spanned<Whole>,
    fleet: RawFleet,
    #[serde(default)]
    sites: Vec<RawSite>,
    #[serde(default)]
    collections: Vec<RawCollection>,
    #[serde(default)]
    rings: RawRings,
    #[serde(default)]
    workloads: BTreeMap<Workload, RawWorkload>,
    #[serde(default)]
    strategy: RawStrategy,
    #[serde(default)]
    hybrid_join: RawHybridJoin,
    #[serde(default)]
    co_management: RawCoManagement,
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    usage: RawUsage,
    #[serde(default)]
    enrollment: RawEnrollment,
    #[serde(default)]
    remediation: RawRemediationTable,
    #[serde(default)]
    tenant: RawTenant,
    #[serde(default)]
    admin_roles: RawAdminRoles,
    #[serde(default)]
    cloud: RawCloud,
    #[serde(default)]
    path2: RawPath2,
    #[serde(default)]
    client_push: RawProgram,
    #[serde(default)]
    os_upgrade: RawOsUpgrade,
    #[serde(default)]
    mdm_migration: RawProgram,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawTenant {
    azure_ad_premium: bool,
    intune_admin_license: bool,
    aad_connect_sync: bool,
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
struct RawAdminRoles {
    subscription_manager: bool,
    global_administrator: bool,
    full_administrator_all_scope: bool,
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
enum RawVmSize {
    Standard,
    Large,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCloud {
    enhanced_http: bool,
    cloud_services: bool,
    site_onboarded_to_azure_ad: bool,
    management_points_for_cmg: bool,
    cmg_vms: Spanned<Whole>,
    cmg_vm_size: RawVmSize,
    client_app_date: Option<Date>,
    client_install_minutes: Whole,
    client_install_failure_rate: Share,
    ccmsetup_command_line_length: Whole,
    registration_minutes: Whole,
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
struct RawBatch {
    date: Date,
    devices: Whole,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPath2 {
    devices_per_day: Whole,
    from_date: Option<Date>,
    until_date: Option<Date>,
    batches: Vec<RawBatch>,
    os: Mix<OsRelease>,
    usage: Mix<UsagePattern>,
    esp_minutes: Whole,
    esp_failure_rate: Share,
    esp_timeout_rate: Share,
    esp_timeout_minutes: Whole,
    autopilot_into_co_management: bool,
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
struct RawProgram {
    devices_per_day: Option<Days>,
    devices_per_week: Option<Days>,
    start_date: Option<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOsUpgrade {
    devices_per_day: Option<Days>,
    devices_per_week: Option<Days>,
    start_date: Option<Date>,
    target: OsRelease,
}

impl Default for RawOsUpgrade {
    fn default() -> Self {
        Self {
            devices_per_day: None,
            devices_per_week: None,
            start_date: None,
            target: OsRelease::Win10_22H2,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFleet {
    devices: Spanned<Whole>,
    licensed: Share,
    third_party_mdm: Share,
    os: Mix<OsRelease>,
    join: Mix<JoinType>,
    configmgr_client: RawClientShares,
    identity: Mix<IdentityOption>,
    location: Mix<Location>,
    usage: Mix<UsagePattern>,
}

impl Default for RawFleet {
    fn default() -> Self {
        use OsRelease::*;
        Self {
            devices: Spanned::new(0..0, Whole(10_000)),
            licensed: Share(0.99),
            third_party_mdm: Share(0.01),
            os: Mix::new(&[
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
            join: Mix::new(&[
                (JoinType::OnPremisesAd, 0.70),
                (JoinType::HybridJoined, 0.20),
                (JoinType::AzureAdJoined, 0.05),
                (JoinType::AzureAdRegistered, 0.02),
                (JoinType::Workgroup, 0.03),
            ])
            .expect("default join mix sums to 1"),
            configmgr_client: RawClientShares::default(),
            identity: Mix::new(&[
                (IdentityOption::PasswordHashSync, 0.7),
                (IdentityOption::PassThrough, 0.1),
                (IdentityOption::Federated, 0.2),
            ])
            .expect("default identity mix sums to 1"),
            location: Mix::new(&[
                (Location::CorporateNetwork, 0.6),
                (Location::Vpn, 0.35),
                (Location::InternetOnly, 0.05),
            ])
            .expect("default location mix sums to 1"),
            usage: Mix::new(&[
                (UsagePattern::OfficeHours, 0.55),
                (UsagePattern::AlwaysOn, 0.15),
                (UsagePattern::LaptopIntermittent, 0.30),
            ])
            .expect("default usage mix sums to 1"),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawClientShares {
    on_premises_ad: Share,
    hybrid_joined: Share,
    azure_ad_joined: Share,
    azure_ad_registered: Share,
    workgroup: Share,
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
struct RawSite {
    code: Spanned<String>,
    share: Share,
    #[serde(default = "default_site_version")]
    version: Spanned<Whole>,
    #[serde(default = "one")]
    management_points: Whole,
    #[serde(default = "default_hierarchy")]
    hierarchy: String,
}

fn one() -> Whole {
    Whole(1)
}

fn default_hierarchy() -> String {
    "H1".into()
}

fn default_site_version() -> Spanned<Whole> {
    Spanned::new(0..0, Whole(2403))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHybridJoin {
    auto_register: bool,
    auto_register_date: Option<Date>,
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
enum RawScope {
    None,
    Pilot,
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCoManagement {
    enable_date: Option<Date>,
    auto_enrollment: RawScope,
    pilot_collection: Option<Spanned<String>>,
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
struct RawTiming {
    policy_poll_minutes: Whole,
    join_task_minutes: Whole,
    aad_connect_sync_minutes: Whole,
    enrollment_retry_minutes: Whole,
    enrollment_tries: Whole,
    enrollment_retry_cycle_minutes: Whole,
    randomization_days_per_100k: Days,
    randomization_max_days: Days,
    randomization_min_minutes: Whole,
}

impl Default for RawTiming {
    fn default() -> Self {
        Self {
            policy_poll_minutes: Whole(60),
            join_task_minutes: Whole(60),
            aad_connect_sync_minutes: Whole(30),
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
struct RawUsage {
    workday_start: ClockTime,
    workday_start_spread_minutes: Whole,
    workday_minutes: Whole,
    laptop_presence: Share,
    always_on_sign_in: ClockTime,
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
struct RawEnrollment {
    failure_rate: Share,
    errors: Mix<EnrollmentError>,
}

impl Default for RawEnrollment {
    fn default() -> Self {
        use EnrollmentError::*;
        Self {
            failure_rate: Share(0.10),
            errors: Mix::new(&[
                (MfaPromptIgnored, 0.20),
                (MdmNotConfigured, 0.05),
                (NameNotResolved, 0.12),
                (InternetTimeout, 0.12),
                (ServerNotFound, 0.06),
                (NeedsUserSignIn, 0.15),
                (NoAzureAdToken, 0.05),
                (UserNotAuthorized, 0.06),
                (AlreadyEnrolled, 0.04),
                (PlatformBlocked, 0.02),
                (LicenseBadState, 0.04),
                (ManagementBlocked, 0.02),
                (NonRoutableUpn, 0.07),
            ])
            .expect("default error mix sums to 1"),
        }
    }
}

/// `[remediation]`: `default` and one entry per permanent error code.
#[derive(Default)]
struct RawRemediationTable {
    default: Option<RawRemediation>,
    per_error: Vec<(EnrollmentError, RawRemediation)>,
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
struct RawRemediation {
    mean_days: Option<Days>,
    date: Option<Date>,
    #[serde(default)]
    never: bool,
}

// ---------------------------------------------------------------------------------------------
// The resolved scenario.

/// A ConfigMgr primary site.
#[derive(Clone, Debug, PartialEq)]
pub struct Site {
    /// Site code, such as `P01`.
    pub code: String,
    /// ConfigMgr version, such as 2403.
    pub version: u32,
    /// Management points (each serves 25,000 clients).
    pub management_points: u32,
    /// The hierarchy the site belongs to (several may attach to one tenant from 1806).
    pub hierarchy: String,
}

/// Tenant-level prerequisites and the administrator roles the team holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    /// Azure AD (Entra ID) Premium licensing.
    pub azure_ad_premium: bool,
    /// At least one Intune license for the admin account.
    pub intune_admin_license: bool,
    /// Azure AD Connect syncs devices.
    pub aad_connect_sync: bool,
    /// Subscription manager (needed to create the CMG).
    pub subscription_manager: bool,
    /// Global administrator (needed to create Azure AD apps for cloud services).
    pub global_administrator: bool,
    /// Full administrator with All scope (needed to enable co-management).
    pub full_administrator_all_scope: bool,
}

/// Site prerequisites for Path 2 and the client installation from Intune through the CMG.
#[derive(Clone, Debug, PartialEq)]
pub struct Cloud {
    /// Enhanced HTTP on the site.
    pub enhanced_http: bool,
    /// Cloud services registered in Azure.
    pub cloud_services: bool,
    /// Site onboarded to Azure AD.
    pub site_onboarded_to_azure_ad: bool,
    /// Management points enabled for the CMG.
    pub management_points_for_cmg: bool,
    /// CMG VM instances (0: no gateway).
    pub cmg_vms: u32,
    /// Concurrent clients per VM: 6,000 Standard, 10,000 Large.
    pub clients_per_vm: u32,
    /// When Intune starts assigning the ConfigMgr client app.
    pub client_app_at: Minute,
    /// How long a client install holds a gateway connection.
    pub client_install: Minute,
    /// Probability that one install attempt fails (transient).
    pub client_install_failure_rate: f64,
    /// Length of the CCMSETUPCMD command line; over 1,024 characters every install fails.
    pub ccmsetup_command_line_length: u32,
    /// From install to registration with the site.
    pub registration: Minute,
}

impl Cloud {
    /// Concurrent clients the gateway serves at once.
    pub fn capacity(&self) -> u64 {
        u64::from(self.cmg_vms) * u64::from(self.clients_per_vm)
    }
}

/// New internet-based devices provisioned with Autopilot (Path 2).
#[derive(Clone, Debug, PartialEq)]
pub struct Path2 {
    /// Arrival minute of each batch and its size, in date order, then the daily flow.
    pub batches: Vec<(Minute, u32)>,
    /// Devices per day from `from` to `until` (exclusive).
    pub per_day: u32,
    /// First day of the daily flow.
    pub from_day: u32,
    /// Day after the last day of the daily flow.
    pub until_day: u32,
    /// OS mix of new devices.
    pub os: Mix<OsRelease>,
    /// Usage mix of new devices.
    pub usage: Mix<UsagePattern>,
    /// Enrollment Status Page duration.
    pub esp: Minute,
    /// Probability that provisioning fails (other than timeout).
    pub esp_failure_rate: f64,
    /// Probability that provisioning hits the ESP timeout (0x800705B4).
    pub esp_timeout_rate: f64,
    /// The ESP timeout.
    pub esp_timeout: Minute,
    /// Autopilot straight into co-management (2111+).
    pub into_co_management: bool,
}

impl Path2 {
    /// Devices arriving within the scenario.
    pub fn arrivals(&self) -> u32 {
        self.batches.iter().map(|b| b.1).sum::<u32>()
            + self.per_day * self.until_day.saturating_sub(self.from_day)
    }

    /// The minute (start of the day) arrival `a` (0-based) comes.
    pub fn arrival_day_start(&self, mut a: u32) -> Minute {
        for (at, n) in &self.batches {
            if a < *n {
                return *at;
            }
            a -= n;
        }
        (self.from_day + a / self.per_day.max(1)) * DAY
    }
}

/// A program that fixes devices at a steady rate, in device-id order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Program {
    /// When it starts.
    pub start: Minute,
    /// Minutes between two devices (may be fractional).
    pub minutes_per_device: f64,
}

impl Program {
    /// When the program reaches its `rank`-th device (0-based).
    pub fn time_of(&self, rank: u64) -> Minute {
        let t = f64::from(self.start) + rank as f64 * self.minutes_per_device;
        if t >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            t as Minute
        }
    }
}

/// What draws a fleet: the share of each attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetSpec {
    /// Number of devices.
    pub devices: u32,
    /// Share of devices whose primary user holds an Intune license.
    pub licensed: f64,
    /// Share of devices under a third-party MDM.
    pub third_party_mdm: f64,
    /// OS release mix.
    pub os: Mix<OsRelease>,
    /// Join type mix.
    pub join: Mix<JoinType>,
    /// Share of devices with the ConfigMgr client, by join type (indexed by `JoinType::index`).
    pub configmgr_client: [f64; 5],
    /// Identity option mix.
    pub identity: Mix<IdentityOption>,
    /// Location mix.
    pub location: Mix<Location>,
    /// Usage pattern mix.
    pub usage: Mix<UsagePattern>,
    /// Site shares (index into [`Scenario::sites`]).
    pub sites: Mix<u8>,
}

/// Every timing of the model, in minutes unless named otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// ConfigMgr machine policy poll interval.
    pub policy_poll: Minute,
    /// Hybrid join scheduled task interval.
    pub join_task: Minute,
    /// Azure AD Connect sync cycle.
    pub aad_connect_sync: Minute,
    /// Wait between enrollment tries after a transient error.
    pub enrollment_retry: Minute,
    /// Tries in one round before waiting for the next round.
    pub enrollment_tries: u32,
    /// Wait before a new round of tries.
    pub enrollment_retry_cycle: Minute,
    /// Randomization window per 100,000 devices in scope, in minutes.
    pub randomization_per_100k: Minute,
    /// Largest randomization window.
    pub randomization_max: Minute,
    /// Smallest randomization window.
    pub randomization_min: Minute,
}

/// When devices are on and users sign in.
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    /// Earliest start of the workday, minutes after midnight.
    pub workday_start: Minute,
    /// Each device's start is drawn uniformly in `[start, start + spread)`.
    pub workday_start_spread: Minute,
    /// Length of a workday session.
    pub workday_length: Minute,
    /// Probability that an intermittent laptop is used on a given weekday.
    pub laptop_presence: f64,
    /// When users of always-on devices sign in on weekdays.
    pub always_on_sign_in: Minute,
}

/// When a permanent enrollment error is remediated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Remediation {
    /// After an exponentially distributed delay with this mean, in minutes.
    MeanDelay(f64),
    /// At this minute (fixed date), or at once if the error occurs after it.
    At(Minute),
    /// Never within the scenario.
    Never,
}

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Scenario name (used for the output folder).
    pub name: String,
    /// What the scenario is about.
    pub description: String,
    /// Base seed of every random stream.
    pub seed: u64,
    /// Calendar date of minute 0.
    pub start_date: NaiveDate,
    /// Simulated days.
    pub days: u32,
    /// The fleet.
    pub fleet: FleetSpec,
    /// ConfigMgr sites.
    pub sites: Vec<Site>,
    /// Collections.
    pub collections: Vec<Collection>,
    /// When the client setting "automatically register new Windows 10 domain joined devices
    /// with Azure AD" is on; `None` if never.
    pub auto_register_at: Option<Minute>,
    /// When co-management is enabled; `None` if never.
    pub co_management_at: Option<Minute>,
    /// Automatic enrollment scope.
    pub auto_enrollment: AutoEnrollment,
    /// Timings.
    pub timing: Timing,
    /// Device usage.
    pub usage: Usage,
    /// Probability that one enrollment attempt fails.
    pub failure_rate: f64,
    /// Which error a failed attempt reports.
    pub errors: Mix<EnrollmentError>,
    /// Remediation per error (indexed by `EnrollmentError::index`).
    pub remediation: Vec<Remediation>,
    /// Tenant prerequisites and admin roles.
    pub tenant: Tenant,
    /// Path 2 site prerequisites and the gateway.
    pub cloud: Cloud,
    /// New devices.
    pub path2: Path2,
    /// Client push to domain-joined devices without a client.
    pub client_push: Option<Program>,
    /// OS upgrade of Windows 10 below 1709, and the release it moves them to.
    pub os_upgrade: Option<(Program, OsRelease)>,
    /// Migration off third-party MDM.
    pub mdm_migration: Option<Program>,
    /// Devices in the Test ring of the ring scheme.
    pub ring_test_devices: u32,
    /// Per workload (indexed by `Workload::index`): what a switch risks.
    pub workloads: Vec<WorkloadSettings>,
    /// The rollout strategy.
    pub strategy: Strategy,
}

/// The automatic enrollment scope without the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoEnrollmentScope {
    /// None.
    None,
    /// Pilot collection only.
    Pilot,
    /// All clients.
    All,
}

impl Scenario {
    /// The automatic enrollment scope, without the collection.
    pub fn auto_enrollment_scope(&self) -> AutoEnrollmentScope {
        match self.auto_enrollment {
            AutoEnrollment::None => AutoEnrollmentScope::None,
            AutoEnrollment::Pilot(_) => AutoEnrollmentScope::Pilot,
            AutoEnrollment::All => AutoEnrollmentScope::All,
        }
    }

    /// Parses and validates a scenario from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let mut err = ScenarioError::plain(e.message().trim_end());
            err.field = None;
            err.locate(text, e.span())
        })?;
        resolve(raw).map_err(|(e, span)| e.locate(text, span))
    }

    /// Simulated minutes.
    pub fn horizon(&self) -> Minute {
        self.days * DAY
    }

    /// Changes the seed.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Changes the fleet size.
    pub fn set_devices(&mut self, devices: u32) -> Result<(), ScenarioError> {
        if (devices == 0 && self.path2.arrivals() == 0) || devices > MAX_DEVICES {
            return Err(ScenarioError::plain(format!(
                "--devices: expected a fleet size from 1 to {MAX_DEVICES}, found {devices}"
            )));
        }
        self.fleet.devices = devices;
        Ok(())
    }

    /// Changes the simulated days.
    pub fn set_days(&mut self, days: u32) -> Result<(), ScenarioError> {
        if days == 0 || days > MAX_DAYS {
            return Err(ScenarioError::plain(format!(
                "--days: expected a number of days from 1 to {MAX_DAYS}, found {days}"
            )));
        }
        self.days = days;
        Ok(())
    }
}

/// A rate given as devices per day or per week, as minutes per device, and its start date.
#[allow(clippy::result_large_err)]
fn program_of(
    per_day: Option<Days>,
    per_week: Option<Days>,
    start: Option<Date>,
    field: &str,
) -> Result<Option<(f64, Option<Date>)>, Located> {
    let per_day = match (per_day, per_week) {
        (Some(_), Some(_)) => {
            return Err((
                ScenarioError::field(
                    format!("{field}.devices_per_week"),
                    "give devices_per_day or devices_per_week, not both",
                ),
                None,
            ));
        }
        (Some(d), None) => d.0,
        (None, Some(w)) => w.0 / 7.0,
        (None, None) => return Ok(None),
    };
    if per_day <= 0.0 {
        return Ok(None);
    }
    Ok(Some((f64::from(DAY) / per_day, start)))
}

/// A step's start as a fixed minute, following `after` links (gates ignored).
fn resolved_start(strategy: &Strategy, step: &crate::strategy::Step) -> crate::strategy::StepStart {
    use crate::strategy::StepStart;
    match step.start {
        StepStart::At(t) => StepStart::At(t),
        StepStart::After(k, d) => match resolved_start(strategy, &strategy.steps[k]) {
            StepStart::At(t) => StepStart::At(t.saturating_add(d)),
            other => other,
        },
    }
}

/// The largest fleet a scenario may ask for.
pub const MAX_DEVICES: u32 = 50_000_000;
/// The longest horizon a scenario may ask for (10 years).
pub const MAX_DAYS: u32 = 3_650;

type Located = (ScenarioError, Option<std::ops::Range<usize>>);

fn at(span: std::ops::Range<usize>, field: &str, message: String) -> Located {
    let span = (span.start < span.end).then_some(span);
    (ScenarioError::field(field, message), span)
}

// Errors are built once per run, never on a hot path: their size does not matter.
#[allow(clippy::result_large_err)]
fn resolve(raw: RawScenario) -> Result<Scenario, Located> {
    let start = raw.start_date.0;
    let minute_of = |d: Date| -> Minute {
        let days = (d.0 - start).num_days();
        u32::try_from(days.max(0) * i64::from(DAY)).unwrap_or(Minute::MAX)
    };
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(at(
            raw.name.span(),
            "name",
            "expected a scenario name of 1 to 100 characters".into(),
        ));
    }
    if name.chars().any(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return Err(at(
            raw.name.span(),
            "name",
            format!(
                "expected a name usable as a folder name (no / \\ : * ? \" < > |), found {name:?}"
            ),
        ));
    }
    let days = raw.days.get_ref().0;
    if days == 0 || days > MAX_DAYS {
        return Err(at(
            raw.days.span(),
            "days",
            format!("expected a number of days from 1 to {MAX_DAYS}, found {days}"),
        ));
    }
    let devices = raw.fleet.devices.get_ref().0;
    let no_arrivals =
        raw.path2.devices_per_day.0 == 0 && raw.path2.batches.iter().all(|b| b.devices.0 == 0);
    if (devices == 0 && no_arrivals) || devices > MAX_DEVICES {
        return Err(at(
            raw.fleet.devices.span(),
            "fleet.devices",
            format!(
                "expected a fleet size from 1 to {MAX_DEVICES} (0 only with new [path2] devices), found {devices}"
            ),
        ));
    }

    // Sites: one default site when none is given; shares must sum to 1; codes unique.
    let (sites, site_mix) = if raw.sites.is_empty() {
        (
            vec![Site {
                code: "P01".into(),
                version: 2403,
                management_points: 1,
                hierarchy: "H1".into(),
            }],
            Mix::new(&[(0u8, 1.0)]).expect("one site"),
        )
    } else {
        if raw.sites.len() > 250 {
            return Err((
                ScenarioError::field("sites", "expected at most 250 sites"),
                None,
            ));
        }
        let mut sites = Vec::new();
        let mut pairs = Vec::new();
        for (i, s) in raw.sites.iter().enumerate() {
            let code = s.code.get_ref().trim().to_string();
            if code.is_empty() || sites.iter().any(|x: &Site| x.code == code) {
                return Err(at(
                    s.code.span(),
                    &format!("sites[{i}].code"),
                    format!("expected a unique, non-empty site code, found {code:?}"),
                ));
            }
            let version = s.version.get_ref().0;
            if !(1000..=9999).contains(&version) {
                return Err(at(
                    s.version.span(),
                    &format!("sites[{i}].version"),
                    format!("expected a ConfigMgr version such as 2403, found {version}"),
                ));
            }
            if s.management_points.0 == 0 {
                return Err((
                    ScenarioError::field(
                        format!("sites[{i}].management_points"),
                        "expected at least 1 management point",
                    ),
                    None,
                ));
            }
            sites.push(Site {
                code,
                version,
                management_points: s.management_points.0,
                hierarchy: s.hierarchy.clone(),
            });
            pairs.push((i as u8, s.share.0));
        }
        let mix = Mix::new(&pairs).map_err(|m| {
            let span = raw.sites[0].code.span();
            at(span, "sites", format!("site shares: {m}"))
        })?;
        (sites, mix)
    };

    let collections = resolve_collections(&raw.collections, &sites)?;
    let workloads = resolve_workloads(&raw.workloads, &collections)?;
    let auto_enrollment = match raw.co_management.auto_enrollment {
        RawScope::None => AutoEnrollment::None,
        RawScope::All => AutoEnrollment::All,
        RawScope::Pilot => {
            let Some(pc) = &raw.co_management.pilot_collection else {
                return Err((
                    ScenarioError::field(
                        "co_management.auto_enrollment",
                        "auto_enrollment = \"pilot\" needs pilot_collection = \"<name of a [[collections]] entry>\"",
                    ),
                    None,
                ));
            };
            let wanted = pc.get_ref().trim();
            match collections.iter().position(|c| c.name == wanted) {
                Some(i) => AutoEnrollment::Pilot(i),
                None => {
                    let known: Vec<String> = collections
                        .iter()
                        .map(|c| format!("{:?}", c.name))
                        .collect();
                    return Err(at(
                        pc.span(),
                        "co_management.pilot_collection",
                        format!(
                            "no collection named {wanted:?}; expected one of the [[collections]] names: {}",
                            if known.is_empty() {
                                "(none defined)".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
    };

    let t = &raw.timing;
    let positive = |w: Whole, field: &str| -> Result<Minute, Located> {
        if w.0 == 0 {
            Err((
                ScenarioError::field(field, "expected a whole number of minutes above 0, found 0"),
                None,
            ))
        } else {
            Ok(w.0)
        }
    };
    let day_minutes = |d: Days| -> Minute { (d.0 * f64::from(DAY)).round() as Minute };
    let timing = Timing {
        policy_poll: positive(t.policy_poll_minutes, "timing.policy_poll_minutes")?,
        join_task: positive(t.join_task_minutes, "timing.join_task_minutes")?,
        aad_connect_sync: positive(
            t.aad_connect_sync_minutes,
            "timing.aad_connect_sync_minutes",
        )?,
        enrollment_retry: positive(
            t.enrollment_retry_minutes,
            "timing.enrollment_retry_minutes",
        )?,
        enrollment_tries: positive(t.enrollment_tries, "timing.enrollment_tries")?,
        enrollment_retry_cycle: positive(
            t.enrollment_retry_cycle_minutes,
            "timing.enrollment_retry_cycle_minutes",
        )?,
        randomization_per_100k: day_minutes(t.randomization_days_per_100k),
        randomization_max: day_minutes(t.randomization_max_days),
        randomization_min: t.randomization_min_minutes.0,
    };
    if timing.randomization_min > timing.randomization_max {
        return Err((
            ScenarioError::field(
                "timing.randomization_min_minutes",
                format!(
                    "expected at most randomization_max_days ({} minutes), found {}",
                    timing.randomization_max, timing.randomization_min
                ),
            ),
            None,
        ));
    }

    let u = &raw.usage;
    if u.workday_minutes.0 == 0 || u.workday_minutes.0 > DAY {
        return Err((
            ScenarioError::field(
                "usage.workday_minutes",
                format!("expected 1 to {DAY} minutes, found {}", u.workday_minutes.0),
            ),
            None,
        ));
    }
    if u.workday_start.0 + u.workday_start_spread_minutes.0 + u.workday_minutes.0 > 2 * DAY {
        return Err((
            ScenarioError::field(
                "usage.workday_start_spread_minutes",
                "a workday must end before the next one starts",
            ),
            None,
        ));
    }
    let usage = Usage {
        workday_start: u.workday_start.0,
        workday_start_spread: u.workday_start_spread_minutes.0,
        workday_length: u.workday_minutes.0,
        laptop_presence: u.laptop_presence.0,
        always_on_sign_in: u.always_on_sign_in.0,
    };

    let resolve_rem = |r: &RawRemediation, field: String| -> Result<Remediation, Located> {
        match (r.mean_days, r.date, r.never) {
            (Some(d), None, false) => Ok(Remediation::MeanDelay(d.0 * f64::from(DAY))),
            (None, Some(d), false) => Ok(Remediation::At(minute_of(d))),
            (None, None, true) => Ok(Remediation::Never),
            _ => Err((
                ScenarioError::field(
                    field,
                    "expected exactly one of mean_days = <days>, date = <date> or never = true",
                ),
                None,
            )),
        }
    };
    let default_rem = match &raw.remediation.default {
        Some(r) => resolve_rem(r, "remediation.default".into())?,
        None => Remediation::MeanDelay(14.0 * f64::from(DAY)),
    };
    let mut remediation = vec![default_rem; EnrollmentError::ALL.len()];
    for (e, r) in &raw.remediation.per_error {
        remediation[e.index()] = resolve_rem(r, format!("remediation.{}", e.name()))?;
    }

    let program = |p: &RawProgram, field: &str| -> Result<Option<Program>, Located> {
        program_of(p.devices_per_day, p.devices_per_week, p.start_date, field).map(|o| {
            o.map(|(per, start)| Program {
                start: start.map_or(0, minute_of),
                minutes_per_device: per,
            })
        })
    };
    let client_push = program(&raw.client_push, "client_push")?;
    let mdm_migration = program(&raw.mdm_migration, "mdm_migration")?;
    let u = &raw.os_upgrade;
    let os_upgrade = program_of(
        u.devices_per_day,
        u.devices_per_week,
        u.start_date,
        "os_upgrade",
    )?
    .map(|(per, start)| {
        (
            Program {
                start: start.map_or(0, minute_of),
                minutes_per_device: per,
            },
            u.target,
        )
    });
    if u.target.build().is_none_or(|b| b < 16299) {
        return Err((
            ScenarioError::field(
                "os_upgrade.target",
                format!(
                    "expected a Windows 10 1709 or later or Windows 11 release, found {}",
                    u.target
                ),
            ),
            None,
        ));
    }
    let p2 = &raw.path2;
    let day_of = |d: Date| minute_of(d) / DAY;
    let mut batches: Vec<(Minute, u32)> = p2
        .batches
        .iter()
        .map(|b| (minute_of(b.date), b.devices.0))
        .collect();
    batches.sort_by_key(|b| b.0);
    batches.retain(|b| b.0 < days * DAY && b.1 > 0);
    let from_day = p2.from_date.map_or(0, day_of).min(days);
    let until_day = p2.until_date.map_or(days, day_of).min(days);
    if p2.esp_failure_rate.0 + p2.esp_timeout_rate.0 > 1.0 {
        return Err((
            ScenarioError::field(
                "path2.esp_timeout_rate",
                "esp_failure_rate + esp_timeout_rate must be at most 1",
            ),
            None,
        ));
    }
    let path2 = Path2 {
        batches,
        per_day: p2.devices_per_day.0,
        from_day,
        until_day: until_day.max(from_day),
        os: p2.os.clone(),
        usage: p2.usage.clone(),
        esp: p2.esp_minutes.0,
        esp_failure_rate: p2.esp_failure_rate.0,
        esp_timeout_rate: p2.esp_timeout_rate.0,
        esp_timeout: positive(p2.esp_timeout_minutes, "path2.esp_timeout_minutes")?,
        into_co_management: p2.autopilot_into_co_management,
    };
    if u64::from(devices) + u64::from(path2.arrivals()) > u64::from(MAX_DEVICES) {
        return Err((
            ScenarioError::field(
                "path2.devices_per_day",
                format!("fleet plus new devices must stay under {MAX_DEVICES}"),
            ),
            None,
        ));
    }
    let cl = &raw.cloud;
    let vms = cl.cmg_vms.get_ref().0;
    if vms > 16 {
        return Err(at(
            cl.cmg_vms.span(),
            "cloud.cmg_vms",
            format!("expected 0 to 16 VM instances (the CMG maximum), found {vms}"),
        ));
    }
    let cloud = Cloud {
        enhanced_http: cl.enhanced_http,
        cloud_services: cl.cloud_services,
        site_onboarded_to_azure_ad: cl.site_onboarded_to_azure_ad,
        management_points_for_cmg: cl.management_points_for_cmg,
        cmg_vms: vms,
        clients_per_vm: match cl.cmg_vm_size {
            RawVmSize::Standard => 6_000,
            RawVmSize::Large => 10_000,
        },
        client_app_at: cl.client_app_date.map_or(0, minute_of),
        client_install: positive(cl.client_install_minutes, "cloud.client_install_minutes")?,
        client_install_failure_rate: cl.client_install_failure_rate.0,
        ccmsetup_command_line_length: cl.ccmsetup_command_line_length.0,
        registration: cl.registration_minutes.0,
    };
    let tenant = Tenant {
        azure_ad_premium: raw.tenant.azure_ad_premium,
        intune_admin_license: raw.tenant.intune_admin_license,
        aad_connect_sync: raw.tenant.aad_connect_sync,
        subscription_manager: raw.admin_roles.subscription_manager,
        global_administrator: raw.admin_roles.global_administrator,
        full_administrator_all_scope: raw.admin_roles.full_administrator_all_scope,
    };

    let strategy = resolve_strategy(
        &raw.strategy,
        &collections,
        &sites,
        &minute_of,
        raw.co_management.enable_date.map(minute_of),
    )?;
    let mut co_management_at = raw.co_management.enable_date.map(minute_of);
    let mut auto_enrollment = auto_enrollment;
    for step in &strategy.steps {
        if let crate::strategy::StepAction::EnableCoManagement(scope) = step.action {
            if co_management_at.is_some() {
                return Err((
                    ScenarioError::field(
                        "co_management.enable_date",
                        "co-management is enabled both here and by an enable_co_management step: keep one",
                    ),
                    None,
                ));
            }
            let crate::strategy::StepStart::At(t) = resolved_start(&strategy, step) else {
                unreachable!()
            };
            co_management_at = Some(t);
            auto_enrollment = scope;
        }
    }

    let c = &raw.fleet.configmgr_client;
    Ok(Scenario {
        ring_test_devices: raw.rings.test_devices.0,
        workloads,
        strategy,
        tenant,
        cloud,
        path2,
        client_push,
        os_upgrade,
        mdm_migration,
        name,
        description: raw.description,
        seed: raw.seed,
        start_date: start,
        days,
        fleet: FleetSpec {
            devices,
            licensed: raw.fleet.licensed.0,
            third_party_mdm: raw.fleet.third_party_mdm.0,
            os: raw.fleet.os,
            join: raw.fleet.join,
            configmgr_client: [
                c.on_premises_ad.0,
                c.hybrid_joined.0,
                c.azure_ad_joined.0,
                c.azure_ad_registered.0,
                c.workgroup.0,
            ],
            identity: raw.fleet.identity,
            location: raw.fleet.location,
            usage: raw.fleet.usage,
            sites: site_mix,
        },
        sites,
        collections,
        auto_register_at: raw
            .hybrid_join
            .auto_register
            .then(|| raw.hybrid_join.auto_register_date.map_or(0, minute_of)),
        co_management_at,
        auto_enrollment,
        timing,
        usage,
        failure_rate: raw.enrollment.failure_rate.0,
        errors: raw.enrollment.errors,
        remediation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
