//! Lifecycle, ownership and rights: create/open/close/delete, names, owner-only receive and
//! grants, passing ownership on, exclusive and pair receivers, mode bits, root, and the
//! per-uid mailbox quota.

mod common;

use common::*;
use postbox_core::{
    AdminError, Capacity, Credentials, Delivery, Engine, Limits, MailboxAttrs, MailboxId, Message,
    Mode, OpenError, Owner, Ownership, Pid, Receivers, RecvError, Selector, SendErrorKind,
    Timestamp,
};

const OWNER: Credentials = USER;
const GROUP_MATE: Credentials = Credentials::new(1001, USER.gid);
const STRANGER: Credentials = Credentials::new(2000, 2000);

fn spawn_as(engine: &mut Engine, creds: Credentials) -> Pid {
    engine.spawn(creds, Timestamp::ZERO)
}

fn system(receivers: Receivers, mode: u16) -> MailboxAttrs {
    MailboxAttrs {
        receivers,
        mode: Mode::new(mode),
        ..MailboxAttrs::system_owned()
    }
}

fn send_error(engine: &mut Engine, from: Pid, mailbox: MailboxId) -> SendErrorKind {
    try_send(engine, from, mailbox, "x").unwrap_err().kind()
}

// --- lifecycle -----------------------------------------------------------------------------

#[test]
fn create_opens_the_mailbox_for_its_creator_and_open_finds_it_by_name() {
    let mut engine = Engine::default();
    let creator = spawn(&mut engine);
    let other = spawn(&mut engine);
    let q = create(
        &mut engine,
        creator,
        "jobs/high",
        MailboxAttrs::process_owned(),
    );
    assert_eq!(engine.lookup("jobs/high"), Some(q));
    assert_eq!(engine.open(other, "jobs/high"), Ok(q));
    assert_eq!(engine.stat(creator, q).unwrap().openers, 2);
    send(&mut engine, creator, q, "created and open");
    send(&mut engine, other, q, "opened");
}

#[test]
fn create_of_an_existing_name_fails_with_already_exists() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    create(&mut engine, a, "taken", MailboxAttrs::process_owned());
    assert_eq!(
        engine.create(b, "taken", MailboxAttrs::system_owned(), Timestamp::ZERO),
        Err(OpenError::AlreadyExists)
    );
}

#[test]
fn open_of_a_missing_name_fails_with_not_found() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    assert_eq!(engine.open(a, "nobody-made-me"), Err(OpenError::NotFound));
}

#[test]
fn names_outside_the_naming_rule_fail_with_invalid_name_everywhere() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let too_long = "a".repeat(256);
    for name in ["", "has space", "colon:", "ünïcode", too_long.as_str()] {
        let attrs = MailboxAttrs::process_owned();
        assert_eq!(
            engine.create(a, name, attrs, Timestamp::ZERO),
            Err(OpenError::InvalidName),
            "{name:?}"
        );
        assert_eq!(engine.open(a, name), Err(OpenError::InvalidName));
        assert_eq!(
            engine.open_or_create(a, name, attrs, Timestamp::ZERO),
            Err(OpenError::InvalidName)
        );
    }
    create(
        &mut engine,
        a,
        &"a".repeat(255),
        MailboxAttrs::process_owned(),
    );
    create(&mut engine, a, "A-z_0.9/x", MailboxAttrs::process_owned());
}

#[test]
fn open_or_create_creates_exactly_once_and_then_opens() {
    let mut engine = Engine::default();
    let a = spawn(&mut engine);
    let b = spawn(&mut engine);
    let attrs = MailboxAttrs::system_owned();
    let (q, created) = engine
        .open_or_create(a, "shared", attrs, Timestamp::ZERO)
        .unwrap();
    assert!(created);
    let (again, created) = engine
        .open_or_create(b, "shared", attrs, Timestamp::ZERO)
        .unwrap();
    assert_eq!((again, created), (q, false));
    assert_eq!(engine.stat(a, q).unwrap().openers, 2);
}

#[test]
fn close_releases_one_handle_and_the_last_close_ends_the_right_to_send() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let user = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(user, "q").unwrap();
    engine.open(user, "q").unwrap();
    engine.close(user, q, Timestamp::ZERO);
    try_send(&mut engine, user, q, "one handle left").unwrap();
    engine.close(user, q, Timestamp::ZERO);
    assert_eq!(
        send_error(&mut engine, user, q),
        SendErrorKind::PermissionDenied
    );
    assert_eq!(engine.lookup("q"), Some(q), "closing never deletes");
    assert_eq!(engine.stat(owner, q).unwrap().openers, 1);
}

#[test]
fn after_delete_every_operation_on_the_handle_is_gone() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.delete(owner, q).unwrap();
    let error = try_send(&mut engine, owner, q, "hello?").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::Gone);
    assert_eq!(error.into_message(), Some(Message::new("hello?")));
    assert_eq!(
        try_recv(&mut engine, owner, on(q, Selector::Any)),
        Err(RecvError::Gone)
    );
    assert_eq!(engine.stat(owner, q), Err(AdminError::Gone));
    assert_eq!(engine.delete(owner, q), Err(AdminError::Gone));
    assert_eq!(
        engine.set_mode(owner, q, Mode::new(0o666), Timestamp::ZERO),
        Err(AdminError::Gone)
    );
    assert_eq!(engine.lookup("q"), None);
    assert_eq!(engine.open(owner, "q"), Err(OpenError::NotFound));
}

#[test]
fn delete_fails_every_waiter_with_gone_handing_messages_back() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let sender = spawn(&mut engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(2, 1024),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "q", attrs);
    engine.open(sender, "q").unwrap();
    let receiver = recv_blocked(&mut engine, owner, &[on(q, Selector::Type(5))]);
    let receipt = send_blocked(&mut engine, sender, q, "receipt", Delivery::Receipt);
    send(&mut engine, sender, q, "plain");
    let blocked = send_blocked(&mut engine, sender, q, "blocked", Delivery::Queued);

    engine.delete(owner, q).unwrap();
    let mut done = completions(&mut engine);
    done.sort_by_key(|(ticket, _)| *ticket);
    assert_eq!(done.len(), 3, "{done:?}");
    let (tickets, outcomes): (Vec<_>, Vec<_>) = done.into_iter().unzip();
    assert_eq!(tickets, [receiver, receipt, blocked]);
    let mut outcomes = outcomes.into_iter();
    assert_eq!(recv_failed(outcomes.next().unwrap()), (0, RecvError::Gone));
    for payload in ["receipt", "blocked"] {
        let error = send_failed(outcomes.next().unwrap());
        assert_eq!(error.kind(), SendErrorKind::Gone);
        assert_eq!(error.into_message(), Some(Message::new(payload)));
    }
    assert_eq!(
        engine.stats().queued_messages,
        0,
        "queued messages go with it"
    );
}

#[test]
fn a_deleted_name_can_be_reused_while_the_old_handle_stays_gone() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let old = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.delete(owner, old).unwrap();
    let new = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    assert_ne!(old, new);
    assert_eq!(engine.lookup("q"), Some(new));
    assert_eq!(send_error(&mut engine, owner, old), SendErrorKind::Gone);
    try_send(&mut engine, owner, new, "fresh").unwrap();
    assert_eq!(
        try_recv(&mut engine, owner, on(old, Selector::Any)),
        Err(RecvError::Gone)
    );
}

// --- receive rights ------------------------------------------------------------------------

#[test]
fn only_the_owner_receives_from_a_process_owned_mailbox_others_only_send() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let other = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(other, "q").unwrap();
    send(&mut engine, other, q, "for the owner");
    assert_eq!(
        try_recv(&mut engine, other, on(q, Selector::Any)),
        Err(RecvError::PermissionDenied)
    );
    let blocking = engine.recv(
        other,
        &[on(q, Selector::Any)],
        postbox_core::Wait::Block,
        Timestamp::ZERO,
    );
    assert_eq!(blocking.unwrap_err().error, RecvError::PermissionDenied);
    assert_eq!(
        take(&mut engine, owner, on(q, Selector::Any)),
        b"for the owner"
    );
}

#[test]
fn grant_receive_lets_a_process_receive_until_it_is_revoked() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let helper = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(helper, "q").unwrap();
    engine
        .grant_receive(owner, q, helper, Timestamp::ZERO)
        .unwrap();
    send(&mut engine, owner, q, "for the helper");
    assert_eq!(
        take(&mut engine, helper, on(q, Selector::Any)),
        b"for the helper"
    );

    engine
        .revoke_receive(owner, q, helper, Timestamp::ZERO)
        .unwrap();
    send(&mut engine, owner, q, "not any more");
    assert_eq!(
        try_recv(&mut engine, helper, on(q, Selector::Any)),
        Err(RecvError::PermissionDenied)
    );
}

#[test]
fn revoking_fails_the_grantees_waiting_receive_with_permission_denied() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let helper = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(helper, "q").unwrap();
    engine
        .grant_receive(owner, q, helper, Timestamp::ZERO)
        .unwrap();
    let owners = recv_blocked(&mut engine, owner, &[on(q, Selector::Any)]);
    let helpers = recv_blocked(&mut engine, helper, &[on(q, Selector::Any)]);

    engine
        .revoke_receive(owner, q, helper, Timestamp::ZERO)
        .unwrap();
    assert_eq!(
        recv_failed(only_completion(&mut engine, helpers)),
        (0, RecvError::PermissionDenied)
    );
    assert!(
        engine.is_waiting(owners),
        "the owner's own receive is untouched"
    );
}

#[test]
fn grants_to_terminated_processes_do_not_pile_up() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    for _ in 0..1000 {
        let passing = spawn(&mut engine);
        engine
            .grant_receive(owner, q, passing, Timestamp::ZERO)
            .unwrap();
        engine.terminate(passing, Timestamp::ZERO);
    }
    assert!(
        engine.usage().grants <= 1,
        "{} grants kept for processes that are gone",
        engine.usage().grants
    );
}

#[test]
fn grant_receive_is_refused_for_non_owners_other_policies_and_absent_grantees() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let other = spawn(&mut engine);
    let dead = spawn(&mut engine);
    engine.terminate(dead, Timestamp::ZERO);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    engine.open(other, "q").unwrap();
    assert_eq!(
        engine.grant_receive(other, q, other, Timestamp::ZERO),
        Err(AdminError::PermissionDenied)
    );
    assert_eq!(
        engine.grant_receive(owner, q, Pid::from_raw(999), Timestamp::ZERO),
        Err(AdminError::NotFound)
    );
    assert_eq!(
        engine.grant_receive(owner, q, dead, Timestamp::ZERO),
        Err(AdminError::PeerGone)
    );
    let shared = create(&mut engine, owner, "shared", MailboxAttrs::system_owned());
    assert!(matches!(
        engine.grant_receive(owner, shared, other, Timestamp::ZERO),
        Err(AdminError::InvalidArgument(_))
    ));
}

#[test]
fn set_owner_to_another_process_moves_the_receive_right_and_the_lifetime() {
    let mut engine = Engine::default();
    let first = spawn(&mut engine);
    let second = spawn(&mut engine);
    let q = create(&mut engine, first, "q", MailboxAttrs::process_owned());
    engine.open(second, "q").unwrap();
    engine
        .set_owner(first, q, Owner::Process(second), Timestamp::ZERO)
        .unwrap();
    assert_eq!(
        engine.stat(second, q).unwrap().owner,
        Owner::Process(second)
    );
    send(&mut engine, first, q, "to the new owner");
    assert_eq!(
        try_recv(&mut engine, first, on(q, Selector::Any)),
        Err(RecvError::PermissionDenied)
    );
    assert_eq!(
        take(&mut engine, second, on(q, Selector::Any)),
        b"to the new owner"
    );
    assert_eq!(
        engine.delete(first, q),
        Err(AdminError::PermissionDenied),
        "the old owner lost its rights"
    );

    engine.terminate(first, Timestamp::ZERO);
    assert_eq!(
        engine.lookup("q"),
        Some(q),
        "the old owner's death no longer matters"
    );
    engine.terminate(second, Timestamp::ZERO);
    assert_eq!(engine.lookup("q"), None, "the new owner's death deletes it");
}

#[test]
fn set_owner_to_a_user_makes_the_mailbox_outlive_its_creator() {
    let mut engine = Engine::default();
    let creator = spawn(&mut engine);
    let watcher = spawn(&mut engine);
    let q = create(&mut engine, creator, "q", MailboxAttrs::process_owned());
    engine.open(watcher, "q").unwrap();
    let new_owner = Credentials::new(USER.uid, 4242);
    engine
        .set_owner(creator, q, Owner::System(new_owner), Timestamp::ZERO)
        .unwrap();
    let stats = engine.stat(watcher, q).unwrap();
    assert_eq!(stats.owner, Owner::System(new_owner));
    assert_eq!((stats.uid, stats.gid), (USER.uid, 4242));
    assert_eq!(stats.attrs.ownership, Ownership::System);

    engine.terminate(creator, Timestamp::ZERO);
    assert_eq!(engine.lookup("q"), Some(q));
    // Under owner-only receive, the owner is now every process of that uid.
    send(&mut engine, watcher, q, "still here");
    assert_eq!(
        take(&mut engine, watcher, on(q, Selector::Any)),
        b"still here"
    );
}

#[test]
fn set_owner_fails_the_old_owners_waiting_receive_with_permission_denied() {
    let mut engine = Engine::default();
    let first = spawn(&mut engine);
    let second = spawn(&mut engine);
    let q = create(&mut engine, first, "q", MailboxAttrs::process_owned());
    engine.open(second, "q").unwrap();
    let waiting = recv_blocked(&mut engine, first, &[on(q, Selector::Any)]);
    engine
        .set_owner(first, q, Owner::Process(second), Timestamp::ZERO)
        .unwrap();
    assert_eq!(
        recv_failed(only_completion(&mut engine, waiting)),
        (0, RecvError::PermissionDenied)
    );
    send(&mut engine, first, q, "for the new owner");
    assert_eq!(
        take(&mut engine, second, on(q, Selector::Any)),
        b"for the new owner"
    );
}

#[test]
fn set_owner_from_a_user_to_a_process_ties_the_mailbox_to_that_process() {
    let mut engine = Engine::default();
    let admin = spawn(&mut engine);
    let keeper = spawn(&mut engine);
    let q = create(&mut engine, admin, "q", system(Receivers::Owner, 0o600));
    engine
        .set_owner(admin, q, Owner::Process(keeper), Timestamp::ZERO)
        .unwrap();
    assert_eq!(
        engine.stat(admin, q).unwrap().attrs.ownership,
        Ownership::Process
    );
    engine.terminate(keeper, Timestamp::ZERO);
    assert_eq!(engine.lookup("q"), None);
}

#[test]
fn set_owner_is_refused_for_non_owners_and_absent_new_owners() {
    let mut engine = Engine::default();
    let owner = spawn(&mut engine);
    let other = spawn(&mut engine);
    let dead = spawn(&mut engine);
    engine.terminate(dead, Timestamp::ZERO);
    let q = create(&mut engine, owner, "q", MailboxAttrs::process_owned());
    assert_eq!(
        engine.set_owner(other, q, Owner::Process(other), Timestamp::ZERO),
        Err(AdminError::PermissionDenied)
    );
    assert_eq!(
        engine.set_owner(owner, q, Owner::Process(dead), Timestamp::ZERO),
        Err(AdminError::PeerGone)
    );
    assert_eq!(
        engine.set_owner(
            owner,
            q,
            Owner::Process(Pid::from_raw(999)),
            Timestamp::ZERO
        ),
        Err(AdminError::NotFound)
    );
    assert_eq!(engine.stat(owner, q).unwrap().owner, Owner::Process(owner));
}

// --- exclusive and pair receivers ----------------------------------------------------------

#[test]
fn an_exclusive_mailbox_is_held_by_the_first_receiver_until_it_closes() {
    let mut engine = Engine::default();
    let admin = spawn(&mut engine);
    let first = spawn(&mut engine);
    let second = spawn(&mut engine);
    let q = create(&mut engine, admin, "q", system(Receivers::Exclusive, 0o600));
    engine.open(first, "q").unwrap();
    engine.open(second, "q").unwrap();
    assert_eq!(
        try_recv(&mut engine, first, on(q, Selector::Any)),
        Err(RecvError::Empty)
    );
    send(&mut engine, admin, q, "for the holder");
    assert_eq!(
        try_recv(&mut engine, second, on(q, Selector::Any)),
        Err(RecvError::Busy)
    );
    assert_eq!(
        take(&mut engine, first, on(q, Selector::Any)),
        b"for the holder"
    );

    engine.close(first, q, Timestamp::ZERO);
    send(&mut engine, admin, q, "for the next holder");
    assert_eq!(
        take(&mut engine, second, on(q, Selector::Any)),
        b"for the next holder"
    );
    engine.open(first, "q").unwrap();
    assert_eq!(
        try_recv(&mut engine, first, on(q, Selector::Any)),
        Err(RecvError::Busy)
    );
}

#[test]
fn an_exclusive_mailbox_is_released_when_its_holder_terminates() {
    let mut engine = Engine::default();
    let admin = spawn(&mut engine);
    let holder = spawn(&mut engine);
    let next = spawn(&mut engine);
    let q = create(&mut engine, admin, "q", system(Receivers::Exclusive, 0o600));
    engine.open(holder, "q").unwrap();
    engine.open(next, "q").unwrap();
    let holding = recv_blocked(&mut engine, holder, &[on(q, Selector::Any)]);
    assert_eq!(
        try_recv(&mut engine, next, on(q, Selector::Any)),
        Err(RecvError::Busy)
    );
    engine.terminate(holder, Timestamp::ZERO);
    assert!(!engine.is_waiting(holding));
    send(&mut engine, admin, q, "after the holder");
    assert_eq!(
        take(&mut engine, next, on(q, Selector::Any)),
        b"after the holder"
    );
}

fn pair(engine: &mut Engine) -> (Pid, Pid, Pid, MailboxId) {
    let admin = spawn_as(engine, OWNER);
    let sender = spawn(engine);
    let receiver = spawn(engine);
    let attrs = MailboxAttrs {
        capacity: Capacity::bounded(1, 1024),
        ..system(Receivers::Pair, 0o600)
    };
    let q = create(engine, admin, "link", attrs);
    engine.open(sender, "link").unwrap();
    engine.open(receiver, "link").unwrap();
    send(engine, sender, q, "hello");
    assert_eq!(take(engine, receiver, on(q, Selector::Any)), b"hello");
    (admin, sender, receiver, q)
}

#[test]
fn a_pair_links_the_first_sender_and_first_receiver_and_a_third_is_busy() {
    let mut engine = Engine::default();
    let (admin, sender, receiver, q) = pair(&mut engine);
    let third = spawn(&mut engine);
    engine.open(third, "link").unwrap();
    assert_eq!(send_error(&mut engine, third, q), SendErrorKind::Busy);
    assert_eq!(send_error(&mut engine, admin, q), SendErrorKind::Busy);
    assert_eq!(
        try_recv(&mut engine, third, on(q, Selector::Any)),
        Err(RecvError::Busy)
    );
    assert_eq!(
        try_recv(&mut engine, sender, on(q, Selector::Any)),
        Err(RecvError::Busy),
        "the sending end is not also the receiving end"
    );
    send(&mut engine, sender, q, "still linked");
    assert_eq!(
        take(&mut engine, receiver, on(q, Selector::Any)),
        b"still linked"
    );
}

#[test]
fn a_pair_receiver_gets_peer_gone_once_the_sender_has_left_and_its_messages_are_taken() {
    let mut engine = Engine::default();
    let (_, sender, receiver, q) = pair(&mut engine);
    send(&mut engine, sender, q, "last words");
    engine.close(sender, q, Timestamp::ZERO);
    assert_eq!(
        take(&mut engine, receiver, on(q, Selector::Any)),
        b"last words"
    );
    assert_eq!(
        try_recv(&mut engine, receiver, on(q, Selector::Any)),
        Err(RecvError::PeerGone)
    );
    let blocking = engine.recv(
        receiver,
        &[on(q, Selector::Any)],
        postbox_core::Wait::Block,
        Timestamp::ZERO,
    );
    assert_eq!(blocking.unwrap_err().error, RecvError::PeerGone);
}

#[test]
fn a_waiting_pair_receiver_gets_peer_gone_when_the_sender_terminates() {
    let mut engine = Engine::default();
    let (_, sender, receiver, q) = pair(&mut engine);
    let waiting = recv_blocked(&mut engine, receiver, &[on(q, Selector::Any)]);
    engine.terminate(sender, Timestamp::ZERO);
    assert_eq!(
        recv_failed(only_completion(&mut engine, waiting)),
        (0, RecvError::PeerGone)
    );
}

#[test]
fn a_pair_sender_gets_peer_gone_when_the_receiver_leaves() {
    let mut engine = Engine::default();
    let (_, sender, receiver, q) = pair(&mut engine);
    send(&mut engine, sender, q, "fills the slot");
    let blocked = send_blocked(&mut engine, sender, q, "waits", Delivery::Queued);
    engine.close(receiver, q, Timestamp::ZERO);
    let error = send_failed(only_completion(&mut engine, blocked));
    assert_eq!(error.kind(), SendErrorKind::PeerGone);
    assert_eq!(error.into_message(), Some(Message::new("waits")));
    assert_eq!(send_error(&mut engine, sender, q), SendErrorKind::PeerGone);
}

#[test]
fn a_pair_sender_awaiting_a_receipt_gets_peer_gone_when_the_receiver_terminates() {
    let mut engine = Engine::default();
    let (_, sender, receiver, q) = pair(&mut engine);
    let receipt = send_blocked(&mut engine, sender, q, "sign", Delivery::Receipt);
    engine.terminate(receiver, Timestamp::ZERO);
    let error = send_failed(only_completion(&mut engine, receipt));
    assert_eq!(error.kind(), SendErrorKind::PeerGone);
    assert_eq!(error.into_message(), Some(Message::new("sign")));
}

// --- mode bits, root, deletion rights, quota -----------------------------------------------

#[test]
fn mode_bits_pick_the_owner_group_or_other_triplet_by_uid_and_gid() {
    let mut engine = Engine::default();
    let owner = spawn_as(&mut engine, OWNER);
    let mate = spawn_as(&mut engine, GROUP_MATE);
    let stranger = spawn_as(&mut engine, STRANGER);
    let shared = Receivers::Shared(postbox_core::Dispatch::FirstWaiting);
    let q = create(&mut engine, owner, "q", system(shared, 0o640));

    // 0640: the group may receive but not send; others may not even open.
    engine.open(mate, "q").unwrap();
    assert_eq!(engine.open(stranger, "q"), Err(OpenError::PermissionDenied));
    assert_eq!(
        send_error(&mut engine, mate, q),
        SendErrorKind::PermissionDenied
    );
    send(&mut engine, owner, q, "for the group");
    assert_eq!(
        take(&mut engine, mate, on(q, Selector::Any)),
        b"for the group"
    );

    // 0624: the group may send but not receive; others may receive.
    engine
        .set_mode(owner, q, Mode::new(0o624), Timestamp::ZERO)
        .unwrap();
    send(&mut engine, mate, q, "from the group");
    assert_eq!(
        try_recv(&mut engine, mate, on(q, Selector::Any)),
        Err(RecvError::PermissionDenied)
    );
    engine.open(stranger, "q").unwrap();
    assert_eq!(
        send_error(&mut engine, stranger, q),
        SendErrorKind::PermissionDenied
    );
    assert_eq!(
        take(&mut engine, stranger, on(q, Selector::Any)),
        b"from the group"
    );

    // 0200: the owner's own triplet binds it too.
    engine
        .set_mode(owner, q, Mode::new(0o200), Timestamp::ZERO)
        .unwrap();
    send(&mut engine, owner, q, "write only");
    assert_eq!(
        try_recv(&mut engine, owner, on(q, Selector::Any)),
        Err(RecvError::PermissionDenied)
    );
}

#[test]
fn set_mode_fails_waiting_receivers_that_lose_read_permission() {
    let mut engine = Engine::default();
    let owner = spawn_as(&mut engine, OWNER);
    let mate = spawn_as(&mut engine, GROUP_MATE);
    let shared = Receivers::Shared(postbox_core::Dispatch::FirstWaiting);
    let q = create(&mut engine, owner, "q", system(shared, 0o660));
    engine.open(mate, "q").unwrap();
    let owners = recv_blocked(&mut engine, owner, &[on(q, Selector::Type(2))]);
    let mates = recv_blocked(&mut engine, mate, &[on(q, Selector::Any)]);
    engine
        .set_mode(owner, q, Mode::new(0o620), Timestamp::ZERO)
        .unwrap();
    assert_eq!(
        recv_failed(only_completion(&mut engine, mates)),
        (0, RecvError::PermissionDenied)
    );
    assert!(engine.is_waiting(owners), "the owner may still receive");
    send(&mut engine, mate, q, "not for the group any more");
    assert!(completions(&mut engine).is_empty());
    assert_eq!(engine.stat(owner, q).unwrap().messages, 1);
}

#[test]
fn set_mode_is_for_the_owner_only() {
    let mut engine = Engine::default();
    let owner = spawn_as(&mut engine, OWNER);
    let mate = spawn_as(&mut engine, GROUP_MATE);
    let q = create(&mut engine, owner, "q", system(Receivers::Owner, 0o666));
    engine.open(mate, "q").unwrap();
    assert_eq!(
        engine.set_mode(mate, q, Mode::new(0o777), Timestamp::ZERO),
        Err(AdminError::PermissionDenied)
    );
    assert_eq!(engine.stat(owner, q).unwrap().mode, Mode::new(0o666));
}

#[test]
fn root_passes_every_permission_check() {
    let mut engine = Engine::default();
    let owner = spawn_as(&mut engine, OWNER);
    let root = spawn_as(&mut engine, Credentials::ROOT);
    let q = create(
        &mut engine,
        owner,
        "locked",
        system(Receivers::Owner, 0o000),
    );
    engine.open(root, "locked").unwrap();
    send(&mut engine, root, q, "root was here");
    assert_eq!(
        take(&mut engine, root, on(q, Selector::Any)),
        b"root was here"
    );
    engine
        .set_mode(root, q, Mode::new(0o600), Timestamp::ZERO)
        .unwrap();
    engine.delete(root, q).unwrap();
    assert_eq!(engine.lookup("locked"), None);
}

#[test]
fn only_the_owner_or_root_may_delete() {
    let mut engine = Engine::default();
    let owner = spawn_as(&mut engine, OWNER);
    let same_uid = spawn_as(&mut engine, OWNER);
    let stranger = spawn_as(&mut engine, STRANGER);
    let root = spawn_as(&mut engine, Credentials::ROOT);
    let attrs = MailboxAttrs {
        mode: Mode::new(0o666),
        ..MailboxAttrs::process_owned()
    };
    let q = create(&mut engine, owner, "q", attrs);
    engine.open(same_uid, "q").unwrap();
    engine.open(stranger, "q").unwrap();
    // A process-owned mailbox belongs to one process, not to its uid.
    assert_eq!(
        engine.delete(same_uid, q),
        Err(AdminError::PermissionDenied)
    );
    assert_eq!(
        engine.delete(stranger, q),
        Err(AdminError::PermissionDenied)
    );
    assert_eq!(engine.lookup("q"), Some(q));
    engine.delete(root, q).unwrap();
    assert_eq!(engine.lookup("q"), None);

    // A system-owned mailbox belongs to its uid: any process of it may delete.
    let s = create(&mut engine, owner, "s", system(Receivers::Owner, 0o666));
    engine.open(stranger, "s").unwrap();
    assert_eq!(
        engine.delete(stranger, s),
        Err(AdminError::PermissionDenied)
    );
    engine.delete(same_uid, s).unwrap();
}

#[test]
fn a_uid_may_have_at_most_max_mailboxes_per_uid() {
    let mut engine = Engine::new(Limits {
        max_mailboxes_per_uid: 2,
        ..Limits::default()
    });
    let a = spawn_as(&mut engine, OWNER);
    let b = spawn_as(&mut engine, OWNER);
    let stranger = spawn_as(&mut engine, STRANGER);
    let first = create(&mut engine, a, "one", MailboxAttrs::system_owned());
    create(&mut engine, b, "two", MailboxAttrs::process_owned());
    assert_eq!(
        engine.create(a, "three", MailboxAttrs::system_owned(), Timestamp::ZERO),
        Err(OpenError::QuotaExceeded),
        "the quota is per uid, not per process"
    );
    create(
        &mut engine,
        stranger,
        "theirs",
        MailboxAttrs::process_owned(),
    );

    engine.delete(a, first).unwrap();
    create(&mut engine, a, "three", MailboxAttrs::system_owned());
    // A process-owned mailbox gives its slot back when its owner terminates.
    engine.terminate(b, Timestamp::ZERO);
    create(&mut engine, a, "four", MailboxAttrs::system_owned());
}

#[test]
fn open_needs_read_or_write_permission_but_not_both() {
    let mut engine = Engine::default();
    let owner = spawn_as(&mut engine, OWNER);
    let stranger = spawn_as(&mut engine, STRANGER);
    let shared = Receivers::Shared(postbox_core::Dispatch::FirstWaiting);
    let q = create(&mut engine, owner, "drop-box", system(shared, 0o602));
    assert_eq!(engine.open(stranger, "drop-box"), Ok(q));
    send(&mut engine, stranger, q, "anonymous tip");
    assert_eq!(
        try_recv(&mut engine, stranger, on(q, Selector::Any)),
        Err(RecvError::PermissionDenied)
    );
}
