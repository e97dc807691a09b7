//! The process list (`ps`): OS identity as the transport reported it, and what each waiting
//! operation waits for.

mod common;

use common::*;
use postbox_core::{
    Capacity, Credentials, Delivery, Engine, MailboxAttrs, Mode, OsProcess, Pid, ProcessInfo,
    Selector, Wait, WaitInfo, WaitKind, WaitTarget,
};

fn info(engine: &Engine, pid: Pid) -> ProcessInfo {
    engine
        .processes()
        .into_iter()
        .find(|p| p.pid == pid)
        .expect("listed")
}

#[test]
fn the_os_identity_and_start_time_are_kept_as_given() {
    let mut engine = Engine::default();
    let os = OsProcess {
        pid: Some(4242),
        command: Some("worker --queue jobs".into()),
    };
    let known = engine.spawn_with(USER, os, at(7));
    let unknown = engine.spawn(USER, at(9));
    let known = info(&engine, known);
    assert_eq!(known.os_pid, Some(4242));
    assert_eq!(known.command.as_deref(), Some("worker --queue jobs"));
    assert_eq!(known.started, at(7));
    let unknown = info(&engine, unknown);
    assert_eq!(
        (unknown.os_pid, unknown.command, unknown.started),
        (None, None, at(9))
    );
    assert!(unknown.waits.is_empty());
}

#[test]
fn each_wait_says_what_it_is_what_it_waits_on_and_since_when() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    let shared = MailboxAttrs {
        mode: Mode::new(0o666),
        ..MailboxAttrs::system_owned()
    };
    let jobs = create(&mut engine, a, "jobs", shared);
    let full = create(
        &mut engine,
        a,
        "full",
        MailboxAttrs {
            capacity: Capacity::bounded(1, 64),
            ..shared
        },
    );
    let acks = create(&mut engine, a, "acks", shared);
    send(&mut engine, a, full, "x");
    engine.open(b, "full").unwrap();
    engine.open(b, "jobs").unwrap();

    // A select over a mailbox, the inbox and a sender, at time 10.
    let branches = [
        on(jobs, Selector::Type(2)),
        inbox(Selector::Any),
        inbox(Selector::From(b)),
    ];
    engine.recv(a, &branches, Wait::Block, at(10)).unwrap();
    // A lease at 11, a send waiting for room at 12, a receipt at 13.
    engine
        .lease(a, &[on(acks, Selector::Any)], Wait::Block, at(11))
        .unwrap();
    engine
        .send(b, full, "y".into(), Delivery::Queued, Wait::Block, at(12))
        .expect_blocked();
    engine
        .send(b, jobs, "z".into(), Delivery::Receipt, Wait::Block, at(13))
        .expect_blocked();

    let a_info = info(&engine, a);
    assert_eq!(a_info.waiting, 2);
    assert_eq!(
        a_info.waits,
        [
            WaitInfo {
                kind: WaitKind::Recv,
                on: vec![
                    WaitTarget::Mailbox("jobs".into()),
                    WaitTarget::Inbox,
                    WaitTarget::Process(b)
                ],
                since: at(10),
            },
            WaitInfo {
                kind: WaitKind::Lease,
                on: vec![WaitTarget::Mailbox("acks".into())],
                since: at(11),
            },
        ]
    );
    let b_info = info(&engine, b);
    assert_eq!(
        b_info.waits,
        [
            WaitInfo {
                kind: WaitKind::Send,
                on: vec![WaitTarget::Mailbox("full".into())],
                since: at(12),
            },
            WaitInfo {
                kind: WaitKind::Receipt,
                on: vec![WaitTarget::Mailbox("jobs".into())],
                since: at(13),
            },
        ]
    );
}

#[test]
fn a_send_to_a_process_waits_on_that_process_and_keeps_its_start_when_admitted() {
    let mut engine = Engine::new(postbox_core::Limits {
        inbox_capacity: 1,
        ..postbox_core::Limits::default()
    });
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    send_to(&mut engine, a, b, "fills the inbox");
    engine
        .send_to(a, b, "waits".into(), Delivery::Receipt, Wait::Block, at(5))
        .expect_blocked();
    let waits = info(&engine, a).waits;
    assert_eq!(
        waits,
        [WaitInfo {
            kind: WaitKind::Send,
            on: vec![WaitTarget::Process(b)],
            since: at(5),
        }]
    );
    // Room frees at 20: the message is queued and the sender now awaits its receipt — still
    // waiting since 5.
    engine
        .recv(b, &[inbox(Selector::Any)], Wait::Try, at(20))
        .unwrap();
    let waits = info(&engine, a).waits;
    assert_eq!(waits.len(), 1);
    assert_eq!((waits[0].kind, waits[0].since), (WaitKind::Receipt, at(5)));
    assert_eq!(waits[0].on, [WaitTarget::Process(b)]);
}

/// A send expected to wait.
trait Blocked {
    fn expect_blocked(self);
}

impl Blocked for Result<postbox_core::SendOutcome, postbox_core::SendError> {
    #[track_caller]
    fn expect_blocked(self) {
        assert!(
            matches!(self, Ok(postbox_core::SendOutcome::Blocked(_))),
            "expected the send to wait: {self:?}"
        );
    }
}

#[test]
fn set_credentials_changes_who_a_process_acts_as() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let private = MailboxAttrs {
        mode: Mode::new(0o600),
        ..MailboxAttrs::default()
    };
    engine
        .create(owner, "private", private, at(1))
        .expect("create");
    let stranger = Credentials::new(2000, 2000);
    let proxy = engine.spawn(stranger, at(2));
    assert!(
        engine.open(proxy, "private").is_err(),
        "0600 refuses uid 2000"
    );
    engine.set_credentials(proxy, USER);
    assert_eq!(engine.credentials(proxy), Some(USER));
    engine.open(proxy, "private").expect("now the owner's uid");
    // A pid that is not alive is left alone.
    engine.terminate(proxy, at(3));
    engine.set_credentials(proxy, stranger);
    assert_eq!(engine.credentials(proxy), None);
}
