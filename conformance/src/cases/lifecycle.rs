//! Lifecycle: `create`, `open`, `open_or_create`, closing a handle and `delete`; the naming rule;
//! stale handles after a delete, and the name's reuse.

use postbox::{
    AdminError, Capacity, Credentials, Dispatch, Message, OpenError, Ownership, Receivers,
    RecvError, Selector, SendErrorKind,
};

use crate::Transport;
use crate::support::{
    LONG, await_blocked_receivers, await_blocked_senders, ordinary, process_as, typed,
};

/// The longest valid name, in bytes.
const MAX_NAME_LEN: usize = 255;

/// `create` makes a mailbox that `open` finds by name: both handles reach one queue.
pub fn create_then_open_reach_one_mailbox<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let created = owner.mailbox("jobs").create().expect("create");
    let opened = peer.mailbox("jobs").open().expect("open");
    assert_eq!(created.id(), opened.id());
    assert_eq!((created.name(), opened.name()), ("jobs", "jobs"));
    assert_eq!(opened.process_pid(), peer.pid());
    opened.send("work").expect("send");
    let got = created.recv().expect("recv");
    assert_eq!(got.payload().as_ref(), b"work");
    assert_eq!(got.sender, peer.pid());
}

/// `create` on a taken name fails with `AlreadyExists` and leaves the mailbox alone.
pub fn create_on_a_taken_name_is_already_exists<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let first = owner
        .mailbox("taken")
        .capacity(Capacity::bounded(3, 100))
        .create()
        .expect("create");
    first.send("kept").expect("send");
    assert_eq!(
        peer.mailbox("taken")
            .capacity(Capacity::Unbounded)
            .create()
            .unwrap_err(),
        OpenError::AlreadyExists
    );
    assert_eq!(
        owner.mailbox("taken").create().unwrap_err(),
        OpenError::AlreadyExists,
        "even for the creator"
    );
    let stats = first.stat().expect("stat");
    assert_eq!(stats.attrs.capacity, Capacity::bounded(3, 100));
    assert_eq!(stats.messages, 1);
}

/// `open` of a name nobody created fails with `NotFound`.
pub fn open_of_a_missing_name_is_not_found<T: Transport>(t: &T) {
    let p = t.process();
    assert_eq!(
        p.mailbox("nowhere").open().unwrap_err(),
        OpenError::NotFound
    );
    let made = p.mailbox("nowhere").create().expect("create");
    made.delete().expect("delete");
    assert_eq!(
        p.mailbox("nowhere").open().unwrap_err(),
        OpenError::NotFound
    );
}

/// Names are 1..=255 bytes of `[A-Za-z0-9._/-]`; anything else fails with `InvalidName` for
/// `create`, `open` and `open_or_create` alike.
pub fn names_outside_the_rule_are_invalid_name<T: Transport>(t: &T) {
    let p = t.process();
    let too_long = "a".repeat(MAX_NAME_LEN + 1);
    for bad in [
        "",
        "a b",
        "tab\t",
        "new\nline",
        "colon:x",
        "nul\0",
        "é",
        "star*",
        &too_long,
    ] {
        assert_eq!(
            p.mailbox(bad).create().unwrap_err(),
            OpenError::InvalidName,
            "{bad:?}"
        );
        assert_eq!(
            p.mailbox(bad).open().unwrap_err(),
            OpenError::InvalidName,
            "{bad:?}"
        );
        assert_eq!(
            p.mailbox(bad).open_or_create().unwrap_err(),
            OpenError::InvalidName,
            "{bad:?}"
        );
    }
    let longest = "z".repeat(MAX_NAME_LEN);
    for good in ["a", "AZaz09._/-", "jobs/high-priority_1.q", &longest] {
        let mailbox = p.mailbox(good).create().expect(good);
        assert_eq!(mailbox.name(), good);
        assert_eq!(p.mailbox(good).open().expect(good).id(), mailbox.id());
    }
}

/// `open_or_create` creates with its attributes when the name is free, and otherwise opens the
/// existing mailbox, ignoring its own attributes.
pub fn open_or_create_creates_once_then_opens<T: Transport>(t: &T) {
    let first = t.process();
    let second = t.process();
    let created = first
        .mailbox("shared")
        .capacity(Capacity::bounded(3, 100))
        .open_or_create()
        .expect("creates");
    let opened = second
        .mailbox("shared")
        .capacity(Capacity::Unbounded)
        .open_or_create()
        .expect("opens");
    assert_eq!(created.id(), opened.id());
    assert_eq!(
        opened.stat().expect("stat").attrs.capacity,
        Capacity::bounded(3, 100),
        "the second caller's attributes are ignored"
    );
}

/// Racing `open_or_create` calls end with one mailbox that every caller has open.
pub fn racing_open_or_create_yields_one_mailbox<T: Transport>(t: &T) {
    const RACERS: usize = 8;
    let processes: Vec<_> = (0..RACERS).map(|_| t.process()).collect();
    let handles: Vec<_> = std::thread::scope(|s| {
        let racing: Vec<_> = processes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                s.spawn(move || {
                    p.mailbox("race")
                        .capacity(Capacity::bounded(i + 1, 1024))
                        .open_or_create()
                        .expect("open_or_create")
                })
            })
            .collect();
        racing
            .into_iter()
            .map(|h| h.join().expect("racer"))
            .collect()
    });
    let id = handles[0].id();
    assert!(handles.iter().all(|h| h.id() == id), "one mailbox for all");
    let stats = handles[0].stat().expect("stat");
    assert_eq!(stats.openers, RACERS);
    let Capacity::Bounded { messages, .. } = stats.attrs.capacity else {
        panic!(
            "created with one racer's capacity, got {:?}",
            stats.attrs.capacity
        );
    };
    assert!((1..=RACERS).contains(&messages));
    let listed = processes[0].list_mailboxes().expect("list");
    assert_eq!(listed.iter().filter(|m| m.name == "race").count(), 1);
}

/// Dropping a handle closes it but never deletes: the mailbox and its messages stay, and the
/// owner may open it again.
pub fn closing_a_handle_is_not_delete<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let created = owner.mailbox("kept").create().expect("create");
    created.send("still here").expect("send");
    drop(created);
    let from_peer = peer
        .mailbox("kept")
        .open()
        .expect("open after the creator closed");
    assert_eq!(from_peer.stat().expect("stat").messages, 1);
    drop(from_peer);
    let reopened = owner.mailbox("kept").open().expect("reopen");
    assert_eq!(
        reopened.recv().expect("recv").payload().as_ref(),
        b"still here"
    );
}

/// After `delete`, every operation on every handle fails with `Gone` (a send hands its message
/// back) and the name is free.
pub fn delete_makes_every_handle_gone<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner.mailbox("doomed").create().expect("create");
    let theirs = peer.mailbox("doomed").open().expect("open");
    mine.send("lost").expect("send");
    mine.delete().expect("delete");

    for handle in [&mine, &theirs] {
        let error = handle.try_send(typed("back", 4)).unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Gone);
        assert_eq!(error.into_message(), Some(typed("back", 4)));
        assert_eq!(handle.send("x").unwrap_err().kind(), SendErrorKind::Gone);
        assert_eq!(handle.try_recv().unwrap_err(), RecvError::Gone);
        assert_eq!(
            handle.recv().unwrap_err(),
            RecvError::Gone,
            "blocking recv does not wait"
        );
        assert_eq!(
            handle.recv_matching(Selector::Type(9)).unwrap_err(),
            RecvError::Gone
        );
        assert_eq!(handle.stat().unwrap_err(), AdminError::Gone);
    }
    assert_eq!(mine.delete().unwrap_err(), AdminError::Gone);
    assert_eq!(
        peer.mailbox("doomed").open().unwrap_err(),
        OpenError::NotFound
    );
}

/// A deleted mailbox's name goes to a new mailbox at once; handles on the old one keep answering
/// `Gone` and never reach the new one.
pub fn deleted_name_is_reused_by_a_new_mailbox<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let old = owner.mailbox("reused").create().expect("create");
    let stale = peer.mailbox("reused").open().expect("open");
    old.delete().expect("delete");

    let new = peer.mailbox("reused").create().expect("the name is free");
    assert_ne!(new.id(), old.id(), "ids are never reused");
    assert_eq!(
        stale.try_send("astray").unwrap_err().kind(),
        SendErrorKind::Gone
    );
    assert_eq!(old.try_recv().unwrap_err(), RecvError::Gone);
    assert_eq!(new.stat().expect("stat").messages, 0);
    new.send("fresh").expect("send");
    assert_eq!(stale.try_recv().unwrap_err(), RecvError::Gone);
    assert_eq!(new.recv().expect("recv").payload().as_ref(), b"fresh");
}

/// `delete` wakes every waiter: blocked receivers get `Gone`, blocked senders get `Gone` with
/// their message back.
pub fn delete_wakes_waiters_with_gone<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mailbox = owner
        .mailbox("wake")
        .capacity(Capacity::bounded(1, 1024))
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .create()
        .expect("create");
    let theirs = peer.mailbox("wake").open().expect("open");
    mailbox.send(typed("filler", 1)).expect("send");
    std::thread::scope(|s| {
        // The queue is full of type 1: a type-2 receiver and a type-3 sender both wait.
        let receiver = s.spawn(|| theirs.recv_matching_timeout(Selector::Type(2), LONG));
        await_blocked_receivers(&mailbox, 1);
        let sender = s.spawn(|| theirs.send_timeout(typed("blocked", 3), LONG));
        await_blocked_senders(&mailbox, 1);
        mailbox.delete().expect("delete");
        assert_eq!(
            receiver.join().expect("receiver").unwrap_err(),
            RecvError::Gone
        );
        let error = sender.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Gone);
        assert_eq!(error.into_message(), Some(typed("blocked", 3)));
    });
}

/// Only the owner deletes a process-owned mailbox; any process of the owning uid deletes a
/// system-owned one; root deletes anything.
pub fn only_the_owner_or_root_deletes<T: Transport>(t: &T) {
    let Some([owner, other]) = ordinary(t, "lifecycle::only_the_owner_or_root_deletes") else {
        return;
    };
    let private = owner.mailbox("private").create().expect("create");
    let theirs = other
        .mailbox("private")
        .open()
        .expect("same uid may open 0600");
    assert_eq!(theirs.delete().unwrap_err(), AdminError::PermissionDenied);
    assert_eq!(private.stat().expect("still there").messages, 0);
    private.delete().expect("the owner deletes");

    let system = owner
        .mailbox("system")
        .ownership(Ownership::System)
        .create()
        .expect("create");
    let by_uid = other.mailbox("system").open().expect("open");
    by_uid
        .delete()
        .expect("any process of the owning uid deletes");
    assert_eq!(system.stat().unwrap_err(), AdminError::Gone);

    let case = "lifecycle::only_the_owner_or_root_deletes (root)";
    if let Some(root) = process_as(t, Credentials::ROOT, case) {
        let victim = owner.mailbox("victim").create().expect("create");
        let by_root = root.mailbox("victim").open().expect("root opens anything");
        by_root.delete().expect("root deletes anything");
        assert_eq!(
            victim.try_send(Message::new("x")).unwrap_err().kind(),
            SendErrorKind::Gone
        );
    }
}
