//! Event sources: timers, signals, file descriptors and child exits post into mailboxes and
//! inboxes from processes of their own; a full mailbox holds them back (a timer coalesces); a
//! failed post ends them with the error; stopping or dropping one terminates its process.

mod common;

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{PATIENCE, join_soon, spin_until, stat, wait_blocked_senders};
use postbox::events::{
    ChildExit, Event, EventKind, ExitStatus, Reader, Signal, Signals, SourceError, StartError,
    Timer,
};
use postbox::{
    Capacity, InprocNode, Mailbox, OpenError, Pid, Process, Received, RecvError, Selector,
    SendErrorKind,
};

/// The event `received` carries; fails the test when it is none.
#[track_caller]
fn event(received: Received) -> Event {
    Event::from_received(&received)
        .unwrap_or_else(|| panic!("not an event: {:?}", received.message))
}

/// Whether process `pid` is still alive, as `observer` sees the node.
fn alive(observer: &Process, pid: Pid) -> bool {
    observer
        .list_processes()
        .expect("list processes")
        .iter()
        .any(|info| info.pid == pid)
}

/// Asserts that `pid` has terminated: a monitor's down notification comes at once, and the
/// process list no longer has it.
#[track_caller]
fn assert_terminated(observer: &Process, pid: Pid) {
    observer.monitor(pid).expect("monitor");
    let down = observer
        .recv_from_timeout(pid, PATIENCE)
        .expect("a down notification");
    assert!(down.is_down(), "a message instead of the down notification");
    assert!(!alive(observer, pid));
}

/// A mailbox of `capacity` that `owner` receives from and anyone of this uid may send to.
fn mailbox(owner: &Process, name: &str, capacity: Capacity) -> Mailbox {
    owner
        .mailbox(name)
        .capacity(capacity)
        .create()
        .expect("create")
}

/// Checks that `ticks` are what a timer posts: numbers from 1 up, each `missed` the gap before it.
#[track_caller]
fn assert_consistent(ticks: &[(u64, u64)]) {
    let mut previous = 0;
    for &(tick, missed) in ticks {
        assert!(tick > previous, "tick numbers must increase: {ticks:?}");
        assert_eq!(tick - previous - 1, missed, "missed is the gap: {ticks:?}");
        previous = tick;
    }
}

fn tick(event: Event) -> (u64, u64) {
    match event {
        Event::Tick { tick, missed } => (tick, missed),
        other => panic!("not a tick: {other:?}"),
    }
}

#[test]
fn smoke() {
    let node = InprocNode::new();
    let me = node.process();
    let timer = Timer::after(Duration::from_millis(1))
        .start(node.process(), me.pid())
        .expect("start");
    let received = me.recv_from(timer.pid()).expect("the tick");
    assert_eq!(received.mtype(), EventKind::Tick.mtype());
    assert_eq!(received.payload().as_ref(), b"1 0");
    let pid = timer.pid();
    timer.join().expect("a one-shot timer ends by itself");
    assert_terminated(&me, pid);
}

#[test]
fn timer_ticks_arrive_from_the_sources_pid_with_increasing_numbers() {
    let node = InprocNode::new();
    let me = node.process();
    let timer = Timer::every(Duration::from_millis(2))
        .count(5)
        .start(node.process(), me.pid())
        .expect("start");
    assert_ne!(timer.pid(), me.pid());
    let ticks: Vec<_> = (0..5)
        .map(|_| {
            let received = me.recv_from(timer.pid()).expect("a tick");
            assert_eq!(received.sender, timer.pid());
            tick(event(received))
        })
        .collect();
    assert_consistent(&ticks);
    let pid = timer.pid();
    timer.join().expect("a timer with a count ends by itself");
    // Exactly five: nothing follows but the down notification.
    assert_terminated(&me, pid);
}

#[test]
fn tick_n_is_never_posted_before_n_periods_have_passed() {
    let node = InprocNode::new();
    let me = node.process();
    let period = Duration::from_millis(3);
    let started = Instant::now();
    let timer = Timer::every(period)
        .count(4)
        .start(node.process(), me.pid())
        .expect("start");
    for _ in 0..4 {
        let (number, _) = tick(event(me.recv_from(timer.pid()).expect("a tick")));
        let number = u32::try_from(number).expect("a small tick number");
        assert!(
            started.elapsed() >= period * number,
            "tick {number} came early"
        );
    }
    timer.join().expect("ended");
}

#[test]
fn a_full_bounded_mailbox_makes_the_timer_coalesce_and_never_block() {
    let node = InprocNode::new();
    let me = node.process();
    let ticks = mailbox(&me, "ticks", Capacity::bounded(2, 1024));
    let period = Duration::from_millis(1);
    let timer = Timer::every(period)
        .start(node.process(), "ticks")
        .expect("start");
    spin_until("the mailbox is full", || stat(&ticks).messages == 2);
    // Let several periods pass while it is full: the timer neither queues nor waits.
    let full_since = Instant::now();
    spin_until("ten periods pass", || {
        let stats = stat(&ticks);
        assert!(stats.messages <= 2, "more queued than the bound");
        assert_eq!(
            stats.blocked_senders, 0,
            "the timer blocked on a full mailbox"
        );
        full_since.elapsed() >= period * 10
    });
    let mut seen = Vec::new();
    while seen.last().is_none_or(|&(_, missed)| missed == 0) {
        assert!(seen.len() < 1000, "no tick ever carried a missed count");
        seen.push(tick(event(ticks.recv().expect("a tick"))));
    }
    assert_consistent(&seen);
    timer.stop().expect("stopped, not failed");
}

#[test]
fn the_last_tick_of_a_counted_timer_waits_for_room() {
    let node = InprocNode::new();
    let me = node.process();
    let ticks = mailbox(&me, "ticks", Capacity::bounded(1, 1024));
    let timer = Timer::every(Duration::from_millis(1))
        .count(3)
        .start(node.process(), "ticks")
        .expect("start");
    let mut seen = Vec::new();
    while !timer.is_finished() || stat(&ticks).messages > 0 {
        if let Ok(received) = ticks.recv_timeout(Duration::from_millis(1)) {
            seen.push(tick(event(received)));
        }
        assert!(seen.len() <= 3, "more ticks than the count: {seen:?}");
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_consistent(&seen);
    timer.join().expect("ended by itself");
}

#[test]
fn a_signal_raised_in_the_process_arrives_as_a_message() {
    let node = InprocNode::new();
    let me = node.process();
    let source = Signals::new([Signal::USR1])
        .start(node.process(), me.pid())
        .expect("start");
    signal_hook::low_level::raise(Signal::USR1.number()).expect("raise");
    let received = me.recv_from(source.pid()).expect("the signal");
    assert_eq!(received.mtype(), EventKind::Signal.mtype());
    assert_eq!(
        received.payload().as_ref(),
        format!("{} SIGUSR1", Signal::USR1.number()).as_bytes()
    );
    assert_eq!(event(received), Event::Signal(Signal::USR1));
    let pid = source.pid();
    source.stop().expect("stopped");
    assert_terminated(&me, pid);
}

#[test]
fn a_signal_sent_by_another_program_arrives_in_a_mailbox() {
    let node = InprocNode::new();
    let me = node.process();
    let signals = mailbox(&me, "signals", Capacity::bounded(8, 1024));
    let source = Signals::new([Signal::USR2, Signal::HUP])
        .start(node.process(), "signals")
        .expect("start");
    let status = Command::new("kill")
        .args(["-USR2", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let received = signals
        .recv_matching(Selector::From(source.pid()))
        .expect("the signal");
    assert_eq!(event(received), Event::Signal(Signal::USR2));
}

#[test]
fn a_signal_that_cannot_be_caught_is_refused_and_the_process_terminated() {
    let node = InprocNode::new();
    let me = node.process();
    let given = node.process();
    let pid = given.pid();
    let error = Signals::new([Signal::KILL])
        .start(given, me.pid())
        .unwrap_err();
    assert!(matches!(error, StartError::Signals { .. }), "{error:?}");
    assert!(error.to_string().contains("SIGKILL"), "{error}");
    assert_terminated(&me, pid);
}

#[test]
fn a_missing_mailbox_is_a_start_error() {
    let node = InprocNode::new();
    let me = node.process();
    let error = Timer::every(Duration::from_secs(1))
        .start(node.process(), "nowhere")
        .unwrap_err();
    assert!(
        matches!(
            error,
            StartError::Open {
                error: OpenError::NotFound,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(me.list_processes().expect("list").len(), 1);
}

#[test]
fn a_socket_yields_lines_without_newlines_then_end_of_file() {
    let node = InprocNode::new();
    let me = node.process();
    let (theirs, mut ours) = UnixStream::pair().expect("socket pair");
    let source = Reader::lines(theirs)
        .start(node.process(), me.pid())
        .expect("start");
    ours.write_all(b"one\ntwo\r\n\nthree").expect("write");
    drop(ours);
    let mut events = Vec::new();
    loop {
        let received = me.recv_from(source.pid()).expect("an event");
        let kind = EventKind::from_mtype(received.mtype());
        events.push(event(received));
        if kind == Some(EventKind::Eof) {
            break;
        }
    }
    assert_eq!(
        events,
        [
            Event::Line("one".into()),
            Event::Line("two".into()),
            Event::Line("".into()),
            Event::Line("three".into()),
            Event::Eof(None),
        ]
    );
    source.join().expect("ended at end-of-file");
}

#[test]
fn a_line_longer_than_the_maximum_comes_in_pieces() {
    let node = InprocNode::new();
    let me = node.process();
    let (theirs, mut ours) = UnixStream::pair().expect("socket pair");
    let source = Reader::lines(theirs)
        .max(4)
        .start(node.process(), me.pid())
        .expect("start");
    ours.write_all(b"abcdefghij\nxy\n").expect("write");
    drop(ours);
    let lines: Vec<_> = (0..5)
        .map(|_| event(me.recv_from(source.pid()).expect("an event")))
        .collect();
    let expected = ["abcd", "efgh", "ij", "xy"].map(|line| Event::Line(line.into()));
    assert_eq!(lines[..4], expected);
    assert_eq!(lines[4], Event::Eof(None));
    source.join().expect("ended");
}

#[test]
fn a_child_pipe_in_chunk_mode_yields_its_bytes_then_end_of_file() {
    let node = InprocNode::new();
    let me = node.process();
    let mut child = Command::new("sh")
        .args(["-c", "printf 'hello world'"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let stdout = child.stdout.take().expect("stdout");
    let source = Reader::chunks(stdout, 4)
        .start(node.process(), me.pid())
        .expect("start");
    let mut bytes = Vec::new();
    loop {
        match event(me.recv_from(source.pid()).expect("an event")) {
            Event::Chunk(chunk) => {
                assert!(chunk.len() <= 4, "a chunk over the maximum");
                bytes.extend_from_slice(&chunk);
            }
            Event::Eof(None) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(bytes, b"hello world");
    source.join().expect("ended");
    child.wait().expect("reap sh");
}

#[test]
fn a_full_mailbox_holds_the_reader_back_and_loses_nothing() {
    let node = InprocNode::new();
    let me = node.process();
    let lines = mailbox(&me, "lines", Capacity::bounded(1, 1024));
    let (theirs, mut ours) = UnixStream::pair().expect("socket pair");
    let source = Reader::lines(theirs)
        .start(node.process(), "lines")
        .expect("start");
    ours.write_all(b"a\nb\nc\n").expect("write");
    drop(ours);
    wait_blocked_senders(&lines, 1);
    assert_eq!(stat(&lines).messages, 1);
    let got: Vec<_> = (0..4)
        .map(|_| event(lines.recv().expect("event")))
        .collect();
    assert_eq!(
        got,
        [
            Event::Line("a".into()),
            Event::Line("b".into()),
            Event::Line("c".into()),
            Event::Eof(None),
        ]
    );
    source.join().expect("ended");
}

/// Kills a child by its OS pid when dropped, unless disarmed once it is known to be reaped: no
/// test leaves a `sleep` behind, even when it fails.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

#[test]
fn a_childs_exit_code_arrives() {
    let node = InprocNode::new();
    let me = node.process();
    let child = Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .expect("spawn sh");
    let source = ChildExit::watch(child)
        .start(node.process(), me.pid())
        .expect("start");
    let received = me.recv_from(source.pid()).expect("the exit");
    assert_eq!(received.mtype(), EventKind::Exit.mtype());
    assert_eq!(received.payload().as_ref(), b"exit 7");
    source.join().expect("ended");
}

#[test]
fn a_child_killed_by_a_signal_arrives_with_the_signal() {
    let node = InprocNode::new();
    let me = node.process();
    let child = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let mut guard = KillOnDrop(Some(child.id()));
    let source = ChildExit::watch(child)
        .start(node.process(), me.pid())
        .expect("start");
    assert!(
        me.try_recv_from(source.pid()).is_err(),
        "an exit before the child ended"
    );
    let status = Command::new("kill")
        .args(["-TERM", &guard.0.expect("pid").to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let got = event(me.recv_from(source.pid()).expect("the exit"));
    guard.0 = None; // reaped by the source
    assert_eq!(got, Event::Exit(ExitStatus::Signal(Signal::TERM)));
    source.join().expect("ended");
}

#[test]
fn dropping_a_source_stops_it_and_terminates_its_process() {
    let node = InprocNode::new();
    let me = node.process();
    let ticks = mailbox(&me, "ticks", Capacity::bounded(64, 1 << 16));
    let timer = Timer::every(Duration::from_millis(1))
        .start(node.process(), "ticks")
        .expect("start");
    let pid = timer.pid();
    ticks.recv().expect("a first tick");
    drop(timer);
    // Terminated by the time drop returned: the down notification is already there.
    me.monitor(pid).expect("monitor");
    assert!(me.try_recv_from(pid).expect("down").is_down());
    assert!(!alive(&me, pid));
    // Whatever it posted before is all there will be: its process cannot send any more.
    let queued = stat(&ticks).messages;
    let sent = stat(&ticks).total_sent;
    while ticks.try_recv().is_ok() {}
    assert_eq!(stat(&ticks).total_sent, sent, "{queued} queued, then more");
}

#[test]
fn dropping_a_source_withdraws_a_post_waiting_for_room() {
    let node = InprocNode::new();
    let me = node.process();
    let lines = mailbox(&me, "lines", Capacity::bounded(1, 1024));
    let (theirs, mut ours) = UnixStream::pair().expect("socket pair");
    let source = Reader::lines(theirs)
        .start(node.process(), "lines")
        .expect("start");
    let pid = source.pid();
    ours.write_all(b"a\nb\n").expect("write");
    wait_blocked_senders(&lines, 1);
    join_soon(thread::spawn(move || drop(source)));
    assert_eq!(stat(&lines).blocked_senders, 0);
    assert_terminated(&me, pid);
    assert_eq!(event(lines.try_recv().expect("a")), Event::Line("a".into()));
    assert_eq!(lines.try_recv().unwrap_err(), RecvError::Empty);
}

#[test]
fn stopping_a_reader_that_waits_for_input_is_immediate() {
    let node = InprocNode::new();
    let me = node.process();
    let (theirs, ours) = UnixStream::pair().expect("socket pair");
    let source = Reader::lines(theirs)
        .start(node.process(), me.pid())
        .expect("start");
    let pid = source.pid();
    join_soon(thread::spawn(move || source.stop())).expect("stopped, not failed");
    assert_terminated(&me, pid);
    // The source owned its end, and closed it: ours reads end-of-file (once any child forked
    // meanwhile by another test has exec'd, dropping its inherited copy).
    let mut ours = ours;
    ours.set_read_timeout(Some(PATIENCE)).expect("read timeout");
    assert_eq!(ours.read(&mut [0; 8]).expect("end-of-file"), 0);
}

#[test]
fn a_read_error_posts_its_text_at_end_of_file_and_ends_the_source() {
    let node = InprocNode::new();
    let me = node.process();
    // Reading a directory fails (EISDIR) where polling it succeeds.
    let directory = std::fs::File::open(std::env::temp_dir()).expect("open a directory");
    let source = Reader::lines(directory)
        .start(node.process(), me.pid())
        .expect("start");
    match event(me.recv_from(source.pid()).expect("the end")) {
        Event::Eof(Some(error)) => assert!(!error.is_empty()),
        other => panic!("not an end-of-file with an error: {other:?}"),
    }
    let error = source.join().unwrap_err();
    assert!(matches!(error, SourceError::Read(_)), "{error:?}");
}

#[test]
fn every_source_watching_a_signal_posts_it_and_a_stopped_one_leaves_it_ignored() {
    let node = InprocNode::new();
    let me = node.process();
    let first = Signals::new([Signal::ALRM])
        .start(node.process(), me.pid())
        .expect("start");
    let second = Signals::new([Signal::ALRM])
        .start(node.process(), me.pid())
        .expect("start");
    signal_hook::low_level::raise(Signal::ALRM.number()).expect("raise");
    for source in [&first, &second] {
        let got = event(me.recv_from(source.pid()).expect("the signal"));
        assert_eq!(got, Event::Signal(Signal::ALRM));
    }
    first.stop().expect("stopped");
    second.stop().expect("stopped");
    // SIGALRM's default action would end this test program.
    signal_hook::low_level::raise(Signal::ALRM.number()).expect("raise");
    assert!(me.try_recv_any().is_err(), "a stopped source posted");
}

#[test]
fn stopping_a_child_exit_source_leaves_the_child_running() {
    let node = InprocNode::new();
    let me = node.process();
    let child = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let guard = KillOnDrop(Some(child.id()));
    let source = ChildExit::watch(child)
        .start(node.process(), me.pid())
        .expect("start");
    let pid = source.pid();
    join_soon(thread::spawn(move || source.stop())).expect("stopped, not failed");
    assert_terminated(&me, pid);
    let alive = Command::new("kill")
        .args(["-0", &guard.0.expect("pid").to_string()])
        .status()
        .expect("run kill");
    assert!(alive.success(), "the child was killed with its source");
}

#[test]
fn a_deleted_mailbox_ends_the_source_with_gone() {
    let node = InprocNode::new();
    let me = node.process();
    let ticks = mailbox(&me, "ticks", Capacity::bounded(64, 1 << 16));
    let timer = Timer::every(Duration::from_millis(1))
        .start(node.process(), "ticks")
        .expect("start");
    ticks.recv().expect("a first tick");
    ticks.delete().expect("delete");
    let error = join_soon(thread::spawn(move || timer.join())).unwrap_err();
    assert!(
        matches!(
            error,
            SourceError::Post {
                kind: SendErrorKind::Gone,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.send_kind(), Some(SendErrorKind::Gone));
    assert_eq!(error.to_string(), "cannot post an event to mailbox ticks");
}

#[test]
fn a_terminated_receiver_ends_the_source_with_peer_gone() {
    let node = InprocNode::new();
    let receiver = node.process();
    let (theirs, mut ours) = UnixStream::pair().expect("socket pair");
    let source = Reader::lines(theirs)
        .start(node.process(), receiver.pid())
        .expect("start");
    drop(receiver);
    ours.write_all(b"to nobody\n").expect("write");
    let error = join_soon(thread::spawn(move || source.join())).unwrap_err();
    assert_eq!(error.send_kind(), Some(SendErrorKind::PeerGone), "{error}");
}

#[test]
fn one_select_waits_on_a_timer_a_reader_and_work() {
    let node = InprocNode::new();
    let me = node.process();
    let work = mailbox(&me, "work", Capacity::bounded(8, 1024));
    let timer = Timer::after(Duration::from_millis(1))
        .start(node.process(), me.pid())
        .expect("timer");
    let (theirs, mut ours) = UnixStream::pair().expect("socket pair");
    let reader = Reader::lines(theirs)
        .start(node.process(), me.pid())
        .expect("reader");
    ours.write_all(b"typed\n").expect("write");
    work.send("job").expect("send work");

    // A one-shot timer and a reader at its end terminate: a `From` branch on them then fails
    // with `PeerGone`, so each wait selects only on the sources not yet heard from.
    let mut expected = vec![
        (Some(timer.pid()), EventKind::Tick.mtype()),
        (Some(reader.pid()), EventKind::Line.mtype()),
        (None, 1),
    ];
    while !expected.is_empty() {
        let mut select = postbox::Select::new();
        for (from, _) in &expected {
            match from {
                Some(pid) => select.inbox(&me, Selector::From(*pid)),
                None => select.recv(&work, Selector::Any),
            };
        }
        let selected = select.wait_timeout(PATIENCE).expect("something ready");
        let (_, mtype) = expected.remove(selected.index);
        assert_eq!(selected.message.mtype(), mtype);
    }
}
