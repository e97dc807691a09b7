//! What a request needs of the durable mailboxes it touches that are partly on disk, so that the
//! hub pages it in before the engine answers (see `postbox_core::Need`).
//!
//! The engine answers from what it holds; a mailbox restored with a tail on disk holds its oldest
//! messages only. A receive or peek that takes the first messages needs that many in memory;
//! one with any other selector, a purge, and a send whose sender waits for its message to be
//! taken (a receipt, a call) need the whole queue. Everything else needs nothing more: sends
//! extend the tail, and statistics count it.

use postbox_core::{Branch, Delivery, MailboxId, Need, Source};
use postbox_wire::{Request, Target};

/// The mailboxes `request` touches and what it needs of each, before it is carried out.
pub(crate) fn needs(request: &Request) -> Vec<(MailboxId, Need)> {
    let branch = |branch: &Branch, messages: u32| match branch.source {
        Source::Mailbox(id) => Some((id, Need::receive(branch.selector, messages as usize))),
        Source::Inbox => None,
    };
    match request {
        Request::Recv { branches, .. } => branches.iter().filter_map(|b| branch(b, 1)).collect(),
        Request::RecvMany {
            branch: b,
            max_messages,
            ..
        }
        | Request::Lease {
            branch: b,
            max_messages,
            ..
        } => branch(b, *max_messages).into_iter().collect(),
        Request::Peek {
            source: Source::Mailbox(id),
            selector,
            max_messages,
            ..
        } => vec![(*id, Need::receive(*selector, *max_messages as usize))],
        Request::Purge { mailbox } => vec![(*mailbox, Need::Whole)],
        Request::Send {
            target: Target::Mailbox(id),
            delivery: Delivery::Receipt,
            ..
        }
        | Request::ProducerSend {
            target: Target::Mailbox(id),
            delivery: Delivery::Receipt,
            ..
        }
        | Request::Call {
            target: Target::Mailbox(id),
            ..
        } => vec![(*id, Need::Whole)],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postbox_core::{Message, Selector, Wait};

    const Q: MailboxId = MailboxId::from_raw(3);

    #[test]
    fn receives_need_their_first_messages_and_selective_ones_everything() {
        let recv = |selector| Request::Recv {
            branches: vec![
                Branch::new(Source::Inbox, Selector::Any),
                Branch::new(Source::Mailbox(Q), selector),
            ],
            wait: Wait::Try,
        };
        assert_eq!(needs(&recv(Selector::Any)), [(Q, Need::First(1))]);
        assert_eq!(needs(&recv(Selector::Type(2))), [(Q, Need::Whole)]);
        let many = Request::RecvMany {
            branch: Branch::new(Source::Mailbox(Q), Selector::Any),
            max_messages: 64,
            max_bytes: 1 << 20,
            wait: Wait::Block,
        };
        assert_eq!(needs(&many), [(Q, Need::First(64))]);
        let peek = Request::Peek {
            source: Source::Mailbox(Q),
            selector: Selector::TypeAtMost(3),
            max_messages: 5,
            max_bytes: 1 << 20,
        };
        assert_eq!(needs(&peek), [(Q, Need::Whole)]);
    }

    #[test]
    fn sends_that_wait_for_a_receiver_and_purges_need_everything_plain_sends_nothing() {
        let send = |delivery| Request::Send {
            target: Target::Mailbox(Q),
            message: Message::new("x"),
            delivery,
            wait: Wait::Block,
        };
        assert_eq!(needs(&send(Delivery::Queued)), []);
        assert_eq!(needs(&send(Delivery::Receipt)), [(Q, Need::Whole)]);
        assert_eq!(needs(&Request::Purge { mailbox: Q }), [(Q, Need::Whole)]);
        assert_eq!(needs(&Request::Stat { mailbox: Q }), []);
    }
}
