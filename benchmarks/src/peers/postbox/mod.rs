//! postbox itself, three ways: `inproc://` (threads of one process, one in-process node),
//! `unix://` and `tcp://` (processes, each a connection to a daemon the harness starts); its
//! call and reply over `unix://` (`postbox unix:// call`, ping-pong only); and `tcp://` across a
//! link between two daemons (`postbox node link`, ping-pong and throughput; see
//! [`PostboxNodeLink`] for its mailboxes).
//!
//! Each run uses named mailboxes bounded like the peers' buffers
//! ([`queue_depth`](super::buffering::queue_depth) messages of the case's size), with the
//! case's size as their largest message:
//!
//! - ping-pong: two process-owned mailboxes, `bench.ping` (created by the ponger, which receives
//!   from it) and `bench.pong` (created by the pinger); the ponger opens `bench.pong` when it first
//!   answers, by which time the pinger has created it;
//! - throughput and fan-in: one process-owned mailbox created by the consumer, opened by the
//!   producers;
//! - competing consumers: one system-owned mailbox with `Receivers::Shared(FirstWaiting)`, mode
//!   0600 (every role runs as the same user), opened or created by each consumer.
//!
//! The daemon of a remote run is this program's hidden [`DAEMON_SUBCOMMAND`] ([`serve_daemon`]),
//! started by `prepare` with its socket in the run's scratch directory, TCP on 127.0.0.1 port 0
//! with a random token (for `tcp://`), and limits raised for large messages. It inherits the
//! harness's CPU placement for helpers: unpinned in the cross-CPU series, on the one CPU of the
//! same-CPU series.

mod call;
mod daemon;
mod endpoint;
mod mechanism;
mod node_link;
mod node_pair;

pub use call::PostboxCall;
pub use daemon::{DAEMON_SUBCOMMAND, DaemonArgs, MAX_MESSAGE, serve_daemon};
pub use mechanism::{Postbox, Transport};
pub use node_link::PostboxNodeLink;
pub use node_pair::{EXEC_DAEMON_SUBCOMMAND, POSTBOX_BIN_ENV, exec_daemon, postbox_binary};
