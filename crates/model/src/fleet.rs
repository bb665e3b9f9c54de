//! Drawing one device from the scenario's fleet mix, and deciding whether it can take Path 1.

use crate::domain::{
    IdentityOption, IneligibleReason, JoinType, Location, OsRelease, UsagePattern,
};
use crate::scenario::{ByMix, Collection, FleetAttr, FleetSpec, Mix, Scenario};
use fleetsim_engine::{Purpose, RandomStreams, stable_hash, to_unit};

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
///
/// The attributes are then settled in the draw order of [`FleetAttr`] (domain, site, usage,
/// location, OS, join type, then the client, identity, license and third-party MDM), each from
/// its own draw: a conditional mix (`[fleet.location.by_usage.laptop_intermittent]`) only
/// chooses which mix that draw is read against, from the values settled before it. Without
/// conditional mixes every device is the same as drawing each attribute on its own.
pub fn draw_profile(spec: &FleetSpec, s: &Scenario, streams: &RandomStreams, id: u32) -> Profile {
    let mut rng = streams.sequence(id, FLEET);
    // The stream's draws, in the fixed order they have always been taken.
    let d_os = rng.next_u64();
    let d_join = rng.next_u64();
    let d_client = to_unit(rng.next_u64());
    let d_identity = rng.next_u64();
    let d_location = rng.next_u64();
    let d_usage = rng.next_u64();
    let d_licensed = to_unit(rng.next_u64());
    let d_mdm = to_unit(rng.next_u64());
    let d_site = rng.next_u64();
    let spread = u64::from(s.usage.workday_start_spread.max(1));
    let day_start = (u64::from(s.usage.workday_start) + rng.next_u64() % spread) as u16;
    let poll_phase = (rng.next_u64() % u64::from(s.timing.policy_poll)) as u16;
    // An inventory row replaces the values it gives (and the values settled after it depend
    // on the row's); the attributes it leaves out come out as without an inventory.
    let row = inventory_row(spec, streams, id).unwrap_or([ABSENT; 9]);
    let given = |i: usize| (row[i] != ABSENT).then_some(row[i]);
    // The values settled so far, by `FleetAttr`, for the conditional mixes.
    let mut known = [ABSENT; 7];
    // With `[[domains]]`, the user's domain (its own stream, so the fleet's draws don't move)
    // decides the identity option.
    let domain = domain_of(s, streams, id);
    if let Some(d) = domain {
        known[FleetAttr::Domain as usize] = d as u8;
    }
    let by = &spec.by;
    let site = given(3).unwrap_or_else(|| spec.sites.sample(d_site));
    known[FleetAttr::Site as usize] = site;
    let usage = given(5).map_or_else(
        || pick(&spec.usage, &by.usage, &known).sample(d_usage),
        |v| UsagePattern::from_index(usize::from(v)),
    );
    known[FleetAttr::Usage as usize] = usage.index() as u8;
    let location = given(4).map_or_else(
        || pick(&spec.location, &by.location, &known).sample(d_location),
        |v| Location::from_index(usize::from(v)),
    );
    known[FleetAttr::Location as usize] = location.index() as u8;
    let os = given(0).map_or_else(
        || pick(&spec.os, &by.os, &known).sample(d_os),
        |v| OsRelease::from_index(usize::from(v)),
    );
    known[FleetAttr::Os as usize] = os.index() as u8;
    let join = given(1).map_or_else(
        || pick(&spec.join, &by.join, &known).sample(d_join),
        |v| JoinType::from_index(usize::from(v)),
    );
    known[FleetAttr::Join as usize] = join.index() as u8;
    let client = given(2).map_or(d_client < spec.configmgr_client[join.index()], |v| v != 0);
    let identity = match domain {
        Some(d) => s.domains[d].identity,
        None => pick(&spec.identity, &by.identity, &known).sample(d_identity),
    };
    let licensed = given(7).map_or(d_licensed < spec.licensed, |v| v != 0);
    let third_party_mdm = given(6).map_or(d_mdm < spec.third_party_mdm, |v| v != 0);
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

/// The mix a device draws from: its value's own under `by`, else the fleet-wide one.
#[inline]
fn pick<'a, K: Copy + Ord>(
    all: &'a Mix<K>,
    by: &'a Option<ByMix<K>>,
    known: &[u8; 7],
) -> &'a Mix<K> {
    by.as_ref().and_then(|b| b.get(known)).unwrap_or(all)
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
    let mut rng = streams.sequence(id, ARRIVAL);
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
    use rand::Rng;

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

    /// The fleet of `extra` (after a 20,000-device header), drawn.
    fn fleet_of(extra: &str) -> (Scenario, Vec<Profile>) {
        let s = Scenario::from_toml(&format!(
            "name = \"t\"\nseed = 7\nstart_date = 2027-01-04\ndays = 1\n[fleet]\ndevices = 20000\n{extra}"
        ))
        .unwrap();
        let streams = RandomStreams::new(s.seed);
        let fleet = (0..s.fleet.devices)
            .map(|i| draw_profile(&s.fleet, &s, &streams, i))
            .collect();
        (s, fleet)
    }

    /// Asserts that `hits` of `n` is `p` within four standard errors (or exactly, at 0 or 1).
    fn near(what: &str, hits: usize, n: usize, p: f64) {
        assert!(n > 0, "{what}: no devices");
        let share = hits as f64 / n as f64;
        let sigma = (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (share - p).abs() <= 4.0 * sigma + 1e-12,
            "{what}: {hits} of {n} = {share:.4}, expected {p} (4 sigma = {:.4})",
            4.0 * sigma
        );
    }

    fn count(
        f: &[Profile],
        pick: impl Fn(&Profile) -> bool,
        hit: impl Fn(&Profile) -> bool,
    ) -> (usize, usize) {
        let sel: Vec<&Profile> = f.iter().filter(|p| pick(p)).collect();
        (sel.iter().filter(|p| hit(p)).count(), sel.len())
    }

    const LAPTOPS_OFF_NETWORK: &str = "[fleet.usage]\noffice_hours = 0.7\nalways_on = 0.15\nlaptop_intermittent = 0.15\n[fleet.location]\ncorporate_network = 0.7\nvpn = 0.3\n[fleet.location.by_usage.laptop_intermittent]\ninternet_only = 0.8\nvpn = 0.2\n";

    #[test]
    fn laptops_mostly_off_network() {
        let (_, f) = fleet_of(LAPTOPS_OFF_NETWORK);
        let laptop = |p: &Profile| p.usage == UsagePattern::LaptopIntermittent;
        let (h, n) = count(&f, |_| true, laptop);
        near("laptops", h, n, 0.15);
        let (h, n) = count(&f, laptop, |p| p.location == Location::InternetOnly);
        near("laptops on the internet only", h, n, 0.8);
        let (h, n) = count(&f, laptop, |p| p.location == Location::Vpn);
        near("laptops on VPN", h, n, 0.2);
        let (h, n) = count(&f, |p| !laptop(p), |p| p.location == Location::InternetOnly);
        near("other devices on the internet only", h, n, 0.0);
        let (h, n) = count(&f, |p| !laptop(p), |p| p.location == Location::Vpn);
        near("other devices on VPN", h, n, 0.3);
    }

    #[test]
    fn federated_identity_on_one_domain() {
        let (s, f) = fleet_of(
            "[[domains]]\nname = \"corp.example.com\"\nshare = 0.75\nidentity = \"password_hash_sync\"\n[[domains]]\nname = \"emea.example.com\"\nshare = 0.25\nidentity = \"federated\"\n[fleet.join.by_domain.\"emea.example.com\"]\nhybrid_joined = 1.0\n",
        );
        let streams = RandomStreams::new(s.seed);
        let (h, n) = count(&f, |_| true, |p| p.identity == IdentityOption::Federated);
        near("federated devices", h, n, 0.25);
        for (i, p) in f.iter().enumerate() {
            let d = domain_of(&s, &streams, i as u32).unwrap();
            assert_eq!(p.identity, s.domains[d].identity, "device {i}");
            if d == 1 {
                assert_eq!(p.join, JoinType::HybridJoined, "device {i}");
            }
        }
        let (h, n) = count(
            &f,
            |p| p.identity == IdentityOption::PasswordHashSync,
            |p| p.join == JoinType::OnPremisesAd,
        );
        near("the other domain keeps the fleet-wide join mix", h, n, 0.70);
    }

    #[test]
    fn an_old_os_mix_on_one_site() {
        let (s, f) = fleet_of(
            "[[sites]]\ncode = \"P01\"\nshare = 0.8\n[[sites]]\ncode = \"P02\"\nshare = 0.2\n[fleet.os.by_site.P02]\nwindows_7 = 0.5\nwin10_1607 = 0.3\nwin10_22h2 = 0.2\n",
        );
        assert_eq!(s.sites[1].code, "P02");
        let (h, n) = count(&f, |_| true, |p| p.site == 1);
        near("devices at P02", h, n, 0.2);
        let (h, n) = count(&f, |p| p.site == 1, |p| p.os == OsRelease::Windows7);
        near("Windows 7 at P02", h, n, 0.5);
        let (h, n) = count(&f, |p| p.site == 1, |p| p.os == OsRelease::Win10_1607);
        near("1607 at P02", h, n, 0.3);
        let (h, n) = count(&f, |p| p.site == 0, |p| p.os == OsRelease::Windows7);
        near("Windows 7 at P01 (the default mix)", h, n, 0.01);
        let (h, n) = count(&f, |p| p.site == 0, |p| p.os == OsRelease::Win11_23H2);
        near("23H2 at P01 (the default mix)", h, n, 0.25);
    }

    /// Without conditional mixes, each attribute is its own draw from the device's stream in
    /// the historic order (a reference copy of the draw before conditional mixes), so every
    /// existing scenario draws the same fleet.
    #[test]
    fn without_conditional_mixes_every_device_is_drawn_as_before() {
        for extra in [
            "",
            "[[sites]]\ncode = \"P01\"\nshare = 0.5\n[[sites]]\ncode = \"P02\"\nshare = 0.5\n[[domains]]\nname = \"a\"\nshare = 0.5\nidentity = \"federated\"\n[[domains]]\nname = \"b\"\nshare = 0.5\nidentity = \"pass_through\"\n",
        ] {
            let (s, f) = fleet_of(extra);
            let streams = RandomStreams::new(s.seed);
            for (id, p) in f.iter().enumerate().take(5000) {
                let id = id as u32;
                let spec = &s.fleet;
                let mut rng = streams.stream(id, FLEET);
                let os = spec.os.sample(rng.next_u64());
                let join = spec.join.sample(rng.next_u64());
                let client = to_unit(rng.next_u64()) < spec.configmgr_client[join.index()];
                let identity = spec.identity.sample(rng.next_u64());
                let location = spec.location.sample(rng.next_u64());
                let usage = spec.usage.sample(rng.next_u64());
                let licensed = to_unit(rng.next_u64()) < spec.licensed;
                let third_party_mdm = to_unit(rng.next_u64()) < spec.third_party_mdm;
                let site = spec.sites.sample(rng.next_u64());
                let spread = u64::from(s.usage.workday_start_spread.max(1));
                let day_start = (u64::from(s.usage.workday_start) + rng.next_u64() % spread) as u16;
                let poll_phase = (rng.next_u64() % u64::from(s.timing.policy_poll)) as u16;
                let identity =
                    domain_of(&s, &streams, id).map_or(identity, |d| s.domains[d].identity);
                let before = Profile {
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
                };
                assert_eq!(*p, before, "device {id}");
            }
        }
    }

    /// A conditional mix only changes which mix the same draw is read against: every other
    /// attribute of every device stays, and devices whose value has no mix of its own stay.
    #[test]
    fn a_conditional_mix_moves_only_its_own_attribute() {
        let (_, plain) = fleet_of("[fleet.location]\ncorporate_network = 0.7\nvpn = 0.3\n");
        let (_, cond) = fleet_of(
            "[fleet.location]\ncorporate_network = 0.7\nvpn = 0.3\n[fleet.location.by_usage.laptop_intermittent]\ninternet_only = 0.8\nvpn = 0.2\n",
        );
        let mut moved = 0;
        for (a, b) in plain.iter().zip(&cond) {
            assert_eq!(
                Profile {
                    location: b.location,
                    ..*a
                },
                *b
            );
            if a.usage != UsagePattern::LaptopIntermittent {
                assert_eq!(a, b);
            }
            moved += usize::from(a.location != b.location);
        }
        assert!(moved > 1000, "{moved}");
    }

    /// An inventory row's values condition the attributes it leaves to the mixes.
    #[test]
    fn an_inventory_row_conditions_the_draws_it_leaves_out() {
        let (mut s, _) = fleet_of(LAPTOPS_OFF_NETWORK);
        let mut row = [ABSENT; 9];
        row[5] = UsagePattern::LaptopIntermittent.index() as u8;
        s.set_inventory(Inventory {
            rows: vec![row; 20_000],
        })
        .unwrap();
        let streams = RandomStreams::new(s.seed);
        let f: Vec<Profile> = (0..20_000)
            .map(|i| draw_profile(&s.fleet, &s, &streams, i))
            .collect();
        let (h, n) = count(&f, |_| true, |p| p.location == Location::InternetOnly);
        near("inventory laptops on the internet only", h, n, 0.8);
    }

    /// The commented example of mixed-enterprise-1m.toml, uncommented, is a valid scenario.
    #[test]
    fn the_commented_example_of_the_default_scenario_is_valid() {
        let text = include_str!("../../../scenarios/mixed-enterprise-1m.toml");
        let from = text
            .find("# [fleet.location.by_usage")
            .expect("the example");
        let last = "# upn_routable = false\n";
        let to = text.find(last).expect("the domains") + last.len();
        let block: String = text[from..to]
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(l)))
            .collect();
        let s = Scenario::from_toml(&format!("{}{block}{}", &text[..from], &text[to..])).unwrap();
        assert_eq!(s.domains.len(), 2);
        let list = s.fleet.by.list();
        assert_eq!(
            list,
            vec![
                ("location", FleetAttr::Usage, 1),
                ("os", FleetAttr::Site, 1),
                ("join", FleetAttr::Domain, 1)
            ]
        );
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
