//! Training: the trainer loop on its own thread, the optimiser, metrics and events.

pub mod events;
pub mod metrics;

pub use events::{EvalMetrics, Event, GroupMetrics, MetricsRecord, ParamCounts, Phase, RunSummary};
