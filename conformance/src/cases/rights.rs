//! Receive rights: owner-only receive with `grant_receive` / `revoke_receive`, exclusive
//! receivers (`Busy`), pair links (`Busy`, `PeerGone`), and passing ownership on.

use postbox::{
    AdminError, Capacity, Message, Owner, Ownership, Pid, Receivers, RecvError, SendErrorKind,
};

use crate::Transport;
use crate::support::{LONG, await_blocked_receivers, await_blocked_senders, ordinary};

/// A process-owned mailbox is received from by its owner alone; others may only send.
pub fn owner_alone_receives_by_default<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner.mailbox("private").create().expect("create");
    let theirs = peer.mailbox("private").open().expect("open");
    theirs.send("for the owner").expect("others may send");
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::PermissionDenied);
    assert_eq!(
        theirs.recv().unwrap_err(),
        RecvError::PermissionDenied,
        "does not wait"
    );
    assert_eq!(
        mine.recv().expect("recv").payload().as_ref(),
        b"for the owner"
    );
}

/// `grant_receive` lets another process receive; `revoke_receive` takes the right back.
pub fn grant_and_revoke_receive<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner.mailbox("delegated").create().expect("create");
    let theirs = peer.mailbox("delegated").open().expect("open");
    mine.send("one").expect("send");
    mine.send("two").expect("send");
    mine.grant_receive(peer.pid()).expect("grant");
    assert_eq!(theirs.recv().expect("granted").payload().as_ref(), b"one");
    mine.revoke_receive(peer.pid()).expect("revoke");
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::PermissionDenied);
    assert_eq!(
        mine.recv()
            .expect("the owner keeps its right")
            .payload()
            .as_ref(),
        b"two"
    );

    assert_eq!(
        mine.grant_receive(Pid::from_raw(u64::MAX)).unwrap_err(),
        AdminError::NotFound
    );
    let doomed = t.process();
    let gone = doomed.pid();
    drop(doomed);
    assert_eq!(mine.grant_receive(gone).unwrap_err(), AdminError::PeerGone);
}

/// Revoking the right of a grantee that is waiting fails its receive with `PermissionDenied`.
pub fn revoke_wakes_a_waiting_grantee<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    let mine = owner.mailbox("delegated").create().expect("create");
    let theirs = peer.mailbox("delegated").open().expect("open");
    mine.grant_receive(peer.pid()).expect("grant");
    std::thread::scope(|s| {
        let receiver = s.spawn(|| theirs.recv_timeout(LONG));
        await_blocked_receivers(&mine, 1);
        mine.revoke_receive(peer.pid()).expect("revoke");
        assert_eq!(
            receiver.join().expect("receiver").unwrap_err(),
            RecvError::PermissionDenied
        );
    });
    assert_eq!(mine.stat().expect("stat").blocked_receivers, 0);
}

/// Receive rights are granted only on owner-receive mailboxes: elsewhere `InvalidArgument`.
pub fn grants_need_the_owner_receivers_policy<T: Transport>(t: &T) {
    let owner = t.process();
    let peer = t.process();
    for (name, receivers) in [
        ("exclusive", Receivers::Exclusive),
        ("pair", Receivers::Pair),
        ("shared", Receivers::Shared(postbox::Dispatch::RoundRobin)),
    ] {
        let mailbox = owner
            .mailbox(name)
            .receivers(receivers)
            .create()
            .expect("create");
        let result = mailbox.grant_receive(peer.pid());
        assert!(
            matches!(result, Err(AdminError::InvalidArgument(_))),
            "{name}: {result:?}"
        );
        let result = mailbox.revoke_receive(peer.pid());
        assert!(
            matches!(result, Err(AdminError::InvalidArgument(_))),
            "{name}: {result:?}"
        );
    }
}

/// Only the owner (or root) administers a mailbox: others get `PermissionDenied` for grants,
/// mode and ownership changes and deletion.
pub fn only_the_owner_administers<T: Transport>(t: &T) {
    let Some([owner, other]) = ordinary(t, "rights::only_the_owner_administers") else {
        return;
    };
    let mine = owner.mailbox("guarded").create().expect("create");
    let theirs = other
        .mailbox("guarded")
        .open()
        .expect("same uid may open 0600");
    let denied = Err(AdminError::PermissionDenied);
    assert_eq!(theirs.grant_receive(other.pid()), denied);
    assert_eq!(theirs.revoke_receive(owner.pid()), denied);
    assert_eq!(theirs.set_mode(postbox::Mode::new(0o666)), denied);
    assert_eq!(theirs.set_max_bytes(10), denied);
    assert_eq!(theirs.set_owner(Owner::Process(other.pid())), denied);
    assert_eq!(theirs.delete(), denied);
    let stats = mine.stat().expect("untouched");
    assert_eq!(
        (stats.owner, stats.mode.bits()),
        (Owner::Process(owner.pid()), 0o600)
    );
}

/// Exclusive: the first process to receive holds the right; others get `Busy` (sending is not
/// affected) until it closes its last handle.
pub fn exclusive_first_receiver_holds_the_right<T: Transport>(t: &T) {
    let owner = t.process();
    let first = t.process();
    let second = t.process();
    let mine = owner
        .mailbox("solo")
        .receivers(Receivers::Exclusive)
        .create()
        .expect("create");
    let held = first.mailbox("solo").open().expect("open");
    let held_too = first.mailbox("solo").open().expect("a second handle");
    let waiting = second.mailbox("solo").open().expect("open");
    assert_eq!(
        held.try_recv().unwrap_err(),
        RecvError::Empty,
        "takes the right"
    );
    assert_eq!(waiting.try_recv().unwrap_err(), RecvError::Busy);
    assert_eq!(
        waiting.recv().unwrap_err(),
        RecvError::Busy,
        "does not wait"
    );
    assert_eq!(
        mine.try_recv().unwrap_err(),
        RecvError::Busy,
        "the owner too"
    );
    waiting.send("sending is fine").expect("send");
    drop(held);
    assert_eq!(
        waiting.try_recv().unwrap_err(),
        RecvError::Busy,
        "one handle is left"
    );
    assert_eq!(
        held_too.recv().expect("recv").payload().as_ref(),
        b"sending is fine"
    );
    drop(held_too);
    waiting.send("now mine").expect("send");
    assert_eq!(
        waiting
            .recv()
            .expect("the right is free")
            .payload()
            .as_ref(),
        b"now mine"
    );
    assert_eq!(mine.try_recv().unwrap_err(), RecvError::Busy);
}

/// Exclusive: the holder's termination frees the right.
pub fn exclusive_right_is_released_on_termination<T: Transport>(t: &T) {
    let owner = t.process();
    let holder = t.process();
    let mine = owner
        .mailbox("solo")
        .receivers(Receivers::Exclusive)
        .create()
        .expect("create");
    let held = holder.mailbox("solo").open().expect("open");
    assert_eq!(held.try_recv().unwrap_err(), RecvError::Empty);
    assert_eq!(mine.try_recv().unwrap_err(), RecvError::Busy);
    drop(holder);
    mine.send("free").expect("send");
    assert_eq!(
        mine.recv().expect("the right is free").payload().as_ref(),
        b"free"
    );
}

/// Pair: the first sending process and the first receiving process are the link; a third gets
/// `Busy` for either, a failed send handing its message back.
pub fn pair_links_the_first_sender_and_receiver<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let receiver = t.process();
    let _mine = owner
        .mailbox("link")
        .receivers(Receivers::Pair)
        .create()
        .expect("create");
    let tx = sender.mailbox("link").open().expect("open");
    let rx = receiver.mailbox("link").open().expect("open");
    tx.send("hello").expect("the first sender");
    assert_eq!(
        rx.recv().expect("the first receiver").payload().as_ref(),
        b"hello"
    );
    for intruder in [&owner, &t.process()] {
        let third = intruder.mailbox("link").open().expect("open");
        let error = third.try_send("intrude").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::Busy);
        assert_eq!(error.into_message(), Some(Message::new("intrude")));
        assert_eq!(third.try_recv().unwrap_err(), RecvError::Busy);
    }
    tx.send("still linked").expect("send");
    assert_eq!(rx.recv().expect("recv").payload().as_ref(), b"still linked");
}

/// Pair: when the sender leaves, the receiver takes what is queued, then gets `PeerGone`; a
/// waiting receiver is woken with it.
pub fn pair_sender_leaving_is_peer_gone_for_the_receiver<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let receiver = t.process();
    let mine = owner
        .mailbox("link")
        .receivers(Receivers::Pair)
        .create()
        .expect("create");
    let tx = sender.mailbox("link").open().expect("open");
    let rx = receiver.mailbox("link").open().expect("open");
    tx.send("last").expect("send");
    assert_eq!(rx.recv().expect("recv").payload().as_ref(), b"last");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| rx.recv_timeout(LONG));
        await_blocked_receivers(&mine, 1);
        drop(tx);
        assert_eq!(
            waiting.join().expect("receiver").unwrap_err(),
            RecvError::PeerGone
        );
    });
    assert_eq!(rx.try_recv().unwrap_err(), RecvError::PeerGone);
}

/// Pair: when the receiver leaves, the sender gets `PeerGone` with its message back — a
/// waiting sender at once.
pub fn pair_receiver_leaving_is_peer_gone_for_the_sender<T: Transport>(t: &T) {
    let owner = t.process();
    let sender = t.process();
    let receiver = t.process();
    let mine = owner
        .mailbox("link")
        .receivers(Receivers::Pair)
        .capacity(Capacity::bounded(1, 1024))
        .create()
        .expect("create");
    let tx = sender.mailbox("link").open().expect("open");
    let rx = receiver.mailbox("link").open().expect("open");
    assert_eq!(
        rx.try_recv().unwrap_err(),
        RecvError::Empty,
        "takes the receiving end"
    );
    tx.send("fills").expect("send");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| tx.send_timeout("waits", LONG));
        await_blocked_senders(&mine, 1);
        drop(receiver);
        let error = waiting.join().expect("sender").unwrap_err();
        assert_eq!(error.kind(), SendErrorKind::PeerGone);
        assert_eq!(error.into_message(), Some(Message::new("waits")));
    });
    let error = tx.try_send("later").unwrap_err();
    assert_eq!(error.kind(), SendErrorKind::PeerGone);
    assert_eq!(error.into_message(), Some(Message::new("later")));
    drop(rx);
}

/// `set_owner` passes a mailbox on: the new owner receives and administers it, and it now dies
/// with the new owner, not the old; passed to the system, it outlives both.
pub fn set_owner_passes_ownership_on<T: Transport>(t: &T) {
    let first = t.process();
    let second = t.process();
    let observer = t.process();
    let old = first.mailbox("baton").create().expect("create");
    let new = second.mailbox("baton").open().expect("open");
    let watch = observer.mailbox("baton").open().expect("open");
    old.send("handed over").expect("send");
    old.set_owner(Owner::Process(second.pid()))
        .expect("set_owner");
    assert_eq!(
        watch.stat().expect("stat").owner,
        Owner::Process(second.pid())
    );
    assert_eq!(
        old.try_recv().unwrap_err(),
        RecvError::PermissionDenied,
        "no longer the owner"
    );
    assert_eq!(
        new.recv()
            .expect("the new owner receives")
            .payload()
            .as_ref(),
        b"handed over"
    );
    drop(old);
    drop(first);
    watch.send("survives the old owner").expect("send");

    assert_eq!(
        new.set_owner(Owner::Process(Pid::from_raw(u64::MAX))),
        Err(AdminError::NotFound)
    );
    let doomed = t.process();
    let gone = doomed.pid();
    drop(doomed);
    assert_eq!(
        new.set_owner(Owner::Process(gone)),
        Err(AdminError::PeerGone)
    );

    let stats = new.stat().expect("stat");
    let creds = postbox::Credentials::new(stats.uid, stats.gid);
    new.set_owner(Owner::System(creds)).expect("to the system");
    let stats = watch.stat().expect("stat");
    assert_eq!(
        (stats.owner, stats.attrs.ownership),
        (Owner::System(creds), Ownership::System)
    );
    drop(new);
    drop(second);
    assert_eq!(watch.stat().expect("outlives every process").messages, 1);
}

/// Process-owned mailboxes passed to another process die with that process.
pub fn a_passed_mailbox_dies_with_its_new_owner<T: Transport>(t: &T) {
    let first = t.process();
    let second = t.process();
    let observer = t.process();
    let old = first.mailbox("baton").create().expect("create");
    let watch = observer.mailbox("baton").open().expect("open");
    old.set_owner(Owner::Process(second.pid()))
        .expect("set_owner");
    drop(second);
    assert_eq!(watch.stat().unwrap_err(), AdminError::Gone);
    assert_eq!(watch.try_send("x").unwrap_err().kind(), SendErrorKind::Gone);
}

/// Passing an owner-only mailbox on wakes the old owner's waiting receive with
/// `PermissionDenied`: it has lost the right it waited with.
pub fn set_owner_wakes_the_old_owners_receive<T: Transport>(t: &T) {
    let first = t.process();
    let second = t.process();
    let old = first.mailbox("baton").create().expect("create");
    let admin = first.mailbox("baton").open().expect("a second handle");
    std::thread::scope(|s| {
        let waiting = s.spawn(|| old.recv_timeout(LONG));
        await_blocked_receivers(&admin, 1);
        admin
            .set_owner(Owner::Process(second.pid()))
            .expect("set_owner");
        assert_eq!(
            waiting.join().expect("receiver").unwrap_err(),
            RecvError::PermissionDenied
        );
    });
    assert_eq!(admin.stat().expect("stat").blocked_receivers, 0);
}
