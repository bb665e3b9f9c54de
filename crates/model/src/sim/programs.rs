//! Programs and routing: where a device goes once nothing permanent stands in its way — the
//! OS upgrade program, client push, MDM migration, Path 2 from Intune for Azure AD joined
//! devices without a client, or Path 1 — and each program's rate (ranks in device-id order).
//!
//! Leaves to others: the steps of each path (identity, enrollment, client_install) and the
//! permanent reasons a device is ineligible ([`crate::fleet`]).

use super::device::*;
use super::results::*;
use crate::domain::{CoPath, JoinType, OsRelease, coexistence_applies};
use crate::fleet::Profile;
use crate::scenario::Minute;
use fleetsim_engine::EventQueue;

/// Where a device under a third-party MDM waits until it is migrated (for good when the
/// scenario has no `[mdm_migration]`): in coexistence when ConfigMgr enters it, that is on
/// Windows 10 1709+ (or 11), Azure AD or hybrid joined (memdocs:
/// configmgr/comanage/coexistence.md); otherwise outside it, awaiting the migration.
pub(super) fn third_party_mdm_phase(p: &Profile) -> Phase {
    if coexistence_applies(p.os, p.join) {
        Phase::Coexistence
    } else {
        Phase::AwaitingMdmMigration
    }
}

impl DeviceShard {
    /// Puts a device on its next step once nothing permanent stands in its way: the OS
    /// upgrade, client push, Path 2 from Intune, or Path 1.
    pub(super) fn advance(&mut self, ctx: &Context, now: Minute, i: usize, q: &mut EventQueue<Ev>) {
        let s = &ctx.scenario;
        let sched = self.schedule_of(i);
        let local = i as u32;
        let p = self.devices[i].profile;
        let legacy = matches!(p.os, OsRelease::Windows7 | OsRelease::Windows81);
        let upgrade = legacy || p.os.build().is_some_and(|b| b < 16299);
        // Only the few devices that wait for a program have their times looked up.
        let (upgrade_at, push_at) = if upgrade || (!p.client && p.join != JoinType::AzureAdJoined) {
            self.program_times(i)
        } else {
            (Minute::MAX, Minute::MAX)
        };
        let d = &mut self.devices[i];
        if upgrade {
            d.phase = Phase::AwaitingOsUpgrade;
            let at = Some(upgrade_at.max(now)).filter(|t| *t < ctx.calendar.horizon);
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
                self.intune_only(ctx, now, i, q);
            } else {
                d.phase = Phase::AwaitingClientPush;
                let at = Some(push_at.max(now)).filter(|t| *t < ctx.calendar.horizon);
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
        d.set_late(ctx.co_management_at.is_some_and(|at| now > at));
        let p = d.profile;
        let in_scope = d.in_scope();
        if p.join == JoinType::OnPremisesAd {
            d.set_join(JoinStage::NotJoined);
            if let Some(at) = s.auto_register_at {
                let phase = Minute::from(p.day_start) % s.timing.join_task;
                let t =
                    ctx.calendar
                        .next_online_tick(&sched, at.max(now), s.timing.join_task, phase);
                Self::schedule(q, t, local, Kind::JoinTask);
            }
        } else {
            d.set_join(JoinStage::Joined);
        }
        if let (Some(at), true) = (ctx.co_management_at, in_scope) {
            let (poll, phase) = ctx.poll_of(&p);
            let t = ctx
                .calendar
                .next_online_tick(&sched, at.max(now), poll, phase);
            Self::schedule(q, t, local, Kind::PolicyPoll);
        }
    }

    // Event handlers, called from the dispatch in `super`.

    /// [`Kind::Pushed`]: Client push installed a client: the device moves on.
    #[inline]
    pub(super) fn on_pushed(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(ctx, now, Counter::ClientPushes);
        self.devices[i].profile.client = true;
        self.advance(ctx, now, i, q);
        Detail::ClientPushed
    }

    /// [`Kind::Upgraded`]: The OS upgrade program upgraded the device: it moves on.
    #[inline]
    pub(super) fn on_upgraded(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        let s = &ctx.scenario;
        self.count(ctx, now, Counter::OsUpgrades);
        self.devices[i].profile.os = s
            .os_upgrade
            .or(s.legacy_upgrade)
            .map_or(OsRelease::Win10_22H2, |u| u.1);
        self.advance(ctx, now, i, q);
        Detail::OsUpgraded
    }

    /// [`Kind::Migrated`]: The device left its third-party MDM: it moves on.
    #[inline]
    pub(super) fn on_migrated(
        &mut self,
        ctx: &Context,
        now: Minute,
        i: usize,
        q: &mut EventQueue<Ev>,
    ) -> Detail {
        self.count(ctx, now, Counter::MdmMigrations);
        self.devices[i].profile.third_party_mdm = false;
        self.advance(ctx, now, i, q);
        Detail::MdmMigrated
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

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
    fn third_party_mdm_devices_wait_in_coexistence_only_where_it_applies() {
        // 300 clients under a third-party MDM; migration one every 10 minutes from day 2, so
        // none by hour 24 and all 300 by hour 24 + 50.
        let run_with = |join: &str, os: &str| {
            let s = Scenario::from_toml(&format!(
                "name = \"m\"\nstart_date = 2027-01-04\ndays = 5\n[fleet]\ndevices = 300\nlicensed = 1.0\nthird_party_mdm = 1.0\nos = {{ {os} = 1.0 }}\njoin = {{ {join} = 1.0 }}\nconfigmgr_client = {{ {join} = 1.0 }}\nidentity = {{ federated = 1.0 }}\nlocation = {{ corporate_network = 1.0 }}\nusage = {{ always_on = 1.0 }}\n[mdm_migration]\ndevices_per_day = 144\nstart_date = 2027-01-05\n[os_upgrade]\ndevices_per_day = 1440\n[co_management]\nenable_date = 2027-01-04\n[enrollment]\nfailure_rate = 0.0\n"
            ))
            .map(|s| without_causes(s, ""))
            .unwrap();
            hourly(&s)
        };
        let migrated = |r: &RunResult, h: usize| r.counters[h - 1][Counter::MdmMigrations.index()];
        // Windows 11, hybrid joined: coexistence until migrated.
        let r = run_with("hybrid_joined", "win11_23h2");
        assert_eq!(migrated(&r, 24), 0);
        assert_eq!(at_hour(&r, 24, S::Coexistence), 300);
        assert_eq!(at_hour(&r, 24, S::AwaitingMdmMigration), 0);
        // On-premises AD only, or Windows 10 below 1709: not coexistence, awaiting migration.
        for (join, os) in [
            ("on_premises_ad", "win11_23h2"),
            ("hybrid_joined", "win10_1703"),
        ] {
            let r = run_with(join, os);
            assert_eq!(at_hour(&r, 24, S::Coexistence), 0, "{join} {os}");
            assert_eq!(at_hour(&r, 24, S::AwaitingMdmMigration), 300, "{join} {os}");
            assert_eq!(r.reasons.iter().sum::<u64>(), 0);
            // Migrated ones move on (to the OS upgrade, the hybrid join, then enrollment).
            assert_eq!(
                at_hour(&r, 36, S::AwaitingMdmMigration),
                300 - migrated(&r, 36)
            );
            assert!(migrated(&r, 36) > 60, "{}", migrated(&r, 36));
        }
        // After the migration every kind of device goes on to co-management.
        for (join, os) in [
            ("hybrid_joined", "win11_23h2"),
            ("on_premises_ad", "win11_23h2"),
            ("hybrid_joined", "win10_1703"),
        ] {
            let r = run_with(join, os);
            let last = r.states.last().unwrap();
            assert_eq!(migrated(&r, 120), 300);
            assert_eq!(last[S::Coexistence.index()], 0);
            assert_eq!(last[S::AwaitingMdmMigration.index()], 0);
            assert_eq!(last[S::CoManaged.index()], 300, "{join} {os}: {last:?}");
        }
    }

    #[test]
    fn windows_7_and_8_1_are_upgraded_at_their_own_rate() {
        let toml = |upgrade: &str| {
            Scenario::from_toml(&format!(
                "name = \"p\"\nstart_date = 2027-01-04\ndays = 10\n[fleet]\ndevices = 1000\nlicensed = 1.0\nthird_party_mdm = 0.0\nos = {{ windows_7 = 0.5, windows_8_1 = 0.3, win11_23h2 = 0.2 }}\njoin = {{ hybrid_joined = 1.0 }}\nconfigmgr_client = {{ hybrid_joined = 1.0 }}\nlocation = {{ corporate_network = 1.0 }}\nusage = {{ always_on = 1.0 }}\n[co_management]\nenable_date = 2027-01-04\n{upgrade}"
            ))
        };
        let r = hourly(&toml("").unwrap());
        let legacy = r.reasons[IneligibleReason::LegacyOs.index()];
        assert!((750..=850).contains(&legacy), "{legacy}");
        // 70 a week = 10 a day, from the start: 100 by day 10 (of about 800).
        let s = toml("[os_upgrade]\nlegacy_devices_per_week = 70\n").unwrap();
        let r = hourly(&s);
        assert_eq!(r.reasons[IneligibleReason::LegacyOs.index()], 0);
        let c = r.counters.last().unwrap()[Counter::OsUpgrades.index()];
        assert!((95..=100).contains(&c), "{c}");
        assert_eq!(at_hour(&r, 240, S::AwaitingOsUpgrade), legacy - c);
        // Past the range: refused with the field.
        let e = toml("[os_upgrade]\nlegacy_devices_per_week = 1000001\n").unwrap_err();
        assert_eq!(
            e.field.as_deref(),
            Some("os_upgrade.legacy_devices_per_week")
        );
    }
}
