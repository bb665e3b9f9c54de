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

/// A folder with the ranged scenario `cal.toml` and three days of observations `obs.csv`,
/// calibrated into `fit` with the given options (the run must succeed).
fn calibrated(options: &[&str]) -> Dir {
    let d = Dir::new();
    d.write("cal.toml", SCENARIO);
    d.write(
        "obs.csv",
        "date,co_managed,enrollment_failures\n2027-01-04,120,8\n2027-01-05,380,20\n2027-01-06,,25\n",
    );
    let mut args = vec![
        "calibrate",
        "cal.toml",
        "--observed",
        "obs.csv",
        "-o",
        "fit",
    ];
    args.extend_from_slice(options);
    let out = d.fleetsim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

#[test]
fn calibrate_writes_the_three_files_and_refuses_bad_observations() {
    let d = calibrated(&["--samples", "10"]);
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

/// Rows of a CSV file (no quoting in the files read here).
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn forecast_of_a_calibrated_scenario_draws_the_posterior_rows() {
    let d = calibrated(&["--samples", "20", "--accept", "0.2", "-q"]);
    let posterior = rows(&d.read("fit/posterior.csv"));
    assert_eq!(
        posterior[0],
        [
            "kept",
            "point",
            "replication",
            "distance",
            "enrollment.failure_rate",
            "remediation.default.mean_days"
        ]
    );
    let kept = posterior.len() - 1;
    assert!(kept >= 4, "{posterior:?}");
    let toml = d.read("fit/calibrated.toml");
    assert!(toml.contains("posterior = \"posterior.csv\""), "{toml}");
    // Twice as many samples as rows: each row twice, in order; the same bytes on 1 and 2
    // threads.
    let samples = (2 * kept).to_string();
    let forecast = |threads: &str, out: &str| {
        let o = d.fleetsim(&[
            "forecast",
            "fit/calibrated.toml",
            "--samples",
            &samples,
            "--threads",
            threads,
            "-o",
            out,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    let one = forecast("1", "f1");
    assert!(
        String::from_utf8_lossy(&one.stderr).contains("forecast over the posterior posterior.csv"),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    forecast("2", "f2");
    for f in [
        "forecast.csv",
        "milestones.csv",
        "sensitivity.csv",
        "samples.csv",
    ] {
        assert_eq!(
            d.read(&format!("f1/{f}")),
            d.read(&format!("f2/{f}")),
            "{f}"
        );
    }
    let drawn = rows(&d.read("f1/samples.csv"));
    assert_eq!(
        drawn[0],
        [
            "sample",
            "enrollment.failure_rate",
            "remediation.default.mean_days",
            "posterior_row"
        ]
    );
    assert_eq!(drawn.len(), 1 + 2 * kept);
    for (i, s) in drawn[1..].iter().enumerate() {
        let row: usize = s[3].parse().unwrap();
        assert_eq!(row, i % kept + 1, "{s:?}");
        assert_eq!(
            s[1..3],
            posterior[row][4..6],
            "sample {} is posterior row {row}",
            i + 1
        );
    }
    // The ranked values are the ranged keys only, never the row number.
    assert!(!d.read("f1/sensitivity.csv").contains("posterior_row"));
    let o = d.fleetsim(&["report", "f1", "-o", "r.html", "-q"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = d.read("r.html");
    assert!(
        html.contains("(rows of the calibration's posterior) of 2 ranged values"),
        "the report counts the ranged values, not the row column"
    );

    // Bad posterior files: exit 2, the file and the reason, nothing written.
    let good = d.read("fit/posterior.csv");
    let first_value = posterior[1][4].clone();
    for (text, want) in [
        (
            good.replace("enrollment.failure_rate", "enrollment.rate"),
            "\"enrollment.rate\" is not a ranged value",
        ),
        (
            good.replace(",remediation.default.mean_days", ""),
            "no column \"remediation.default.mean_days\"",
        ),
        (
            good.replacen(&format!(",{first_value},"), ",0.9,", 1),
            "line 2, column enrollment.failure_rate: 0.9 is outside",
        ),
        (
            good.replacen(&format!(",{first_value},"), ",x,", 1),
            "line 2, column enrollment.failure_rate: \"x\" is not a number",
        ),
        (good.lines().next().unwrap().to_string() + "\n", "no rows"),
    ] {
        d.write("fit/posterior.csv", &text);
        let o = d.fleetsim(&[
            "forecast",
            "fit/calibrated.toml",
            "--samples",
            "4",
            "-o",
            "bad",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{want}: {err}");
        assert!(
            err.contains("posterior.csv") && err.contains(want),
            "{want}: {err}"
        );
        assert!(!d.path().join("bad").exists(), "{want}: nothing written");
    }
    std::fs::remove_file(d.path().join("fit/posterior.csv")).unwrap();
    let o = d.fleetsim(&[
        "forecast",
        "fit/calibrated.toml",
        "--samples",
        "4",
        "-o",
        "bad",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read it"));
    assert!(!d.path().join("bad").exists());
}
