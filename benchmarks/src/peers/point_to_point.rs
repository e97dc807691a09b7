//! What a point-to-point mechanism (a pipe, a stream or seqpacket socket) can run.

use crate::mechanism::{Case, Workload};

/// `None` for ping-pong and throughput; for fan-in and competing consumers, why not: a pipe or a
/// connected socket links exactly two ends, so several producers would each need their own
/// connection (and the consumer a multiplexer), and there is no queue that consumers could
/// compete for.
pub(crate) fn unsupported(case: &Case) -> Option<String> {
    match case.workload {
        Workload::PingPong | Workload::Throughput => None,
        Workload::FanIn { .. } | Workload::Competing { .. } => Some("no shared queue".to_owned()),
    }
}
