//! Large payloads attached beside the frames on `unix://` (protocol.md §7.5), end to end: the
//! library sends them as sealed memfds, the daemon passes them on, receivers map them; through
//! every kind of mailbox, with the feature on and off, beside a TCP receiver that gets bytes, and
//! against clients that send descriptors they should not.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use postbox::{
    Capacity, Dispatch, Message, MessageSize, Mode, Order, Ownership, Receivers, Selector,
};
use postbox_daemon::{Daemon, DaemonConfig, TcpListen};
use postbox_shm::{PayloadPool, PoolLimits, PooledPayload, Prefault, SealedPayload};
use postbox_wire::Token;

const MIB: usize = 1 << 20;
const TOKEN: &str = "attached payloads test token";

/// A daemon in this process on a unique socket (and a loopback TCP port, port 0), stopped on
/// drop.
struct Embedded {
    dir: PathBuf,
    unix: String,
    tcp: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Embedded {
    fn start() -> Embedded {
        static STARTED: AtomicU64 = AtomicU64::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("postbox-attached-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let loopback = "127.0.0.1:0".parse().unwrap();
        let config = DaemonConfig::new()
            .with_socket_path(dir.join("postbox.sock"))
            .with_max_frame_len(16 << 20)
            .with_tcp(TcpListen::new(loopback, Token::new(TOKEN).unwrap()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let daemon = runtime.block_on(async { Daemon::bind(config) }).unwrap();
        let unix = format!("unix://{}", daemon.socket_path().display());
        let tcp = format!("tcp://{}", daemon.local_tcp_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        Embedded {
            dir,
            unix,
            tcp,
            stop: Some(stop),
            runtime: Some(runtime),
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("postbox.sock")
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// Whether a received payload was mapped from an attached memfd rather than copied.
fn mapped(payload: &Bytes) -> bool {
    SealedPayload::of(payload).is_some() || PooledPayload::of(payload).is_some()
}

fn big_mailbox(process: &postbox::Process, name: &str) -> postbox::MailboxBuilder {
    process
        .mailbox(name)
        .size(MessageSize::Variable(2 * MIB))
        .capacity(Capacity::bounded(16, 32 * MIB))
        .ownership(Ownership::System)
        .mode(Mode::new(0o666))
}

#[test]
fn smoke() {
    let daemon = Embedded::start();
    let a = postbox::connect(&daemon.unix).unwrap();
    let b = postbox::connect(&daemon.unix).unwrap();
    let sent = pattern(MIB, 1);
    a.send_to(b.pid(), Message::new(sent.clone())).unwrap();
    let got = b.recv_any().unwrap();
    assert_eq!(got.payload(), &sent);
    assert!(mapped(got.payload()), "a 1 MiB payload arrives mapped");

    a.send_to(b.pid(), Message::new(pattern(100, 2))).unwrap();
    let got = b.recv_any().unwrap();
    assert_eq!(got.payload(), &pattern(100, 2));
    assert!(!mapped(got.payload()), "a small payload travels inline");
}

#[test]
fn every_kind_of_mailbox_carries_attached_payloads_with_the_feature_on_and_off() {
    let daemon = Embedded::start();
    // `shm_from` sets what this client attaches when it sends; the daemon attaches every payload
    // of 64 KiB or more to a receiver with the capability, so these still arrive mapped.
    for (query, attached) in [("", true), ("?shm=off", false), ("?shm_from=200000", true)] {
        let url = format!("{}{query}", daemon.unix);
        let a = postbox::connect(&url).unwrap();
        let b = postbox::connect(&url).unwrap();
        let name = |kind: &str| format!("{kind}{}", query.len());
        let len = 150_000;

        // FIFO, and typed selective receive.
        let fifo = big_mailbox(&a, &name("fifo")).create().unwrap();
        let theirs = b.mailbox(&name("fifo")).open().unwrap();
        fifo.send(Message::new(pattern(len, 1)).with_type(7))
            .unwrap();
        fifo.send(Message::new(pattern(len, 2)).with_type(3))
            .unwrap();
        let got = theirs.recv_matching(Selector::TypeAtMost(5)).unwrap();
        assert_eq!((got.payload(), got.message.mtype), (&pattern(len, 2), 3));
        assert_eq!(mapped(got.payload()), attached, "{query}");
        let got = theirs.recv().unwrap();
        assert_eq!(got.payload(), &pattern(len, 1));

        // Priority order.
        let prio = big_mailbox(&a, &name("prio"))
            .order(Order::Priority)
            .create()
            .unwrap();
        let theirs = b.mailbox(&name("prio")).open().unwrap();
        prio.send(Message::new(pattern(len, 3)).with_priority(1))
            .unwrap();
        prio.send(Message::new(pattern(len, 4)).with_priority(9))
            .unwrap();
        assert_eq!(theirs.recv().unwrap().payload(), &pattern(len, 4));
        assert_eq!(theirs.recv().unwrap().payload(), &pattern(len, 3));

        // A batch, and several received at once.
        let batch: Vec<Message> = (0..4).map(|i| Message::new(pattern(len, 10 + i))).collect();
        fifo.send_batch(batch).unwrap();
        let many = theirs_many(&b, &name("fifo"), 4);
        for (i, got) in many.iter().enumerate() {
            assert_eq!(got.payload(), &pattern(len, 10 + i as u8));
            assert_eq!(mapped(got.payload()), attached);
        }

        // Rendezvous: the send returns once the receiver has the message.
        let meet = big_mailbox(&a, &name("meet"))
            .capacity(Capacity::Zero)
            .receivers(Receivers::Shared(Dispatch::FirstWaiting))
            .create()
            .unwrap();
        let theirs = b.mailbox(&name("meet")).open().unwrap();
        std::thread::scope(|s| {
            let receiver = s.spawn(|| theirs.recv().unwrap());
            meet.send(Message::new(pattern(MIB, 5))).unwrap();
            let got = receiver.join().unwrap();
            assert_eq!(got.payload(), &pattern(MIB, 5));
            assert_eq!(mapped(got.payload()), attached);
        });

        // A call and its answer, both large.
        let service = big_mailbox(&a, &name("svc")).create().unwrap();
        let client_side = b.mailbox(&name("svc")).open().unwrap();
        std::thread::scope(|s| {
            let server = s.spawn(|| {
                let request = service.recv().unwrap();
                assert_eq!(request.payload(), &pattern(len, 6));
                assert_eq!(mapped(request.payload()), attached);
                a.reply(&request, Message::new(pattern(len, 7))).unwrap();
            });
            let answer = client_side.call(Message::new(pattern(len, 6))).unwrap();
            assert_eq!(answer.payload, pattern(len, 7));
            assert_eq!(mapped(&answer.payload), attached);
            server.join().unwrap();
        });
    }
}

fn theirs_many(process: &postbox::Process, name: &str, count: usize) -> Vec<postbox::Received> {
    let mailbox = process.mailbox(name).open().unwrap();
    let mut all = Vec::new();
    while all.len() < count {
        all.extend(mailbox.recv_many(count - all.len()).unwrap());
    }
    all
}

#[test]
fn a_tcp_receiver_gets_the_bytes_of_an_attached_payload() {
    let daemon = Embedded::start();
    let sender = postbox::connect(&daemon.unix).unwrap();
    let receiver = postbox::connect_with_token(&daemon.tcp, TOKEN.as_bytes()).unwrap();
    sender
        .send_to(receiver.pid(), Message::new(pattern(MIB, 9)))
        .unwrap();
    let got = receiver.recv_any().unwrap();
    assert_eq!(got.payload(), &pattern(MIB, 9));
    assert!(!mapped(got.payload()));
    // And back: inline from TCP, attached by the daemon to the unix receiver.
    receiver
        .send_to(sender.pid(), Message::new(pattern(MIB, 8)))
        .unwrap();
    let got = sender.recv_any().unwrap();
    assert_eq!(got.payload(), &pattern(MIB, 8));
    assert!(mapped(got.payload()));
}

/// A raw client: the handshake with the attachments capability, then frames written by hand.
struct Raw {
    stream: UnixStream,
    session: postbox_wire::ClientSession,
}

impl Raw {
    fn connect(daemon: &Embedded) -> Raw {
        let mut stream = UnixStream::connect(daemon.socket()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let config = postbox_wire::ClientConfig::new()
            .with_capabilities(postbox_wire::Capabilities::ATTACHMENTS);
        let mut session = postbox_wire::ClientSession::new(config);
        stream.write_all(&session.transmit().split()).unwrap();
        loop {
            if let Some(event) = session.poll_event() {
                assert!(
                    matches!(event, postbox_wire::ClientEvent::Connected(_)),
                    "{event:?}"
                );
                break;
            }
            let mut buf = [0u8; 4096];
            let n = std::io::Read::read(&mut stream, &mut buf).unwrap();
            assert!(n > 0, "the daemon closed during the handshake");
            session.handle_input(&mut bytes::BytesMut::from(&buf[..n]));
        }
        Raw { stream, session }
    }

    /// Sends a `Send` to `to`'s inbox whose payload is attached as `fd`, claiming `claimed`
    /// bytes.
    fn send_attached(&mut self, to: postbox::Pid, fd: std::os::fd::BorrowedFd<'_>, claimed: u64) {
        self.send_attached_fds(to, &[fd], claimed);
    }

    /// A `Send` to `to` with one attached payload of `claimed` bytes, and `fds` beside it.
    fn send_attached_fds(
        &mut self,
        to: postbox::Pid,
        fds: &[std::os::fd::BorrowedFd<'_>],
        claimed: u64,
    ) {
        let request = postbox_wire::Request::Send {
            target: postbox_wire::Target::Process(to),
            message: Message::new(Bytes::new()),
            delivery: postbox_core::Delivery::Queued,
            wait: postbox_core::Wait::Block,
        };
        let mut payload = vec![postbox_wire::ATTACHED, 1, 0, 0, 0, 0];
        payload.extend_from_slice(&claimed.to_le_bytes());
        payload.extend_from_slice(&postbox_wire::encode_request(&request));
        let frame = postbox_wire::Frame::request(
            postbox_wire::RequestId::new(1).unwrap(),
            Bytes::from(payload),
        );
        let mut bytes = bytes::BytesMut::new();
        let negotiated = self.session.negotiated().unwrap();
        postbox_wire::Codec::new(negotiated.frame_config())
            .encode(&frame, &mut bytes)
            .unwrap();
        postbox_shm::send_with_fds(self.stream.as_fd(), &bytes, fds).unwrap();
    }

    /// A `ListMailboxes` request's frame, in flight for the session.
    fn ping(&mut self) -> bytes::BytesMut {
        self.session
            .request(&postbox_wire::Request::ListMailboxes, None)
            .unwrap();
        self.session.transmit().split()
    }

    /// Reads until the daemon closes; whether it said `PROTOCOL_VIOLATION` first.
    fn refused(&mut self) -> bool {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut self.stream, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        self.session
            .handle_input(&mut bytes::BytesMut::from(&all[..]));
        self.session.handle_end();
        std::iter::from_fn(|| self.session.poll_event()).any(|event| {
            matches!(event, postbox_wire::ClientEvent::Ended(postbox_wire::Ending::PeerError(body))
                if body.code() == postbox_wire::ErrorCode::PROTOCOL_VIOLATION)
        })
    }
}

#[test]
fn hostile_descriptors_end_that_connection_and_the_daemon_serves_others() {
    let daemon = Embedded::start();
    let bystander = postbox::connect(&daemon.unix).unwrap();

    // A memfd without seals.
    let unsealed =
        rustix::fs::memfd_create("hostile", rustix::fs::MemfdFlags::ALLOW_SEALING).unwrap();
    rustix::fs::ftruncate(&unsealed, 4096).unwrap();
    let mut raw = Raw::connect(&daemon);
    raw.send_attached(bystander.pid(), unsealed.as_fd(), 4096);
    assert!(raw.refused(), "an unsealed memfd");

    // A sealed payload shorter than the claim.
    let sealed = SealedPayload::copy_of(&pattern(5000, 1)).unwrap();
    let mut raw = Raw::connect(&daemon);
    raw.send_attached(bystander.pid(), sealed.fd(), 6000);
    assert!(raw.refused(), "shorter than claimed");

    // A pooled slot without its token, or with something else than a pipe's writing end.
    let pool = PayloadPool::new(PoolLimits::default());
    let pooled = pool.copy_of(&pattern(5000, 2)).unwrap();
    let [slot, token] = pooled.fds()[..] else {
        panic!("a slot and a token")
    };
    let mut raw = Raw::connect(&daemon);
    raw.send_attached_fds(bystander.pid(), &[slot], 5000);
    assert!(raw.refused(), "a pooled slot without its token");
    let mut raw = Raw::connect(&daemon);
    raw.send_attached_fds(bystander.pid(), &[slot, sealed.fd()], 5000);
    assert!(raw.refused(), "a pooled slot whose token is not a pipe");
    let (reading_end, _writing_end) = rustix::pipe::pipe().unwrap();
    let mut raw = Raw::connect(&daemon);
    raw.send_attached_fds(bystander.pid(), &[slot, reading_end.as_fd()], 5000);
    assert!(
        raw.refused(),
        "a pooled slot whose token is a pipe's reading end"
    );
    // Sent properly, the same slot is taken.
    let mut raw = Raw::connect(&daemon);
    raw.send_attached_fds(bystander.pid(), &[slot, token], 5000);
    assert_eq!(bystander.recv_any().unwrap().payload(), &pattern(5000, 2));

    // A file that is not a memfd.
    let (socket, _peer) = UnixStream::pair().unwrap();
    let mut raw = Raw::connect(&daemon);
    raw.send_attached(bystander.pid(), socket.as_fd(), 10);
    assert!(raw.refused(), "not a memfd");

    // Descriptors with a frame that claims none, then a frame after it.
    let mut raw = Raw::connect(&daemon);
    let fds: Vec<_> = (0..3).map(|_| sealed.fd()).collect();
    let first = raw.ping();
    postbox_shm::send_with_fds(raw.stream.as_fd(), &first, &fds).unwrap();
    let second = raw.ping();
    postbox_shm::send_with_fds(raw.stream.as_fd(), &second, &[]).unwrap();
    assert!(raw.refused(), "extra descriptors");

    // More descriptors in one read than a frame may carry.
    let mut raw = Raw::connect(&daemon);
    let many: Vec<_> = (0..64).map(|_| sealed.fd()).collect();
    for _ in 0..3 {
        let ping = raw.ping();
        postbox_shm::send_with_fds(raw.stream.as_fd(), &ping, &many).unwrap();
    }
    assert!(raw.refused(), "too many descriptors");

    // Nothing reached the bystander, and the daemon serves everyone else as before.
    assert!(bystander.try_recv_any().is_err());
    let other = postbox::connect(&daemon.unix).unwrap();
    other
        .send_to(bystander.pid(), Message::new(pattern(MIB, 3)))
        .unwrap();
    assert_eq!(bystander.recv_any().unwrap().payload(), &pattern(MIB, 3));
}

#[test]
fn a_loan_is_written_in_place_and_sent_without_a_copy() {
    let daemon = Embedded::start();
    let a = postbox::connect(&daemon.unix).unwrap();
    let b = postbox::connect(&daemon.unix).unwrap();
    let mailbox = big_mailbox(&a, "loans").create().unwrap();
    let theirs = b.mailbox("loans").open().unwrap();

    let mut loan = mailbox.loan(MIB);
    assert!(loan.is_shared(), "a 1 MiB loan on unix:// is a memfd");
    loan.copy_from_slice(&pattern(MIB, 4));
    mailbox.send(loan).unwrap();
    let got = theirs.recv().unwrap();
    assert_eq!(got.payload(), &pattern(MIB, 4));
    assert!(mapped(got.payload()));

    // Sealed in place: what is sent is the loaned memfd itself, passed on as its descriptor.
    let sealed = mailbox.loan(MIB).into_bytes();
    assert!(mapped(&sealed), "the loan's own file, not a copy");

    // Small, switched off, or in-process: an ordinary buffer, sent as ever.
    assert!(!mailbox.loan(1000).is_shared());
    let off = postbox::connect(&format!("{}?shm=off", daemon.unix)).unwrap();
    assert!(!off.loan(MIB).is_shared());
    let mut loan = off.loan(MIB);
    loan[0] = 1;
    off.send_to(b.pid(), loan).unwrap();
    let got = b.recv_any().unwrap();
    assert_eq!((got.payload().len(), got.payload()[0]), (MIB, 1));
    let node = postbox::InprocNode::new();
    assert!(!node.process().loan(MIB).is_shared());
}

#[test]
fn a_stream_of_attached_messages_received_many_at_a_time_arrives_whole_and_in_order() {
    let daemon = Embedded::start();
    let producer = postbox::connect(&daemon.unix).unwrap();
    let consumer = postbox::connect(&daemon.unix).unwrap();
    let queue = big_mailbox(&consumer, "stream")
        .capacity(Capacity::bounded(64, 64 * MIB))
        .create()
        .unwrap();
    let theirs = producer.mailbox("stream").open().unwrap();
    const COUNT: usize = 3000;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..COUNT {
                let mut payload = vec![0u8; 65_536];
                payload[..8].copy_from_slice(&(i as u64).to_le_bytes());
                theirs.send(Message::new(payload)).unwrap();
            }
        });
        let mut next = 0u64;
        while (next as usize) < COUNT {
            for got in queue.recv_many(64).unwrap() {
                let seq = u64::from_le_bytes(got.payload()[..8].try_into().unwrap());
                assert_eq!((seq, got.payload().len()), (next, 65_536));
                next += 1;
            }
        }
    });
}

#[test]
fn answers_with_attachments_queued_together_each_carry_their_own() {
    // Eight receives pipelined in one write, on messages already queued: the daemon answers them
    // in one go, eight answers with attachments in one buffer, and each must begin a write of its
    // own with its own descriptor.
    let daemon = Embedded::start();
    let producer = postbox::connect(&daemon.unix).unwrap();
    let mut raw = Raw::connect(&daemon);
    for i in 0..8u8 {
        producer
            .send_to(
                postbox::Pid::from_raw(raw.session.negotiated().unwrap().pid),
                Message::new(pattern(100_000, i)),
            )
            .unwrap();
    }
    let recv = postbox_wire::Request::Recv {
        branches: vec![postbox_core::Branch {
            source: postbox_core::Source::Inbox,
            selector: Selector::Any,
        }],
        wait: postbox_core::Wait::Try,
    };
    for _ in 0..8 {
        raw.session.request(&recv, None).unwrap();
    }
    raw.stream
        .write_all(&raw.session.transmit().split())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while got.len() < 8 {
        let read = postbox_shm::recv_with_fds(raw.stream.as_fd(), &mut buf).unwrap();
        assert!(read.bytes > 0, "the daemon closed the connection");
        let how = postbox_shm::Receiving {
            max: MIB,
            prefault: Prefault::Now,
            trusted_uid: rustix::process::geteuid().as_raw(),
            keep_mapped: false,
        };
        let payloads = postbox_shm::receive_attached(read.fds, how)
            .unwrap()
            .into_iter()
            .map(|arrival| match arrival {
                postbox_shm::Arrival::Payload(payload) => payload,
                postbox_shm::Arrival::Other(fd) => panic!("not a payload: {fd:?}"),
            })
            .collect();
        raw.session
            .handle_input(&mut bytes::BytesMut::from(&buf[..read.bytes]));
        raw.session.handle_attachments(read.bytes, payloads);
        while let Some(event) = raw.session.poll_event() {
            match event {
                postbox_wire::ClientEvent::Answer {
                    result: Ok(postbox_wire::Response::Received { message, .. }),
                    ..
                } => got.push(message.message.payload),
                other => panic!("{other:?}"),
            }
        }
    }
    for (i, payload) in got.iter().enumerate() {
        assert_eq!(payload, &pattern(100_000, i as u8));
        assert!(mapped(payload));
    }
}

#[test]
fn batches_of_loans_larger_than_the_mailbox_arrive_whole_and_in_order() {
    // Batches of 32 one-MiB loans into a mailbox that holds 4: most of each batch waits in the
    // daemon, and every slot of the sender's payload pool must stay untouched until its message
    // has been received and dropped.
    let daemon = Embedded::start();
    let producer = postbox::connect(&daemon.unix).unwrap();
    let consumer = postbox::connect(&daemon.unix).unwrap();
    let queue = big_mailbox(&consumer, "batches")
        .capacity(Capacity::bounded(4, 4 * MIB))
        .create()
        .unwrap();
    let theirs = producer.mailbox("batches").open().unwrap();
    const BATCHES: u64 = 8;
    const BATCH: u64 = 32;
    std::thread::scope(|s| {
        s.spawn(|| {
            for batch in 0..BATCHES {
                let messages = (0..BATCH)
                    .map(|i| {
                        let mut loan = theirs.loan_for_overwrite(MIB);
                        loan[..8].copy_from_slice(&(batch * BATCH + i).to_le_bytes());
                        loan[MIB - 1] = i as u8;
                        Message::from(loan)
                    })
                    .collect::<Vec<_>>();
                theirs.send_batch(messages).unwrap();
            }
        });
        let mut next = 0u64;
        let mut held = Vec::new();
        while next < BATCHES * BATCH {
            for got in queue.recv_many(32).unwrap() {
                let payload = got.payload();
                let seq = u64::from_le_bytes(payload[..8].try_into().unwrap());
                assert_eq!((seq, payload.len()), (next, MIB));
                assert_eq!(payload[MIB - 1], (next % BATCH) as u8);
                next += 1;
                // Keep some a while: their slots must not be written meanwhile.
                held.push(got);
                if held.len() > 6 {
                    let old = held.remove(0);
                    let seq = u64::from_le_bytes(old.payload()[..8].try_into().unwrap());
                    assert_eq!(seq, next - 7, "a held payload changed under its receiver");
                }
            }
        }
    });
}
