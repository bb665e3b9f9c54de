//! A small deterministic discrete-event engine.
//!
//! What it is for: advancing many independent *entities* (fleetsim's devices) through time,
//! event by event, on several threads, so that the result never depends on the number of
//! threads or on the machine. It gives:
//!
//! - an integer clock ([`Time`]): the unit is the caller's (fleetsim uses minutes);
//! - an [`EventQueue`] whose order is total: time first, then the order of scheduling;
//! - [`RandomStreams`]: randomness keyed by `(seed, entity, purpose, index)`, never by thread or
//!   shard, so an entity draws the same numbers wherever and whenever it is simulated;
//! - an [`Engine`] that owns a fixed set of [`Shard`]s and advances them in parallel up to
//!   barriers chosen by the caller, where the caller may read and change every shard, or
//!   through spans in which each shard stops on its own at marks ([`Engine::advance_marked`],
//!   [`Shard::mark`]), one of which may hold it until the caller moves it on; it lends every
//!   shard one read-only context (what all of them read: no copy per shard, no reference
//!   counting per event), and runs the shards on its own workers, which spin between
//!   hand-overs rather than sleep (set-up work too: no second pool);
//! - a hint ([`Shard::prefetch`]) of the event a few places ahead, so that a shard can have its
//!   entity's record on its way into the cache while it handles the events before it.
//!
//! What it is not: it knows nothing of Windows, scenarios, CSV or any I/O. It never allocates
//! per event once a queue has grown to its working size, and holds no global lock while shards run.

mod engine;
mod gang;
mod queue;
mod streams;

pub use engine::{Engine, Shard, ShardsMut, StartError, balanced_ranges, shard_ranges};
pub use queue::EventQueue;
pub use streams::{KeyedStream, Purpose, RandomStreams, Sequence, stable_hash, to_unit};

/// A point in simulated time, in whole ticks. The engine gives ticks no unit.
pub type Time = u32;
