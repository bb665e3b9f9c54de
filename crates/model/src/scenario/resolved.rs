//! The resolved scenario: [`Scenario`], every section typed and validated, ready to run.
//! Nothing here parses.
//!
//! Leaves to others: the sections' types ([`super::sections`]), the schema
//! ([`super::raw`]) and the checks that build it ([`super::validate`]).

use super::error::ScenarioError;
use super::sections::*;
use super::strategy::{Collection, Strategy, WorkloadSettings};
use super::units::*;
use crate::domain::{AutoEnrollment, EnrollmentError, OsRelease};
use chrono::NaiveDate;

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
    /// When tenant attach uploads every ConfigMgr client to the Intune admin center; `None`
    /// if never.
    pub tenant_attach_at: Option<Minute>,
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
    /// Lasting causes of enrollment errors and the device token's fallback.
    pub causes: EnrollmentCauses,
    /// User domains (empty: the fleet's identity mix and `enrollment.non_routable_upn` apply).
    pub domains: Vec<Domain>,
    /// The domains' shares of the fleet, by index into `domains`.
    pub domain_mix: Option<Mix<u8>>,
    /// Remediation per error (indexed by `EnrollmentError::index`).
    pub remediation: Vec<Remediation>,
    /// Tenant prerequisites and admin roles.
    pub tenant: Tenant,
    /// `posterior`: the path of a calibration's posterior.csv (one row per kept run: each
    /// ranged value), relative to the scenario file; `forecast` draws its samples from its
    /// rows (the runner reads it, docs/CALIBRATE.md).
    pub posterior: Option<String>,
    /// Values given as ranges (each also set to its centre above), in key order of
    /// [`super::ranges::RANGED_KEYS`]; empty when every value is plain.
    pub ranges: Vec<super::ranges::Ranged>,
    /// Path 2 site prerequisites and the gateway.
    pub cloud: Cloud,
    /// New devices.
    pub path2: Path2,
    /// Client push to domain-joined devices without a client.
    pub client_push: Option<Program>,
    /// OS upgrade of Windows 10 below 1709, and the release it moves them to.
    pub os_upgrade: Option<(Program, OsRelease)>,
    /// Upgrade or replacement of Windows 7 and 8.1 devices, at its own rate, to the same
    /// target (`None`: they stay ineligible).
    pub legacy_upgrade: Option<(Program, OsRelease)>,
    /// Migration off third-party MDM.
    pub mdm_migration: Option<Program>,
    /// Devices in the Test ring of the ring scheme.
    pub ring_test_devices: u32,
    /// Per workload (indexed by `Workload::index`): what a switch risks.
    pub workloads: Vec<WorkloadSettings>,
    /// The rollout strategy.
    pub strategy: Strategy,
}

/// The largest fleet a scenario may ask for.
pub const MAX_DEVICES: u32 = 50_000_000;
/// The longest horizon a scenario may ask for (10 years).
pub const MAX_DAYS: u32 = 3_650;

impl Scenario {
    /// The automatic enrollment scope, without the collection.
    pub fn auto_enrollment_scope(&self) -> AutoEnrollmentScope {
        match self.auto_enrollment {
            AutoEnrollment::None => AutoEnrollmentScope::None,
            AutoEnrollment::Pilot(_) => AutoEnrollmentScope::Pilot,
            AutoEnrollment::All => AutoEnrollmentScope::All,
        }
    }

    /// Simulated minutes.
    pub fn horizon(&self) -> Minute {
        self.days * DAY
    }

    /// Changes the seed.
    pub fn set_seed(&mut self, seed: u64) {
        self.seed = seed;
    }

    /// Makes the fleet the inventory's devices (one per row; the runner reads the file).
    pub fn set_inventory(&mut self, inv: crate::fleet::Inventory) -> Result<(), ScenarioError> {
        let n = u32::try_from(inv.rows.len()).unwrap_or(u32::MAX);
        self.set_devices(n).map_err(|e| {
            ScenarioError::plain(format!(
                "[fleet] inventory: {n} devices: {}",
                e.to_string().trim_start_matches("--devices: ")
            ))
        })?;
        self.fleet.overrides = Some(std::sync::Arc::new(inv));
        Ok(())
    }

    /// Changes the fleet size.
    pub fn set_devices(&mut self, devices: u32) -> Result<(), ScenarioError> {
        let arrivals = self.path2.arrivals();
        if (devices == 0 && arrivals == 0) || devices > MAX_DEVICES {
            return Err(ScenarioError::plain(format!(
                "--devices: expected a fleet size from 1 to {MAX_DEVICES}, found {devices}"
            )));
        }
        if u64::from(devices) + u64::from(arrivals) > u64::from(MAX_DEVICES) {
            return Err(ScenarioError::plain(format!(
                "--devices: the fleet plus the scenario's {arrivals} new [path2] devices must stay within {MAX_DEVICES} devices, found {devices}"
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
