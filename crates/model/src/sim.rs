//! The rollout as a simulation: every device's way to co-management (Path 1, Path 2, and the
//! programs that bring other devices onto a path), replayed event by event on the engine, and
//! the counts a run produces.

use crate::domain::{
    AutoEnrollment, CoPath, EnrollmentError, GateMetric, IneligibleReason, JoinType,
    LifecycleState, Location, OsRelease, Prerequisite, Retry, Slider, Workload,
};
use crate::fleet::{Membership, Profile, draw_arrival, draw_profile, permanent_reason};
use crate::prereq::{Finding, FleetCounts, preflight};
use crate::scenario::{DAY, Minute, Remediation, Scenario};
use crate::schedule::{Calendar, DeviceSchedule, round_up};
use crate::strategy::{OnFailure, StepAction, StepStart};
use chrono::Datelike;
use fleetsim_engine::{Engine, EventQueue, Purpose, RandomStreams, Shard, shard_ranges};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

const SCHEDULE: Purpose = Purpose::named("enrollment-schedule");
const ATTEMPT: Purpose = Purpose::named("enrollment-attempt");
const ERROR: Purpose = Purpose::named("enrollment-error");
const REMEDIATION: Purpose = Purpose::named("remediation");
const SAMPLE: Purpose = Purpose::named("event-sample");
const ESP: Purpose = Purpose::named("autopilot-esp");
const INSTALL: Purpose = Purpose::named("client-install");
const INCIDENT: Purpose = Purpose::named("workload-incident");
const TICKET: Purpose = Purpose::named("helpdesk-ticket");
const WORKLOADS: usize = Workload::ALL.len();

const fn bit(w: Workload) -> u8 {
    1 << w.index()
}

/// Workloads that Windows Autopatch needs at Intune.
const AUTOPATCH: u8 = bit(Workload::WindowsUpdatePolicies)
    | bit(Workload::DeviceConfiguration)
    | bit(Workload::OfficeClickToRun);

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
const PATHS: usize = CoPath::ALL.len();

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
    /// The ConfigMgr client app reached the device at an Intune check-in.
    ClientAppReceived,
    /// The gateway gave the device a connection.
    GatewayConnection,
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
    /// Most clients holding a connection at once during the row.
    pub peak: u64,
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
    /// Devices stuck on Path 2 per missing prerequisite (indexed by `Prerequisite::index`).
    pub blocked: Vec<u64>,
    /// Per row: devices in each state at the end of the row.
    pub states: Vec<[u64; STATES]>,
    /// Per site (indexed like [`Scenario::sites`]), per row: devices in each state.
    pub site_states: Vec<Vec<[u64; STATES]>>,
    /// Per row: cumulative counters at the end of the row (see [`counter_names`]).
    pub counters: Vec<[u64; COUNTERS]>,
    /// Per row: gateway load.
    pub gateway: Vec<GatewayRow>,
    /// Per path, per hour: co-managed devices at the end of the hour.
    pub co_managed_hourly: [Vec<u64>; PATHS],
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum JoinStage {
    NotJoined,
    PendingSync,
    Joined,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum EnrollStage {
    None,
    Scheduled,
    Due,
    PendingSignIn,
    Retrying,
    Remediation,
    Done,
}

/// Where a device is, beyond Path 1's join and enrollment stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    NotArrived,
    Ineligible,
    Coexistence,
    AwaitingOsUpgrade,
    AwaitingClientPush,
    Path1,
    Provisioning,
    ProvisioningFailed,
    IntuneOnly,
    IntuneOnlyBlocked,
    InstallQueued,
    Installing,
    InstallFailed,
    AwaitingPolicy,
    CoManaged,
}

/// A device's whole state: its profile and where it stands.
#[derive(Clone, Copy, Debug)]
struct Device {
    profile: Profile,
    reason: Option<IneligibleReason>,
    phase: Phase,
    join: JoinStage,
    enroll: EnrollStage,
    path: CoPath,
    tries: u8,
    in_scope: bool,
    record: bool,
    attempts: u16,
    installs: u16,
    /// When it enrolled in Intune (Path 2; sets its check-in schedule).
    intune_at: Minute,
    /// When the OS upgrade program reaches it (`u32::MAX`: never).
    upgrade_at: Minute,
    /// When client push reaches it (`u32::MAX`: never).
    push_at: Minute,
    /// Collections it belongs to (bit per collection).
    member: u32,
    /// Workloads whose authority is Intune (bit per workload).
    authority: u8,
    /// Workloads with an active incident.
    incident: u8,
    /// Endpoint Protection / device configuration policies left from a pilot it left.
    sticky: u8,
    /// A workload reconciliation is scheduled.
    reconcile_pending: bool,
}

impl Device {
    fn state(&self) -> Option<LifecycleState> {
        use LifecycleState as S;
        Some(match self.phase {
            Phase::NotArrived => return None,
            Phase::Ineligible => S::Ineligible,
            Phase::Coexistence => S::Coexistence,
            Phase::AwaitingOsUpgrade => S::AwaitingOsUpgrade,
            Phase::AwaitingClientPush => S::AwaitingClientPush,
            Phase::Provisioning => S::AutopilotProvisioning,
            Phase::ProvisioningFailed => S::ProvisioningFailed,
            Phase::IntuneOnly => S::IntuneOnly,
            Phase::IntuneOnlyBlocked => S::IntuneOnlyBlocked,
            Phase::InstallQueued => S::ClientInstallQueued,
            Phase::Installing => S::ClientInstalling,
            Phase::InstallFailed => S::ClientInstallFailed,
            Phase::AwaitingPolicy => S::AwaitingCoManagementPolicy,
            Phase::CoManaged => S::CoManaged,
            Phase::Path1 => match (self.enroll, self.join) {
                (EnrollStage::Done, _) => S::CoManaged,
                (EnrollStage::Remediation, _) => S::AwaitingRemediation,
                (EnrollStage::Retrying, _) => S::Enrolling,
                (EnrollStage::PendingSignIn, _) => S::PendingUserSignIn,
                (EnrollStage::Scheduled, _) | (EnrollStage::Due, JoinStage::Joined) => S::Scheduled,
                (_, JoinStage::NotJoined) => S::AwaitingHybridJoin,
                (_, JoinStage::PendingSync) => S::HybridJoinPendingSync,
                (_, JoinStage::Joined) => S::Eligible,
            },
        })
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    JoinTask,
    JoinComplete,
    PolicyPoll,
    EnrollDue,
    Attempt,
    Remediated,
    Arrive,
    EspDone(EspOutcome),
    Reprovision,
    ClientApp,
    InstallDone,
    Registered,
    CoManagementPolicy,
    Pushed,
    Upgraded,
    Migrated,
    Reconcile,
    IncidentStart(Workload),
    IncidentDetected(Workload),
    IncidentEnd(Workload),
}

/// An event: which device (index within its shard) and what happens.
#[derive(Clone, Copy, Debug)]
pub struct Ev {
    local: u32,
    kind: Kind,
}

/// Everything every shard reads and nobody writes.
#[derive(Clone)]
struct Context {
    scenario: Scenario,
    streams: RandomStreams,
    calendar: Calendar,
    bucket: Minute,
    rows: usize,
    hours: usize,
    sites: usize,
    window: Minute,
    sample: Option<f64>,
    /// When co-management is effectively enabled (None: never, or a blocker stops it).
    co_management_at: Option<Minute>,
    /// The first missing Path 2 prerequisite.
    path2_blocker: Option<Prerequisite>,
    /// Every client install fails (command line over 1,024 characters).
    install_always_fails: bool,
    /// Per site: why its devices cannot be co-managed.
    site_reason: Vec<Option<IneligibleReason>>,
    /// Per site: whether Autopilot straight into co-management applies (2111+).
    site_into_co_management: Vec<bool>,
    /// Per site: the effective policy poll interval.
    site_poll: Vec<Minute>,
    /// Per site: for sites at 1902 or older, the one pilot collection of every workload.
    site_shared_pilot: Vec<Option<usize>>,
    /// Per site: the workloads its version offers (bit per workload).
    site_workloads: Vec<u8>,
}

/// Program positions a shard starts from: devices before it in id order.
#[derive(Clone, Copy, Debug, Default)]
struct Ranks {
    push: u64,
    upgrade: u64,
    migration: u64,
}

/// A contiguous range of devices with their state and the counts they produced.
pub struct DeviceShard {
    ctx: Arc<Context>,
    first: u32,
    devices: Vec<Device>,
    state_delta: Vec<i64>,
    counter_delta: Vec<u64>,
    co_managed_delta: [Vec<i64>; PATHS],
    events: Vec<EventRecord>,
    /// Gateway requests since the last barrier: (time, global id).
    gateway_requests: Vec<(Minute, u32)>,
    /// The workload sliders as the shard knows them (set at barriers).
    sliders: Sliders,
    /// Per row and workload: change of devices with Intune authority.
    wl_delta: Vec<i64>,
    /// Per row: change of Autopatch-ready devices and of active incidents.
    ready_delta: Vec<i64>,
    incident_delta: Vec<i64>,
    /// Per row and collection: change of co-managed members.
    collection_delta: Vec<i64>,
    /// Running totals the strategy's gates read at barriers.
    live: Live,
}

/// The workload sliders, the pilot collection each uses and each policy's version (a rollback
/// fixes the policy: version 1 and later cause no incidents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sliders {
    /// Per workload.
    pub slider: [Slider; WORKLOADS],
    /// Per workload: the pilot collection (index) while at Pilot Intune.
    pub pilot: [Option<usize>; WORKLOADS],
    /// Per workload: the policy's version.
    pub version: [u8; WORKLOADS],
}

impl Default for Sliders {
    fn default() -> Self {
        Self {
            slider: [Slider::ConfigMgr; WORKLOADS],
            pilot: [None; WORKLOADS],
            version: [0; WORKLOADS],
        }
    }
}

impl Sliders {
    /// Whether a device should have Intune as authority for `w`. `shared_pilot`: for sites
    /// at 1902 or older, the one pilot collection every workload uses.
    fn intune(&self, member: u32, sticky: u8, shared_pilot: Option<usize>, w: Workload) -> bool {
        let own = |w: Workload| match self.slider[w.index()] {
            Slider::ConfigMgr => false,
            Slider::Intune => true,
            Slider::PilotIntune => shared_pilot
                .or(self.pilot[w.index()])
                .is_some_and(|c| member & (1 << c) != 0),
        };
        own(w)
            || (matches!(
                w,
                Workload::ResourceAccessPolicies | Workload::EndpointProtection
            ) && own(Workload::DeviceConfiguration))
            || sticky & bit(w) != 0
    }

    fn authority(&self, member: u32, sticky: u8, shared_pilot: Option<usize>) -> u8 {
        Workload::ALL
            .iter()
            .filter(|w| self.intune(member, sticky, shared_pilot, **w))
            .fold(0, |a, w| a | bit(*w))
    }

    fn any_intune(&self) -> bool {
        self.slider.iter().any(|s| *s != Slider::ConfigMgr)
    }
}

/// Running totals of a shard, summed at barriers for the gates.
#[derive(Clone, Debug, Default)]
struct Live {
    co_managed: u64,
    collection_co: Vec<u64>,
    collection_members: Vec<u64>,
    wl: [u64; WORKLOADS],
    switched: [u64; WORKLOADS],
    detected: [u64; WORKLOADS],
    attempts: u64,
    failures: u64,
    tickets: u64,
    incidents_active: u64,
    /// Compliance device-minutes at Intune, accounted to the horizon when a switch happens.
    ca_minutes: i64,
}

impl Live {
    fn merge(&mut self, o: &Live) {
        self.co_managed += o.co_managed;
        for (a, b) in self.collection_co.iter_mut().zip(&o.collection_co) {
            *a += b;
        }
        for (a, b) in self
            .collection_members
            .iter_mut()
            .zip(&o.collection_members)
        {
            *a += b;
        }
        for w in 0..WORKLOADS {
            self.wl[w] += o.wl[w];
            self.switched[w] += o.switched[w];
            self.detected[w] += o.detected[w];
        }
        self.attempts += o.attempts;
        self.failures += o.failures;
        self.tickets += o.tickets;
        self.incidents_active += o.incidents_active;
        self.ca_minutes += o.ca_minutes;
    }
}

/// The collections (indexes) set in a membership mask.
fn members(mask: u32) -> impl Iterator<Item = usize> {
    (0..32).filter(move |c| mask & (1 << c) != 0)
}

/// The next Intune check-in at or after `t` of a device enrolled at `enrolled`: every 3 min
/// for 15 min, every 15 min until 2 h, then every 8 h (DOMAIN.md "Workloads").
pub fn intune_check_in(enrolled: Minute, t: Minute) -> Minute {
    if t <= enrolled {
        return enrolled.saturating_add(3);
    }
    let since = t - enrolled;
    let (period, from) = if since <= 15 {
        (3, enrolled)
    } else if since <= 120 {
        (15, enrolled + 15)
    } else {
        (480, enrolled + 120)
    };
    round_up(t.max(from), period, from % period)
}

impl DeviceShard {
    fn schedule_of(&self, i: usize) -> DeviceSchedule {
        let p = &self.devices[i].profile;
        DeviceSchedule {
            device: self.first + i as u32,
            usage: p.usage,
            day_start: p.day_start,
        }
    }

    fn move_state(
        &mut self,
        now: Minute,
        i: usize,
        from: Option<LifecycleState>,
        to: Option<LifecycleState>,
    ) {
        if from == to {
            return;
        }
        let d = &self.devices[i];
        let row = ((now / self.ctx.bucket) as usize * self.ctx.sites + usize::from(d.profile.site))
            * STATES;
        let hour = (now / 60) as usize;
        let path = d.path.index();
        let member = d.member;
        let crow = (now / self.ctx.bucket) as usize * self.ctx.scenario.collections.len();
        if let Some(f) = from {
            self.state_delta[row + f.index()] -= 1;
            if f == LifecycleState::CoManaged {
                self.co_managed_delta[path][hour] -= 1;
                self.live.co_managed -= 1;
                for c in members(member) {
                    self.live.collection_co[c] -= 1;
                    self.collection_delta[crow + c] -= 1;
                }
            }
        }
        if let Some(t) = to {
            self.state_delta[row + t.index()] += 1;
            if t == LifecycleState::CoManaged {
                self.co_managed_delta[path][hour] += 1;
                self.live.co_managed += 1;
                for c in members(member) {
                    self.live.collection_co[c] += 1;
                    self.collection_delta[crow + c] += 1;
                }
            }
        }
    }

    fn count(&mut self, now: Minute, counter: Counter) {
        self.counter_delta[(now / self.ctx.bucket) as usize * COUNTERS + counter.index()] += 1;
    }

    fn schedule(q: &mut EventQueue<Ev>, at: Option<Minute>, local: u32, kind: Kind) {
        if let Some(t) = at {
            q.schedule(t, Ev { local, kind });
        }
    }

    /// Draws the shard's devices and counts them for the preflight and the programs.
    fn populate(&mut self, range: Range<u32>) -> FleetCounts {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let mut counts = FleetCounts::new(ctx.sites, s.collections.len());
        self.devices.reserve_exact(range.len());
        for id in range {
            let arrival = id >= s.fleet.devices;
            let profile = if arrival {
                draw_arrival(s, &ctx.streams, id)
            } else {
                draw_profile(&s.fleet, s, &ctx.streams, id)
            };
            let reason = permanent_reason(&profile, s, ctx.site_reason[usize::from(profile.site)]);
            if reason.is_none() {
                for (c, col) in s.collections.iter().enumerate() {
                    counts.collection_matching[c] +=
                        u64::from(crate::fleet::matches(col, &profile));
                }
            }
            let record = match ctx.sample {
                None => false,
                Some(share) => share >= 1.0 || ctx.streams.unit(id, SAMPLE, 0) < share,
            };
            counts.add(&profile, reason, arrival);
            self.devices.push(Device {
                profile,
                reason,
                phase: if arrival {
                    Phase::NotArrived
                } else {
                    Phase::Ineligible
                },
                join: JoinStage::Joined,
                enroll: EnrollStage::None,
                path: CoPath::Path1,
                tries: 0,
                in_scope: false,
                record,
                attempts: 0,
                installs: 0,
                intune_at: 0,
                upgrade_at: Minute::MAX,
                push_at: Minute::MAX,
                member: 0,
                authority: 0,
                incident: 0,
                sticky: 0,
                reconcile_pending: false,
            });
        }
        counts
    }

    /// Sets each eligible device's collection memberships and its automatic enrollment scope;
    /// returns each collection's members and the Path 1 devices in scope.
    fn assign_collections(&mut self, m: &Membership) -> (Vec<u64>, u64) {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let n = s.collections.len();
        let mut members = vec![0u64; n];
        let mut in_scope = 0;
        for i in 0..self.devices.len() {
            let id = self.first + i as u32;
            let d = &mut self.devices[i];
            if d.reason.is_some() {
                continue;
            }
            for (c, count) in members.iter_mut().enumerate() {
                if m.is_member(s, &ctx.streams, c, id, &d.profile) {
                    d.member |= 1 << c;
                    *count += 1;
                }
            }
            d.in_scope = match s.auto_enrollment {
                AutoEnrollment::None => false,
                AutoEnrollment::All => true,
                AutoEnrollment::Pilot(c) => d.member & (1 << c) != 0,
            };
            let path2 = id >= s.fleet.devices
                || (!d.profile.client && d.profile.join == JoinType::AzureAdJoined);
            in_scope += u64::from(d.in_scope && !path2);
        }
        self.live.collection_members = members.clone();
        self.live.collection_co = vec![0; n];
        (members, in_scope)
    }

    /// The device became co-managed: it takes the workload sliders at its next policy poll.
    fn on_co_managed(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        if self.sliders.any_intune() {
            self.schedule_reconcile(now, i, q);
        }
    }

    fn schedule_reconcile(&mut self, from: Minute, i: usize, q: &mut EventQueue<Ev>) {
        if self.devices[i].reconcile_pending {
            return;
        }
        let sched = self.schedule_of(i);
        let p = self.devices[i].profile;
        let poll = self.ctx.site_poll[usize::from(p.site)];
        let t = self.ctx.calendar.next_online_tick(
            &sched,
            from,
            poll,
            Minute::from(p.poll_phase) % poll,
        );
        if t.is_some() {
            self.devices[i].reconcile_pending = true;
        }
        Self::schedule(q, t, i as u32, Kind::Reconcile);
    }

    /// New sliders from the strategy at a barrier: co-managed devices whose authority would
    /// change take them at their next policy poll (after collection evaluation for pilots).
    fn set_sliders(
        &mut self,
        new: Sliders,
        now: Minute,
        evaluation: Minute,
        q: &mut EventQueue<Ev>,
    ) {
        let old = self.sliders;
        // Leaving a Pilot Intune of Endpoint Protection or device configuration does not
        // remove the Intune policies from the device.
        for w in [Workload::EndpointProtection, Workload::DeviceConfiguration] {
            if old.slider[w.index()] == Slider::PilotIntune
                && new.slider[w.index()] == Slider::ConfigMgr
            {
                let carried = if w == Workload::DeviceConfiguration {
                    bit(w)
                        | bit(Workload::EndpointProtection)
                        | bit(Workload::ResourceAccessPolicies)
                } else {
                    bit(w)
                };
                for d in self.devices.iter_mut() {
                    d.sticky |= d.authority & carried;
                }
            }
            if new.slider[w.index()] == Slider::Intune {
                for d in self.devices.iter_mut() {
                    d.sticky &= !bit(w);
                }
            }
        }
        self.sliders = new;
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            let site = usize::from(d.profile.site);
            let shared = self.ctx.site_shared_pilot[site];
            let want = new.authority(d.member, d.sticky, shared) & self.ctx.site_workloads[site];
            if d.state() == Some(LifecycleState::CoManaged) && want != d.authority {
                self.schedule_reconcile(now + evaluation, i, q);
            }
        }
    }

    /// Takes the current sliders: switches authority, draws incidents for bad policies.
    fn reconcile(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let id = self.first + i as u32;
        let sched = self.schedule_of(i);
        self.devices[i].reconcile_pending = false;
        if self.devices[i].state() != Some(LifecycleState::CoManaged) {
            return;
        }
        let d = self.devices[i];
        let site = usize::from(d.profile.site);
        // A workload the site's version does not offer (resource access from 2203) never moves.
        let want = self
            .sliders
            .authority(d.member, d.sticky, ctx.site_shared_pilot[site])
            & ctx.site_workloads[site];
        if want == d.authority {
            return;
        }
        let row = (now / ctx.bucket) as usize;
        let to_horizon = i64::from(ctx.calendar.horizon.saturating_sub(now));
        for w in Workload::ALL {
            let b = bit(*w);
            let k = w.index();
            if want & b != 0 && d.authority & b == 0 {
                self.live.wl[k] += 1;
                self.live.switched[k] += 1;
                self.wl_delta[row * WORKLOADS + k] += 1;
                self.count(now, Counter::WorkloadSwitches);
                if *w == Workload::CompliancePolicies {
                    self.live.ca_minutes += to_horizon;
                }
                let settings = &s.workloads[k];
                if settings.incident_rate > 0.0
                    && self.sliders.version[k] == 0
                    && ctx.streams.unit(id, INCIDENT, k as u64) < settings.incident_rate
                {
                    // The bad policy lands at the next Intune sync (Office C2R about 24 h later).
                    let sync = intune_check_in(d.intune_at, now)
                        + if *w == Workload::OfficeClickToRun {
                            DAY
                        } else {
                            0
                        };
                    Self::schedule(
                        q,
                        ctx.calendar.next_online(&sched, sync),
                        i as u32,
                        Kind::IncidentStart(*w),
                    );
                }
            } else if want & b == 0 && d.authority & b != 0 {
                self.live.wl[k] -= 1;
                self.wl_delta[row * WORKLOADS + k] -= 1;
                if *w == Workload::CompliancePolicies {
                    self.live.ca_minutes -= to_horizon;
                }
                if d.incident & b != 0 {
                    self.end_incident(now, i, *w);
                }
            }
        }
        let ready_before = d.authority & AUTOPATCH == AUTOPATCH;
        let ready_after = want & AUTOPATCH == AUTOPATCH;
        if ready_before != ready_after {
            self.ready_delta[row] += if ready_after { 1 } else { -1 };
        }
        self.devices[i].authority = want;
    }

    fn end_incident(&mut self, now: Minute, i: usize, w: Workload) {
        self.devices[i].incident &= !bit(w);
        self.live.incidents_active -= 1;
        self.incident_delta[(now / self.ctx.bucket) as usize] -= 1;
    }

    /// Sets each device's starting state and schedules its first events.
    fn start(&mut self, ranks: Ranks, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let mut r = ranks;
        for i in 0..self.devices.len() {
            let id = self.first + i as u32;
            let d = self.devices[i];
            if id >= s.fleet.devices {
                let day_start = s.path2.arrival_day_start(id - s.fleet.devices);
                let at = ctx.calendar.next_online(
                    &self.schedule_of(i),
                    day_start + Minute::from(d.profile.day_start),
                );
                Self::schedule(q, at, i as u32, Kind::Arrive);
                continue;
            }
            if d.reason.is_none() {
                // Program positions, in id order over the whole fleet.
                let p = &d.profile;
                if p.os.build().is_some_and(|b| b < 16299) {
                    if let Some((prog, _)) = s.os_upgrade {
                        self.devices[i].upgrade_at = prog.time_of(r.upgrade);
                        r.upgrade += 1;
                    }
                }
                if !p.client && p.join != JoinType::AzureAdJoined {
                    if let Some(prog) = s.client_push {
                        self.devices[i].push_at = prog.time_of(r.push);
                        r.push += 1;
                    }
                }
                if p.third_party_mdm {
                    let prog = s
                        .mdm_migration
                        .expect("third-party MDM without migration is a permanent reason");
                    self.devices[i].phase = Phase::Coexistence;
                    Self::schedule(
                        q,
                        Some(prog.time_of(r.migration)).filter(|t| *t < ctx.calendar.horizon),
                        i as u32,
                        Kind::Migrated,
                    );
                    r.migration += 1;
                } else {
                    self.advance(0, i, q);
                }
            } else if d.reason == Some(IneligibleReason::ThirdPartyMdm) {
                self.devices[i].phase = Phase::Coexistence;
            }
            let state = self.devices[i].state();
            self.move_state(0, i, None, state);
            if self.devices[i].record {
                let st = state.expect("existing devices have a state");
                self.events.push(EventRecord {
                    device: id,
                    time: 0,
                    from: st,
                    to: st,
                    detail: Detail::Initial(d.reason),
                });
            }
        }
    }

    /// Puts a device on its next step once nothing permanent stands in its way: the OS
    /// upgrade, client push, Path 2 from Intune, or Path 1.
    fn advance(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let sched = self.schedule_of(i);
        let local = i as u32;
        let d = &mut self.devices[i];
        if d.profile.os.build().is_some_and(|b| b < 16299) {
            d.phase = Phase::AwaitingOsUpgrade;
            let at = Some(d.upgrade_at.max(now)).filter(|t| *t < ctx.calendar.horizon);
            Self::schedule(
                q,
                at.and_then(|t| ctx.calendar.next_online(&sched, t)),
                local,
                Kind::Upgraded,
            );
            return;
        }
        if !d.profile.client {
            if d.profile.join == JoinType::AzureAdJoined {
                // Already Azure AD joined and (assumption) enrolled in Intune: Path 2 from step 3.
                d.path = CoPath::Path2;
                d.intune_at = now;
                self.intune_only(now, i, q);
            } else {
                d.phase = Phase::AwaitingClientPush;
                let at = Some(d.push_at.max(now)).filter(|t| *t < ctx.calendar.horizon);
                Self::schedule(
                    q,
                    at.and_then(|t| ctx.calendar.next_online(&sched, t)),
                    local,
                    Kind::Pushed,
                );
            }
            return;
        }
        d.phase = Phase::Path1;
        d.path = CoPath::Path1;
        let p = d.profile;
        let in_scope = d.in_scope;
        if p.join == JoinType::OnPremisesAd {
            d.join = JoinStage::NotJoined;
            if let Some(at) = s.auto_register_at {
                let phase = Minute::from(p.day_start) % s.timing.join_task;
                let t =
                    ctx.calendar
                        .next_online_tick(&sched, at.max(now), s.timing.join_task, phase);
                Self::schedule(q, t, local, Kind::JoinTask);
            }
        } else {
            d.join = JoinStage::Joined;
        }
        if let (Some(at), true) = (ctx.co_management_at, in_scope) {
            let poll = ctx.site_poll[usize::from(p.site)];
            let t = ctx.calendar.next_online_tick(
                &sched,
                at.max(now),
                poll,
                Minute::from(p.poll_phase) % poll,
            );
            Self::schedule(q, t, local, Kind::PolicyPoll);
        }
    }

    /// Azure AD joined and in Intune: the client app comes at a check-in, unless a Path 2
    /// prerequisite is missing.
    fn intune_only(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let sched = self.schedule_of(i);
        let d = &mut self.devices[i];
        if ctx.path2_blocker.is_some() {
            d.phase = Phase::IntuneOnlyBlocked;
            return;
        }
        d.phase = Phase::IntuneOnly;
        let from = now.max(ctx.scenario.cloud.client_app_at);
        let t = ctx
            .calendar
            .next_online(&sched, intune_check_in(d.intune_at, from));
        Self::schedule(q, t, i as u32, Kind::ClientApp);
    }

    fn request_gateway(&mut self, now: Minute, i: usize) {
        self.devices[i].phase = Phase::InstallQueued;
        self.gateway_requests.push((now, self.first + i as u32));
    }

    /// The gateway gives device `local` a connection at `now` (called at a barrier).
    fn grant(&mut self, local: u32, now: Minute, q: &mut EventQueue<Ev>) {
        let i = local as usize;
        let before = self.devices[i].state();
        self.devices[i].phase = Phase::Installing;
        let after = self.devices[i].state();
        self.move_state(now, i, before, after);
        self.record(i, now, before, after, Detail::GatewayConnection);
        Self::schedule(
            q,
            Some(now + self.ctx.scenario.cloud.client_install),
            local,
            Kind::InstallDone,
        );
    }

    fn record(
        &mut self,
        i: usize,
        now: Minute,
        before: Option<LifecycleState>,
        after: Option<LifecycleState>,
        detail: Detail,
    ) {
        if !self.devices[i].record {
            return;
        }
        let (Some(to), from) = (after, before) else {
            return;
        };
        let changed =
            before != after || matches!(detail, Detail::Failed(_) | Detail::ClientInstall(false));
        if changed {
            self.events.push(EventRecord {
                device: self.first + i as u32,
                time: now,
                from: from.unwrap_or(to),
                to,
                detail,
            });
        }
    }

    /// The device wants to enroll now: with the device token as soon as it is online, with the
    /// user token at the next sign-in.
    fn begin_attempt(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let sched = self.schedule_of(i);
        let d = &mut self.devices[i];
        let cal = &self.ctx.calendar;
        if d.profile.os.supports_device_token() {
            d.enroll = EnrollStage::Due;
            Self::schedule(q, cal.next_online(&sched, now), i as u32, Kind::Attempt);
        } else {
            d.enroll = EnrollStage::PendingSignIn;
            Self::schedule(q, cal.next_sign_in(&sched, now), i as u32, Kind::Attempt);
        }
    }

    fn attempt(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) -> Detail {
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let id = self.first + i as u32;
        let sched = self.schedule_of(i);
        let k = u64::from(self.devices[i].attempts);
        self.devices[i].attempts = self.devices[i].attempts.saturating_add(1);
        self.count(now, Counter::EnrollmentAttempts);
        self.live.attempts += 1;
        if ctx.streams.unit(id, ATTEMPT, k) >= s.failure_rate {
            self.devices[i].enroll = EnrollStage::Done;
            self.devices[i].intune_at = now;
            self.count(now, Counter::EnrollmentSuccesses);
            return Detail::Enrolled;
        }
        let error = s.errors.sample(ctx.streams.draw(id, ERROR, k));
        self.count(now, Counter::EnrollmentFailures);
        self.live.failures += 1;
        self.counter_delta
            [(now / ctx.bucket) as usize * COUNTERS + Counter::ALL.len() + error.index()] += 1;
        let d = &mut self.devices[i];
        match error.retry() {
            Retry::Later => {
                d.enroll = EnrollStage::Retrying;
                d.tries += 1;
                let wait = if u32::from(d.tries) < s.timing.enrollment_tries {
                    s.timing.enrollment_retry
                } else {
                    d.tries = 0;
                    s.timing.enrollment_retry_cycle
                };
                let t = ctx.calendar.next_online(&sched, now.saturating_add(wait));
                Self::schedule(q, t, i as u32, Kind::Attempt);
            }
            Retry::AtSignIn => {
                d.enroll = EnrollStage::PendingSignIn;
                d.tries = 0;
                let t = ctx.calendar.next_sign_in(&sched, now + 1);
                Self::schedule(q, t, i as u32, Kind::Attempt);
            }
            Retry::AfterRemediation => {
                d.enroll = EnrollStage::Remediation;
                d.tries = 0;
                let t = match s.remediation[error.index()] {
                    Remediation::Never => None,
                    Remediation::At(m) => Some(m.max(now)),
                    Remediation::MeanDelay(mean) => {
                        let u = ctx.streams.unit(id, REMEDIATION, k);
                        let delay = -mean * (1.0 - u).ln();
                        Some(now.saturating_add(delay.min(f64::from(u32::MAX / 2)) as Minute))
                    }
                };
                Self::schedule(
                    q,
                    t.filter(|t| *t < ctx.calendar.horizon),
                    i as u32,
                    Kind::Remediated,
                );
            }
        }
        Detail::Failed(error)
    }

    fn join_completed(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) -> Detail {
        self.devices[i].join = JoinStage::Joined;
        self.count(now, Counter::HybridJoinsCompleted);
        if self.devices[i].enroll == EnrollStage::Due {
            self.begin_attempt(now, i, q);
        }
        Detail::HybridJoined
    }

    /// Starts an Autopilot provisioning: the outcome is drawn now, the end comes after the ESP
    /// duration (success, failure) or its timeout.
    fn provision(&mut self, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let ctx = Arc::clone(&self.ctx);
        let p2 = &ctx.scenario.path2;
        let id = self.first + i as u32;
        let d = &mut self.devices[i];
        let u = ctx.streams.unit(id, ESP, u64::from(d.installs));
        d.installs = d.installs.saturating_add(1);
        d.phase = Phase::Provisioning;
        let (outcome, took) = if u < p2.esp_failure_rate {
            (EspOutcome::Failure, p2.esp.min(p2.esp_timeout))
        } else if u < p2.esp_failure_rate + p2.esp_timeout_rate {
            (EspOutcome::Timeout, p2.esp_timeout)
        } else {
            (EspOutcome::Success, p2.esp.min(p2.esp_timeout))
        };
        Self::schedule(
            q,
            Some(now + took).filter(|t| *t < ctx.calendar.horizon),
            i as u32,
            Kind::EspDone(outcome),
        );
    }
}

impl Shard for DeviceShard {
    type Event = Ev;

    fn handle(&mut self, now: Minute, ev: Ev, q: &mut EventQueue<Ev>) {
        let i = ev.local as usize;
        let before = self.devices[i].state();
        let ctx = Arc::clone(&self.ctx);
        let s = &ctx.scenario;
        let sched = self.schedule_of(i);
        let detail = match ev.kind {
            Kind::JoinTask => {
                if self.devices[i].profile.identity.is_managed() {
                    // The task writes the certificate; Azure AD Connect syncs it at its next
                    // cycle; the task's next run after that completes the registration.
                    self.devices[i].join = JoinStage::PendingSync;
                    if s.tenant.aad_connect_sync {
                        let synced = round_up(now + 1, s.timing.aad_connect_sync, 0);
                        let phase =
                            Minute::from(self.devices[i].profile.day_start) % s.timing.join_task;
                        let t = ctx.calendar.next_online_tick(
                            &sched,
                            synced,
                            s.timing.join_task,
                            phase,
                        );
                        Self::schedule(q, t, ev.local, Kind::JoinComplete);
                    }
                    Detail::JoinCertificateWritten
                } else {
                    self.join_completed(now, i, q)
                }
            }
            Kind::JoinComplete => self.join_completed(now, i, q),
            Kind::PolicyPoll => {
                self.count(now, Counter::PoliciesReceived);
                let start = ctx.co_management_at.unwrap_or(0);
                let due = if now < start.saturating_add(ctx.window) && ctx.window > 0 {
                    let id = self.first + ev.local;
                    now + (ctx.streams.draw(id, SCHEDULE, 0) % u64::from(ctx.window)) as Minute
                } else {
                    now
                };
                self.devices[i].enroll = EnrollStage::Scheduled;
                Self::schedule(
                    q,
                    Some(due).filter(|t| *t < ctx.calendar.horizon),
                    ev.local,
                    Kind::EnrollDue,
                );
                Detail::PolicyReceived
            }
            Kind::EnrollDue => {
                if self.devices[i].join == JoinStage::Joined {
                    self.begin_attempt(now, i, q);
                } else {
                    self.devices[i].enroll = EnrollStage::Due;
                }
                Detail::EnrollmentDue
            }
            Kind::Attempt => self.attempt(now, i, q),
            Kind::Remediated => {
                self.count(now, Counter::Remediations);
                self.begin_attempt(now, i, q);
                Detail::Remediated
            }
            Kind::Arrive => {
                self.count(now, Counter::DevicesArrived);
                self.devices[i].path = CoPath::Path2;
                if self.devices[i].reason.is_some() {
                    self.devices[i].phase = Phase::Ineligible;
                } else {
                    self.provision(now, i, q);
                }
                Detail::Arrived
            }
            Kind::EspDone(outcome) => {
                match outcome {
                    EspOutcome::Success => {
                        self.count(now, Counter::AutopilotProvisionings);
                        let p = self.devices[i].profile;
                        self.devices[i].intune_at = now;
                        let straight = s.path2.into_co_management
                            && ctx.site_into_co_management[usize::from(p.site)]
                            && p.os.supports_autopilot_into_co_management()
                            && ctx.path2_blocker.is_none();
                        if straight {
                            // 2111+: the client installs during provisioning.
                            self.request_gateway(now, i);
                        } else {
                            self.intune_only(now, i, q);
                        }
                    }
                    EspOutcome::Failure | EspOutcome::Timeout => {
                        self.count(
                            now,
                            if outcome == EspOutcome::Failure {
                                Counter::EspFailures
                            } else {
                                Counter::EspTimeouts
                            },
                        );
                        self.devices[i].phase = Phase::ProvisioningFailed;
                        // The user (or a technician) starts again at the next sign-in.
                        Self::schedule(
                            q,
                            ctx.calendar.next_sign_in(&sched, now + 1),
                            ev.local,
                            Kind::Reprovision,
                        );
                    }
                }
                Detail::Provisioned(outcome)
            }
            Kind::Reprovision => {
                self.provision(now, i, q);
                Detail::Reprovisioning
            }
            Kind::ClientApp => {
                self.request_gateway(now, i);
                Detail::ClientAppReceived
            }
            Kind::InstallDone => {
                self.count(now, Counter::ClientInstallAttempts);
                let id = self.first + ev.local;
                let k = u64::from(self.devices[i].installs);
                self.devices[i].installs = self.devices[i].installs.saturating_add(1);
                let failed = ctx.install_always_fails
                    || ctx.streams.unit(id, INSTALL, k) < s.cloud.client_install_failure_rate;
                if failed {
                    self.count(now, Counter::ClientInstallFailures);
                    if ctx.install_always_fails {
                        self.count(now, Counter::ClientInstallCommandLineErrors);
                    }
                    self.devices[i].phase = Phase::InstallFailed;
                    if !ctx.install_always_fails {
                        // Intune retries the app at a later check-in.
                        let t = intune_check_in(self.devices[i].intune_at, now + 1);
                        Self::schedule(
                            q,
                            ctx.calendar.next_online(&sched, t),
                            ev.local,
                            Kind::ClientApp,
                        );
                    }
                    Detail::ClientInstall(false)
                } else {
                    self.count(now, Counter::ClientInstallsCompleted);
                    self.devices[i].profile.client = true;
                    self.devices[i].phase = Phase::AwaitingPolicy;
                    Self::schedule(
                        q,
                        Some(now + s.cloud.registration),
                        ev.local,
                        Kind::Registered,
                    );
                    Detail::ClientInstall(true)
                }
            }
            Kind::Registered => {
                if let Some(at) = ctx.co_management_at {
                    let p = self.devices[i].profile;
                    let poll = ctx.site_poll[usize::from(p.site)];
                    let t = ctx.calendar.next_online_tick(
                        &sched,
                        at.max(now),
                        poll,
                        Minute::from(p.poll_phase) % poll,
                    );
                    Self::schedule(q, t, ev.local, Kind::CoManagementPolicy);
                }
                Detail::ClientRegistered
            }
            Kind::CoManagementPolicy => {
                self.count(now, Counter::PoliciesReceived);
                self.devices[i].phase = Phase::CoManaged;
                Detail::PolicyReceived
            }
            Kind::Pushed => {
                self.count(now, Counter::ClientPushes);
                self.devices[i].profile.client = true;
                self.advance(now, i, q);
                Detail::ClientPushed
            }
            Kind::Upgraded => {
                self.count(now, Counter::OsUpgrades);
                self.devices[i].profile.os = s.os_upgrade.map_or(OsRelease::Win10_22H2, |u| u.1);
                self.advance(now, i, q);
                Detail::OsUpgraded
            }
            Kind::Migrated => {
                self.count(now, Counter::MdmMigrations);
                self.devices[i].profile.third_party_mdm = false;
                self.advance(now, i, q);
                Detail::MdmMigrated
            }
            Kind::Reconcile => {
                self.reconcile(now, i, q);
                Detail::WorkloadsReconciled
            }
            Kind::IncidentStart(w) => {
                let d = &self.devices[i];
                if d.authority & bit(w) != 0 && d.incident & bit(w) == 0 {
                    self.devices[i].incident |= bit(w);
                    self.live.incidents_active += 1;
                    self.incident_delta[(now / ctx.bucket) as usize] += 1;
                    self.count(now, Counter::IncidentsStarted);
                    let settings = &s.workloads[w.index()];
                    Self::schedule(
                        q,
                        Some(now + settings.detection),
                        ev.local,
                        Kind::IncidentDetected(w),
                    );
                    Self::schedule(
                        q,
                        Some(now + settings.resolution),
                        ev.local,
                        Kind::IncidentEnd(w),
                    );
                }
                Detail::Incident(w)
            }
            Kind::IncidentDetected(w) => {
                if self.devices[i].incident & bit(w) != 0 {
                    self.live.detected[w.index()] += 1;
                    self.count(now, Counter::IncidentsDetected);
                    let id = self.first + ev.local;
                    if ctx.streams.unit(id, TICKET, w.index() as u64)
                        < s.workloads[w.index()].ticket_share
                    {
                        self.live.tickets += 1;
                        self.count(now, Counter::HelpdeskTickets);
                    }
                }
                Detail::Incident(w)
            }
            Kind::IncidentEnd(w) => {
                if self.devices[i].incident & bit(w) != 0 {
                    self.end_incident(now, i, w);
                }
                Detail::Incident(w)
            }
        };
        let after = self.devices[i].state();
        self.move_state(now, i, before, after);
        if after == Some(LifecycleState::CoManaged) && before != after {
            self.on_co_managed(now, i, q);
        }
        self.record(i, now, before, after, detail);
    }
}

/// The enrollment randomization window for `in_scope` devices: it grows with the fleet, about
/// `per_100k` minutes per 100,000 devices, between `min` and `max`.
pub fn randomization_window(in_scope: u64, per_100k: Minute, min: Minute, max: Minute) -> Minute {
    let w = in_scope.saturating_mul(u64::from(per_100k)) / 100_000;
    (w.min(u64::from(max)) as Minute).max(min)
}

/// Management points serve 25,000 clients each; a site with more clients polls proportionally
/// less often (assumption: the interval stretches by clients / capacity).
pub fn site_poll_interval(poll: Minute, clients: u64, management_points: u32) -> Minute {
    let capacity = u64::from(management_points) * 25_000;
    if clients <= capacity {
        poll
    } else {
        (u64::from(poll) * clients)
            .div_ceil(capacity)
            .min(u64::from(DAY) * 30) as Minute
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A collection's rule selects no device of the drawn fleet.
    #[error(
        "collection {name:?} selects no device: widen its filters, raise its share, or set min_devices"
    )]
    EmptyCollection {
        /// The collection's name.
        name: String,
    },
    /// The worker threads could not be started.
    #[error("could not start {threads} worker threads: {source}; try a smaller --threads")]
    Threads {
        /// Threads asked for.
        threads: usize,
        /// The thread pool's error.
        source: fleetsim_engine::ThreadPoolBuildError,
    },
}

/// The breakdown's rows, in output order: every value of every attribute, with zero counts.
fn breakdown_rows(s: &Scenario) -> Vec<BreakdownRow> {
    use crate::domain::{IdentityOption, UsagePattern};
    let mut rows = Vec::new();
    let mut add = |dimension: &'static str, names: &mut dyn Iterator<Item = String>| {
        rows.extend(names.map(|value| BreakdownRow {
            dimension,
            value,
            states: [0; STATES],
        }));
    };
    add("os", &mut OsRelease::NAMES.iter().map(|n| n.to_string()));
    add("join", &mut JoinType::NAMES.iter().map(|n| n.to_string()));
    add(
        "identity",
        &mut IdentityOption::NAMES.iter().map(|n| n.to_string()),
    );
    add(
        "location",
        &mut Location::NAMES.iter().map(|n| n.to_string()),
    );
    add(
        "usage",
        &mut UsagePattern::NAMES.iter().map(|n| n.to_string()),
    );
    add("path", &mut CoPath::NAMES.iter().map(|n| n.to_string()));
    add("site", &mut s.sites.iter().map(|x| x.code.clone()));
    rows
}

/// The breakdown rows a device counts in (indexes into [`breakdown_rows`]).
fn breakdown_slots(d: &Device) -> [usize; 7] {
    use crate::domain::{IdentityOption, UsagePattern};
    let p = &d.profile;
    let mut base = 0;
    let mut slot = |len: usize, i: usize| {
        let at = base + i;
        base = base.saturating_add(len);
        at
    };
    [
        slot(OsRelease::ALL.len(), p.os.index()),
        slot(JoinType::ALL.len(), p.join.index()),
        slot(IdentityOption::ALL.len(), p.identity.index()),
        slot(Location::ALL.len(), p.location.index()),
        slot(UsagePattern::ALL.len(), p.usage.index()),
        slot(CoPath::ALL.len(), d.path.index()),
        slot(usize::MAX, usize::from(p.site)),
    ]
}

/// The gateway: a fixed number of concurrent connections, granted at barriers in order of
/// request time, then device id, so the order never depends on threads.
struct Gateway {
    capacity: u64,
    hold: Minute,
    in_flight: BinaryHeap<Reverse<Minute>>,
    queue: VecDeque<(Minute, u32)>,
}

/// Minutes between two barriers when the gateway is in use.
const GATEWAY_STEP: Minute = 15;

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

#[derive(Clone, Debug, Default)]
struct GateState {
    active: bool,
    passed: bool,
    next_check: Minute,
    failures: u32,
    resume_at: Option<Minute>,
    restore: Option<(Workload, Slider, Option<usize>)>,
    base_switched: u64,
    base_detected: u64,
    last_attempts: u64,
    last_failures: u64,
    last_tickets: u64,
}

/// The strategy as it unfolds: which steps ran, the gates' state, the sliders, the decisions.
struct Rollout {
    sliders: Sliders,
    done: Vec<Option<Minute>>,
    gates: Vec<GateState>,
    decisions: Vec<Decision>,
    at_intune: [Option<Minute>; WORKLOADS],
    blast_radius: u64,
}

impl Rollout {
    fn new(s: &Scenario) -> Self {
        Self {
            sliders: Sliders::default(),
            done: vec![None; s.strategy.steps.len()],
            gates: vec![GateState::default(); s.strategy.gates.len()],
            decisions: Vec::new(),
            at_intune: [None; WORKLOADS],
            blast_radius: 0,
        }
    }

    fn baseline(g: &mut GateState, live: &Live, w: Option<Workload>) {
        if let Some(w) = w {
            g.base_switched = live.switched[w.index()];
            g.base_detected = live.detected[w.index()];
        }
        g.last_attempts = live.attempts;
        g.last_failures = live.failures;
        g.last_tickets = live.tickets;
    }

    /// The workload a gate rolls back: its own, or that of the step it guards.
    fn gate_workload(s: &Scenario, g: usize) -> Option<Workload> {
        s.strategy.gates[g].workload.or_else(|| {
            s.strategy
                .steps
                .iter()
                .filter(|st| st.gate == Some(g))
                .find_map(|st| match st.action {
                    StepAction::Pilot(mask, _) | StepAction::Promote(mask) => {
                        Workload::ALL.iter().find(|w| mask & bit(**w) != 0).copied()
                    }
                    _ => None,
                })
        })
    }

    /// Advances the strategy at a barrier; returns whether the sliders changed and whether a
    /// pilot collection is involved (collection evaluation delays the switch).
    fn step(&mut self, s: &Scenario, now: Minute, live: &Live) -> Option<bool> {
        let before = self.sliders;
        let mut pilot_change = false;
        self.blast_radius = self.blast_radius.max(live.incidents_active);
        for w in Workload::ALL {
            let k = w.index();
            if self.at_intune[k].is_none()
                && self.sliders.slider[k] == Slider::Intune
                && live.co_managed > 0
                && live.wl[k] * 100 >= 99 * live.co_managed
            {
                self.at_intune[k] = Some(now);
            }
        }
        // Gates first: a gate that passes lets its step run at the same barrier.
        for (gi, gate) in s.strategy.gates.iter().enumerate() {
            let w = Self::gate_workload(s, gi);
            let g = &mut self.gates[gi];
            if let Some(t) = g.resume_at.filter(|t| now >= *t) {
                g.resume_at = None;
                if let Some((rw, slider, pilot)) = g.restore.take() {
                    self.sliders.version[rw.index()] =
                        self.sliders.version[rw.index()].saturating_add(1);
                    self.sliders.slider[rw.index()] = slider;
                    self.sliders.pilot[rw.index()] = pilot;
                    pilot_change |= slider == Slider::PilotIntune;
                    self.decisions.push(Decision {
                        time: t.max(now),
                        source: DecisionSource::Gate,
                        name: gate.name.clone(),
                        metric: None,
                        value: None,
                        decision: "retry",
                        detail: format!("policy fixed: {} back to {}", rw.name(), slider.name()),
                    });
                }
                Self::baseline(g, live, w);
                g.next_check = now + gate.interval;
            }
            if !g.active || g.passed || g.resume_at.is_some() || now < g.next_check {
                continue;
            }
            let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let value = match gate.metric {
                GateMetric::CoManagedShare => {
                    let c = gate.collection.expect("validated");
                    ratio(live.collection_co[c], live.collection_members[c])
                }
                GateMetric::IncidentRate => {
                    let k = w.expect("validated").index();
                    ratio(
                        live.detected[k] - g.base_detected,
                        live.switched[k] - g.base_switched,
                    )
                }
                GateMetric::EnrollmentFailureRate => ratio(
                    live.failures - g.last_failures,
                    live.attempts - g.last_attempts,
                ),
                GateMetric::TicketsPerDay => {
                    (live.tickets - g.last_tickets) as f64 * f64::from(DAY)
                        / f64::from(gate.interval)
                }
            };
            g.last_attempts = live.attempts;
            g.last_failures = live.failures;
            g.last_tickets = live.tickets;
            while g.next_check <= now {
                g.next_check += gate.interval;
            }
            let success = gate.success_at_least.is_none_or(|x| value >= x)
                && gate.success_at_most.is_none_or(|x| value <= x);
            let failure = gate.failure_above.is_some_and(|x| value > x)
                || gate.failure_below.is_some_and(|x| value < x);
            let (decision, detail) = if failure {
                g.failures += 1;
                if g.failures < gate.failure_limit {
                    (
                        "fail",
                        format!("failure {} of {}", g.failures, gate.failure_limit),
                    )
                } else {
                    g.failures = 0;
                    match (gate.on_failure, w) {
                        (OnFailure::Rollback, Some(rw))
                            if self.sliders.slider[rw.index()] != Slider::ConfigMgr =>
                        {
                            g.restore = Some((
                                rw,
                                self.sliders.slider[rw.index()],
                                self.sliders.pilot[rw.index()],
                            ));
                            self.sliders.slider[rw.index()] = Slider::ConfigMgr;
                            g.resume_at = Some(now + gate.remediation);
                            (
                                "rollback",
                                format!(
                                    "{} back to configuration_manager; retry after {} days",
                                    rw.name(),
                                    gate.remediation / DAY
                                ),
                            )
                        }
                        _ => ("halt", "check again at the next interval".to_string()),
                    }
                }
            } else if success {
                g.passed = true;
                ("promote", "the guarded step may run".to_string())
            } else {
                ("wait", "neither success nor failure".to_string())
            };
            self.decisions.push(Decision {
                time: now,
                source: DecisionSource::Gate,
                name: gate.name.clone(),
                metric: Some(gate.metric),
                value: Some(value),
                decision,
                detail,
            });
        }
        for (i, step) in s.strategy.steps.iter().enumerate() {
            if self.done[i].is_some() {
                continue;
            }
            let ready = match step.start {
                StepStart::At(t) => Some(t),
                StepStart::After(k, d) => self.done[k].map(|t| t.saturating_add(d)),
            };
            let Some(ready) = ready.filter(|t| *t <= now) else {
                continue;
            };
            if let Some(gi) = step.gate {
                let g = &mut self.gates[gi];
                if !g.passed {
                    if !g.active {
                        g.active = true;
                        g.next_check = ready.max(now) + s.strategy.gates[gi].interval;
                        Self::baseline(g, live, Self::gate_workload(s, gi));
                    }
                    continue;
                }
            }
            self.done[i] = Some(now);
            let detail = match step.action {
                StepAction::EnableCoManagement(_) => "co-management enabled".to_string(),
                StepAction::Pilot(mask, c) => {
                    let mut names = Vec::new();
                    for w in Workload::ALL.iter().filter(|w| mask & bit(**w) != 0) {
                        self.sliders.slider[w.index()] = Slider::PilotIntune;
                        self.sliders.pilot[w.index()] = Some(c);
                        names.push(w.name());
                    }
                    pilot_change = true;
                    format!(
                        "{} to pilot_intune for {:?}",
                        names.join(" "),
                        s.collections[c].name
                    )
                }
                StepAction::Promote(mask) => {
                    let mut names = Vec::new();
                    for w in Workload::ALL.iter().filter(|w| mask & bit(**w) != 0) {
                        self.sliders.slider[w.index()] = Slider::Intune;
                        names.push(w.name());
                    }
                    format!("{} to intune for every co-managed device", names.join(" "))
                }
                StepAction::Pause => "pause".to_string(),
            };
            self.decisions.push(Decision {
                time: now,
                source: DecisionSource::Step,
                name: step.name.clone(),
                metric: None,
                value: None,
                decision: "run",
                detail,
            });
        }
        (self.sliders != before).then_some(pilot_change)
    }
}

/// Minutes between barriers while a strategy moves workloads.
const STRATEGY_STEP: Minute = 60;
/// Incremental collection evaluation before a pilot switch reaches devices (DOMAIN.md).
const COLLECTION_EVALUATION: Minute = 5;

/// A drawn fleet, ready to start: the engine with its shards, the context they will share,
/// the shards' id ranges and each shard's counts.
struct Prepared {
    engine: Engine<DeviceShard>,
    ctx: Context,
    ranges: Vec<Range<u32>>,
    counts: Vec<FleetCounts>,
}

/// Builds the shared context and the engine, draws the fleet (pass 1) and returns the counts.
fn prepare(scenario: &Scenario, options: &RunOptions) -> Result<Prepared, RunError> {
    let streams = RandomStreams::new(scenario.seed);
    let horizon = scenario.horizon();
    let bucket = options.bucket.minutes();
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    let s = scenario;
    let hierarchies: std::collections::BTreeSet<&str> =
        s.sites.iter().map(|x| x.hierarchy.as_str()).collect();
    let site_reason = s
        .sites
        .iter()
        .map(|site| {
            if site.version < 1710 {
                Some(IneligibleReason::SiteVersionBelow1710)
            } else if hierarchies.len() > 1 && site.version < 1806 {
                Some(IneligibleReason::SiteVersionBelow1806)
            } else {
                None
            }
        })
        .collect();
    let tenant_ok = s.tenant.azure_ad_premium
        && s.tenant.intune_admin_license
        && s.tenant.full_administrator_all_scope;
    let c = &s.cloud;
    let path2_blocker = [
        (c.enhanced_http, Prerequisite::EnhancedHttp),
        (
            c.cloud_services && s.tenant.global_administrator,
            if c.cloud_services {
                Prerequisite::GlobalAdministrator
            } else {
                Prerequisite::CloudServices
            },
        ),
        (c.site_onboarded_to_azure_ad, Prerequisite::SiteOnboarded),
        (c.cmg_vms > 0, Prerequisite::CloudManagementGateway),
        (
            s.tenant.subscription_manager,
            Prerequisite::SubscriptionManager,
        ),
        (
            c.management_points_for_cmg,
            Prerequisite::ManagementPointsForCmg,
        ),
    ]
    .into_iter()
    .find(|(ok, _)| !ok)
    .map(|(_, p)| p);
    let ctx = Context {
        scenario: s.clone(),
        streams,
        calendar: Calendar {
            first_weekday: s.start_date.weekday().num_days_from_monday(),
            horizon,
            usage: s.usage.clone(),
            streams,
        },
        bucket,
        rows: horizon.div_ceil(bucket) as usize,
        hours: horizon.div_ceil(60) as usize,
        sites: s.sites.len(),
        window: 0,
        sample: match options.events {
            EventCapture::Off => None,
            EventCapture::Sample(x) => Some(x),
        },
        co_management_at: s.co_management_at.filter(|_| tenant_ok),
        path2_blocker,
        install_always_fails: c.ccmsetup_command_line_length > 1024,
        site_reason,
        site_into_co_management: s.sites.iter().map(|x| x.version >= 2111).collect(),
        site_poll: vec![s.timing.policy_poll; s.sites.len()],
        site_workloads: s
            .sites
            .iter()
            .map(|site| {
                Workload::ALL
                    .iter()
                    .filter(|w| w.available_at(site.version))
                    .fold(0, |m, w| m | bit(*w))
            })
            .collect(),
        site_shared_pilot: s
            .sites
            .iter()
            .map(|site| match s.auto_enrollment {
                AutoEnrollment::Pilot(c) if site.version <= 1902 => Some(c),
                _ => None,
            })
            .collect(),
    };
    let total = s.fleet.devices + s.path2.arrivals();
    let parts = (threads as u32 * 4).clamp(1, 256);
    let ranges = shard_ranges(total, parts);
    let provisional = Arc::new(ctx.clone());
    let shards = ranges
        .iter()
        .map(|r| DeviceShard {
            // Each shard has its own copy: the handlers clone the Arc per event, and a shared
            // reference count would bounce between the cores.
            ctx: Arc::new((*provisional).clone()),
            first: r.start,
            devices: Vec::new(),
            state_delta: vec![0; (ctx.rows + 1) * ctx.sites * STATES],
            counter_delta: vec![0; (ctx.rows + 1) * COUNTERS],
            co_managed_delta: [vec![0; ctx.hours + 1], vec![0; ctx.hours + 1]],
            events: Vec::new(),
            gateway_requests: Vec::new(),
            sliders: Sliders::default(),
            wl_delta: vec![0; (ctx.rows + 1) * WORKLOADS],
            ready_delta: vec![0; ctx.rows + 1],
            incident_delta: vec![0; ctx.rows + 1],
            collection_delta: vec![0; (ctx.rows + 1) * s.collections.len()],
            live: Live::default(),
        })
        .collect();
    let mut engine =
        Engine::new(shards, threads).map_err(|source| RunError::Threads { threads, source })?;
    let rs = ranges.clone();
    let mut counts = engine.par_each(|i, shard, _| shard.populate(rs[i].clone()));
    // Pass 2: collection membership, now that the matching devices are counted.
    let all = total_counts(&counts, ctx.sites);
    let membership = Membership::new(s, &all.collection_matching);
    let assigned = engine.par_each(|_, shard, _| shard.assign_collections(&membership));
    for (c, (members, in_scope)) in counts.iter_mut().zip(assigned) {
        c.collection_members = members;
        c.path1_in_scope = in_scope;
    }
    let all = total_counts(&counts, ctx.sites);
    if let Some(c) = all.collection_members.iter().position(|m| *m == 0) {
        return Err(RunError::EmptyCollection {
            name: s.collections[c].name.clone(),
        });
    }
    Ok(Prepared {
        engine,
        ctx,
        ranges,
        counts,
    })
}

fn total_counts(counts: &[FleetCounts], sites: usize) -> FleetCounts {
    let mut all = FleetCounts::new(
        sites,
        counts.first().map_or(0, |c| c.collection_matching.len()),
    );
    for c in counts {
        all.merge(c);
    }
    all
}

/// Draws the fleet and returns what the preflight finds, without simulating.
pub fn check(scenario: &Scenario, threads: usize) -> Result<(Vec<Finding>, FleetCounts), RunError> {
    let options = RunOptions {
        threads,
        ..RunOptions::default()
    };
    let counts = prepare(scenario, &options)?.counts;
    let all = total_counts(&counts, scenario.sites.len());
    Ok((preflight(scenario, &all), all))
}

/// Runs `scenario`. `progress` is called after each simulated day with the day count and the
/// events handled so far.
pub fn run(
    scenario: &Scenario,
    options: &RunOptions,
    mut progress: impl FnMut(u32, u64),
) -> Result<RunResult, RunError> {
    let Prepared {
        mut engine,
        mut ctx,
        ranges,
        counts,
    } = prepare(scenario, options)?;
    let all = total_counts(&counts, ctx.sites);
    let findings = preflight(scenario, &all);
    let t = &scenario.timing;
    ctx.window = randomization_window(
        all.path1_in_scope,
        t.randomization_per_100k,
        t.randomization_min,
        t.randomization_max,
    );
    ctx.site_poll = scenario
        .sites
        .iter()
        .enumerate()
        .map(|(i, site)| {
            site_poll_interval(
                t.policy_poll,
                all.clients_by_site[i],
                site.management_points,
            )
        })
        .collect();
    let ctx = Arc::new(ctx);
    // Program ranks: devices of earlier shards come first.
    let mut ranks = Vec::with_capacity(counts.len());
    let mut acc = Ranks::default();
    for c in &counts {
        ranks.push(acc);
        acc.push += c.push_candidates;
        acc.upgrade += c.upgrade_candidates;
        acc.migration += c.migration_candidates;
    }
    engine.par_each(|i, shard, q| {
        shard.ctx = Arc::new((*ctx).clone());
        shard.start(ranks[i], q);
    });

    let horizon = scenario.horizon();
    let bucket = ctx.bucket;
    let rows = ctx.rows;
    let uses_gateway = ctx.path2_blocker.is_none() && (all.path2_candidates > 0);
    let uses_strategy = scenario.strategy.steps.iter().any(|st| {
        !matches!(
            st.action,
            StepAction::EnableCoManagement(_) | StepAction::Pause
        )
    }) || !scenario.strategy.gates.is_empty();
    let step = if uses_gateway {
        GATEWAY_STEP
    } else if uses_strategy {
        STRATEGY_STEP
    } else {
        DAY
    };
    let mut rollout = Rollout::new(scenario);
    let mut gateway = Gateway {
        capacity: scenario.cloud.capacity(),
        hold: scenario.cloud.client_install,
        in_flight: BinaryHeap::new(),
        queue: VecDeque::new(),
    };
    let mut gateway_rows = vec![GatewayRow::default(); rows];
    let mut now = 0;
    while now < horizon {
        let next = (now + step).min(horizon);
        // The strategy acts at the start of each step, on the counts up to then.
        if uses_strategy || !scenario.strategy.steps.is_empty() {
            let mut live = Live {
                collection_co: vec![0; scenario.collections.len()],
                collection_members: vec![0; scenario.collections.len()],
                ..Live::default()
            };
            for shard in engine.shards() {
                live.merge(&shard.live);
            }
            if let Some(pilot) = rollout.step(scenario, now, &live) {
                let sliders = rollout.sliders;
                let delay = if pilot { COLLECTION_EVALUATION } else { 0 };
                engine.par_each(|_, shard, q| shard.set_sliders(sliders, now, delay, q));
            }
        }
        engine.advance_to(next);
        if uses_gateway {
            let mut requests = Vec::new();
            for (shard, _) in engine.shards_mut() {
                requests.append(&mut shard.gateway_requests);
            }
            requests.sort_unstable();
            gateway.queue.extend(requests);
            // Load at the end of the row that this barrier closes: installs that ended before
            // it are done; those ending at it are still counted, as their devices are.
            while gateway
                .in_flight
                .peek()
                .is_some_and(|Reverse(end)| *end < next)
            {
                gateway.in_flight.pop();
            }
            let g = &mut gateway_rows[((next - 1) / bucket) as usize];
            g.concurrent = gateway.in_flight.len() as u64;
            g.queued = gateway.queue.len() as u64;
            g.peak = g.peak.max(g.concurrent);
            while gateway
                .in_flight
                .peek()
                .is_some_and(|Reverse(end)| *end <= next)
            {
                gateway.in_flight.pop();
            }
            while (gateway.in_flight.len() as u64) < gateway.capacity {
                let Some((_, id)) = gateway.queue.pop_front() else {
                    break;
                };
                let shard = ranges.partition_point(|r| r.end <= id);
                let (sh, q) = engine.shard_mut(shard);
                let local = id - sh.first;
                sh.grant(local, next, q);
                gateway.in_flight.push(Reverse(next + gateway.hold));
            }
            if let Some(g) = gateway_rows.get_mut((next / bucket) as usize) {
                g.peak = g.peak.max(gateway.in_flight.len() as u64);
            }
        }
        if next % DAY == 0 || next == horizon {
            progress(next.div_ceil(DAY), engine.events_handled());
        }
        now = next;
    }
    let events_handled = engine.events_handled();

    let mut breakdown = breakdown_rows(scenario);
    let slots = breakdown.len();
    let tables = engine.par_each(|_, shard, _| {
        let mut t = vec![[0u64; STATES]; slots];
        for d in &shard.devices {
            if let Some(st) = d.state() {
                for slot in breakdown_slots(d) {
                    t[slot][st.index()] += 1;
                }
            }
        }
        let mut by_path = [0u64; PATHS];
        let mut blocked = vec![0u64; Prerequisite::ALL.len()];
        let mut reasons = vec![0u64; IneligibleReason::ALL.len()];
        for d in &shard.devices {
            if d.phase == Phase::NotArrived {
                continue;
            }
            match d.reason {
                Some(r) => reasons[r.index()] += 1,
                None => by_path[d.path.index()] += 1,
            }
            if d.phase == Phase::IntuneOnlyBlocked {
                if let Some(p) = shard.ctx.path2_blocker {
                    blocked[p.index()] += 1;
                }
            }
        }
        (t, by_path, blocked, reasons)
    });
    let mut eligible_by_path = [0u64; PATHS];
    let mut blocked = vec![0u64; Prerequisite::ALL.len()];
    let mut reasons = vec![0u64; IneligibleReason::ALL.len()];
    for (t, by_path, b, r) in tables {
        for (row, counts) in breakdown.iter_mut().zip(t) {
            row.states.iter_mut().zip(counts).for_each(|(a, b)| *a += b);
        }
        eligible_by_path
            .iter_mut()
            .zip(by_path)
            .for_each(|(a, b)| *a += b);
        blocked.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        reasons.iter_mut().zip(r).for_each(|(a, b)| *a += b);
    }
    let shards = engine.into_shards();

    // Reduce in shard order, over integers.
    let sites = ctx.sites;
    let hours = ctx.hours;
    let mut state_delta = vec![0i64; (rows + 1) * sites * STATES];
    let mut counter_delta = vec![0u64; (rows + 1) * COUNTERS];
    let mut co_delta = [vec![0i64; hours + 1], vec![0i64; hours + 1]];
    let mut events = Vec::new();
    for s in &shards {
        state_delta
            .iter_mut()
            .zip(&s.state_delta)
            .for_each(|(a, b)| *a += b);
        counter_delta
            .iter_mut()
            .zip(&s.counter_delta)
            .for_each(|(a, b)| *a += b);
        for (acc, delta) in co_delta.iter_mut().zip(&s.co_managed_delta) {
            acc.iter_mut().zip(delta).for_each(|(a, b)| *a += b);
        }
    }
    // Workloads, Autopatch readiness, incidents and collections: per row, cumulated.
    let ncoll = scenario.collections.len();
    let mut wl_delta = vec![0i64; (rows + 1) * WORKLOADS];
    let mut ready_delta = vec![0i64; rows + 1];
    let mut incident_delta = vec![0i64; rows + 1];
    let mut collection_delta = vec![0i64; (rows + 1) * ncoll];
    let mut live = Live {
        collection_co: vec![0; ncoll],
        collection_members: vec![0; ncoll],
        ..Live::default()
    };
    for s in &shards {
        let add = |a: &mut Vec<i64>, b: &Vec<i64>| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        add(&mut wl_delta, &s.wl_delta);
        add(&mut ready_delta, &s.ready_delta);
        add(&mut incident_delta, &s.incident_delta);
        add(&mut collection_delta, &s.collection_delta);
        live.merge(&s.live);
    }
    let per_row = |delta: &[i64], width: usize| -> Vec<Vec<u64>> {
        let mut acc = vec![0i64; width];
        (0..rows)
            .map(|r| {
                for k in 0..width {
                    acc[k] += delta[r * width + k];
                }
                acc.iter()
                    .map(|x| u64::try_from(*x).expect("counts are never negative"))
                    .collect()
            })
            .collect()
    };
    let workloads = per_row(&wl_delta, WORKLOADS);
    let autopatch_ready = per_row(&ready_delta, 1).into_iter().map(|v| v[0]).collect();
    let incidents_active = per_row(&incident_delta, 1)
        .into_iter()
        .map(|v| v[0])
        .collect();
    let collection_co_managed = per_row(&collection_delta, ncoll);
    for s in shards {
        events.extend(s.events);
    }
    events.sort_by_key(|e| (e.time, e.device));

    let mut states = Vec::with_capacity(rows);
    let mut site_states = vec![Vec::with_capacity(rows); sites];
    let mut counters = Vec::with_capacity(rows);
    let mut st = vec![[0i64; STATES]; sites];
    let mut co = [0u64; COUNTERS];
    for r in 0..rows {
        let mut total = [0u64; STATES];
        for (site, acc) in st.iter_mut().enumerate() {
            for k in 0..STATES {
                acc[k] += state_delta[(r * sites + site) * STATES + k];
            }
            let row = acc.map(|x| u64::try_from(x).expect("state counts are never negative"));
            total.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            site_states[site].push(row);
        }
        for k in 0..COUNTERS {
            co[k] += counter_delta[r * COUNTERS + k];
        }
        states.push(total);
        counters.push(co);
    }
    let cumulate = |d: &Vec<i64>| -> Vec<u64> {
        let mut acc = 0i64;
        d[..hours]
            .iter()
            .map(|x| {
                acc += x;
                acc as u64
            })
            .collect()
    };
    let co_managed_hourly = [cumulate(&co_delta[0]), cumulate(&co_delta[1])];
    let devices = states.last().map_or(0, |s| s.iter().sum());
    Ok(RunResult {
        bucket,
        devices,
        eligible: eligible_by_path.iter().sum(),
        eligible_by_path,
        reasons,
        blocked,
        states,
        site_states,
        counters,
        gateway: gateway_rows,
        co_managed_hourly,
        events,
        events_handled,
        randomization_window: ctx.window,
        site_poll: ctx.site_poll.clone(),
        breakdown,
        findings,
        workloads,
        autopatch_ready,
        incidents_active,
        collection_co_managed,
        collection_members: live.collection_members.clone(),
        decisions: rollout.decisions,
        workload_at_intune: rollout.at_intune,
        blast_radius: rollout.blast_radius,
        conditional_access_minutes: u64::try_from(live.ca_minutes).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LifecycleState as S;
    use proptest::prelude::*;

    /// A scenario of one kind of device: 1,000 always-on Windows 11 clients, on-premises AD
    /// joined, with the given identity option and extra TOML.
    fn uniform(identity: &str, extra: &str) -> Scenario {
        Scenario::from_toml(&format!(
            r#"name = "t"
start_date = 2027-01-04
days = 14
[fleet]
devices = 1000
licensed = 1.0
third_party_mdm = 0.0
os = {{ win11_23h2 = 1.0 }}
join = {{ on_premises_ad = 1.0 }}
configmgr_client = {{ on_premises_ad = 1.0 }}
identity = {{ {identity} = 1.0 }}
location = {{ corporate_network = 1.0 }}
usage = {{ always_on = 1.0 }}
{extra}"#
        ))
        .unwrap()
    }

    fn hourly(s: &Scenario) -> RunResult {
        run(
            s,
            &RunOptions {
                threads: 2,
                bucket: Bucket::Hour,
                events: EventCapture::Off,
            },
            |_, _| {},
        )
        .unwrap()
    }

    fn at_hour(r: &RunResult, h: usize, st: S) -> u64 {
        r.states[h - 1][st.index()]
    }

    #[test]
    fn federated_devices_join_at_the_first_task_run() {
        let r = hourly(&uniform("federated", ""));
        // The join task runs hourly at each device's phase: all joined within the first hour.
        assert_eq!(at_hour(&r, 1, S::Eligible), 1000);
        assert_eq!(r.counters[0][Counter::HybridJoinsCompleted.index()], 1000);
    }

    #[test]
    fn managed_devices_wait_for_the_sync_then_the_next_task_run() {
        let r = hourly(&uniform("password_hash_sync", ""));
        // First task run within 60 min writes the certificate; the sync follows within 30 min;
        // the next task run within another 60 min: nobody joins in hour 1, everyone by hour 3.
        assert_eq!(at_hour(&r, 1, S::Eligible), 0);
        assert!(at_hour(&r, 1, S::HybridJoinPendingSync) > 0);
        assert_eq!(at_hour(&r, 3, S::Eligible), 1000);
    }

    #[test]
    fn without_the_client_setting_nobody_joins() {
        let r = hourly(&uniform(
            "federated",
            "[hybrid_join]\nauto_register = false\n[co_management]\nenable_date = 2027-01-04\n",
        ));
        assert_eq!(
            r.states.last().unwrap()[S::AwaitingHybridJoin.index()],
            1000
        );
        assert_eq!(r.states.last().unwrap()[S::CoManaged.index()], 0);
    }

    #[test]
    fn enrollment_spreads_over_the_randomization_window() {
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n[timing]\nrandomization_min_minutes = 1440\n",
        );
        let r = hourly(&s);
        assert_eq!(r.randomization_window, 1440);
        // Policy within 1 h, enrollment uniformly within the next 24 h: roughly half by hour 13,
        // everybody by hour 26, nobody before the policy.
        let half = at_hour(&r, 13, S::CoManaged);
        assert!((350..=650).contains(&half), "{half}");
        assert_eq!(at_hour(&r, 26, S::CoManaged), 1000);
        assert_eq!(
            r.counters.last().unwrap()[Counter::EnrollmentAttempts.index()],
            1000
        );
    }

    #[test]
    fn the_window_grows_with_the_fleet() {
        assert_eq!(randomization_window(100_000, 4320, 60, 7200), 4320);
        assert_eq!(randomization_window(1_000_000, 4320, 60, 7200), 7200);
        assert_eq!(randomization_window(100, 4320, 60, 7200), 60);
    }

    #[test]
    fn user_token_devices_wait_for_sign_in() {
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n",
        )
        .with_os("win10_1709");
        let r = hourly(&s);
        // Always-on users sign in at 08:00 on weekdays: nobody enrolls before hour 9 of day 1.
        assert_eq!(at_hour(&r, 8, S::CoManaged), 0);
        assert!(at_hour(&r, 8, S::PendingUserSignIn) > 0);
        assert_eq!(at_hour(&r, 24 + 9, S::CoManaged), 1000);
    }

    #[test]
    fn permanent_errors_wait_for_remediation() {
        let s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x80180003\" = 1.0 }\n[remediation]\ndefault = { never = true }\n",
        );
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::AwaitingRemediation.index()], 1000);
        assert_eq!(
            r.counters.last().unwrap()
                [Counter::ALL.len() + EnrollmentError::UserNotAuthorized.index()],
            1000
        );
    }

    #[test]
    fn transient_errors_retry_three_times_then_wait_a_day() {
        let mut s = uniform(
            "federated",
            "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 1.0\nerrors = { \"0x80192EE2\" = 1.0 }\n",
        );
        s.set_days(3).unwrap();
        let r = hourly(&s);
        let attempts = |h: usize| r.counters[h - 1][Counter::EnrollmentAttempts.index()];
        // Within the first day each device makes one round of 3 tries 15 min apart, then waits
        // 1,440 min: exactly 3,000 tries by hour 24, 6,000 by hour 48.
        assert_eq!(attempts(23), 3000);
        assert_eq!(attempts(47), 6000);
        assert_eq!(r.states.last().unwrap()[S::Enrolling.index()], 1000);
    }

    #[test]
    fn pilot_scope_enrolls_only_the_collection() {
        let s = uniform(
            "federated",
            "[[collections]]\nname = \"Pilot\"\nshare = 0.1\n[co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"pilot\"\npilot_collection = \"Pilot\"\n[enrollment]\nfailure_rate = 0.0\n",
        );
        let r = hourly(&s);
        let co = r.states.last().unwrap()[S::CoManaged.index()];
        assert!((60..=140).contains(&co), "{co}");
        assert_eq!(r.states.last().unwrap()[S::Eligible.index()], 1000 - co);
    }

    /// A Path 2 scenario: `existing` Azure AD joined devices without a client plus new
    /// devices, always on, with the given extra TOML.
    fn path2(existing: u32, extra: &str) -> Scenario {
        Scenario::from_toml(&format!(
            r#"name = "p2"
start_date = 2027-01-04
days = 10
[fleet]
devices = {existing}
licensed = 1.0
third_party_mdm = 0.0
os = {{ win11_23h2 = 1.0 }}
join = {{ azure_ad_joined = 1.0 }}
configmgr_client = {{ azure_ad_joined = 0.0 }}
location = {{ internet_only = 1.0 }}
usage = {{ always_on = 1.0 }}
[co_management]
enable_date = 2027-01-04
{extra}"#
        ))
        .unwrap()
    }

    #[test]
    fn gateway_never_exceeds_capacity_and_matches_the_states() {
        let s = path2(
            3000,
            "[cloud]\ncmg_vms = 1\nclient_install_minutes = 120\n[path2]\nusage = { always_on = 1.0 }\nbatches = [ { date = 2027-01-04, devices = 4000 }, { date = 2027-01-06, devices = 7000 } ]\n",
        );
        assert_eq!(s.cloud.capacity(), 6000);
        let r = hourly(&s);
        let mut queued_somewhere = false;
        for (st, g) in r.states.iter().zip(&r.gateway) {
            assert!(g.concurrent <= 6000 && g.peak <= 6000);
            assert_eq!(g.concurrent, st[S::ClientInstalling.index()]);
            assert_eq!(g.queued, st[S::ClientInstallQueued.index()]);
            queued_somewhere |= g.queued > 100;
        }
        assert!(
            queued_somewhere,
            "7,000 installs of 2 h in one morning through 6,000 connections must queue"
        );
        assert!(r.gateway.iter().any(|g| g.peak == 6000));
        let last = r.states.last().unwrap();
        assert_eq!(last.iter().sum::<u64>(), 14_000);
        assert!(last[S::CoManaged.index()] > 13_000, "{last:?}");
        assert_eq!(r.eligible_by_path, [0, 14_000]);
    }

    #[test]
    fn esp_timeout_fails_after_60_minutes_and_retries_at_sign_in() {
        let s = path2(
            0,
            "[path2]\nusage = { always_on = 1.0 }\nbatches = [ { date = 2027-01-04, devices = 100 } ]\nesp_failure_rate = 0.0\nesp_timeout_rate = 1.0\n",
        );
        let r = hourly(&s);
        let c = |h: usize| r.counters[h - 1][Counter::EspTimeouts.index()];
        // Always-on devices arrive at their workday start (07:00-09:00): no timeout before 08:00,
        // all 100 timed out by 10:00, and each retries at the next sign-in (08:00 next day) and
        // times out again at 09:00.
        assert_eq!(c(8), 0);
        assert_eq!(c(10), 100);
        assert_eq!(c(24 + 9), 100);
        assert_eq!(c(24 + 10), 200);
        assert_eq!(at_hour(&r, 12, S::ProvisioningFailed), 100);
    }

    #[test]
    fn a_missing_prerequisite_keeps_path2_intune_only() {
        let s = path2(500, "[cloud]\ncmg_vms = 0\n");
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::IntuneOnlyBlocked.index()], 500);
        assert_eq!(r.blocked[Prerequisite::CloudManagementGateway.index()], 500);
        assert!(r.findings.iter().any(|f| f.prerequisite == Prerequisite::CloudManagementGateway && f.devices == 500));
        let s = path2(500, "[cloud]\nccmsetup_command_line_length = 1500\n");
        let r = hourly(&s);
        let last = r.states.last().unwrap();
        assert_eq!(last[S::ClientInstallFailed.index()], 500);
        let c = r.counters.last().unwrap();
        assert_eq!(c[Counter::ClientInstallCommandLineErrors.index()], 500);
        assert_eq!(c[Counter::ClientInstallFailures.index()], 500);
        assert_eq!(
            r.counters.last().unwrap()[Counter::ClientInstallsCompleted.index()],
            0
        );
    }

    #[test]
    fn programs_move_devices_at_their_rate() {
        let s = Scenario::from_toml(
            "name = \"p\"\nstart_date = 2027-01-04\ndays = 10\n[fleet]\ndevices = 2000\nlicensed = 1.0\nthird_party_mdm = 0.5\nos = { win10_1607 = 0.5, win11_23h2 = 0.5 }\njoin = { on_premises_ad = 1.0 }\nconfigmgr_client = { on_premises_ad = 0.5 }\nlocation = { corporate_network = 1.0 }\nusage = { always_on = 1.0 }\n[client_push]\ndevices_per_day = 48\n[os_upgrade]\ndevices_per_day = 24\n[mdm_migration]\ndevices_per_day = 12\n[co_management]\nenable_date = 2027-01-04\n",
        )
        .unwrap();
        let r = hourly(&s);
        let c = |h: usize, k: Counter| r.counters[h - 1][k.index()];
        // Migration: one device every 2 h from minute 0 (12 a day), so 13 by the end of day 2
        // of those due; upgrades and pushes wait for earlier steps, so they can only lag.
        assert_eq!(c(24, Counter::MdmMigrations), 12);
        assert_eq!(c(48, Counter::MdmMigrations), 24);
        assert!(c(240, Counter::OsUpgrades) <= 240 && c(240, Counter::OsUpgrades) > 100);
        assert!(c(240, Counter::ClientPushes) <= 480 && c(240, Counter::ClientPushes) > 100);
        assert_eq!(r.reasons.iter().sum::<u64>(), 0);
    }

    #[test]
    fn overloaded_management_points_stretch_policy_polls() {
        assert_eq!(site_poll_interval(60, 25_000, 1), 60);
        assert_eq!(site_poll_interval(60, 50_000, 1), 120);
        assert_eq!(site_poll_interval(60, 50_000, 2), 60);
    }

    #[test]
    fn old_sites_cannot_co_manage() {
        let s = uniform(
            "federated",
            "[[sites]]\ncode = \"OLD\"\nshare = 1.0\nversion = 1702\n[co_management]\nenable_date = 2027-01-04\n",
        );
        let r = hourly(&s);
        assert_eq!(
            r.reasons[IneligibleReason::SiteVersionBelow1710.index()],
            1000
        );
        assert_eq!(r.states.last().unwrap()[S::CoManaged.index()], 0);
    }

    #[test]
    fn intune_check_ins_follow_the_documented_cadence() {
        assert_eq!(intune_check_in(100, 100), 103);
        assert_eq!(intune_check_in(100, 104), 106);
        assert_eq!(intune_check_in(100, 116), 130);
        assert_eq!(intune_check_in(100, 221), 700);
        assert_eq!(intune_check_in(100, 701), 1180);
    }

    /// 2,000 hybrid-joined, always-on clients, co-managed on day 1, with a strategy.
    fn strategy(extra: &str) -> Scenario {
        Scenario::from_toml(&format!(
            r#"name = "w"
start_date = 2027-01-04
days = 20
[fleet]
devices = 2000
licensed = 1.0
third_party_mdm = 0.0
os = {{ win11_23h2 = 1.0 }}
join = {{ hybrid_joined = 1.0 }}
configmgr_client = {{ hybrid_joined = 1.0 }}
location = {{ corporate_network = 1.0 }}
usage = {{ always_on = 1.0 }}
[enrollment]
failure_rate = 0.0
[[collections]]
name = "Pilot"
share = 0.1
[[strategy.steps]]
name = "enable"
action = "enable_co_management"
date = 2027-01-04
{extra}"#
        ))
        .unwrap()
    }

    fn wl(r: &RunResult, hour: usize, w: Workload) -> u64 {
        r.workloads[hour - 1][w.index()]
    }

    #[test]
    fn a_promotion_reaches_devices_at_their_next_policy_poll() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"all\"\naction = \"promote\"\nworkload = \"compliance_policies\"\ndate = 2027-01-06\n",
        );
        let r = hourly(&s);
        // Everyone is co-managed within day 1 (window 60 min for 2,000 devices); the switch
        // at day 3, 00:00 reaches each device at its next hourly poll: none before, all after.
        assert_eq!(at_hour(&r, 24, S::CoManaged), 2000);
        assert_eq!(wl(&r, 48, Workload::CompliancePolicies), 0);
        assert_eq!(wl(&r, 49, Workload::CompliancePolicies), 2000);
        assert_eq!(wl(&r, 49, Workload::WindowsUpdatePolicies), 0);
        assert_eq!(r.decisions.len(), 2);
        assert_eq!(
            r.workload_at_intune[Workload::CompliancePolicies.index()],
            Some(49 * 60)
        );
        // Conditional access: 2,000 devices from about hour 48 to the end (day 20).
        let days = r.conditional_access_minutes as f64 / 1440.0;
        assert!((2000.0 * 17.9..=2000.0 * 18.0).contains(&days), "{days}");
    }

    #[test]
    fn a_pilot_reaches_only_its_collection_after_evaluation() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"pilot\"\naction = \"pilot\"\nworkload = \"device_configuration\"\ncollection = \"Pilot\"\ndate = 2027-01-06\n",
        );
        let r = hourly(&s);
        let members = r.collection_members[0];
        assert!((150..=250).contains(&members), "{members}");
        // Collection evaluation takes 5 minutes: devices that poll in the first 5 minutes of
        // the hour take the switch an hour later.
        let first_hour = wl(&r, 49, Workload::DeviceConfiguration);
        assert!(
            first_hour < members && first_hour > members * 3 / 4,
            "{first_hour} of {members}"
        );
        assert_eq!(wl(&r, 50, Workload::DeviceConfiguration), members);
        // Device configuration carries resource access and Endpoint Protection.
        assert_eq!(wl(&r, 50, Workload::EndpointProtection), members);
        assert_eq!(wl(&r, 50, Workload::CompliancePolicies), 0);
        // The default site runs 2403: resource access is gone, so it never moves.
        assert_eq!(wl(&r, 50, Workload::ResourceAccessPolicies), 0);
        let mut old_site = s.clone();
        old_site.sites[0].version = 2107;
        let r = hourly(&old_site);
        assert_eq!(wl(&r, 50, Workload::ResourceAccessPolicies), members);
    }

    #[test]
    fn a_bad_policy_is_caught_by_a_gate_and_rolled_back() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"pilot\"\naction = \"pilot\"\nworkload = \"compliance_policies\"\ncollection = \"Pilot\"\ndate = 2027-01-06\n\
             [[strategy.steps]]\nname = \"all\"\naction = \"promote\"\nworkload = \"compliance_policies\"\nafter = \"pilot\"\ngate = \"g\"\n\
             [[strategy.gates]]\nname = \"g\"\nmetric = \"incident_rate\"\nworkload = \"compliance_policies\"\ninterval_hours = 48\nsuccess_at_most = 0.01\nfailure_above = 0.05\non_failure = \"rollback\"\nremediation_days = 3\n\
             [workloads.compliance_policies]\nincident_rate = 0.5\ndetection_hours = 6\nresolution_days = 30\nticket_share = 1.0\n",
        );
        let r = hourly(&s);
        let kinds: Vec<&str> = r.decisions.iter().map(|d| d.decision).collect();
        assert_eq!(
            kinds,
            ["run", "run", "rollback", "retry", "promote", "run"],
            "{:?}",
            r.decisions
        );
        let rollback = &r.decisions[2];
        assert_eq!(rollback.time, (2 + 2) * DAY);
        assert!(rollback.value.unwrap() > 0.3);
        // Half the pilot got the incident; the rollback cured them at the next poll, and the
        // fixed policy hurt nobody when it went to everyone.
        let members = r.collection_members[0];
        let total = r.counters.last().unwrap()[Counter::IncidentsStarted.index()];
        assert!(
            total > members / 3 && total < members * 2 / 3,
            "{total} of {members}"
        );
        assert_eq!(r.incidents_active[4 * 24 + 2], 0);
        assert_eq!(*r.incidents_active.last().unwrap(), 0);
        assert_eq!(r.blast_radius, total);
        assert_eq!(r.decisions[3].time, (4 + 3) * DAY);
        assert_eq!(*r.workloads.last().unwrap(), {
            let mut v = vec![0; WORKLOADS];
            v[Workload::CompliancePolicies.index()] = 2000;
            v
        });
    }

    #[test]
    fn leaving_an_endpoint_protection_pilot_keeps_its_policies() {
        let s = strategy(
            "[[strategy.steps]]\nname = \"pilot\"\naction = \"pilot\"\nworkload = \"endpoint_protection\"\ncollection = \"Pilot\"\ndate = 2027-01-06\n\
             [[strategy.steps]]\nname = \"never\"\naction = \"promote\"\nworkload = \"endpoint_protection\"\nafter = \"pilot\"\ngate = \"g\"\n\
             [[strategy.gates]]\nname = \"g\"\nmetric = \"tickets_per_day\"\ninterval_hours = 24\nsuccess_at_most = -1.0\nfailure_above = -1.0\non_failure = \"rollback\"\nremediation_days = 100\n",
        );
        let r = hourly(&s);
        assert!(r.decisions.iter().any(|d| d.decision == "rollback"));
        let members = r.collection_members[0];
        // The slider went back to ConfigMgr, but the pilot devices keep Intune's policies.
        assert_eq!(
            *r.workloads
                .last()
                .unwrap()
                .get(Workload::EndpointProtection.index())
                .unwrap(),
            members
        );
    }

    #[test]
    fn ring_collections_partition_the_fleet() {
        let s = Scenario::from_toml(
            "name = \"r\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 5000\nlicensed = 1.0\nthird_party_mdm = 0.0\nos = { win11_23h2 = 1.0 }\njoin = { hybrid_joined = 1.0 }\nconfigmgr_client = { hybrid_joined = 1.0 }\n[rings]\ntest_devices = 50\n\
             [[collections]]\nname = \"T\"\nrings = [\"test\"]\n[[collections]]\nname = \"F\"\nrings = [\"first\"]\n[[collections]]\nname = \"Fa\"\nrings = [\"fast\"]\n[[collections]]\nname = \"B\"\nrings = [\"broad\"]\n[[collections]]\nname = \"TF\"\nrings = [\"test\", \"first\"]\n[[collections]]\nname = \"Min\"\nshare = 0.0001\nmin_devices = 300\n",
        )
        .unwrap();
        let r = hourly(&s);
        let m = &r.collection_members;
        assert_eq!(m[0] + m[1] + m[2] + m[3], r.eligible);
        assert_eq!(m[4], m[0] + m[1]);
        assert!((30..=70).contains(&m[0]), "{m:?}");
        assert!((25..=75).contains(&m[1]), "{m:?}");
        assert!((350..=550).contains(&m[2]), "{m:?}");
        assert!((250..=350).contains(&m[5]), "{m:?}");
    }

    #[test]
    fn a_collection_that_selects_nothing_is_refused() {
        let s = strategy("[[collections]]\nname = \"Mobile\"\nos = [\"win10_mobile\"]\n");
        let e = run(&s, &RunOptions::default(), |_, _| {}).unwrap_err();
        assert!(
            e.to_string().contains("\"Mobile\" selects no device"),
            "{e}"
        );
    }

    impl Scenario {
        fn with_os(mut self, os: &str) -> Self {
            let os = crate::domain::OsRelease::from_name(os).unwrap();
            self.fleet.os = crate::scenario::Mix::new(&[(os, 1.0)]).unwrap();
            self
        }
    }

    fn last_states(r: &RunResult) -> &[u64; STATES] {
        r.states.last().unwrap()
    }

    fn arb_share() -> impl Strategy<Value = f64> {
        (0u32..=100).prop_map(|x| f64::from(x) / 100.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn invariants_hold_for_any_scenario(
            devices in 1u32..400,
            days in 1u32..25,
            seed in 0u64..1000,
            failure in arb_share(),
            licensed in arb_share(),
            presence in arb_share(),
            pilot in proptest::bool::ANY,
            enable_day in 0u32..10,
            threads in 1usize..4,
        ) {
            let scope = if pilot { "auto_enrollment = \"pilot\"\npilot_collection = \"P\"" } else { "auto_enrollment = \"all\"" };
            let programs = if seed % 2 == 0 { "[client_push]\ndevices_per_day = 7\n[os_upgrade]\ndevices_per_day = 3\n[mdm_migration]\ndevices_per_day = 2\n[path2]\ndevices_per_day = 9\n[cloud]\ncmg_vms = 1\nclient_install_minutes = 200\n" } else { "" };
            let s = Scenario::from_toml(&format!(
                "name = \"p\"\nseed = {seed}\nstart_date = 2027-01-0{}\ndays = {days}\n[fleet]\ndevices = {devices}\nlicensed = {licensed}\n[[collections]]\nname = \"P\"\nshare = 0.3\nmin_devices = 1\n[co_management]\nenable_date = 2027-01-{:02}\n{scope}\n[enrollment]\nfailure_rate = {failure}\n[usage]\nlaptop_presence = {presence}\n{programs}",
                1 + seed % 7, 1 + enable_day,
            )).unwrap();
            let r = match run(&s, &RunOptions { threads, bucket: Bucket::Hour, events: EventCapture::Sample(1.0) }, |_, _| {}) {
                Ok(r) => r,
                // A tiny fleet may have no eligible device for the pilot collection.
                Err(RunError::EmptyCollection { .. }) => return Ok(()),
                Err(e) => panic!("{e}"),
            };
            prop_assert_eq!(r.states.len(), days as usize * 24);
            let mut prev = [0u64; COUNTERS];
            let mut prev_total = 0;
            for (st, c) in r.states.iter().zip(&r.counters) {
                // Existing devices plus those arrived so far.
                let total = st.iter().sum::<u64>();
                prop_assert_eq!(total, u64::from(devices) + c[Counter::DevicesArrived.index()]);
                prop_assert!(total >= prev_total);
                prev_total = total;
                prop_assert!(st[S::CoManaged.index()] <= r.eligible);
                prop_assert!(c.iter().zip(prev.iter()).all(|(a, b)| a >= b));
                prop_assert_eq!(c[Counter::EnrollmentAttempts.index()], c[Counter::EnrollmentSuccesses.index()] + c[Counter::EnrollmentFailures.index()]);
                // Path 1 devices are co-managed by enrolling, Path 2 devices by installing the client.
                prop_assert!(c[Counter::EnrollmentSuccesses.index()] <= st[S::CoManaged.index()]);
                prop_assert!(st[S::CoManaged.index()] <= c[Counter::EnrollmentSuccesses.index()] + c[Counter::ClientInstallsCompleted.index()]);
                let by_code: u64 = c[Counter::ALL.len()..].iter().sum();
                prop_assert_eq!(by_code, c[Counter::EnrollmentFailures.index()]);
                prev = *c;
            }
            prop_assert_eq!(r.eligible + r.reasons.iter().sum::<u64>(), r.devices);
            for dim in ["os", "join", "identity", "location", "usage", "path", "site"] {
                let mut by_state = [0u64; STATES];
                for row in r.breakdown.iter().filter(|b| b.dimension == dim) {
                    by_state.iter_mut().zip(row.states).for_each(|(a, b)| *a += b);
                }
                prop_assert_eq!(&by_state, last_states(&r));
            }
            prop_assert!(r.co_managed_hourly.iter().all(|v| v.windows(2).all(|w| w[0] <= w[1])));
            // Events are in time order and replay to the final states.
            prop_assert!(r.events.windows(2).all(|w| (w[0].time, w[0].device) <= (w[1].time, w[1].device)));
            let mut replay = [0i64; STATES];
            for e in &r.events {
                if matches!(e.detail, Detail::Initial(_) | Detail::Arrived) { replay[e.to.index()] += 1; } else { replay[e.from.index()] -= 1; replay[e.to.index()] += 1; }
            }
            let last = r.states.last().unwrap();
            prop_assert!(replay.iter().zip(last.iter()).all(|(a, b)| *a == *b as i64));
        }
    }
}
