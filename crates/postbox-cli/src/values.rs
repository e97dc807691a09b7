//! Parsers for the values flags take — durations, byte sizes, modes, capacities, size rules,
//! process references — and the one set of spellings they share with the output.
//!
//! Each parser returns a plain `String` error that clap reports as a usage error (exit 2), so a
//! malformed value never reaches the daemon.

use std::time::Duration;

use postbox_core::{Credentials, MessageSize, Mode, Name, Pid};
use postbox_wire::link::NodeName;

/// A duration such as `500ms`, `2s`, `1.5s`, `1m` or `1h` (also `us` and `ns`).
///
/// A unit is required: a bare `5` could mean seconds or milliseconds, so it is refused. A
/// negative one is refused as such (the flags taking durations accept values starting with `-`
/// so that this, not clap's `-- -1` tip, is what the user reads).
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    if text
        .strip_prefix('-')
        .is_some_and(|magnitude| magnitude.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
    {
        return Err(format!(
            "invalid duration {text:?}: a duration cannot be negative (0s is the shortest)"
        ));
    }
    let invalid =
        || format!("invalid duration {text:?}: expected a number and a unit, like 500ms, 2s or 1m");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let unit_seconds = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(number * unit_seconds).map_err(|_| invalid())
}

/// A refresh interval: a [`duration`] of at least 10ms.
///
/// # Errors
///
/// As [`duration`]; and for anything shorter than 10ms.
pub(crate) fn interval(text: &str) -> Result<Duration, String> {
    let interval = duration(text)?;
    if interval < Duration::from_millis(10) {
        return Err(format!("invalid interval {text:?}: the shortest is 10ms"));
    }
    Ok(interval)
}

/// The binary multiples byte sizes are written in, largest first.
const BYTE_UNITS: [(&str, usize); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];

/// A byte count: a plain number, or a number with a binary unit (`64KiB`, `1MiB`, `2GiB`; `K`, `M`,
/// `G` and a trailing `B` are accepted too).
pub(crate) fn bytes(text: &str) -> Result<usize, String> {
    let invalid = || {
        format!("invalid byte size {text:?}: expected a number, optionally with KiB, MiB or GiB")
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| invalid())?;
    let multiple = match unit {
        "" | "B" => 1,
        "K" | "k" | "KB" | "KiB" => 1 << 10,
        "M" | "m" | "MB" | "MiB" => 1 << 20,
        "G" | "g" | "GB" | "GiB" => 1 << 30,
        _ => return Err(invalid()),
    };
    number.checked_mul(multiple).ok_or_else(invalid)
}

/// Writes a byte count the way [`bytes`] reads it: in the largest binary unit that divides it
/// exactly (`1MiB`, `64KiB`), else in bytes (`1000B`).
pub(crate) fn show_bytes(count: usize) -> String {
    BYTE_UNITS
        .iter()
        .find(|(_, unit)| count != 0 && count % unit == 0)
        .map_or_else(
            || format!("{count}B"),
            |(name, unit)| format!("{}{name}", count / unit),
        )
}

/// Permission bits in octal: `0660`, `660` or `0o660`.
pub(crate) fn mode(text: &str) -> Result<Mode, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u16::from_str_radix(digits, 8) {
        Ok(bits) if bits <= 0o777 && !digits.is_empty() => Ok(Mode::new(bits)),
        _ => Err(format!(
            "invalid mode {text:?}: expected octal permission bits like 0660"
        )),
    }
}

/// A name this node keeps, such as a process's registered name: 1 to 255 bytes
/// of letters, digits and `. _ / -`, with no `@NODE` (such names live on the node the command
/// talks to).
pub(crate) fn name(text: &str) -> Result<String, String> {
    if let Some((local, node)) = text.rsplit_once('@')
        && Name::new(local).is_ok()
        && NodeName::new(node).is_ok()
    {
        return Err(format!(
            "{text:?}: a name here has no @{node}: a process registers its name on the node \
             it is connected to (the daemon --url names), where NAME@THATNODE finds it"
        ));
    }
    Name::new(text)
        .map(|name| name.as_str().to_owned())
        .map_err(|e| format!("{text:?}: {e}"))
}

/// A mailbox: `NAME` on the node the command talks to, or `NAME@NODE` on node NODE (NAME 1 to
/// 255 bytes of letters, digits and `. _ / -`; NODE 1 to 64 of letters, digits and `. _ -`).
pub(crate) fn mailbox(text: &str) -> Result<String, String> {
    let Some((local, node)) = text.rsplit_once('@') else {
        return name(text);
    };
    Name::new(local).map_err(|e| format!("{text:?}: {e}"))?;
    NodeName::new(node).map_err(|e| format!("{text:?}: invalid node name {node:?}: {e}"))?;
    Ok(text.to_owned())
}

/// A postbox URL: `unix:///PATH`, `tcp://HOST:PORT`, `tls://HOST:PORT[?OPTIONS]` or
/// `inproc://[NAME]`.
pub(crate) fn url(text: &str) -> Result<String, String> {
    text.parse::<postbox::Url>()
        .map(|_| text.to_owned())
        .map_err(|e| e.to_string())
}

/// Where a daemon listens for network clients: `tcp://ADDR:PORT` or `tls://ADDR:PORT`, kept as
/// written.
pub(crate) fn listen(text: &str) -> Result<String, String> {
    let address = text
        .strip_prefix("tcp://")
        .or_else(|| text.strip_prefix("tls://"));
    match address.map(|address| tcp_listen(&format!("tcp://{address}"))) {
        Some(Ok(_)) => Ok(text.to_owned()),
        _ => Err(format!(
            "invalid listen address {text:?}: expected tcp://ADDR:PORT or tls://ADDR:PORT"
        )),
    }
}

/// A node name (`--node`): 1 to 64 bytes of letters, digits, '.', '_' and '-'.
pub(crate) fn node_name(text: &str) -> Result<String, String> {
    NodeName::new(text)
        .map(|name| name.as_str().to_owned())
        .map_err(|e| format!("invalid node name {text:?}: {e}"))
}

/// Where a daemon listens for other nodes: `ADDR:PORT` (node links are always TLS).
pub(crate) fn node_listen(text: &str) -> Result<String, String> {
    tcp_listen(&format!("tcp://{text}"))
        .map(|_| text.to_owned())
        .map_err(|_| format!("invalid node listen address {text:?}: expected ADDR:PORT"))
}

/// A peer node: `NAME=HOST:PORT`.
pub(crate) fn peer(text: &str) -> Result<postbox_daemon::PeerAddress, String> {
    text.parse().map_err(|e| format!("{e}"))
}

/// A fixed identity for a peer node's processes: `NAME=UID:GID`.
pub(crate) fn peer_identity(
    text: &str,
) -> Result<(postbox_wire::link::NodeName, postbox_core::Credentials), String> {
    let form = || {
        format!("invalid peer identity {text:?}: expected NAME=UID:GID, e.g. node-b=65534:65534")
    };
    let (name, creds) = text.split_once('=').ok_or_else(form)?;
    let name = postbox_wire::link::NodeName::new(name).map_err(|e| format!("{}: {e}", form()))?;
    let creds = identity(creds).map_err(|_| form())?;
    Ok((name, creds))
}

/// The uid and gid network clients act as: `UID:GID`, both numbers.
pub(crate) fn identity(text: &str) -> Result<postbox_core::Credentials, String> {
    let parsed = text
        .split_once(':')
        .and_then(|(uid, gid)| Some((uid.parse().ok()?, gid.parse().ok()?)));
    match parsed {
        Some((uid, gid)) => Ok(postbox_core::Credentials::new(uid, gid)),
        None => Err(format!(
            "invalid identity {text:?}: expected UID:GID, two numbers (e.g. 65534:65534)"
        )),
    }
}

/// The TCP address a daemon listens on: `tcp://ADDR:PORT`, returned as `ADDR:PORT`.
pub(crate) fn tcp_listen(text: &str) -> Result<String, String> {
    match text.parse::<postbox::Url>() {
        Ok(postbox::Url::Tcp(address)) => Ok(address),
        _ => Err(format!(
            "invalid listen address {text:?}: expected tcp://ADDR:PORT"
        )),
    }
}

/// How many messages a mailbox buffers, as `create --capacity` spells it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CapacityArg {
    /// `zero`: a rendezvous.
    Zero,
    /// `N`: at most N messages.
    Messages(usize),
    /// `unbounded`: no per-mailbox limit.
    Unbounded,
}

/// A capacity: `zero`, a number of messages (at least 1), or `unbounded`.
pub(crate) fn capacity(text: &str) -> Result<CapacityArg, String> {
    match text {
        "zero" | "0" => Ok(CapacityArg::Zero),
        "unbounded" => Ok(CapacityArg::Unbounded),
        _ => text.parse().map(CapacityArg::Messages).map_err(|_| {
            format!("invalid capacity {text:?}: expected zero, a number of messages, or unbounded")
        }),
    }
}

/// A size rule: `fixed:N` (every message exactly N bytes) or `max:N` (at most N bytes).
pub(crate) fn size(text: &str) -> Result<MessageSize, String> {
    let invalid = || format!("invalid size rule {text:?}: expected fixed:N or max:N");
    let (rule, count) = text.split_once(':').ok_or_else(invalid)?;
    let count = bytes(count)?;
    match rule {
        "fixed" => Ok(MessageSize::Fixed(count)),
        "max" => Ok(MessageSize::Variable(count)),
        _ => Err(invalid()),
    }
}

/// A new owner for `set --owner`: `UID` or `UID:GID`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct OwnerArg {
    /// The user id.
    pub(crate) uid: u32,
    /// The group id, when given; otherwise the mailbox keeps its group.
    pub(crate) gid: Option<u32>,
}

impl OwnerArg {
    /// The credentials to own the mailbox, keeping `current_gid` when no group was given.
    pub(crate) fn credentials(self, current_gid: u32) -> Credentials {
        Credentials::new(self.uid, self.gid.unwrap_or(current_gid))
    }
}

/// `UID` or `UID:GID`, numeric.
pub(crate) fn owner(text: &str) -> Result<OwnerArg, String> {
    let invalid = || format!("invalid owner {text:?}: expected a numeric UID or UID:GID");
    let (uid, gid) = match text.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid.parse().map_err(|_| invalid())?)),
        None => (text, None),
    };
    Ok(OwnerArg {
        uid: uid.parse().map_err(|_| invalid())?,
        gid,
    })
}

/// A process, by pid or by registered name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum ProcessRef {
    /// A pid.
    Pid(Pid),
    /// A name some process registered (`recv --as NAME`), looked up when the command runs;
    /// `NAME@NODE` is looked up on node NODE, and stands for its process through a local pid.
    Name(String),
}

impl std::fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessRef::Pid(pid) => write!(f, "pid {pid}"),
            ProcessRef::Name(name) => write!(f, "process {name:?}"),
        }
    }
}

/// A pid (all digits), a registered process name, or `NAME@NODE` for one registered on node
/// NODE.
pub(crate) fn process(text: &str) -> Result<ProcessRef, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(|raw| ProcessRef::Pid(Pid::from_raw(raw)))
            .map_err(|_| format!("invalid pid {text:?}"));
    }
    mailbox(text).map(ProcessRef::Name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_identity_is_a_node_name_and_two_numbers() {
        let (name, creds) = peer_identity("node-b=65534:100").unwrap();
        assert_eq!(
            (name.as_str(), creds),
            ("node-b", postbox_core::Credentials::new(65534, 100))
        );
        for bad in ["node-b", "=1:2", "b=1", "b=x:2", "a b=1:2", "b=1:2:3"] {
            let error = peer_identity(bad).unwrap_err();
            assert!(error.contains("NAME=UID:GID"), "{bad}: {error}");
        }
    }

    #[test]
    fn listen_addresses_are_tcp_or_tls_and_identities_two_numbers() {
        assert_eq!(
            listen("tls://0.0.0.0:7070").as_deref(),
            Ok("tls://0.0.0.0:7070")
        );
        assert_eq!(
            listen("tcp://127.0.0.1:0").as_deref(),
            Ok("tcp://127.0.0.1:0")
        );
        for bad in ["tls://host", "http://h:1", "tls://h:1?ca=/x", "127.0.0.1:1"] {
            assert!(listen(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            identity("65534:100"),
            Ok(postbox_core::Credentials::new(65534, 100))
        );
        for bad in ["", "1", "1:", ":1", "a:b", "1:2:3", "-1:0"] {
            assert!(identity(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_need_a_unit_and_read_every_unit() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "1x", "-1s", "1.2.3s", "ms500", "--nowait"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
        for negative in ["-1s", "-0.5ms", "-.5s", "-5"] {
            let error = duration(negative).unwrap_err();
            assert!(
                error.contains("cannot be negative"),
                "{negative:?}: {error}"
            );
        }
    }

    #[test]
    fn byte_sizes_round_trip_through_their_display() {
        assert_eq!(bytes("1024"), Ok(1024));
        assert_eq!(bytes("64KiB"), Ok(64 << 10));
        assert_eq!(bytes("1M"), Ok(1 << 20));
        assert_eq!(bytes("2GB"), Ok(2 << 30));
        for bad in ["", "K", "1T", "1.5M", "-1"] {
            assert!(bytes(bad).is_err(), "{bad:?}");
        }
        for count in [0, 1, 1000, 1024, 64 << 10, 1 << 20, 3 << 30, (1 << 20) + 1] {
            assert_eq!(bytes(&show_bytes(count)), Ok(count), "{count}");
        }
        assert_eq!(show_bytes(1 << 20), "1MiB");
        assert_eq!(show_bytes(1000), "1000B");
    }

    #[test]
    fn modes_are_octal_permission_bits_only() {
        assert_eq!(mode("0660"), Ok(Mode::new(0o660)));
        assert_eq!(mode("600"), Ok(Mode::new(0o600)));
        assert_eq!(mode("0o644"), Ok(Mode::new(0o644)));
        for bad in ["", "0o", "0800", "1777", "rw", "-1"] {
            assert!(mode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capacities_sizes_and_owners_parse_their_documented_forms() {
        assert_eq!(capacity("zero"), Ok(CapacityArg::Zero));
        assert_eq!(capacity("8"), Ok(CapacityArg::Messages(8)));
        assert_eq!(capacity("unbounded"), Ok(CapacityArg::Unbounded));
        assert!(capacity("lots").is_err());
        assert_eq!(size("fixed:16"), Ok(MessageSize::Fixed(16)));
        assert_eq!(size("max:64KiB"), Ok(MessageSize::Variable(64 << 10)));
        assert!(size("exact:3").is_err());
        assert!(size("max").is_err());
        assert_eq!(
            owner("1000"),
            Ok(OwnerArg {
                uid: 1000,
                gid: None
            })
        );
        assert_eq!(
            owner("1000:100"),
            Ok(OwnerArg {
                uid: 1000,
                gid: Some(100)
            })
        );
        assert!(owner("alice").is_err());
        assert!(owner("1:").is_err());
    }

    #[test]
    fn a_process_is_a_pid_when_all_digits_and_a_name_otherwise() {
        assert_eq!(process("42"), Ok(ProcessRef::Pid(Pid::from_raw(42))));
        assert_eq!(process("worker-1"), Ok(ProcessRef::Name("worker-1".into())));
        assert!(process("no spaces").is_err());
        assert!(process("").is_err());
        assert_eq!(process("alice@b"), Ok(ProcessRef::Name("alice@b".into())));
        assert!(process("alice@no such node").is_err());
    }

    #[test]
    fn mailboxes_may_name_their_node_and_local_names_may_not() {
        assert_eq!(mailbox("jobs").as_deref(), Ok("jobs"));
        assert_eq!(mailbox("jobs@node-b").as_deref(), Ok("jobs@node-b"));
        for bad in ["jobs@", "@b", "jobs@b@c", "two words@b", "jobs@b c", ""] {
            assert!(mailbox(bad).is_err(), "{bad:?}");
        }
        let error = name("alice@b").unwrap_err();
        assert!(
            error.contains("registers its name on the node it is connected to"),
            "{error}"
        );
        assert!(name("alice@").unwrap_err().contains("letters, digits"));
    }

    #[test]
    fn urls_are_checked_before_anything_connects() {
        assert!(url("unix:///run/pb.sock").is_ok());
        assert!(url("tcp://localhost:7070").is_ok());
        assert!(url("http://x").is_err());
        assert_eq!(tcp_listen("tcp://0.0.0.0:7070"), Ok("0.0.0.0:7070".into()));
        assert!(tcp_listen("unix:///x").is_err());
    }
}
