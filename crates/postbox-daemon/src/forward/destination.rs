//! Which node carries out a request: the home node of the mailbox, process or name it is about.

use postbox_core::{Branch, CallId, MailboxId, Pid, Source};
use postbox_wire::link::NodeName;
use postbox_wire::{Request, Target};

use super::reserved_ids;

/// Where a request goes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Destination {
    /// This node's engine.
    Here,
    /// The peer of this index (a reserved mailbox or call id, or a proxy pid, said so).
    Peer(usize),
    /// The node of this name (a `name@node` said so).
    Node(NodeName),
    /// Mailboxes of more than one node in one select: refused.
    Mixed,
}

/// Where `request` goes; a name's `@node` suffix is taken off for the node that will look it
/// up. `proxy_peer` says which peer a pid is a proxy of.
pub(crate) fn destination(
    request: &mut Request,
    local: &NodeName,
    proxy_peer: impl Fn(Pid) -> Option<usize>,
) -> Destination {
    let mailbox = |id: MailboxId| match reserved_ids::resolve(id.as_raw()) {
        Some((peer, _)) => Destination::Peer(peer),
        None => Destination::Here,
    };
    let source = |source: &Source| match source {
        Source::Inbox => Destination::Here,
        Source::Mailbox(id) => mailbox(*id),
    };
    let target = |target: &Target| match target {
        Target::Process(pid) => proxy_peer(*pid).map_or(Destination::Here, Destination::Peer),
        Target::Mailbox(id) => mailbox(*id),
    };
    match request {
        Request::Send { target: to, .. }
        | Request::ProducerSend { target: to, .. }
        | Request::SendBatch { target: to, .. }
        | Request::Call { target: to, .. } => target(to),
        Request::Recv { branches, .. } => {
            let mut places = branches.iter().map(|b: &Branch| source(&b.source));
            let first = places.next().unwrap_or(Destination::Here);
            if places.all(|place| place == first) {
                first
            } else {
                Destination::Mixed
            }
        }
        Request::RecvMany { branch, .. } | Request::Lease { branch, .. } => source(&branch.source),
        Request::Settle { source: from, .. } | Request::Peek { source: from, .. } => source(from),
        Request::Create { name, .. }
        | Request::Open { name }
        | Request::OpenOrCreate { name, .. }
        | Request::Whereis { name } => named(name, local),
        Request::Close { mailbox: id }
        | Request::Delete { mailbox: id }
        | Request::SetMode { mailbox: id, .. }
        | Request::SetMaxBytes { mailbox: id, .. }
        | Request::SetOwner { mailbox: id, .. }
        | Request::GrantReceive { mailbox: id, .. }
        | Request::RevokeReceive { mailbox: id, .. }
        | Request::Stat { mailbox: id }
        | Request::Purge { mailbox: id } => mailbox(*id),
        Request::Reply { call, .. } => call_place(*call),
        Request::AtNode { node, query } => {
            let place = match NodeName::new(node.as_str()) {
                Ok(node) if &node == local => Destination::Here,
                Ok(node) => Destination::Node(node),
                // No node has that name: the engine answers `NotFound`.
                Err(_) => return Destination::Here,
            };
            *request = query.request();
            place
        }
        // Names are registered here; monitors watch proxies here (a proxy ends when its
        // process does); lists and statistics are this node's.
        Request::Register { .. }
        | Request::Monitor { .. }
        | Request::Demonitor { .. }
        | Request::ListMailboxes
        | Request::ListProcesses
        | Request::NodeStats
        | Request::NodeLinks => Destination::Here,
        // Rings are lent by the mailbox's own daemon to its own clients only: a remote mailbox
        // is not this engine's, which then answers that it is not lent.
        Request::LendRing { .. } => Destination::Here,
    }
}

/// The place of a reply to `call`.
fn call_place(call: CallId) -> Destination {
    match reserved_ids::resolve(call.as_raw()) {
        Some((peer, _)) => Destination::Peer(peer),
        None => Destination::Here,
    }
}

/// The node a `name@node` names, the name cut to `name`; this node for a plain name, for
/// `name@` this node's own name, and for a suffix that is no node name (the engine then
/// refuses the whole name as invalid).
fn named(name: &mut String, local: &NodeName) -> Destination {
    let Some((bare, node)) = name.rsplit_once('@') else {
        return Destination::Here;
    };
    let Ok(node) = NodeName::new(node) else {
        return Destination::Here;
    };
    let bare = bare.to_owned();
    *name = bare;
    if &node == local {
        Destination::Here
    } else {
        Destination::Node(node)
    }
}

#[cfg(test)]
mod tests {
    use postbox_core::{MailboxAttrs, Selector};

    use super::*;

    fn node(name: &str) -> NodeName {
        NodeName::new(name).unwrap()
    }

    fn open(name: &str) -> Request {
        Request::Open { name: name.into() }
    }

    #[test]
    fn a_node_query_goes_to_its_node_as_the_plain_request() {
        let local = node("a");
        let mut remote = Request::AtNode {
            node: "b".into(),
            query: postbox_wire::NodeQuery::NodeStats,
        };
        assert_eq!(
            destination(&mut remote, &local, |_| None),
            Destination::Node(node("b"))
        );
        assert_eq!(remote, Request::NodeStats);
        let mut own = Request::AtNode {
            node: "a".into(),
            query: postbox_wire::NodeQuery::ListMailboxes,
        };
        assert_eq!(destination(&mut own, &local, |_| None), Destination::Here);
        assert_eq!(own, Request::ListMailboxes);
    }

    #[test]
    fn names_with_a_node_go_there_without_their_suffix() {
        let local = node("a");
        let mut request = open("jobs@b");
        assert_eq!(
            destination(&mut request, &local, |_| None),
            Destination::Node(node("b"))
        );
        assert_eq!(request, open("jobs"));
        let mut own = Request::Create {
            name: "jobs@a".into(),
            attrs: MailboxAttrs::default(),
        };
        assert_eq!(destination(&mut own, &local, |_| None), Destination::Here);
        let Request::Create { name, .. } = own else {
            unreachable!()
        };
        assert_eq!(name, "jobs");
        // Not a node name: left whole, for the engine to refuse.
        let mut bad = open("jobs@no such node");
        assert_eq!(destination(&mut bad, &local, |_| None), Destination::Here);
        assert_eq!(bad, open("jobs@no such node"));
    }

    #[test]
    fn reserved_ids_and_proxies_go_to_their_peer_and_mixed_selects_are_refused() {
        let local = node("a");
        let remote = MailboxId::from_raw(reserved_ids::reserve(2, 9).unwrap());
        let here = MailboxId::from_raw(9);
        let branch = |id| Branch::new(Source::Mailbox(id), Selector::Any);
        let mut stat = Request::Stat { mailbox: remote };
        assert_eq!(
            destination(&mut stat, &local, |_| None),
            Destination::Peer(2)
        );
        let mut one = Request::Recv {
            branches: vec![branch(remote), branch(remote)],
            wait: postbox_core::Wait::Block,
        };
        assert_eq!(
            destination(&mut one, &local, |_| None),
            Destination::Peer(2)
        );
        let mut mixed = Request::Recv {
            branches: vec![branch(remote), branch(here)],
            wait: postbox_core::Wait::Block,
        };
        assert_eq!(
            destination(&mut mixed, &local, |_| None),
            Destination::Mixed
        );
        let proxy = Pid::from_raw(5);
        let mut send = Request::Send {
            target: Target::Process(proxy),
            message: postbox_core::Message::new("hi"),
            delivery: postbox_core::Delivery::Queued,
            wait: postbox_core::Wait::Block,
        };
        let is_proxy = |pid| (pid == proxy).then_some(1);
        assert_eq!(
            destination(&mut send, &local, is_proxy),
            Destination::Peer(1)
        );
        let mut monitor = Request::Monitor { target: proxy };
        assert_eq!(
            destination(&mut monitor, &local, is_proxy),
            Destination::Here
        );
    }
}
