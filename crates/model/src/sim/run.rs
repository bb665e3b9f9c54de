//! Run: drawing the fleet into shards, the shared context, each device's starting state, the
//! barrier loop (strategy, gateway, progress) and the reduction of the shards' counts into a
//! [`RunResult`], in shard order so it never depends on threads.
//!
//! Leaves to others: every rule of a device's way (the process modules) and I/O (the runner).

use super::device::*;
use super::enrollment::randomization_window;
use super::gateway::{GATEWAY_STEP, Gateway, Spans};
use super::programs::third_party_mdm_phase;
use super::results::*;
use super::rollout::{COLLECTION_EVALUATION, Rollout, STRATEGY_STEP};
use super::workloads::bit;
use crate::domain::{AutoEnrollment, CoPath, IneligibleReason, JoinType, Prerequisite, Workload};
use crate::domain::{Location, OsRelease};
use crate::fleet::{Membership, draw_arrival, draw_profile, permanent_reason, starts_co_managed};
use crate::prereq::{Finding, FleetCounts, preflight};
use crate::scenario::strategy::StepAction;
use crate::scenario::{DAY, Minute, Scenario};
use crate::schedule::Calendar;
use crate::schedule::site_poll_interval;
use chrono::Datelike;
use fleetsim_engine::{Engine, EventQueue, Purpose, RandomStreams, balanced_ranges};
use std::ops::Range;

pub(super) const SAMPLE: Purpose = Purpose::named("event-sample");

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
        source: fleetsim_engine::StartError,
    },
}

/// A drawn fleet, ready to start: the engine with its shards and the context they share,
/// the shards' id ranges and each shard's counts.
pub(super) struct Prepared {
    engine: Engine<DeviceShard>,
    ranges: Vec<Range<u32>>,
    counts: Vec<FleetCounts>,
}

/// Builds the shared context and the engine, draws the fleet (pass 1) and returns the counts.
pub(super) fn prepare(scenario: &Scenario, options: &RunOptions) -> Result<Prepared, RunError> {
    prepare_spanned(scenario, options, None)
}

/// [`prepare`], with the stretch without barriers given (`None`: [`span_for`] the fleet).
fn prepare_spanned(
    scenario: &Scenario,
    options: &RunOptions,
    span: Option<Minute>,
) -> Result<Prepared, RunError> {
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
    let mut ctx = Context {
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
        span: DAY,
        ring: 1,
        hold_requests: false,
        sample: match options.events {
            EventCapture::Off => None,
            EventCapture::Sample(x) => Some(x),
        },
        co_management_at: s.co_management_at.filter(|_| tenant_ok),
        path2_blocker,
        gateway_serves: c.gateway_serves(),
        install_always_fails: c.ccmsetup_command_line_length > 1024,
        site_reason,
        site_into_co_management: s.sites.iter().map(|x| x.version >= 2111).collect(),
        device_token_errors: crate::sim::enrollment::device_token_errors(&s.errors),
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
    // Two shards a thread: with shards of equal work, enough for the threads to even out;
    // more shards cost more than they balance (four a thread: 1M x 180 days, 2 threads,
    // 0.30 s against 0.28 s).
    let parts = (threads as u32 * 2).clamp(1, 256);
    // A new Autopilot device (after the existing ones) takes about 1.75 times the work of an
    // existing device (its arrival draws and the provisioning events; measured on the
    // default scenario): shards of equal work, not of equal size, end together.
    let existing = s.fleet.devices;
    let ranges = balanced_ranges(total, parts, |x| {
        4 * u64::from(x.min(existing)) + 7 * u64::from(x.saturating_sub(existing))
    });
    // The rows one step of the run's loop can touch (a span at most), and one either side.
    let span = span.unwrap_or_else(|| span_for(total)).max(DAY);
    ctx.span = span;
    ctx.ring = (span / bucket + 2).min(ctx.rows as Minute + 1) as usize;
    let ring = ctx.ring;
    let shards = ranges
        .iter()
        .map(|r| DeviceShard {
            first: r.start,
            devices: Vec::new(),
            programs: Vec::new(),
            state_delta: vec![0; ring * ctx.sites * STATES],
            counter_delta: vec![0; ring * COUNTERS],
            co_managed_delta: [vec![0; ctx.hours + 1], vec![0; ctx.hours + 1]],
            co_existing_delta: vec![0; ctx.hours + 1],
            events: Vec::new(),
            gateway_requests: Vec::new(),
            marks: Vec::new(),
            waiting: 0,
            channels: Default::default(),
            sliders: Sliders::default(),
            wl_delta: vec![0; ring * WORKLOADS],
            ready_delta: vec![0; ring],
            incident_delta: vec![0; ring],
            collection_delta: vec![0; ring * s.collections.len()],
            configmgr_only_delta: vec![0; ring],
            live: Live::default(),
        })
        .collect();
    let sites = ctx.sites;
    let mut engine = Engine::new(ctx, shards, threads)
        .map_err(|source| RunError::Threads { threads, source })?;
    let rs = ranges.clone();
    let mut counts = engine.par_each(move |i, ctx, shard, _| shard.populate(ctx, rs[i].clone()));
    // Pass 2: collection membership, now that the matching devices are counted.
    let all = total_counts(&counts, sites);
    let membership = std::sync::Arc::new(Membership::new(s, &all.collection_matching));
    let assigned =
        engine.par_each(move |_, ctx, shard, _| shard.assign_collections(ctx, &membership));
    for (c, (members, in_scope)) in counts.iter_mut().zip(assigned) {
        c.collection_members = members;
        c.path1_in_scope = in_scope;
    }
    let all = total_counts(&counts, sites);
    if let Some(c) = all.collection_members.iter().position(|m| *m == 0) {
        return Err(RunError::EmptyCollection {
            name: s.collections[c].name.clone(),
        });
    }
    Ok(Prepared {
        engine,
        ranges,
        counts,
    })
}

/// The run's per-row tables, whole, into which the loop folds the shards' finished rows
/// (each shard keeps only its last [`Context::ring`] rows).
struct RowTotals {
    state: Vec<i64>,
    counter: Vec<u64>,
    wl: Vec<i64>,
    ready: Vec<i64>,
    incident: Vec<i64>,
    collection: Vec<i64>,
    configmgr_only: Vec<i64>,
    sites: usize,
    ncoll: usize,
    /// Rows before this one are folded.
    folded: usize,
}

impl RowTotals {
    fn new(rows: usize, sites: usize, ncoll: usize) -> Self {
        Self {
            state: vec![0; (rows + 1) * sites * STATES],
            counter: vec![0; (rows + 1) * COUNTERS],
            wl: vec![0; (rows + 1) * WORKLOADS],
            ready: vec![0; rows + 1],
            incident: vec![0; rows + 1],
            collection: vec![0; (rows + 1) * ncoll],
            configmgr_only: vec![0; rows + 1],
            sites,
            ncoll,
            folded: 0,
        }
    }

    /// Moves every shard's rows from the last fold up to `upto` (not included) into the
    /// totals, in shard order, and zeroes them in the shards' rings. Every shard must stand at
    /// `upto`'s row or later: its rows before are finished.
    fn fold(&mut self, engine: &mut Engine<DeviceShard>, upto: usize) {
        let upto = upto.min(self.ready.len());
        if upto <= self.folded {
            return;
        }
        /// Adds row `k` of a ring into row `r` of a total and zeroes it.
        fn take<T: Copy + Default + std::ops::AddAssign>(
            total: &mut [T],
            ring: &mut [T],
            r: usize,
            k: usize,
            width: usize,
        ) {
            let (total, ring) = (
                &mut total[r * width..(r + 1) * width],
                &mut ring[k * width..(k + 1) * width],
            );
            for (a, b) in total.iter_mut().zip(ring) {
                *a += *b;
                *b = T::default();
            }
        }
        let (ctx, mut shards) = engine.split_mut();
        for (shard, _) in shards.iter_mut() {
            for r in self.folded..upto {
                let k = r % ctx.ring;
                take(
                    &mut self.state,
                    &mut shard.state_delta,
                    r,
                    k,
                    self.sites * STATES,
                );
                take(&mut self.counter, &mut shard.counter_delta, r, k, COUNTERS);
                take(&mut self.wl, &mut shard.wl_delta, r, k, WORKLOADS);
                take(&mut self.ready, &mut shard.ready_delta, r, k, 1);
                take(&mut self.incident, &mut shard.incident_delta, r, k, 1);
                take(
                    &mut self.collection,
                    &mut shard.collection_delta,
                    r,
                    k,
                    self.ncoll,
                );
                take(
                    &mut self.configmgr_only,
                    &mut shard.configmgr_only_delta,
                    r,
                    k,
                    1,
                );
            }
        }
        self.folded = upto;
    }
}

pub(super) fn total_counts(counts: &[FleetCounts], sites: usize) -> FleetCounts {
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
    progress: impl FnMut(u32, u64),
) -> Result<RunResult, RunError> {
    run_with_findings(scenario, options, |_, _| {}, progress)
}

/// Runs `scenario` as [`run()`] does, and hands the preflight's findings and the fleet's counts
/// (what [`check`] returns) to `findings` once the fleet is drawn, before day 1: a caller shows
/// them before the run without drawing the fleet twice.
pub fn run_with_findings(
    scenario: &Scenario,
    options: &RunOptions,
    findings: impl FnOnce(&[Finding], &FleetCounts),
    mut progress: impl FnMut(u32, u64),
) -> Result<RunResult, RunError> {
    let on_findings = findings;
    let prepared = prepare(scenario, options)?;
    let all = total_counts(&prepared.counts, prepared.engine.context().sites);
    let findings = preflight(scenario, &all);
    on_findings(&findings, &all);
    // Where the gateway is likely to stay under its capacity (its internet-only devices alone
    // fit in it), first with shards that grant their own requests; if the gateway would have
    // kept a request waiting, again (the draw repeats exactly) with shards that leave them to
    // the gateway. A failed try costs the fleet's draw and the days run.
    let mut prepared = prepared;
    if all.internet_clients < scenario.cloud.capacity() {
        let optimistic = simulate(
            scenario,
            prepared,
            &all,
            &findings,
            Spans::Optimistic,
            &mut progress,
        );
        if let Some(result) = optimistic {
            return Ok(result);
        }
        prepared = prepare(scenario, options)?;
    }
    Ok(simulate(
        scenario,
        prepared,
        &all,
        &findings,
        Spans::Held,
        &mut progress,
    )
    .expect("a held run always ends"))
}

/// Runs `scenario` with the given treatment of the gateway's instants and stretch without
/// barriers (`None`: the fleet's own), for tests that hold them all to the same result;
/// `None` where an optimistic span guessed wrong.
#[cfg(test)]
pub(super) fn run_spans(
    scenario: &Scenario,
    options: &RunOptions,
    spans: Spans,
    span: Option<Minute>,
) -> Option<RunResult> {
    let prepared = prepare_spanned(scenario, options, span).expect("the scenario runs");
    let all = total_counts(&prepared.counts, prepared.engine.context().sites);
    let findings = preflight(scenario, &all);
    simulate(scenario, prepared, &all, &findings, spans, &mut |_, _| {})
}

/// How much work (devices x days) a stretch without barriers holds when nothing needs one
/// (no strategy to step; the gateway, if in use, replayed after it): 200 M device-days, about
/// a second on one thread. Each barrier hands the shards back and forth between threads,
/// waits for the last shard to finish and leaves the devices' records to go cold in the
/// cache: on the default run (1M x 180 days, 2 threads, idle) barriers every day took 0.47 s,
/// every 30 days 0.36 s (1.80 to 1.90 times one thread) and once 0.35 s (1.92 to 1.98 times);
/// progress is reported at each barrier, so a large fleet's still come about every second.
const SPAN_DEVICE_DAYS: u64 = 200_000_000;

/// The stretch without barriers for `devices` devices ([`SPAN_DEVICE_DAYS`]): whole days, at
/// least one, at most a year.
fn span_for(devices: u32) -> Minute {
    let days = (SPAN_DEVICE_DAYS / u64::from(devices.max(1))).clamp(1, 365);
    days as Minute * DAY
}

/// Simulates a drawn fleet. With `spans` other than [`Spans::Off`], a run with the gateway in
/// use and no strategy goes in spans of up to [`span_for`] without a barrier at each gateway
/// instant ([`DeviceShard::mark_instant`], [`Gateway::replay`], [`Gateway::replay_held`]);
/// `None` when an optimistic span finds the gateway would have kept a request waiting.
pub(super) fn simulate(
    scenario: &Scenario,
    prepared: Prepared,
    all: &FleetCounts,
    findings: &[Finding],
    spans: Spans,
    progress: &mut impl FnMut(u32, u64),
) -> Option<RunResult> {
    let Prepared {
        mut engine,
        ranges,
        counts,
    } = prepared;
    let ctx = engine.context_mut();
    let findings = findings.to_vec();
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
    // Program ranks: devices of earlier shards come first.
    let mut ranks = Vec::with_capacity(counts.len());
    let mut acc = Ranks::default();
    for c in &counts {
        ranks.push(acc);
        acc.push += c.push_candidates;
        acc.sync += c.on_premises_managed;
        acc.upgrade += c.upgrade_candidates;
        acc.legacy += c.legacy_candidates;
        acc.migration += c.migration_candidates;
    }
    // On the run's threads: the first events' memory is then theirs to reuse.
    engine.each(move |i, ctx, shard, q| shard.start(ctx, ranks[i], q));

    let horizon = scenario.horizon();
    let ctx = engine.context();
    let span = ctx.span;
    let (bucket, rows) = (ctx.bucket, ctx.rows);
    let uses_gateway = ctx.gateway_serves
        && ((ctx.path2_blocker.is_none() && all.path2_candidates > 0) || all.internet_clients > 0);
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
        span
    };
    let mut rollout = Rollout::new(scenario);
    let mut gateway = Gateway::new(scenario);
    let mut gateway_rows = vec![GatewayRow::default(); rows];
    // Without a strategy to step, a span ends only every `span` (or at the end of the run).
    let spans = if uses_gateway && !uses_strategy && scenario.strategy.steps.is_empty() {
        spans
    } else {
        Spans::Off
    };
    engine.context_mut().hold_requests = spans == Spans::Held;
    let mut totals = RowTotals::new(rows, scenario.sites.len(), scenario.collections.len());
    let mut now = 0;
    while now < horizon {
        // Every shard stands at `now`: the rows before its row are finished.
        totals.fold(&mut engine, (now / bucket) as usize);
        // The span's end, when this step runs one.
        let span_end = ((now / span + 1) * span).min(horizon);
        if spans == Spans::Held {
            let next = span_end;
            // The laptops' windows of the span's days, drawn now on every thread.
            let last = next / DAY;
            engine.each(move |_, ctx, shard, _| shard.plan_days(ctx, now, last));
            // Rounds: the shards that stand where the gateway has decided move on, to the
            // span's end or the next instant where a request of theirs waits; the gateway
            // then decides up to where the furthest behind stands.
            let mut decided = now;
            while decided < next {
                engine.advance_marked(next, GATEWAY_STEP, decided);
                let upto = engine.now();
                gateway.replay_held(&mut engine, &ranges, upto, bucket, &mut gateway_rows);
                decided = upto;
            }
            progress(next.div_ceil(DAY), engine.events_handled());
            now = next;
            continue;
        }
        if spans == Spans::Optimistic && gateway.idle() {
            let next = span_end;
            engine.advance_marked(next, GATEWAY_STEP, now);
            if !gateway.replay(&mut engine, bucket, &mut gateway_rows) {
                return None;
            }
            progress(next.div_ceil(DAY), engine.events_handled());
            now = next;
            continue;
        }
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
                engine.each(move |_, ctx, shard, q| shard.set_sliders(ctx, sliders, now, delay, q));
            }
        }
        engine.advance_to(next);
        if uses_gateway {
            if next % DAY == 0 {
                // The day's table of online clients, on every thread (the barrier's count
                // would build it on this one).
                engine.each(move |_, ctx, shard, _| shard.ready_day(ctx, next / DAY));
            }
            gateway.barrier(&mut engine, &ranges, next, bucket, &mut gateway_rows);
        }
        if next % DAY == 0 || next == horizon {
            progress(next.div_ceil(DAY), engine.events_handled());
        }
        now = next;
    }
    totals.fold(&mut engine, rows + 1);
    let events_handled = engine.events_handled();

    let mut breakdown = breakdown_rows(scenario);
    let slots = breakdown.len();
    let tables = engine.par_each(move |_, ctx, shard, q| {
        let mut t = vec![[0u64; STATES]; slots];
        for d in &shard.devices {
            if let Some(st) = d.state() {
                for slot in breakdown_slots(d) {
                    t[slot][st.index()] += 1;
                }
            }
        }
        let mut by_path = [0u64; PATHS];
        let mut existing = 0u64;
        let mut blocked = vec![0u64; Prerequisite::ALL.len()];
        let mut reasons = vec![0u64; IneligibleReason::ALL.len()];
        for (k, d) in shard.devices.iter().enumerate() {
            if d.phase == Phase::NotArrived {
                continue;
            }
            match d.reason {
                Some(r) => reasons[r.index()] += 1,
                None => {
                    by_path[d.path.index()] += 1;
                    existing += u64::from((shard.first + k as u32) < ctx.scenario.fleet.devices);
                }
            }
            if d.phase == Phase::IntuneOnlyBlocked {
                if let Some(p) = ctx.path2_blocker {
                    blocked[p.index()] += 1;
                }
            }
            if d.reason.is_none()
                && d.path == CoPath::Path1
                && ctx.co_management_at.is_some()
                && !ctx.gateway_serves
                && d.profile.location == Location::InternetOnly
                && d.state() != Some(crate::domain::LifecycleState::CoManaged)
            {
                blocked[Prerequisite::CloudManagementGateway.index()] += 1;
            }
        }
        // The devices, the events left after the horizon and the gateway's tables are not
        // needed any more: their memory goes back here, on every thread, not one by one on
        // the calling thread when the shards are dropped.
        drop(std::mem::take(&mut shard.devices));
        drop(std::mem::take(q));
        drop(std::mem::take(&mut shard.channels));
        (t, by_path, blocked, reasons, existing)
    });
    let mut eligible_by_path = [0u64; PATHS];
    let mut eligible_existing = 0u64;
    let mut blocked = vec![0u64; Prerequisite::ALL.len()];
    let mut reasons = vec![0u64; IneligibleReason::ALL.len()];
    for (t, by_path, b, r, e) in tables {
        eligible_existing += e;
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
    let (ctx, shards) = engine.into_parts();

    // Reduce in shard order, over integers.
    let sites = ctx.sites;
    let hours = ctx.hours;
    let mut co_delta = [vec![0i64; hours + 1], vec![0i64; hours + 1]];
    let mut co_existing = vec![0i64; hours + 1];
    let mut events = Vec::new();
    for s in &shards {
        for (acc, delta) in co_delta.iter_mut().zip(&s.co_managed_delta) {
            acc.iter_mut().zip(delta).for_each(|(a, b)| *a += b);
        }
        co_existing
            .iter_mut()
            .zip(&s.co_existing_delta)
            .for_each(|(a, b)| *a += b);
    }
    // Workloads, Autopatch readiness, incidents and collections: per row, cumulated.
    let ncoll = scenario.collections.len();
    let RowTotals {
        state: state_delta,
        counter: counter_delta,
        wl: wl_delta,
        ready: ready_delta,
        incident: incident_delta,
        collection: collection_delta,
        configmgr_only: configmgr_only_delta,
        ..
    } = totals;
    let mut live = Live {
        collection_co: vec![0; ncoll],
        collection_members: vec![0; ncoll],
        ..Live::default()
    };
    for s in &shards {
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
    let configmgr_only = per_row(&configmgr_only_delta, 1)
        .into_iter()
        .map(|v| v[0])
        .collect();
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
    Some(RunResult {
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
        co_managed_hourly_existing: cumulate(&co_existing),
        eligible_existing,
        co_management_at: ctx.co_management_at,
        configmgr_only,
        tenant_attach_at: scenario.tenant_attach_at,
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

/// The minute new device `id` arrives: its first online minute from its workday start on its
/// planned day, or `None` when that falls after the horizon. `populate` counts only the
/// devices that arrive; `start` schedules their arrival at this minute.
fn arrival_at(ctx: &Context, id: u32, p: &crate::fleet::Profile) -> Option<Minute> {
    let s = &ctx.scenario;
    let sched = crate::schedule::DeviceSchedule {
        device: id,
        usage: p.usage,
        day_start: p.day_start,
    };
    let day_start = s.path2.arrival_day_start(id - s.fleet.devices);
    ctx.calendar
        .next_online(&sched, day_start + Minute::from(p.day_start))
}

impl DeviceShard {
    /// Draws the shard's devices and counts them for the preflight and the programs.
    pub(super) fn populate(&mut self, ctx: &Context, range: Range<u32>) -> FleetCounts {
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
            // A device the inventory gives as co-managed already is co-managed: no permanent
            // reason applies to it.
            let co_managed = !arrival && starts_co_managed(&s.fleet, &ctx.streams, id);
            let reason = if co_managed {
                None
            } else {
                permanent_reason(&profile, s, ctx.site_reason[usize::from(profile.site)])
            };
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
            // The path a device takes is fixed by its draw (the process modules set the same
            // value when the device reaches it); the outputs count devices by it.
            let path = if arrival || (!profile.client && profile.join == JoinType::AzureAdJoined) {
                CoPath::Path2
            } else {
                CoPath::Path1
            };
            // A new device arrives at its first online minute from its planned day (as `start`
            // schedules it), if that is before the horizon; the outputs count only those.
            let present = !arrival || arrival_at(ctx, id, &profile).is_some();
            if present {
                counts.add_present(path, reason.is_none(), arrival);
            }
            let mut device = Device {
                profile,
                reason,
                phase: if arrival {
                    Phase::NotArrived
                } else if co_managed {
                    Phase::CoManaged
                } else {
                    Phase::Ineligible
                },
                enroll: EnrollStage::None,
                path,
                tries: 0,
                bits: 0,
                attempts: 0,
                installs: 0,
                intune_at: 0,
                export_at: 0,
                member: 0,
                authority: 0,
                incident: 0,
                sticky: 0,
                causes: crate::sim::enrollment::draw_causes(s, &ctx.streams, id),
            };
            device.set_join(JoinStage::Joined);
            device.set_record(record);
            self.devices.push(device);
        }
        counts
    }

    /// Sets each eligible device's collection memberships and its automatic enrollment scope;
    /// returns each collection's members and the Path 1 devices in scope.
    pub(super) fn assign_collections(&mut self, ctx: &Context, m: &Membership) -> (Vec<u64>, u64) {
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
            d.set_in_scope(
                match s.auto_enrollment {
                    AutoEnrollment::None => false,
                    AutoEnrollment::All => true,
                    AutoEnrollment::Pilot(c) => d.member & (1 << c) != 0,
                } && d.phase != Phase::CoManaged,
            );
            let path2 = id >= s.fleet.devices
                || (!d.profile.client && d.profile.join == JoinType::AzureAdJoined);
            in_scope += u64::from(d.in_scope() && !path2);
        }
        self.live.collection_members = members.clone();
        self.live.collection_co = vec![0; n];
        (members, in_scope)
    }

    /// Sets each device's starting state and schedules its first events.
    pub(super) fn start(&mut self, ctx: &Context, ranks: Ranks, q: &mut EventQueue<Ev>) {
        let s = &ctx.scenario;
        let mut r = ranks;
        for i in 0..self.devices.len() {
            let id = self.first + i as u32;
            let d = self.devices[i];
            if id >= s.fleet.devices {
                Self::schedule(q, arrival_at(ctx, id, &d.profile), i as u32, Kind::Arrive);
                continue;
            }
            if d.reason.is_none() {
                // Program positions, in id order over the whole fleet.
                let p = &d.profile;
                if p.join == JoinType::OnPremisesAd && p.identity.is_managed() {
                    // Azure AD Connect exports at most `aad_connect_export_per_hour`
                    // certificates an hour: the k-th (in id order) no earlier than k / rate
                    // hours after the join setting is on.
                    let rate = u64::from(s.timing.aad_connect_export_per_hour.max(1));
                    let from = u64::from(s.auto_register_at.unwrap_or(0));
                    self.devices[i].export_at =
                        Minute::try_from(from + r.sync * 60 / rate).unwrap_or(Minute::MAX);
                    r.sync += 1;
                }
                let (mut upgrade_at, mut push_at) = (Minute::MAX, Minute::MAX);
                if p.os.build().is_some_and(|b| b < 16299) {
                    if let Some((prog, _)) = s.os_upgrade {
                        upgrade_at = prog.time_of(r.upgrade);
                        r.upgrade += 1;
                    }
                }
                if matches!(p.os, OsRelease::Windows7 | OsRelease::Windows81) {
                    if let Some((prog, _)) = s.legacy_upgrade {
                        upgrade_at = prog.time_of(r.legacy);
                        r.legacy += 1;
                    }
                }
                if !p.client && p.join != JoinType::AzureAdJoined {
                    if let Some(prog) = s.client_push {
                        push_at = prog.time_of(r.push);
                        r.push += 1;
                    }
                }
                if (upgrade_at, push_at) != (Minute::MAX, Minute::MAX) {
                    self.programs.push((i as u32, upgrade_at, push_at));
                }
                if d.phase == Phase::CoManaged {
                    // Co-managed already (the inventory says so): nothing left to do. It kept
                    // its program positions, as the fleet's counts have it.
                    r.migration += u64::from(p.third_party_mdm);
                } else if p.third_party_mdm {
                    let prog = s
                        .mdm_migration
                        .expect("third-party MDM without migration is a permanent reason");
                    self.devices[i].phase = third_party_mdm_phase(p);
                    Self::schedule(
                        q,
                        Some(prog.time_of(r.migration)).filter(|t| *t < ctx.calendar.horizon),
                        i as u32,
                        Kind::Migrated,
                    );
                    r.migration += 1;
                } else {
                    self.advance(ctx, 0, i, q);
                }
            } else if d.reason == Some(IneligibleReason::ThirdPartyMdm) {
                // No migration program: coexistence where it applies, else stuck until migrated.
                self.devices[i].phase = third_party_mdm_phase(&d.profile);
            }
            self.join_channels(ctx, i);
            let state = self.devices[i].state();
            self.move_state(ctx, 0, i, None, state);
            if self.devices[i].record() {
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
}

/// The breakdown's rows, in output order: every value of every attribute, with zero counts.
pub(super) fn breakdown_rows(s: &Scenario) -> Vec<BreakdownRow> {
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
pub(super) fn breakdown_slots(d: &Device) -> [usize; 7] {
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
