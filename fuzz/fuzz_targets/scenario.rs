//! Any bytes as a scenario file: parse, validate and, when accepted, a tiny run. Finds a panic
//! (overflow checks are on), an error longer than one screen, or a broken timeline invariant.
//! The bounded, seeded sibling that runs in `cargo test` is `tests/mutate.rs`.

#![no_main]

use fleetsim_model::{Bucket, EventCapture, RunError, RunOptions, Scenario, counter_names};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = match Scenario::from_bytes(data) {
        Ok(s) => s,
        Err(e) => {
            let shown = e.to_string();
            assert!(
                shown.len() <= 4_000 && shown.lines().count() <= 40,
                "an error longer than one screen"
            );
            return;
        }
    };
    // A tiny run: few devices, days and arrivals.
    s.path2.per_day = s.path2.per_day.min(3);
    for b in &mut s.path2.batches {
        b.1 = b.1.min(20);
    }
    let devices = s.fleet.devices.min(150);
    s.set_devices(devices).expect("a smaller fleet stays valid");
    let days = s.days.min(12);
    s.set_days(days).expect("fewer days stay valid");
    let options = RunOptions {
        threads: 1,
        bucket: Bucket::Day,
        events: EventCapture::Off,
    };
    let r = match fleetsim_model::run(&s, &options, |_, _| {}) {
        Ok(r) => r,
        Err(RunError::EmptyCollection { .. }) => return,
        Err(e) => panic!("run failed: {e}"),
    };
    assert_eq!(r.states.len(), days as usize);
    let arrived = counter_names()
        .iter()
        .position(|n| n == "path2_devices_arrived")
        .expect("the arrivals counter");
    let mut prev: Option<&[u64]> = None;
    for (states, counters) in r.states.iter().zip(&r.counters) {
        let total: u64 = states.iter().sum();
        assert_eq!(
            total,
            u64::from(devices) + counters[arrived],
            "states sum to the fleet"
        );
        if let Some(p) = prev {
            assert!(
                counters.iter().zip(p).all(|(a, b)| a >= b),
                "cumulative counters never fall"
            );
        }
        prev = Some(&counters[..]);
    }
});
