//! The scenarios the simulation's tests share, and the tests of whole runs (collections,
//! ineligible sites, invariants for any scenario). Each process's own tests sit beside it.

pub(super) use super::results::*;
pub(super) use super::*;
pub(super) use crate::domain::EnrollmentError;
pub(super) use crate::domain::LifecycleState as S;
pub(super) use crate::domain::{IneligibleReason, Prerequisite, Workload};
pub(super) use crate::scenario::DAY;
pub(super) use crate::scenario::Scenario;
use proptest::prelude::*;

/// Sets every lasting enrollment cause (and the device token's fallback) that `extra` does
/// not name to 0, so that the tests of other rules see no enrollment failure they did not ask
/// for.
pub(super) fn without_causes(mut s: Scenario, extra: &str) -> Scenario {
    let c = &mut s.causes;
    for (key, v) in [
        ("device_token_fallback", &mut c.device_token_fallback),
        ("non_routable_upn", &mut c.non_routable_upn),
        ("legacy_intune_agent", &mut c.legacy_intune_agent),
        ("already_enrolled", &mut c.already_enrolled),
    ] {
        if !extra.contains(key) {
            *v = 0.0;
        }
    }
    s
}

/// A scenario of one kind of device: 1,000 always-on Windows 11 clients, on-premises AD
/// joined, with the given identity option and extra TOML.
pub(super) fn uniform(identity: &str, extra: &str) -> Scenario {
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
    .map(|s| without_causes(s, extra))
    .unwrap()
}

pub(super) fn hourly(s: &Scenario) -> RunResult {
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

pub(super) fn at_hour(r: &RunResult, h: usize, st: S) -> u64 {
    r.states[h - 1][st.index()]
}

/// A Path 2 scenario: `existing` Azure AD joined devices without a client plus new
/// devices, always on, with the given extra TOML.
pub(super) fn path2(existing: u32, extra: &str) -> Scenario {
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
    .map(|s| without_causes(s, extra))
    .unwrap()
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

/// 2,000 hybrid-joined, always-on clients, co-managed on day 1, with a strategy.
pub(super) fn strategy(extra: &str) -> Scenario {
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
    .map(|s| without_causes(s, extra))
    .unwrap()
}

pub(super) fn wl(r: &RunResult, hour: usize, w: Workload) -> u64 {
    r.workloads[hour - 1][w.index()]
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
    pub(super) fn with_os(mut self, os: &str) -> Self {
        let os = crate::domain::OsRelease::from_name(os).unwrap();
        self.fleet.os = crate::scenario::Mix::new(&[(os, 1.0)]).unwrap();
        self
    }
}

pub(super) fn last_states(r: &RunResult) -> &[u64; STATES] {
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

#[test]
fn path1_needs_no_user_license_path2_does() {
    let s = Scenario::from_toml(
        r#"name = "lic"
start_date = 2027-01-04
days = 7
[fleet]
devices = 1000
licensed = 0.0
third_party_mdm = 0.0
os = { win11_23h2 = 1.0 }
join = { hybrid_joined = 0.5, azure_ad_joined = 0.5 }
configmgr_client = { hybrid_joined = 1.0, azure_ad_joined = 0.0 }
location = { corporate_network = 1.0 }
usage = { always_on = 1.0 }
[co_management]
enable_date = 2027-01-04
[enrollment]
failure_rate = 0.0
"#,
    )
    .map(|s| without_causes(s, ""))
    .unwrap();
    let r = hourly(&s);
    let unlicensed = r.reasons[IneligibleReason::NoLicense.index()];
    let last = r.states.last().unwrap();
    // Every hybrid-joined client (Path 1) is co-managed without a license; every Azure AD
    // joined device without a client (Path 2) is held back by the missing license.
    assert!((400..=600).contains(&unlicensed), "{unlicensed}");
    assert_eq!(last[S::CoManaged.index()], 1000 - unlicensed);
    assert_eq!(last[S::Ineligible.index()], unlicensed);
}

#[test]
fn milestones_from_enablement_and_over_the_devices_present_at_the_start() {
    // Co-management on day 3 (hour 48); 500 new Path 2 devices a day, slower to co-manage,
    // soon outnumber the 1,000 existing clients.
    let s = uniform(
        "federated",
        "[co_management]\nenable_date = 2027-01-06\n[enrollment]\nfailure_rate = 0.0\n[path2]\ndevices_per_day = 500\n",
    );
    let r = hourly(&s);
    assert_eq!(r.co_management_at, Some(2 * DAY));
    assert_eq!(r.eligible_existing, 1000);
    let overall = r.hours_to_co_managed(90, None);
    let existing = r.hours_to_co_managed_existing(99).unwrap();
    // Policy within an hour of enablement, then the 60-minute minimum window.
    assert!((49..=51).contains(&existing), "{existing}");
    assert_eq!(r.from_enable(Some(existing)), Some(existing - 48));
    assert_eq!(r.from_enable(None), None);
    assert!(overall.is_none_or(|h| h > existing + 24), "{overall:?}");
}

#[test]
fn events_record_every_completed_hybrid_join() {
    // Managed domain: the join completes hours after the policy, while most devices show
    // `scheduled` (a 1-day window): each join still has its row.
    let s = uniform(
        "password_hash_sync",
        "[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n[timing]\nrandomization_min_minutes = 1440\n",
    );
    let r = run(
        &s,
        &RunOptions {
            threads: 2,
            bucket: Bucket::Hour,
            events: EventCapture::Sample(1.0),
        },
        |_, _| {},
    )
    .unwrap();
    let joins = r
        .events
        .iter()
        .filter(|e| e.detail == Detail::HybridJoined)
        .count() as u64;
    assert_eq!(joins, 1000);
    assert_eq!(
        r.counters.last().unwrap()[Counter::HybridJoinsCompleted.index()],
        1000
    );
    assert!(r.events.iter().any(|e| e.detail == Detail::HybridJoined
        && e.from == S::Scheduled
        && e.to == S::Scheduled));
}

#[test]
fn tenant_attach_makes_every_configmgr_client_visible() {
    // 20% servers (never co-managed, but ConfigMgr clients), no co-management: nothing is in
    // Intune until tenant attach on day 2 uploads every client.
    let s = Scenario::from_toml(
        r#"name = "ta"
start_date = 2027-01-04
days = 4
[fleet]
devices = 1000
licensed = 1.0
third_party_mdm = 0.0
os = { win11_23h2 = 0.8, windows_server = 0.2 }
join = { hybrid_joined = 1.0 }
configmgr_client = { hybrid_joined = 1.0 }
location = { corporate_network = 1.0 }
usage = { always_on = 1.0 }
[tenant_attach]
date = 2027-01-05
"#,
    )
    .unwrap();
    let r = hourly(&s);
    assert_eq!(r.cloud_visible(23), 0);
    assert_eq!(r.cloud_visible(24), 1000);
    let servers = r.reasons[IneligibleReason::Server.index()];
    assert!((150..=250).contains(&servers), "{servers}");
    // Intune's view: the servers ineligible, the rest eligible (co-management never enabled).
    assert_eq!(
        r.intune_eligibility(),
        [0, 1000 - servers, 0, 0, servers, 0]
    );
}

#[test]
fn intune_eligibility_counts_every_configmgr_client_once() {
    let s = uniform(
        "password_hash_sync",
        "[co_management]\nenable_date = 2027-01-04\n[timing]\nrandomization_min_minutes = 1440\n",
    );
    let mut s = s;
    s.set_days(1).unwrap();
    let r = hourly(&s);
    let e = r.intune_eligibility();
    assert_eq!(e.iter().sum::<u64>(), 1000);
    assert!(e[0] > 0 && e[5] > 0, "{e:?}");
}

#[test]
fn domains_set_identity_and_upn_suffix() {
    // corp: federated, routable; legacy: password hash sync with a .local suffix, never fixed.
    let s = uniform(
        "federated",
        "[[domains]]\nname = \"corp.example.com\"\nshare = 0.6\nidentity = \"federated\"\n[[domains]]\nname = \"legacy.local\"\nshare = 0.4\nidentity = \"password_hash_sync\"\nupn_routable = false\n[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n[remediation]\n\"0x8018002B_upn\" = { never = true }\n",
    );
    let r = hourly(&s);
    let devices = |value: &str| {
        r.breakdown
            .iter()
            .find(|b| b.dimension == "identity" && b.value == value)
            .map(|b| b.states.iter().sum::<u64>())
            .unwrap()
    };
    let legacy = devices("password_hash_sync");
    assert!((320..=480).contains(&legacy), "{legacy}");
    assert_eq!(devices("federated"), 1000 - legacy);
    let last = r.states.last().unwrap();
    assert_eq!(last[S::AwaitingRemediation.index()], legacy);
    assert_eq!(last[S::CoManaged.index()], 1000 - legacy);
}

#[test]
fn coexistence_applies_only_to_1709_plus_azure_ad_or_hybrid_joined_devices() {
    let run_with = |join: &str, os: &str| {
        let s = Scenario::from_toml(&format!(
            "name = \"c\"\nstart_date = 2027-01-04\ndays = 2\n[fleet]\ndevices = 300\nlicensed = 1.0\nthird_party_mdm = 1.0\nos = {{ {os} = 1.0 }}\njoin = {{ {join} = 1.0 }}\nconfigmgr_client = {{ {join} = 1.0 }}\nlocation = {{ corporate_network = 1.0 }}\n"
        ))
        .unwrap();
        *hourly(&s).states.last().unwrap()
    };
    let st = run_with("hybrid_joined", "win11_23h2");
    assert_eq!(st[S::Coexistence.index()], 300);
    let st = run_with("azure_ad_joined", "win10_1709");
    assert_eq!(st[S::Coexistence.index()], 300);
    // On-premises AD only: ConfigMgr does not enter coexistence; without a migration program
    // the device stays under its MDM, outside coexistence, for the whole run.
    let st = run_with("on_premises_ad", "win11_23h2");
    assert_eq!(st[S::Coexistence.index()], 0);
    assert_eq!(st[S::Ineligible.index()], 0);
    assert_eq!(st[S::AwaitingMdmMigration.index()], 300);
    // Below 1709 without an OS upgrade program: `os_below_1709` comes first.
    let st = run_with("hybrid_joined", "win10_1703");
    assert_eq!(st[S::Coexistence.index()], 0);
    assert_eq!(st[S::AwaitingMdmMigration.index()], 0);
    assert_eq!(st[S::Ineligible.index()], 300);
}

#[test]
fn findings_come_before_day_1_and_match_check_and_the_run() {
    let s = path2(500, "");
    let order = std::cell::RefCell::new(Vec::new());
    let handed = std::cell::RefCell::new(None);
    let r = run_with_findings(
        &s,
        &RunOptions::default(),
        |f, c| {
            order.borrow_mut().push(0);
            *handed.borrow_mut() = Some((f.to_vec(), c.clone()));
        },
        |day, _| order.borrow_mut().push(day),
    )
    .unwrap();
    let order = order.into_inner();
    assert_eq!(order.first(), Some(&0), "findings before day 1: {order:?}");
    assert_eq!(order.iter().filter(|d| **d == 0).count(), 1);
    let (findings, counts) = handed.into_inner().unwrap();
    assert_eq!(findings, r.findings);
    let (checked, check_counts) = check(&s, 3).unwrap();
    assert_eq!((findings, counts.clone()), (checked, check_counts));
    // The run counts the devices present at the end, as the counts say.
    assert_eq!(r.devices, counts.present.devices);
    assert_eq!(r.eligible_by_path, counts.present.eligible_by_path);
}

/// Held spans (shards stop at their own waiting requests; the gateway decides each instant
/// once all have passed it) give exactly what a barrier at every instant gives, over the
/// gateway's capacity and under it, on any number of threads; optimistic spans too, where
/// they do not give up.
#[test]
fn held_spans_are_barriers_at_every_instant() {
    use super::gateway::Spans;
    use super::run::run_spans;
    let default = include_str!("../../../../scenarios/mixed-enterprise-1m.toml");
    // Over capacity: a third of the fleet on the internet behind one standard VM.
    let over = default
        .replace("corporate_network = 0.60", "corporate_network = 0.30")
        .replace("internet_only = 0.05", "internet_only = 0.35")
        .replace("cmg_vms = 8 ", "cmg_vms = 1 ")
        .replace("cmg_vm_size = \"large\"", "cmg_vm_size = \"standard\"");
    assert_ne!(over, default);
    // Night shifts: windows that run past midnight into the next day's table.
    let night = over.replace("workday_start = \"07:00\"", "workday_start = \"19:00\"");
    assert_ne!(night, over);
    // 70 days: a span longer than the days whose laptop windows a shard draws ahead (64).
    for (text, devices, days) in [
        (default, 30_000, 40),
        (over.as_str(), 30_000, 40),
        (night.as_str(), 20_000, 70),
    ] {
        let mut s = Scenario::from_toml(text).unwrap();
        s.set_devices(devices).unwrap();
        s.set_days(days).unwrap();
        let options = |threads| RunOptions {
            threads,
            bucket: Bucket::Hour,
            events: EventCapture::Sample(1.0),
        };
        let reference = run_spans(&s, &options(1), Spans::Off, None).unwrap();
        assert!(reference.events.len() > 1000);
        // Spans of 3 days also make the shards' rings of hourly rows (3 days and 2 rows)
        // wrap many times over the 40 days.
        for (threads, span) in [(1, None), (3, None), (2, Some(3 * DAY))] {
            let held = run_spans(&s, &options(threads), Spans::Held, span).unwrap();
            assert!(
                held == reference,
                "held spans differ: {threads} threads, {span:?}"
            );
            if let Some(o) = run_spans(&s, &options(threads), Spans::Optimistic, span) {
                assert!(
                    o == reference,
                    "optimistic spans differ: {threads} threads, {span:?}"
                );
            }
        }
    }
    // The over-capacity run does make requests wait (else it would test nothing).
    let mut s = Scenario::from_toml(&over).unwrap();
    s.set_devices(30_000).unwrap();
    s.set_days(40).unwrap();
    let r = run_spans(
        &s,
        &RunOptions {
            threads: 2,
            bucket: Bucket::Hour,
            events: EventCapture::Off,
        },
        Spans::Held,
        None,
    )
    .unwrap();
    assert!(r.gateway.iter().any(|g| g.queued > 0), "no request waited");
}
