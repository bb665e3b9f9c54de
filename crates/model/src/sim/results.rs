//! Results: what a run produces and how it is asked for (options, counters, recorded events,
//! breakdown, gateway rows, [`RunResult`]); no rule of the model lives here.
//!
//! Leaves to others: the counts' meaning (each process) and writing them (the runner).

use crate::domain::GateMetric;
use crate::domain::{CoPath, EnrollmentError, IneligibleReason, LifecycleState, Workload};
use crate::prereq::Finding;
use crate::scenario::{DAY, Minute};

crate::named_enum! {
    /// Cumulative counters of a run, in CSV column order (the error counters follow).
    pub enum Counter {
        /// Enrollment attempts started.
        EnrollmentAttempts => "enrollment_attempts",
        /// Attempts that succeeded.
        EnrollmentSuccesses => "enrollment_successes",
        /// Attempts that failed, any code.
        EnrollmentFailures => "enrollment_failures",
        /// Hybrid Azure AD joins completed during the run.
        HybridJoinsCompleted => "hybrid_joins_completed",
        /// Co-management policies received by clients.
        PoliciesReceived => "co_management_policies_received",
        /// Permanent errors remediated.
        Remediations => "remediations",
        /// New Path 2 devices that arrived.
        DevicesArrived => "path2_devices_arrived",
        /// Autopilot provisionings that succeeded.
        AutopilotProvisionings => "autopilot_provisionings",
        /// Provisionings that failed (other than timeout).
        EspFailures => "esp_failures",
        /// Provisionings that hit the ESP timeout (0x800705B4).
        EspTimeouts => "esp_timeouts_0x800705B4",
        /// ConfigMgr client installs from Intune started (through the gateway).
        ClientInstallAttempts => "client_install_attempts",
        /// Client installs that failed (any cause).
        ClientInstallFailures => "client_install_failures",
        /// Of them, failed because the CCMSETUPCMD command line exceeds 1,024 characters.
        ClientInstallCommandLineErrors => "client_install_failures_command_line_over_1024",
        /// Client installs that succeeded.
        ClientInstallsCompleted => "client_installs_completed",
        /// Clients installed by client push.
        ClientPushes => "client_pushes",
        /// Devices upgraded to a supported Windows release.
        OsUpgrades => "os_upgrades",
        /// Devices migrated off a third-party MDM.
        MdmMigrations => "mdm_migrations",
        /// Devices whose authority for a workload moved to Intune (one per device and workload).
        WorkloadSwitches => "workload_switches_to_intune",
        /// Incidents caused by a switched workload's policy.
        IncidentsStarted => "incidents_total",
        /// Incidents detected.
        IncidentsDetected => "incidents_detected",
        /// Helpdesk tickets raised by detected incidents.
        HelpdeskTickets => "helpdesk_tickets",
    }
}

/// Number of counter columns: the named counters, then one per enrollment error.
pub const COUNTERS: usize = Counter::ALL.len() + EnrollmentError::ALL.len();

/// Number of lifecycle states.
pub const STATES: usize = LifecycleState::ALL.len();

pub(super) const PATHS: usize = CoPath::ALL.len();

/// The counter column names, in order.
pub fn counter_names() -> Vec<String> {
    Counter::ALL
        .iter()
        .map(|c| c.name().to_string())
        .chain(EnrollmentError::ALL.iter().map(|e| e.column()))
        .collect()
}

/// How long one timeline row lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Bucket {
    /// One row per simulated day.
    #[default]
    Day,
    /// One row per simulated hour.
    Hour,
}

impl Bucket {
    /// Minutes per row.
    pub const fn minutes(self) -> Minute {
        match self {
            Bucket::Day => DAY,
            Bucket::Hour => 60,
        }
    }
}

/// Which state changes a run records one by one.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum EventCapture {
    /// None (the default: only counts).
    #[default]
    Off,
    /// Those of a share of devices, drawn per device (1.0: every device).
    Sample(f64),
}

/// How to run a scenario: nothing here changes the results.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Timeline resolution.
    pub bucket: Bucket,
    /// Event capture.
    pub events: EventCapture,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: 0,
            bucket: Bucket::Day,
            events: EventCapture::Off,
        }
    }
}

/// What one recorded event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// The device's state at the start of the run.
    Initial(Option<IneligibleReason>),
    /// A new Path 2 device arrived.
    Arrived,
    /// The hybrid join task wrote the device's certificate.
    JoinCertificateWritten,
    /// Hybrid Azure AD join completed.
    HybridJoined,
    /// The client received the co-management policy.
    PolicyReceived,
    /// The randomized enrollment time came.
    EnrollmentDue,
    /// An enrollment attempt succeeded.
    Enrolled,
    /// An enrollment attempt failed with this error.
    Failed(EnrollmentError),
    /// A permanent error was remediated.
    Remediated,
    /// Autopilot provisioning finished, succeeded or not.
    Provisioned(EspOutcome),
    /// Provisioning started again after a failure.
    Reprovisioning,
    /// The ESP's deadline came after it had ended (into co-management).
    EspAlreadyEnded,
    /// The ConfigMgr client app reached the device at an Intune check-in.
    ClientAppReceived,
    /// The gateway gave the device a connection.
    GatewayConnection,
    /// An internet-only client polled for policy with no gateway to reach its site.
    NoSiteContact,
    /// A client install finished, succeeded or not.
    ClientInstall(bool),
    /// The client registered with its site.
    ClientRegistered,
    /// Client push installed the client.
    ClientPushed,
    /// The OS upgrade program moved the device to a supported release.
    OsUpgraded,
    /// The device was migrated off its third-party MDM.
    MdmMigrated,
    /// The device took the current workload sliders at a policy poll.
    WorkloadsReconciled,
    /// A switched workload's policy caused an incident on the device.
    Incident(Workload),
}

/// One recorded state change of one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// Global device id.
    pub device: u32,
    /// When it happened.
    pub time: Minute,
    /// State before (equal to `to` for a device's first record).
    pub from: LifecycleState,
    /// State after.
    pub to: LifecycleState,
    /// What happened.
    pub detail: Detail,
}

/// Devices in each state at the end of a run, for one value of one device attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakdownRow {
    /// The attribute: `os`, `join`, `identity`, `location`, `usage`, `path` or `site`.
    pub dimension: &'static str,
    /// The attribute's value, such as `win11_23h2` or a site code.
    pub value: String,
    /// Devices per state (indexed by `LifecycleState::index`).
    pub states: [u64; STATES],
}

/// Gateway load at the end of each timeline row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayRow {
    /// Clients holding a gateway connection at the end of the row.
    pub concurrent: u64,
    /// Clients waiting for a connection at the end of the row.
    pub queued: u64,
    /// Most clients holding a connection at once during the row (sampled at every barrier).
    pub peak: u64,
    /// Most install requests waiting at once during the row.
    pub peak_queued: u64,
    /// Concurrent clients the gateway serves without delay.
    pub capacity: u64,
}

/// What a run produces: counts only, in a fixed order, independent of threads.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Minutes per timeline row.
    pub bucket: Minute,
    /// Devices in the fleet at the end (existing plus arrived).
    pub devices: u64,
    /// Devices that can reach co-management (no permanent ineligibility reason).
    pub eligible: u64,
    /// Of them, per path (indexed by `CoPath::index`), by the path they end on.
    pub eligible_by_path: [u64; PATHS],
    /// Devices per ineligibility reason (indexed by `IneligibleReason::index`).
    pub reasons: Vec<u64>,
    /// Devices stuck per missing prerequisite (indexed by `Prerequisite::index`): Path 2 devices
    /// `intune_only_blocked`, and internet-only Path 1 clients with no gateway to their site.
    pub blocked: Vec<u64>,
    /// Per row: devices in each state at the end of the row.
    pub states: Vec<[u64; STATES]>,
    /// Per site (indexed like [`Scenario::sites`](crate::Scenario::sites)), per row: devices in each state.
    pub site_states: Vec<Vec<[u64; STATES]>>,
    /// Per row: cumulative counters at the end of the row (see [`counter_names`]).
    pub counters: Vec<[u64; COUNTERS]>,
    /// Per row: gateway load.
    pub gateway: Vec<GatewayRow>,
    /// Per path, per hour: co-managed devices at the end of the hour.
    pub co_managed_hourly: [Vec<u64>; PATHS],
    /// Per hour: co-managed devices among those present at the start (new Path 2 devices
    /// left out).
    pub co_managed_hourly_existing: Vec<u64>,
    /// Eligible devices among those present at the start.
    pub eligible_existing: u64,
    /// When co-management was enabled (`None`: never, or a tenant prerequisite is missing).
    pub co_management_at: Option<Minute>,
    /// Per row: devices with the ConfigMgr client that are not enrolled in Intune.
    pub configmgr_only: Vec<u64>,
    /// When tenant attach uploads ConfigMgr's devices (`None`: never).
    pub tenant_attach_at: Option<Minute>,
    /// Recorded events, in time order (then device, then order of occurrence).
    pub events: Vec<EventRecord>,
    /// Events the engine handled.
    pub events_handled: u64,
    /// Enrollment randomization window used, in minutes.
    pub randomization_window: Minute,
    /// Effective policy poll interval per site (stretched when management points are overloaded).
    pub site_poll: Vec<Minute>,
    /// Devices in each state at the end, by device attribute.
    pub breakdown: Vec<BreakdownRow>,
    /// What the preflight found (as `fleetsim check` prints it).
    pub findings: Vec<Finding>,
    /// Per row, per workload: co-managed devices whose authority for it is Intune.
    pub workloads: Vec<Vec<u64>>,
    /// Per row: devices with Windows Update, device configuration and Office C2R at Intune.
    pub autopatch_ready: Vec<u64>,
    /// Per row: active incidents (device and workload pairs).
    pub incidents_active: Vec<u64>,
    /// Per row, per collection: co-managed members.
    pub collection_co_managed: Vec<Vec<u64>>,
    /// Per collection: members.
    pub collection_members: Vec<u64>,
    /// The strategy's decisions, in time order.
    pub decisions: Vec<Decision>,
    /// Per workload: when it reached Intune for 99% of co-managed devices (minute of the barrier).
    pub workload_at_intune: [Option<Minute>; WORKLOADS],
    /// Most active incidents at once (sampled at the barriers).
    pub blast_radius: u64,
    /// Device-minutes with compliance evaluated by Intune (conditional access).
    pub conditional_access_minutes: u64,
}

impl RunResult {
    /// Hours from the start until at least `percent`% of eligible devices were co-managed,
    /// over both paths (`None`) or one.
    pub fn hours_to_co_managed(&self, percent: u64, path: Option<CoPath>) -> Option<u32> {
        let eligible = path.map_or(self.eligible, |p| self.eligible_by_path[p.index()]);
        if eligible == 0 {
            return None;
        }
        let hours = self.co_managed_hourly[0].len();
        (0..hours)
            .position(|h| {
                let co = match path {
                    Some(p) => self.co_managed_hourly[p.index()][h],
                    None => self.co_managed_hourly.iter().map(|v| v[h]).sum(),
                };
                co * 100 >= percent * eligible
            })
            .map(|h| h as u32 + 1)
    }

    /// Hours from the start until at least `percent`% of the eligible devices present at the
    /// start were co-managed (new devices left out).
    pub fn hours_to_co_managed_existing(&self, percent: u64) -> Option<u32> {
        if self.eligible_existing == 0 {
            return None;
        }
        self.co_managed_hourly_existing
            .iter()
            .position(|co| co * 100 >= percent * self.eligible_existing)
            .map(|h| h as u32 + 1)
    }

    /// Devices visible in the Intune admin center at the end of row `i`: those enrolled in
    /// Intune, and, once tenant attach has run, every ConfigMgr client.
    pub fn cloud_visible(&self, i: usize) -> u64 {
        let in_intune: u64 = LifecycleState::ALL
            .iter()
            .filter(|s| s.in_intune())
            .map(|s| self.states[i][s.index()])
            .sum();
        let row_end = (i as Minute + 1).saturating_mul(self.bucket);
        let attached = self.tenant_attach_at.is_some_and(|t| t < row_end);
        in_intune + if attached { self.configmgr_only[i] } else { 0 }
    }

    /// The ConfigMgr clients at the end in Intune's co-management eligibility states, in the
    /// order of [`INTUNE_ELIGIBILITY`]: comanaged, eligible, eligibleButNotAzureAdJoined,
    /// needsOsUpdate, ineligible, scheduledForEnrollment (mapping in MODEL.md).
    pub fn intune_eligibility(&self) -> [u64; 6] {
        use IneligibleReason as R;
        use LifecycleState as S;
        let st = self.states.last().copied().unwrap_or([0; STATES]);
        let s = |x: S| st[x.index()];
        let r = |x: R| self.reasons.get(x.index()).copied().unwrap_or(0);
        // Ineligible devices without a client are not ConfigMgr devices; Windows 10 below
        // 1709 needs an OS update; domain joined but out of a DC's reach is not joined yet.
        // Devices under a third-party MDM, in coexistence or not, are ineligible.
        let ineligible = (s(S::Ineligible) + s(S::Coexistence) + s(S::AwaitingMdmMigration))
            .saturating_sub(r(R::NoConfigMgrClient) + r(R::NoLicense))
            .saturating_sub(r(R::OsBelow1709) + r(R::NoDomainControllerLineOfSight));
        [
            s(S::CoManaged),
            s(S::Eligible) + s(S::AwaitingCoManagementPolicy),
            s(S::AwaitingHybridJoin)
                + s(S::HybridJoinPendingSync)
                + r(R::NoDomainControllerLineOfSight),
            s(S::AwaitingOsUpgrade) + r(R::OsBelow1709),
            ineligible,
            s(S::Scheduled) + s(S::PendingUserSignIn) + s(S::Enrolling) + s(S::AwaitingRemediation),
        ]
    }

    /// `hours` (from the start) counted from the hour in which co-management was enabled
    /// instead; `None` if it never was.
    pub fn from_enable(&self, hours: Option<u32>) -> Option<u32> {
        let at = self.co_management_at?;
        hours.map(|h| h.saturating_sub(at / 60))
    }
}

/// The summary.csv columns of [`RunResult::intune_eligibility`].
pub const INTUNE_ELIGIBILITY: [&str; 6] = [
    "intune_comanaged",
    "intune_eligible",
    "intune_eligible_but_not_azure_ad_joined",
    "intune_needs_os_update",
    "intune_ineligible",
    "intune_scheduled_for_enrollment",
];

/// Number of workloads.
pub(super) const WORKLOADS: usize = Workload::ALL.len();

/// How an Autopilot provisioning ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EspOutcome {
    /// Azure AD joined and enrolled in Intune.
    Success,
    /// Failed (other than timeout).
    Failure,
    /// The Enrollment Status Page timed out (0x800705B4).
    Timeout,
}

/// What a decision in decisions.csv is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionSource {
    /// A strategy step.
    Step,
    /// A gate.
    Gate,
}

/// One decision of the rollout strategy: a step that ran, or a gate's check.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// When.
    pub time: Minute,
    /// Step or gate.
    pub source: DecisionSource,
    /// The step's or gate's name.
    pub name: String,
    /// The metric a gate checked.
    pub metric: Option<GateMetric>,
    /// Its value.
    pub value: Option<f64>,
    /// `run`, `promote`, `wait`, `fail`, `halt`, `rollback` or `retry`.
    pub decision: &'static str,
    /// What changed, in words.
    pub detail: String,
}
