//! What the harness and its role processes say to each other.
//!
//! The harness starts a child with its case, address and roles on the command line (see
//! [`RoleArgs`](super::RoleArgs)). The child then speaks in lines on its stdout:
//!
//! 1. `ready` once every role it plays has opened its endpoint;
//! 2. after the harness writes `go` to its stdin: `result [ … ]`, a JSON array with one
//!    [`RoleResult`] per role — or `error <message>` at any point, then it exits.
//!
//! After its result the child keeps its endpoints open until the harness ends it, so that no
//! role tears down a queue its peers still read. Any other line on a child's stdout (a library's
//! chatter) is passed on to the harness's stderr, never taken for protocol.

use serde::{Deserialize, Serialize};

use crate::mechanism::{Role, Workload};
use crate::plan::Assignment;
use crate::stats::LatencySummary;

/// What one role did, as its process reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum RoleResult {
    /// The pinger's round trips.
    Pinger {
        /// Their distribution (the warm-up excluded).
        latency: LatencySummary,
    },
    /// The ponger: every ping it answered, warm-up included.
    Ponger {
        /// How many.
        answered: u64,
    },
    /// A producer.
    Producer {
        /// Which.
        index: usize,
        /// Messages sent (not counting end markers).
        sent: u64,
        /// When it started sending ([`monotonic_ns`](crate::clock::monotonic_ns)).
        started_ns: u64,
        /// When its last send returned.
        finished_ns: u64,
    },
    /// A consumer.
    Consumer {
        /// Which.
        index: usize,
        /// Messages received and checked from each producer, by index (end markers not
        /// counted).
        per_producer: Vec<u64>,
        /// The sum of their sequence numbers.
        seq_sum: u64,
        /// When it received its last message (or end marker).
        finished_ns: u64,
    },
}

/// A line a child prints.
#[derive(Clone, Debug, PartialEq)]
pub enum ChildLine {
    /// Every role of the child is open.
    Ready,
    /// The results of the child's roles.
    Result(Vec<RoleResult>),
    /// The child failed.
    Error(String),
}

impl ChildLine {
    /// The line as printed.
    pub fn render(&self) -> String {
        match self {
            ChildLine::Ready => "ready".to_owned(),
            ChildLine::Result(results) => match serde_json::to_string(results) {
                Ok(json) => format!("result {json}"),
                Err(e) => format!("error cannot encode the results: {e}"),
            },
            // One line, whatever the message holds.
            ChildLine::Error(message) => format!("error {}", message.replace('\n', " ")),
        }
    }

    /// Parses a printed line; `None` for a line that is not protocol at all, `Some(Err)` for a
    /// `result` line whose JSON does not parse.
    pub fn parse(line: &str) -> Option<Result<ChildLine, String>> {
        if line == "ready" {
            return Some(Ok(ChildLine::Ready));
        }
        if let Some(json) = line.strip_prefix("result ") {
            return Some(
                serde_json::from_str(json)
                    .map(ChildLine::Result)
                    .map_err(|e| format!("unreadable result line ({e}): {json}")),
            );
        }
        line.strip_prefix("error ")
            .map(|message| Ok(ChildLine::Error(message.to_owned())))
    }
}

/// A role as written on the command line: `pinger`, `ponger`, `producer:3`, `consumer:0`.
pub fn format_role(role: Role) -> String {
    match role {
        Role::Pinger => "pinger".to_owned(),
        Role::Ponger => "ponger".to_owned(),
        Role::Producer { index } => format!("producer:{index}"),
        Role::Consumer { index } => format!("consumer:{index}"),
    }
}

/// A role for people: `pinger`, `producer 3`.
pub fn role_label(role: Role) -> String {
    format_role(role).replace(':', " ")
}

/// Parses [`format_role`].
pub fn parse_role(text: &str) -> Option<Role> {
    match text.split_once(':') {
        None => match text {
            "pinger" => Some(Role::Pinger),
            "ponger" => Some(Role::Ponger),
            _ => None,
        },
        Some((kind, index)) => {
            let index = index.parse().ok()?;
            match kind {
                "producer" => Some(Role::Producer { index }),
                "consumer" => Some(Role::Consumer { index }),
                _ => None,
            }
        }
    }
}

/// An assignment as written on the command line: `ROLE@CPU`, such as `producer:3@0`.
pub fn format_assignment(assignment: Assignment) -> String {
    format!("{}@{}", format_role(assignment.role), assignment.cpu)
}

/// Parses [`format_assignment`].
pub fn parse_assignment(text: &str) -> Option<Assignment> {
    let (role, cpu) = text.rsplit_once('@')?;
    Some(Assignment {
        role: parse_role(role)?,
        cpu: cpu.parse().ok()?,
    })
}

/// A workload as written on the command line: `ping-pong`, `throughput`, `fan-in:8`,
/// `competing:4`.
pub fn format_workload(workload: Workload) -> String {
    match workload {
        Workload::PingPong => "ping-pong".to_owned(),
        Workload::Throughput => "throughput".to_owned(),
        Workload::FanIn { producers } => format!("fan-in:{producers}"),
        Workload::Competing { consumers } => format!("competing:{consumers}"),
    }
}

/// Parses [`format_workload`].
pub fn parse_workload(text: &str) -> Option<Workload> {
    match text.split_once(':') {
        None => match text {
            "ping-pong" => Some(Workload::PingPong),
            "throughput" => Some(Workload::Throughput),
            _ => None,
        },
        Some((kind, n)) => {
            let n: usize = n.parse().ok().filter(|&n| n > 0)?;
            match kind {
                "fan-in" => Some(Workload::FanIn { producers: n }),
                "competing" => Some(Workload::Competing { consumers: n }),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_assignments_and_workloads_round_trip() {
        for role in [
            Role::Pinger,
            Role::Ponger,
            Role::Producer { index: 7 },
            Role::Consumer { index: 0 },
        ] {
            assert_eq!(parse_role(&format_role(role)), Some(role));
            let assignment = Assignment { role, cpu: 3 };
            assert_eq!(
                parse_assignment(&format_assignment(assignment)),
                Some(assignment)
            );
        }
        for workload in [
            Workload::PingPong,
            Workload::Throughput,
            Workload::FanIn { producers: 8 },
            Workload::Competing { consumers: 4 },
        ] {
            assert_eq!(parse_workload(&format_workload(workload)), Some(workload));
        }
        assert_eq!(role_label(Role::Producer { index: 2 }), "producer 2");
        for bad in ["", "pinger:1x", "producer", "producer:-1", "boss:1"] {
            assert_eq!(parse_role(bad), None, "{bad:?}");
        }
        assert_eq!(parse_assignment("pinger"), None);
        assert_eq!(parse_workload("fan-in:0"), None);
        assert_eq!(parse_workload("fan-in"), None);
    }

    #[test]
    fn child_lines_round_trip_and_chatter_is_not_protocol() {
        let results = vec![
            RoleResult::Consumer {
                index: 1,
                per_producer: vec![10, 2],
                seq_sum: u64::MAX - 1,
                finished_ns: 99,
            },
            RoleResult::Ponger { answered: 5 },
        ];
        for line in [
            ChildLine::Ready,
            ChildLine::Result(results),
            ChildLine::Error("bad".into()),
        ] {
            assert_eq!(ChildLine::parse(&line.render()), Some(Ok(line)));
        }
        assert_eq!(
            ChildLine::Error("two\nlines".into()).render(),
            "error two lines"
        );
        assert_eq!(ChildLine::parse("some library's log line"), None);
        assert!(matches!(ChildLine::parse("result {"), Some(Err(_))));
    }
}
