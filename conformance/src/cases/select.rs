//! Select (a port set): several receive operations — mailboxes and the inbox, each with its own
//! selector — of which the first ready one completes, taking exactly one message.

use std::time::Instant;

use postbox::{RecvError, Select, SelectError, Selector};

use crate::Transport;
use crate::support::{LONG, SHORT, await_blocked_receivers, await_waiting, drain, typed};

/// With several branches ready, the first in order is taken, and only one message.
pub fn the_first_ready_branch_wins_and_takes_one_message<T: Transport>(t: &T) {
    let p = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    let control = p.mailbox("control").create().expect("create");
    jobs.send("job").expect("send");
    control.send("stop").expect("send");
    let mut select = Select::new();
    assert_eq!(select.recv(&jobs, Selector::Any), 0);
    assert_eq!(select.recv(&control, Selector::Any), 1);
    let selected = select.try_wait().expect("ready");
    assert_eq!(
        (selected.index, selected.message.payload().as_ref()),
        (0, &b"job"[..])
    );
    assert_eq!(drain(&control), ["stop"], "the other branch is untouched");
}

/// Each branch has its own selector; branches without a match are skipped.
pub fn each_branch_has_its_own_selector<T: Transport>(t: &T) {
    let p = t.process();
    let a = p.mailbox("a").create().expect("create");
    let b = p.mailbox("b").create().expect("create");
    a.send(typed("a-type-1", 1)).expect("send");
    b.send(typed("b-type-1", 1)).expect("send");
    b.send(typed("b-type-2", 2)).expect("send");
    let mut select = Select::new();
    select.recv(&a, Selector::Type(2));
    select.recv(&b, Selector::NotType(1));
    let selected = select.try_wait().expect("ready");
    assert_eq!(
        (selected.index, selected.message.payload().as_ref()),
        (1, &b"b-type-2"[..])
    );
    assert_eq!(
        select.try_wait().unwrap_err(),
        SelectError {
            branch: 0,
            error: RecvError::Empty
        }
    );
}

/// The inbox is a branch like any mailbox.
pub fn the_inbox_is_a_branch<T: Transport>(t: &T) {
    let p = t.process();
    let friend = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    let mut select = Select::new();
    select.recv(&jobs, Selector::Any);
    assert_eq!(select.inbox(&p, Selector::From(friend.pid())), 1);
    friend.send_to(p.pid(), "direct").expect("send_to");
    let selected = select.try_wait().expect("ready");
    assert_eq!((selected.index, selected.message.sender), (1, friend.pid()));
}

/// Nothing ready: `try_wait` fails with `Empty`, `wait_timeout` and a past deadline with
/// `Timeout`; a select without branches fails with `Empty`.
pub fn nothing_ready_is_empty_or_timeout<T: Transport>(t: &T) {
    let p = t.process();
    let quiet = p.mailbox("quiet").create().expect("create");
    let mut select = Select::new();
    select.recv(&quiet, Selector::Any);
    select.inbox(&p, Selector::Any);
    assert_eq!(select.try_wait().unwrap_err().error, RecvError::Empty);
    assert_eq!(
        select.wait_timeout(SHORT).unwrap_err().error,
        RecvError::Timeout
    );
    assert_eq!(
        select.wait_deadline(Instant::now()).unwrap_err().error,
        RecvError::Timeout
    );
    assert_eq!(
        quiet.stat().expect("stat").blocked_receivers,
        0,
        "no waiter is left behind"
    );
    let empty = Select::new();
    assert_eq!(empty.try_wait().unwrap_err().error, RecvError::Empty);
    assert_eq!(empty.wait().unwrap_err().error, RecvError::Empty);
}

/// A past deadline still takes a message that is ready.
pub fn a_past_deadline_still_takes_a_ready_message<T: Transport>(t: &T) {
    let p = t.process();
    let ready = p.mailbox("ready").create().expect("create");
    ready.send("here").expect("send");
    let mut select = Select::new();
    select.recv(&ready, Selector::Any);
    let selected = select.wait_deadline(Instant::now()).expect("ready");
    assert_eq!(selected.message.payload().as_ref(), b"here");
}

/// A waiting select wakes for the first matching message on any branch, and then waits on none.
pub fn a_waiting_select_wakes_for_any_branch<T: Transport>(t: &T) {
    let p = t.process();
    let peer = t.process();
    let first = p.mailbox("first").create().expect("create");
    let second = p.mailbox("second").create().expect("create");
    let to_second = peer.mailbox("second").open().expect("open");
    let mut select = Select::new();
    select.recv(&first, Selector::Any);
    select.recv(&second, Selector::Type(2));
    std::thread::scope(|s| {
        let waiting = s.spawn(|| select.wait());
        await_blocked_receivers(&first, 1);
        await_blocked_receivers(&second, 1);
        to_second.send(typed("no match", 1)).expect("send");
        assert_eq!(
            second.stat().expect("stat").blocked_receivers,
            1,
            "still waiting"
        );
        to_second.send(typed("match", 2)).expect("send");
        let selected = waiting.join().expect("select").expect("wait");
        assert_eq!(
            (selected.index, selected.message.payload().as_ref()),
            (1, &b"match"[..])
        );
    });
    assert_eq!(
        first.stat().expect("stat").blocked_receivers,
        0,
        "withdrawn everywhere"
    );
    assert_eq!(second.stat().expect("stat").blocked_receivers, 0);
    assert_eq!(drain(&second), ["no match"]);
}

/// A waiting select including the inbox wakes for a direct message.
pub fn a_waiting_select_wakes_for_the_inbox<T: Transport>(t: &T) {
    let p = t.process();
    let friend = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    let mut select = Select::new();
    select.recv(&jobs, Selector::Any);
    select.inbox(&p, Selector::Any);
    std::thread::scope(|s| {
        let waiting = s.spawn(|| select.wait());
        await_waiting(&friend, p.pid(), 1);
        friend.send_to(p.pid(), "direct").expect("send_to");
        let selected = waiting.join().expect("select").expect("wait");
        assert_eq!(
            (selected.index, selected.message.payload().as_ref()),
            (1, &b"direct"[..])
        );
    });
}

/// A failing branch is named: a deleted mailbox fails the select with `Gone` on its index, at
/// once or while waiting.
pub fn a_failing_branch_is_named<T: Transport>(t: &T) {
    let p = t.process();
    let alive = p.mailbox("alive").create().expect("create");
    let doomed = p.mailbox("doomed").create().expect("create");
    let mut select = Select::new();
    select.recv(&alive, Selector::Any);
    select.recv(&doomed, Selector::Any);
    std::thread::scope(|s| {
        let waiting = s.spawn(|| select.wait_timeout(LONG));
        await_blocked_receivers(&doomed, 1);
        doomed.delete().expect("delete");
        let error = waiting.join().expect("select").unwrap_err();
        assert_eq!(
            error,
            SelectError {
                branch: 1,
                error: RecvError::Gone
            }
        );
    });
    let error = select.try_wait().unwrap_err();
    assert_eq!(
        error,
        SelectError {
            branch: 1,
            error: RecvError::Gone
        }
    );
    let text = error.to_string();
    assert!(text.contains("branch 1") && text.contains("gone"), "{text}");
    assert_eq!(alive.stat().expect("stat").blocked_receivers, 0);
}

/// One mailbox may appear in several branches with different selectors: a waiting select
/// counts as one blocked receiver there, and the branch whose selector matches is reported.
pub fn a_mailbox_may_appear_in_several_branches<T: Transport>(t: &T) {
    let p = t.process();
    let peer = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    let theirs = peer.mailbox("jobs").open().expect("open");
    let mut select = Select::new();
    select.recv(&jobs, Selector::Type(1));
    select.recv(&jobs, Selector::Type(2));
    std::thread::scope(|s| {
        let waiting = s.spawn(|| select.wait_timeout(LONG));
        await_blocked_receivers(&jobs, 1);
        theirs.send(typed("second branch", 2)).expect("send");
        let selected = waiting.join().expect("select").expect("wait");
        assert_eq!(selected.index, 1);
    });
    assert_eq!(jobs.stat().expect("stat").blocked_receivers, 0);
}
