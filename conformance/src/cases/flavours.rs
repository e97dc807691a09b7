//! The flavours every operation comes in besides blocking and `try_*`: `*_timeout`,
//! `*_deadline` and `*_async` (futures that work on any executor, withdrawn when dropped).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use postbox::{Capacity, Message, RecvError, Select, Selector, SendErrorKind, Sent};

use crate::Transport;
use crate::support::{LONG, SHORT, await_blocked_receivers, await_blocked_senders, drain};

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Timeouts fail with `Timeout` only after the time has passed, and leave no waiter behind; a
/// timed-out send hands its message back and queues nothing.
pub fn timeouts_fail_after_the_time_and_leave_nothing<T: Transport>(t: &T) {
    let p = t.process();
    let full = p
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    full.send("kept").expect("send");
    let started = Instant::now();
    let error = full
        .send_timeout(Message::new("late").with_type(5), SHORT)
        .unwrap_err();
    assert!(started.elapsed() >= SHORT, "waited the whole timeout");
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    assert_eq!(
        error.into_message(),
        Some(Message::new("late").with_type(5))
    );

    let empty = p.mailbox("empty").create().expect("create");
    let started = Instant::now();
    assert_eq!(empty.recv_timeout(SHORT).unwrap_err(), RecvError::Timeout);
    assert!(started.elapsed() >= SHORT, "waited the whole timeout");
    assert_eq!(
        empty
            .recv_matching_timeout(Selector::Type(3), SHORT)
            .unwrap_err(),
        RecvError::Timeout
    );
    assert_eq!(p.recv_any_timeout(SHORT).unwrap_err(), RecvError::Timeout);

    let stats = full.stat().expect("stat");
    assert_eq!((stats.messages, stats.blocked_senders), (1, 0));
    assert_eq!(empty.stat().expect("stat").blocked_receivers, 0);
}

/// A deadline already passed still completes what is ready at once, and otherwise times out.
pub fn past_deadlines_complete_only_what_is_ready<T: Transport>(t: &T) {
    let p = t.process();
    let peer = t.process();
    let jobs = p
        .mailbox("jobs")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    jobs.send_deadline("fits", Instant::now())
        .expect("room now");
    let error = jobs.send_deadline("no room", Instant::now()).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Timeout);
    let got = jobs.recv_deadline(Instant::now()).expect("ready now");
    assert_eq!(got.payload().as_ref(), b"fits");
    assert_eq!(
        jobs.recv_deadline(Instant::now()).unwrap_err(),
        RecvError::Timeout
    );
    assert_eq!(
        jobs.recv_matching_deadline(Selector::Any, Instant::now())
            .unwrap_err(),
        RecvError::Timeout
    );

    peer.send_to_deadline(p.pid(), "direct", Instant::now())
        .expect("room now");
    let got = p
        .recv_from_deadline(peer.pid(), Instant::now())
        .expect("ready now");
    assert_eq!(got.payload().as_ref(), b"direct");
    assert_eq!(
        p.recv_any_deadline(Instant::now()).unwrap_err(),
        RecvError::Timeout
    );
    assert_eq!(
        p.recv_matching_deadline(Selector::Any, Instant::now())
            .unwrap_err(),
        RecvError::Timeout
    );
}

/// Async operations that need no other event complete on their own (here on a plain blocking
/// executor), with the same results as the blocking forms.
pub fn ready_async_operations_complete_on_their_own<T: Transport>(t: &T) {
    use pollster::block_on;
    let p = t.process();
    let peer = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    let sent = block_on(jobs.send_async("async")).expect("send_async");
    assert_eq!(sent, Sent { receiver: None });
    let got = block_on(jobs.recv_async()).expect("recv_async");
    assert_eq!(got.payload().as_ref(), b"async");
    jobs.send(Message::new("typed").with_type(4)).expect("send");
    let got = block_on(jobs.recv_matching_async(Selector::Type(4))).expect("recv_matching_async");
    assert_eq!(got.mtype(), 4);

    block_on(peer.send_to_async(p.pid(), "direct")).expect("send_to_async");
    peer.send_to(p.pid(), "again").expect("send_to");
    let got = block_on(p.recv_from_async(peer.pid())).expect("recv_from_async");
    assert_eq!(got.payload().as_ref(), b"direct");
    let got = block_on(p.recv_any_async()).expect("recv_any_async");
    assert_eq!(got.payload().as_ref(), b"again");

    jobs.send("selected").expect("send");
    let mut select = Select::new();
    select.recv(&jobs, Selector::Any);
    let got = block_on(select.wait_async()).expect("wait_async");
    assert_eq!(
        (got.index, got.message.payload().as_ref()),
        (0, &b"selected"[..])
    );
    let error = block_on(jobs.send_async(Message::new("bad").with_type(0))).unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::InvalidType);
    assert_eq!(error.into_message(), Some(Message::new("bad").with_type(0)));
}

/// A waiting async receive completes when a message arrives, on a plain blocking executor.
pub fn a_waiting_async_receive_completes_on_send<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let jobs = owner.mailbox("jobs").create().expect("create");
    let theirs = peer.mailbox("jobs").open().expect("open");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| pollster::block_on(jobs.recv_async()));
        await_blocked_receivers(&jobs, 1);
        theirs.send("wake up").expect("send");
        let got = receiver.join().expect("receiver").expect("recv_async");
        assert_eq!(got.payload().as_ref(), b"wake up");
    });
}

/// An async rendezvous send completes when a receiver takes the message, and names it.
pub fn an_async_rendezvous_names_its_receiver<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let meet = owner
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    let theirs = peer.mailbox("meet").open().expect("open");
    std::thread::scope(|s| {
        let sender = s.spawn(|| pollster::block_on(theirs.send_async("async hello")));
        await_blocked_senders(&meet, 1);
        assert_eq!(
            meet.recv().expect("recv").payload().as_ref(),
            b"async hello"
        );
        let sent = sender.join().expect("sender").expect("send_async");
        assert_eq!(sent.receiver, Some(owner.pid()));
    });
    std::thread::scope(|s| {
        let sender = s.spawn(|| pollster::block_on(theirs.send_with_receipt_async("receipted")));
        await_blocked_senders(&meet, 1);
        meet.recv().expect("recv");
        assert_eq!(
            sender.join().expect("sender").expect("receipt"),
            owner.pid()
        );
    });
}

/// Dropping a waiting future withdraws its operation: a receive stops waiting (a later message
/// stays queued), a send is not delivered.
pub fn dropping_a_waiting_future_withdraws_it<T: Transport>(t: &T) {
    let p = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    {
        let mut receive = pin!(jobs.recv_async());
        assert!(poll_once(receive.as_mut()).is_pending());
        await_blocked_receivers(&jobs, 1);
    }
    await_blocked_receivers(&jobs, 0);
    jobs.send("stays").expect("send");
    assert_eq!(drain(&jobs), ["stays"]);

    let meet = p
        .mailbox("meet")
        .capacity(Capacity::Zero)
        .create()
        .expect("create");
    {
        let mut send = pin!(meet.send_async("never delivered"));
        assert!(poll_once(send.as_mut()).is_pending());
        await_blocked_senders(&meet, 1);
    }
    await_blocked_senders(&meet, 0);
    assert_eq!(meet.try_recv().unwrap_err(), RecvError::Empty);
}

/// A timeout too large for the clock waits like a blocking call: no overflow, no early failure.
pub fn huge_timeouts_wait_like_blocking_calls<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let jobs = owner.mailbox("jobs").create().expect("create");
    let theirs = peer.mailbox("jobs").open().expect("open");
    theirs
        .send_timeout("ready", std::time::Duration::MAX)
        .expect("room");
    let got = jobs.recv_timeout(std::time::Duration::MAX).expect("ready");
    assert_eq!(got.payload().as_ref(), b"ready");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| jobs.recv_timeout(std::time::Duration::MAX));
        await_blocked_receivers(&jobs, 1);
        theirs.send("later").expect("send");
        let got = receiver.join().expect("receiver").expect("recv");
        assert_eq!(got.payload().as_ref(), b"later");
    });
}

/// Several threads of one process, each blocked in its own receive, are each woken by their own
/// message, whatever order the messages come in (a transport that reads answers in the waiting
/// thread hands the reading over when its own answer is in).
pub fn threads_of_one_process_blocked_at_once_each_get_their_answer<T: Transport>(t: &T) {
    const THREADS: usize = 4;
    let waiting = t.process();
    let sender = t.process();
    let mailboxes: Vec<_> = (0..THREADS)
        .map(|n| {
            waiting
                .mailbox(&format!("each-{n}"))
                .mode(postbox::Mode::new(0o666))
                .create()
                .expect("create")
        })
        .collect();
    let handles: Vec<_> = (0..THREADS)
        .map(|n| sender.mailbox(&format!("each-{n}")).open().expect("open"))
        .collect();
    std::thread::scope(|s| {
        let receivers: Vec<_> = mailboxes
            .iter()
            .map(|mailbox| s.spawn(move || mailbox.recv_timeout(LONG)))
            .collect();
        for mailbox in &mailboxes {
            await_blocked_receivers(mailbox, 1);
        }
        // One answer at a time, first blocked first: whichever thread reads for the others is
        // answered while others still wait, and must hand the reading over.
        for (n, (handle, receiver)) in handles.iter().zip(receivers).enumerate() {
            handle.send(format!("for {n}")).expect("send");
            let received = receiver.join().expect("no panic").expect("received");
            assert_eq!(received.payload().as_ref(), format!("for {n}").as_bytes());
        }
    });
}

/// A blocking receive and a waiting future of one process are both answered (the future needs
/// the transport to read answers without the blocked thread's help).
pub fn a_blocked_call_and_a_waiting_future_of_one_process_are_both_answered<T: Transport>(t: &T) {
    let waiting = t.process();
    let sender = t.process();
    let blocking = waiting
        .mailbox("blocking")
        .mode(postbox::Mode::new(0o666))
        .create()
        .expect("create");
    let later = waiting
        .mailbox("later")
        .mode(postbox::Mode::new(0o666))
        .create()
        .expect("create");
    let to_blocking = sender.mailbox("blocking").open().expect("open");
    let to_later = sender.mailbox("later").open().expect("open");
    std::thread::scope(|s| {
        let blocked = s.spawn(|| blocking.recv_timeout(LONG));
        await_blocked_receivers(&blocking, 1);
        let mut future = pin!(later.recv_async());
        assert!(poll_once(future.as_mut()).is_pending());
        await_blocked_receivers(&later, 1);
        to_later.send("to the future").expect("send");
        let received = pollster::block_on(future).expect("the future is answered");
        assert_eq!(received.payload().as_ref(), b"to the future");
        to_blocking.send("to the thread").expect("send");
        let received = blocked.join().expect("no panic").expect("received");
        assert_eq!(received.payload().as_ref(), b"to the thread");
    });
}
