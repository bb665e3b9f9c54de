//! Validation: the raw schema resolved into a [`Scenario`], section by section, with every
//! check across fields; each error names its field and line.
//!
//! Leaves to others: parsing ([`super::raw`]) and the collections, workloads and strategy
//! sections, validated in [`super::strategy`].

use super::error::ScenarioError;
use super::strategy::{Strategy, resolve_collections, resolve_strategy, resolve_workloads};
use super::units::*;
use crate::domain::{AutoEnrollment, EnrollmentError};

use super::raw::*;
use super::resolved::*;
use super::sections::*;

/// A rate given as devices per day or per week, as minutes per device, and its start date.
#[allow(clippy::result_large_err)]
pub(super) fn program_of(
    per_day: Option<Days>,
    per_week: Option<Days>,
    start: Option<Date>,
    field: &str,
) -> Result<Option<(f64, Option<Date>)>, Located> {
    let per_day = match (per_day, per_week) {
        (Some(_), Some(_)) => {
            return Err((
                ScenarioError::field(
                    format!("{field}.devices_per_week"),
                    "give devices_per_day or devices_per_week, not both",
                ),
                None,
            ));
        }
        (Some(d), None) => d.0,
        (None, Some(w)) => w.0 / 7.0,
        (None, None) => return Ok(None),
    };
    if per_day <= 0.0 {
        return Ok(None);
    }
    Ok(Some((f64::from(DAY) / per_day, start)))
}

/// A step's start as a fixed minute, following `after` links (gates ignored).
pub(super) fn resolved_start(
    strategy: &Strategy,
    step: &crate::scenario::strategy::Step,
) -> crate::scenario::strategy::StepStart {
    use crate::scenario::strategy::StepStart;
    match step.start {
        StepStart::At(t) => StepStart::At(t),
        StepStart::After(k, d) => match resolved_start(strategy, &strategy.steps[k]) {
            StepStart::At(t) => StepStart::At(t.saturating_add(d)),
            other => other,
        },
    }
}

type Located = (ScenarioError, Option<std::ops::Range<usize>>);

pub(super) fn at(span: std::ops::Range<usize>, field: &str, message: String) -> Located {
    let span = (span.start < span.end).then_some(span);
    (ScenarioError::field(field, message), span)
}

// Errors are built once per run, never on a hot path: their size does not matter.
#[allow(clippy::result_large_err)]
pub(super) fn resolve(raw: RawScenario) -> Result<Scenario, Located> {
    let start = raw.start_date.0;
    let minute_of = |d: Date| -> Minute {
        let days = (d.0 - start).num_days();
        u32::try_from(days.max(0) * i64::from(DAY)).unwrap_or(Minute::MAX)
    };
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(at(
            raw.name.span(),
            "name",
            "expected a scenario name of 1 to 100 characters".into(),
        ));
    }
    if name.chars().any(|c| {
        c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
    }) {
        return Err(at(
            raw.name.span(),
            "name",
            format!(
                "expected a name usable as a folder name (no / \\ : * ? \" < > |), found {name:?}"
            ),
        ));
    }
    let days = raw.days.get_ref().0;
    if days == 0 || days > MAX_DAYS {
        return Err(at(
            raw.days.span(),
            "days",
            format!("expected a number of days from 1 to {MAX_DAYS}, found {days}"),
        ));
    }
    let devices = raw.fleet.devices.get_ref().0;
    let no_arrivals =
        raw.path2.devices_per_day.0 == 0 && raw.path2.batches.iter().all(|b| b.devices.0 == 0);
    if (devices == 0 && no_arrivals) || devices > MAX_DEVICES {
        return Err(at(
            raw.fleet.devices.span(),
            "fleet.devices",
            format!(
                "expected a fleet size from 1 to {MAX_DEVICES} (0 only with new [path2] devices), found {devices}"
            ),
        ));
    }

    // Sites: one default site when none is given; shares must sum to 1; codes unique.
    let (sites, site_mix) = if raw.sites.is_empty() {
        (
            vec![Site {
                code: "P01".into(),
                version: 2403,
                management_points: 1,
                hierarchy: "H1".into(),
            }],
            Mix::new(&[(0u8, 1.0)]).expect("one site"),
        )
    } else {
        if raw.sites.len() > 250 {
            return Err((
                ScenarioError::field("sites", "expected at most 250 sites"),
                None,
            ));
        }
        let mut sites = Vec::new();
        let mut pairs = Vec::new();
        for (i, s) in raw.sites.iter().enumerate() {
            let code = s.code.get_ref().trim().to_string();
            if code.is_empty() || sites.iter().any(|x: &Site| x.code == code) {
                return Err(at(
                    s.code.span(),
                    &format!("sites[{i}].code"),
                    format!("expected a unique, non-empty site code, found {code:?}"),
                ));
            }
            let version = s.version.get_ref().0;
            if !(1000..=9999).contains(&version) {
                return Err(at(
                    s.version.span(),
                    &format!("sites[{i}].version"),
                    format!("expected a ConfigMgr version such as 2403, found {version}"),
                ));
            }
            if s.management_points.0 == 0 {
                return Err((
                    ScenarioError::field(
                        format!("sites[{i}].management_points"),
                        "expected at least 1 management point",
                    ),
                    None,
                ));
            }
            sites.push(Site {
                code,
                version,
                management_points: s.management_points.0,
                hierarchy: s.hierarchy.clone(),
            });
            pairs.push((i as u8, s.share.0));
        }
        let mix = Mix::new(&pairs).map_err(|m| {
            let span = raw.sites[0].code.span();
            at(span, "sites", format!("site shares: {m}"))
        })?;
        (sites, mix)
    };

    let collections = resolve_collections(&raw.collections, &sites)?;
    let workloads = resolve_workloads(&raw.workloads, &collections)?;
    let auto_enrollment = match raw.co_management.auto_enrollment {
        RawScope::None => AutoEnrollment::None,
        RawScope::All => AutoEnrollment::All,
        RawScope::Pilot => {
            let Some(pc) = &raw.co_management.pilot_collection else {
                return Err((
                    ScenarioError::field(
                        "co_management.auto_enrollment",
                        "auto_enrollment = \"pilot\" needs pilot_collection = \"<name of a [[collections]] entry>\"",
                    ),
                    None,
                ));
            };
            let wanted = pc.get_ref().trim();
            match collections.iter().position(|c| c.name == wanted) {
                Some(i) => AutoEnrollment::Pilot(i),
                None => {
                    let known: Vec<String> = collections
                        .iter()
                        .map(|c| format!("{:?}", c.name))
                        .collect();
                    return Err(at(
                        pc.span(),
                        "co_management.pilot_collection",
                        format!(
                            "no collection named {wanted:?}; expected one of the [[collections]] names: {}",
                            if known.is_empty() {
                                "(none defined)".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                }
            }
        }
    };

    let t = &raw.timing;
    let positive = |w: Whole, field: &str| -> Result<Minute, Located> {
        if w.0 == 0 {
            Err((
                ScenarioError::field(field, "expected a whole number of minutes above 0, found 0"),
                None,
            ))
        } else {
            Ok(w.0)
        }
    };
    let day_minutes = |d: Days| -> Minute { (d.0 * f64::from(DAY)).round() as Minute };
    let timing = Timing {
        policy_poll: positive(t.policy_poll_minutes, "timing.policy_poll_minutes")?,
        join_task: positive(t.join_task_minutes, "timing.join_task_minutes")?,
        aad_connect_sync: positive(
            t.aad_connect_sync_minutes,
            "timing.aad_connect_sync_minutes",
        )?,
        enrollment_retry: positive(
            t.enrollment_retry_minutes,
            "timing.enrollment_retry_minutes",
        )?,
        enrollment_tries: positive(t.enrollment_tries, "timing.enrollment_tries")?,
        enrollment_retry_cycle: positive(
            t.enrollment_retry_cycle_minutes,
            "timing.enrollment_retry_cycle_minutes",
        )?,
        randomization_per_100k: day_minutes(t.randomization_days_per_100k),
        randomization_max: day_minutes(t.randomization_max_days),
        randomization_min: t.randomization_min_minutes.0,
    };
    if timing.randomization_min > timing.randomization_max {
        return Err((
            ScenarioError::field(
                "timing.randomization_min_minutes",
                format!(
                    "expected at most randomization_max_days ({} minutes), found {}",
                    timing.randomization_max, timing.randomization_min
                ),
            ),
            None,
        ));
    }

    let u = &raw.usage;
    if u.workday_minutes.0 == 0 || u.workday_minutes.0 > DAY {
        return Err((
            ScenarioError::field(
                "usage.workday_minutes",
                format!("expected 1 to {DAY} minutes, found {}", u.workday_minutes.0),
            ),
            None,
        ));
    }
    if u.workday_start.0 + u.workday_start_spread_minutes.0 + u.workday_minutes.0 > 2 * DAY {
        return Err((
            ScenarioError::field(
                "usage.workday_start_spread_minutes",
                "a workday must end before the next one starts",
            ),
            None,
        ));
    }
    let usage = Usage {
        workday_start: u.workday_start.0,
        workday_start_spread: u.workday_start_spread_minutes.0,
        workday_length: u.workday_minutes.0,
        laptop_presence: u.laptop_presence.0,
        always_on_sign_in: u.always_on_sign_in.0,
    };

    let resolve_rem = |r: &RawRemediation, field: String| -> Result<Remediation, Located> {
        match (r.mean_days, r.date, r.never) {
            (Some(d), None, false) => Ok(Remediation::MeanDelay(d.0 * f64::from(DAY))),
            (None, Some(d), false) => Ok(Remediation::At(minute_of(d))),
            (None, None, true) => Ok(Remediation::Never),
            _ => Err((
                ScenarioError::field(
                    field,
                    "expected exactly one of mean_days = <days>, date = <date> or never = true",
                ),
                None,
            )),
        }
    };
    let default_rem = match &raw.remediation.default {
        Some(r) => resolve_rem(r, "remediation.default".into())?,
        None => Remediation::MeanDelay(14.0 * f64::from(DAY)),
    };
    let mut remediation = vec![default_rem; EnrollmentError::ALL.len()];
    for (e, r) in &raw.remediation.per_error {
        remediation[e.index()] = resolve_rem(r, format!("remediation.{}", e.name()))?;
    }

    let program = |p: &RawProgram, field: &str| -> Result<Option<Program>, Located> {
        program_of(p.devices_per_day, p.devices_per_week, p.start_date, field).map(|o| {
            o.map(|(per, start)| Program {
                start: start.map_or(0, minute_of),
                minutes_per_device: per,
            })
        })
    };
    let client_push = program(&raw.client_push, "client_push")?;
    let mdm_migration = program(&raw.mdm_migration, "mdm_migration")?;
    let u = &raw.os_upgrade;
    let os_upgrade = program_of(
        u.devices_per_day,
        u.devices_per_week,
        u.start_date,
        "os_upgrade",
    )?
    .map(|(per, start)| {
        (
            Program {
                start: start.map_or(0, minute_of),
                minutes_per_device: per,
            },
            u.target,
        )
    });
    if u.target.build().is_none_or(|b| b < 16299) {
        return Err((
            ScenarioError::field(
                "os_upgrade.target",
                format!(
                    "expected a Windows 10 1709 or later or Windows 11 release, found {}",
                    u.target
                ),
            ),
            None,
        ));
    }
    let legacy_upgrade = match &u.legacy_devices_per_week {
        None => None,
        Some(w) => {
            let n = w.get_ref().0;
            if n > 1_000_000.0 {
                return Err(at(
                    w.span(),
                    "os_upgrade.legacy_devices_per_week",
                    format!("expected 0 to 1,000,000 devices per week, found {n}"),
                ));
            }
            program_of(None, Some(*w.get_ref()), u.start_date, "os_upgrade")?.map(|(per, start)| {
                (
                    Program {
                        start: start.map_or(0, minute_of),
                        minutes_per_device: per,
                    },
                    u.target,
                )
            })
        }
    };
    let p2 = &raw.path2;
    let day_of = |d: Date| minute_of(d) / DAY;
    let mut batches: Vec<(Minute, u32)> = p2
        .batches
        .iter()
        .map(|b| (minute_of(b.date), b.devices.0))
        .collect();
    batches.sort_by_key(|b| b.0);
    batches.retain(|b| b.0 < days * DAY && b.1 > 0);
    let from_day = p2.from_date.map_or(0, day_of).min(days);
    let until_day = p2.until_date.map_or(days, day_of).min(days);
    if p2.esp_failure_rate.0 + p2.esp_timeout_rate.0 > 1.0 {
        return Err((
            ScenarioError::field(
                "path2.esp_timeout_rate",
                "esp_failure_rate + esp_timeout_rate must be at most 1",
            ),
            None,
        ));
    }
    let path2 = Path2 {
        batches,
        per_day: p2.devices_per_day.0,
        from_day,
        until_day: until_day.max(from_day),
        os: p2.os.clone(),
        usage: p2.usage.clone(),
        esp: p2.esp_minutes.0,
        esp_failure_rate: p2.esp_failure_rate.0,
        esp_timeout_rate: p2.esp_timeout_rate.0,
        esp_timeout: positive(p2.esp_timeout_minutes, "path2.esp_timeout_minutes")?,
        into_co_management: p2.autopilot_into_co_management,
    };
    if u64::from(devices) + u64::from(path2.arrivals()) > u64::from(MAX_DEVICES) {
        return Err((
            ScenarioError::field(
                "path2.devices_per_day",
                format!("fleet plus new devices must stay under {MAX_DEVICES}"),
            ),
            None,
        ));
    }
    let cl = &raw.cloud;
    let vms = cl.cmg_vms.get_ref().0;
    if vms > 16 {
        return Err(at(
            cl.cmg_vms.span(),
            "cloud.cmg_vms",
            format!("expected 0 to 16 VM instances (the CMG maximum), found {vms}"),
        ));
    }
    let points = match &cl.cmg_connection_points {
        None => vms.div_ceil(4).max(1),
        Some(p) => {
            let n = p.get_ref().0;
            if !(1..=16).contains(&n) {
                return Err(at(
                    p.span(),
                    "cloud.cmg_connection_points",
                    format!(
                        "expected 1 to 16 connection points (each serves up to 4 VMs), found {n}"
                    ),
                ));
            }
            n
        }
    };
    let cloud = Cloud {
        enhanced_http: cl.enhanced_http,
        cloud_services: cl.cloud_services,
        site_onboarded_to_azure_ad: cl.site_onboarded_to_azure_ad,
        management_points_for_cmg: cl.management_points_for_cmg,
        cmg_vms: vms,
        clients_per_vm: match cl.cmg_vm_size {
            RawVmSize::Standard => 6_000,
            RawVmSize::Large => 10_000,
        },
        cmg_connection_points: points,
        client_app_at: cl.client_app_date.map_or(0, minute_of),
        client_install: positive(cl.client_install_minutes, "cloud.client_install_minutes")?,
        client_install_failure_rate: cl.client_install_failure_rate.0,
        ccmsetup_command_line_length: cl.ccmsetup_command_line_length.0,
        registration: cl.registration_minutes.0,
    };
    let tenant = Tenant {
        azure_ad_premium: raw.tenant.azure_ad_premium,
        intune_admin_license: raw.tenant.intune_admin_license,
        aad_connect_sync: raw.tenant.aad_connect_sync,
        subscription_manager: raw.admin_roles.subscription_manager,
        global_administrator: raw.admin_roles.global_administrator,
        full_administrator_all_scope: raw.admin_roles.full_administrator_all_scope,
    };

    let strategy = resolve_strategy(
        &raw.strategy,
        &collections,
        &sites,
        &minute_of,
        raw.co_management.enable_date.map(minute_of),
    )?;
    let mut co_management_at = raw.co_management.enable_date.map(minute_of);
    let mut auto_enrollment = auto_enrollment;
    for step in &strategy.steps {
        if let crate::scenario::strategy::StepAction::EnableCoManagement(scope) = step.action {
            if co_management_at.is_some() {
                return Err((
                    ScenarioError::field(
                        "co_management.enable_date",
                        "co-management is enabled both here and by an enable_co_management step: keep one",
                    ),
                    None,
                ));
            }
            let crate::scenario::strategy::StepStart::At(t) = resolved_start(&strategy, step)
            else {
                unreachable!()
            };
            co_management_at = Some(t);
            auto_enrollment = scope;
        }
    }

    let c = &raw.fleet.configmgr_client;
    Ok(Scenario {
        ring_test_devices: raw.rings.test_devices.0,
        workloads,
        strategy,
        tenant,
        cloud,
        path2,
        client_push,
        os_upgrade,
        legacy_upgrade,
        mdm_migration,
        name,
        description: raw.description,
        seed: raw.seed,
        start_date: start,
        days,
        fleet: FleetSpec {
            devices,
            licensed: raw.fleet.licensed.0,
            third_party_mdm: raw.fleet.third_party_mdm.0,
            os: raw.fleet.os,
            join: raw.fleet.join,
            configmgr_client: [
                c.on_premises_ad.0,
                c.hybrid_joined.0,
                c.azure_ad_joined.0,
                c.azure_ad_registered.0,
                c.workgroup.0,
            ],
            identity: raw.fleet.identity,
            location: raw.fleet.location,
            usage: raw.fleet.usage,
            sites: site_mix,
        },
        sites,
        collections,
        auto_register_at: raw
            .hybrid_join
            .auto_register
            .then(|| raw.hybrid_join.auto_register_date.map_or(0, minute_of)),
        co_management_at,
        auto_enrollment,
        timing,
        usage,
        failure_rate: raw.enrollment.failure_rate.0,
        errors: raw.enrollment.errors,
        remediation,
    })
}
