//! The command line as clap types: every command, flag and value `postbox` accepts.
//!
//! Values are parsed and checked here (see [`crate::values`]), so a malformed one is a usage error
//! (exit 2) before anything connects. What can only be checked in combination is checked by the
//! command, which reports it as a usage error too (see [`usage_error`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use postbox_core::{Dispatch, MessageSize, Mode, Order, Overflow, Receivers};

use crate::commands::chat::Room;
use crate::values::{self, CapacityArg, OwnerArg, ProcessRef};

/// postbox: message passing between processes, from the shell.
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 would block (full/empty), 4 timeout, 5 not found,
/// 6 permission denied, 7 gone (mailbox deleted or peer process terminated).
#[derive(Parser, Debug)]
#[command(name = "postbox", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The node the client commands talk to (also accepted after the command; not by `daemon`
    /// and `demo`, which serve their own): unix:///PATH, tcp://HOST:PORT or
    /// tls://HOST:PORT[?ca=PATH&name=NODE&cert=PATH&key=PATH] [default:
    /// $POSTBOX_URL, else the local daemon's socket: $POSTBOX_SOCKET, else
    /// $XDG_RUNTIME_DIR/postbox.sock, else /tmp/postbox-$UID/postbox.sock]
    #[arg(long, value_name = "URL", value_parser = values::url)]
    pub(crate) url: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The node a client command talks to. Not a global flag: `daemon` and `demo` serve a node of
/// their own, and must not show a `--url` they would ignore.
#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    /// The node to talk to: unix:///PATH, tcp://HOST:PORT or
    /// tls://HOST:PORT[?ca=PATH&name=NODE&cert=PATH&key=PATH] [default: $POSTBOX_URL, else the
    /// local daemon's socket: $POSTBOX_SOCKET, else $XDG_RUNTIME_DIR/postbox.sock, else
    /// /tmp/postbox-$UID/postbox.sock]
    #[arg(long, value_name = "URL", value_parser = values::url)]
    pub(crate) url: Option<String>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the postbox daemon: serve mailboxes on a Unix socket (and TCP when asked).
    Daemon(Box<DaemonArgs>),
    /// Create a mailbox (system-owned: it lives until `postbox rm`).
    Create(CreateArgs),
    /// Check that a mailbox exists and may be used (exit 0, 5 or 6); with --or-create, create it
    /// if it does not exist.
    Open(OpenArgs),
    /// Delete a mailbox: its waiters get "gone" (exit 7).
    Rm(RmArgs),
    /// List mailboxes.
    Ls(LsArgs),
    /// Show a mailbox's statistics, or the node's without NAME.
    Stat(StatArgs),
    /// Show queued messages of a mailbox without taking them, in the order receives would.
    Peek(PeekArgs),
    /// Drop every queued message of a mailbox (owner or root only) and say how many.
    Purge(PurgeArgs),
    /// A live view of mailboxes and processes, busiest first, with message rates (q quits).
    Top(TopArgs),
    /// Change a mailbox's mode, owner or byte limit.
    Set(SetArgs),
    /// List processes.
    Ps(PsArgs),
    /// List the nodes this daemon links with: state, incarnation, round-trip time, counters.
    Nodes(NodesArgs),
    /// Send a message to a mailbox, or to a process with --to.
    Send(SendArgs),
    /// Send a request to a mailbox, or to a process with --to, and print the answer.
    Call(CallArgs),
    /// Answer requests by running a command for each: the request on its stdin, its stdout the
    /// answer.
    Serve(ServeArgs),
    /// Receive messages from mailboxes or from this process's inbox, and print their payloads.
    Recv(RecvArgs),
    /// Wait until a process terminates, print it, exit 0.
    Monitor(MonitorArgs),
    /// Chat in a room as NAME: lines typed go to every member, `/msg PEER TEXT` to one person,
    /// `/who` lists the members, `/quit` (or the end of input) leaves.
    Chat(ChatArgs),
    /// Post a tick into a mailbox every period (or once, --after), from a process of its own.
    Timer(TimerArgs),
    /// Forward the named signals this command receives into a mailbox, until SIGINT or SIGTERM.
    Signal(SignalArgs),
    /// Start a throwaway daemon and run the classic message-passing scenarios across processes.
    Demo,
    /// Measure throughput and round-trip latency against the node.
    Bench(BenchArgs),
    /// Make a cluster's certificate authority, and certificates it signs, for tls:// daemons and
    /// clients (init, then issue one per daemon, node or client).
    #[command(subcommand)]
    Certs(CertsCommand),
    /// Print the shell completion script for bash, zsh or fish (e.g. `postbox completions bash >
    /// ~/.local/share/bash-completion/completions/postbox`).
    Completions(CompletionsArgs),
    /// Write the manual pages (postbox.1 and one per command) into a directory.
    Man(ManArgs),
}

/// `postbox certs`.
#[derive(Subcommand, Debug)]
pub(crate) enum CertsCommand {
    /// Make a certificate authority: DIR/ca.pem (give it to daemons and clients to trust) and
    /// DIR/ca.key (keep it secret: it signs).
    Init(CertsInitArgs),
    /// Make DIR/NAME.pem and DIR/NAME.key, signed by DIR's CA, for a daemon, node or client
    /// called NAME (usable for server and client authentication).
    Issue(CertsIssueArgs),
}

/// `postbox certs init`.
#[derive(Args, Debug)]
pub(crate) struct CertsInitArgs {
    /// The directory to write into (created with mode 0700 if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,

    /// Replace a CA already in DIR (certificates it signed are no longer trusted by the new one).
    #[arg(long)]
    pub(crate) force: bool,
}

/// `postbox certs issue`.
#[derive(Args, Debug)]
pub(crate) struct CertsIssueArgs {
    /// The name: the certificate's common name and first DNS name (the host or node name a
    /// client connects to, or the name a client or node is known by).
    #[arg(value_name = "NAME")]
    pub(crate) name: String,

    /// The directory holding the CA (from `postbox certs init`); the files are written there.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,

    /// Another DNS name the certificate is valid for (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) dns: Vec<String>,

    /// An IP address the certificate is valid for (repeatable), to connect by address.
    #[arg(long, value_name = "ADDR")]
    pub(crate) ip: Vec<std::net::IpAddr>,

    /// How many days the certificate is valid.
    #[arg(long, value_name = "N", default_value_t = 825,
          value_parser = clap::builder::RangedU64ValueParser::<u32>::new().range(1..=36500))]
    pub(crate) days: u32,

    /// Replace a certificate for NAME already in DIR.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `postbox completions`.
#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `postbox man`.
#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// Where to write them (created if missing).
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// `postbox bench`.
#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// How many messages to stream through a mailbox.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub(crate) messages: usize,

    /// The payload size of each message, e.g. 64 or 4KiB.
    #[arg(long, value_name = "BYTES", value_parser = values::bytes, default_value = "64")]
    pub(crate) size: usize,

    /// The capacity of the mailbox streamed through, in messages.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) capacity: usize,

    /// How many ping-pong round trips to time.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub(crate) round_trips: usize,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox daemon`. Every flag but --config and --print-config can also be set in the config
/// file, under the flag's name; a flag given here wins over the file.
#[derive(Args, Debug)]
pub(crate) struct DaemonArgs {
    /// Read settings from this TOML file (keys are the flags' names, e.g. `max-connections =
    /// 64`; see --print-config); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Print the effective configuration (defaults, then the --config file, then these flags) as
    /// TOML that --config accepts, each setting documented, and exit.
    #[arg(long)]
    pub(crate) print_config: bool,

    /// The Unix socket to listen on [default: $POSTBOX_SOCKET, else
    /// $XDG_RUNTIME_DIR/postbox.sock, else /tmp/postbox-$UID/postbox.sock]
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: Option<PathBuf>,

    /// Permission bits of the socket [default: 0600]
    #[arg(long, value_name = "MODE", value_parser = values::mode)]
    pub(crate) mode: Option<Mode>,

    /// Also listen for network clients at tcp://ADDR:PORT, or with TLS at tls://ADDR:PORT
    /// (requires --token-file, and for tls:// --tls-cert and --tls-key, here or in the config
    /// file; tls:// with --tls-client-ca may go without a token).
    #[arg(long, value_name = "URL", value_parser = values::listen)]
    pub(crate) listen: Option<String>,

    /// The file holding the token TCP clients must present (they read it from
    /// $POSTBOX_TOKEN_FILE or $POSTBOX_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,

    /// The daemon's certificate for tls:// (PEM, its chain after it), e.g. from `postbox certs
    /// issue`.
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Require tls:// clients to present a certificate signed by a CA in this PEM file (e.g. the
    /// ca.pem of `postbox certs init`).
    #[arg(long, value_name = "FILE")]
    pub(crate) tls_client_ca: Option<PathBuf>,

    /// The uid and gid the processes of network (tcp:// and tls://) clients act as, UID:GID
    /// [default: the daemon's own]
    #[arg(long, value_name = "UID:GID", value_parser = values::identity)]
    pub(crate) tcp_identity: Option<postbox_core::Credentials>,

    /// Where durable mailboxes are kept [default: /var/lib/postbox for root, else
    /// $XDG_STATE_HOME/postbox, else ~/.local/state/postbox]
    #[arg(long, value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (tcp://127.0.0.1:9464, say; port 0
    /// picks a free port, logged at start). No authentication: keep it on loopback or a
    /// monitoring network.
    #[arg(long, value_name = "URL", value_parser = values::tcp_listen)]
    pub(crate) metrics: Option<String>,

    /// How many mailboxes the metrics report one by one: the first N by name [default: 1000]
    #[arg(long, value_name = "N")]
    pub(crate) metrics_max_mailboxes: Option<usize>,

    /// The smallest payload sent to a unix:// client as a sealed shared-memory file rather than
    /// through the socket, e.g. 256KiB; at least 1 [default: 64KiB]
    #[arg(long, value_name = "BYTES", value_parser = values::bytes)]
    pub(crate) attach_from: Option<usize>,

    /// How many of each durable mailbox's messages are read into memory at start and kept
    /// there, the rest read from disk as they are received; at least 1 [default: 4096]
    #[arg(long, value_name = "N")]
    pub(crate) resident_messages: Option<usize>,

    /// How many payload bytes of each durable mailbox are read into memory at start and kept
    /// there (at least one message) [default: 4MiB]
    #[arg(long, value_name = "BYTES", value_parser = values::bytes)]
    pub(crate) resident_bytes: Option<usize>,

    /// This node's name among linked daemons: letters, digits, '.', '_', '-' [default: the host
    /// name]
    #[arg(long, value_name = "NAME", value_parser = values::node_name)]
    pub(crate) node: Option<String>,

    /// Accept other nodes' links at ADDR:PORT (always mutual TLS: needs --node-cert, --node-key
    /// and --node-ca).
    #[arg(long, value_name = "ADDR:PORT", value_parser = values::node_listen)]
    pub(crate) node_listen: Option<String>,

    /// Link with node NAME, dialling HOST:PORT (its --node-listen); repeat for each peer.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT", value_parser = values::peer)]
    pub(crate) peers: Vec<postbox_daemon::PeerAddress>,

    /// Processes of node NAME act here as UID:GID, whatever their node verified (by default
    /// they act with the uid and gid their own node took from their socket); repeat per node.
    #[arg(long = "peer-identity", value_name = "NAME=UID:GID", value_parser = values::peer_identity)]
    pub(crate) peer_identities: Vec<(postbox_wire::link::NodeName, postbox_core::Credentials)>,

    /// How long a peer node may be silent before it is reported down, e.g. 3s (at least 500ms)
    /// [default: 3s]
    #[arg(long, value_name = "DURATION", value_parser = values::duration,
          allow_hyphen_values = true)]
    pub(crate) node_timeout: Option<Duration>,

    /// This node's certificate for node links (PEM), for its --node name: `postbox certs issue
    /// NAME`.
    #[arg(long, value_name = "FILE")]
    pub(crate) node_cert: Option<PathBuf>,

    /// The private key of --node-cert (PEM).
    #[arg(long, value_name = "FILE")]
    pub(crate) node_key: Option<PathBuf>,

    /// The CA every node's certificate must be signed by (PEM: the ca.pem of `postbox certs
    /// init`).
    #[arg(long, value_name = "FILE")]
    pub(crate) node_ca: Option<PathBuf>,

    /// What to log, in RUST_LOG's syntax (e.g. `info`, `postbox_daemon=debug`) [default:
    /// $RUST_LOG, else the config file's `log`, else info]
    #[arg(long, value_name = "FILTER")]
    pub(crate) log: Option<String>,

    /// Limits on what clients may use.
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// The daemon's limits; each defaults to the daemon's own default.
#[derive(Args, Debug)]
pub(crate) struct LimitArgs {
    /// The largest message any mailbox accepts, e.g. 8MiB.
    #[arg(long, value_name = "BYTES", value_parser = values::bytes)]
    pub(crate) max_message_size: Option<usize>,

    /// How many messages each process's inbox holds.
    #[arg(long, value_name = "N")]
    pub(crate) inbox_capacity: Option<usize>,

    /// Payload bytes queued across all mailboxes, e.g. 256MiB.
    #[arg(long, value_name = "BYTES", value_parser = values::bytes)]
    pub(crate) max_queued_bytes: Option<usize>,

    /// How many mailboxes one uid may have.
    #[arg(long, value_name = "N")]
    pub(crate) max_mailboxes_per_uid: Option<usize>,

    /// How many clients may be connected at once, past their handshake.
    #[arg(long, value_name = "N")]
    pub(crate) max_connections: Option<usize>,

    /// How many connections may be in their handshake at once, on each listener.
    #[arg(long, value_name = "N")]
    pub(crate) max_handshakes: Option<usize>,

    /// How many connections one peer (a uid other than the daemon's, or a TCP address) may have.
    #[arg(long, value_name = "N")]
    pub(crate) max_connections_per_peer: Option<usize>,

    /// How many connections one peer may have in their handshake at once.
    #[arg(long, value_name = "N")]
    pub(crate) max_handshakes_per_peer: Option<usize>,

    /// How long a new connection has to send its Hello, e.g. 3s.
    #[arg(long, value_name = "DURATION", value_parser = values::duration,
          allow_hyphen_values = true)]
    pub(crate) handshake_timeout: Option<Duration>,

    /// How soon a TCP client that vanished without closing is noticed, e.g. 30s (at least 3s).
    #[arg(long, value_name = "DURATION", value_parser = values::duration,
          allow_hyphen_values = true)]
    pub(crate) tcp_dead_peer_timeout: Option<Duration>,

    /// How many operations one connection may have waiting at once.
    #[arg(long, value_name = "N", alias = "max-pending")]
    pub(crate) max_in_flight: Option<usize>,
}

/// The attributes of a mailbox being created. Each defaults as in the attribute table of
/// docs/semantics.md.
#[derive(Args, Debug)]
pub(crate) struct MailboxSpec {
    /// How many messages it buffers: zero (rendezvous), N, or unbounded [default: 64]
    #[arg(long, value_name = "zero|N|unbounded", value_parser = values::capacity)]
    pub(crate) capacity: Option<CapacityArg>,

    /// The most payload bytes a bounded mailbox buffers, e.g. 64KiB [default: 1MiB]
    #[arg(long, value_name = "BYTES", value_parser = values::bytes)]
    pub(crate) max_bytes: Option<usize>,

    /// The size rule: every message exactly N bytes, or at most N [default: max:64KiB]
    #[arg(long, value_name = "fixed:N|max:N", value_parser = values::size)]
    pub(crate) size: Option<MessageSize>,

    /// The receive order: fifo, or priority (highest first).
    #[arg(long, value_enum, default_value_t = OrderArg::Fifo)]
    pub(crate) order: OrderArg,

    /// What a send to a full mailbox does.
    #[arg(long, value_enum, default_value_t = OverflowArg::Block)]
    pub(crate) overflow: OverflowArg,

    /// Who may receive, and how messages are dispatched among receivers.
    #[arg(long, value_enum, default_value_t = ReceiversArg::Shared)]
    pub(crate) receivers: ReceiversArg,

    /// Permission bits: w (2) = may send, r (4) = may receive, for owner, group and others.
    #[arg(long, value_name = "MODE", value_parser = values::mode, default_value = "0600")]
    pub(crate) mode: Mode,

    /// Keep it and its messages on disk: it outlives a daemon restart or crash, and a send is
    /// answered once its message is on stable storage (the daemon's --state-dir)
    #[arg(long)]
    pub(crate) durable: bool,

    /// How long a receiver may hold a message unacknowledged before it is delivered again, e.g.
    /// 30s [default: until the receiver acknowledges, gives it back or ends]
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub(crate) lease_time: Option<Duration>,

    /// The most deliveries of one message: after that an unacknowledged message goes to the
    /// --dead-letter mailbox, or without one is dropped [default: no limit]
    #[arg(long, value_name = "N")]
    pub(crate) max_deliveries: Option<u32>,

    /// The mailbox (existing, one you may send to) that messages go to after --max-deliveries,
    /// on the node of the mailbox it is for (a plain name means that node's)
    #[arg(long, value_name = "NAME", value_parser = values::mailbox, requires = "max_deliveries")]
    pub(crate) dead_letter: Option<String>,
}

/// `--order`.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OrderArg {
    /// First in, first out.
    Fifo,
    /// Highest priority first, FIFO among equals.
    Priority,
}

impl From<OrderArg> for Order {
    fn from(order: OrderArg) -> Order {
        match order {
            OrderArg::Fifo => Order::Fifo,
            OrderArg::Priority => Order::Priority,
        }
    }
}

/// `--overflow`.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum OverflowArg {
    /// Senders wait for room (or fail with "full" when they may not wait).
    Block,
    /// The oldest messages are discarded so the newest always fits.
    DropOldest,
}

impl From<OverflowArg> for Overflow {
    fn from(overflow: OverflowArg) -> Overflow {
        match overflow {
            OverflowArg::Block => Overflow::Block,
            OverflowArg::DropOldest => Overflow::DropOldest,
        }
    }
}

/// `--receivers`.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ReceiversArg {
    /// The owning uid only (and processes granted the right).
    Owner,
    /// One process at a time: the first to receive holds the right.
    Exclusive,
    /// Every process allowed by the mode; the longest-waiting receiver is served first.
    #[value(alias = "first-waiting")]
    Shared,
    /// Every process allowed by the mode; waiting receivers are served in turn.
    RoundRobin,
    /// A link of exactly two processes: the first sender and the first receiver.
    Pair,
    /// Fan-out: every message to every process that receives from the mailbox, each with its
    /// own backlog under the capacity.
    Broadcast,
}

impl From<ReceiversArg> for Receivers {
    fn from(receivers: ReceiversArg) -> Receivers {
        match receivers {
            ReceiversArg::Owner => Receivers::Owner,
            ReceiversArg::Exclusive => Receivers::Exclusive,
            ReceiversArg::Shared => Receivers::Shared(Dispatch::FirstWaiting),
            ReceiversArg::RoundRobin => Receivers::Shared(Dispatch::RoundRobin),
            ReceiversArg::Pair => Receivers::Pair,
            ReceiversArg::Broadcast => Receivers::Broadcast,
        }
    }
}

/// `postbox create`.
#[derive(Args, Debug)]
pub(crate) struct CreateArgs {
    /// The mailbox's name: 1 to 255 bytes of letters, digits and . _ / -
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: String,

    /// Its attributes.
    #[command(flatten)]
    pub(crate) spec: MailboxSpec,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox open`.
#[derive(Args, Debug)]
pub(crate) struct OpenArgs {
    /// The mailbox's name.
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: String,

    /// Create the mailbox (system-owned, with the attributes below) if it does not exist; among
    /// racing commands exactly one creates it.
    #[arg(long)]
    pub(crate) or_create: bool,

    /// The attributes it is created with (ignored when it exists).
    #[command(flatten)]
    pub(crate) spec: MailboxSpec,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox rm`.
#[derive(Args, Debug)]
pub(crate) struct RmArgs {
    /// The mailbox to delete.
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: String,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox ls`.
#[derive(Args, Debug)]
pub(crate) struct LsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// List the mailboxes of linked node NODE instead (its name, as in NAME@NODE).
    #[arg(long = "node", value_name = "NODE", value_parser = values::node_name)]
    pub(crate) at: Option<String>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox stat`.
#[derive(Args, Debug)]
pub(crate) struct StatArgs {
    /// The mailbox; without it, the node's statistics.
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: Option<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Without NAME: the statistics of linked node NODE instead.
    #[arg(long = "node", value_name = "NODE", value_parser = values::node_name,
          conflicts_with = "name")]
    pub(crate) at: Option<String>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox set`.
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true))]
pub(crate) struct SetArgs {
    /// The mailbox to change.
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: String,

    /// New permission bits, e.g. 0660.
    #[arg(long, value_name = "MODE", value_parser = values::mode, group = "change")]
    pub(crate) mode: Option<Mode>,

    /// New owner: a uid, and optionally a gid (otherwise the group stays).
    #[arg(long, value_name = "UID[:GID]", value_parser = values::owner, group = "change")]
    pub(crate) owner: Option<OwnerArg>,

    /// New byte limit of a bounded mailbox, e.g. 2MiB.
    #[arg(long, value_name = "BYTES", value_parser = values::bytes, group = "change")]
    pub(crate) max_bytes: Option<usize>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox nodes`.
#[derive(Args, Debug)]
pub(crate) struct NodesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,

    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox ps`.
#[derive(Args, Debug)]
pub(crate) struct PsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// List the processes of linked node NODE instead, among them the stand-ins of other nodes' processes acting there.
    #[arg(long = "node", value_name = "NODE", value_parser = values::node_name)]
    pub(crate) at: Option<String>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox peek`.
#[derive(Args, Debug)]
pub(crate) struct PeekArgs {
    /// The mailbox to look into.
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: String,

    /// Show at most this many messages (one peek shows at most 1024, and 256KiB of payload
    /// beyond the first).
    #[arg(short = 'n', long = "count", value_name = "COUNT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: u64,

    /// Which messages to show.
    #[command(flatten)]
    pub(crate) selector: SelectorArgs,

    /// Print each message as a line of JSON with its sender, type, priority and sequence number.
    #[arg(long)]
    pub(crate) json: bool,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox purge`.
#[derive(Args, Debug)]
pub(crate) struct PurgeArgs {
    /// The mailbox to empty.
    #[arg(value_parser = values::mailbox)]
    pub(crate) name: String,

    /// Print JSON (`{"name": ..., "purged": N}`) instead of a sentence.
    #[arg(long)]
    pub(crate) json: bool,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox top`.
#[derive(Args, Debug)]
pub(crate) struct TopArgs {
    /// How often to refresh, e.g. 500ms or 2s (at least 10ms).
    #[arg(long, value_name = "DURATION", value_parser = values::interval, default_value = "1s")]
    pub(crate) interval: Duration,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// How long an operation may wait: `--nowait` or `--timeout`; neither waits as long as it takes.
#[derive(Args, Debug)]
#[group(multiple = false)]
pub(crate) struct PatienceArgs {
    /// Do not wait: fail at once with exit 3 when the mailbox is full (send) or empty (recv).
    #[arg(long)]
    pub(crate) nowait: bool,

    /// Wait at most this long (500ms, 2s, 1m), then fail with exit 4.
    #[arg(long, value_name = "DURATION", value_parser = values::duration,
          allow_hyphen_values = true)]
    pub(crate) timeout: Option<Duration>,
}

/// How long one operation may wait.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Patience {
    /// As long as it takes.
    Forever,
    /// Not at all.
    NoWait,
    /// At most this long.
    Timeout(Duration),
}

impl PatienceArgs {
    /// The patience these flags ask for.
    pub(crate) fn patience(&self) -> Patience {
        match (self.nowait, self.timeout) {
            (true, _) => Patience::NoWait,
            (false, Some(timeout)) => Patience::Timeout(timeout),
            (false, None) => Patience::Forever,
        }
    }
}

/// `postbox send`.
#[derive(Args, Debug)]
pub(crate) struct SendArgs {
    /// The mailbox to send to (with --to, NAME is the payload instead).
    #[arg(value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// The payload [default: all of standard input, or one message per line with --lines]
    #[arg(value_name = "DATA")]
    pub(crate) data: Option<OsString>,

    /// Send to this process's inbox instead of a mailbox: a pid, or a name registered with
    /// `recv --as`.
    #[arg(long, value_name = "PID|NAME", value_parser = values::process)]
    pub(crate) to: Option<ProcessRef>,

    /// The message type, for typed selective receive (at least 1).
    #[arg(long = "type", value_name = "T", default_value_t = 1,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub(crate) mtype: i64,

    /// The priority, for priority-ordered mailboxes (highest first).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub(crate) priority: u16,

    /// How long each send may wait.
    #[command(flatten)]
    pub(crate) patience: PatienceArgs,

    /// Send one message per line of the input (without its newline), as lines arrive.
    #[arg(long)]
    pub(crate) lines: bool,

    /// Wait until a receiver has taken each message, and print the receiver's pid.
    #[arg(long, conflicts_with = "nowait")]
    pub(crate) receipt: bool,

    /// Register this command's process as NAME while it sends, so that receivers can select
    /// its messages with `recv --from NAME`.
    #[arg(long = "as", value_name = "NAME", value_parser = values::name)]
    pub(crate) register: Option<String>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox call`.
#[derive(Args, Debug)]
pub(crate) struct CallArgs {
    /// The mailbox to call (with --to, NAME is the request instead).
    #[arg(value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// The request [default: all of standard input]
    #[arg(value_name = "REQUEST")]
    pub(crate) data: Option<OsString>,

    /// Call this process instead of a mailbox: a pid, or a name registered with `serve --as` or
    /// `recv --as`.
    #[arg(long, value_name = "PID|NAME", value_parser = values::process)]
    pub(crate) to: Option<ProcessRef>,

    /// The request's message type (at least 1).
    #[arg(long = "type", value_name = "T", default_value_t = 1,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub(crate) mtype: i64,

    /// How long to wait for the request to be queued and answered (`--nowait`: fail with exit 3
    /// when it cannot be queued at once, then wait for the answer).
    #[command(flatten)]
    pub(crate) patience: PatienceArgs,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The mailbox whose requests to answer [default: this command's own inbox; its pid is
    /// printed on stderr first]
    #[arg(value_name = "NAME", value_parser = values::mailbox)]
    pub(crate) name: Option<String>,

    /// Register this command's process as NAME while it serves, so that `call --to NAME`
    /// reaches it.
    #[arg(long = "as", value_name = "NAME", value_parser = values::name)]
    pub(crate) register: Option<String>,

    /// Answer this many requests, then exit [default: until interrupted]
    #[arg(short = 'n', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,

    /// The command run for each request, after `--`: the request on its standard input; exit 0
    /// answers with its standard output, any other status fails the request with its standard
    /// error.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub(crate) command: Vec<OsString>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// Which messages a receive takes; at most one of these, the first message otherwise.
#[derive(Args, Debug)]
#[group(multiple = false)]
pub(crate) struct SelectorArgs {
    /// Only messages of exactly this type.
    #[arg(long = "type", value_name = "T", value_parser = clap::value_parser!(i64).range(1..))]
    pub(crate) mtype: Option<i64>,

    /// Any message but those of this type.
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(i64).range(1..))]
    pub(crate) not_type: Option<i64>,

    /// The message with the lowest type up to T (System V msgrcv with a negative type).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(i64).range(1..))]
    pub(crate) max_type: Option<i64>,

    /// Only messages from this process (a pid or a registered name); if it terminates, fail
    /// with exit 7 instead of waiting forever.
    #[arg(long, value_name = "PID|NAME", value_parser = values::process)]
    pub(crate) from: Option<ProcessRef>,
}

/// `postbox recv`.
#[derive(Args, Debug)]
pub(crate) struct RecvArgs {
    /// The mailboxes to receive from; with several, whichever has a message first.
    #[arg(value_name = "NAME", value_parser = values::mailbox, required_unless_present = "inbox")]
    pub(crate) names: Vec<String>,

    /// Receive from this command's own inbox (its pid is printed on stderr first, so that peers
    /// can send to it).
    #[arg(long)]
    pub(crate) inbox: bool,

    /// Which messages to take.
    #[command(flatten)]
    pub(crate) selector: SelectorArgs,

    /// How long each receive may wait.
    #[command(flatten)]
    pub(crate) patience: PatienceArgs,

    /// Receive this many messages, then exit.
    #[arg(short = 'n', long = "count", value_name = "COUNT", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: u64,

    /// Keep receiving and printing messages until interrupted.
    #[arg(long, conflicts_with = "count")]
    pub(crate) follow: bool,

    /// Create each NAME first, owned by this command: the mailboxes disappear when it exits.
    #[arg(long, conflicts_with = "inbox", requires = "names")]
    pub(crate) create_owned: bool,

    /// Register this command's process as NAME while it runs, so that peers can address it.
    #[arg(long = "as", value_name = "NAME", value_parser = values::name)]
    pub(crate) register: Option<String>,

    /// Print each message as a line of JSON with its sender, type, priority and sequence number.
    #[arg(long)]
    pub(crate) json: bool,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox monitor`.
#[derive(Args, Debug)]
pub(crate) struct MonitorArgs {
    /// The process to watch: a pid, or a name registered with `recv --as`.
    #[arg(value_name = "PID|NAME", value_parser = values::process)]
    pub(crate) target: ProcessRef,

    /// Give up after this long (exit 4).
    #[arg(long, value_name = "DURATION", value_parser = values::duration,
          allow_hyphen_values = true)]
    pub(crate) timeout: Option<Duration>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox chat`.
#[derive(Args, Debug)]
pub(crate) struct ChatArgs {
    /// The name to chat as: registered for this command's process while it runs, so it must be
    /// free on the node.
    #[arg(value_name = "NAME", value_parser = values::name)]
    pub(crate) name: String,

    /// The room to join: the broadcast mailbox `chat.ROOM`, created on first use (ROOM@NODE
    /// names a room on another node).
    #[arg(long, value_name = "ROOM", default_value = "lobby", value_parser = Room::parse)]
    pub(crate) room: Room,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox timer`.
#[derive(Args, Debug)]
pub(crate) struct TimerArgs {
    /// The mailbox to post ticks to (type 101, payload `TICK MISSED`: the tick's number and how
    /// many ticks before it found the mailbox full and were folded into it).
    #[arg(value_name = "NAME", value_parser = values::mailbox)]
    pub(crate) name: String,

    /// Tick every DURATION, the first tick one DURATION after the start (at least 10ms).
    #[arg(long, value_name = "DURATION", value_parser = values::interval,
          required_unless_present = "after", conflicts_with = "after")]
    pub(crate) every: Option<Duration>,

    /// Tick once, DURATION after the start, then exit.
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub(crate) after: Option<Duration>,

    /// With --every: exit after N ticks (the last one waits for room in a full mailbox).
    #[arg(long, value_name = "N", conflicts_with = "after",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// `postbox signal`.
#[derive(Args, Debug)]
pub(crate) struct SignalArgs {
    /// The mailbox to post signals to (type 102, payload `NUMBER NAME`, e.g. `10 SIGUSR1`).
    #[arg(value_name = "NAME", value_parser = values::mailbox)]
    pub(crate) name: String,

    /// The signals to forward: names with or without SIG (SIGUSR1, usr1) or numbers. SIGINT,
    /// SIGTERM, SIGHUP and SIGQUIT stop the command unless named here.
    #[arg(value_name = "SIGNAL", required = true, value_parser = signal)]
    pub(crate) signals: Vec<postbox::events::Signal>,
    /// The node to talk to.
    #[command(flatten)]
    pub(crate) node: NodeArgs,
}

/// A signal a program may catch, by name or number.
fn signal(text: &str) -> Result<postbox::events::Signal, String> {
    let signal: postbox::events::Signal = text.parse().map_err(|e| format!("{e}"))?;
    if !signal.can_watch() {
        return Err(format!("{signal} cannot be caught by a program"));
    }
    Ok(signal)
}

/// A usage error found after parsing (a combination of flags clap cannot express), reported like
/// clap's own: on stderr with the usage line, exit 2.
pub(crate) fn usage_error(message: impl std::fmt::Display) -> anyhow::Error {
    Cli::command()
        .error(clap::error::ErrorKind::ArgumentConflict, message)
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn selectors_and_patience_flags_are_mutually_exclusive() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied());
        assert!(parse(&["postbox", "recv", "q", "--type", "1", "--max-type", "2"]).is_err());
        assert!(parse(&["postbox", "recv", "q", "--nowait", "--timeout", "1s"]).is_err());
        assert!(parse(&["postbox", "recv", "q", "--follow", "-n", "2"]).is_err());
        assert!(parse(&["postbox", "recv"]).is_err());
        assert!(parse(&["postbox", "recv", "--inbox"]).is_ok());
        assert!(parse(&["postbox", "send", "q", "--type", "0"]).is_err());
        assert!(parse(&["postbox", "set", "q"]).is_err());
    }
}
