//! Training: the trainer loop on its own thread, the optimiser, evaluation (with the
//! metrics of [`crate::metrics`]) and the events a run reports (docs/architecture.md).

pub mod device;
pub mod events;
pub mod order;
pub mod run;
pub mod splits;
pub mod trainer;

pub use crate::model::ParamCounts;
pub use events::{BaselineComparison, EvalMetrics, Event, GroupMetrics, MetricsRecord, Phase, RunEnd, RunSummary};
