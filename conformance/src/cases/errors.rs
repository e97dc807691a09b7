//! The error vocabulary: every error reads as lowercase, human text (never `Debug` output), the
//! errors a transport produces are the shared variants, and every failed send hands its message
//! back, whatever the reason.

use std::fmt::{Debug, Display};

use postbox::{
    AdminError, Capacity, ConnectError, Message, MessageSize, Mode, OpenError, Pid, Receivers,
    RecvError, SelectError, SendError, SendErrorKind,
};

use crate::Transport;
use crate::support::{SHORT, STRANGER, assert_handed_back, skip};

/// Panics unless `error` displays as lowercase human text, distinct from its `Debug` form.
fn assert_readable<E: Display + Debug>(error: &E) {
    let text = error.to_string();
    let debug = format!("{error:?}");
    let variant: String = debug.chars().take_while(|c| c.is_alphanumeric()).collect();
    assert!(!text.is_empty(), "{debug} displays as nothing");
    assert!(
        text.starts_with(|c: char| c.is_lowercase()),
        "{debug} displays as {text:?}: not lowercase"
    );
    assert_ne!(text, debug, "{debug} displays its Debug form");
    assert!(
        !text.contains(&variant),
        "{debug} displays its variant name: {text:?}"
    );
    assert!(
        !text.ends_with(['.', '\n']),
        "{debug} displays a sentence ending: {text:?}"
    );
}

/// Every send error kind; fails to compile when one is added and not listed.
fn send_kinds() -> Vec<SendErrorKind> {
    use SendErrorKind::*;
    let all = vec![
        NotFound,
        PermissionDenied,
        Full,
        Timeout,
        TooLarge,
        WrongSize,
        InvalidType,
        Gone,
        PeerGone,
        Busy,
        QuotaExceeded,
        Dropped,
        Disconnected,
        Protocol,
    ];
    for kind in &all {
        match kind {
            NotFound | PermissionDenied | Full | Timeout | TooLarge | WrongSize | InvalidType
            | Gone | PeerGone | Busy | QuotaExceeded | Dropped | Disconnected | Protocol => {}
        }
    }
    all
}

/// Every receive error; fails to compile when one is added and not listed.
fn recv_errors() -> Vec<RecvError> {
    use RecvError::*;
    let all = vec![
        PermissionDenied,
        Empty,
        Timeout,
        Gone,
        PeerGone,
        Busy,
        Disconnected,
        Protocol,
        LeaseEnded,
    ];
    for error in &all {
        match error {
            PermissionDenied | Empty | Timeout | Gone | PeerGone | Busy | Disconnected
            | Protocol | LeaseEnded => {}
        }
    }
    all
}

/// Every open error; fails to compile when one is added and not listed.
fn open_errors() -> Vec<OpenError> {
    use OpenError::*;
    let all = vec![
        NotFound,
        AlreadyExists,
        PermissionDenied,
        InvalidName,
        InvalidAttributes("fixed message size must be at least 1 byte".into()),
        QuotaExceeded,
        Disconnected,
        Protocol,
        Refused("too many requests in flight".into()),
    ];
    for error in &all {
        match error {
            NotFound | AlreadyExists | PermissionDenied | InvalidName | InvalidAttributes(_)
            | QuotaExceeded | Disconnected | Protocol | Refused(_) => {}
        }
    }
    all
}

/// Every admin error; fails to compile when one is added and not listed.
fn admin_errors() -> Vec<AdminError> {
    use AdminError::*;
    let all = vec![
        NotFound,
        PermissionDenied,
        Gone,
        PeerGone,
        AlreadyExists,
        InvalidName,
        InvalidArgument("only a bounded mailbox has a byte limit".into()),
        Disconnected,
        Protocol,
        Refused("too many requests in flight".into()),
    ];
    for error in &all {
        match error {
            NotFound | PermissionDenied | Gone | PeerGone | AlreadyExists | InvalidName
            | InvalidArgument(_) | Disconnected | Protocol | Refused(_) => {}
        }
    }
    all
}

/// Every variant of every error type displays as lowercase, human text, never `Debug` output.
pub fn every_error_displays_as_lowercase_human_text<T: Transport>(_t: &T) {
    for kind in send_kinds() {
        assert_readable(&kind);
        let error = SendError::new(kind, Message::new("m"));
        assert_readable(&error);
        assert!(
            error.to_string().contains(&kind.to_string()),
            "{error} names its kind"
        );
    }
    for error in recv_errors() {
        assert_readable(&error);
        let select = SelectError { branch: 3, error };
        assert_readable(&select);
        assert!(
            select.to_string().contains('3'),
            "{select} names its branch"
        );
    }
    open_errors().iter().for_each(assert_readable);
    admin_errors().iter().for_each(assert_readable);
    assert_readable(&ConnectError::InvalidUrl("nonsense".into()));
    assert_readable(&ConnectError::Io("connection refused".into()));
    assert_readable(&ConnectError::Handshake(
        "the daemon closed the connection".into(),
    ));
    assert_readable(&ConnectError::InvalidToken("empty".into()));
    let error = postbox::connect("nonsense").unwrap_err();
    assert!(matches!(error, ConnectError::InvalidUrl(_)), "{error:?}");
}

/// Provokes every send failure the transport can produce with default settings and checks each
/// hands back the very message that was sent (payload, type and priority) and reads well.
pub fn every_failed_send_hands_the_message_back<T: Transport>(t: &T) {
    let precious = || Message::new("precious").with_type(3).with_priority(2);
    let check = |expected: SendErrorKind, result: Result<(), SendError>| {
        let error = result.expect_err("the send must fail");
        assert_eq!(error.kind(), expected);
        assert_readable(&error);
        assert_handed_back(error, &precious());
    };
    let owner = t.process();
    let peer = t.process();

    let full = owner
        .mailbox("full")
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    full.send("filler").expect("send");
    check(SendErrorKind::Full, full.try_send(precious()).map(drop));
    check(
        SendErrorKind::Timeout,
        full.send_timeout(precious(), SHORT).map(drop),
    );
    let small = owner
        .mailbox("small")
        .size(MessageSize::Variable(4))
        .create()
        .expect("create");
    check(SendErrorKind::TooLarge, small.send(precious()).map(drop));
    let fixed = owner
        .mailbox("fixed")
        .size(MessageSize::Fixed(3))
        .create()
        .expect("create");
    check(SendErrorKind::WrongSize, fixed.send(precious()).map(drop));
    let doomed = owner.mailbox("doomed").create().expect("create");
    doomed.delete().expect("delete");
    check(SendErrorKind::Gone, doomed.send(precious()).map(drop));
    check(
        SendErrorKind::NotFound,
        owner.send_to(Pid::from_raw(u64::MAX), precious()),
    );
    let dead = t.process();
    let dead_pid = dead.pid();
    drop(dead);
    check(SendErrorKind::PeerGone, owner.send_to(dead_pid, precious()));

    let _link = owner
        .mailbox("link")
        .receivers(Receivers::Pair)
        .create()
        .expect("create");
    let tx = peer.mailbox("link").open().expect("open");
    tx.send("claims the sending end").expect("send");
    let third = owner.mailbox("link").open().expect("open");
    check(SendErrorKind::Busy, third.send(precious()).map(drop));

    let orphan = t.process();
    let left_behind = orphan.mailbox("orphan").create().expect("create");
    drop(orphan);
    check(
        SendErrorKind::Disconnected,
        left_behind.send(precious()).map(drop),
    );

    match t.process_as(STRANGER) {
        Some(stranger) => {
            let guarded = owner
                .mailbox("guarded")
                .mode(Mode::new(0o666))
                .create()
                .expect("create");
            let theirs = stranger.mailbox("guarded").open().expect("open");
            guarded.set_mode(Mode::new(0o600)).expect("set_mode");
            check(
                SendErrorKind::PermissionDenied,
                theirs.send(precious()).map(drop),
            );
        }
        None => skip(
            t,
            "errors::every_failed_send_hands_the_message_back (PermissionDenied)",
            "the transport cannot start processes as another uid",
        ),
    }

    let untyped = Message::new("untyped").with_type(0);
    let error = full.send(untyped.clone()).unwrap_err();
    assert_eq!(
        (error.kind(), error.into_message()),
        (SendErrorKind::InvalidType, Some(untyped))
    );
}

/// The errors a transport produces for receives, opens and administration read well too.
pub fn errors_from_the_transport_read_well<T: Transport>(t: &T) {
    let p = t.process();
    let other = t.process();
    let jobs = p.mailbox("jobs").create().expect("create");
    let theirs = other.mailbox("jobs").open().expect("open");
    let recv_errors = [
        jobs.try_recv().unwrap_err(),
        jobs.recv_timeout(SHORT).unwrap_err(),
        theirs.try_recv().unwrap_err(),
    ];
    assert_eq!(
        recv_errors,
        [
            RecvError::Empty,
            RecvError::Timeout,
            RecvError::PermissionDenied
        ]
    );
    recv_errors.iter().for_each(assert_readable);

    let open_errors = [
        p.mailbox("jobs").create().unwrap_err(),
        p.mailbox("nowhere").open().unwrap_err(),
        p.mailbox("bad name").open().unwrap_err(),
        p.mailbox("x")
            .size(MessageSize::Fixed(0))
            .create()
            .unwrap_err(),
    ];
    open_errors.iter().for_each(assert_readable);
    let OpenError::InvalidAttributes(why) = &open_errors[3] else {
        panic!("{:?}", open_errors[3]);
    };
    assert!(
        open_errors[3].to_string().contains(why.as_str()),
        "says which attributes"
    );

    let unbounded = p
        .mailbox("unbounded")
        .capacity(Capacity::Unbounded)
        .create()
        .expect("create");
    let admin_errors = [
        unbounded.set_max_bytes(1).unwrap_err(),
        other.register("bad name").unwrap_err(),
        other.monitor(Pid::from_raw(u64::MAX)).unwrap_err(),
    ];
    admin_errors.iter().for_each(assert_readable);
    jobs.delete().expect("delete");
    assert_readable(&jobs.stat().unwrap_err());
}
