//! The export formats fleetsim reads as they come (docs/INVENTORY.md): how each is told from
//! its header, and how its columns and values map to fleetsim's columns (a `Row`'s fields).
//!
//! Sources (Microsoft's names, as documented):
//! - Intune's co-management eligibility report, Graph `comanagementEligibleDevice`
//!   (graph: api-reference/beta/resources/intune-devices-comanagementeligibledevice.md);
//! - Intune's managed devices, Graph `managedDevice`
//!   (graph: api-reference/beta/resources/intune-devices-manageddevice.md,
//!   intune-devices-jointype.md, intune-shared-managementagenttype.md);
//! - ConfigMgr's discovery view `v_R_System`
//!   (memdocs: configmgr/develop/core/understand/sqlviews/discovery-views-configuration-manager.md).

use fleetsim_model::fleet::{ABSENT, Row, START, START_CO_MANAGED};
use fleetsim_model::{JoinType, OsRelease};

/// The `Row` index of the OS release.
pub const OS: usize = 0;
/// The `Row` index of the join type.
pub const JOIN: usize = 1;
/// The `Row` index of the ConfigMgr client flag.
pub const CLIENT: usize = 2;
/// The `Row` index of the third-party MDM flag.
pub const MDM: usize = 6;

/// An export format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// fleetsim's own columns.
    Fleetsim,
    /// Intune's co-management eligibility report (Graph `comanagementEligibleDevice`).
    Eligibility,
    /// Intune's managed devices (Graph `managedDevice`).
    ManagedDevices,
    /// A ConfigMgr device export with `v_R_System`'s column names.
    ConfigMgr,
}

/// Every format, with its name in `[fleet] inventory_format`.
pub const FORMATS: [(Format, &str); 4] = [
    (Format::Fleetsim, "fleetsim"),
    (Format::Eligibility, "comanagement_eligibility"),
    (Format::ManagedDevices, "managed_devices"),
    (Format::ConfigMgr, "configmgr"),
];

impl Format {
    /// Its name in `[fleet] inventory_format`.
    pub fn name(self) -> &'static str {
        FORMATS.iter().find(|(f, _)| *f == self).map_or("", |x| x.1)
    }

    /// The column that identifies a device (required; only its presence is checked).
    pub fn id_column(self) -> &'static str {
        match self {
            Format::Fleetsim => "device_id",
            Format::Eligibility | Format::ManagedDevices => "id",
            Format::ConfigMgr => "ResourceID",
        }
    }

    /// The export's columns this format maps, with how.
    pub fn fields(self) -> &'static [(&'static str, Field)] {
        match self {
            Format::Fleetsim => &[],
            Format::Eligibility => &[
                ("osDescription", Field::OsDescription),
                ("osVersion", Field::OsVersion),
                ("managementAgents", Field::Agent),
                ("status", Field::EligibilityStatus),
            ],
            Format::ManagedDevices => &[
                ("operatingSystem", Field::OperatingSystem),
                ("osVersion", Field::OsVersion),
                ("joinType", Field::JoinType),
                ("managementAgent", Field::Agent),
            ],
            Format::ConfigMgr => &[
                ("Operating_System_Name_and0", Field::OsName),
                ("Build01", Field::OsVersion),
                ("Client0", Field::Client0),
                ("Active0", Field::Active0),
            ],
        }
    }
}

/// Tells the format from a header (names trimmed), or `None`.
pub fn detect(headers: &[String]) -> Option<Format> {
    let has = |n: &str| headers.iter().any(|h| h == n);
    if has("device_id") {
        Some(Format::Fleetsim)
    } else if has("status") && (has("managementAgents") || has("clientRegistrationStatus")) {
        Some(Format::Eligibility)
    } else if has("joinType") || has("managementAgent") {
        Some(Format::ManagedDevices)
    } else if has("ResourceID") && (has("Name0") || has("Operating_System_Name_and0")) {
        Some(Format::ConfigMgr)
    } else {
        None
    }
}

/// How one export column sets a row's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `osVersion` (Graph) or `Build01` (ConfigMgr): `10.0.<build>[.<revision>]`, `6.1.x`
    /// (Windows 7) or `6.3.x` (Windows 8.1).
    OsVersion,
    /// `osDescription` (Graph): an edition text; Home and Server editions set the OS.
    OsDescription,
    /// `operatingSystem` (Graph `managedDevice`): only `Windows`.
    OperatingSystem,
    /// `Operating_System_Name_and0` (ConfigMgr), such as `Microsoft Windows NT Workstation 10.0`.
    OsName,
    /// `joinType` (Graph `managedDevice`).
    JoinType,
    /// `managementAgent` / `managementAgents` (Graph `managementAgentType`).
    Agent,
    /// `status` (Graph `comanagementEligibleType`).
    EligibilityStatus,
    /// `Client0` (ConfigMgr): 1 with a client, 0 without.
    Client0,
    /// `Active0` (ConfigMgr): 1 for an active client, 0 for an inactive one.
    Active0,
}

/// `joinType` values and the join type each means (`None`: left to the scenario's mix).
const JOIN_TYPES: [(&str, Option<JoinType>); 4] = [
    ("unknown", None),
    ("azureADJoined", Some(JoinType::AzureAdJoined)),
    ("azureADRegistered", Some(JoinType::AzureAdRegistered)),
    ("hybridAzureADJoined", Some(JoinType::HybridJoined)),
];

/// `managementAgentType` values of Windows devices: (value, ConfigMgr client, co-managed).
/// `unknown` leaves both to the scenario.
const AGENTS: [(&str, Option<(bool, bool)>); 7] = [
    ("mdm", Some((false, false))),
    ("easMdm", Some((false, false))),
    ("microsoft365ManagedMdm", Some((false, false))),
    ("configurationManagerClient", Some((true, false))),
    ("configurationManagerClientMdm", Some((true, true))),
    ("configurationManagerClientMdmEas", Some((true, true))),
    ("unknown", None),
];

/// `comanagementEligibleType` values.
const STATUSES: [&str; 6] = [
    "comanaged",
    "eligible",
    "eligibleButNotAzureAdJoined",
    "needsOsUpdate",
    "ineligible",
    "scheduledForEnrollment",
];

fn list<T>(all: &[(&str, T)]) -> String {
    all.iter().map(|x| x.0).collect::<Vec<_>>().join(", ")
}

/// The accepted builds, for messages.
fn builds() -> String {
    let mut b: Vec<String> = OsRelease::ALL
        .iter()
        .filter_map(|o| o.build().map(|b| format!("10.0.{b}")))
        .collect();
    b.push("6.1.x (windows_7)".into());
    b.push("6.3.x (windows_8_1)".into());
    b.join(", ")
}

/// The release of a version text `10.0.<build>...`, `6.1...` or `6.3...`.
fn release(v: &str) -> Option<OsRelease> {
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    match (major, minor) {
        ("6", "1") => Some(OsRelease::Windows7),
        ("6", "3") => Some(OsRelease::Windows81),
        ("10", "0") => {
            let build: u32 = parts.next()?.parse().ok()?;
            OsRelease::ALL
                .iter()
                .copied()
                .find(|o| o.build() == Some(build))
        }
        _ => None,
    }
}

/// Sets `row`'s fields from `v` (trimmed, not empty) of a `field` column; on an unknown value,
/// the accepted values.
pub fn apply(field: Field, v: &str, row: &mut Row) -> Result<(), String> {
    let eq = |a: &str| a.eq_ignore_ascii_case(v);
    match field {
        Field::OsVersion => {
            // An OS already set from the edition (Home, Server) or the OS name stays (a
            // server's build is not one of the client releases).
            if row[OS] == ABSENT {
                row[OS] = release(v).ok_or_else(builds)?.index() as u8;
            }
        }
        Field::OsDescription => {
            let lower = v.to_ascii_lowercase();
            if lower.contains("server") {
                row[OS] = OsRelease::WindowsServer.index() as u8;
            } else if lower.contains("home") {
                row[OS] = OsRelease::WindowsHome.index() as u8;
            }
        }
        Field::OperatingSystem => {
            if !eq("Windows") {
                return Err("Windows (filter the export to Windows devices)".into());
            }
        }
        Field::OsName => {
            let lower = v.to_ascii_lowercase();
            if !lower.starts_with("microsoft windows nt") {
                return Err("Microsoft Windows NT Workstation 6.1, 6.3 or 10.0, Microsoft Windows NT Server ... (optionally with (Tablet Edition))".into());
            }
            if lower.contains("server") {
                row[OS] = OsRelease::WindowsServer.index() as u8;
            } else if lower.contains("workstation 6.1") {
                row[OS] = OsRelease::Windows7.index() as u8;
            } else if lower.contains("workstation 6.3") {
                row[OS] = OsRelease::Windows81.index() as u8;
            } else if !lower.contains("workstation 10.0") {
                return Err("Microsoft Windows NT Workstation 6.1, 6.3 or 10.0, Microsoft Windows NT Server ... (optionally with (Tablet Edition))".into());
            }
        }
        Field::JoinType => {
            let (_, j) = JOIN_TYPES
                .iter()
                .find(|(n, _)| eq(n))
                .ok_or_else(|| list(&JOIN_TYPES))?;
            if let Some(j) = j {
                row[JOIN] = j.index() as u8;
            }
        }
        Field::Agent => {
            let (_, a) = AGENTS
                .iter()
                .find(|(n, _)| eq(n))
                .ok_or_else(|| list(&AGENTS))?;
            if let Some((client, co)) = a {
                row[CLIENT] = u8::from(*client);
                // An Intune-enrolled device is under Intune, not a third-party MDM.
                row[MDM] = 0;
                if *co {
                    row[START] = START_CO_MANAGED;
                }
            }
        }
        Field::EligibilityStatus => {
            let s = STATUSES
                .iter()
                .find(|n| eq(n))
                .ok_or_else(|| STATUSES.join(", "))?;
            // The report lists devices Intune knows through ConfigMgr (tenant attach): each
            // has the client.
            row[CLIENT] = 1;
            match *s {
                "comanaged" => row[START] = START_CO_MANAGED,
                "eligibleButNotAzureAdJoined" => row[JOIN] = JoinType::OnPremisesAd.index() as u8,
                _ => {}
            }
        }
        Field::Client0 => match v {
            "1" => {
                if row[CLIENT] == ABSENT {
                    row[CLIENT] = 1;
                }
            }
            "0" => row[CLIENT] = 0,
            _ => return Err("1, 0".into()),
        },
        Field::Active0 => match v {
            // An inactive client does not take the co-management policy: counted as none.
            "0" => row[CLIENT] = 0,
            "1" => {}
            _ => return Err("1, 0".into()),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_releases() {
        assert_eq!(release("10.0.19045.3803"), Some(OsRelease::Win10_22H2));
        assert_eq!(release("10.0.26100"), Some(OsRelease::Win11_24H2));
        assert_eq!(release("6.1.7601"), Some(OsRelease::Windows7));
        assert_eq!(release("10.0.99999"), None);
        assert_eq!(release("11"), None);
    }

    #[test]
    fn agents_and_statuses_set_client_and_start() {
        let mut r = [ABSENT; 9];
        apply(Field::Agent, "configurationManagerClientMdm", &mut r).unwrap();
        assert_eq!((r[CLIENT], r[START]), (1, START_CO_MANAGED));
        let mut r = [ABSENT; 9];
        apply(Field::Agent, "mdm", &mut r).unwrap();
        assert_eq!((r[CLIENT], r[START]), (0, ABSENT));
        let mut r = [ABSENT; 9];
        apply(
            Field::EligibilityStatus,
            "eligibleButNotAzureAdJoined",
            &mut r,
        )
        .unwrap();
        assert_eq!((r[CLIENT], r[JOIN]), (1, 0));
        assert!(apply(Field::JoinType, "domainJoined", &mut r).is_err());
    }
}
