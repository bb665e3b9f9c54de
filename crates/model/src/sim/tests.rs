//! Tests of the simulation: each process's rules seen through whole runs.

use super::results::*;
use super::*;
use crate::domain::EnrollmentError;
use crate::domain::LifecycleState as S;
use crate::domain::{IneligibleReason, Prerequisite, Workload};
use crate::scenario::DAY;
use crate::scenario::Scenario;
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
        r.counters.last().unwrap()[Counter::ALL.len() + EnrollmentError::UserNotAuthorized.index()],
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
    assert!(
        r.findings
            .iter()
            .any(|f| f.prerequisite == Prerequisite::CloudManagementGateway && f.devices == 500)
    );
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
