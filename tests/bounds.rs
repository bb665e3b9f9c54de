//! Bounded input and messages that fit one screen (issue 13, items 2 and 3), through the real
//! binary (a debug build: overflow checks on, so an overflow would panic with exit 101).

use super::{Dir, TINY, stderr};

/// Runs `fleetsim run` on TINY plus `extra`; expects exit 2, nothing written, and returns stderr.
fn refused(extra: &str) -> String {
    refused_text(&format!("{TINY}{extra}"))
}

fn refused_text(text: &str) -> String {
    let d = Dir::new();
    let file = d.write("bad.toml", text);
    let o = d.fleetsim(&["run", file.to_str().unwrap(), "--out", "out"]);
    let e = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        e.chars().take(2000).collect::<String>()
    );
    assert_eq!(d.entries(), ["bad.toml"], "nothing written");
    e
}

#[test]
fn former_overflows_are_refused_with_field_line_and_range() {
    let cases: &[(&str, &str, &str)] = &[
        // A Path 2 rate of 2^30 a day gave 0 arrivals in a release build.
        (
            "[path2]\ndevices_per_day = 1073741824\n",
            "field `path2.devices_per_day`",
            "from 0 to 50000000 devices a day, found 1073741824",
        ),
        // A step on 9999-12-31 plus a delay ran on day 2.
        (
            "[[strategy.steps]]\nname = \"late\"\naction = \"pause\"\ndate = 9999-12-31\ndelay_days = 30\n",
            "line 12",
            "expected a date from 2000-01-01 to 2099-12-31, found 9999-12-31",
        ),
        // A 4,294,967,295-minute install finished at once.
        (
            "[cloud]\nclient_install_minutes = 4294967295\n",
            "field `cloud.client_install_minutes`",
            "from 1 to 10080 minutes, found 4294967295",
        ),
        // A gate checked every 2^30 hours made `run` spin forever.
        (
            "[[strategy.gates]]\nname = \"g\"\nmetric = \"tickets_per_day\"\ninterval_hours = 1073741824\nsuccess_at_most = 1\n",
            "field `strategy.gates[0].interval_hours`",
            "from 1 to 87600 hours, found 1073741824",
        ),
        // A delay beyond ten years.
        (
            "[[strategy.steps]]\nname = \"late\"\naction = \"pause\"\ndate = 2027-01-05\ndelay_days = 1e308\n",
            "field `strategy.steps[0].delay_days`",
            "from 0 to 3650 days, found 1e308",
        ),
    ];
    for (extra, place, what) in cases {
        let e = refused(extra);
        assert!(e.contains(place), "{place}: {e}");
        assert!(e.contains(what), "{what}: {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
}

#[test]
fn check_refuses_what_run_refuses() {
    let d = Dir::new();
    let file = d.write(
        "gate.toml",
        &format!(
            "{TINY}[[strategy.gates]]\nname = \"g\"\nmetric = \"tickets_per_day\"\ninterval_hours = 1073741824\nsuccess_at_most = 1\n"
        ),
    );
    let o = d.fleetsim(&["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("interval_hours"), "{}", stderr(&o));
}

#[test]
fn counts_are_not_told_about_minutes() {
    let e = refused("[timing]\nenrollment_tries = 0\n");
    assert!(
        e.contains("expected a whole count from 1 to 1000, found 0"),
        "{e}"
    );
    assert!(!e.contains("minutes"), "{e}");
    let e = refused("[timing]\nenrollment_tries = \"three\"\n");
    assert!(e.contains("whole number") && !e.contains("minutes"), "{e}");
}

#[test]
fn a_long_value_is_cut_to_one_screen() {
    // 2 MB in one value and in one key: the message stays a few hundred bytes.
    let big = "x".repeat(2 << 20);
    for text in [
        format!("{TINY}description = \"{big}\"\n"),
        format!("{TINY}{big} = 1\n"),
        TINY.replace("name = \"mini\"", &format!("name = \"{big}\"")),
    ] {
        let e = refused_text(&text);
        assert!(e.len() < 2_000, "{} bytes: {}", e.len(), &e[..500]);
        assert!(e.lines().count() <= 10, "{e}");
        assert!(e.contains('…'), "{e}");
    }
}

#[test]
fn a_cycle_names_its_steps_in_order() {
    let e = refused(
        "[[strategy.steps]]\nname = \"a\"\naction = \"pause\"\nafter = \"c\"\n[[strategy.steps]]\nname = \"b\"\naction = \"pause\"\nafter = \"a\"\n[[strategy.steps]]\nname = \"c\"\naction = \"pause\"\nafter = \"b\"\n",
    );
    assert!(
        e.contains("\"a\" -> \"c\" -> \"b\" -> \"a\""),
        "the cycle in order: {e}"
    );
    assert!(e.contains("field `strategy.steps[0].after`"), "{e}");
}

#[test]
fn an_error_in_a_table_after_mdm_migration_names_that_table() {
    let e = refused("[mdm_migration]\ndevices_per_day = 5\n[fleet.os]\nwin12 = 1.0\n");
    assert!(e.contains("field `fleet.os.win12`"), "{e}");
    assert!(e.contains("line 12"), "{e}");
    let e = refused("[mdm_migration]\ndevices_per_day = 5\n[timing]\npolicy_poll_minutes = 0\n");
    assert!(e.contains("field `timing.policy_poll_minutes`"), "{e}");
    assert!(e.contains("line 12"), "{e}");
}

#[test]
fn syntax_errors_name_the_table_and_key() {
    let e = refused("[timing]\npolicy_poll_minutes = 5\npolicy_poll_minutes = 6\n");
    assert!(e.contains("duplicate key"), "{e}");
    assert!(e.contains("field `timing.policy_poll_minutes`"), "{e}");
    assert!(e.contains("line 11"), "{e}");
    let e = refused("[hybrid_join]\nauto_register_date = 2027-13-45\n");
    assert!(e.contains("field `hybrid_join.auto_register_date`"), "{e}");
    assert!(e.contains("line 10"), "{e}");
}

#[test]
fn a_file_that_is_not_utf8_gives_the_byte_offset() {
    let d = Dir::new();
    let mut bytes = TINY.as_bytes().to_vec();
    let at = bytes.len();
    bytes.extend_from_slice(b"[timing]\npolicy_poll_minutes = 5\xff\n");
    let bad = at + "[timing]\npolicy_poll_minutes = 5".len();
    std::fs::write(d.path().join("bad.toml"), &bytes).unwrap();
    let o = d.fleetsim(&["check", "bad.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&format!("byte offset {bad}")), "{e}");
    assert!(e.contains("line 10"), "{e}");
    assert!(e.contains("0xFF"), "{e}");
}
