//! Inventory exports (issue 15 items 2, 4 and 8): Intune's and ConfigMgr's formats as they
//! come, their error paths, resampling to another fleet size, and the named scenario
//! `inventory-example` (its script, a round trip through `inventory summarize`, privacy).

use super::{Dir, csv_rows, stderr, walk};
use std::path::Path;
use std::process::Command;

/// A scenario reading `export.csv` whose mixes leave nothing to chance for the columns an
/// export may not give: hybrid joined with a client, corporate network, licensed, no MDM.
fn scenario(extra: &str) -> String {
    format!(
        "name = \"f\"\nstart_date = 2027-01-04\ndays = 2\n[fleet]\ninventory = \"export.csv\"\n\
         os = {{ win11_23h2 = 1.0 }}\njoin = {{ hybrid_joined = 1.0 }}\n\
         configmgr_client = {{ hybrid_joined = 1.0 }}\nlocation = {{ corporate_network = 1.0 }}\n\
         third_party_mdm = 0.0\nlicensed = 1.0\n{extra}\n[[sites]]\ncode = \"P01\"\nshare = 1.0\n\
         [cloud]\ncmg_vms = 1\n"
    )
}

/// Runs `export` with [`scenario`]`(extra)` and returns each device's initial state and
/// detail (from `events.csv`), checking that no cell of the export's `private` columns
/// reaches an output.
fn initial_states(export: &str, extra: &str, private: &[&str]) -> Vec<String> {
    let d = Dir::new();
    d.write("export.csv", export);
    d.write("s.toml", &scenario(extra));
    let o = d.fleetsim(&["run", "s.toml", "--out", "o", "-q", "--events"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut out = Vec::new();
    for p in walk(&d.path().join("o")) {
        out.extend(std::fs::read(&p).unwrap());
    }
    let out = String::from_utf8_lossy(&out).to_string();
    let rows = csv_rows(export);
    for col in private {
        let c = rows[0].iter().position(|h| h == col).expect(col);
        for r in &rows[1..] {
            assert!(!out.contains(&r[c]), "{col} {} appears in an output", r[c]);
        }
    }
    csv_rows(&d.read("o/events.csv"))[1..]
        .iter()
        .filter(|r| r[4].starts_with("initial"))
        .map(|r| format!("{} {}", r[3], r[4]))
        .collect()
}

#[test]
fn intune_managed_devices_map_join_agent_and_os_and_co_managed_devices_start_co_managed() {
    let export = "id,deviceName,userPrincipalName,operatingSystem,osVersion,joinType,managementAgent,enrolledDateTime,siteCode\n\
        3f1c0a52-0001,DESK-ALPHA,alice@contoso.example,Windows,10.0.19045.3803,hybridAzureADJoined,configurationManagerClientMdm,2024-01-02T03:04:05Z,P01\n\
        3f1c0a52-0002,DESK-BRAVO,bob@contoso.example,Windows,10.0.22631.2861,azureADJoined,mdm,2024-01-02T03:04:05Z,P01\n\
        3f1c0a52-0003,DESK-CHARLIE,carol@contoso.example,Windows,10.0.14393.0,hybridAzureADJoined,configurationManagerClient,,P01\n\
        3f1c0a52-0004,DESK-DELTA,dave@contoso.example,Windows,10.0.26100.1,azureADRegistered,mdm,,P01\n\
        3f1c0a52-0005,DESK-ECHO,erin@contoso.example,Windows,10.0.22631.1,unknown,configurationManagerClient,,P01\n";
    let states = initial_states(
        export,
        "[fleet.inventory_columns]\nsite = \"siteCode\"",
        &["id", "deviceName", "userPrincipalName"],
    );
    assert_eq!(
        states,
        [
            "co_managed initial",
            "intune_only initial",
            "ineligible initial: os_below_1709",
            "ineligible initial: azure_ad_registered_only",
            "eligible initial",
        ]
    );
}

#[test]
fn the_co_management_eligibility_report_gives_each_device_its_starting_point() {
    let export = "id,deviceName,deviceType,clientRegistrationStatus,ownerType,managementAgents,managementState,osVersion,osDescription,serialNumber,upn,userName,status\n\
        e-1,LAP-ONE,desktop,registered,company,configurationManagerClientMdm,managed,10.0.19045.1,Windows 10 Enterprise,SER-1,u1@contoso.example,User One,comanaged\n\
        e-2,LAP-TWO,desktop,registered,company,configurationManagerClient,managed,10.0.22631.1,Windows 11 Enterprise,SER-2,u2@contoso.example,User Two,eligibleButNotAzureAdJoined\n\
        e-3,LAP-THREE,desktop,registered,company,configurationManagerClient,managed,10.0.15063.1,Windows 10 Enterprise,SER-3,u3@contoso.example,User Three,needsOsUpdate\n\
        e-4,SRV-FOUR,desktop,registered,company,configurationManagerClient,managed,10.0.20348.1,Windows Server 2022 Datacenter,SER-4,u4@contoso.example,User Four,ineligible\n\
        e-5,HOME-FIVE,desktop,registered,company,configurationManagerClient,managed,10.0.19045.1,Windows 10 Home,SER-5,u5@contoso.example,User Five,ineligible\n\
        e-6,LAP-SIX,desktop,registered,company,configurationManagerClient,managed,10.0.26100.1,Windows 11 Enterprise,SER-6,u6@contoso.example,User Six,eligible\n";
    let states = initial_states(
        export,
        "",
        &["id", "deviceName", "serialNumber", "upn", "userName"],
    );
    assert_eq!(
        states,
        [
            "co_managed initial",
            "awaiting_hybrid_join initial",
            "ineligible initial: os_below_1709",
            "ineligible initial: server",
            "ineligible initial: home_edition",
            "eligible initial",
        ]
    );
}

#[test]
fn a_configmgr_v_r_system_export_maps_os_name_build_and_client() {
    let export = "ResourceID,Name0,Operating_System_Name_and0,Build01,Client0,Active0,Resource_Domain_OR_Workgr0,User_Name0\n\
        16777220,PC-ONE,Microsoft Windows NT Workstation 10.0,10.0.19045,1,1,CONTOSO,jdoe\n\
        16777221,PC-TWO,Microsoft Windows NT Workstation 6.1,6.1.7601,1,1,CONTOSO,asmith\n\
        16777222,SRV-THREE,Microsoft Windows NT Server 10.0,10.0.17763,1,1,CONTOSO,svcacct\n\
        16777223,PC-FOUR,Microsoft Windows NT Workstation 10.0 (Tablet Edition),10.0.22631,0,,CONTOSO,bjones\n\
        16777224,PC-FIVE,Microsoft Windows NT Workstation 10.0,10.0.22631,1,0,CONTOSO,cdoe\n";
    let states = initial_states(export, "", &["ResourceID", "Name0", "User_Name0"]);
    assert_eq!(
        states,
        [
            "eligible initial",
            "ineligible initial: legacy_os",
            "ineligible initial: server",
            "ineligible initial: no_configmgr_client",
            "ineligible initial: no_configmgr_client",
        ]
    );
}

#[test]
fn inventory_columns_rename_any_column_and_inventory_format_names_the_format() {
    let export = "Serial,Release,Where,State\nS-1,windows_7,vpn,\nS-2,win11_24h2,corporate_network,co_managed\n";
    let states = initial_states(
        export,
        "inventory_format = \"fleetsim\"\n[fleet.inventory_columns]\ndevice_id = \"Serial\"\nos = \"Release\"\nlocation = \"Where\"\nstart = \"State\"",
        &["Serial"],
    );
    assert_eq!(
        states,
        ["ineligible initial: legacy_os", "co_managed initial"]
    );
}

/// Every way an export can be refused: exit 2, the file, row and column with the accepted
/// values (or the setting at fault), and nothing written.
#[test]
fn every_inventory_error_exits_2_with_its_place_and_writes_nothing() {
    let managed = |join: &str, agent: &str, os: &str, version: &str| {
        format!(
            "id,deviceName,operatingSystem,osVersion,joinType,managementAgent\n\
             a-1,PC1,Windows,10.0.19045.1,hybridAzureADJoined,mdm\n\
             a-2,PC2,{os},{version},{join},{agent}\n"
        )
    };
    let ok = managed("azureADJoined", "mdm", "Windows", "10.0.19045.1");
    let eligibility = |status: &str| {
        format!(
            "id,deviceName,managementAgents,osVersion,osDescription,status\n\
             e-1,PC1,configurationManagerClient,10.0.19045.1,Windows 10 Enterprise,{status}\n"
        )
    };
    let configmgr = |name: &str, build: &str, client: &str, active: &str| {
        format!(
            "ResourceID,Name0,Operating_System_Name_and0,Build01,Client0,Active0\n\
             1,PC1,{name},{build},{client},{active}\n"
        )
    };
    let ws = "Microsoft Windows NT Workstation 10.0";
    let cases: Vec<(&str, String, &str, Vec<&str>)> = vec![
        (
            "join type",
            managed("domainJoined", "mdm", "Windows", "10.0.19045.1"),
            "",
            vec![
                "export.csv",
                "row 3",
                "column joinType",
                "\"domainJoined\"",
                "unknown, azureADJoined, azureADRegistered, hybridAzureADJoined",
            ],
        ),
        (
            "OS build",
            managed("azureADJoined", "mdm", "Windows", "10.0.12345.1"),
            "",
            vec![
                "row 3",
                "column osVersion",
                "10.0.19045",
                "10.0.26100",
                "6.1.x (windows_7)",
            ],
        ),
        (
            "management agent",
            managed("azureADJoined", "jamf", "Windows", "10.0.19045.1"),
            "",
            vec![
                "row 3",
                "column managementAgent",
                "configurationManagerClientMdm",
            ],
        ),
        (
            "operating system",
            managed("azureADJoined", "mdm", "iOS", "17.1"),
            "",
            vec!["row 3", "column operatingSystem", "Windows"],
        ),
        (
            "eligibility status",
            eligibility("maybe"),
            "",
            vec![
                "row 2",
                "column status",
                "comanaged, eligible, eligibleButNotAzureAdJoined, needsOsUpdate, ineligible, scheduledForEnrollment",
            ],
        ),
        (
            "ConfigMgr OS name",
            configmgr("Ubuntu 22.04", "10.0.19045", "1", "1"),
            "",
            vec![
                "row 2",
                "column Operating_System_Name_and0",
                "Microsoft Windows NT Workstation",
            ],
        ),
        (
            "ConfigMgr build",
            configmgr(ws, "10.0.1", "1", "1"),
            "",
            vec!["row 2", "column Build01", "10.0.22631"],
        ),
        (
            "Client0",
            configmgr(ws, "10.0.19045", "yes", "1"),
            "",
            vec!["row 2", "column Client0", "1, 0"],
        ),
        (
            "Active0",
            configmgr(ws, "10.0.19045", "1", "true"),
            "",
            vec!["row 2", "column Active0", "1, 0"],
        ),
        (
            "a header of no known format",
            "serial,name\n1,PC1\n".to_string(),
            "",
            vec![
                "export.csv",
                "cannot tell its format",
                "inventory_format",
                "fleetsim, comanagement_eligibility, managed_devices, configmgr",
            ],
        ),
        (
            "an unknown format name",
            ok.clone(),
            "inventory_format = \"intune\"",
            vec![
                "inventory_format",
                "\"intune\"",
                "fleetsim, comanagement_eligibility, managed_devices, configmgr",
            ],
        ),
        (
            "a format without its id column",
            "deviceName,joinType\nPC1,azureADJoined\n".to_string(),
            "",
            vec!["export.csv", "no `id` column", "managed_devices"],
        ),
        (
            "an unknown fleetsim column in the mapping",
            ok.clone(),
            "[fleet.inventory_columns]\nchassis = \"deviceName\"",
            vec!["inventory_columns", "\"chassis\"", "device_id, os, join"],
        ),
        (
            "a mapped header the file lacks",
            ok.clone(),
            "[fleet.inventory_columns]\nsite = \"siteCode\"",
            vec!["export.csv", "site = \"siteCode\"", "no such column"],
        ),
        (
            "a mapped column's value",
            "id,joinType,where\na-1,azureADJoined,moon\n".to_string(),
            "[fleet.inventory_columns]\nlocation = \"where\"",
            vec![
                "row 2",
                "column where",
                "corporate_network, vpn, internet_only",
            ],
        ),
        (
            "a start state",
            "device_id,start\nd-1,enrolled\n".to_string(),
            "",
            vec!["row 2", "column start", "co_managed, not_co_managed"],
        ),
        (
            "a missing file",
            String::new(),
            "",
            vec!["cannot read inventory", "export.csv"],
        ),
    ];
    for (what, export, extra, needles) in cases {
        let d = Dir::new();
        if what != "a missing file" {
            d.write("export.csv", &export);
        }
        d.write("s.toml", &scenario(extra));
        let o = d.fleetsim(&["run", "s.toml", "--out", "o", "-q"]);
        assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(&o));
        let e = stderr(&o);
        for n in needles {
            assert!(e.contains(n), "{what}: {n:?} not in {e}");
        }
        assert!(e.lines().count() <= 10, "{what}: one screen: {e}");
        assert!(!d.path().join("o").exists(), "{what}: nothing written");
    }
}

/// Counts of a `breakdown.csv` dimension's values at the end (its `devices` column).
fn breakdown(text: &str, dimension: &str) -> Vec<(String, u64)> {
    csv_rows(text)[1..]
        .iter()
        .filter(|r| r[0] == dimension)
        .map(|r| (r[1].clone(), r[2].parse().unwrap()))
        .collect()
}

#[test]
fn devices_above_or_below_the_inventory_resample_whole_rows() {
    // Two kinds of device whose OS and location go together: with independent draws, Windows
    // 7 and internet-only would not count the same.
    let d = Dir::new();
    d.write(
        "export.csv",
        "device_id,os,location\nd-1,windows_7,internet_only\nd-2,win11_24h2,corporate_network\n",
    );
    d.write("s.toml", &scenario(""));
    let o = d.fleetsim(&["run", "s.toml", "--out", "o", "-q", "--devices", "4000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = d.read("o/breakdown.csv");
    let os = breakdown(&text, "os");
    let loc = breakdown(&text, "location");
    let count = |v: &[(String, u64)], k: &str| v.iter().find(|x| x.0 == k).unwrap().1;
    let (w7, internet) = (count(&os, "windows_7"), count(&loc, "internet_only"));
    assert_eq!(w7, internet, "rows are kept whole");
    assert_eq!(w7 + count(&os, "win11_24h2"), 4000);
    // Binomial(4000, 1/2): 5 standard deviations are 158 devices.
    assert!((2000i64 - w7 as i64).abs() < 158, "{w7} of 4000");
    // The same run again gives the same bytes (the draws are the devices' own streams).
    let again = d.fleetsim(&["run", "s.toml", "--out", "p", "-q", "--devices", "4000"]);
    assert!(again.status.success());
    assert_eq!(d.read("p/breakdown.csv"), text);
    // Fewer devices than rows: the named example's 5,000 rows, 1,000 devices.
    let o = d.fleetsim(&[
        "run",
        "inventory-example",
        "--out",
        "few",
        "-q",
        "--devices",
        "1000",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = csv_rows(&d.read("few/summary.csv"));
    let at = |k: &str| s[1][s[0].iter().position(|h| h == k).unwrap()].clone();
    assert_eq!(at("devices"), "1000");
}

/// The repository's root.
fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_named_example_inventory_is_what_the_script_writes() {
    let d = Dir::new();
    let out = d.path().join("inv.csv");
    let st = Command::new("python3")
        .arg(root().join("scripts/make-inventory.py"))
        .args(["5000", out.to_str().unwrap()])
        .status()
        .expect("python3 is needed to run scripts/make-inventory.py");
    assert!(st.success(), "scripts/make-inventory.py failed");
    let shipped = std::fs::read_to_string(root().join("scenarios/inventory-example.csv")).unwrap();
    assert_eq!(
        d.read("inv.csv"),
        shipped,
        "scenarios/inventory-example.csv is not what `scripts/make-inventory.py 5000` writes"
    );
    assert_eq!(shipped.lines().count(), 5001);
}

#[test]
fn the_named_example_writes_no_input_name_id_or_upn() {
    let d = Dir::new();
    let o = d.fleetsim(&["run", "inventory-example", "--out", "o", "-q", "--events"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frag = d.fleetsim(&[
        "inventory",
        "summarize",
        &root()
            .join("scenarios/inventory-example.csv")
            .display()
            .to_string(),
        "--out",
        "o/fragment.toml",
    ]);
    assert!(frag.status.success(), "{}", stderr(&frag));
    let mut out = Vec::new();
    for p in walk(&d.path().join("o")) {
        out.extend(std::fs::read(&p).unwrap());
    }
    out.extend(o.stdout);
    out.extend(o.stderr);
    let out = String::from_utf8_lossy(&out).to_string();
    let rows =
        csv_rows(&std::fs::read_to_string(root().join("scenarios/inventory-example.csv")).unwrap());
    let cols: Vec<usize> = ["device_id", "device_name", "primary_user_upn"]
        .iter()
        .map(|c| rows[0].iter().position(|h| h == c).expect(c))
        .collect();
    // Every id, name and UPN of the input has one of these parts (checked), so their absence
    // from the output covers all 15,000 values at once.
    let parts = ["SYNTH-", ".example.invalid", "@contoso"];
    for r in &rows[1..] {
        for c in &cols {
            assert!(parts.iter().any(|p| r[*c].contains(p)), "{}", r[*c]);
        }
    }
    for p in parts {
        assert!(!out.contains(p), "{p} appears in an output");
    }
    // Nor a UPN's user name or domain.
    assert!(!out.contains("contoso") && !out.contains("user00"));
}

/// The named scenario with its `inventory` line replaced by a fragment's `[fleet]` keys, and
/// the fragment's `[fleet.<mix>]` tables (those whose header passes `keep`) appended.
fn synthetic_from(fragment: &str, keep: impl Fn(&str) -> bool) -> String {
    let fleet = fragment
        .split("\n[fleet]\n")
        .nth(1)
        .unwrap()
        .split("\n[[sites]]")
        .next()
        .unwrap();
    let (keys, tables) = fleet.split_once("\n[fleet.").unwrap_or((fleet, ""));
    let mut appended = String::new();
    for t in format!("\n[fleet.{tables}").split("\n\n[").skip(1) {
        if keep(t.lines().next().unwrap()) {
            appended.push_str(&format!("\n[{t}\n"));
        }
    }
    let named = std::fs::read_to_string(root().join("scenarios/inventory-example.toml")).unwrap();
    assert!(named.contains("inventory = \"inventory-example.csv\"\n"));
    named.replace(
        "inventory = \"inventory-example.csv\"\n",
        &format!("{keys}\n"),
    ) + &appended
}

/// Round trip: summarize the named example's inventory, run a synthetic copy of it from the
/// fragment, and compare the final counts by reason with the inventory's own run, and three
/// counts that depend on two attributes at once (correlations the fragment keeps): the
/// devices that can never be co-managed on site P02 (where the old releases are), among the
/// internet-only devices (workgroup and Azure AD joined ones) and among the laptops (through
/// their location). A copy without the conditional tables (fleet-wide mixes only, what the
/// fragment was before) must miss those by more.
///
/// Tolerance: each count may differ by 4 standard deviations of the difference of two
/// binomial counts over 5,000 devices, plus 15 devices: the inventory's empty cells are drawn
/// from the scenario's default mixes (which the fragment, built from the rows that give a
/// value, does not have), and its co-managed devices (7%) have no reason.
#[test]
fn a_synthetic_copy_from_the_summary_agrees_with_the_inventory_on_reasons() {
    let d = Dir::new();
    let csv = root().join("scenarios/inventory-example.csv");
    let o = d.fleetsim(&[
        "inventory",
        "summarize",
        &csv.display().to_string(),
        "--scenario",
        "inventory-example",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let fragment = String::from_utf8(o.stdout).unwrap();
    for kept in [
        "# location by usage: ",
        "# os by site: ",
        "# join by location: ",
        "[fleet.location.by_usage.laptop_intermittent]",
        "[fleet.os.by_site.P02]",
        "[fleet.join.by_location.internet_only]",
    ] {
        assert!(fragment.contains(kept), "{kept}\n{fragment}");
    }
    d.write("synthetic.toml", &synthetic_from(&fragment, |_| true));
    d.write(
        "fleet_wide.toml",
        &synthetic_from(&fragment, |h| !h.contains(".by_")),
    );
    assert!(!d.read("fleet_wide.toml").contains(".by_"));
    for (scenario, out) in [
        ("inventory-example", "inv"),
        ("synthetic.toml", "syn"),
        ("fleet_wide.toml", "old"),
    ] {
        let o = d.fleetsim(&["run", scenario, "--out", out, "-q"]);
        assert!(o.status.success(), "{scenario}: {}", stderr(&o));
    }
    let n = 5000.0;
    let tol = |x: f64, y: f64| {
        let p = (x + y) / (2.0 * n);
        4.0 * (2.0 * n * p * (1.0 - p)).sqrt() + 15.0
    };
    let a = csv_rows(&d.read("inv/summary.csv"));
    let b = csv_rows(&d.read("syn/summary.csv"));
    let mut compared = 0;
    for (k, h) in a[0].iter().enumerate() {
        if !h.starts_with("reason_") {
            continue;
        }
        let (x, y): (f64, f64) = (a[1][k].parse().unwrap(), b[1][k].parse().unwrap());
        assert!(
            (x - y).abs() <= tol(x, y),
            "{h}: inventory {x}, synthetic {y}, tolerance {:.1}\n{fragment}",
            tol(x, y)
        );
        compared += 1;
    }
    assert!(compared >= 10, "reason columns compared: {compared}");
    assert_eq!(
        b[1][a[0].iter().position(|h| h == "devices").unwrap()],
        "5000"
    );
    // The correlated counts: ineligible devices of one attribute value (breakdown.csv).
    let ineligible = |out: &str, dim: &str, value: &str| -> f64 {
        let rows = csv_rows(&d.read(&format!("{out}/breakdown.csv")));
        let c = rows[0]
            .iter()
            .position(|h| h == "state_ineligible")
            .unwrap();
        rows.iter()
            .find(|r| r[0] == dim && r[1] == value)
            .unwrap_or_else(|| panic!("no row {dim},{value}"))[c]
            .parse()
            .unwrap()
    };
    let (mut err_new, mut err_old, mut old_outside) = (0.0, 0.0, 0);
    for (dim, value) in [
        ("site", "P02"),
        ("location", "internet_only"),
        ("usage", "laptop_intermittent"),
    ] {
        let x = ineligible("inv", dim, value);
        let y = ineligible("syn", dim, value);
        let z = ineligible("old", dim, value);
        assert!(
            (x - y).abs() <= tol(x, y),
            "ineligible {dim} {value}: inventory {x}, synthetic {y}, tolerance {:.1} (fleet-wide only: {z})\n{fragment}",
            tol(x, y)
        );
        err_new += (x - y).abs();
        err_old += (x - z).abs();
        if (x - z).abs() > tol(x, z) {
            old_outside += 1;
        }
    }
    assert!(
        err_old > 2.0 * err_new && old_outside >= 1,
        "without the conditional tables the counts should miss by more: error {err_old} against {err_new}, {old_outside} outside the tolerance"
    );
}

#[test]
fn inventory_bench_times_the_read_and_gives_the_memory_per_device() {
    let d = Dir::new();
    let csv = root().join("scenarios/inventory-example.csv");
    let o = d.fleetsim(&[
        "inventory",
        "bench",
        &csv.display().to_string(),
        "--scenario",
        "inventory-example",
        "--repeat",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.contains("run 2: ") && out.contains("5000 devices") && out.contains("best "),
        "{out}"
    );
    if cfg!(target_os = "linux") {
        assert!(out.contains(" bytes/device"), "{out}");
    }
    assert!(d.entries().is_empty(), "nothing written: {:?}", d.entries());
    let o = d.fleetsim(&["inventory", "bench", "missing.csv"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
