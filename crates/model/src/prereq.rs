//! The preflight: which documented prerequisite blocks which devices, before running.

use crate::domain::{CoPath, IneligibleReason, JoinType, Location, OsRelease, Prerequisite};
use crate::fleet::Profile;
use crate::scenario::{AutoEnrollmentScope, Scenario};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Stops devices from ever being co-managed.
    Blocker,
    /// Slows the rollout or limits it, but devices still get there.
    Warning,
}

/// One thing the preflight found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Blocker or warning.
    pub severity: Severity,
    /// The prerequisite concerned.
    pub prerequisite: Prerequisite,
    /// The path it stops (`None`: every path).
    pub path: Option<CoPath>,
    /// Devices affected.
    pub devices: u64,
    /// What is wrong and what to do.
    pub message: String,
}

/// Counts of the drawn fleet that the preflight and the programs need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// Devices drawn (existing and new).
    pub devices: u64,
    /// New Path 2 devices among them.
    pub arrivals: u64,
    /// Devices with no permanent reason that take Path 1.
    pub path1_candidates: u64,
    /// Of them, in the automatic enrollment scope.
    pub path1_in_scope: u64,
    /// Devices with no permanent reason that take Path 2.
    pub path2_candidates: u64,
    /// Path 1 devices joined to on-premises AD only (need hybrid join).
    pub on_premises: u64,
    /// Of them, in managed domains (need Azure AD Connect sync).
    pub on_premises_managed: u64,
    /// Devices waiting for client push.
    pub push_candidates: u64,
    /// Devices waiting for the OS upgrade program.
    pub upgrade_candidates: u64,
    /// Windows 7 and 8.1 devices waiting for the OS upgrade program's legacy rate.
    pub legacy_candidates: u64,
    /// Devices waiting for MDM migration.
    pub migration_candidates: u64,
    /// Path 1 devices on the internet only (they reach their site through the gateway).
    pub path1_internet: u64,
    /// Existing ConfigMgr clients on the internet only (each holds a gateway connection online).
    pub internet_clients: u64,
    /// Devices per site, existing and new (all become its clients or could).
    pub devices_by_site: Vec<u64>,
    /// Of them, Windows desktops (not servers or Windows 10 Mobile).
    pub desktops_by_site: Vec<u64>,
    /// Devices with the ConfigMgr client at the start, per site.
    pub clients_by_site: Vec<u64>,
    /// Devices stopped by their site's version, per site.
    pub site_blocked: Vec<u64>,
    /// Devices per permanent reason.
    pub reasons: Vec<u64>,
    /// Per collection: eligible devices that pass its filters.
    pub collection_matching: Vec<u64>,
    /// Per collection: members.
    pub collection_members: Vec<u64>,
    /// What the run's outputs count: the devices present at the end of the run (every existing
    /// device, and each new device whose arrival, at its first online minute from its planned
    /// day, falls before the horizon).
    pub present: Present,
}

/// The devices present at the end of the run, the one count that `check`, the run's stderr
/// line, summary.csv and breakdown.csv share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Present {
    /// Devices present.
    pub devices: u64,
    /// Of them, new Path 2 devices that arrived.
    pub arrivals: u64,
    /// Per path (Path 1, Path 2): devices present, eligible or not (breakdown.csv's `path`
    /// rows).
    pub by_path: [u64; 2],
    /// Per path: devices present with no permanent reason (summary.csv's `eligible_path1`,
    /// `eligible_path2`).
    pub eligible_by_path: [u64; 2],
    /// Devices present with a permanent reason.
    pub ineligible: u64,
}

impl FleetCounts {
    /// Empty counts for `sites` sites and `collections` collections.
    pub fn new(sites: usize, collections: usize) -> Self {
        Self {
            clients_by_site: vec![0; sites],
            devices_by_site: vec![0; sites],
            desktops_by_site: vec![0; sites],
            site_blocked: vec![0; sites],
            reasons: vec![0; IneligibleReason::ALL.len()],
            collection_matching: vec![0; collections],
            collection_members: vec![0; collections],
            ..Self::default()
        }
    }

    /// Counts one device.
    pub fn add(&mut self, p: &Profile, reason: Option<IneligibleReason>, arrival: bool) {
        let site = usize::from(p.site);
        self.devices += 1;
        self.arrivals += u64::from(arrival);
        self.devices_by_site[site] += 1;
        self.desktops_by_site[site] += u64::from(!matches!(
            p.os,
            OsRelease::WindowsServer | OsRelease::Win10Mobile
        ));
        if p.client && !arrival {
            self.clients_by_site[site] += 1;
            self.internet_clients += u64::from(p.location == Location::InternetOnly);
        }
        if let Some(r) = reason {
            self.reasons[r.index()] += 1;
            if matches!(
                r,
                IneligibleReason::SiteVersionBelow1710 | IneligibleReason::SiteVersionBelow1806
            ) {
                self.site_blocked[site] += 1;
            }
            return;
        }
        let path2 = arrival || (!p.client && p.join == JoinType::AzureAdJoined);
        if path2 {
            self.path2_candidates += 1;
        } else {
            self.path1_candidates += 1;
            self.path1_internet += u64::from(p.location == Location::InternetOnly);
            if p.join == JoinType::OnPremisesAd {
                self.on_premises += 1;
                self.on_premises_managed += u64::from(p.identity.is_managed());
            }
            self.push_candidates += u64::from(!p.client);
        }
        self.upgrade_candidates += u64::from(
            !arrival
                && p.os
                    .build()
                    .is_some_and(|b| b < OsRelease::Win10_1709.build().unwrap_or(0)),
        );
        self.migration_candidates += u64::from(p.third_party_mdm);
        self.legacy_candidates +=
            u64::from(!arrival && matches!(p.os, OsRelease::Windows7 | OsRelease::Windows81));
    }

    /// Counts one device present at the end of the run on `path`.
    pub fn add_present(&mut self, path: CoPath, eligible: bool, arrival: bool) {
        let p = &mut self.present;
        p.devices += 1;
        p.arrivals += u64::from(arrival);
        p.by_path[path.index()] += 1;
        if eligible {
            p.eligible_by_path[path.index()] += 1;
        } else {
            p.ineligible += 1;
        }
    }

    /// Adds another shard's counts.
    pub fn merge(&mut self, o: &FleetCounts) {
        let (p, q) = (&mut self.present, &o.present);
        p.devices += q.devices;
        p.arrivals += q.arrivals;
        p.ineligible += q.ineligible;
        for k in 0..2 {
            p.by_path[k] += q.by_path[k];
            p.eligible_by_path[k] += q.eligible_by_path[k];
        }
        self.devices += o.devices;
        self.arrivals += o.arrivals;
        self.path1_candidates += o.path1_candidates;
        self.path1_in_scope += o.path1_in_scope;
        self.path1_internet += o.path1_internet;
        self.internet_clients += o.internet_clients;
        self.path2_candidates += o.path2_candidates;
        self.on_premises += o.on_premises;
        self.on_premises_managed += o.on_premises_managed;
        self.push_candidates += o.push_candidates;
        self.upgrade_candidates += o.upgrade_candidates;
        self.legacy_candidates += o.legacy_candidates;
        self.migration_candidates += o.migration_candidates;
        let add = |a: &mut Vec<u64>, b: &Vec<u64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut self.clients_by_site, &o.clients_by_site);
        add(&mut self.devices_by_site, &o.devices_by_site);
        add(&mut self.desktops_by_site, &o.desktops_by_site);
        add(&mut self.site_blocked, &o.site_blocked);
        add(&mut self.reasons, &o.reasons);
        add(&mut self.collection_matching, &o.collection_matching);
        add(&mut self.collection_members, &o.collection_members);
    }
}

/// What blocks which devices, in the order of [`Prerequisite`].
pub fn preflight(s: &Scenario, c: &FleetCounts) -> Vec<Finding> {
    use Prerequisite as P;
    use Severity::*;
    // Path 2 devices as the outputs count them: those present at the end of the run (a new
    // device that would arrive after the horizon is stopped by nothing).
    let path2 = c.present.eligible_by_path[CoPath::Path2.index()];
    let all = c.path1_candidates + path2;
    let mut out = Vec::new();
    let mut add = |severity, prerequisite, path, devices: u64, message: String| {
        if devices > 0 {
            out.push(Finding {
                severity,
                prerequisite,
                path,
                devices,
                message,
            });
        }
    };
    let t = &s.tenant;
    if !t.azure_ad_premium {
        add(Blocker, P::AzureAdPremium, None, all, "the tenant has no Azure AD (Entra ID) Premium: automatic enrollment needs it (tenant.azure_ad_premium)".into());
    }
    if !t.intune_admin_license {
        add(Blocker, P::IntuneAdminLicense, None, all, "the admin account has no Intune license: assign one before enabling co-management (tenant.intune_admin_license)".into());
    }
    if !t.full_administrator_all_scope {
        add(Blocker, P::FullAdministrator, None, all, "enabling co-management needs a Full Administrator with All scope in ConfigMgr (admin_roles.full_administrator_all_scope)".into());
    }
    if s.co_management_at.is_none() {
        add(
            Blocker,
            P::CoManagementEnabled,
            None,
            all,
            "co-management is never enabled: set co_management.enable_date".into(),
        );
    }
    for (i, site) in s.sites.iter().enumerate() {
        let (p, need) = if site.version < 1710 {
            (P::ConfigMgrVersion, 1710)
        } else {
            (P::SeveralHierarchies, 1806)
        };
        add(
            Blocker,
            p,
            None,
            c.site_blocked[i],
            format!(
                "site {} runs ConfigMgr {}: upgrade it to {need} or later",
                site.code, site.version
            ),
        );
    }
    if !t.aad_connect_sync {
        add(Blocker, P::AadConnectSync, Some(CoPath::Path1), c.on_premises_managed, "Azure AD Connect does not sync devices: hybrid join in managed domains never completes (tenant.aad_connect_sync)".into());
    }
    if s.auto_register_at.is_none() {
        add(Blocker, P::AutoRegisterClientSetting, Some(CoPath::Path1), c.on_premises, "the client setting \"automatically register new Windows 10 domain joined devices with Azure AD\" is off: on-premises joined devices never become hybrid joined (hybrid_join.auto_register)".into());
    }
    match s.auto_enrollment_scope() {
        AutoEnrollmentScope::None => add(Blocker, P::AutoEnrollment, Some(CoPath::Path1), c.path1_candidates, "automatic enrollment is None: Path 1 clients never enroll (co_management.auto_enrollment)".into()),
        AutoEnrollmentScope::Pilot => add(
            Warning,
            P::AutoEnrollment,
            Some(CoPath::Path1),
            c.path1_candidates - c.path1_in_scope,
            format!("automatic enrollment is Pilot: only {} of {} Path 1 devices are in the pilot collection", c.path1_in_scope, c.path1_candidates),
        ),
        AutoEnrollmentScope::All => {}
    }
    let cl = &s.cloud;
    let p2 = Some(CoPath::Path2);
    let n2 = path2;
    if !cl.enhanced_http {
        add(
            Blocker,
            P::EnhancedHttp,
            p2,
            n2,
            "enhanced HTTP is off on the site: turn it on for Path 2 (cloud.enhanced_http)".into(),
        );
    }
    if !cl.cloud_services {
        add(
            Blocker,
            P::CloudServices,
            p2,
            n2,
            "cloud services are not registered in Azure (cloud.cloud_services)".into(),
        );
    }
    if !t.global_administrator {
        add(Blocker, P::GlobalAdministrator, p2, n2, "creating the Azure AD apps for cloud services needs a Global Administrator (admin_roles.global_administrator)".into());
    }
    if !cl.site_onboarded_to_azure_ad {
        add(
            Blocker,
            P::SiteOnboarded,
            p2,
            n2,
            "the site is not onboarded to Azure AD (cloud.site_onboarded_to_azure_ad)".into(),
        );
    }
    if cl.cmg_vms == 0 {
        add(Blocker, P::CloudManagementGateway, p2, n2, "there is no cloud management gateway: Path 2 devices cannot get the client (cloud.cmg_vms)".into());
    }
    if !cl.gateway_serves() && s.co_management_at.is_some() {
        add(
            Blocker,
            P::CloudManagementGateway,
            Some(CoPath::Path1),
            c.path1_internet,
            format!(
                "{} internet-only clients reach their site only through a cloud management gateway and have none{}: they never receive the co-management policy or workload switches (cloud.cmg_vms)",
                c.path1_internet,
                if cl.management_points_for_cmg {
                    ""
                } else {
                    " serving them (cloud.management_points_for_cmg)"
                }
            ),
        );
    }
    let needed = cl.cmg_vms.div_ceil(4);
    if cl.cmg_connection_points < needed {
        add(
            Warning,
            P::CloudManagementGateway,
            None,
            c.internet_clients + c.path2_candidates,
            format!(
                "{} VMs need {needed} CMG connection points (4 VMs each); with {} only {} VMs serve clients (cloud.cmg_connection_points)",
                cl.cmg_vms,
                cl.cmg_connection_points,
                cl.served_vms()
            ),
        );
    }
    if !t.subscription_manager {
        add(Blocker, P::SubscriptionManager, p2, n2, "creating the cloud management gateway needs a Subscription Manager in Azure (admin_roles.subscription_manager)".into());
    }
    if !cl.management_points_for_cmg {
        add(Blocker, P::ManagementPointsForCmg, p2, n2, "no management point is enabled for the cloud management gateway (cloud.management_points_for_cmg)".into());
    }
    if cl.ccmsetup_command_line_length > 1024 {
        add(
            Blocker,
            P::CcmsetupCommandLine,
            p2,
            n2,
            format!(
                "the CCMSETUPCMD command line has {} characters; over 1,024 every install from Intune fails (cloud.ccmsetup_command_line_length)",
                cl.ccmsetup_command_line_length
            ),
        );
    }
    if s.path2.into_co_management {
        let old: Vec<&str> = s
            .sites
            .iter()
            .filter(|x| x.version < 2111)
            .map(|x| x.code.as_str())
            .collect();
        if !old.is_empty() {
            add(
                Warning,
                P::AutopilotIntoCoManagement,
                p2,
                c.arrivals,
                format!(
                    "Autopilot straight into co-management needs ConfigMgr 2111 or later; sites {} fall back to installing the client after provisioning",
                    old.join(", ")
                ),
            );
        }
    }
    site_scale(s, c, &mut add);
    for (i, site) in s.sites.iter().enumerate() {
        let cap = u64::from(site.management_points) * 25_000;
        if c.clients_by_site[i] > cap {
            let poll = crate::schedule::site_poll_interval(
                s.timing.policy_poll,
                c.clients_by_site[i],
                site.management_points,
            );
            add(
                Warning,
                P::ManagementPointCapacity,
                Some(CoPath::Path1),
                c.clients_by_site[i],
                format!(
                    "site {} has {} clients for {} management point(s) of 25,000: policy polls stretch from {} to {poll} minutes (add management points)",
                    site.code, c.clients_by_site[i], site.management_points, s.timing.policy_poll
                ),
            );
        }
    }
    out
}

/// Clients a stand-alone primary site supports, and a primary under a CAS; management points
/// per primary; Windows desktops per CAS (memdocs:
/// configmgr/core/plan-design/configs/size-and-scale-numbers.md).
pub const PRIMARY_CLIENTS: u64 = 175_000;
/// Clients a primary site under a CAS supports.
pub const CHILD_PRIMARY_CLIENTS: u64 = 150_000;
/// Management points a primary site supports.
pub const PRIMARY_MANAGEMENT_POINTS: u32 = 15;
/// Windows desktops a CAS supports.
pub const CAS_DESKTOPS: u64 = 700_000;

/// Whether site `i` is a primary under a central administration site: its hierarchy has
/// several primary sites (a hierarchy with more than one primary needs a CAS).
pub fn under_cas(s: &Scenario, i: usize) -> bool {
    let h = &s.sites[i].hierarchy;
    s.sites.iter().filter(|x| &x.hierarchy == h).count() > 1
}

/// Site scale: warnings for sites beyond the supported numbers.
fn site_scale(
    s: &Scenario,
    c: &FleetCounts,
    add: &mut impl FnMut(Severity, Prerequisite, Option<CoPath>, u64, String),
) {
    use Prerequisite as P;
    for (i, site) in s.sites.iter().enumerate() {
        let cas = under_cas(s, i);
        let limit = if cas {
            CHILD_PRIMARY_CLIENTS
        } else {
            PRIMARY_CLIENTS
        };
        let n = c.devices_by_site[i];
        if n > limit {
            add(
                Severity::Warning,
                P::SiteScale,
                None,
                n,
                format!(
                    "primary site {} has {n} clients; a primary {} supports {limit}: split it into more primary sites (sites)",
                    site.code,
                    if cas { "under a CAS" } else { "stand-alone" }
                ),
            );
        }
        if site.management_points > PRIMARY_MANAGEMENT_POINTS {
            add(
                Severity::Warning,
                P::SiteScale,
                None,
                n,
                format!(
                    "primary site {} has {} management points; a primary supports {PRIMARY_MANAGEMENT_POINTS} (sites.management_points)",
                    site.code, site.management_points
                ),
            );
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, site) in s.sites.iter().enumerate() {
        if !under_cas(s, i) || seen.contains(&site.hierarchy.as_str()) {
            continue;
        }
        seen.push(&site.hierarchy);
        let desktops: u64 = s
            .sites
            .iter()
            .zip(&c.desktops_by_site)
            .filter(|(x, _)| x.hierarchy == site.hierarchy)
            .map(|(_, n)| n)
            .sum();
        if desktops > CAS_DESKTOPS {
            add(
                Severity::Warning,
                P::SiteScale,
                None,
                desktops,
                format!(
                    "the CAS of hierarchy {} has {desktops} Windows desktops; a CAS supports {CAS_DESKTOPS}: split it into more hierarchies (sites.hierarchy)",
                    site.hierarchy
                ),
            );
        }
    }
}

#[cfg(test)]
mod scale_tests {
    use super::*;

    fn scale(sites: &str, devices: &[u64], desktops: &[u64]) -> Vec<Finding> {
        let s = Scenario::from_toml(&format!(
            "name = \"t\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 1\n[co_management]\nenable_date = 2027-01-04\n{sites}"
        ))
        .unwrap();
        let mut c = FleetCounts::new(s.sites.len(), 0);
        c.devices_by_site = devices.to_vec();
        c.desktops_by_site = desktops.to_vec();
        preflight(&s, &c)
            .into_iter()
            .filter(|f| f.prerequisite == Prerequisite::SiteScale)
            .collect()
    }

    #[test]
    fn site_scale_follows_the_supported_numbers() {
        let one = "[[sites]]\ncode = \"A\"\nshare = 1.0\nmanagement_points = 15\n";
        assert!(scale(one, &[175_000], &[175_000]).is_empty());
        let f = scale(one, &[175_001], &[175_001]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].devices, 175_001);
        assert_eq!(f[0].severity, Severity::Warning);
        let many = one.replace("= 15", "= 16");
        assert_eq!(scale(&many, &[1_000], &[1_000]).len(), 1);
        // Two primaries in one hierarchy sit under a CAS: 150,000 each, 700,000 desktops.
        let two = "[[sites]]\ncode = \"A\"\nshare = 0.5\nhierarchy = \"H\"\n[[sites]]\ncode = \"B\"\nshare = 0.5\nhierarchy = \"H\"\n";
        assert!(scale(two, &[150_000, 150_000], &[150_000, 150_000]).is_empty());
        assert_eq!(scale(two, &[150_001, 1], &[1, 1]).len(), 1);
        let f = scale(two, &[100_000, 100_000], &[350_001, 350_000]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].devices, 700_001);
        assert!(f[0].message.contains("CAS"), "{}", f[0].message);
    }
}
