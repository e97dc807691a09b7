//! What only exists across nodes: addresses of nodes that do not exist, processes of another
//! node found by name and talked to directly, their ends, selects over both nodes, and a node
//! going away under a waiting receive. Two embedded daemons, `a` and `b`, linked over mutual
//! TLS, per test.

use std::time::{Duration, Instant};

use postbox::{
    AdminError, Credentials, Mode, OpenError, Pid, Process, RecvError, Select, Selector, WaitInfo,
    WaitKind, WaitTarget,
};
use postbox_conformance::{NodesTransport, Transport as _};

/// Long enough for anything that should happen; it bounds failures only.
const LONG: Duration = Duration::from_secs(20);

#[test]
fn a_node_nobody_links_with_has_no_mailboxes_names_or_lists() {
    let nodes = NodesTransport::start();
    let p = nodes.plain_process_on_a();
    assert_eq!(
        p.mailbox("jobs@nowhere").open().unwrap_err(),
        OpenError::NotFound
    );
    assert_eq!(p.whereis("alice@nowhere"), Ok(None));
    assert_eq!(
        p.list_mailboxes_at("nowhere").unwrap_err(),
        AdminError::NotFound
    );
    // This node's own name is the plain name.
    let own = p.mailbox("local@a").create().expect("create on a itself");
    assert!(
        p.list_mailboxes()
            .expect("list")
            .iter()
            .any(|m| m.name == "local")
    );
    drop(own);
}

#[test]
fn a_process_of_another_node_is_found_by_name_and_answers_directly() {
    let nodes = NodesTransport::start();
    let alice = nodes.process_on_b();
    alice.register("alice").expect("register on b");
    let p = nodes.plain_process_on_a();
    let proxy = p
        .whereis("alice@b")
        .expect("whereis")
        .expect("alice is found through node b");
    assert_ne!(
        proxy,
        alice.pid(),
        "pids are per node: a proxy stands for alice on a"
    );

    p.send_to(proxy, "hello").expect("send_to alice's proxy");
    let got = alice.recv_any_timeout(LONG).expect("alice receives");
    assert_eq!(got.payload().as_ref(), b"hello");
    // On b, the sender is b's proxy of p; answering it reaches p, named as alice's proxy.
    alice
        .send_to(got.sender, "hi back")
        .expect("answer the sender");
    let back = p
        .recv_from_timeout(proxy, LONG)
        .expect("p receives from alice");
    assert_eq!(back.payload().as_ref(), b"hi back");
    assert_eq!(back.sender, proxy);
    // Both directions again: the same proxies, not new ones.
    p.send_to(proxy, "again").expect("send_to");
    assert_eq!(
        alice.recv_any_timeout(LONG).expect("recv").sender,
        got.sender
    );

    // alice ends after one more message: p drains it, then learns she is gone.
    alice.send_to(got.sender, "bye").expect("send_to");
    drop(alice);
    let last = p
        .recv_from_timeout(proxy, LONG)
        .expect("the last message first");
    assert_eq!(last.payload().as_ref(), b"bye");
    assert_eq!(
        p.recv_from_timeout(proxy, LONG).unwrap_err(),
        RecvError::PeerGone
    );
}

#[test]
fn a_select_over_the_inbox_and_a_mailbox_of_another_node_takes_from_either() {
    let nodes = NodesTransport::start();
    let p = nodes.process();
    let jobs = p.mailbox("jobs").create().expect("create jobs on b");
    let feeder = nodes.process_on_b();
    let to_jobs = feeder.mailbox("jobs").open().expect("open on b");
    let mut select = Select::new();
    select.recv(&jobs, Selector::Any);
    select.inbox(&p, Selector::Any);
    assert_eq!(select.try_wait().unwrap_err().error, RecvError::Empty);

    std::thread::scope(|s| {
        let waiting = s.spawn(|| select.wait_timeout(LONG));
        to_jobs.send("from b").expect("send on b");
        let selected = waiting.join().expect("select").expect("a message");
        assert_eq!(
            (selected.index, selected.message.payload().as_ref()),
            (0, &b"from b"[..])
        );
    });
    p.send_to(p.pid(), "to myself").expect("send_to self");
    let selected = select.wait_timeout(LONG).expect("the inbox's message");
    assert_eq!(selected.index, 1);
    assert_eq!(
        select
            .wait_timeout(Duration::from_millis(30))
            .unwrap_err()
            .error,
        RecvError::Timeout
    );
    // Nothing was taken that was not handed over.
    assert_eq!(jobs.stat().expect("stat").messages, 0);
}

/// The waits `pid` has, as `observer` lists them, once it has `n`.
fn waits_of(observer: &Process, pid: Pid, n: usize) -> Vec<WaitInfo> {
    let deadline = Instant::now() + LONG;
    loop {
        let listed = observer.list_processes().expect("list processes");
        let info = listed.into_iter().find(|info| info.pid == pid);
        if let Some(info) = info.filter(|info| info.waiting == n) {
            assert_eq!(info.waits.len(), n, "{info:?}");
            return info.waits;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} never had {n} waits"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_process_list_shows_waits_and_mailboxes_on_another_node_named_with_it() {
    let nodes = NodesTransport::start();
    let observer = nodes.plain_process_on_a();
    let homed = nodes.process();
    let p = nodes.plain_process_on_a();
    let q = p.mailbox("q@b").create().expect("create q on b");
    let jobs = p.mailbox("jobs@b").create().expect("create jobs on b");
    let own = |listed: Vec<postbox::ProcessInfo>| {
        listed
            .into_iter()
            .find(|info| info.pid == p.pid())
            .expect("p is listed")
            .owned_mailboxes
    };
    assert_eq!(own(observer.list_processes().expect("list")), 2);
    let stand_in = format!("{}@a", p.pid().as_raw());
    let on_b = nodes.process_on_b().list_processes().expect("list");
    let proxy = on_b
        .iter()
        .find(|info| info.command.as_deref() == Some(stand_in.as_str()))
        .expect("p's stand-in is listed on b");
    assert_eq!(proxy.owned_mailboxes, 2, "b counts them for p's stand-in");
    std::thread::scope(|s| {
        let receive = s.spawn(|| q.recv_timeout(LONG));
        let waits = waits_of(&observer, p.pid(), 1);
        assert_eq!(waits[0].kind, WaitKind::Recv);
        assert_eq!(waits[0].on, [WaitTarget::Mailbox("q@b".into())]);
        // A process whose plain names are b's sees b's mailboxes as it names them.
        let seen = waits_of(&homed, p.pid(), 1);
        assert_eq!(seen[0].on, [WaitTarget::Mailbox("q".into())]);
        q.send("done").expect("send");
        receive.join().expect("receiver").expect("recv");
    });
    assert_eq!(waits_of(&observer, p.pid(), 0), []);

    let mut select = Select::new();
    select.inbox(&p, Selector::Any);
    select.recv(&jobs, Selector::Any);
    std::thread::scope(|s| {
        let waiting = s.spawn(|| select.wait_timeout(LONG));
        let waits = waits_of(&observer, p.pid(), 1);
        assert_eq!(waits[0].kind, WaitKind::Recv);
        assert_eq!(
            waits[0].on,
            [WaitTarget::Inbox, WaitTarget::Mailbox("jobs@b".into())],
            "a select spanning nodes polls, and still shows its wait in branch order"
        );
        observer.send_to(p.pid(), "wake").expect("send_to");
        let selected = waiting.join().expect("select").expect("a message");
        assert_eq!(selected.index, 0);
    });
    assert_eq!(waits_of(&observer, p.pid(), 0), []);
}

#[test]
fn a_refused_request_says_why() {
    let nodes = NodesTransport::start();
    let p = nodes.plain_process_on_a();
    let here = p
        .mailbox("dl")
        .create()
        .expect("a dead-letter mailbox on a");
    // A mailbox of b cannot move its messages to a mailbox of a: a refuses the request.
    let error = p
        .mailbox("jobs@b")
        .max_deliveries(2)
        .dead_letter(&here)
        .create()
        .unwrap_err();
    let OpenError::Refused(why) = &error else {
        panic!("{error:?}");
    };
    assert!(why.contains("more than one node"), "{why}");
    assert!(error.to_string().contains(why.as_str()), "{error}");
}

#[test]
fn a_receive_waiting_on_a_node_that_goes_away_fails_disconnected() {
    let mut nodes = NodesTransport::start();
    let p = nodes.process();
    let jobs = p.mailbox("jobs").create().expect("create jobs on b");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| jobs.recv_timeout(LONG));
        // The receive is waiting on b once b shows a blocked receiver.
        let observer = nodes.process_on_b();
        let watched = observer.mailbox("jobs").open().expect("open on b");
        let deadline = std::time::Instant::now() + LONG;
        while watched.stat().expect("stat").blocked_receivers == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the receive never waited"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(watched);
        drop(observer);
        nodes.stop_b();
        assert_eq!(
            waiting.join().expect("receiver").unwrap_err(),
            RecvError::Disconnected
        );
    });
}

/// A send forwarded while the mailbox's node is away never reaches it: it fails `Disconnected`
/// at once (not after its timeout), its message handed back, and so does a batch.
#[test]
fn a_send_to_a_node_that_has_gone_away_fails_disconnected_and_hands_its_message_back() {
    let mut nodes = NodesTransport::start();
    let p = nodes.process();
    let jobs = p.mailbox("jobs").create().expect("create jobs on b");
    jobs.send("before").expect("send while b is up");
    nodes.stop_b();
    let error = jobs
        .send_timeout("after", LONG)
        .expect_err("b is gone: the send cannot be carried out");
    assert_eq!(error.kind(), postbox::SendErrorKind::Disconnected);
    assert_eq!(
        error.message().map(|m| m.payload.as_ref()),
        Some(&b"after"[..])
    );
    let batch = jobs
        .send_batch_timeout(["one", "two"], LONG)
        .expect_err("b is gone: the batch cannot be carried out");
    assert_eq!(batch.kind(), postbox::SendErrorKind::Disconnected);
    let handed_back: Vec<Vec<u8>> = batch
        .into_messages()
        .iter()
        .map(|m| m.payload.to_vec())
        .collect();
    assert_eq!(handed_back, [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn processes_of_another_node_act_as_its_verified_user_or_as_a_fixed_identity() {
    // Without a fixed identity a's processes act on b as the uid their node verified: this
    // test's own, the owner of a 0600 mailbox made on b by a process of the same user.
    let nodes = NodesTransport::start();
    let owner = nodes.process_on_b();
    let _private = owner
        .mailbox("private")
        .mode(Mode::new(0o600))
        .create()
        .expect("create on b");
    let p = nodes.plain_process_on_a();
    p.mailbox("private@b")
        .open()
        .expect("the same user opens it");

    // With `--peer-identity a=65534:65534` on b, they act as nobody there, whoever they are.
    let nobody = Credentials::new(65534, 65534);
    let nodes = NodesTransport::start_with(Some(nobody));
    let owner = nodes.process_on_b();
    let _private = owner
        .mailbox("private")
        .mode(Mode::new(0o600))
        .create()
        .expect("create on b");
    let p = nodes.plain_process_on_a();
    assert_eq!(
        p.mailbox("private@b").open().unwrap_err(),
        OpenError::PermissionDenied
    );
    let proxy = owner
        .list_processes()
        .expect("ps on b")
        .into_iter()
        .find(|info| info.command.as_deref().is_some_and(|c| c.ends_with("@a")))
        .expect("a's process has a proxy on b");
    assert_eq!((proxy.uid, proxy.gid), (65534, 65534));
}

#[test]
fn a_producers_send_is_deduplicated_on_the_mailboxs_home_node() {
    let nodes = NodesTransport::start();
    let on_b = nodes.process_on_b();
    let jobs = on_b.mailbox("jobs").create().expect("create on b");
    // The producer connects to a; its mailbox lives on b: every send crosses the link.
    let mut producer = postbox::Producer::connect(nodes.url(), "jobs").expect("a producer on a");
    producer.send("one").expect("send through a");
    producer.send("two").expect("send through a");
    // The same producer again, as after a restart that never saw its last answer: the repeat
    // reaches b with its producer and number, and b drops it.
    let mut resumed = postbox::Producer::builder(nodes.url(), "jobs")
        .resume(producer.id(), producer.next_seq())
        .connect()
        .expect("the producer resumed on a");
    resumed.resend("two").expect("answered as the first");
    let stats = jobs.stat().expect("stat on b");
    assert_eq!(
        (stats.messages, stats.duplicates_dropped),
        (2, 1),
        "{stats:?}"
    );
}
