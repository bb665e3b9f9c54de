//! Validation: the raw schema resolved into a [`Scenario`], one function per section, with
//! every check across fields; each error names its field and line. Every number is checked
//! against its row in [`super::bounds::BOUNDS`] here, before anything runs.
//!
//! Leaves to others: parsing ([`super::raw`]) and the collections, workloads and strategy
//! sections, validated in [`super::strategy`].

// Errors are built once per run, never on a hot path: their size does not matter.
#![allow(clippy::result_large_err)]

use super::bounds::{self, Located, check, whole};
use super::error::ScenarioError;
use super::strategy::{Strategy, resolve_collections, resolve_strategy, resolve_workloads};
use super::units::*;
use crate::domain::{AutoEnrollment, EnrollmentError, OsRelease};

use super::raw::*;
use super::resolved::*;
use super::sections::*;

/// A rate given as devices per day or per week, as minutes per device, and its start date.
pub(super) fn program_of(
    per_day: Option<Rate>,
    per_week: Option<Rate>,
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
        (Some(d), None) => {
            check(&format!("{field}.devices_per_day"), d.0)?;
            d.0
        }
        (None, Some(w)) => {
            check(&format!("{field}.devices_per_week"), w.0)?;
            w.0 / 7.0
        }
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

pub(super) fn at(span: std::ops::Range<usize>, field: &str, message: String) -> Located {
    let span = (span.start < span.end).then_some(span);
    (ScenarioError::field(field, message), span)
}

/// Ties a check's error to the span of a value the parser kept.
fn spanned<T>(r: Result<T, Located>, span: std::ops::Range<usize>) -> Result<T, Located> {
    r.map_err(|(e, s)| (e, s.or_else(|| (span.start < span.end).then_some(span))))
}

/// The scenario's calendar: minute 0 is the start date at 00:00.
struct Calendar {
    start: Date,
}

impl Calendar {
    fn minute(&self, d: Date) -> Minute {
        bounds::minute_from(self.start, d)
    }
}

/// The top-level keys: name and days.
fn resolve_header(raw: &RawScenario) -> Result<(String, u32), Located> {
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(at(
            raw.name.span(),
            "name",
            format!(
                "expected a scenario name of 1 to 100 characters, found {} characters",
                name.chars().count()
            ),
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
    let days = spanned(whole("days", *raw.days.get_ref()), raw.days.span())?;
    Ok((name, days))
}

/// `[fleet]`: its size (the shares are checked while parsing).
fn resolve_fleet_size(raw: &RawScenario) -> Result<u32, Located> {
    let devices = raw.fleet.devices.get_ref().0;
    let no_arrivals =
        raw.path2.devices_per_day.0 == 0 && raw.path2.batches.iter().all(|b| b.devices.0 == 0);
    spanned(
        whole("fleet.devices", *raw.fleet.devices.get_ref()),
        raw.fleet.devices.span(),
    )?;
    if devices == 0 && no_arrivals {
        return Err(at(
            raw.fleet.devices.span(),
            "fleet.devices",
            format!(
                "expected a fleet size from 1 to {MAX_DEVICES} (0 only with new [path2] devices), found {devices}"
            ),
        ));
    }
    Ok(devices)
}

/// `[[sites]]`: one default site when none is given; shares must sum to 1; codes unique.
fn resolve_sites(raw: &[RawSite]) -> Result<(Vec<Site>, Mix<u8>), Located> {
    if raw.is_empty() {
        return Ok((
            vec![Site {
                code: "P01".into(),
                version: 2403,
                management_points: 1,
                hierarchy: "H1".into(),
            }],
            Mix::new(&[(0u8, 1.0)]).expect("one site"),
        ));
    }
    if let Err((e, _)) = check("sites", raw.len() as f64) {
        return Err((e, Some(raw[raw.len().min(251) - 1].code.span())));
    }
    let mut sites = Vec::new();
    let mut pairs = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let code = s.code.get_ref().trim().to_string();
        if code.is_empty() || sites.iter().any(|x: &Site| x.code == code) {
            return Err(at(
                s.code.span(),
                &format!("sites[{i}].code"),
                format!("expected a unique, non-empty site code, found {code:?}"),
            ));
        }
        let version = spanned(
            whole(&format!("sites[{i}].version"), *s.version.get_ref()),
            s.version.span(),
        )?;
        let management_points = whole(
            &format!("sites[{i}].management_points"),
            s.management_points,
        )?;
        sites.push(Site {
            code,
            version,
            management_points,
            hierarchy: s.hierarchy.clone(),
        });
        pairs.push((i as u8, s.share.0));
    }
    let mix = Mix::new(&pairs)
        .map_err(|m| at(raw[0].code.span(), "sites", format!("site shares: {m}")))?;
    Ok((sites, mix))
}

/// `[co_management]`: the automatic enrollment scope.
fn resolve_auto_enrollment(
    raw: &RawCoManagement,
    collections: &[crate::scenario::Collection],
) -> Result<AutoEnrollment, Located> {
    Ok(match raw.auto_enrollment {
        RawScope::None => AutoEnrollment::None,
        RawScope::All => AutoEnrollment::All,
        RawScope::Pilot => {
            let Some(pc) = &raw.pilot_collection else {
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
    })
}

/// `[timing]`.
fn resolve_timing(t: &RawTiming) -> Result<Timing, Located> {
    let timing = Timing {
        policy_poll: whole("timing.policy_poll_minutes", t.policy_poll_minutes)?,
        join_task: whole("timing.join_task_minutes", t.join_task_minutes)?,
        aad_connect_sync: whole(
            "timing.aad_connect_sync_minutes",
            t.aad_connect_sync_minutes,
        )?,
        enrollment_retry: whole(
            "timing.enrollment_retry_minutes",
            t.enrollment_retry_minutes,
        )?,
        enrollment_tries: whole("timing.enrollment_tries", t.enrollment_tries)?,
        enrollment_retry_cycle: whole(
            "timing.enrollment_retry_cycle_minutes",
            t.enrollment_retry_cycle_minutes,
        )?,
        randomization_per_100k: bounds::days(
            "timing.randomization_days_per_100k",
            t.randomization_days_per_100k,
        )?,
        randomization_max: bounds::days("timing.randomization_max_days", t.randomization_max_days)?,
        randomization_min: whole(
            "timing.randomization_min_minutes",
            t.randomization_min_minutes,
        )?,
        aad_connect_export_per_hour: whole(
            "timing.aad_connect_export_per_hour",
            t.aad_connect_export_per_hour,
        )?,
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
    Ok(timing)
}

/// `[usage]`.
fn resolve_usage(u: &RawUsage) -> Result<Usage, Located> {
    let workday_length = whole("usage.workday_minutes", u.workday_minutes)?;
    let spread = whole(
        "usage.workday_start_spread_minutes",
        u.workday_start_spread_minutes,
    )?;
    if u.workday_start.0 + spread + workday_length > 2 * DAY {
        return Err((
            ScenarioError::field(
                "usage.workday_start_spread_minutes",
                "a workday must end before the next one starts",
            ),
            None,
        ));
    }
    Ok(Usage {
        workday_start: u.workday_start.0,
        workday_start_spread: spread,
        workday_length,
        laptop_presence: u.laptop_presence.0,
        always_on_sign_in: u.always_on_sign_in.0,
    })
}

/// `[remediation]`: one entry per error code, the default for the others.
fn resolve_remediation(
    raw: &RawRemediationTable,
    cal: &Calendar,
) -> Result<Vec<Remediation>, Located> {
    let one = |r: &RawRemediation, field: String| -> Result<Remediation, Located> {
        match (r.mean_days, r.date, r.never) {
            (Some(d), None, false) => {
                check(&format!("{field}.mean_days"), d.0)?;
                Ok(Remediation::MeanDelay(d.0 * f64::from(DAY)))
            }
            (None, Some(d), false) => Ok(Remediation::At(cal.minute(d))),
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
    let default_rem = match &raw.default {
        Some(r) => one(r, "remediation.default".into())?,
        None => Remediation::MeanDelay(14.0 * f64::from(DAY)),
    };
    let mut remediation = vec![default_rem; EnrollmentError::ALL.len()];
    for (e, r) in &raw.per_error {
        remediation[e.index()] = one(r, format!("remediation.{}", e.name()))?;
    }
    Ok(remediation)
}

/// `[client_push]`, `[mdm_migration]` and `[os_upgrade]`.
#[allow(clippy::type_complexity)]
fn resolve_programs(
    raw: &RawScenario,
    cal: &Calendar,
) -> Result<
    (
        Option<Program>,
        Option<Program>,
        Option<(Program, OsRelease)>,
        Option<(Program, OsRelease)>,
    ),
    Located,
> {
    let program = |per_day, per_week, start, field: &str| -> Result<Option<Program>, Located> {
        program_of(per_day, per_week, start, field).map(|o| {
            o.map(|(per, start)| Program {
                start: start.map_or(0, |d| cal.minute(d)),
                minutes_per_device: per,
            })
        })
    };
    let p = &raw.client_push;
    let client_push = program(
        p.devices_per_day,
        p.devices_per_week,
        p.start_date,
        "client_push",
    )?;
    let p = &raw.mdm_migration;
    let mdm_migration = program(
        p.devices_per_day,
        p.devices_per_week,
        p.start_date,
        "mdm_migration",
    )?;
    let u = &raw.os_upgrade;
    let os_upgrade = program(
        u.devices_per_day,
        u.devices_per_week,
        u.start_date,
        "os_upgrade",
    )?
    .map(|p| (p, u.target));
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
            let per_week = w.get_ref().0;
            spanned(
                check("os_upgrade.legacy_devices_per_week", per_week),
                w.span(),
            )?;
            (per_week > 0.0).then(|| {
                (
                    Program {
                        start: u.start_date.map_or(0, |d| cal.minute(d)),
                        minutes_per_device: 7.0 * f64::from(DAY) / per_week,
                    },
                    u.target,
                )
            })
        }
    };
    Ok((client_push, mdm_migration, os_upgrade, legacy_upgrade))
}

/// `[path2]`: new devices, and the fleet plus them within [`MAX_DEVICES`].
fn resolve_path2(p2: &RawPath2, cal: &Calendar, days: u32, devices: u32) -> Result<Path2, Located> {
    let per_day = whole("path2.devices_per_day", p2.devices_per_day)?;
    let day_of = |d: Date| cal.minute(d) / DAY;
    let mut batches = Vec::new();
    for (i, b) in p2.batches.iter().enumerate() {
        let n = whole(&format!("path2.batches[{i}].devices"), b.devices)?;
        batches.push((cal.minute(b.date), n));
    }
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
        per_day,
        from_day,
        until_day: until_day.max(from_day),
        os: p2.os.clone(),
        usage: p2.usage.clone(),
        esp: whole("path2.esp_minutes", p2.esp_minutes)?,
        esp_failure_rate: p2.esp_failure_rate.0,
        esp_timeout_rate: p2.esp_timeout_rate.0,
        esp_timeout: whole("path2.esp_timeout_minutes", p2.esp_timeout_minutes)?,
        into_co_management: p2.autopilot_into_co_management,
    };
    // Summed in 64 bits: a daily flow of 50 million over 3,650 days does not fit 32.
    let arrivals = path2.batches.iter().map(|b| u64::from(b.1)).sum::<u64>()
        + u64::from(path2.per_day) * u64::from(path2.until_day - path2.from_day);
    if u64::from(devices) + arrivals > u64::from(MAX_DEVICES) {
        return Err((
            ScenarioError::field(
                "path2.devices_per_day",
                format!(
                    "fleet plus new devices must stay within {MAX_DEVICES} devices, found {devices} + {arrivals}"
                ),
            ),
            None,
        ));
    }
    Ok(path2)
}

/// `[cloud]`: site prerequisites for Path 2 and the gateway.
fn resolve_cloud(cl: &RawCloud, cal: &Calendar) -> Result<Cloud, Located> {
    let vms = spanned(
        whole("cloud.cmg_vms", *cl.cmg_vms.get_ref()),
        cl.cmg_vms.span(),
    )?;
    let points = match &cl.cmg_connection_points {
        None => vms.div_ceil(4).max(1),
        Some(p) => spanned(whole("cloud.cmg_connection_points", *p.get_ref()), p.span())?,
    };
    Ok(Cloud {
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
        client_app_at: cl.client_app_date.map_or(0, |d| cal.minute(d)),
        client_install: whole("cloud.client_install_minutes", cl.client_install_minutes)?,
        client_install_failure_rate: cl.client_install_failure_rate.0,
        ccmsetup_command_line_length: whole(
            "cloud.ccmsetup_command_line_length",
            cl.ccmsetup_command_line_length,
        )?,
        registration: whole("cloud.registration_minutes", cl.registration_minutes)?,
    })
}

/// `[tenant]` and `[admin_roles]`.
fn resolve_tenant(raw: &RawScenario) -> Tenant {
    Tenant {
        azure_ad_premium: raw.tenant.azure_ad_premium,
        intune_admin_license: raw.tenant.intune_admin_license,
        aad_connect_sync: raw.tenant.aad_connect_sync,
        subscription_manager: raw.admin_roles.subscription_manager,
        global_administrator: raw.admin_roles.global_administrator,
        full_administrator_all_scope: raw.admin_roles.full_administrator_all_scope,
    }
}

/// When co-management is enabled and for whom: `[co_management]` or one
/// `enable_co_management` step, not both.
fn resolve_enablement(
    strategy: &Strategy,
    enable_date: Option<Minute>,
    auto_enrollment: AutoEnrollment,
) -> Result<(Option<Minute>, AutoEnrollment), Located> {
    use crate::scenario::strategy::{StepAction, StepStart};
    let mut co_management_at = enable_date;
    let mut auto_enrollment = auto_enrollment;
    for step in &strategy.steps {
        if let StepAction::EnableCoManagement(scope) = step.action {
            if co_management_at.is_some() {
                return Err((
                    ScenarioError::field(
                        "co_management.enable_date",
                        "co-management is enabled both here and by an enable_co_management step: keep one",
                    ),
                    None,
                ));
            }
            let StepStart::At(t) = resolved_start(strategy, step) else {
                unreachable!("an enable step waits for no gate")
            };
            co_management_at = Some(t);
            auto_enrollment = scope;
        }
    }
    Ok((co_management_at, auto_enrollment))
}

/// Resolves every section, in file order of dependence.
pub(super) fn resolve(raw: RawScenario) -> Result<Scenario, Located> {
    let cal = Calendar {
        start: raw.start_date,
    };
    let (name, days) = resolve_header(&raw)?;
    let devices = resolve_fleet_size(&raw)?;
    let (sites, site_mix) = resolve_sites(&raw.sites)?;
    let collections = resolve_collections(&raw.collections, &sites)?;
    let workloads = resolve_workloads(&raw.workloads, &collections)?;
    let auto_enrollment = resolve_auto_enrollment(&raw.co_management, &collections)?;
    let timing = resolve_timing(&raw.timing)?;
    let usage = resolve_usage(&raw.usage)?;
    let remediation = resolve_remediation(&raw.remediation, &cal)?;
    let (client_push, mdm_migration, os_upgrade, legacy_upgrade) = resolve_programs(&raw, &cal)?;
    let path2 = resolve_path2(&raw.path2, &cal, days, devices)?;
    let cloud = resolve_cloud(&raw.cloud, &cal)?;
    let tenant = resolve_tenant(&raw);
    let minute_of = |d: Date| cal.minute(d);
    let enable_date = raw.co_management.enable_date.map(minute_of);
    let strategy = resolve_strategy(&raw.strategy, &collections, &sites, &minute_of, enable_date)?;
    let (co_management_at, auto_enrollment) =
        resolve_enablement(&strategy, enable_date, auto_enrollment)?;
    let ring_test_devices = whole("rings.test_devices", raw.rings.test_devices)?;

    let (domains, domain_mix) = resolve_domains(&raw.domains)?;
    let fleet = resolve_fleet(&raw.fleet, devices, site_mix, &sites, &domains)?;
    Ok(Scenario {
        ring_test_devices,
        workloads,
        strategy,
        tenant,
        ranges: Vec::new(),
        cloud,
        path2,
        client_push,
        os_upgrade,
        legacy_upgrade,
        mdm_migration,
        name,
        description: raw.description,
        posterior: raw.posterior,
        seed: raw.seed,
        start_date: raw.start_date.0,
        days,
        fleet,
        sites,
        collections,
        auto_register_at: raw
            .hybrid_join
            .auto_register
            .then(|| raw.hybrid_join.auto_register_date.map_or(0, minute_of)),
        co_management_at,
        tenant_attach_at: raw.tenant_attach.date.map(minute_of),
        auto_enrollment,
        timing,
        usage,
        failure_rate: raw.enrollment.failure_rate.0,
        causes: enrollment_causes(&raw.enrollment)?,
        domains,
        domain_mix,
        errors: raw.enrollment.errors,
        remediation,
    })
}

/// `[fleet]`: the mixes, each fleet-wide (the default where a table gives only `by_*` tables)
/// and per value of an earlier attribute.
fn resolve_fleet(
    raw: &RawFleet,
    devices: u32,
    sites_mix: Mix<u8>,
    sites: &[Site],
    domains: &[Domain],
) -> Result<FleetSpec, Located> {
    let default = RawFleet::default();
    fn all<K: Copy + Ord>(raw: &RawCondMix<K>, default: RawCondMix<K>) -> Mix<K> {
        raw.all
            .clone()
            .unwrap_or_else(|| default.all.expect("a default mix"))
    }
    let c = &raw.configmgr_client;
    let by = Conditional {
        usage: resolve_by(FleetAttr::Usage, &raw.usage, sites, domains)?,
        location: resolve_by(FleetAttr::Location, &raw.location, sites, domains)?,
        os: resolve_by(FleetAttr::Os, &raw.os, sites, domains)?,
        join: resolve_by(FleetAttr::Join, &raw.join, sites, domains)?,
        identity: resolve_by(FleetAttr::Identity, &raw.identity, sites, domains)?,
    };
    Ok(FleetSpec {
        devices,
        licensed: raw.licensed.0,
        third_party_mdm: raw.third_party_mdm.0,
        os: all(&raw.os, default.os),
        join: all(&raw.join, default.join),
        configmgr_client: [
            c.on_premises_ad.0,
            c.hybrid_joined.0,
            c.azure_ad_joined.0,
            c.azure_ad_registered.0,
            c.workgroup.0,
        ],
        identity: all(&raw.identity, default.identity),
        location: all(&raw.location, default.location),
        usage: all(&raw.usage, default.usage),
        sites: sites_mix,
        inventory: raw.inventory.clone(),
        inventory_format: raw.inventory_format.clone(),
        inventory_columns: raw.inventory_columns.clone().into_iter().collect(),
        overrides: None,
        by,
    })
}

/// The draw order, for messages: `domain, site, usage, ...`.
fn draw_order() -> String {
    FleetAttr::ALL
        .iter()
        .map(|a| a.name())
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// `[fleet.<mix>.by_<attribute>.<value>]`: at most one attribute per mix, drawn before the
/// mix's own, and every value a known one (a `[[sites]]` code, a `[[domains]]` name, a value's
/// name); each mix sums to 1 (checked while parsing).
fn resolve_by<K: Copy + Ord>(
    mix: FleetAttr,
    raw: &RawCondMix<K>,
    sites: &[Site],
    domains: &[Domain],
) -> Result<Option<ByMix<K>>, Located> {
    use crate::domain::{JoinType, Location, UsagePattern};
    let m = mix.name();
    let Some((on, per)) = raw.by.first() else {
        return Ok(None);
    };
    if let Some((other, _)) = raw.by.get(1) {
        return Err((
            ScenarioError::field(
                format!("fleet.{m}.by_{}", other.name()),
                format!(
                    "a mix depends on one attribute: fleet.{m} already has by_{}; keep one",
                    on.name()
                ),
            ),
            None,
        ));
    }
    let field = format!("fleet.{m}.by_{}", on.name());
    if mix == FleetAttr::Identity && !domains.is_empty() {
        return Err((
            ScenarioError::field(
                field,
                "with [[domains]], each domain's `identity` sets its devices' identity option: give it there, or remove [[domains]]",
            ),
            None,
        ));
    }
    if *on >= mix {
        return Err((
            ScenarioError::field(
                field,
                format!(
                    "{m} cannot depend on {}: a mix may depend only on an attribute drawn before its own, in the order {}",
                    on.name(),
                    draw_order()
                ),
            ),
            None,
        ));
    }
    let known: Vec<&str> = match on {
        FleetAttr::Domain => domains.iter().map(|d| d.name.as_str()).collect(),
        FleetAttr::Site => sites.iter().map(|s| s.code.as_str()).collect(),
        FleetAttr::Usage => UsagePattern::NAMES.to_vec(),
        FleetAttr::Location => Location::NAMES.to_vec(),
        FleetAttr::Os => OsRelease::NAMES.to_vec(),
        FleetAttr::Join => JoinType::NAMES.to_vec(),
        FleetAttr::Identity => unreachable!("identity is drawn last"),
    };
    let mut mixes = vec![None; known.len()];
    for (value, mixture) in per {
        let Some(i) = known.iter().position(|k| *k == value.as_str()) else {
            let what = match on {
                FleetAttr::Domain => "a [[domains]] name",
                FleetAttr::Site => "a [[sites]] code",
                _ => "one of",
            };
            let listed = if known.is_empty() {
                "(none defined)".to_string()
            } else {
                known.join(", ")
            };
            return Err(at(
                mixture.span(),
                &format!("{field}.{value}"),
                format!("unknown {} {value:?}: expected {what}: {listed}", on.name()),
            ));
        };
        mixes[i] = Some(mixture.get_ref().clone());
    }
    Ok(Some(ByMix { on: *on, mixes }))
}

/// `[[domains]]`: unique names, at most 250, shares that sum to 1.
#[allow(clippy::result_large_err)]
fn resolve_domains(raw: &[RawDomain]) -> Result<(Vec<Domain>, Option<Mix<u8>>), Located> {
    if raw.is_empty() {
        return Ok((Vec::new(), None));
    }
    if raw.len() > 250 {
        return Err((
            ScenarioError::field("domains", "expected at most 250 domains"),
            None,
        ));
    }
    let mut domains: Vec<Domain> = Vec::new();
    let mut pairs = Vec::new();
    for (i, d) in raw.iter().enumerate() {
        let name = d.name.get_ref().trim().to_string();
        if name.is_empty() || name.len() > 100 || domains.iter().any(|x| x.name == name) {
            return Err(at(
                d.name.span(),
                &format!("domains[{i}].name"),
                format!("expected a unique domain name of 1 to 100 characters, found {name:?}"),
            ));
        }
        domains.push(Domain {
            name,
            identity: d.identity,
            upn_routable: d.upn_routable,
        });
        pairs.push((i as u8, d.share.0));
    }
    let mix = Mix::new(&pairs)
        .map_err(|m| at(raw[0].name.span(), "domains", format!("domain shares: {m}")))?;
    Ok((domains, Some(mix)))
}

/// `[enrollment]`'s lasting causes; a cause's code may not stay in the per-attempt `errors` mix.
#[allow(clippy::result_large_err)]
fn enrollment_causes(e: &RawEnrollment) -> Result<EnrollmentCauses, Located> {
    for err in EnrollmentError::ALL {
        if err.is_cause() && e.errors.share(*err) > 0.0 {
            let key = match err {
                EnrollmentError::NonRoutableUpn => "non_routable_upn",
                EnrollmentError::ManagementBlocked => "legacy_intune_agent",
                EnrollmentError::AlreadyEnrolled => "already_enrolled",
                _ => "platform_restriction_below",
            };
            return Err(at(
                0..0,
                &format!("enrollment.errors.{}", err.name()),
                format!(
                    "{} is a lasting cause drawn once, not a per-attempt error: remove it from enrollment.errors and set enrollment.{key}",
                    err.name()
                ),
            ));
        }
    }
    Ok(EnrollmentCauses {
        device_token_fallback: e.device_token_fallback.0,
        non_routable_upn: e.non_routable_upn.0,
        legacy_intune_agent: e.legacy_intune_agent.0,
        already_enrolled: e.already_enrolled.0,
        platform_restriction_below: e.platform_restriction_below,
    })
}
