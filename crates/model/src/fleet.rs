//! Drawing one device from the scenario's fleet mix, and deciding whether it can take Path 1.

use crate::domain::{
    IdentityOption, IneligibleReason, JoinType, Location, OsRelease, UsagePattern,
};
use crate::scenario::{Collection, FleetSpec, Scenario};
use fleetsim_engine::{Purpose, RandomStreams, stable_hash, to_unit};
use rand::Rng;

/// The stream a device's attributes are drawn from.
pub const FLEET: Purpose = Purpose::named("fleet");
/// Draws collection membership (index: the collection name's hash).
pub const COLLECTION: Purpose = Purpose::named("collection");

/// A device's fixed attributes: eight bytes of enums plus its schedule offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// OS release.
    pub os: OsRelease,
    /// Join type at the start.
    pub join: JoinType,
    /// Identity option of its domain.
    pub identity: IdentityOption,
    /// Where it connects from.
    pub location: Location,
    /// When it is on.
    pub usage: UsagePattern,
    /// Index of its ConfigMgr site.
    pub site: u8,
    /// Has the ConfigMgr client.
    pub client: bool,
    /// The user holds an Intune license.
    pub licensed: bool,
    /// Enrolled in a third-party MDM.
    pub third_party_mdm: bool,
    /// Minute of the day when its workday starts.
    pub day_start: u16,
    /// Minute within the policy poll interval at which it polls.
    pub poll_phase: u16,
}

/// One inventory row's attributes, each `ABSENT` when the inventory leaves it to the mixes:
/// `[os, join, client, site, location, usage, third_party_mdm, licensed, start]` (enums by
/// index, booleans as 0/1, the site as its index in `[[sites]]`; `start` is [`START_CO_MANAGED`]
/// for a device the export gives as co-managed already). Nine bytes a device.
pub type Row = [u8; 9];

/// A `Row` field the inventory leaves to the scenario's mixes.
pub const ABSENT: u8 = u8::MAX;

/// The index of a `Row`'s start state.
pub const START: usize = 8;

/// A `Row`'s start state: the export gives the device as co-managed already (Intune's
/// co-management status `comanaged`, or management agent `configurationManagerClientMdm`).
pub const START_CO_MANAGED: u8 = 1;

/// The stream that picks the inventory row of a device when the fleet size differs from the
/// inventory's row count.
pub const INVENTORY_ROW: Purpose = Purpose::named("inventory-row");

/// The inventory row device `id` of the existing fleet takes, if the fleet has an inventory.
/// With as many devices as rows, device `i` is row `i`; with any other fleet size every device
/// draws its row, uniformly and with replacement, from its own stream ([`INVENTORY_ROW`]), so
/// the rows' attributes stay together (a bootstrap sample of the estate). New Path 2 devices
/// (ids past the fleet) take none.
pub fn inventory_row(spec: &FleetSpec, streams: &RandomStreams, id: u32) -> Option<Row> {
    let inv = spec.overrides.as_ref()?;
    if id >= spec.devices || inv.rows.is_empty() {
        return None;
    }
    let n = inv.rows.len() as u64;
    let at = if n == u64::from(spec.devices) {
        u64::from(id)
    } else {
        // Lemire's multiply-shift: uniform over the rows without a division.
        ((u128::from(streams.draw(id, INVENTORY_ROW, 0)) * u128::from(n)) >> 64) as u64
    };
    inv.rows.get(at as usize).copied()
}

/// Whether device `id` starts co-managed (its inventory row says so).
pub fn starts_co_managed(spec: &FleetSpec, streams: &RandomStreams, id: u32) -> bool {
    inventory_row(spec, streams, id).is_some_and(|r| r[START] == START_CO_MANAGED)
}

/// The devices of an inventory export, in row order (device `i` is row `i`). No device name or
/// id is kept: only these attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    /// One row per device.
    pub rows: Vec<Row>,
}

/// Draws device `id` of a fleet. The draws are taken in a fixed order from the device's own
/// stream, so the same seed and id give the same device whatever the mix (a share that changes
/// moves only the devices near its threshold).
pub fn draw_profile(spec: &FleetSpec, s: &Scenario, streams: &RandomStreams, id: u32) -> Profile {
    let mut rng = streams.stream(id, FLEET);
    let unit = |rng: &mut rand_chacha::ChaCha8Rng| to_unit(rng.next_u64());
    // An inventory row replaces the draws it gives; every draw is still taken, in order, so the
    // attributes it leaves out come out as without an inventory.
    let row = inventory_row(spec, streams, id).unwrap_or([ABSENT; 9]);
    let given = |i: usize| (row[i] != ABSENT).then_some(row[i]);
    let os = spec.os.sample(rng.next_u64());
    let os = given(0).map_or(os, |v| OsRelease::from_index(usize::from(v)));
    let join = spec.join.sample(rng.next_u64());
    let join = given(1).map_or(join, |v| JoinType::from_index(usize::from(v)));
    let client = unit(&mut rng) < spec.configmgr_client[join.index()];
    let client = given(2).map_or(client, |v| v != 0);
    let identity = spec.identity.sample(rng.next_u64());
    let location = spec.location.sample(rng.next_u64());
    let location = given(4).map_or(location, |v| Location::from_index(usize::from(v)));
    let usage = spec.usage.sample(rng.next_u64());
    let usage = given(5).map_or(usage, |v| UsagePattern::from_index(usize::from(v)));
    let licensed = unit(&mut rng) < spec.licensed;
    let licensed = given(7).map_or(licensed, |v| v != 0);
    let third_party_mdm = unit(&mut rng) < spec.third_party_mdm;
    let third_party_mdm = given(6).map_or(third_party_mdm, |v| v != 0);
    let site = spec.sites.sample(rng.next_u64());
    let site = given(3).unwrap_or(site);
    let spread = u64::from(s.usage.workday_start_spread.max(1));
    let day_start = (u64::from(s.usage.workday_start) + rng.next_u64() % spread) as u16;
    let poll_phase = (rng.next_u64() % u64::from(s.timing.policy_poll)) as u16;
    // With `[[domains]]`, the user's domain (its own draw, so the fleet's draws don't move)
    // decides the identity option.
    let identity = domain_of(s, streams, id).map_or(identity, |d| s.domains[d].identity);
    Profile {
        os,
        join,
        identity,
        location,
        usage,
        site,
        client,
        licensed,
        third_party_mdm,
        day_start,
        poll_phase,
    }
}

/// The stream a device's user domain is drawn from.
pub const DOMAIN: Purpose = Purpose::named("user-domain");

/// The index of device `id`'s user domain in `s.domains`, if the scenario has `[[domains]]`.
pub fn domain_of(s: &Scenario, streams: &RandomStreams, id: u32) -> Option<usize> {
    s.domain_mix
        .as_ref()
        .map(|m| usize::from(m.sample(streams.draw(id, DOMAIN, 0))))
}

/// Draws the ring of the ring scheme (one draw per device, shared by every ring collection so
/// that rings never overlap).
pub const RING: Purpose = Purpose::named("ring");

/// Whether an eligible device passes a collection's filters (sites, OS, usage, location).
pub fn matches(c: &Collection, p: &Profile) -> bool {
    (c.sites.is_empty() || c.sites.contains(&p.site))
        && (c.os.is_empty() || c.os.contains(&p.os))
        && (c.usage.is_empty() || c.usage.contains(&p.usage))
        && (c.location.is_empty() || c.location.contains(&p.location))
}

/// Collection membership rules made concrete once the fleet is drawn: each collection's
/// effective share (raised to reach `min_devices`) and the ring boundaries.
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    /// Per collection: the share of matching devices drawn as members.
    pub share: Vec<f64>,
    /// Per collection, for ring collections: the ring boundaries of the ring draw.
    pub ring: Vec<Option<[f64; 5]>>,
}

impl Membership {
    /// The rules for `s`'s collections, given how many eligible devices match each.
    pub fn new(s: &Scenario, matching: &[u64]) -> Self {
        let mut share = Vec::new();
        let mut ring = Vec::new();
        for (c, m) in s.collections.iter().zip(matching) {
            let m = (*m).max(1) as f64;
            share.push(c.share.max(f64::from(c.min_devices) / m).min(1.0));
            ring.push((c.rings != 0).then(|| {
                let test = (f64::from(s.ring_test_devices) / m).min(1.0);
                let rest = 1.0 - test;
                let (first, fast) = if m > 200.0 {
                    (0.01, 0.09)
                } else {
                    (0.05, 0.15)
                };
                [
                    0.0,
                    test,
                    test + rest * first,
                    test + rest * (first + fast),
                    2.0,
                ]
            }));
        }
        Self { share, ring }
    }

    /// Whether eligible device `id` with profile `p` is a member of collection `c`.
    pub fn is_member(
        &self,
        s: &Scenario,
        streams: &RandomStreams,
        c: usize,
        id: u32,
        p: &Profile,
    ) -> bool {
        let col = &s.collections[c];
        if !matches(col, p) {
            return false;
        }
        match self.ring[c] {
            Some(bounds) => {
                let u = streams.unit(id, RING, 0);
                let ring = (0..4)
                    .find(|r| u >= bounds[*r] && u < bounds[r + 1])
                    .unwrap_or(3);
                col.rings & (1 << ring) != 0
            }
            None => {
                self.share[c] >= 1.0
                    || streams.unit(id, COLLECTION, stable_hash(&col.name)) < self.share[c]
            }
        }
    }
}

/// Draws new Path 2 device `id` (an id after the existing fleet): Azure AD joined at
/// provisioning, no ConfigMgr client, on the internet, with the Path 2 OS and usage mixes.
pub fn draw_arrival(s: &Scenario, streams: &RandomStreams, id: u32) -> Profile {
    let mut p = draw_profile(&s.fleet, s, streams, id);
    let mut rng = streams.stream(id, ARRIVAL);
    p.os = s.path2.os.sample(rng.next_u64());
    p.usage = s.path2.usage.sample(rng.next_u64());
    p.join = JoinType::AzureAdJoined;
    p.client = false;
    p.third_party_mdm = false;
    p.location = Location::InternetOnly;
    p
}

/// The stream a new device's Path 2 attributes are drawn from.
pub const ARRIVAL: Purpose = Purpose::named("arrival");

/// Why the device can never be co-managed in this scenario, or `None` if it can (possibly
/// after the scenario's OS upgrade, client push or MDM migration). The first rule that applies
/// wins, in the order of [`IneligibleReason`]; `site` is its site's own reason, if any.
pub fn permanent_reason(
    p: &Profile,
    s: &Scenario,
    site: Option<IneligibleReason>,
) -> Option<IneligibleReason> {
    use IneligibleReason as R;
    use OsRelease::*;
    Some(match p.os {
        Windows7 | Windows81 if s.legacy_upgrade.is_none() => R::LegacyOs,
        WindowsServer => R::Server,
        Win10Mobile => R::Win10Mobile,
        WindowsHome => R::HomeEdition,
        os if os.build().is_some_and(|b| b < 16299) && s.os_upgrade.is_none() => R::OsBelow1709,
        _ if p.third_party_mdm && s.mdm_migration.is_none() => R::ThirdPartyMdm,
        _ if p.join == JoinType::AzureAdRegistered => R::AzureAdRegisteredOnly,
        _ if p.join == JoinType::Workgroup => R::Workgroup,
        _ if !p.client
            && p.join != JoinType::AzureAdJoined
            && (s.client_push.is_none() || p.location == Location::InternetOnly) =>
        {
            R::NoConfigMgrClient
        }
        // Path 1 (a ConfigMgr client) needs no per-user Intune license since December 2019;
        // Path 2 devices enroll in Intune (Autopilot) before they have a client, and do.
        _ if !p.licensed && p.join == JoinType::AzureAdJoined && !p.client => R::NoLicense,
        _ if p.join == JoinType::OnPremisesAd && p.location == Location::InternetOnly => {
            R::NoDomainControllerLineOfSight
        }
        _ => return site,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Profile {
        Profile {
            os: OsRelease::Win10_22H2,
            join: JoinType::OnPremisesAd,
            identity: IdentityOption::Federated,
            location: Location::CorporateNetwork,
            usage: UsagePattern::OfficeHours,
            site: 0,
            client: true,
            licensed: true,
            third_party_mdm: false,
            day_start: 420,
            poll_phase: 0,
        }
    }

    #[test]
    fn eligibility_rules_in_order() {
        let s = Scenario::from_toml(
            "name = \"t\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 1\n",
        )
        .unwrap();
        assert_eq!(permanent_reason(&base(), &s, None), None);
        let with = |f: fn(&mut Profile)| {
            let mut p = base();
            f(&mut p);
            permanent_reason(&p, &s, None)
        };
        use IneligibleReason as R;
        assert_eq!(with(|p| p.os = OsRelease::Windows7), Some(R::LegacyOs));
        assert_eq!(with(|p| p.os = OsRelease::WindowsServer), Some(R::Server));
        assert_eq!(
            with(|p| p.os = OsRelease::Win10Mobile),
            Some(R::Win10Mobile)
        );
        assert_eq!(
            with(|p| p.os = OsRelease::WindowsHome),
            Some(R::HomeEdition)
        );
        assert_eq!(with(|p| p.os = OsRelease::Win10_1703), Some(R::OsBelow1709));
        assert_eq!(with(|p| p.os = OsRelease::Win10_1709), None);
        assert_eq!(with(|p| p.third_party_mdm = true), Some(R::ThirdPartyMdm));
        assert_eq!(
            with(|p| p.join = JoinType::AzureAdRegistered),
            Some(R::AzureAdRegisteredOnly)
        );
        assert_eq!(with(|p| p.join = JoinType::Workgroup), Some(R::Workgroup));
        assert_eq!(with(|p| p.client = false), Some(R::NoConfigMgrClient));
        // Path 1 needs no per-user Intune license; Path 2 (Azure AD joined, no client) does.
        assert_eq!(with(|p| p.licensed = false), None);
        assert_eq!(
            with(|p| {
                p.licensed = false;
                p.join = JoinType::AzureAdJoined;
                p.client = false;
            }),
            Some(R::NoLicense)
        );
        assert_eq!(
            with(|p| p.location = Location::InternetOnly),
            Some(R::NoDomainControllerLineOfSight)
        );
        assert_eq!(
            with(|p| {
                p.location = Location::InternetOnly;
                p.join = JoinType::HybridJoined;
            }),
            None
        );
        // The first rule wins: an old server under a third-party MDM is reported as a server.
        assert_eq!(
            with(|p| {
                p.os = OsRelease::WindowsServer;
                p.third_party_mdm = true;
            }),
            Some(R::Server)
        );
        // Azure AD joined without a client takes Path 2: not ineligible.
        assert_eq!(
            with(|p| {
                p.join = JoinType::AzureAdJoined;
                p.client = false;
            }),
            None
        );
        // A site's own reason comes last.
        assert_eq!(
            permanent_reason(&base(), &s, Some(R::SiteVersionBelow1710)),
            Some(R::SiteVersionBelow1710)
        );
    }

    #[test]
    fn programs_turn_reasons_into_waits() {
        let s = Scenario::from_toml("name = \"t\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 1\n[os_upgrade]\ndevices_per_week = 10\n[client_push]\ndevices_per_day = 5\n[mdm_migration]\ndevices_per_week = 1\n").unwrap();
        let mut p = base();
        p.os = OsRelease::Win10_1607;
        p.client = false;
        p.third_party_mdm = true;
        assert_eq!(permanent_reason(&p, &s, None), None);
        p.location = Location::InternetOnly;
        assert_eq!(
            permanent_reason(&p, &s, None),
            Some(IneligibleReason::NoConfigMgrClient)
        );
    }

    #[test]
    fn an_inventory_row_sets_its_attributes_and_leaves_the_rest_to_the_draw() {
        let mut s = Scenario::from_toml(
            "name = \"t\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 3\n",
        )
        .unwrap();
        let streams = RandomStreams::new(s.seed);
        let before: Vec<Profile> = (0..3)
            .map(|i| draw_profile(&s.fleet, &s, &streams, i))
            .collect();
        let mut row = [ABSENT; 9];
        row[0] = OsRelease::Windows7.index() as u8;
        row[6] = 1;
        s.set_inventory(Inventory {
            rows: vec![row, [ABSENT; 9]],
        })
        .unwrap();
        assert_eq!(s.fleet.devices, 2);
        let p = draw_profile(&s.fleet, &s, &streams, 0);
        assert_eq!(p.os, OsRelease::Windows7);
        assert!(p.third_party_mdm);
        assert_eq!(
            (p.join, p.usage, p.day_start),
            (before[0].join, before[0].usage, before[0].day_start)
        );
        assert_eq!(draw_profile(&s.fleet, &s, &streams, 1), before[1]);
    }

    #[test]
    fn a_fleet_of_another_size_resamples_whole_rows_from_each_device_stream() {
        let mut s = Scenario::from_toml(
            "name = \"t\"\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 3\n",
        )
        .unwrap();
        let streams = RandomStreams::new(s.seed);
        // Three rows whose OS and usage go together.
        let mut rows = Vec::new();
        for (os, usage) in [
            (OsRelease::Windows7, UsagePattern::AlwaysOn),
            (OsRelease::Win11_24H2, UsagePattern::LaptopIntermittent),
            (OsRelease::Win10_1607, UsagePattern::OfficeHours),
        ] {
            let mut r = [ABSENT; 9];
            r[0] = os.index() as u8;
            r[5] = usage.index() as u8;
            rows.push(r);
        }
        s.set_inventory(Inventory { rows: rows.clone() }).unwrap();
        // As many devices as rows: device i is row i.
        for i in 0..3 {
            assert_eq!(inventory_row(&s.fleet, &streams, i), Some(rows[i as usize]));
        }
        assert_eq!(
            inventory_row(&s.fleet, &streams, 3),
            None,
            "arrivals take no row"
        );
        // More devices: every row is drawn about equally often, and whole.
        s.set_devices(30_000).unwrap();
        let mut seen = [0u32; 3];
        for id in 0..30_000 {
            let p = draw_profile(&s.fleet, &s, &streams, id);
            let k = rows
                .iter()
                .position(|r| usize::from(r[0]) == p.os.index())
                .expect("an OS of the inventory");
            assert_eq!(usize::from(rows[k][5]), p.usage.index(), "row kept whole");
            seen[k] += 1;
        }
        assert!(seen.iter().all(|n| (9_500..10_500).contains(n)), "{seen:?}");
        // Fewer devices: the same per-device draw, deterministic.
        s.set_devices(2).unwrap();
        let a: Vec<_> = (0..2)
            .map(|i| inventory_row(&s.fleet, &streams, i))
            .collect();
        let b: Vec<_> = (0..2)
            .map(|i| inventory_row(&s.fleet, &streams, i))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|r| r.is_some_and(|r| rows.contains(&r))));
    }
}
