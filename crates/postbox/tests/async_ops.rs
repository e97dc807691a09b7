//! The `*_async` operations: they complete under tokio's multi-thread runtime and under
//! `pollster::block_on` with no runtime at all, they wake their task when the event comes, and
//! dropping a pending future withdraws its operation — a dropped receive takes nothing, a dropped
//! send is never received.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::{join_soon, stat, wait_blocked_receivers, wait_blocked_senders};
use postbox::{
    Capacity, Dispatch, InprocNode, Limits, Mailbox, Message, Process, Receivers, RecvError,
    Select, Selector,
};

const SHORT: Duration = Duration::from_millis(20);

fn shared(owner: &Process, name: &str, capacity: Capacity) -> Mailbox {
    owner
        .mailbox(name)
        .capacity(capacity)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create")
}

/// A waker that counts how often it was woken.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

// ---- tokio, multi-thread runtime ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_recv_async_completes_when_another_task_sends() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = Arc::new(shared(&owner, "jobs", Capacity::Unbounded));
    let receiver = node.process();
    let theirs = receiver.mailbox("jobs").open().unwrap();
    let task = tokio::spawn(async move { theirs.recv_async().await.map(|m| m.payload().clone()) });
    wait_blocked_receivers(&mailbox, 1);
    let sender = {
        let mailbox = mailbox.clone();
        tokio::spawn(async move { mailbox.send_async("hello").await })
    };
    assert_eq!(sender.await.unwrap().unwrap().receiver, None);
    assert_eq!(task.await.unwrap().unwrap().as_ref(), b"hello");
    drop(receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_rendezvous_send_async_waits_for_the_receiver_and_names_it() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let watch = owner.mailbox("meet").open().unwrap();
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("meet").open().unwrap();

    let sender = tokio::spawn(async move { meet.send_async("hello").await });
    wait_blocked_senders(&watch, 1);
    assert!(!sender.is_finished());
    let got = theirs.recv_async().await.unwrap();
    assert_eq!(got.payload().as_ref(), b"hello");
    assert_eq!(sender.await.unwrap().unwrap().receiver, Some(receiver_pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_send_with_receipt_async_names_the_receiver() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "receipts", Capacity::Unbounded);
    let watch = owner.mailbox("receipts").open().unwrap();
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("receipts").open().unwrap();
    let sender = tokio::spawn(async move { mailbox.send_with_receipt_async("sign").await });
    common::spin_until("the receipt message is queued", || {
        stat(&watch).messages == 1
    });
    assert!(!sender.is_finished(), "queued is not yet received");
    assert_eq!(
        theirs.recv_async().await.unwrap().payload().as_ref(),
        b"sign"
    );
    assert_eq!(sender.await.unwrap().unwrap(), receiver_pid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_direct_messages_async() {
    let node = InprocNode::new();
    let a = Arc::new(node.process());
    let b = Arc::new(node.process());
    let (a_pid, b_pid) = (a.pid(), b.pid());
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.recv_from_async(a_pid).await })
    };
    common::wait_waiting(&a, b_pid, 1);
    a.send_to_async(b_pid, "direct").await.unwrap();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!(
        (got.sender, got.payload().as_ref()),
        (a_pid, &b"direct"[..])
    );
    b.send_to_async(a_pid, Message::new("typed").with_type(5))
        .await
        .unwrap();
    assert_eq!(a.recv_any_async().await.unwrap().mtype(), 5);
    b.send_to_async(a_pid, Message::new("typed").with_type(6))
        .await
        .unwrap();
    let got = a.recv_matching_async(Selector::Type(6)).await.unwrap();
    assert_eq!(got.mtype(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_timeout_around_recv_async_withdraws_the_receive() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "later", Capacity::Unbounded);
    let first = node.process();
    let first_handle = first.mailbox("later").open().unwrap();

    let result = tokio::time::timeout(SHORT, first_handle.recv_async()).await;
    assert!(result.is_err(), "nothing was sent, so the timeout fires");
    assert_eq!(
        stat(&mailbox).blocked_receivers,
        0,
        "the dropped receive withdrew"
    );

    mailbox.send("for the next receiver").unwrap();
    assert_eq!(
        stat(&mailbox).messages,
        1,
        "queued, not taken by the dropped receive"
    );
    let second = node.process();
    let second_handle = second.mailbox("later").open().unwrap();
    let got = second_handle.recv_async().await.unwrap();
    assert_eq!(got.payload().as_ref(), b"for the next receiver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_a_dropped_pending_rendezvous_send_async_is_never_received() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = Arc::new(receiver.mailbox("meet").open().unwrap());

    let result = tokio::time::timeout(SHORT, meet.send_async("withdrawn")).await;
    assert!(result.is_err(), "nobody received, so the timeout fires");
    assert_eq!(stat(&meet).blocked_senders, 0);
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Empty);

    let taker = {
        let theirs = theirs.clone();
        tokio::spawn(async move { theirs.recv_async().await })
    };
    wait_blocked_receivers(&meet, 1);
    assert_eq!(
        meet.send_async("kept").await.unwrap().receiver,
        Some(receiver_pid)
    );
    assert_eq!(taker.await.unwrap().unwrap().payload().as_ref(), b"kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_select_wait_async_takes_from_the_branch_that_gets_a_message() {
    let node = InprocNode::new();
    let p = node.process();
    let a = p.mailbox("a").create().unwrap();
    let b = p.mailbox("b").create().unwrap();
    let b_sender = node.process();
    let their_b = b_sender.mailbox("b").open().unwrap();
    let mut select = Select::new();
    select.recv(&a, Selector::Any);
    select.recv(&b, Selector::Any);
    let sender = thread::spawn(move || {
        wait_blocked_receivers(&their_b, 1);
        their_b.send("to b").unwrap();
        (their_b, b_sender)
    });
    let selected = select.wait_async().await;
    join_soon(sender);
    let selected = selected.unwrap();
    assert_eq!(selected.index, 1);
    assert_eq!(selected.message.payload().as_ref(), b"to b");
    assert_eq!(stat(&a).blocked_receivers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokio_many_tasks_exchange_every_message_exactly_once() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 3;
    const EACH: usize = 200;
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "work", Capacity::bounded(2, 1024));
    let mut producers = Vec::new();
    let mut processes = Vec::new();
    for p in 0..PRODUCERS {
        let process = node.process();
        let handle = process.mailbox("work").open().unwrap();
        processes.push(process);
        producers.push(tokio::spawn(async move {
            for i in 0..EACH {
                handle.send_async(format!("{p}:{i}")).await.unwrap();
            }
        }));
    }
    let mut consumers = Vec::new();
    for _ in 0..CONSUMERS {
        let process = node.process();
        let handle = process.mailbox("work").open().unwrap();
        processes.push(process);
        consumers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let message = handle.recv_async().await.unwrap();
                if message.payload().as_ref() == b"stop" {
                    return got;
                }
                got.push(String::from_utf8(message.payload().to_vec()).unwrap());
            }
        }));
    }
    for producer in producers {
        producer.await.unwrap();
    }
    for _ in 0..CONSUMERS {
        mailbox.send_async("stop").await.unwrap();
    }
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.await.unwrap());
    }
    all.sort();
    let mut expected: Vec<String> = (0..PRODUCERS)
        .flat_map(|p| (0..EACH).map(move |i| format!("{p}:{i}")))
        .collect();
    expected.sort();
    assert_eq!(all, expected);
}

// ---- pollster, no runtime ----

#[test]
fn pollster_recv_async_completes_when_a_thread_sends() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "jobs", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("jobs").open().unwrap();
    let sender = thread::spawn(move || {
        wait_blocked_receivers(&mailbox, 1);
        mailbox.send("hello").unwrap();
        mailbox
    });
    let got = pollster::block_on(theirs.recv_async()).unwrap();
    assert_eq!(got.payload().as_ref(), b"hello");
    join_soon(sender);
}

#[test]
fn pollster_rendezvous_send_async_names_the_receiver() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("meet").open().unwrap();
    let watch = owner.mailbox("meet").open().unwrap();
    let taker = thread::spawn(move || {
        wait_blocked_senders(&watch, 1);
        theirs.recv().map(|m| m.payload().clone())
    });
    let sent = pollster::block_on(meet.send_async("hello")).unwrap();
    assert_eq!(sent.receiver, Some(receiver_pid));
    assert_eq!(join_soon(taker).unwrap().as_ref(), b"hello");
}

#[test]
fn pollster_send_with_receipt_async_and_send_to_async() {
    let node = InprocNode::new();
    let owner = node.process();
    let owner_pid = owner.pid();
    let mailbox = shared(&owner, "receipts", Capacity::Unbounded);
    let receiver = node.process();
    let receiver_pid = receiver.pid();
    let theirs = receiver.mailbox("receipts").open().unwrap();
    let taker = thread::spawn(move || {
        common::spin_until("the receipt message is queued", || {
            theirs.stat().unwrap().messages == 1
        });
        let signed = theirs.recv().unwrap();
        let direct = receiver.recv_from(owner_pid).unwrap();
        (signed.payload().clone(), direct.payload().clone())
    });
    let by = pollster::block_on(mailbox.send_with_receipt_async("sign")).unwrap();
    assert_eq!(by, receiver_pid);
    pollster::block_on(owner.send_to_async(receiver_pid, "direct")).unwrap();
    let (signed, direct) = join_soon(taker);
    assert_eq!(
        (signed.as_ref(), direct.as_ref()),
        (&b"sign"[..], &b"direct"[..])
    );
}

#[test]
fn pollster_select_wait_async_wakes_on_the_inbox_branch() {
    let node = InprocNode::new();
    let p = node.process();
    let mailbox = p.mailbox("quiet").create().unwrap();
    let sender = node.process();
    let p_pid = p.pid();
    let mut select = Select::new();
    select.recv(&mailbox, Selector::Any);
    select.inbox(&p, Selector::Any);
    let helper = thread::spawn(move || {
        common::wait_waiting(&sender, p_pid, 1);
        sender.send_to(p_pid, "to the inbox").unwrap();
        sender
    });
    let selected = pollster::block_on(select.wait_async()).unwrap();
    assert_eq!(selected.index, 1);
    assert_eq!(selected.message.payload().as_ref(), b"to the inbox");
    assert_eq!(stat(&mailbox).blocked_receivers, 0);
    join_soon(helper);
}

#[test]
fn pollster_send_to_async_waits_for_room_in_a_full_inbox() {
    let node = InprocNode::with_limits(Limits {
        inbox_capacity: 1,
        ..Limits::default()
    });
    let sender = node.process();
    let receiver = node.process();
    let (sender_pid, receiver_pid) = (sender.pid(), receiver.pid());
    sender.send_to(receiver_pid, "first").unwrap();
    let drainer = thread::spawn(move || {
        common::wait_waiting(&receiver, sender_pid, 1);
        let first = receiver.recv_any().unwrap();
        let second = receiver.recv_any().unwrap();
        (first.payload().clone(), second.payload().clone())
    });
    pollster::block_on(sender.send_to_async(receiver_pid, "second")).unwrap();
    let (first, second) = join_soon(drainer);
    assert_eq!(
        (first.as_ref(), second.as_ref()),
        (&b"first"[..], &b"second"[..])
    );
}

// ---- polling by hand: registration, wake-ups, cancellation ----

#[test]
fn a_pending_recv_future_is_woken_by_a_send_from_another_thread() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "wake", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("wake").open().unwrap();
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut future = pin!(theirs.recv_async());
    assert!(poll_once(future.as_mut(), &waker).is_pending());
    assert_eq!(stat(&mailbox).blocked_receivers, 1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);

    thread::scope(|s| {
        s.spawn(|| mailbox.send("wake up").unwrap());
    });
    assert!(
        counter.0.load(Ordering::SeqCst) >= 1,
        "the send woke the task"
    );
    match poll_once(future.as_mut(), &waker) {
        Poll::Ready(got) => assert_eq!(got.unwrap().payload().as_ref(), b"wake up"),
        Poll::Pending => panic!("woken but not ready"),
    }
}

#[test]
fn dropping_a_pending_recv_future_withdraws_the_receive() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "drop", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("drop").open().unwrap();
    {
        let mut future = pin!(theirs.recv_async());
        assert!(poll_once(future.as_mut(), Waker::noop()).is_pending());
        assert_eq!(stat(&mailbox).blocked_receivers, 1);
    }
    assert_eq!(stat(&mailbox).blocked_receivers, 0);
    mailbox.send("kept").unwrap();
    assert_eq!(stat(&mailbox).messages, 1);
    assert_eq!(mailbox.try_recv().unwrap().payload().as_ref(), b"kept");
}

#[test]
fn dropping_a_pending_rendezvous_send_future_means_it_is_never_received() {
    let node = InprocNode::new();
    let owner = node.process();
    let meet = shared(&owner, "meet", Capacity::Zero);
    let receiver = node.process();
    let theirs = receiver.mailbox("meet").open().unwrap();
    {
        let mut future = pin!(meet.send_async("withdrawn"));
        assert!(poll_once(future.as_mut(), Waker::noop()).is_pending());
        assert_eq!(stat(&meet).blocked_senders, 1);
    }
    assert_eq!(stat(&meet).blocked_senders, 0);
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn dropping_a_pending_receipt_send_future_withdraws_the_queued_message() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "receipts", Capacity::Unbounded);
    let receiver = node.process();
    let theirs = receiver.mailbox("receipts").open().unwrap();
    {
        let mut future = pin!(mailbox.send_with_receipt_async("withdrawn"));
        assert!(poll_once(future.as_mut(), Waker::noop()).is_pending());
        assert_eq!(stat(&mailbox).messages, 1);
    }
    assert_eq!(stat(&mailbox).messages, 0);
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn dropping_a_pending_bounded_send_future_lets_the_next_sender_in() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = owner
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .unwrap();
    mailbox.send("occupant").unwrap();
    {
        let mut future = pin!(mailbox.send_async("withdrawn"));
        assert!(poll_once(future.as_mut(), Waker::noop()).is_pending());
        assert_eq!(stat(&mailbox).blocked_senders, 1);
    }
    assert_eq!(stat(&mailbox).blocked_senders, 0);
    assert_eq!(mailbox.recv().unwrap().payload().as_ref(), b"occupant");
    mailbox.try_send("next").unwrap();
    assert_eq!(mailbox.recv().unwrap().payload().as_ref(), b"next");
    assert_eq!(mailbox.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn an_async_operation_does_nothing_until_first_polled() {
    let node = InprocNode::new();
    let owner = node.process();
    let mailbox = shared(&owner, "lazy", Capacity::Unbounded);
    drop(mailbox.send_async("never sent"));
    assert_eq!(stat(&mailbox).total_sent, 0);
    mailbox.send("queued").unwrap();
    drop(mailbox.recv_async());
    assert_eq!(
        stat(&mailbox).messages,
        1,
        "an unpolled receive takes nothing"
    );
}
