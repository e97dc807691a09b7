//! POSIX message queues (`mq_open`): kernel queues of whole messages, shared by every process that
//! opens the name, so every workload maps onto them directly.

use std::ffi::CString;
use std::fmt::Display;
use std::fs;
use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::mqueue::{MQ_OFlag, MqAttr, MqdT, mq_attr_member_t};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::stat::Mode;

use super::{read_limit, unique_name, wrong_direction, wrong_role};
use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role, Workload};
use crate::peers::buffering::queue_depth;
use crate::plan::format_size;

/// The largest message a queue may be created for.
const MSGSIZE_MAX: &str = "/proc/sys/fs/mqueue/msgsize_max";
/// The deepest a queue may be created.
const MSG_MAX: &str = "/proc/sys/fs/mqueue/msg_max";
/// What the kernel charges to `RLIMIT_MSGQUEUE` per queued message beyond its bytes (a
/// `struct msg_msg` and a priority-tree node, 48 bytes each on 64-bit Linux), rounded up.
const PER_MESSAGE_OVERHEAD: u64 = 128;
/// `CAP_SYS_RESOURCE`, which lets a process raise its hard `RLIMIT_MSGQUEUE`.
const CAP_SYS_RESOURCE: u32 = 24;

/// POSIX message queues: one queue per direction, named `/postbox-bench-<pid>-<n>`.
pub(super) struct PosixMq;

/// How a case's queues are created.
struct Plan {
    /// Queues in the run: one per direction.
    queues: usize,
    /// Messages each queue holds.
    depth: usize,
    /// Bytes charged to the creating user's `RLIMIT_MSGQUEUE` for all the queues.
    charge: u64,
}

impl Plan {
    /// Sizes the queues for `case` within the kernel's current limits, or says which limit is in
    /// the way.
    fn new(case: &Case) -> io::Result<Result<Plan, String>> {
        let msgsize_max = read_limit(MSGSIZE_MAX)?;
        let msg_max = read_limit(MSG_MAX)?;
        let size = case.size as u64;
        if size > msgsize_max {
            return Ok(Err(format!(
                "a {} message exceeds fs.mqueue.msgsize_max = {msgsize_max} \
                 (benchmarks/prepare-machine raises it)",
                format_size(case.size)
            )));
        }
        let queues = match case.workload {
            Workload::PingPong => 2,
            _ => 1,
        };
        let per_message = size + PER_MESSAGE_OVERHEAD;
        let budget = rlimit_budget()?;
        let fits = budget / (queues * per_message);
        let depth = (queue_depth(case.size) as u64).min(msg_max).min(fits);
        if depth == 0 {
            return Ok(Err(format!(
                "{queues} queue(s) of one {} message need {} B of RLIMIT_MSGQUEUE, over the \
                 hard limit of {budget} B (raising it needs CAP_SYS_RESOURCE)",
                format_size(case.size),
                queues * per_message
            )));
        }
        Ok(Ok(Plan {
            queues: queues as usize,
            depth: depth as usize,
            charge: queues * depth * per_message,
        }))
    }
}

/// The most bytes of queues this process can create: its hard `RLIMIT_MSGQUEUE` (the soft limit
/// is raised to it in `prepare`), or no limit if it may raise the hard limit too.
fn rlimit_budget() -> io::Result<u64> {
    let (_, hard) =
        getrlimit(Resource::RLIMIT_MSGQUEUE).map_err(|e| os_error(e, "reading RLIMIT_MSGQUEUE"))?;
    if has_capability(CAP_SYS_RESOURCE)? {
        Ok(u64::MAX)
    } else {
        Ok(hard)
    }
}

/// Whether this process holds capability number `cap` (from `CapEff` in `/proc/self/status`).
fn has_capability(cap: u32) -> io::Result<bool> {
    let status = fs::read_to_string("/proc/self/status")?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "no CapEff in /proc/self/status")
        })?;
    Ok(effective & (1 << cap) != 0)
}

/// Raises this process's `RLIMIT_MSGQUEUE` so `charge` bytes of queues fit (the default, 800 KiB,
/// is less than one 1 MiB message).
fn raise_rlimit(charge: u64) -> io::Result<()> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_MSGQUEUE).map_err(|e| os_error(e, "reading RLIMIT_MSGQUEUE"))?;
    if soft >= charge {
        return Ok(());
    }
    let limit = hard.max(charge);
    setrlimit(Resource::RLIMIT_MSGQUEUE, limit, limit).map_err(|e| {
        os_error(
            e,
            format_args!("raising RLIMIT_MSGQUEUE from {soft} to {limit} bytes"),
        )
    })
}

/// `e` as an `io::Error` of the same kind, saying what failed.
fn os_error(e: Errno, context: impl Display) -> io::Error {
    io::Error::new(io::Error::from(e).kind(), format!("{context}: {e}"))
}

/// Unlinks the run's queues when the run is over.
struct Unlink(Vec<CString>);

impl Drop for Unlink {
    fn drop(&mut self) {
        for name in &self.0 {
            // Already gone is fine: nothing else to do if unlinking fails while tearing down.
            let _ = nix::mqueue::mq_unlink(name.as_c_str());
        }
    }
}

/// An open queue descriptor, closed on drop (nix's `MqdT` does not close itself).
struct Queue(Option<MqdT>);

impl Queue {
    fn open(name: &str, flags: MQ_OFlag) -> io::Result<Queue> {
        let mqd = nix::mqueue::mq_open(name, flags, Mode::empty(), None)
            .map_err(|e| os_error(e, format_args!("opening POSIX queue {name}")))?;
        Ok(Queue(Some(mqd)))
    }

    fn mqd(&self) -> io::Result<&MqdT> {
        self.0
            .as_ref()
            .ok_or_else(|| io::Error::other("queue already closed"))
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if let Some(mqd) = self.0.take() {
            let _ = nix::mqueue::mq_close(mqd);
        }
    }
}

/// Creates queue `name`, replacing a stale one left by a dead process that had our pid.
fn create(name: &CString, attr: &MqAttr) -> io::Result<()> {
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let mode = Mode::S_IRUSR | Mode::S_IWUSR;
    let open = || nix::mqueue::mq_open(name.as_c_str(), flags, mode, Some(attr));
    let mqd = match open() {
        Err(Errno::EEXIST) => {
            let _ = nix::mqueue::mq_unlink(name.as_c_str());
            open()
        }
        other => other,
    }
    .map_err(|e| {
        os_error(
            e,
            format_args!(
                "creating POSIX queue {name:?} ({} messages of {} bytes)",
                attr.maxmsg(),
                attr.msgsize()
            ),
        )
    })?;
    nix::mqueue::mq_close(mqd).map_err(|e| os_error(e, "closing a new POSIX queue"))
}

impl Mechanism for PosixMq {
    fn name(&self) -> String {
        "posix mq".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        match Plan::new(case) {
            Ok(Ok(_)) => None,
            Ok(Err(why)) => Some(why),
            Err(e) => Some(format!("cannot read the POSIX queue limits: {e}")),
        }
    }

    fn prepare(&self, case: &Case, _scratch: &Path) -> io::Result<Prepared> {
        let plan = Plan::new(case)?.map_err(io::Error::other)?;
        raise_rlimit(plan.charge)?;
        let names = (0..plan.queues)
            .map(|_| unique_name("/postbox-bench"))
            .collect::<Vec<_>>();
        let address = names.join(" ");
        let names = names
            .into_iter()
            .map(|name| CString::new(name).map_err(io::Error::other))
            .collect::<io::Result<Vec<_>>>()?;
        let attr = MqAttr::new(
            0,
            plan.depth as mq_attr_member_t,
            case.size as mq_attr_member_t,
            0,
        );
        // The guard exists before the first queue, so a failure halfway unlinks what was made.
        let guard = Unlink(names);
        for name in &guard.0 {
            create(name, &attr)?;
        }
        Ok(Prepared {
            address,
            guard: Box::new(guard),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let names = address.split(' ').collect::<Vec<_>>();
        let queue = |i: usize, flags| {
            let name = names.get(i).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("address {address:?} names no queue {i}"),
                )
            })?;
            Queue::open(name, flags)
        };
        let (tx, rx) = match (case.workload, role) {
            // Queue 0 carries pings, queue 1 pongs.
            (Workload::PingPong, Role::Pinger) => (Some(0), Some(1)),
            (Workload::PingPong, Role::Ponger) => (Some(1), Some(0)),
            (Workload::PingPong, _) => return Err(wrong_role(case.workload, role)),
            (_, Role::Producer { .. }) => (Some(0), None),
            (_, Role::Consumer { .. }) => (None, Some(0)),
            (_, _) => return Err(wrong_role(case.workload, role)),
        };
        Ok(Box::new(MqEndpoint {
            tx: tx.map(|i| queue(i, MQ_OFlag::O_WRONLY)).transpose()?,
            rx: rx.map(|i| queue(i, MQ_OFlag::O_RDONLY)).transpose()?,
            size: case.size,
        }))
    }
}

/// One role's queues.
struct MqEndpoint {
    tx: Option<Queue>,
    rx: Option<Queue>,
    /// The queues' message size, which `mq_receive` insists the buffer can hold.
    size: usize,
}

impl Endpoint for MqEndpoint {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        let tx = self.tx.as_ref().ok_or_else(|| wrong_direction("send"))?;
        loop {
            match nix::mqueue::mq_send(tx.mqd()?, message, 0) {
                Err(Errno::EINTR) => continue,
                result => return result.map_err(|e| os_error(e, "mq_send")),
            }
        }
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let rx = self.rx.as_ref().ok_or_else(|| wrong_direction("receive"))?;
        // Only grows (zeroing) once: afterwards `buf` already has the queues' message size.
        buf.resize(self.size, 0);
        let mut priority = 0;
        loop {
            match nix::mqueue::mq_receive(rx.mqd()?, buf, &mut priority) {
                Err(Errno::EINTR) => continue,
                Ok(len) => {
                    buf.truncate(len);
                    return Ok(());
                }
                Err(e) => return Err(os_error(e, "mq_receive")),
            }
        }
    }
}
