//! What a request's answer is, and how each kind of operation reads it.

use postbox_core::{
    AdminError, CallError, CallErrorKind, Message, Pid, Received, RecvError, ReplyError,
    SelectError, SendError, SendErrorKind,
};
use postbox_wire::Response;

/// Why a request got no answer from the engine.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Failure {
    /// The process terminated, or its transport was lost.
    Disconnected,
    /// The other side broke the protocol.
    Protocol,
    /// The daemon (or a node it forwarded to) refused the request, saying why: kept for the
    /// error's text, where the operation's error can carry it.
    Refused(String),
}

/// What a request's answer is, or why there is none.
pub(crate) type Answer = Result<Response, Failure>;

/// A send's answer: the receiver when known.
pub(crate) fn sent(answer: Answer) -> Result<Option<Pid>, SendError> {
    match answer {
        Ok(Response::Sent { receiver }) => Ok(receiver),
        Ok(Response::SendFailed(error)) => Err(error),
        Err(Failure::Disconnected) => Err(SendError::without_message(SendErrorKind::Disconnected)),
        Err(Failure::Refused(reason)) => Err(SendError::refused(reason)),
        Ok(_) | Err(Failure::Protocol) => Err(SendError::without_message(SendErrorKind::Protocol)),
    }
}

/// A receive's answer: the branch the message came from, and the message.
pub(crate) fn received(answer: Answer) -> Result<(usize, Received), SelectError> {
    let fail = |error| SelectError { branch: 0, error };
    match answer {
        Ok(Response::Received { branch, message }) => {
            Ok((usize::try_from(branch).unwrap_or(usize::MAX), message))
        }
        Ok(Response::RecvFailed(error)) => Err(error),
        Err(Failure::Disconnected) => Err(fail(RecvError::Disconnected)),
        Ok(_) | Err(Failure::Protocol | Failure::Refused(_)) => Err(fail(RecvError::Protocol)),
    }
}

/// The error an administrative request's unexpected answer stands for.
pub(crate) fn admin_error(answer: Answer) -> AdminError {
    match answer {
        Ok(Response::AdminFailed(error)) => error,
        Err(Failure::Disconnected) => AdminError::Disconnected,
        Err(Failure::Refused(reason)) => AdminError::Refused(reason),
        Ok(_) | Err(Failure::Protocol) => AdminError::Protocol,
    }
}

/// A receive-many's answer: the messages, in order (a wait for the first one is answered with
/// that one alone).
pub(crate) fn received_many(answer: Answer) -> Result<Vec<Received>, RecvError> {
    match answer {
        Ok(Response::ReceivedMany(messages)) if !messages.is_empty() => Ok(messages),
        Ok(Response::Received { message, .. }) => Ok(vec![message]),
        Ok(Response::RecvFailed(error)) => Err(error.error),
        Err(Failure::Disconnected) => Err(RecvError::Disconnected),
        Ok(_) | Err(Failure::Protocol | Failure::Refused(_)) => Err(RecvError::Protocol),
    }
}

/// A call's answer: the server's reply.
pub(crate) fn called(answer: Answer) -> Result<Message, CallError> {
    match answer {
        Ok(Response::Replied(reply)) => Ok(reply),
        Ok(Response::CallFailed(error)) => Err(error),
        Err(Failure::Disconnected) => Err(CallError::without_message(CallErrorKind::Disconnected)),
        Err(Failure::Refused(reason)) => Err(CallError::refused(reason)),
        Ok(_) | Err(Failure::Protocol) => Err(CallError::without_message(CallErrorKind::Protocol)),
    }
}

/// An answer's (`reply`, `fail`) answer.
pub(crate) fn replied(answer: Answer) -> Result<(), ReplyError> {
    match answer {
        Ok(Response::Done) => Ok(()),
        Ok(Response::ReplyFailed(error)) => Err(error),
        Err(Failure::Disconnected) => Err(ReplyError::Disconnected),
        Ok(_) | Err(Failure::Protocol | Failure::Refused(_)) => Err(ReplyError::Protocol),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHY: &str = "too many requests in flight on this connection";

    #[test]
    fn a_refusal_keeps_the_daemons_reason_where_the_error_can_carry_it() {
        let refused = || Err(Failure::Refused(WHY.to_owned()));
        let send = sent(refused()).unwrap_err();
        assert_eq!(
            (send.kind(), send.reason()),
            (SendErrorKind::Protocol, Some(WHY))
        );
        assert_eq!(
            send.to_string(),
            format!("send failed: the request was refused: {WHY}")
        );
        let call = called(refused()).unwrap_err();
        assert_eq!(
            (call.kind(), call.reason()),
            (CallErrorKind::Protocol, Some(WHY))
        );
        assert!(call.to_string().ends_with(WHY), "{call}");
        let admin = admin_error(refused());
        assert_eq!(admin, AdminError::Refused(WHY.to_owned()));
        assert_eq!(admin.to_string(), format!("the request was refused: {WHY}"));
        // A receive's and an answer's errors are plain values: the kind alone.
        assert_eq!(received_many(refused()), Err(RecvError::Protocol));
        assert_eq!(replied(refused()), Err(ReplyError::Protocol));
    }
}
