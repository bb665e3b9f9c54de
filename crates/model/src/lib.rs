//! fleetsim's model of a ConfigMgr estate moving to co-management with Intune.
//!
//! What it is for: the devices and their attributes, the fleet drawn from a scenario, the
//! scenario schema and its validation, and the co-management rules (eligibility, hybrid join,
//! policy, enrollment, errors and retries) as a [`fleetsim_engine::Shard`].
//!
//! What it is not: it does no I/O (no files, no terminal, no CSV) and spawns no threads of its
//! own; the engine runs its shards and the runner writes what it returns.

pub mod domain;
mod error;
pub mod scenario;

pub use error::ScenarioError;
pub use scenario::Scenario;
pub mod fleet;
pub mod prereq;
pub mod schedule;
pub mod sim;
pub mod strategy;

pub use sim::{Bucket, EventCapture, RunError, RunOptions, RunResult, run};
