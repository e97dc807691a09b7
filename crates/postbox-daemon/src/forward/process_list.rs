//! A node's process list, with what its processes do on other nodes.
//!
//! A process of this node acting on another node does it through its proxy there: the waits of
//! a receive from a mailbox of node b are the proxy's, in b's engine, and so are the mailboxes
//! it created there. Listed alone, this node would show such a process idle and owning nothing.
//! So the router asks each node its processes acted on for its process list, keeps the entries
//! of those proxies (the peer marks them as this node's pids), and [`merge`] adds each one's
//! owned mailboxes and waits to the process's own entry, mailbox names given their node
//! (`q@b`), together with the selects spanning nodes, which wait here by polling and so show in
//! no engine. A node that does not answer (down) adds nothing.

use postbox_core::{Pid, ProcessInfo, WaitInfo, WaitTarget};
use postbox_wire::link::NodeName;

/// This node's process list `local`, with `selects` (the waits of selects spanning nodes, by
/// process) and each peer's entries for this node's processes' proxies in `remote` (by this
/// node's pids) added to the entries of the processes they stand for. Waits stay oldest first.
pub(crate) fn merge(
    mut local: Vec<ProcessInfo>,
    selects: Vec<(Pid, WaitInfo)>,
    remote: Vec<(NodeName, Vec<ProcessInfo>)>,
) -> Vec<ProcessInfo> {
    let mut add = |pid: Pid, owned: usize, waits: Vec<WaitInfo>| {
        if let Some(entry) = local.iter_mut().find(|entry| entry.pid == pid) {
            entry.owned_mailboxes += owned;
            entry.waiting += waits.len();
            entry.waits.extend(waits);
        }
    };
    for (pid, wait) in selects {
        add(pid, 0, vec![wait]);
    }
    for (node, entries) in remote {
        for entry in entries {
            let waits = entry
                .waits
                .into_iter()
                .map(|wait| on_node(wait, &node))
                .collect();
            add(entry.pid, entry.owned_mailboxes, waits);
        }
    }
    for entry in &mut local {
        entry.waits.sort_by_key(|wait| wait.since);
    }
    local
}

/// `wait`, of a proxy on node `node`, with its mailboxes named as this node's clients name them.
fn on_node(mut wait: WaitInfo, node: &NodeName) -> WaitInfo {
    for target in &mut wait.on {
        if let WaitTarget::Mailbox(name) = target {
            *name = format!("{name}@{node}");
        }
    }
    wait
}

#[cfg(test)]
mod tests {
    use postbox_core::{Timestamp, WaitKind};

    use super::*;

    fn entry(pid: u64, owned: usize, waits: Vec<WaitInfo>) -> ProcessInfo {
        ProcessInfo {
            pid: Pid::from_raw(pid),
            name: None,
            uid: 1000,
            gid: 1000,
            inbox_messages: 0,
            owned_mailboxes: owned,
            waiting: waits.len(),
            os_pid: None,
            command: None,
            started: Timestamp::from_nanos(1),
            waits,
        }
    }

    fn recv(on: WaitTarget, since: u64) -> WaitInfo {
        WaitInfo {
            kind: WaitKind::Recv,
            on: vec![on],
            since: Timestamp::from_nanos(since),
        }
    }

    #[test]
    fn a_proxys_mailboxes_and_waits_count_for_its_process_named_with_their_node() {
        let local = vec![
            entry(1, 1, vec![recv(WaitTarget::Mailbox("here".into()), 30)]),
            entry(2, 0, vec![]),
        ];
        let selects = vec![(Pid::from_raw(2), recv(WaitTarget::Inbox, 5))];
        let b = NodeName::new("b").unwrap();
        let remote = vec![(
            b,
            vec![
                entry(1, 2, vec![recv(WaitTarget::Mailbox("q".into()), 10)]),
                // A process that ended here meanwhile: nothing to add to.
                entry(9, 4, vec![recv(WaitTarget::Mailbox("x".into()), 1)]),
            ],
        )];
        let merged = merge(local, selects, remote);
        assert_eq!(merged.len(), 2);
        let first = &merged[0];
        assert_eq!((first.owned_mailboxes, first.waiting), (3, 2));
        assert_eq!(
            first.waits,
            [
                recv(WaitTarget::Mailbox("q@b".into()), 10),
                recv(WaitTarget::Mailbox("here".into()), 30),
            ],
            "oldest first, the peer's mailbox named with its node"
        );
        let second = &merged[1];
        assert_eq!((second.owned_mailboxes, second.waiting), (0, 1));
        assert_eq!(second.waits, [recv(WaitTarget::Inbox, 5)]);
    }
}
