//! The domain's vocabulary: OS releases, join types, identity options, locations, usage
//! patterns, lifecycle states, ineligibility reasons and enrollment errors.
//!
//! Every enum here has a stable snake_case name used in scenario files and CSV columns.

/// Defines a fieldless enum with a stable name per variant, `ALL` in declaration order,
/// `name()`, `from_name()` and a serde `Deserialize` that lists the accepted names on error.
#[macro_export]
#[doc(hidden)]
macro_rules! named_enum {
    ($(#[$m:meta])* $vis:vis enum $T:ident { $($(#[$vm:meta])* $V:ident => $name:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        $vis enum $T { $($(#[$vm])* $V),+ }

        impl $T {
            /// Every variant, in declaration order (the order of CSV columns).
            pub const ALL: &'static [$T] = &[$($T::$V),+];
            /// The names accepted in scenario files, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];
            /// The variant's stable name.
            pub const fn name(self) -> &'static str {
                match self { $($T::$V => $name),+ }
            }
            /// The variant with this name.
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($name => Some($T::$V),)+ _ => None }
            }
            /// The variant's index in [`Self::ALL`].
            pub const fn index(self) -> usize {
                self as usize
            }
            /// The variant at `i` in [`Self::ALL`].
            pub fn from_index(i: usize) -> Self {
                Self::ALL[i]
            }
        }

        impl std::fmt::Display for $T {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $T {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $T::from_name(&s).ok_or_else(|| serde::de::Error::unknown_variant(&s, $T::NAMES))
            }
        }
    };
}

named_enum! {
    /// A Windows release (or a family that co-management does not distinguish by release).
    pub enum OsRelease {
        /// Windows 7 (legacy, not targeted).
        Windows7 => "windows_7",
        /// Windows 8.1 (legacy, not targeted).
        Windows81 => "windows_8_1",
        /// Windows 10 1507, build 10240.
        Win10_1507 => "win10_1507",
        /// Windows 10 1511, build 10586.
        Win10_1511 => "win10_1511",
        /// Windows 10 1607, build 14393.
        Win10_1607 => "win10_1607",
        /// Windows 10 1703, build 15063.
        Win10_1703 => "win10_1703",
        /// Windows 10 1709, build 16299: the first co-manageable release.
        Win10_1709 => "win10_1709",
        /// Windows 10 1803, build 17134: the first with device-token enrollment.
        Win10_1803 => "win10_1803",
        /// Windows 10 1809, build 17763.
        Win10_1809 => "win10_1809",
        /// Windows 10 1903, build 18362.
        Win10_1903 => "win10_1903",
        /// Windows 10 1909, build 18363.
        Win10_1909 => "win10_1909",
        /// Windows 10 2004, build 19041.
        Win10_2004 => "win10_2004",
        /// Windows 10 20H2, build 19042.
        Win10_20H2 => "win10_20h2",
        /// Windows 10 21H1, build 19043.
        Win10_21H1 => "win10_21h1",
        /// Windows 10 21H2, build 19044.
        Win10_21H2 => "win10_21h2",
        /// Windows 10 22H2, build 19045.
        Win10_22H2 => "win10_22h2",
        /// Windows 11 21H2, build 22000.
        Win11_21H2 => "win11_21h2",
        /// Windows 11 22H2, build 22621.
        Win11_22H2 => "win11_22h2",
        /// Windows 11 23H2, build 22631.
        Win11_23H2 => "win11_23h2",
        /// Windows 11 24H2, build 26100.
        Win11_24H2 => "win11_24h2",
        /// Windows 10 Mobile: cannot be co-managed.
        Win10Mobile => "win10_mobile",
        /// Windows 10/11 Home edition, any release: cannot be co-managed.
        WindowsHome => "windows_home",
        /// Windows Server, any release: not targeted by the production policy.
        WindowsServer => "windows_server",
    }
}

impl OsRelease {
    /// The OS build number, for Windows 10 and 11 desktop releases.
    pub const fn build(self) -> Option<u32> {
        use OsRelease::*;
        Some(match self {
            Win10_1507 => 10240,
            Win10_1511 => 10586,
            Win10_1607 => 14393,
            Win10_1703 => 15063,
            Win10_1709 => 16299,
            Win10_1803 => 17134,
            Win10_1809 => 17763,
            Win10_1903 => 18362,
            Win10_1909 => 18363,
            Win10_2004 => 19041,
            Win10_20H2 => 19042,
            Win10_21H1 => 19043,
            Win10_21H2 => 19044,
            Win10_22H2 => 19045,
            Win11_21H2 => 22000,
            Win11_22H2 => 22621,
            Win11_23H2 => 22631,
            Win11_24H2 => 26100,
            _ => return None,
        })
    }

    /// Autopilot straight into co-management needs Windows 11 or Windows 10 20H2 (19042) or
    /// later.
    pub const fn supports_autopilot_into_co_management(self) -> bool {
        matches!(self.build(), Some(b) if b >= 19042)
    }

    /// Device-token enrollment (no user sign-in needed) needs Windows 10 1803 or later.
    pub const fn supports_device_token(self) -> bool {
        matches!(self.build(), Some(b) if b >= 17134)
    }
}

named_enum! {
    /// How a device is joined to a directory.
    pub enum JoinType {
        /// Joined to on-premises Active Directory only.
        OnPremisesAd => "on_premises_ad",
        /// Hybrid Azure AD joined (on-premises AD and Azure AD).
        HybridJoined => "hybrid_joined",
        /// Azure AD (Entra ID) joined.
        AzureAdJoined => "azure_ad_joined",
        /// Azure AD registered (workplace joined) only: cannot be co-managed.
        AzureAdRegistered => "azure_ad_registered",
        /// In a workgroup: no directory.
        Workgroup => "workgroup",
    }
}

named_enum! {
    /// How the on-premises domain authenticates against Azure AD.
    pub enum IdentityOption {
        /// Managed domain, password hash sync + seamless SSO.
        PasswordHashSync => "password_hash_sync",
        /// Managed domain, pass-through authentication + seamless SSO.
        PassThrough => "pass_through",
        /// Federated domain (AD FS).
        Federated => "federated",
    }
}

impl IdentityOption {
    /// Managed domains wait for Azure AD Connect to sync the device's certificate.
    pub const fn is_managed(self) -> bool {
        !matches!(self, IdentityOption::Federated)
    }
}

named_enum! {
    /// Where a device connects from.
    pub enum Location {
        /// On the corporate network: line of sight to a domain controller.
        CorporateNetwork => "corporate_network",
        /// On the internet with a VPN up while online: line of sight to a domain controller.
        Vpn => "vpn",
        /// On the internet only: no line of sight to a domain controller.
        InternetOnly => "internet_only",
    }
}

named_enum! {
    /// When a device is switched on.
    pub enum UsagePattern {
        /// On during office hours on weekdays; the user signs in when it starts.
        OfficeHours => "office_hours",
        /// Always on; the user signs in each weekday morning.
        AlwaysOn => "always_on",
        /// A laptop that is used on some weekdays only and often stays off for days.
        LaptopIntermittent => "laptop_intermittent",
    }
}

named_enum! {
    /// Why a device cannot take Path 1 to co-management. The first that applies is reported.
    pub enum IneligibleReason {
        /// Windows 7 or 8.1: not targeted by the production policy.
        LegacyOs => "legacy_os",
        /// Windows Server: not targeted by the production policy.
        Server => "server",
        /// Windows 10 Mobile cannot be co-managed.
        Win10Mobile => "win10_mobile",
        /// Windows Home edition cannot be co-managed.
        HomeEdition => "home_edition",
        /// Windows 10 below 1709 (build 16299): needs an OS update (0x80070032).
        OsBelow1709 => "os_below_1709",
        /// Enrolled in a third-party MDM: coexistence, not co-management.
        ThirdPartyMdm => "third_party_mdm",
        /// Azure AD registered (workplace joined) only.
        AzureAdRegisteredOnly => "azure_ad_registered_only",
        /// In a workgroup: cannot become hybrid Azure AD joined.
        Workgroup => "workgroup",
        /// No ConfigMgr client: not on Path 1.
        NoConfigMgrClient => "no_configmgr_client",
        /// Path 2 only: the primary user holds no Intune license, which Autopilot needs (Path 1
        /// needs none since December 2019).
        NoLicense => "no_license",
        /// Domain joined but on the internet only: the hybrid join task cannot reach a domain
        /// controller (assumption; see MODEL.md).
        NoDomainControllerLineOfSight => "no_dc_line_of_sight",
        /// Its site runs a ConfigMgr version below 1710.
        SiteVersionBelow1710 => "site_version_below_1710",
        /// Several hierarchies attach to the tenant and its site is below 1806.
        SiteVersionBelow1806 => "site_version_below_1806",
    }
}

named_enum! {
    /// Where a device stands on its way to co-management. Mutually exclusive: every device is
    /// in exactly one state at every moment.
    pub enum LifecycleState {
        /// Cannot take Path 1 (see [`IneligibleReason`]).
        Ineligible => "ineligible",
        /// Under a third-party MDM, Windows 10 1709+ (or 11) and Azure AD or hybrid joined:
        /// ConfigMgr runs in coexistence (until migrated, if the scenario migrates).
        Coexistence => "coexistence",
        /// Windows 10 below 1709, waiting for the OS upgrade program.
        AwaitingOsUpgrade => "awaiting_os_upgrade",
        /// Domain joined without the ConfigMgr client, waiting for client push.
        AwaitingClientPush => "awaiting_client_push",
        /// Domain joined, hybrid Azure AD join not yet started or not yet run.
        AwaitingHybridJoin => "awaiting_hybrid_join",
        /// Join task wrote its certificate; waiting for Azure AD Connect sync and the next task run.
        HybridJoinPendingSync => "hybrid_join_pending_sync",
        /// Azure AD joined or hybrid joined, no co-management enrollment scheduled (co-management
        /// not enabled yet, policy not yet received, or not in the automatic enrollment scope).
        Eligible => "eligible",
        /// Co-management policy received; enrollment scheduled at a randomized time or waiting
        /// for the device to be online.
        Scheduled => "scheduled",
        /// Enrollment needs the user token and waits for the user to sign in.
        PendingUserSignIn => "pending_user_sign_in",
        /// Enrollment initiated and failed with a transient error: retrying.
        Enrolling => "enrolling",
        /// Enrollment failed with a permanent error: waiting for the remediation.
        AwaitingRemediation => "awaiting_remediation",
        /// Path 2: a new device in Autopilot provisioning (Enrollment Status Page).
        AutopilotProvisioning => "autopilot_provisioning",
        /// Path 2: provisioning failed or timed out; waiting to be provisioned again.
        ProvisioningFailed => "provisioning_failed",
        /// Azure AD joined and enrolled in Intune, waiting for the ConfigMgr client app.
        IntuneOnly => "intune_only",
        /// Intune only, and a Path 2 prerequisite is missing: the client cannot come.
        IntuneOnlyBlocked => "intune_only_blocked",
        /// The client install waits for a cloud management gateway connection.
        ClientInstallQueued => "client_install_queued",
        /// The client downloads and installs through the gateway.
        ClientInstalling => "client_installing",
        /// The client install failed; retried at a later Intune check-in.
        ClientInstallFailed => "client_install_failed",
        /// Client installed and registered; waiting for the co-management policy.
        AwaitingCoManagementPolicy => "awaiting_co_management_policy",
        /// ConfigMgr client and enrolled in Intune: co-managed.
        CoManaged => "co_managed",
        /// Under a third-party MDM where coexistence does not apply (below 1709, or neither
        /// Azure AD nor hybrid joined): it cannot enroll in Intune until it is migrated off
        /// that MDM, by `[mdm_migration]` if the scenario has one. Last, so that the states
        /// before it keep their indexes and columns.
        AwaitingMdmMigration => "awaiting_mdm_migration",
    }
}

impl LifecycleState {
    /// Enrolled in Intune, so visible in the Intune admin center without tenant attach:
    /// co-managed, or any Path 2 state (in user-driven Autopilot the device is enrolled by the
    /// time the Enrollment Status Page shows).
    pub const fn in_intune(self) -> bool {
        matches!(
            self,
            LifecycleState::CoManaged
                | LifecycleState::AutopilotProvisioning
                | LifecycleState::ProvisioningFailed
        ) || self.is_path2_enrolled()
    }

    /// Path 2 states after Autopilot provisioning: enrolled in Intune, not yet co-managed.
    pub const fn is_path2_enrolled(self) -> bool {
        matches!(
            self,
            LifecycleState::IntuneOnly
                | LifecycleState::IntuneOnlyBlocked
                | LifecycleState::ClientInstallQueued
                | LifecycleState::ClientInstalling
                | LifecycleState::ClientInstallFailed
                | LifecycleState::AwaitingCoManagementPolicy
        )
    }
}

/// What happens after an enrollment attempt fails with an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Transient: the client retries on its own schedule.
    Later,
    /// Transient, but the retry needs the user to sign in.
    AtSignIn,
    /// Permanent: nothing changes until an administrator remediates.
    AfterRemediation,
}

named_enum! {
    /// An MDM enrollment error, by its documented code. `0x8018002B` has two causes with
    /// different remedies, so it appears twice.
    pub enum EnrollmentError {
        /// 0x80180002: no Azure AD token for the user.
        NoAzureAdToken => "0x80180002",
        /// 0x80180003: the user is not authorized to enroll (user token only; device limits do
        /// not apply to co-managed enrollments).
        UserNotAuthorized => "0x80180003",
        /// 0x8018000A: device already enrolled (other user or other MDM): a cause drawn once per
        /// device.
        AlreadyEnrolled => "0x8018000A",
        /// 0x80180014: platform or version blocked by the tenant's enrollment restriction.
        PlatformBlocked => "0x80180014",
        /// 0x80180018: user license in a bad state.
        LicenseBadState => "0x80180018",
        /// 0x80180026: management blocked: the legacy Intune PC agent is installed (a cause drawn
        /// once per device).
        ManagementBlocked => "0x80180026",
        /// 0x8018002A: the user ignored the MFA prompt; ConfigMgr retries and prompts again.
        MfaPromptIgnored => "0x8018002A",
        /// 0x8018002B: MDM not configured yet (transient configuration).
        MdmNotConfigured => "0x8018002B",
        /// 0x8018002B: the user's UPN suffix is non-routable (.local); a cause drawn once.
        NonRoutableUpn => "0x8018002B_upn",
        /// 0x80192EE7: name not resolved.
        NameNotResolved => "0x80192EE7",
        /// 0x80192EE2: internet timeout.
        InternetTimeout => "0x80192EE2",
        /// 0xCAA70004: server or proxy not found.
        ServerNotFound => "0xCAA70004",
        /// 0xCAA10001: needs user sign-in.
        NeedsUserSignIn => "0xCAA10001",
    }
}

impl EnrollmentError {
    /// The documented error code.
    pub const fn code(self) -> u32 {
        use EnrollmentError::*;
        match self {
            NoAzureAdToken => 0x8018_0002,
            UserNotAuthorized => 0x8018_0003,
            AlreadyEnrolled => 0x8018_000A,
            PlatformBlocked => 0x8018_0014,
            LicenseBadState => 0x8018_0018,
            ManagementBlocked => 0x8018_0026,
            MfaPromptIgnored => 0x8018_002A,
            MdmNotConfigured | NonRoutableUpn => 0x8018_002B,
            NameNotResolved => 0x8019_2EE7,
            InternetTimeout => 0x8019_2EE2,
            ServerNotFound => 0xCAA7_0004,
            NeedsUserSignIn => 0xCAA1_0001,
        }
    }

    /// Whether and how the client retries after this error (`memdocs: configmgr/comanage/how-to-monitor.md`).
    pub const fn retry(self) -> Retry {
        use EnrollmentError::*;
        match self {
            MfaPromptIgnored | MdmNotConfigured | NameNotResolved | InternetTimeout
            | ServerNotFound => Retry::Later,
            NeedsUserSignIn => Retry::AtSignIn,
            NoAzureAdToken | UserNotAuthorized | AlreadyEnrolled | PlatformBlocked
            | LicenseBadState | ManagementBlocked | NonRoutableUpn => Retry::AfterRemediation,
        }
    }

    /// Whether the error needs a user, so that only user-token enrollments report it
    /// (`memdocs: configmgr/comanage/tutorial-co-manage-clients.md`: device-token enrollment
    /// involves no user; 0x80180003 and 0x80180018 concern the user's authorization and license,
    /// an assumption).
    pub const fn needs_user(self) -> bool {
        use EnrollmentError::*;
        matches!(
            self,
            MfaPromptIgnored
                | NeedsUserSignIn
                | NoAzureAdToken
                | UserNotAuthorized
                | LicenseBadState
        )
    }

    /// Whether the error is a lasting cause drawn once (per device or for the tenant), not a
    /// per-attempt draw of `enrollment.errors`.
    pub const fn is_cause(self) -> bool {
        use EnrollmentError::*;
        matches!(
            self,
            NonRoutableUpn | ManagementBlocked | PlatformBlocked | AlreadyEnrolled
        )
    }

    /// The CSV column that counts this error: `fail_` and the name.
    pub fn column(self) -> String {
        format!("fail_{}", self.name())
    }
}

named_enum! {
    /// The way a device takes to co-management.
    pub enum CoPath {
        /// Existing ConfigMgr client: hybrid join and automatic enrollment.
        Path1 => "path1",
        /// Azure AD joined and in Intune first, then the ConfigMgr client through the gateway.
        Path2 => "path2",
    }
}

named_enum! {
    /// A prerequisite that `fleetsim check` verifies (`memdocs: configmgr/comanage/overview.md`, `tutorial-co-manage-new-devices.md`).
    pub enum Prerequisite {
        /// Azure AD (Entra ID) Premium licensing.
        AzureAdPremium => "azure_ad_premium",
        /// An Intune license for the admin account.
        IntuneAdminLicense => "intune_admin_license",
        /// Full administrator with All scope, to enable co-management.
        FullAdministrator => "full_administrator_all_scope",
        /// Co-management is enabled on a date.
        CoManagementEnabled => "co_management_enabled",
        /// ConfigMgr 1710 or later at every site.
        ConfigMgrVersion => "configmgr_1710",
        /// ConfigMgr 1806 or later when several hierarchies attach to one tenant.
        SeveralHierarchies => "configmgr_1806_for_several_hierarchies",
        /// Azure AD Connect syncs devices (managed domains).
        AadConnectSync => "aad_connect_sync",
        /// The client setting that registers domain-joined devices with Azure AD.
        AutoRegisterClientSetting => "auto_register_client_setting",
        /// Automatic enrollment scope is not None.
        AutoEnrollment => "automatic_enrollment",
        /// Enhanced HTTP on the site (Path 2).
        EnhancedHttp => "enhanced_http",
        /// Cloud services registered in Azure (Path 2).
        CloudServices => "cloud_services",
        /// The site onboarded to Azure AD (Path 2).
        SiteOnboarded => "site_onboarded_to_azure_ad",
        /// A cloud management gateway (Path 2).
        CloudManagementGateway => "cloud_management_gateway",
        /// Management points enabled for the gateway (Path 2).
        ManagementPointsForCmg => "management_points_for_cmg",
        /// Subscription manager role, to create the gateway (Path 2).
        SubscriptionManager => "subscription_manager",
        /// Global administrator role, to create the Azure AD apps (Path 2).
        GlobalAdministrator => "global_administrator",
        /// The CCMSETUPCMD command line stays within 1,024 characters (Path 2).
        CcmsetupCommandLine => "ccmsetup_command_line",
        /// ConfigMgr 2111 or later for Autopilot straight into co-management.
        AutopilotIntoCoManagement => "autopilot_into_co_management_2111",
        /// Enough management points: each serves 25,000 clients.
        ManagementPointCapacity => "management_point_capacity",
        /// Supported site sizes: clients per primary, management points per primary,
        /// Windows desktops per CAS.
        SiteScale => "site_scale",
    }
}

/// What ConfigMgr switches off on a device in coexistence with a third-party MDM (memdocs:
/// configmgr/comanage/coexistence.md), as summary.csv names them.
pub const COEXISTENCE_CONFIGMGR_OFF: [&str; 7] = [
    "resource_access",
    "apps",
    "software_updates",
    "endpoint_protection",
    "compliance",
    "device_configuration",
    "office_c2r",
];

/// Whether ConfigMgr treats a device under a third-party MDM as coexistence: Windows 10
/// 1709 or later (or Windows 11), Azure AD joined or hybrid joined (memdocs:
/// configmgr/comanage/coexistence.md).
pub fn coexistence_applies(os: OsRelease, join: JoinType) -> bool {
    os.build().is_some_and(|b| b >= 16299)
        && matches!(join, JoinType::AzureAdJoined | JoinType::HybridJoined)
}

named_enum! {
    /// A co-management workload that moves from ConfigMgr to Intune (`memdocs: configmgr/comanage/workloads.md`).
    pub enum Workload {
        /// Compliance policies.
        CompliancePolicies => "compliance_policies",
        /// Windows Update policies.
        WindowsUpdatePolicies => "windows_update_policies",
        /// Resource access policies (not supported from ConfigMgr 2203).
        ResourceAccessPolicies => "resource_access_policies",
        /// Endpoint Protection.
        EndpointProtection => "endpoint_protection",
        /// Device configuration (carries resource access and Endpoint Protection).
        DeviceConfiguration => "device_configuration",
        /// Office Click-to-Run apps.
        OfficeClickToRun => "office_click_to_run",
        /// Client apps.
        ClientApps => "client_apps",
    }
}

impl Workload {
    /// Whether a site at `version` offers the workload.
    pub const fn available_at(self, version: u32) -> bool {
        !matches!(self, Workload::ResourceAccessPolicies) || version < 2203
    }
}

named_enum! {
    /// Where a workload's slider stands.
    pub enum Slider {
        /// Configuration Manager manages it (the default).
        ConfigMgr => "configuration_manager",
        /// Intune manages it for the workload's pilot collection.
        PilotIntune => "pilot_intune",
        /// Intune manages it for every co-managed device.
        Intune => "intune",
    }
}

named_enum! {
    /// What a rollout gate measures.
    pub enum GateMetric {
        /// Share of a collection's members that are co-managed.
        CoManagedShare => "co_managed_share",
        /// Detected incidents of a workload per device switched to Intune for it.
        IncidentRate => "incident_rate",
        /// Failed enrollment attempts per attempt, over the last interval.
        EnrollmentFailureRate => "enrollment_failure_rate",
        /// Helpdesk tickets per day, over the last interval.
        TicketsPerDay => "tickets_per_day",
    }
}

/// Automatic enrollment scope of the co-management settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoEnrollment {
    /// No automatic enrollment.
    None,
    /// Members of the pilot collection only (index into the scenario's collections).
    Pilot(usize),
    /// Every client on Windows 10 1709 or later.
    All,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (i, os) in OsRelease::ALL.iter().enumerate() {
            assert_eq!(OsRelease::from_name(os.name()), Some(*os));
            assert_eq!(os.index(), i);
        }
        let mut names: Vec<_> = EnrollmentError::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EnrollmentError::ALL.len());
    }

    #[test]
    fn builds_match_domain_table() {
        assert_eq!(OsRelease::Win10_1709.build(), Some(16299));
        assert_eq!(OsRelease::Win10_22H2.build(), Some(19045));
        assert_eq!(OsRelease::Win11_24H2.build(), Some(26100));
        assert_eq!(OsRelease::WindowsServer.build(), None);
        assert!(!OsRelease::Win10_1709.supports_device_token());
        assert!(OsRelease::Win10_1803.supports_device_token());
    }

    #[test]
    fn error_codes_match_domain_table() {
        assert_eq!(EnrollmentError::MfaPromptIgnored.code(), 0x8018002A);
        assert_eq!(EnrollmentError::MfaPromptIgnored.retry(), Retry::Later);
        assert_eq!(EnrollmentError::NonRoutableUpn.code(), 0x8018002B);
        assert_eq!(
            EnrollmentError::NonRoutableUpn.retry(),
            Retry::AfterRemediation
        );
        assert_eq!(EnrollmentError::NeedsUserSignIn.retry(), Retry::AtSignIn);
        assert_eq!(EnrollmentError::LicenseBadState.column(), "fail_0x80180018");
    }
}
