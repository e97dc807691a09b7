//! A select whose branches live on more than one node: polled.
//!
//! A blocking select over one node waits in that node's engine, woken by the message it takes.
//! Over several nodes no engine sees every branch, and taking a message on one node while
//! another's engine also hands one over would take two. So the select asks each node's part in
//! turn without waiting (`Wait::Try`), in the order of its first branch, and takes the first
//! message any part has; when none has one it pauses — 1 ms, doubling to [`MAX_PAUSE`] — and
//! asks again, until a message comes, the request is cancelled (the client's timeout, or a
//! dropped future) or its process ends. Nothing is taken that is not handed over. The cost is
//! latency (up to [`MAX_PAUSE`] after a message arrives) and a few requests per second while it
//! waits; preference between branches holds within each node's part, and between parts by the
//! order of their first branch.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use postbox_core::{Branch, Credentials, Pid, RecvError, SelectError, Timestamp};
use postbox_wire::{RequestId, Response};
use tokio::sync::Notify;

use super::destination::Destination;
use crate::hub::ConnId;

/// The longest pause between two rounds of asking.
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(20);

/// The first pause.
const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The branches of one node, with their places in the whole select.
#[derive(Debug)]
pub(crate) struct Part {
    pub(crate) place: Destination,
    pub(crate) branches: Vec<Branch>,
    pub(crate) indices: Vec<usize>,
}

impl Part {
    /// `response` to this part's receive, its branch numbered as in the whole select.
    fn renumber(&self, response: Response) -> Response {
        let whole = |branch: usize| self.indices.get(branch).copied().unwrap_or(branch);
        match response {
            Response::Received { branch, message } => Response::Received {
                branch: usize::try_from(branch)
                    .ok()
                    .map(whole)
                    .and_then(|whole| u32::try_from(whole).ok())
                    .unwrap_or(branch),
                message,
            },
            Response::RecvFailed(SelectError { branch, error }) => {
                Response::RecvFailed(SelectError {
                    branch: whole(branch),
                    error,
                })
            }
            other => other,
        }
    }
}

/// One spanning select: whose request it is, its parts, and how it is stopped.
#[derive(Debug)]
pub(crate) struct SpanningSelect {
    pub(crate) conn: ConnId,
    pub(crate) pid: Pid,
    pub(crate) creds: Credentials,
    pub(crate) id: RequestId,
    pub(crate) parts: Vec<Part>,
    /// Whether it may wait.
    pub(crate) block: bool,
    /// When it began.
    pub(crate) since: Timestamp,
    /// Told when the request is cancelled or its process ends.
    pub(crate) stop: Arc<Notify>,
}

/// What a spanning select needs of whoever routes requests (the router).
pub(crate) trait Parts {
    /// Asks one part for a message without waiting: the part's answer, its branches numbered
    /// within the part.
    fn try_part(
        &self,
        select: &SpanningSelect,
        part: &Part,
    ) -> impl Future<Output = Response> + Send;

    /// The select found nothing and will wait: record what it waits on, for the process list
    /// (a polled select waits in no engine).
    fn waiting(&self, select: &SpanningSelect) -> impl Future<Output = ()> + Send;

    /// The select has its answer: give it to its connection (unless it was stopped because its
    /// process ended).
    fn select_done(&self, select: &SpanningSelect, answer: Response);
}

/// Polls `select` until it has its answer, and gives it.
pub(crate) async fn run<R: Parts>(router: Arc<R>, select: SpanningSelect) {
    let mut pause = FIRST_PAUSE;
    let mut shown = false;
    let answer = 'polling: loop {
        for part in &select.parts {
            match router.try_part(&select, part).await {
                Response::RecvFailed(SelectError {
                    error: RecvError::Empty,
                    ..
                }) => {}
                response => break 'polling part.renumber(response),
            }
        }
        if !select.block {
            break failed(RecvError::Empty);
        }
        if !shown {
            router.waiting(&select).await;
            shown = true;
        }
        tokio::select! {
            () = select.stop.notified() => break failed(RecvError::Timeout),
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    };
    router.select_done(&select, answer);
}

fn failed(error: RecvError) -> Response {
    Response::RecvFailed(SelectError { branch: 0, error })
}
