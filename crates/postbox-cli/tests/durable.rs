//! Durable mailboxes through the real binary: what survives a `kill -9` of the daemon, and what
//! a broken store does.

mod support;

use support::Daemon;

#[test]
fn durable_messages_survive_a_kill_9_in_order_and_numbering_goes_on() {
    let mut daemon = Daemon::start();
    daemon.run(&["create", "jobs", "--durable"]).code(0);
    daemon.run(&["create", "scratch"]).code(0);
    daemon
        .run_with_input(&["send", "jobs", "--lines"], "one\ntwo\nthree\n")
        .code(0);
    daemon.run(&["send", "scratch", "gone"]).code(0);
    assert_eq!(daemon.run(&["recv", "jobs"]).ok(), "one\n");

    daemon.crash_and_restart();

    let stat = daemon.stat("jobs");
    assert_eq!(stat["attrs"]["durability"], "Disk");
    assert_eq!(stat["messages"], 2);
    let rest = daemon.run(&["recv", "jobs", "-n", "2", "--json"]).ok();
    let seqs: Vec<u64> = rest
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let payloads: Vec<String> = rest
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["payload"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(payloads, ["two", "three"]);
    assert_eq!(seqs, [1, 2]);
    daemon.run(&["send", "jobs", "four"]).code(0);
    let next = daemon.run(&["recv", "jobs", "--json"]).ok();
    let next: serde_json::Value = serde_json::from_str(next.trim()).unwrap();
    assert_eq!(next["seq"], 3, "sequence numbers are never reused");

    // Memory mailboxes are gone after a restart, as documented.
    let missing = daemon.run(&["stat", "scratch"]).code(5);
    assert!(
        missing.stderr.contains("no such mailbox"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_producer_resumed_after_a_kill_9_has_its_repeated_send_dropped_as_a_duplicate() {
    let mut daemon = Daemon::start();
    daemon.run(&["create", "jobs", "--durable"]).code(0);
    let mut producer = postbox::Producer::connect(&daemon.url(), "jobs").unwrap();
    for text in ["one", "two", "three"] {
        producer.send(text).unwrap();
    }
    let (id, next_seq) = (producer.id(), producer.next_seq());
    drop(producer);

    daemon.crash_and_restart();

    // The program restarts not knowing whether its last send arrived, and sends it again under
    // its number: the restored mailbox still knows the producer, and drops the repeat.
    let mut resumed = postbox::Producer::builder(&daemon.url(), "jobs")
        .resume(id, next_seq)
        .connect()
        .unwrap();
    resumed.resend("three").unwrap();
    resumed.send("four").unwrap();
    let stat = daemon.stat("jobs");
    assert_eq!(stat["messages"], 4, "{stat}");
    assert_eq!(stat["duplicates_dropped"], 1, "{stat}");
    let payloads = daemon.run(&["recv", "jobs", "-n", "4"]).ok();
    assert_eq!(payloads, "one\ntwo\nthree\nfour\n");
}

#[test]
fn deleting_a_durable_mailbox_is_durable_too() {
    let mut daemon = Daemon::start();
    daemon.run(&["create", "jobs", "--durable"]).code(0);
    daemon.run(&["send", "jobs", "x"]).code(0);
    daemon.run(&["rm", "jobs"]).code(0);
    daemon.crash_and_restart();
    daemon.run(&["stat", "jobs"]).code(5);
    // A new one of the same name starts empty.
    daemon.run(&["create", "jobs", "--durable"]).code(0);
    assert_eq!(daemon.stat("jobs")["messages"], 0);
}

#[test]
fn mode_and_owner_changes_survive_a_restart() {
    let mut daemon = Daemon::start();
    daemon
        .run(&["create", "jobs", "--durable", "--mode", "0600"])
        .code(0);
    daemon.run(&["set", "jobs", "--mode", "0640"]).code(0);
    daemon.crash_and_restart();
    assert_eq!(daemon.stat("jobs")["mode"], 0o640);
}

#[test]
fn a_daemon_without_durable_mailboxes_writes_no_store() {
    let daemon = Daemon::start();
    daemon.run(&["create", "jobs"]).code(0);
    daemon.run(&["send", "jobs", "x"]).code(0);
    assert!(!daemon.state_dir().join("postbox.redb").exists());
}

#[test]
fn a_durable_process_owned_mailbox_is_refused_with_the_reason() {
    let daemon = Daemon::start();
    let refused = daemon
        .run(&["create", "jobs", "--durable", "--capacity", "zero"])
        .code(1);
    assert!(
        refused.stderr.contains("zero-capacity"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_damaged_store_stops_the_daemon_with_what_to_do() {
    let mut daemon = Daemon::start();
    daemon.run(&["create", "jobs", "--durable"]).code(0);
    daemon.run(&["send", "jobs", "x"]).code(0);
    let store = daemon.state_dir().join("postbox.redb");
    daemon.crash_and_restart();
    // Overwrite the file with garbage while no daemon holds it.
    let out =
        daemon.stop_and_run_daemon(|| std::fs::write(&store, b"not a database at all").unwrap());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("move it away"), "{}", out.stderr);
    assert!(out.stderr.contains("postbox.redb"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(&store).unwrap(),
        b"not a database at all",
        "nothing repaired, nothing truncated"
    );
}

/// The payload of message `n` of the paging tests.
fn job(n: usize) -> String {
    format!("job {n}")
}

#[test]
fn a_restart_with_more_messages_than_stay_in_memory_delivers_each_once_in_order() {
    let mut daemon = Daemon::start_with(&["--resident-messages", "16"]);
    daemon
        .run(&["create", "jobs", "--durable", "--capacity", "unbounded"])
        .code(0);
    let before = 100;
    {
        let process = postbox::connect(&daemon.url()).unwrap();
        let jobs = process.mailbox("jobs").open().unwrap();
        for n in 0..before {
            jobs.send(job(n)).unwrap();
        }
    }

    daemon.crash_and_restart();

    let process = postbox::connect(&daemon.url()).unwrap();
    let jobs = process.mailbox("jobs").open().unwrap();
    assert_eq!(
        jobs.stat().unwrap().messages,
        before,
        "the tail on disk counts"
    );
    let mut expected: Vec<String> = (0..before).map(job).collect();
    let mut got = Vec::new();
    // Sends made after the restart go behind everything stored, received after it.
    for n in before..before + 20 {
        jobs.send(job(n)).unwrap();
        expected.push(job(n));
        for _ in 0..3 {
            let message = jobs.try_recv().expect("a message is ready");
            got.push(String::from_utf8_lossy(message.payload()).into_owned());
        }
    }
    // A few at a time, as a batch receive takes them: more than stay in memory.
    loop {
        let batch = match jobs.try_recv_many(40) {
            Ok(batch) => batch,
            Err(postbox::RecvError::Empty) => break,
            Err(error) => panic!("{error}"),
        };
        assert!(
            batch.len() == 40 || got.len() + batch.len() == expected.len(),
            "a batch takes as many as an all-in-memory mailbox gives: {}",
            batch.len()
        );
        got.extend(
            batch
                .iter()
                .map(|m| String::from_utf8_lossy(m.payload()).into_owned()),
        );
    }
    assert_eq!(got, expected, "every message once, in order");
    assert_eq!(jobs.stat().unwrap().messages, 0);

    // And once more after a restart that found nothing: nothing comes back.
    drop((jobs, process));
    daemon.crash_and_restart();
    assert_eq!(daemon.stat("jobs")["messages"], 0);
}

#[test]
fn after_a_restart_receives_peek_and_purge_answer_as_if_everything_were_in_memory() {
    let mut daemon = Daemon::start_with(&["--resident-messages", "4"]);
    daemon
        .run(&["create", "jobs", "--durable", "--capacity", "unbounded"])
        .code(0);
    {
        let process = postbox::connect(&daemon.url()).unwrap();
        let jobs = process.mailbox("jobs").open().unwrap();
        for n in 0..30 {
            jobs.send(postbox::Message::new(job(n)).with_type(if n == 25 { 7 } else { 1 }))
                .unwrap();
        }
    }

    daemon.crash_and_restart();

    let process = postbox::connect(&daemon.url()).unwrap();
    let jobs = process.mailbox("jobs").open().unwrap();
    let first = jobs
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(first.payload().as_ref(), job(0).as_bytes());
    // The one of type 7 is far behind what is in memory.
    let typed = jobs
        .try_recv_matching(postbox::Selector::Type(7))
        .expect("found on disk");
    assert_eq!(typed.payload().as_ref(), job(25).as_bytes());
    let peeked = jobs.peek(100, postbox::Selector::Any).unwrap();
    assert_eq!(peeked.len(), 28);
    let purged = jobs.purge().unwrap();
    assert_eq!(purged, 28);

    // Nothing is left on disk: a receiver now waits, and a send serves it.
    let waiting = {
        let url = daemon.url();
        std::thread::spawn(move || {
            let process = postbox::connect(&url).unwrap();
            let jobs = process.mailbox("jobs").open().unwrap();
            jobs.recv_timeout(std::time::Duration::from_secs(30))
                .map(|m| m.payload().to_vec())
        })
    };
    support::eventually("the receiver waits", || {
        daemon.stat("jobs")["blocked_receivers"] == 1
    });
    jobs.send("late").unwrap();
    assert_eq!(waiting.join().unwrap().unwrap(), b"late");
}
