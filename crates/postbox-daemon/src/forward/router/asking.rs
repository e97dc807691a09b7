//! What this node asks of its peers for itself, rather than for a process: the parts of a
//! select spanning nodes and the names of its mailboxes, and other nodes' entries for this
//! node's process list (see [`process_list`]). Each is a request under an id of
//! [`PART_IDS`], answered to a oneshot [`Sink`] rather than to a connection.

use postbox_core::{
    Credentials, Pid, RecvError, SelectError, Selector, Source, Wait, WaitInfo, WaitKind,
    WaitTarget,
};
use postbox_wire::{Request, RequestId, Response};
use tokio::sync::oneshot;

use super::{PART_IDS, Router, Routing, Sink, State};
use crate::forward::destination::Destination;
use crate::forward::disconnected::disconnected;
use crate::forward::process_list;
use crate::forward::spanning_select::{Part, Parts, SpanningSelect};
use crate::hub::{ConnId, Outcome};

impl Router {
    /// Answers request `id` of process `pid`, this node's process list, with what its processes
    /// do on other nodes added (see [`process_list`]): asks every peer that this node's
    /// processes were made known to for its list, and answers through the connection's outbox
    /// once each has answered or failed (a peer that is down adds nothing).
    pub(super) fn list_processes(
        &self,
        state: &mut State,
        conn: ConnId,
        pid: Pid,
        creds: Credentials,
        id: RequestId,
    ) -> Routing {
        let (outcome, routed) = self.hub.request(conn, id, Request::ListProcesses);
        routed.post();
        let local = match outcome {
            Outcome::Answered(Response::Processes(local)) => local,
            Outcome::Answered(other) => return Routing::Answered(other),
            Outcome::Refused(code, message) => return Routing::Refused(code, message.to_owned()),
            Outcome::Waiting(_) | Outcome::Deferred => {
                return Routing::Answered(disconnected(Request::ListProcesses));
            }
        };
        let selects: Vec<(Pid, WaitInfo)> = state
            .selects
            .iter()
            .filter_map(|((origin, _), select)| Some((*origin, select.wait.clone()?)))
            .collect();
        let mut peers: Vec<usize> = state.exported.values().flatten().copied().collect();
        peers.sort_unstable();
        peers.dedup();
        let mut asks = Vec::new();
        for peer in peers {
            let (sink, answer) = oneshot::channel();
            let part_id = next_part_id(state);
            let routing = self.dispatch(
                state,
                Destination::Peer(peer),
                Sink::Listing(sink),
                pid,
                creds,
                part_id,
                Request::ListProcesses,
            );
            if let Routing::Forwarded = routing {
                asks.push((state.peers[peer].name.clone(), answer));
            }
        }
        if asks.is_empty() {
            let merged = process_list::merge(local, selects, Vec::new());
            return Routing::Answered(Response::Processes(merged));
        }
        let hub = self.hub.clone();
        tokio::spawn(async move {
            let mut remote = Vec::new();
            for (node, answer) in asks {
                if let Ok(Response::Processes(entries)) = answer.await {
                    remote.push((node, entries));
                }
            }
            let merged = process_list::merge(local, selects, remote);
            hub.answer(conn, id, Response::Processes(merged));
        });
        Routing::Forwarded
    }

    /// What `branch` of spanning select `select`, in `part`, waits on, named as the process
    /// list names it: a mailbox by its name (asked of its node), `NAME@NODE` for another
    /// node's (`?` if that node cannot say).
    async fn branch_target(
        &self,
        select: &SpanningSelect,
        part: &Part,
        branch: &postbox_core::Branch,
    ) -> WaitTarget {
        let mailbox = match branch.source {
            Source::Inbox => {
                return match branch.selector {
                    Selector::From(sender) => WaitTarget::Process(sender),
                    _ => WaitTarget::Inbox,
                };
            }
            Source::Mailbox(mailbox) => mailbox,
        };
        let stat = Request::Stat { mailbox };
        let (response, node) = if part.place == Destination::Here {
            let (outcome, routed) = self.hub.request(select.conn, select.id, stat);
            routed.post();
            match outcome {
                Outcome::Answered(response) => (Some(response), None),
                _ => (None, None),
            }
        } else {
            let (sink, answer) = oneshot::channel();
            let (routing, node) = {
                let mut state = self.lock();
                let id = next_part_id(&mut state);
                let node = match &part.place {
                    Destination::Peer(peer) => {
                        state.peers.get(*peer).map(|peer| peer.name.to_string())
                    }
                    _ => None,
                };
                let routing = self.dispatch(
                    &mut state,
                    part.place.clone(),
                    Sink::Select(sink),
                    select.pid,
                    select.creds,
                    id,
                    stat,
                );
                (routing, node)
            };
            let response = match routing {
                Routing::Forwarded => answer.await.ok(),
                Routing::Answered(response) => Some(response),
                Routing::Local(_) | Routing::Refused(..) => None,
            };
            (response, Some(node.unwrap_or_else(|| "?".to_owned())))
        };
        let name = match response {
            Some(Response::Stat(stats)) => stats.name,
            _ => "?".to_owned(),
        };
        WaitTarget::Mailbox(match node {
            Some(node) => format!("{name}@{node}"),
            None => name,
        })
    }
}

impl Parts for Router {
    /// Asks one part of a spanning select for a message without waiting: the part's answer,
    /// its branches numbered within the part.
    async fn try_part(&self, select: &SpanningSelect, part: &Part) -> Response {
        let request = Request::Recv {
            branches: part.branches.clone(),
            wait: Wait::Try,
        };
        let protocol = || {
            Response::RecvFailed(SelectError {
                branch: 0,
                error: RecvError::Protocol,
            })
        };
        if part.place == Destination::Here {
            let (outcome, routed) = self.hub.request(select.conn, select.id, request);
            routed.post();
            return match outcome {
                Outcome::Answered(response) => response,
                // Never for a receive that may not wait; `Deferred` (a durable mailbox's
                // answer) goes to the connection itself.
                Outcome::Waiting(_) | Outcome::Deferred | Outcome::Refused(..) => protocol(),
            };
        }
        let (sink, answer) = oneshot::channel();
        let routing = {
            let mut state = self.lock();
            let id = next_part_id(&mut state);
            self.dispatch(
                &mut state,
                part.place.clone(),
                Sink::Select(sink),
                select.pid,
                select.creds,
                id,
                request,
            )
        };
        match routing {
            Routing::Forwarded => answer.await.unwrap_or_else(|_| protocol()),
            Routing::Answered(response) => response,
            Routing::Local(_) | Routing::Refused(..) => protocol(),
        }
    }

    /// A spanning select found nothing and waits: names what it waits on, for the process
    /// list, and keeps it while it waits.
    async fn waiting(&self, select: &SpanningSelect) {
        let mut on = Vec::new();
        for part in &select.parts {
            for (branch, index) in part.branches.iter().zip(&part.indices) {
                on.push((*index, self.branch_target(select, part, branch).await));
            }
        }
        on.sort_by_key(|(index, _)| *index);
        let wait = WaitInfo {
            kind: WaitKind::Recv,
            on: on.into_iter().map(|(_, target)| target).collect(),
            since: select.since,
        };
        if let Some(spanning) = self.lock().selects.get_mut(&(select.pid, select.id.get())) {
            spanning.wait = Some(wait);
        }
    }

    /// A spanning select has its answer: gives it to the connection, unless it was stopped
    /// because its process ended.
    fn select_done(&self, select: &SpanningSelect, answer: Response) {
        let key = (select.pid, select.id.get());
        if self.lock().selects.remove(&key).is_some() {
            self.hub.answer(select.conn, select.id, answer);
        }
    }
}

/// The request id of the next request this node makes of a peer for itself (a part of a
/// spanning select, a mailbox's name, a process list).
fn next_part_id(state: &mut State) -> u64 {
    state.next_part_id += 1;
    PART_IDS | state.next_part_id
}
