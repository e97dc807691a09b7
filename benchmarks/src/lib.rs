//! The postbox comparison benchmarks: the same workloads, run between real processes, over postbox
//! and over the mechanisms people already use, so the results can be read as ratios.

pub mod mechanism;
pub mod peers;
