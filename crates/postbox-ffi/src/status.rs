//! Status codes: what every C function returns, and the error that carries one with its text.
//!
//! The codes are the library's error vocabulary (docs/semantics.md "Errors") flattened into one
//! enum, because C has one `int` where Rust has one error type per operation; the text of the
//! failure (`postbox_last_error`) keeps the operation's own words.

use std::ffi::c_int;

use postbox_lib::{
    AdminError, ConnectError, OpenError, RecvError, SelectError, SendError, SendErrorKind,
};

/// What a postbox C function reports: `POSTBOX_STATUS_OK` (0) on success, else the reason it failed.
///
/// Functions return these values as an `int`; `postbox_last_error()` then has the text.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxStatus {
    /// Success.
    Ok = 0,
    /// No such process (never existed), mailbox name, or registered name.
    NotFound = 1,
    /// A mailbox (create) or registered name (register) already exists.
    AlreadyExists = 2,
    /// The mode, receive rights or ownership do not allow this.
    PermissionDenied = 3,
    /// Full and the send was not allowed to wait (with zero capacity: no receiver waiting).
    Full = 4,
    /// Nothing matching was queued and the receive was not allowed to wait.
    Empty = 5,
    /// The timeout passed first; a send's message was not delivered.
    Timeout = 6,
    /// The payload is larger than the mailbox's size rule, byte capacity or the node's maximum.
    TooLarge = 7,
    /// The payload is not exactly a fixed-size mailbox's size.
    WrongSize = 8,
    /// The message type is below 1.
    InvalidType = 9,
    /// The mailbox was deleted (before or while waiting).
    Gone = 10,
    /// The peer process (a destination, a `from` sender, the other end of a pair) has terminated.
    PeerGone = 11,
    /// Another process holds the exclusive or pair right.
    Busy = 12,
    /// A quota (queued bytes on the node, mailboxes of a user) would be exceeded.
    QuotaExceeded = 13,
    /// A drop-oldest mailbox discarded the message before anyone received it (receipts only).
    Dropped = 14,
    /// A mailbox or process name breaks the naming rule (1 to 255 bytes of `[A-Za-z0-9._/-]`).
    InvalidName = 15,
    /// Mailbox attributes that contradict each other or the node's limits (create).
    InvalidAttributes = 16,
    /// A bad argument: a null pointer, text that is not UTF-8, an unknown enum value, a buffer
    /// too small, or a request that does not apply to this mailbox.
    InvalidArgument = 17,
    /// An acknowledgement came after the lease had ended: the message may be delivered again.
    LeaseEnded = 18,
    /// The calling process has terminated, or its connection to the daemon was lost.
    Disconnected = 19,
    /// The daemon broke the protocol.
    Protocol = 20,
    /// Not a postbox URL (`inproc://[NAME]`, `unix:///PATH`, `tcp://HOST:PORT`).
    InvalidUrl = 21,
    /// The daemon could not be reached (no socket there, connection refused, ...).
    Unreachable = 22,
    /// The daemon refused the connection (wrong token, no common protocol version).
    Handshake = 23,
    /// The token is empty, too long, or its file unreadable.
    InvalidToken = 24,
    /// Not a live handle of the expected kind: never made, already freed, or of another kind.
    BadHandle = 25,
    /// A bug in libpostbox: it was caught before it could cross into C; the text says where.
    Internal = 26,
}

impl PostboxStatus {
    /// Every status, in code order (for `postbox_status_name` and the tests).
    pub(crate) const ALL: [PostboxStatus; 27] = [
        PostboxStatus::Ok,
        PostboxStatus::NotFound,
        PostboxStatus::AlreadyExists,
        PostboxStatus::PermissionDenied,
        PostboxStatus::Full,
        PostboxStatus::Empty,
        PostboxStatus::Timeout,
        PostboxStatus::TooLarge,
        PostboxStatus::WrongSize,
        PostboxStatus::InvalidType,
        PostboxStatus::Gone,
        PostboxStatus::PeerGone,
        PostboxStatus::Busy,
        PostboxStatus::QuotaExceeded,
        PostboxStatus::Dropped,
        PostboxStatus::InvalidName,
        PostboxStatus::InvalidAttributes,
        PostboxStatus::InvalidArgument,
        PostboxStatus::LeaseEnded,
        PostboxStatus::Disconnected,
        PostboxStatus::Protocol,
        PostboxStatus::InvalidUrl,
        PostboxStatus::Unreachable,
        PostboxStatus::Handshake,
        PostboxStatus::InvalidToken,
        PostboxStatus::BadHandle,
        PostboxStatus::Internal,
    ];

    /// The status an `int` names, if any.
    pub(crate) fn from_code(code: c_int) -> Option<PostboxStatus> {
        usize::try_from(code)
            .ok()
            .and_then(|index| PostboxStatus::ALL.get(index).copied())
    }

    /// The C name of the status, as in postbox.h, NUL-terminated for C.
    pub(crate) fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            PostboxStatus::Ok => c"POSTBOX_STATUS_OK",
            PostboxStatus::NotFound => c"POSTBOX_STATUS_NOT_FOUND",
            PostboxStatus::AlreadyExists => c"POSTBOX_STATUS_ALREADY_EXISTS",
            PostboxStatus::PermissionDenied => c"POSTBOX_STATUS_PERMISSION_DENIED",
            PostboxStatus::Full => c"POSTBOX_STATUS_FULL",
            PostboxStatus::Empty => c"POSTBOX_STATUS_EMPTY",
            PostboxStatus::Timeout => c"POSTBOX_STATUS_TIMEOUT",
            PostboxStatus::TooLarge => c"POSTBOX_STATUS_TOO_LARGE",
            PostboxStatus::WrongSize => c"POSTBOX_STATUS_WRONG_SIZE",
            PostboxStatus::InvalidType => c"POSTBOX_STATUS_INVALID_TYPE",
            PostboxStatus::Gone => c"POSTBOX_STATUS_GONE",
            PostboxStatus::PeerGone => c"POSTBOX_STATUS_PEER_GONE",
            PostboxStatus::Busy => c"POSTBOX_STATUS_BUSY",
            PostboxStatus::QuotaExceeded => c"POSTBOX_STATUS_QUOTA_EXCEEDED",
            PostboxStatus::Dropped => c"POSTBOX_STATUS_DROPPED",
            PostboxStatus::InvalidName => c"POSTBOX_STATUS_INVALID_NAME",
            PostboxStatus::InvalidAttributes => c"POSTBOX_STATUS_INVALID_ATTRIBUTES",
            PostboxStatus::InvalidArgument => c"POSTBOX_STATUS_INVALID_ARGUMENT",
            PostboxStatus::LeaseEnded => c"POSTBOX_STATUS_LEASE_ENDED",
            PostboxStatus::Disconnected => c"POSTBOX_STATUS_DISCONNECTED",
            PostboxStatus::Protocol => c"POSTBOX_STATUS_PROTOCOL",
            PostboxStatus::InvalidUrl => c"POSTBOX_STATUS_INVALID_URL",
            PostboxStatus::Unreachable => c"POSTBOX_STATUS_UNREACHABLE",
            PostboxStatus::Handshake => c"POSTBOX_STATUS_HANDSHAKE",
            PostboxStatus::InvalidToken => c"POSTBOX_STATUS_INVALID_TOKEN",
            PostboxStatus::BadHandle => c"POSTBOX_STATUS_BAD_HANDLE",
            PostboxStatus::Internal => c"POSTBOX_STATUS_INTERNAL",
        }
    }
}

/// A failure on its way to C: the status to return and the text for `postbox_last_error`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Error {
    pub(crate) status: PostboxStatus,
    pub(crate) text: String,
}

/// What every C entry point's body returns.
pub(crate) type Outcome<T = ()> = Result<T, Error>;

impl Error {
    pub(crate) fn new(status: PostboxStatus, text: impl Into<String>) -> Error {
        Error {
            status,
            text: text.into(),
        }
    }

    /// A bad argument, described.
    pub(crate) fn invalid(text: impl Into<String>) -> Error {
        Error::new(PostboxStatus::InvalidArgument, text)
    }

    /// A null pointer where `what` was required.
    pub(crate) fn null(what: &str) -> Error {
        Error::invalid(format!("{what} is a null pointer"))
    }
}

impl From<SendError> for Error {
    fn from(error: SendError) -> Error {
        let status = match error.kind() {
            SendErrorKind::NotFound => PostboxStatus::NotFound,
            SendErrorKind::PermissionDenied => PostboxStatus::PermissionDenied,
            SendErrorKind::Full => PostboxStatus::Full,
            SendErrorKind::Timeout => PostboxStatus::Timeout,
            SendErrorKind::TooLarge => PostboxStatus::TooLarge,
            SendErrorKind::WrongSize => PostboxStatus::WrongSize,
            SendErrorKind::InvalidType => PostboxStatus::InvalidType,
            SendErrorKind::Gone => PostboxStatus::Gone,
            SendErrorKind::PeerGone => PostboxStatus::PeerGone,
            SendErrorKind::Busy => PostboxStatus::Busy,
            SendErrorKind::QuotaExceeded => PostboxStatus::QuotaExceeded,
            SendErrorKind::Dropped => PostboxStatus::Dropped,
            SendErrorKind::Disconnected => PostboxStatus::Disconnected,
            SendErrorKind::Protocol => PostboxStatus::Protocol,
        };
        Error::new(status, error.to_string())
    }
}

impl From<RecvError> for Error {
    fn from(error: RecvError) -> Error {
        let status = match error {
            RecvError::PermissionDenied => PostboxStatus::PermissionDenied,
            RecvError::Empty => PostboxStatus::Empty,
            RecvError::Timeout => PostboxStatus::Timeout,
            RecvError::Gone => PostboxStatus::Gone,
            RecvError::PeerGone => PostboxStatus::PeerGone,
            RecvError::Busy => PostboxStatus::Busy,
            RecvError::Disconnected => PostboxStatus::Disconnected,
            RecvError::Protocol => PostboxStatus::Protocol,
            RecvError::LeaseEnded => PostboxStatus::LeaseEnded,
        };
        Error::new(status, format!("receive failed: {error}"))
    }
}

impl From<SelectError> for Error {
    fn from(error: SelectError) -> Error {
        Error {
            text: error.to_string(),
            ..Error::from(error.error)
        }
    }
}

impl From<OpenError> for Error {
    fn from(error: OpenError) -> Error {
        let status = match &error {
            OpenError::NotFound => PostboxStatus::NotFound,
            OpenError::AlreadyExists => PostboxStatus::AlreadyExists,
            OpenError::PermissionDenied => PostboxStatus::PermissionDenied,
            OpenError::InvalidName => PostboxStatus::InvalidName,
            OpenError::InvalidAttributes(_) => PostboxStatus::InvalidAttributes,
            OpenError::QuotaExceeded => PostboxStatus::QuotaExceeded,
            OpenError::Disconnected => PostboxStatus::Disconnected,
            OpenError::Protocol | OpenError::Refused(_) => PostboxStatus::Protocol,
        };
        Error::new(status, error.to_string())
    }
}

impl From<AdminError> for Error {
    fn from(error: AdminError) -> Error {
        let status = match &error {
            AdminError::NotFound => PostboxStatus::NotFound,
            AdminError::PermissionDenied => PostboxStatus::PermissionDenied,
            AdminError::Gone => PostboxStatus::Gone,
            AdminError::PeerGone => PostboxStatus::PeerGone,
            AdminError::AlreadyExists => PostboxStatus::AlreadyExists,
            AdminError::InvalidName => PostboxStatus::InvalidName,
            AdminError::InvalidArgument(_) => PostboxStatus::InvalidArgument,
            AdminError::Disconnected => PostboxStatus::Disconnected,
            AdminError::Protocol | AdminError::Refused(_) => PostboxStatus::Protocol,
        };
        Error::new(status, error.to_string())
    }
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Error {
        let status = match &error {
            ConnectError::InvalidUrl(_) => PostboxStatus::InvalidUrl,
            ConnectError::Io(_) => PostboxStatus::Unreachable,
            ConnectError::Handshake(_) | ConnectError::Tls(_) => PostboxStatus::Handshake,
            ConnectError::InvalidToken(_) => PostboxStatus::InvalidToken,
        };
        Error::new(status, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_index_and_names_follow_the_variants() {
        for (index, status) in PostboxStatus::ALL.iter().enumerate() {
            assert_eq!(*status as usize, index);
            assert_eq!(PostboxStatus::from_code(*status as c_int), Some(*status));
            let name = status.c_name().to_str().unwrap();
            let expected = format!("{status:?}")
                .chars()
                .flat_map(|c| {
                    let upper = c.to_ascii_uppercase();
                    if c.is_ascii_uppercase() {
                        vec!['_', upper]
                    } else {
                        vec![upper]
                    }
                })
                .collect::<String>();
            assert_eq!(name, format!("POSTBOX_STATUS{expected}"));
        }
        assert_eq!(PostboxStatus::from_code(-1), None);
        assert_eq!(PostboxStatus::from_code(27), None);
    }
}
