//! A bounded, seeded mutation test of the scenario schema (the short sibling of the cargo-fuzz
//! target in `fuzz/`): every named scenario, mutated (numbers to extremes, dates to the ends of
//! the calendar, lines deleted, duplicated or moved, tables swapped), goes through parse,
//! validation and a tiny run. No input may panic (tests run with overflow checks on), and every
//! accepted one must keep the timeline's invariants. Deterministic: a fixed seed per scenario.

use fleetsim_model::scenario::bounds::BOUNDS;
use fleetsim_model::{Bucket, EventCapture, RunError, RunOptions, Scenario, counter_names};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Mutated cases per named scenario.
const CASES: usize = 150;

const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "1e-308",
    "nan",
    "inf",
    "-inf",
    "-0.0",
    "0.5",
    "1.0000001",
    "\"NaN\"",
    "\"1e308\"",
    "1073741824",
    "87600",
    "87601",
    "10080",
];

const DATES: &[&str] = &[
    "0001-01-01",
    "9999-12-31",
    "1999-12-31",
    "2000-01-01",
    "2099-12-31",
    "2100-01-01",
    "2027-02-30",
    "2027-01-04T00:00:00",
];

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[(rng.next_u64() % from.len() as u64) as usize]
}

fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// One mutation of `text`.
fn mutate(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    let i = below(rng, lines.len());
    match below(rng, 6) {
        // A number to an extreme: the first assignment whose value starts like a number.
        0 | 1 => {
            let numeric: Vec<usize> = (0..lines.len())
                .filter(|k| {
                    lines[*k].split_once('=').is_some_and(|(_, v)| {
                        v.trim_start()
                            .starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
                    })
                })
                .collect();
            if let Some(&k) = numeric.get(below(rng, numeric.len())) {
                let (key, _) = lines[k].split_once('=').expect("an assignment");
                lines[k] = format!("{key}= {}", pick(rng, NUMBERS));
            }
        }
        // A date to an end of the calendar.
        2 => {
            let dated: Vec<usize> = (0..lines.len())
                .filter(|k| {
                    lines[*k].split_once('=').is_some_and(|(_, v)| {
                        let v = v.trim();
                        v.len() >= 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-'
                    })
                })
                .collect();
            if let Some(&k) = dated.get(below(rng, dated.len())) {
                let (key, _) = lines[k].split_once('=').expect("an assignment");
                lines[k] = format!("{key}= {}", pick(rng, DATES));
            }
        }
        3 => {
            lines.remove(i);
        }
        4 => {
            let line = lines[i].clone();
            let at = below(rng, lines.len() + 1);
            lines.insert(at, line);
        }
        // Swap two tables (a header and the lines up to the next header).
        _ => {
            let headers: Vec<usize> = (0..lines.len())
                .filter(|k| lines[*k].trim_start().starts_with('['))
                .collect();
            if headers.len() >= 2 {
                let mut blocks: Vec<Vec<String>> = Vec::new();
                let mut start = 0;
                for &h in headers.iter().chain(std::iter::once(&lines.len())) {
                    blocks.push(lines[start..h].to_vec());
                    start = h;
                }
                // blocks[0] is the top level; swap two tables after it.
                let a = 1 + below(rng, blocks.len() - 1);
                let b = 1 + below(rng, blocks.len() - 1);
                blocks.swap(a, b);
                lines = blocks.concat();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Parses, validates and (when accepted) runs `text` on a tiny fleet; checks the invariants.
fn exercise(text: &str) -> Result<bool, String> {
    let mut s = match Scenario::from_toml(text) {
        Ok(s) => s,
        Err(e) => {
            let shown = e.to_string();
            if shown.lines().count() > 40 || shown.len() > 4_000 {
                return Err(format!("error longer than a screen: {} bytes", shown.len()));
            }
            return Ok(false);
        }
    };
    // A tiny run: few devices, few days, few arrivals.
    s.path2.per_day = s.path2.per_day.min(3);
    for b in &mut s.path2.batches {
        b.1 = b.1.min(20);
    }
    let devices = s.fleet.devices.min(150);
    s.set_devices(devices).map_err(|e| e.to_string())?;
    let days = s.days.min(12);
    s.set_days(days).map_err(|e| e.to_string())?;
    let options = RunOptions {
        threads: 1,
        bucket: Bucket::Day,
        events: EventCapture::Off,
    };
    let r = match fleetsim_model::run(&s, &options, |_, _| {}) {
        Ok(r) => r,
        Err(RunError::EmptyCollection { .. }) => return Ok(true),
        Err(e) => return Err(format!("run failed: {e}")),
    };
    if r.states.len() != days as usize {
        return Err(format!("{} rows for {days} days", r.states.len()));
    }
    let arrived = counter_names()
        .iter()
        .position(|n| n == "path2_devices_arrived")
        .expect("the arrivals counter");
    let mut prev: Option<&[u64]> = None;
    for (row, (states, counters)) in r.states.iter().zip(&r.counters).enumerate() {
        let total: u64 = states.iter().sum();
        let expected = u64::from(devices) + counters[arrived];
        if total != expected {
            return Err(format!(
                "row {row}: states sum to {total}, fleet is {expected}"
            ));
        }
        if let Some(p) = prev {
            if let Some(k) = (0..p.len()).find(|k| counters[*k] < p[*k]) {
                return Err(format!("row {row}: cumulative counter {k} fell"));
            }
        }
        prev = Some(&counters[..]);
    }
    Ok(true)
}

/// The named scenarios' files, in name order.
fn named() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the scenarios folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the named scenarios in {dir:?}");
    files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read_to_string(f).expect("a scenario"),
            )
        })
        .collect()
}

/// Runs one case; panics with the case's text when it panics or breaks an invariant.
fn case(text: &str, what: &str) -> bool {
    match catch_unwind(AssertUnwindSafe(|| exercise(text))) {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(why)) => panic!("{why}\n{what}:\n{}", clip(text)),
        Err(_) => panic!("panicked on {what}:\n{}", clip(text)),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(3_000).collect()
}

/// Extremes every numeric line of every named scenario is set to, one at a time.
const SWEEP: &[&str] = &[
    "0",
    "-1",
    "2147483648",
    "4294967295",
    "1073741824",
    "1e308",
    "\"NaN\"",
];

#[test]
fn every_number_of_every_named_scenario_at_its_extremes() {
    let (mut accepted, mut refused) = (0, 0);
    for (file, original) in named() {
        let lines: Vec<&str> = original.lines().collect();
        for (k, line) in lines.iter().enumerate() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim_start();
            if !value.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
                continue;
            }
            for v in SWEEP {
                let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                changed[k] = format!("{key}= {v}");
                let text = changed.join("\n") + "\n";
                if case(&text, &format!("{file} line {} = {v}", k + 1)) {
                    accepted += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }
    eprintln!("{accepted} accepted and run, {refused} refused");
    assert!(
        accepted > 50 && refused > 500,
        "{accepted} accepted, {refused} refused"
    );
}

/// Every key of the range table (outside arrays and maps), at its ends and just beyond,
/// written into the `tiny` scenario: the ends must run, the values beyond must be refused.
#[test]
fn every_bounded_key_at_and_beyond_its_ends() {
    let tiny = named()
        .into_iter()
        .find(|(f, _)| f.ends_with("tiny.toml"))
        .expect("tiny.toml")
        .1;
    let (mut checked, mut ran) = (0, 0);
    for b in BOUNDS {
        if b.key.contains(['[', '*']) || !b.key.contains('.') {
            continue;
        }
        let (table, key) = b.key.rsplit_once('.').expect("a dotted key");
        checked += 1;
        let step = if b.unit.whole() {
            1.0
        } else {
            b.max.abs() * 1e-3 + 1e-3
        };
        for (v, inside) in [
            (b.min, true),
            (b.max, true),
            (b.min - step, false),
            (b.max + step, false),
        ] {
            let header = format!("[{table}]");
            let shown = if b.unit.whole() {
                format!("{}", v as i64)
            } else {
                format!("{v:?}")
            };
            let line = format!("{key} = {shown}");
            let text = match tiny.lines().position(|l| l.trim() == header) {
                Some(h) => {
                    let mut lines: Vec<String> = tiny.lines().map(str::to_string).collect();
                    // Drop the key if the file sets it, then set it right under the header.
                    let mut i = h + 1;
                    while i < lines.len() && !lines[i].trim_start().starts_with('[') {
                        if lines[i]
                            .split_once('=')
                            .is_some_and(|(k, _)| k.trim() == key)
                        {
                            lines.remove(i);
                        } else {
                            i += 1;
                        }
                    }
                    lines.insert(h + 1, line.clone());
                    lines.join("\n") + "\n"
                }
                None => format!("{tiny}\n{header}\n{line}\n"),
            };
            let what = format!("{} = {shown}", b.key);
            let accepted = case(&text, &what);
            let parsed = Scenario::from_toml(&text);
            if !inside {
                assert!(!accepted, "{what} is beyond its range but was accepted");
            } else if let Err(e) = parsed {
                // Inside its own range a value may still break a rule across fields (a
                // randomization minimum above the maximum), never its own range.
                let own_range = e.field.as_deref() == Some(b.key)
                    && e.message.contains(" from ")
                    && e.message.contains(", found ");
                assert!(!own_range, "{what} is within its range but refused: {e}");
            } else {
                ran += 1;
            }
        }
    }
    eprintln!("{checked} keys, {ran} values at an end accepted and run");
    assert!(checked >= 25 && ran >= checked, "{checked} keys, {ran} ran");
}

#[test]
fn mutated_named_scenarios_never_panic_and_keep_the_invariants() {
    let files = named();
    let mut accepted = 0;
    let mut refused = 0;
    for (n, (file, original)) in files.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5EED_0000 + n as u64);
        for n_case in 0..CASES {
            let mut text = original.clone();
            for _ in 0..1 + below(&mut rng, 3) {
                text = mutate(&text, &mut rng);
            }
            if case(&text, &format!("{file} case {n_case}")) {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
    }
    // The mutations must exercise both sides: some accepted and run, some refused.
    eprintln!("{accepted} accepted and run, {refused} refused");
    assert!(
        accepted > 100 && refused > 100,
        "{accepted} accepted, {refused} refused"
    );
}
