//! `cargo bench -p fleetsim --bench day`: one simulated day of the full model (the default
//! scenario, mixed-enterprise-1m: both paths, the gateway, programs) on 20,000 devices, through
//! the model's public API, on one thread and on two.

// criterion_group! makes an undocumented public function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetsim_model::{RunOptions, Scenario};
use std::hint::black_box;

const DEVICES: u32 = 20_000;

fn scenario() -> Scenario {
    let text = include_str!("../../../scenarios/mixed-enterprise-1m.toml");
    let mut s = Scenario::from_toml(text).expect("the default scenario is valid");
    s.fleet.devices = DEVICES;
    s.days = 1;
    s
}

fn day(c: &mut Criterion) {
    let s = scenario();
    let mut g = c.benchmark_group("model");
    g.throughput(Throughput::Elements(u64::from(DEVICES)));
    g.sample_size(10);
    for threads in [1, 2] {
        let options = RunOptions {
            threads,
            ..RunOptions::default()
        };
        g.bench_function(format!("one day, 20k devices, {threads} thread(s)"), |b| {
            b.iter(|| {
                let r = fleetsim_model::run(&s, &options, |_, _| {}).expect("the run succeeds");
                black_box(r.events_handled)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, day);
criterion_main!(benches);
