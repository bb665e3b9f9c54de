//! `fleetsim observed` and `fleetsim calibrate` through the binary: files written, bad
//! observations refused (exit 2, nothing written), no device name in any output.

use super::Dir;

const SCENARIO: &str = "name = \"cal\"\nseed = 1\nstart_date = 2027-01-04\ndays = 30\n\
    [fleet]\ndevices = 500\nos = { win11_23h2 = 1.0 }\njoin = { hybrid_joined = 1.0 }\n\
    configmgr_client = { hybrid_joined = 1.0 }\nlicensed = 1.0\nthird_party_mdm = 0.0\n\
    [co_management]\nenable_date = 2027-01-04\nauto_enrollment = \"all\"\n\
    [enrollment]\nfailure_rate = { low = 0.02, high = 0.3 }\n\
    [remediation]\ndefault = { mean_days = { low = 2, high = 20 } }\n";

#[test]
fn observed_turns_a_device_list_into_daily_counts_without_names() {
    let d = Dir::new();
    d.write(
        "devices.csv",
        "deviceName,userPrincipalName,operatingSystem,enrolledDateTime,managementAgent\n\
         SECRET-PC-1,alice@contoso.com,Windows,2027-01-04T09:00:00Z,configurationManagerClientMdm\n\
         SECRET-PC-2,bob@contoso.com,Windows,2027-01-05T09:00:00Z,configurationManagerClientMdm\n\
         SECRET-PC-3,carol@contoso.com,Windows,2027-01-05T11:00:00Z,mdm\n",
    );
    let out = d.fleetsim(&[
        "observed",
        "devices.csv",
        "--end",
        "2027-01-06",
        "-o",
        "obs.csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = d.read("obs.csv");
    assert_eq!(
        text,
        "date,co_managed,enrolled\n2027-01-04,1,1\n2027-01-05,2,3\n2027-01-06,2,3\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("SECRET") && !stderr.contains("SECRET") && !stderr.contains("contoso"));
    // A second write needs --force, and --force replaces only an observation file.
    let again = d.fleetsim(&["observed", "devices.csv", "-o", "obs.csv"]);
    assert_eq!(again.status.code(), Some(2));
    let forced = d.fleetsim(&["observed", "devices.csv", "-o", "obs.csv", "--force", "-q"]);
    assert!(forced.status.success());
}

#[test]
fn calibrate_writes_the_three_files_and_refuses_bad_observations() {
    let d = Dir::new();
    d.write("cal.toml", SCENARIO);
    d.write(
        "obs.csv",
        "date,co_managed,enrollment_failures\n2027-01-04,120,8\n2027-01-05,380,20\n2027-01-06,,25\n",
    );
    let out = d.fleetsim(&[
        "calibrate",
        "cal.toml",
        "--observed",
        "obs.csv",
        "--samples",
        "10",
        "-o",
        "fit",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cal = d.read("fit/calibration.csv");
    assert!(
        cal.starts_with(
            "key,prior,prior_low,prior_high,estimate,low,high,width_share,samples,accepted\n"
        ),
        "{cal}"
    );
    assert!(
        cal.contains("enrollment.failure_rate,uniform,0.0200,0.3000,"),
        "{cal}"
    );
    let fit = d.read("fit/fit.csv");
    assert!(fit.contains("2027-01-06,3,co_managed,,"), "{fit}");
    assert_eq!(fit.lines().count(), 1 + 3 * 2);
    // The calibrated scenario runs as any scenario does.
    let run = d.fleetsim(&["run", "fit/calibrated.toml", "-o", "run", "-q"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    for (obs, want) in [
        (
            "date,co_managed\n2027-01-03,1\n",
            "row 2: date 2027-01-03 is outside the run",
        ),
        ("date,co_managed\n2027-02-03,1\n", "outside the run"),
        (
            "date,co_managed\n2027-01-04,501\n",
            "row 2: co_managed 501 is above the fleet",
        ),
        (
            "date,co_managed\n2027-01-04,9\n2027-01-05,8\n",
            "row 3: co_managed 8",
        ),
        (
            "date,co_managed\n2027-01-04,many\n",
            "row 2: column co_managed",
        ),
        ("date,co_managed\n04/01/2027x,1\n", "row 2: expected a date"),
    ] {
        d.write("bad.csv", obs);
        let out = d.fleetsim(&[
            "calibrate",
            "cal.toml",
            "--observed",
            "bad.csv",
            "-o",
            "bad",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{obs}: {err}");
        assert!(
            err.contains("bad.csv") && err.contains(want),
            "{obs}: {err}"
        );
        assert!(!d.path().join("bad").exists(), "{obs}: nothing written");
    }
    // A scenario without ranges has nothing to fit.
    d.write(
        "plain.toml",
        &SCENARIO
            .replace("{ low = 0.02, high = 0.3 }", "0.1")
            .replace(
                "{ mean_days = { low = 2, high = 20 } }",
                "{ mean_days = 5 }",
            ),
    );
    let out = d.fleetsim(&[
        "calibrate",
        "plain.toml",
        "--observed",
        "obs.csv",
        "-o",
        "p",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ranged values"));
}
