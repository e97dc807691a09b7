//! The conformance suite against a daemon through its Unix socket with every message payload
//! attached as a sealed memfd, both ways (`?shm_from=1`, the daemon's `attach_from` of 1): a
//! fresh daemon per test.
//!
//! Beside the suite, one test checks that the instantiation really moves payloads attached —
//! every receiver gets a mapped payload and the daemon's metrics count each attachment — so that
//! it cannot quietly fall back to inline payloads and pass as the plain `unix` suite does. The
//! others pin what docs/operations.md says of the fast path: what is copied (nothing on one
//! node, where the receiver maps the sender's own file; the bytes across a node link), that one
//! frame attaches at most 64 payloads, and that a sender out of descriptors is disconnected
//! rather than falling back to inline.

use std::time::{Duration, Instant};

use bytes::Bytes;
use postbox::{Capacity, Dispatch, MessageSize, Receivers, Select, Selector, SendErrorKind};
use postbox_conformance::{AttachedPayloads, ShmTransport, Transport};
use postbox_shm::{PooledPayload, SealedPayload};

postbox_conformance::conformance_tests!(unix_shm, postbox_conformance::ShmTransport::start());

/// Whether `payload` was mapped from an attached memfd rather than read from a frame.
fn mapped(payload: &Bytes) -> bool {
    SealedPayload::of(payload).is_some() || PooledPayload::of(payload).is_some()
}

/// Waits until the daemon has counted `received` and `sent` more attachments than `before`
/// (a payload is counted sent once its write returned, which may be just after its receiver
/// has it), failing after 10 s or on any other count.
fn expect_counted(
    t: &ShmTransport,
    before: AttachedPayloads,
    received: u64,
    sent: u64,
    what: &str,
) {
    let want = AttachedPayloads {
        received: before.received + received,
        sent: before.sent + sent,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = t.attached_payloads();
        if now == want {
            return;
        }
        let over = now.received > want.received || now.sent > want.sent;
        assert!(
            !over && Instant::now() < deadline,
            "{what}: the daemon counts {now:?} attached, expected {want:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn every_kind_of_operation_moves_its_payloads_attached() {
    let t = ShmTransport::start();
    assert!(t.url().ends_with("?shm_from=1"), "{}", t.url());
    let a = t.process();
    let b = t.process();
    let start = t.attached_payloads();
    assert_eq!(start, AttachedPayloads::default());

    // A send and a receive, of a 1-byte payload: the smallest attached.
    let q = a
        .mailbox("q")
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let theirs = b.mailbox("q").open().expect("open");
    q.send("x").expect("send");
    let got = theirs.recv().expect("recv");
    assert_eq!(got.payload().as_ref(), b"x");
    assert!(mapped(got.payload()), "a received payload is mapped");
    expect_counted(&t, start, 1, 1, "send and receive");

    // An empty payload cannot be attached (an attachment is at least 1 byte): it goes inline.
    let before = t.attached_payloads();
    q.send(Bytes::new()).expect("send");
    assert!(theirs.recv().expect("recv").payload().is_empty());
    expect_counted(&t, before, 0, 0, "an empty payload");

    // A batch, then several at once.
    let before = t.attached_payloads();
    q.send_batch(["b0", "b1", "b2"]).expect("send_batch");
    let many = theirs.recv_many(3).expect("recv_many");
    assert_eq!(many.len(), 3);
    assert!(many.iter().all(|got| mapped(got.payload())));
    expect_counted(&t, before, 3, 3, "a batch and recv_many");

    // Peek, a lease, select: each answer carries the message attached.
    let before = t.attached_payloads();
    q.send("p").expect("send");
    let peeked = theirs.peek(1, Selector::Any).expect("peek");
    assert!(mapped(peeked[0].payload()), "peek");
    let leased = theirs
        .lease_timeout(Duration::from_secs(10))
        .expect("lease");
    assert!(mapped(leased.payload()), "lease");
    leased.nack().expect("nack");
    let mut select = Select::new();
    select.recv(&theirs, Selector::Any);
    let selected = select.try_wait().expect("select");
    assert_eq!(selected.message.payload().as_ref(), b"p");
    assert!(mapped(selected.message.payload()), "select");
    expect_counted(&t, before, 1, 3, "peek, lease and select");

    // A consumer's window, taken ahead on lease.
    let before = t.attached_payloads();
    q.send_batch(["c0", "c1"]).expect("send_batch");
    let mut consumer = b.mailbox("q").open().expect("open").into_consumer(2);
    for expected in ["c0", "c1"] {
        let got = consumer.recv().expect("consumer recv");
        assert_eq!(got.payload().as_ref(), expected.as_bytes());
        assert!(mapped(got.payload()), "a consumer's message");
    }
    assert_eq!(consumer.stop().expect("stop"), 0, "both were handed out");
    expect_counted(&t, before, 2, 2, "a consumer");

    // Direct: an inbox.
    let before = t.attached_payloads();
    a.send_to(b.pid(), "direct").expect("send_to");
    assert!(mapped(b.recv_any().expect("recv_any").payload()));
    expect_counted(&t, before, 1, 1, "send_to");

    // A call through the mailbox and its reply: the request and the answer both travel
    // attached, both ways.
    let before = t.attached_payloads();
    std::thread::scope(|s| {
        let server = s.spawn(|| {
            let request = q.recv().expect("the request");
            assert!(mapped(request.payload()), "the request");
            a.reply(&request, "answer").expect("reply");
        });
        let answer = theirs.call("question").expect("call");
        assert_eq!(answer.payload.as_ref(), b"answer");
        assert!(mapped(&answer.payload), "the answer");
        server.join().expect("the server");
    });
    expect_counted(&t, before, 2, 2, "call and reply");

    // A failed send hands its message back attached.
    let full = a
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    full.send("filler").expect("send");
    let before = t.attached_payloads();
    let error = full.try_send("precious").expect_err("full");
    assert_eq!(error.kind(), SendErrorKind::Full);
    let back = error.into_message().expect("handed back");
    assert_eq!(back.payload.as_ref(), b"precious");
    assert!(mapped(&back.payload), "the message handed back");
    expect_counted(&t, before, 1, 1, "a send handed back");
}

/// The inode of the memfd behind an attached payload, which names the file itself.
fn inode(payload: &Bytes) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let fd = match (SealedPayload::of(payload), PooledPayload::of(payload)) {
        (Some(sealed), _) => sealed.fd().try_clone_to_owned(),
        (None, Some(pooled)) => pooled.fds()[0].try_clone_to_owned(),
        (None, None) => panic!("not an attached payload"),
    }
    .expect("a descriptor");
    std::fs::File::from(fd).metadata().expect("fstat").ino()
}

/// A mailbox for payloads of up to 256 KiB.
fn roomy(process: &postbox::Process, name: &str) -> postbox::Mailbox {
    process
        .mailbox(name)
        .size(MessageSize::Variable(256 << 10))
        .capacity(Capacity::bounded(4, 1 << 20))
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create")
}

#[test]
fn on_one_node_the_receiver_maps_the_very_file_the_sender_wrote() {
    let t = ShmTransport::start();
    let (a, b) = (t.process(), t.process());
    let q = roomy(&a, "q");
    let theirs = b.mailbox("q").open().expect("open");
    let mut loan = q.loan(100_000);
    assert!(loan.is_shared());
    loan[..5].copy_from_slice(b"hello");
    let sent = loan.into_bytes();
    q.send(sent.clone()).expect("send");
    let got = theirs.recv().expect("recv");
    assert_eq!(got.payload(), &sent);
    assert_eq!(inode(got.payload()), inode(&sent), "no copy anywhere");

    // Passed on by its receiver, it is still the same file.
    b.send_to(a.pid(), got.payload().clone()).expect("send_to");
    let again = a.recv_any().expect("recv_any");
    assert_eq!(
        inode(again.payload()),
        inode(&sent),
        "passed on, not copied"
    );
}

#[test]
fn a_frame_attaches_at_most_64_payloads_and_carries_the_rest_inline() {
    let t = ShmTransport::start();
    let (a, b) = (t.process(), t.process());
    let q = a
        .mailbox("q")
        .capacity(Capacity::bounded(100, 1 << 20))
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let theirs = b.mailbox("q").open().expect("open");
    let before = t.attached_payloads();
    q.send_batch((0..70).map(|i| format!("m{i}")))
        .expect("send_batch");
    let all = theirs.recv_many(70).expect("recv_many");
    let texts: Vec<String> = all
        .iter()
        .map(|got| String::from_utf8_lossy(got.payload()).into_owned())
        .collect();
    assert_eq!(texts, (0..70).map(|i| format!("m{i}")).collect::<Vec<_>>());
    let attached: Vec<bool> = all.iter().map(|got| mapped(got.payload())).collect();
    assert!(attached[..64].iter().all(|&a| a) && attached[64..].iter().all(|&a| !a));
    expect_counted(&t, before, 64, 64, "70 messages in one frame each way");
}

#[test]
fn across_nodes_the_link_carries_a_copy_and_the_far_side_attaches_it_anew() {
    // Processes on node a, their mailboxes on node b: a payload goes a → b → a, over the link
    // both ways (TLS: bytes, never descriptors).
    let t = postbox_conformance::NodesTransport::start();
    let (a, b) = (t.process(), t.process());
    let q = roomy(&a, "q");
    let theirs = b.mailbox("q").open().expect("open");
    let mut loan = q.loan(100_000);
    assert!(loan.is_shared(), "attached from 64 KiB on node a's socket");
    loan[..5].copy_from_slice(b"hello");
    let sent = loan.into_bytes();
    q.send(sent.clone()).expect("send");
    let got = theirs.recv().expect("recv");
    assert_eq!(got.payload(), &sent);
    assert!(
        mapped(got.payload()),
        "node a attaches what the link brought"
    );
    assert_ne!(
        inode(got.payload()),
        inode(&sent),
        "a copy, not the sender's file"
    );
}

/// The daemon's URL, for the child of
/// `a_sender_out_of_descriptors_is_disconnected_not_sent_inline`.
const CHILD_URL: &str = "POSTBOX_CONFORMANCE_SHM_CHILD_URL";

#[test]
fn a_sender_out_of_descriptors_is_disconnected_not_sent_inline() {
    let t = ShmTransport::start();
    let observer = t.process();
    let child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "out_of_descriptors_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL, t.url())
        .output()
        .expect("run the child");
    assert!(
        child.status.success(),
        "the child failed:\n{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    // The child's process is gone; nothing it tried arrived, and the daemon serves others.
    let stats = observer.node_stats().expect("node_stats");
    assert_eq!((stats.processes, stats.total_sent), (1, 0));
}

/// Run by `a_sender_out_of_descriptors_is_disconnected_not_sent_inline` in a process of its
/// own: takes every descriptor this process may open, then sends.
#[test]
#[ignore = "a child of a_sender_out_of_descriptors_is_disconnected_not_sent_inline"]
fn out_of_descriptors_child() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let url = std::env::var(CHILD_URL).expect("run as a child, with the daemon's URL");
    let process = postbox::connect(&url).expect("connect");
    let inbox = process.pid();
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(256),
            maximum: limit.maximum,
        },
    )
    .expect("lower the descriptor limit");
    let mut taken = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => taken.push(file),
            Err(error) if error.raw_os_error() == Some(rustix::io::Errno::MFILE.raw_os_error()) => {
                break;
            }
            Err(error) => panic!("opening /dev/null: {error}"),
        }
        assert!(taken.len() < 256, "the limit does not hold");
    }
    let error = process
        .send_to(inbox, "no file can be made for this")
        .expect_err("no payload file, no send");
    assert_eq!(error.kind(), SendErrorKind::Disconnected, "{error}");
    drop(taken);
    assert_eq!(
        process.node_stats().map(|_| ()).unwrap_err().to_string(),
        postbox::AdminError::Disconnected.to_string(),
        "the connection is over for good"
    );
}
