//! What each postbox error is as an `errno`, per call, as the System V man pages name them; and
//! the wrapper of every exported function (no panic crosses into C).

use std::ffi::c_int;
use std::panic::{self, AssertUnwindSafe};

use postbox::{AdminError, OpenError, RecvError, SendErrorKind};

use crate::node_map;
use crate::sys;

/// Runs an exported function's body: its value, or -1 with `errno` set. A panic (a bug) is -1
/// with `EIO`, never an unwind into C. A mapping of queues to nodes that cannot be read fails
/// every call with `EINVAL` before its body runs (see `node_map`).
pub(crate) fn entry<T: From<i8>>(body: impl FnOnce() -> Result<T, c_int>) -> T {
    let run = || node_map::loaded().and_then(|_| body());
    let errno = match panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(value)) => return value,
        Ok(Err(errno)) => errno,
        Err(_) => libc::EIO,
    };
    sys::set_errno(errno);
    T::from(-1)
}

/// msgget(2): opening or creating a queue.
pub(crate) fn open(error: &OpenError) -> c_int {
    match error {
        OpenError::NotFound => libc::ENOENT,
        OpenError::AlreadyExists => libc::EEXIST,
        OpenError::PermissionDenied => libc::EACCES,
        OpenError::QuotaExceeded => libc::ENOSPC,
        OpenError::InvalidName | OpenError::InvalidAttributes(_) => libc::EINVAL,
        OpenError::Disconnected | OpenError::Protocol | OpenError::Refused(_) => libc::EIO,
    }
}

/// msgsnd(2). `waited`: the call could block, so a removal is `EIDRM` (removed while waiting)
/// rather than `EINVAL` (an identifier that no longer exists).
pub(crate) fn send(kind: SendErrorKind, waited: bool) -> c_int {
    match kind {
        SendErrorKind::Full | SendErrorKind::Timeout => libc::EAGAIN,
        SendErrorKind::PermissionDenied => libc::EACCES,
        SendErrorKind::Gone if waited => libc::EIDRM,
        SendErrorKind::Gone | SendErrorKind::NotFound => libc::EINVAL,
        SendErrorKind::TooLarge | SendErrorKind::WrongSize | SendErrorKind::InvalidType => {
            libc::EINVAL
        }
        SendErrorKind::QuotaExceeded => libc::ENOMEM,
        SendErrorKind::PeerGone
        | SendErrorKind::Busy
        | SendErrorKind::Dropped
        | SendErrorKind::Disconnected
        | SendErrorKind::Protocol => libc::EIO,
    }
}

/// msgrcv(2), `waited` as for [`send`].
pub(crate) fn recv(error: RecvError, waited: bool) -> c_int {
    match error {
        RecvError::Empty | RecvError::Timeout => libc::ENOMSG,
        RecvError::PermissionDenied => libc::EACCES,
        RecvError::Gone if waited => libc::EIDRM,
        RecvError::Gone => libc::EINVAL,
        RecvError::PeerGone
        | RecvError::Busy
        | RecvError::Disconnected
        | RecvError::Protocol
        | RecvError::LeaseEnded => libc::EIO,
    }
}

/// msgctl(2). `denied`: what a refusal is for this command (`EACCES` for `IPC_STAT`, `EPERM` for
/// `IPC_SET` and `IPC_RMID`).
pub(crate) fn admin(error: &AdminError, denied: c_int) -> c_int {
    match error {
        AdminError::PermissionDenied => denied,
        AdminError::Gone | AdminError::NotFound | AdminError::InvalidArgument(_) => libc::EINVAL,
        AdminError::PeerGone
        | AdminError::AlreadyExists
        | AdminError::InvalidName
        | AdminError::Disconnected
        | AdminError::Protocol
        | AdminError::Refused(_) => libc::EIO,
    }
}
