//! Call and reply: a request to a process or a mailbox, answered once by the process that
//! received it; the reply right revoked when the caller stops waiting (late replies dropped and
//! counted, never delivered); a server's death failing its calls at once; no responders.

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use postbox::{
    CallErrorKind, Capacity, Dispatch, Message, Process, Received, Receivers, ReplyError, Selector,
};

use crate::Transport;
use crate::support::{
    LONG, SHORT, await_blocked_receivers, await_blocked_senders, await_queued, await_waiting,
    wait_until,
};

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// The late replies the node has counted.
fn late_replies<T: Transport>(t: &T, observer: &Process) -> u64 {
    crate::support::whole_stats(t, observer).total_late_replies
}

/// Receives one request on `server`'s inbox, checking it is one.
fn take_request(server: &Process) -> Received {
    let request = server.recv_any_timeout(LONG).expect("a request arrives");
    assert!(request.call().is_some(), "a call's message is a request");
    request
}

/// A call to a pid reaches its inbox as a request from the caller; the reply is the call's
/// result.
pub fn a_call_to_a_pid_returns_the_reply<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let (server_pid, client_pid) = (server.pid(), client.pid());
    std::thread::scope(|s| {
        s.spawn(|| {
            let request = take_request(&server);
            assert_eq!(request.sender, client_pid);
            assert_eq!(
                (request.payload().as_ref(), request.mtype()),
                (&b"2+2"[..], 7)
            );
            server
                .reply(&request, Message::new("4").with_type(3))
                .expect("reply");
        });
        let answer = client
            .call_timeout(server_pid, Message::new("2+2").with_type(7), LONG)
            .expect("call");
        assert_eq!((answer.payload.as_ref(), answer.mtype), (&b"4"[..], 3));
    });
    assert_eq!(late_replies(t, &client), 0);
}

/// A call to a mailbox is answered by whichever process receives it, through a mailbox handle
/// or through the process with that handle.
pub fn a_call_to_a_mailbox_is_answered_by_its_receiver<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let served = server
        .mailbox("svc")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let svc = client.mailbox("svc").open().expect("open");
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..2 {
                let request = served.recv_timeout(LONG).expect("a request");
                let mut answer = b"re: ".to_vec();
                answer.extend_from_slice(request.payload());
                server.reply(&request, answer).expect("reply");
            }
        });
        assert_eq!(svc.call("one").expect("call").payload.as_ref(), b"re: one");
        assert_eq!(
            client.call(&svc, "two").expect("call").payload.as_ref(),
            b"re: two"
        );
    });
}

/// `fail` makes the call fail with a distinct kind carrying the server's bytes.
pub fn a_failed_request_carries_the_servers_bytes<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let server_pid = server.pid();
    std::thread::scope(|s| {
        s.spawn(|| {
            let request = take_request(&server);
            server.fail(&request, "no such user").expect("fail");
        });
        let error = client.call_timeout(server_pid, "who", LONG).unwrap_err();
        assert_eq!(error.kind(), CallErrorKind::Failed);
        assert_eq!(error.failure().expect("bytes").as_ref(), b"no such user");
        assert!(
            error.message().is_none(),
            "a taken request is not handed back"
        );
        assert_eq!(
            error.to_string(),
            "call failed: the server failed the request: no such user"
        );
    });
}

/// A caller that times out after its request was taken revokes the server's right: the late
/// reply is refused `Revoked`, counted, and never reaches the caller's next call.
pub fn a_late_reply_is_counted_and_never_delivered_to_a_later_call<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let (requests, taken) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..2 {
                requests.send(take_request(&server)).expect("hand over");
            }
        });
        // The server waits first, so the request is taken at once, then the call times out.
        await_waiting(&client, server.pid(), 1);
        let error = client
            .call_timeout(server.pid(), "first", SHORT)
            .unwrap_err();
        assert_eq!(error.kind(), CallErrorKind::Timeout);
        assert!(error.message().is_none(), "the server had taken it");
        let first = taken.recv_timeout(LONG).expect("the first request");
        assert_eq!(first.payload().as_ref(), b"first");
        assert_eq!(
            server.reply(&first, "late").unwrap_err(),
            ReplyError::Revoked
        );
        assert_eq!(late_replies(t, &client), 1);

        assert_eq!(
            server.reply(&first, "later still").unwrap_err(),
            ReplyError::NoRight
        );

        let call = s.spawn(|| client.call_timeout(server.pid(), "second", LONG));
        let second = taken.recv_timeout(LONG).expect("the second request");
        assert_eq!(second.payload().as_ref(), b"second");
        server.reply(&second, "fresh").expect("reply");
        let answer = call.join().expect("the caller thread").expect("call");
        assert_eq!(answer.payload.as_ref(), b"fresh");
    });
    assert_eq!(late_replies(t, &client), 1);
}

/// A call that times out before any process took its request hands the request back, and the
/// request is no longer there to be taken.
pub fn a_timed_out_call_nobody_took_hands_its_request_back<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let error = client
        .call_timeout(server.pid(), "unseen", SHORT)
        .unwrap_err();
    assert_eq!(error.kind(), CallErrorKind::Timeout);
    assert_eq!(
        error.into_message().expect("handed back").payload.as_ref(),
        b"unseen"
    );
    assert!(server.try_recv_any().is_err(), "the request was withdrawn");
    let deadline = Instant::now() + SHORT;
    let error = client
        .call_deadline(server.pid(), "again", deadline)
        .unwrap_err();
    assert_eq!(error.kind(), CallErrorKind::Timeout);
    assert_eq!(late_replies(t, &client), 0);
}

/// Dropping a waiting call future withdraws its request while nobody took it, and revokes the
/// reply right once somebody did.
pub fn a_dropped_call_future_withdraws_or_revokes<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let served = server.mailbox("svc").create().expect("create");
    let svc = client.mailbox("svc").open().expect("open");
    {
        let mut call = pin!(svc.call_async("withdrawn"));
        assert!(poll_once(call.as_mut()).is_pending());
        await_queued(&served, 1);
    }
    await_queued(&served, 0);

    std::thread::scope(|s| {
        let taking = s.spawn(|| served.recv_timeout(LONG).expect("a request"));
        await_blocked_receivers(&served, 1);
        let request = {
            let mut call = pin!(client.call_async(&svc, "revoked"));
            assert!(poll_once(call.as_mut()).is_pending());
            let request = taking.join().expect("the server thread");
            assert_eq!(request.payload().as_ref(), b"revoked");
            assert!(poll_once(call.as_mut()).is_pending(), "no answer yet");
            request
            // The future is dropped here, waiting.
        };
        // Over a socket the revocation travels on the client's connection and the reply on the
        // server's: wait until the daemon has seen the call withdrawn before replying.
        await_waiting(&server, client.pid(), 0);
        assert_eq!(
            server.reply(&request, "late").unwrap_err(),
            ReplyError::Revoked
        );
    });
    assert_eq!(late_replies(t, &client), 1);
}

/// A server that terminates holding requests fails every one of their calls with `PeerGone`, at
/// once rather than at their timeouts.
pub fn a_servers_death_fails_its_calls_at_once<T: Transport>(t: &T) {
    let server = t.process();
    let first = t.process();
    let second = t.process();
    let server_pid = server.pid();
    let patient = Duration::from_secs(3600);
    let (done, results) = mpsc::channel();
    for caller in [first, second] {
        let done = done.clone();
        // Plain threads: if the contract is broken they stay blocked, and the case fails.
        std::thread::spawn(move || {
            let _ = done.send(caller.call_timeout(server_pid, "hold", patient));
        });
    }
    let held = [take_request(&server), take_request(&server)];
    let started = Instant::now();
    drop(server);
    for _ in held {
        let error = results
            .recv_timeout(LONG)
            .expect("the call is woken")
            .unwrap_err();
        assert_eq!(error.kind(), CallErrorKind::PeerGone);
        assert!(error.message().is_none());
    }
    assert!(started.elapsed() < LONG);
}

/// A request to a mailbox nobody but the caller may receive from fails at once with
/// `NoResponders`, its request handed back; calls to gone or unknown processes fail at once too.
pub fn a_call_nobody_can_answer_fails_at_once<T: Transport>(t: &T) {
    let client = t.process();
    let own = client.mailbox("own").create().expect("create");
    let error = own.call_timeout("anyone?", LONG).unwrap_err();
    assert_eq!(error.kind(), CallErrorKind::NoResponders);
    assert_eq!(
        error.into_message().expect("handed back").payload.as_ref(),
        b"anyone?"
    );

    let server = t.process();
    let shared = server
        .mailbox("shared")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let theirs = client.mailbox("shared").open().expect("open");
    let error = theirs.call_timeout("queued", SHORT).unwrap_err();
    assert_eq!(
        error.kind(),
        CallErrorKind::Timeout,
        "a responder exists: it waits"
    );
    let gone = server.pid();
    drop(shared);
    drop(server);
    assert_eq!(
        client.call_timeout(gone, "late", LONG).unwrap_err().kind(),
        CallErrorKind::PeerGone
    );
    let never = postbox::Pid::from_raw(u64::MAX / 2);
    assert_eq!(
        client
            .call_timeout(never, "nobody", LONG)
            .unwrap_err()
            .kind(),
        CallErrorKind::NotFound
    );
}

/// A caller that terminates while a server holds its request revokes the reply right: its own
/// call ends `Disconnected`, and the server's reply is refused and counted.
pub fn a_callers_death_revokes_the_reply_right<T: Transport>(t: &T) {
    let server = t.process();
    let caller = t.process();
    let served = server.mailbox("svc").create().expect("create");
    let svc = caller.mailbox("svc").open().expect("open");
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(svc.call_timeout("orphan", Duration::from_secs(3600)));
    });
    let request = served.recv_timeout(LONG).expect("a request");
    let caller_pid = caller.pid();
    drop(caller);
    let error = result
        .recv_timeout(LONG)
        .expect("the call is woken")
        .unwrap_err();
    assert_eq!(error.kind(), CallErrorKind::Disconnected);
    // Through a daemon the termination reaches the node in its own time: wait until it has.
    wait_until("the caller has terminated", || {
        let all = server.list_processes().expect("list processes");
        all.iter().all(|info| info.pid != caller_pid)
    });
    assert_eq!(
        server.reply(&request, "nobody listens").unwrap_err(),
        ReplyError::Revoked
    );
    assert_eq!(late_replies(t, &server), 1);
}

/// A request is answered once: a second reply or fail is refused `NoRight`.
pub fn a_second_reply_is_refused<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let server_pid = server.pid();
    std::thread::scope(|s| {
        s.spawn(|| {
            let request = take_request(&server);
            server.reply(&request, "once").expect("reply");
            assert_eq!(
                server.reply(&request, "twice").unwrap_err(),
                ReplyError::NoRight
            );
            assert_eq!(
                server.fail(&request, "thrice").unwrap_err(),
                ReplyError::NoRight
            );
        });
        let answer = client.call_timeout(server_pid, "q", LONG).expect("call");
        assert_eq!(answer.payload.as_ref(), b"once");
    });
    let plain = {
        client.send_to(server_pid, "not a request").expect("send");
        server.recv_any().expect("recv")
    };
    assert_eq!(server.reply(&plain, "?").unwrap_err(), ReplyError::NoRight);
    assert_eq!(late_replies(t, &client), 0);
}

/// Only the process that received a request may answer it; another's attempt is refused and
/// leaves the right where it is.
pub fn only_the_receiver_may_reply<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let intruder = t.process();
    let server_pid = server.pid();
    std::thread::scope(|s| {
        s.spawn(|| {
            let request = take_request(&server);
            assert_eq!(
                intruder.reply(&request, "forged").unwrap_err(),
                ReplyError::NoRight
            );
            assert_eq!(
                client.fail(&request, "forged").unwrap_err(),
                ReplyError::NoRight
            );
            server.reply(&request, "genuine").expect("reply");
        });
        let answer = client.call_timeout(server_pid, "q", LONG).expect("call");
        assert_eq!(answer.payload.as_ref(), b"genuine");
    });
}

/// A request still queued when its mailbox is deleted fails its call `Gone`, and when the
/// mailbox is purged `Dropped`, the request handed back: no caller waits on a request nobody can
/// take any more.
pub fn queued_requests_of_a_deleted_or_purged_mailbox_fail_their_calls<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    for (name, kind) in [
        ("purged", CallErrorKind::Dropped),
        ("deleted", CallErrorKind::Gone),
    ] {
        let served = server.mailbox(name).create().expect("create");
        let svc = client.mailbox(name).open().expect("open");
        std::thread::scope(|s| {
            let call = s.spawn(|| svc.call_timeout("stranded", LONG));
            await_queued(&served, 1);
            match kind {
                CallErrorKind::Dropped => assert_eq!(served.purge().expect("purge"), 1),
                _ => served.delete().expect("delete"),
            }
            let error = call.join().expect("the caller thread").unwrap_err();
            assert_eq!(error.kind(), kind);
            assert_eq!(
                error.into_message().expect("handed back").payload.as_ref(),
                b"stranded"
            );
        });
    }
}

/// `peek` shows a queued request as the request it is, but peeking grants no right to answer
/// it; receiving it does.
pub fn peek_shows_requests_without_the_right_to_answer<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let served = server.mailbox("svc").create().expect("create");
    let svc = client.mailbox("svc").open().expect("open");
    std::thread::scope(|s| {
        let call = s.spawn(|| svc.call_timeout("peeked", LONG));
        await_queued(&served, 1);
        let seen = served.peek(1, Selector::Any).expect("peek");
        assert_eq!(seen.len(), 1);
        assert!(seen[0].call().is_some(), "peek shows a request");
        assert_eq!(
            server.reply(&seen[0], "early").unwrap_err(),
            ReplyError::NoRight
        );
        let request = served.recv_timeout(LONG).expect("recv");
        assert_eq!(request.call(), seen[0].call());
        server.reply(&request, "answered").expect("reply");
        let answer = call.join().expect("the caller thread").expect("call");
        assert_eq!(answer.payload.as_ref(), b"answered");
    });
}

/// A full mailbox makes a call's send wait under the call's deadline (the request handed back
/// on `Timeout`), and `try_call` fail `Full` at once.
pub fn a_full_mailbox_makes_the_call_wait_under_its_deadline<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let served = server
        .mailbox("svc")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    let svc = client.mailbox("svc").open().expect("open");
    svc.send("filler").expect("send");
    let error = svc.try_call("now").unwrap_err();
    assert_eq!(error.kind(), CallErrorKind::Full);
    assert_eq!(
        error.into_message().expect("handed back").payload.as_ref(),
        b"now"
    );
    let error = svc.call_timeout("soon", SHORT).unwrap_err();
    assert_eq!(error.kind(), CallErrorKind::Timeout);
    assert_eq!(
        error.into_message().expect("handed back").payload.as_ref(),
        b"soon"
    );
    std::thread::scope(|s| {
        let call = s.spawn(|| svc.call_timeout("when there is room", LONG));
        await_blocked_senders(&served, 1);
        assert_eq!(served.recv().expect("recv").payload().as_ref(), b"filler");
        let request = served.recv_timeout(LONG).expect("the request enters");
        server.reply(&request, "done").expect("reply");
        assert_eq!(
            call.join().expect("caller").expect("call").payload.as_ref(),
            b"done"
        );
    });
}

/// A waiting async receive dropped after it took a request loses nothing: the request (whose
/// reply right the process holds) goes to the process's next receive, and the answer reaches
/// the caller.
pub fn a_dropped_receive_keeps_the_request_it_took<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let served = server.mailbox("svc").create().expect("create");
    let svc = client.mailbox("svc").open().expect("open");
    std::thread::scope(|s| {
        let call = {
            let mut receive = pin!(served.recv_async());
            assert!(poll_once(receive.as_mut()).is_pending());
            await_blocked_receivers(&served, 1);
            let call = s.spawn(|| svc.call_timeout("kept", LONG));
            // The request went to the waiting receive: nobody waits and nothing is queued.
            await_blocked_receivers(&served, 0);
            call
            // The receive is dropped here, its answer unread.
        };
        let request = served.recv_timeout(LONG).expect("the request is kept");
        assert_eq!(request.payload().as_ref(), b"kept");
        server.reply(&request, "answered").expect("reply");
        let answer = call.join().expect("the caller thread").expect("call");
        assert_eq!(answer.payload.as_ref(), b"answered");
    });
}
