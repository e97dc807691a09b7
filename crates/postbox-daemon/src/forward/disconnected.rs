//! The answer to a forwarded request whose node went down, or could not be reached, before it
//! answered: each request's own failure with the kind `Disconnected` and its message handed back.
//!
//! The outcome is *indeterminate*: the node may have carried the request out before it went.

use postbox_core::{
    AdminError, CallError, CallErrorKind, OpenError, RecvError, ReplyError, SelectError, SendError,
    SendErrorKind,
};
use postbox_wire::{Request, Response};

/// `request`'s failure as `Disconnected`, what it carried handed back.
pub(crate) fn disconnected(request: Request) -> Response {
    let admin = || Response::AdminFailed(AdminError::Disconnected);
    let recv = || {
        Response::RecvFailed(SelectError {
            branch: 0,
            error: RecvError::Disconnected,
        })
    };
    match request {
        Request::Send { message, .. } | Request::ProducerSend { message, .. } => {
            Response::SendFailed(SendError::new(SendErrorKind::Disconnected, message))
        }
        Request::SendBatch { messages, .. } => {
            let mut messages = messages.into_iter();
            let failed = match messages.next() {
                Some(first) => SendError::new(SendErrorKind::Disconnected, first),
                None => SendError::without_message(SendErrorKind::Disconnected),
            };
            Response::SentBatch {
                sent: 0,
                failed: Some(failed),
                unsent: messages.collect(),
            }
        }
        Request::Call { request, .. } => {
            Response::CallFailed(CallError::new(CallErrorKind::Disconnected, request))
        }
        Request::Reply { .. } => Response::ReplyFailed(ReplyError::Disconnected),
        Request::Create { .. } | Request::Open { .. } | Request::OpenOrCreate { .. } => {
            Response::OpenFailed(OpenError::Disconnected)
        }
        Request::Recv { .. }
        | Request::RecvMany { .. }
        | Request::Lease { .. }
        | Request::Settle { .. }
        | Request::Peek { .. } => recv(),
        Request::Whereis { .. } => Response::Whereis(None),
        Request::LendRing { .. } => Response::RingLent(None),
        Request::Close { .. }
        | Request::Delete { .. }
        | Request::SetMode { .. }
        | Request::SetMaxBytes { .. }
        | Request::SetOwner { .. }
        | Request::GrantReceive { .. }
        | Request::RevokeReceive { .. }
        | Request::Stat { .. }
        | Request::ListMailboxes
        | Request::Register { .. }
        | Request::Monitor { .. }
        | Request::Demonitor { .. }
        | Request::ListProcesses
        | Request::NodeStats
        | Request::Purge { .. }
        | Request::NodeLinks
        | Request::AtNode { .. } => admin(),
    }
}
