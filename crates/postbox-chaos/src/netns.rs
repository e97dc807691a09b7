//! Network namespaces for tests: two isolated hosts joined by a veth pair, a partition between
//! them made and healed with nftables, and cuts of their TCP connections with `ss -K`.

use std::ffi::OsStr;
use std::io::{self, Write as _};
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every namespace this crate makes is named `pbx-PID-N-SIDE`.
const PREFIX: &str = "pbx-";

/// The nftables table a partition lives in, inside each namespace.
const TABLE: &str = "postbox_chaos";

/// The veth end in each namespace (names are per namespace, so every pair may use the same).
const VETH: &str = "pbx0";

/// Namespaces made by this process so far, for unique names.
static MADE: AtomicU64 = AtomicU64::new(0);

/// Why a namespace, a veth pair or a partition could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A tool is not installed.
    #[error(
        "cannot {doing}: `{tool}` is not installed ({source}); install it with \
         `apt-get install {package}`"
    )]
    Missing {
        /// What was being done.
        doing: String,
        /// The program.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
        /// The error from starting it.
        source: io::Error,
    },
    /// A command ran and failed.
    #[error(
        "cannot {doing}: `{command}` failed ({status}): {stderr}; network namespaces need root \
         (or CAP_NET_ADMIN) and a kernel with veth and nftables"
    )]
    Failed {
        /// What was being done.
        doing: String,
        /// The command line.
        command: String,
        /// How it exited.
        status: String,
        /// What it said.
        stderr: String,
    },
    /// A fault that needs a [`FaultProxy`](crate::FaultProxy) in the path: namespaces can only
    /// cut and partition.
    #[error(
        "cannot play `{fault}` between network namespaces: only cuts and partitions can be; \
         put a FaultProxy in the path for the others"
    )]
    Unsupported {
        /// The fault.
        fault: crate::Fault,
    },
}

/// A network namespace of its own, deleted (with everything in it: its veth ends, its
/// nftables rules) when dropped, also when a test panics.
///
/// Processes started in it ([`command`](Netns::command)) keep it alive until they exit: kill
/// them before it is dropped (declare it before them, so that it is dropped after them).
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a namespace with a unique name (this process's pid and a counter) and its
    /// loopback up. Namespaces left by earlier runs whose process is gone are deleted first.
    ///
    /// # Errors
    ///
    /// When `ip` is missing or refuses (not root, no namespace support).
    pub fn create(side: &str) -> Result<Netns, NetnsError> {
        sweep_stale();
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}-{side}", std::process::id());
        run(
            &format!("create network namespace {name}"),
            ip(&["netns", "add", &name]),
            None,
        )?;
        let netns = Netns { name };
        netns.ip("bring up its loopback", &["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// Its name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` to be run inside this namespace (`ip netns exec NAME program`); add its
    /// arguments, environment and standard streams, then spawn it. The process is `program`
    /// itself (`ip` execs it), so killing the child kills it.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// `ip -n NAME ARGS`.
    fn ip(&self, doing: &str, args: &[&str]) -> Result<(), NetnsError> {
        let mut command = ip(&["-n", &self.name]);
        command.args(args);
        run(&format!("{doing} in {}", self.name), command, None).map(drop)
    }

    /// Runs an nftables script inside this namespace.
    fn nft(&self, doing: &str, script: &str) -> Result<(), NetnsError> {
        let mut command = self.command("nft");
        command.args(["-f", "-"]);
        run(&format!("{doing} in {}", self.name), command, Some(script)).map(drop)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Two hosts: namespaces `a` and `b` joined by a veth pair, `a` at [`A_ADDRESS`](Self::A_ADDRESS)
/// and `b` at [`B_ADDRESS`](Self::B_ADDRESS). Nothing else can reach them, nor they anything
/// else.
#[derive(Debug)]
pub struct NetnsPair {
    /// Host a.
    pub a: Netns,
    /// Host b.
    pub b: Netns,
    partitioned: bool,
}

impl NetnsPair {
    /// Host a's address.
    pub const A_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
    /// Host b's address.
    pub const B_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

    /// Makes both namespaces and the veth pair between them, addressed and up.
    ///
    /// # Errors
    ///
    /// When a namespace or the veth pair cannot be made (see [`Netns::create`]); whatever was
    /// made is removed again.
    pub fn create() -> Result<NetnsPair, NetnsError> {
        let a = Netns::create("a")?;
        let b = Netns::create("b")?;
        // Made inside a, its peer end moved straight into b: no name ever lives in the host's
        // namespace, so pairs made in parallel cannot collide.
        a.ip(
            "make a veth pair",
            &[
                "link", "add", VETH, "type", "veth", "peer", "name", VETH, "netns", &b.name,
            ],
        )?;
        for (netns, address) in [(&a, Self::A_ADDRESS), (&b, Self::B_ADDRESS)] {
            netns.ip(
                "address the veth end",
                &["addr", "add", &format!("{address}/24"), "dev", VETH],
            )?;
            netns.ip("bring the veth end up", &["link", "set", VETH, "up"])?;
        }
        Ok(NetnsPair {
            a,
            b,
            partitioned: false,
        })
    }

    /// Cuts the network between a and b: from now on every packet either way is dropped
    /// silently (nftables, in both namespaces), so open connections hang rather than fail.
    ///
    /// # Errors
    ///
    /// When `nft` is missing or refuses; a rule already added is removed again.
    pub fn partition(&mut self) -> Result<(), NetnsError> {
        if self.partitioned {
            return Ok(());
        }
        self.partitioned = true;
        for side in 0..2 {
            let (netns, peer) = match side {
                0 => (&self.a, Self::B_ADDRESS),
                _ => (&self.b, Self::A_ADDRESS),
            };
            let script = format!(
                "table inet {TABLE} {{\n\
                 \tchain input {{ type filter hook input priority 0; policy accept; ip saddr {peer} drop; }}\n\
                 \tchain output {{ type filter hook output priority 0; policy accept; ip daddr {peer} drop; }}\n\
                 }}\n"
            );
            let added = netns.nft("partition it from its peer", &script);
            if let Err(error) = added {
                let _ = self.heal();
                return Err(error);
            }
        }
        Ok(())
    }

    /// Lets packets through again (removes the partition's tables).
    ///
    /// # Errors
    ///
    /// When `nft` is missing or refuses.
    pub fn heal(&mut self) -> Result<(), NetnsError> {
        if !self.partitioned {
            return Ok(());
        }
        let mut first = None;
        for netns in [&self.a, &self.b] {
            // Added first so that the delete holds also where a half-made partition never got
            // its table (adding an existing table changes nothing).
            let script = format!("add table inet {TABLE}\ndelete table inet {TABLE}\n");
            let result = netns.nft("heal the partition", &script);
            if let Err(error) = result {
                first.get_or_insert(error);
            }
        }
        match first {
            Some(error) => Err(error),
            None => {
                self.partitioned = false;
                Ok(())
            }
        }
    }

    /// Whether a partition is in place.
    pub fn is_partitioned(&self) -> bool {
        self.partitioned
    }

    /// Cuts every established TCP connection between a and b: `ss -K` in a aborts a's end (its
    /// reads and writes fail) and sends b's end a reset. Returns how many were cut: 0 when none
    /// was open (a link between two connections, or a partition holding the reset back).
    ///
    /// # Errors
    ///
    /// When `ss` is missing or refuses (a kernel without `CONFIG_INET_DIAG_DESTROY`).
    pub fn cut(&self) -> Result<u64, NetnsError> {
        let mut command = self.a.command("ss");
        let peer = Self::B_ADDRESS.to_string();
        command.args(["-K", "-t", "-n", "-H", "state", "established", "dst", &peer]);
        let killed = run(
            &format!("cut the connections from {} to {peer}", self.a.name),
            command,
            None,
        )?;
        // One line per connection cut.
        Ok(killed
            .lines()
            .filter(|line| !line.trim().is_empty())
            .count() as u64)
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // The namespaces take their rules and veth ends with them; removing both first leaves
        // nothing behind even if a process still holds a namespace open.
        let _ = self.heal();
        let _ = self.a.ip("remove the veth pair", &["link", "del", VETH]);
    }
}

fn ip(args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command.args(args);
    command
}

/// Runs `command` (with `input` on stdin): its standard output, or what it said when it failed.
fn run(doing: &str, mut command: Command, input: Option<&str>) -> Result<String, NetnsError> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = command.spawn().and_then(|mut child| {
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input.as_bytes())?;
        }
        child.wait_with_output()
    });
    // Everything runs through `ip` (`nft` and `ss` as `ip netns exec NAME nft`): a failed spawn
    // is a missing `ip`, a missing `nft` or `ss` shows in what `ip` says.
    let missing = |source: io::Error| NetnsError::Missing {
        doing: doing.to_owned(),
        tool: "ip",
        package: "iproute2",
        source,
    };
    let Output {
        status,
        stdout,
        stderr,
    } = output.map_err(missing)?;
    if status.success() {
        return Ok(String::from_utf8_lossy(&stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
    for (tool, package) in [("nft", "nftables"), ("ss", "iproute2")] {
        if stderr.contains(&format!("exec of \"{tool}\" failed")) {
            return Err(NetnsError::Missing {
                doing: doing.to_owned(),
                tool,
                package,
                source: io::Error::new(io::ErrorKind::NotFound, stderr),
            });
        }
    }
    Err(NetnsError::Failed {
        doing: doing.to_owned(),
        command: shown,
        status: status.to_string(),
        stderr,
    })
}

/// The pid of the process that made namespace `name`, if this crate named it.
fn maker(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

/// Deletes namespaces named by this crate whose process is gone (a run killed before its drops
/// ran). Best effort: a failure here shows up as a failure to create.
fn sweep_stale() {
    let Ok(output) = ip(&["netns", "list"]).stderr(Stdio::null()).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = maker(name) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_fails_says_what_was_being_done_and_what_it_said() {
        let error = run(
            "create network namespace bad/name",
            ip(&["netns", "add", "bad/name"]),
            None,
        )
        .unwrap_err();
        let shown = error.to_string();
        assert!(matches!(error, NetnsError::Failed { .. }), "{shown}");
        assert!(
            shown.starts_with(
                "cannot create network namespace bad/name: `ip netns add bad/name` failed"
            ),
            "{shown}"
        );
        assert!(shown.contains("need root"), "{shown}");
    }

    #[test]
    fn a_missing_tool_names_the_package_to_install() {
        let error = run(
            "bring up its loopback",
            Command::new("/nonexistent/ip"),
            None,
        )
        .unwrap_err();
        let shown = error.to_string();
        assert!(matches!(error, NetnsError::Missing { .. }), "{shown}");
        assert!(shown.contains("apt-get install iproute2"), "{shown}");
    }

    #[test]
    fn the_maker_of_a_namespace_is_read_from_its_name_and_only_from_ours() {
        assert_eq!(maker("pbx-4242-7-a"), Some(4242));
        assert_eq!(maker("netns-4242-7-a"), None);
        assert_eq!(maker("pbx-x-7-a"), None);
        assert_eq!(maker("pbx-"), None);
    }
}
