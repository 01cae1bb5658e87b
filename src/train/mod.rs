//! Training: metrics now; the trainer loop, optimiser and events follow.

pub mod metrics;
