//! fleetsim's model of a ConfigMgr estate moving to co-management with Intune.
//!
//! What it is for: the scenario schema and its validation, the fleet drawn from a scenario, and
//! every rule of a device's way to co-management (Path 1 for existing ConfigMgr clients, Path 2
//! for Autopilot devices from the internet, the programs that bring other devices onto a path,
//! the workload sliders and the rollout strategy), run as [`fleetsim_engine::Shard`]s. It
//! returns counts ([`RunResult`]); the runner writes them.
//!
//! What it is not: it does no I/O (no files, no terminal, no CSV) and spawns no threads of its
//! own; the engine runs its shards.
//!
//! # Where things are
//!
//! The modules are named after the domain's processes; each opens with what it owns and what
//! it leaves to others. Dependencies run one way: [`scenario`] (raw schema -> resolved
//! scenario) -> [`fleet`], [`schedule`], [`prereq`] -> the processes in [`sim`] -> [`run()`].
//!
//! - [`domain`]: the vocabulary (OS releases, join types, states, errors, workloads).
//! - [`scenario`]: the scenario file, its units, raw schema, strategy, validation and errors.
//! - [`fleet`]: drawing devices, collections, permanent ineligibility.
//! - [`schedule`]: when devices are online, users sign in, clients poll.
//! - [`prereq`]: the preflight's findings.
//! - [`sim`]: the core (device record, dispatch) and one module per process:
//!   [`sim::identity`], [`sim::enrollment`], [`sim::provisioning`], [`sim::client_install`],
//!   [`sim::gateway`], [`sim::programs`], [`sim::workloads`], [`sim::rollout`]; then
//!   [`sim::results`] and [`sim::run`](mod@sim::run).
//!
//! `docs/ARCHITECTURE.md` follows one event from the queue through its process to a row of
//! timeline.csv.

pub mod domain;
pub mod fleet;
pub mod prereq;
pub mod scenario;
pub mod schedule;
pub mod sim;

pub use domain::{
    CoPath, EnrollmentError, IneligibleReason, JoinType, LifecycleState, OsRelease, Prerequisite,
    Retry, Workload,
};
pub use prereq::{Finding, FleetCounts, Present, Severity};
pub use scenario::strategy;
pub use scenario::{Scenario, ScenarioError};
pub use sim::{
    Bucket, COUNTERS, DecisionSource, Detail, EspOutcome, EventCapture, RunError, RunOptions,
    RunResult, check, counter_names, run, run_with_findings,
};
