//! The resolved sections: typed, validated values, one struct per section of the scenario
//! file (sites, tenant, cloud, Path 2, programs, fleet, timing, usage, remediation).
//!
//! Leaves to others: the schema ([`super::raw`]), the checks that build these values
//! ([`super::validate`]), and the collections, workloads and strategy ([`super::strategy`]).

use super::units::*;
use crate::domain::{IdentityOption, JoinType, Location, OsRelease, UsagePattern};

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
    /// CMG connection points; each serves up to 4 VMs (default: enough for every VM).
    pub cmg_connection_points: u32,
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
    /// VMs the connection points can serve: 4 per connection point.
    pub fn served_vms(&self) -> u32 {
        self.cmg_vms
            .min(self.cmg_connection_points.saturating_mul(4))
    }

    /// Concurrent clients the gateway serves at once: the VMs its connection points serve,
    /// times the clients per VM.
    pub fn capacity(&self) -> u64 {
        u64::from(self.served_vms()) * u64::from(self.clients_per_vm)
    }

    /// Whether internet clients can reach their site: a gateway with a VM, a connection point
    /// and management points enabled for it.
    pub fn gateway_serves(&self) -> bool {
        self.capacity() > 0 && self.management_points_for_cmg
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
    /// Devices arriving within the scenario (saturating at `u32::MAX`; validation keeps a
    /// scenario's fleet plus arrivals within [`MAX_DEVICES`](super::MAX_DEVICES)).
    pub fn arrivals(&self) -> u32 {
        let batches = self
            .batches
            .iter()
            .fold(0u32, |acc, b| acc.saturating_add(b.1));
        batches.saturating_add(
            self.per_day
                .saturating_mul(self.until_day.saturating_sub(self.from_day)),
        )
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
    /// Share of devices whose primary user holds an Intune license (only Path 2 needs one).
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
    /// Site shares (index into [`Scenario::sites`](super::Scenario::sites)).
    pub sites: Mix<u8>,
    /// `inventory`: the path of a device inventory CSV, relative to the scenario file (the
    /// runner reads it; see docs/INVENTORY.md).
    pub inventory: Option<String>,
    /// `inventory_format`: the export's format, when its header does not tell it (the runner
    /// checks the name).
    pub inventory_format: Option<String>,
    /// `[fleet.inventory_columns]`: fleetsim column = the export's header, in key order.
    pub inventory_columns: Vec<(String, String)>,
    /// The inventory's per-device attributes, once the runner has read it.
    pub overrides: Option<std::sync::Arc<crate::fleet::Inventory>>,
    /// Mixes given per value of an attribute drawn before (`[fleet.os.by_site.P02]`); a value
    /// without one takes the fleet-wide mix above.
    pub by: Conditional,
}

/// A device attribute a fleet mix may be given per value of, in the order a device's
/// attributes are settled: a mix may depend only on an attribute settled before its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FleetAttr {
    /// The user's domain (`[[domains]]`, by name).
    Domain,
    /// The ConfigMgr site (`[[sites]]`, by code).
    Site,
    /// The usage pattern.
    Usage,
    /// The location.
    Location,
    /// The OS release.
    Os,
    /// The join type.
    Join,
    /// The identity option.
    Identity,
}

impl FleetAttr {
    /// Every attribute, in draw order.
    pub const ALL: [FleetAttr; 7] = [
        FleetAttr::Domain,
        FleetAttr::Site,
        FleetAttr::Usage,
        FleetAttr::Location,
        FleetAttr::Os,
        FleetAttr::Join,
        FleetAttr::Identity,
    ];

    /// Its name in a scenario file (`by_<name>`).
    pub const fn name(self) -> &'static str {
        match self {
            FleetAttr::Domain => "domain",
            FleetAttr::Site => "site",
            FleetAttr::Usage => "usage",
            FleetAttr::Location => "location",
            FleetAttr::Os => "os",
            FleetAttr::Join => "join",
            FleetAttr::Identity => "identity",
        }
    }

    /// The attribute named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// A mix given per value of an earlier attribute: `mixes[v]` for the value with index `v`
/// (site and domain: their index in `[[sites]]` and `[[domains]]`; enums: their index).
#[derive(Clone, Debug, PartialEq)]
pub struct ByMix<K: Copy + Ord> {
    /// The attribute it depends on.
    pub on: FleetAttr,
    /// Per value of `on`: its own mix, or `None` for the fleet-wide one.
    pub mixes: Vec<Option<Mix<K>>>,
}

impl<K: Copy + Ord> ByMix<K> {
    /// The mix for a device whose attributes settled so far are `known` (indexed by
    /// [`FleetAttr`]; `u8::MAX` for none), if its value of `on` has one.
    #[inline]
    pub fn get(&self, known: &[u8; 7]) -> Option<&Mix<K>> {
        self.mixes
            .get(usize::from(known[self.on as usize]))?
            .as_ref()
    }
}

/// The conditional mixes of `[fleet]`, at most one per attribute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditional {
    /// `[fleet.usage.by_*]`.
    pub usage: Option<ByMix<UsagePattern>>,
    /// `[fleet.location.by_*]`.
    pub location: Option<ByMix<Location>>,
    /// `[fleet.os.by_*]`.
    pub os: Option<ByMix<OsRelease>>,
    /// `[fleet.join.by_*]`.
    pub join: Option<ByMix<JoinType>>,
    /// `[fleet.identity.by_*]`.
    pub identity: Option<ByMix<IdentityOption>>,
}

impl Conditional {
    /// `(mix, attribute it depends on, values that have their own mix)` for each conditional
    /// mix, in draw order, such as `("location", Usage, 1)`.
    pub fn list(&self) -> Vec<(&'static str, FleetAttr, usize)> {
        fn one<K: Copy + Ord>(
            name: &'static str,
            b: &Option<ByMix<K>>,
        ) -> Option<(&'static str, FleetAttr, usize)> {
            b.as_ref()
                .map(|b| (name, b.on, b.mixes.iter().filter(|m| m.is_some()).count()))
        }
        [
            one("usage", &self.usage),
            one("location", &self.location),
            one("os", &self.os),
            one("join", &self.join),
            one("identity", &self.identity),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
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
    /// Azure AD Connect's export rate to Azure AD, in writes per hour.
    pub aad_connect_export_per_hour: u32,
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

/// Lasting causes of enrollment errors, drawn once per device or set for the tenant, and the
/// device token's fallback to the user token (`[enrollment]`).
#[derive(Clone, Debug, PartialEq)]
pub struct EnrollmentCauses {
    /// Share of device-token devices whose device token fails, so that they fall back to the
    /// user token (and its user errors).
    pub device_token_fallback: f64,
    /// Share of devices whose user's UPN suffix is non-routable (0x8018002B).
    pub non_routable_upn: f64,
    /// Share of devices with the legacy Intune PC agent installed (0x80180026).
    pub legacy_intune_agent: f64,
    /// Share of devices already enrolled elsewhere (0x8018000A).
    pub already_enrolled: f64,
    /// The tenant's platform restriction: devices below this release fail with 0x80180014.
    pub platform_restriction_below: Option<OsRelease>,
}

/// A user domain (`[[domains]]`): its devices' identity option and whether its UPN suffix is
/// routable.
#[derive(Clone, Debug, PartialEq)]
pub struct Domain {
    /// Its name, such as `corp.example.com`.
    pub name: String,
    /// How its users sign in to Azure AD.
    pub identity: IdentityOption,
    /// Whether its UPN suffix is routable (a `.local` suffix is not: 0x8018002B).
    pub upn_routable: bool,
}
