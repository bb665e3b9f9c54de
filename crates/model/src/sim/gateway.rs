//! Gateway: the cloud management gateway's concurrent connections, the queue of client
//! installs waiting for one, and its load per timeline row. Connections are granted at
//! barriers in order of request time, then device id, so the order never depends on threads.
//!
//! Leaves to others: what the install does once connected ([`client_install`](super::client_install)).

use super::device::*;
use super::results::*;
use crate::scenario::{Minute, Scenario};
use fleetsim_engine::{Engine, EventQueue};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::Range;

/// The gateway: a fixed number of concurrent connections, granted at barriers in order of
/// request time, then device id, so the order never depends on threads.
pub(super) struct Gateway {
    capacity: u64,
    hold: Minute,
    in_flight: BinaryHeap<Reverse<Minute>>,
    queue: VecDeque<(Minute, u32)>,
}

/// Minutes between two barriers when the gateway is in use.
pub(super) const GATEWAY_STEP: Minute = 15;

impl DeviceShard {
    pub(super) fn request_gateway(&mut self, now: Minute, i: usize) {
        self.devices[i].phase = Phase::InstallQueued;
        self.gateway_requests.push((now, self.first + i as u32));
    }

    /// The gateway gives device `local` a connection at `now` (called at a barrier).
    pub(super) fn grant(&mut self, local: u32, now: Minute, q: &mut EventQueue<Ev>) {
        let i = local as usize;
        let before = self.devices[i].state();
        self.devices[i].phase = Phase::Installing;
        let after = self.devices[i].state();
        self.move_state(now, i, before, after);
        self.record(i, now, before, after, Detail::GatewayConnection);
        Self::schedule(
            q,
            Some(now + self.ctx.scenario.cloud.client_install),
            local,
            Kind::InstallDone,
        );
    }
}

impl Gateway {
    pub(super) fn new(s: &Scenario) -> Self {
        Self {
            capacity: s.cloud.capacity(),
            hold: s.cloud.client_install,
            in_flight: BinaryHeap::new(),
            queue: VecDeque::new(),
        }
    }

    /// At the barrier closing at `next`: takes the shards' requests, records the load of the
    /// row it closes, and grants connections up to the capacity.
    pub(super) fn barrier(
        &mut self,
        engine: &mut Engine<DeviceShard>,
        ranges: &[Range<u32>],
        next: Minute,
        bucket: Minute,
        gateway_rows: &mut [GatewayRow],
    ) {
        let mut requests = Vec::new();
        for (shard, _) in engine.shards_mut() {
            requests.append(&mut shard.gateway_requests);
        }
        requests.sort_unstable();
        self.queue.extend(requests);
        // Load at the end of the row that this barrier closes: installs that ended before
        // it are done; those ending at it are still counted, as their devices are.
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(end)| *end < next)
        {
            self.in_flight.pop();
        }
        let g = &mut gateway_rows[((next - 1) / bucket) as usize];
        g.concurrent = self.in_flight.len() as u64;
        g.queued = self.queue.len() as u64;
        g.peak = g.peak.max(g.concurrent);
        while self
            .in_flight
            .peek()
            .is_some_and(|Reverse(end)| *end <= next)
        {
            self.in_flight.pop();
        }
        while (self.in_flight.len() as u64) < self.capacity {
            let Some((_, id)) = self.queue.pop_front() else {
                break;
            };
            let shard = ranges.partition_point(|r| r.end <= id);
            let (sh, q) = engine.shard_mut(shard);
            let local = id - sh.first;
            sh.grant(local, next, q);
            self.in_flight.push(Reverse(next + self.hold));
        }
        if let Some(g) = gateway_rows.get_mut((next / bucket) as usize) {
            g.peak = g.peak.max(self.in_flight.len() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::tests::*;

    #[test]
    fn gateway_never_exceeds_capacity_and_matches_the_states() {
        let s = path2(
            3000,
            "[cloud]\ncmg_vms = 1\nclient_install_minutes = 120\n[path2]\nusage = { always_on = 1.0 }\nbatches = [ { date = 2027-01-04, devices = 4000 }, { date = 2027-01-06, devices = 7000 } ]\n",
        );
        assert_eq!(s.cloud.capacity(), 6000);
        let r = hourly(&s);
        let mut queued_somewhere = false;
        for (st, g) in r.states.iter().zip(&r.gateway) {
            assert!(g.concurrent <= 6000 && g.peak <= 6000);
            assert_eq!(g.concurrent, st[S::ClientInstalling.index()]);
            assert_eq!(g.queued, st[S::ClientInstallQueued.index()]);
            queued_somewhere |= g.queued > 100;
        }
        assert!(
            queued_somewhere,
            "7,000 installs of 2 h in one morning through 6,000 connections must queue"
        );
        assert!(r.gateway.iter().any(|g| g.peak == 6000));
        let last = r.states.last().unwrap();
        assert_eq!(last.iter().sum::<u64>(), 14_000);
        assert!(last[S::CoManaged.index()] > 13_000, "{last:?}");
        assert_eq!(r.eligible_by_path, [0, 14_000]);
    }
}
