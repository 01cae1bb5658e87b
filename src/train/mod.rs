//! Training: the trainer loop on its own thread, the optimiser, metrics and events.

pub mod device;
pub mod events;
pub mod metrics;
pub mod run;
pub mod trainer;

pub use events::{BaselineComparison, EvalMetrics, Event, GroupMetrics, MetricsRecord, ParamCounts, Phase, RunSummary};
