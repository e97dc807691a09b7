//! Which mailboxes a request may read or change: a transport that lends mailboxes out (the
//! in-process lanes, the daemon's shared-memory rings) takes those back before the request
//! reaches the engine, so the engine always sees a mailbox whole.

use postbox_core::{Branch, MailboxId, Source};

use crate::{Request, Target};

/// The mailboxes a request may read or change ([`Request::concerns`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Concerns {
    /// None: the request touches no mailbox (or one it names only by its answer, as an open).
    Nothing,
    /// This one.
    One(MailboxId),
    /// These.
    Some(Vec<MailboxId>),
    /// Any of them (listings, node-wide statistics).
    Everything,
}

impl Request {
    /// The mailboxes this request may read or change.
    pub fn concerns(&self) -> Concerns {
        match self {
            // A mailbox named as dead-letter mailbox is never lent again once named.
            Request::Create { attrs, .. } | Request::OpenOrCreate { attrs, .. }
                if attrs.redelivery.dead_letter.is_some() =>
            {
                Concerns::Some(attrs.redelivery.dead_letter.into_iter().collect())
            }
            Request::Send {
                target: Target::Mailbox(mailbox),
                ..
            }
            | Request::ProducerSend {
                target: Target::Mailbox(mailbox),
                ..
            }
            | Request::Call {
                target: Target::Mailbox(mailbox),
                ..
            }
            | Request::SendBatch {
                target: Target::Mailbox(mailbox),
                ..
            }
            | Request::RecvMany {
                branch:
                    Branch {
                        source: Source::Mailbox(mailbox),
                        ..
                    },
                ..
            }
            | Request::Lease {
                branch:
                    Branch {
                        source: Source::Mailbox(mailbox),
                        ..
                    },
                ..
            }
            | Request::Settle {
                source: Source::Mailbox(mailbox),
                ..
            }
            | Request::Peek {
                source: Source::Mailbox(mailbox),
                ..
            }
            | Request::Purge { mailbox }
            | Request::Close { mailbox }
            | Request::Delete { mailbox }
            | Request::SetMode { mailbox, .. }
            | Request::SetMaxBytes { mailbox, .. }
            | Request::SetOwner { mailbox, .. }
            | Request::GrantReceive { mailbox, .. }
            | Request::RevokeReceive { mailbox, .. }
            | Request::Stat { mailbox } => Concerns::One(*mailbox),
            Request::Recv { branches, .. } => Concerns::Some(
                branches
                    .iter()
                    .filter_map(|branch| match branch.source {
                        Source::Mailbox(mailbox) => Some(mailbox),
                        Source::Inbox => None,
                    })
                    .collect(),
            ),
            // Opening is seen by its answer, which names the mailbox.
            Request::Send {
                target: Target::Process(_),
                ..
            }
            | Request::ProducerSend {
                target: Target::Process(_),
                ..
            }
            | Request::Call {
                target: Target::Process(_),
                ..
            }
            | Request::Reply { .. }
            | Request::SendBatch {
                target: Target::Process(_),
                ..
            }
            | Request::RecvMany {
                branch:
                    Branch {
                        source: Source::Inbox,
                        ..
                    },
                ..
            }
            | Request::Lease {
                branch:
                    Branch {
                        source: Source::Inbox,
                        ..
                    },
                ..
            }
            | Request::Settle {
                source: Source::Inbox,
                ..
            }
            | Request::Peek {
                source: Source::Inbox,
                ..
            }
            | Request::Create { .. }
            | Request::Open { .. }
            | Request::OpenOrCreate { .. }
            | Request::Register { .. }
            | Request::Whereis { .. }
            | Request::Monitor { .. }
            | Request::Demonitor { .. } => Concerns::Nothing,
            // Node links, and questions put to other nodes: none of this node's mailboxes.
            Request::NodeLinks | Request::AtNode { .. } => Concerns::Nothing,
            // Lending is the lender's own business, done before the engine sees anything.
            Request::LendRing { .. } => Concerns::Nothing,
            Request::ListMailboxes | Request::ListProcesses | Request::NodeStats => {
                Concerns::Everything
            }
        }
    }
}
