//! Permissions by uid and mode bits (System V style: `w` may send, `r` may receive; owner, group
//! and other triplets), and root's bypass. Every case needs processes of several uids, so a
//! transport that cannot impersonate skips them all, saying so.

use postbox::{
    AdminError, Credentials, Dispatch, Mode, OpenError, Ownership, Receivers, RecvError,
    SendErrorKind,
};

use crate::Transport;
use crate::support::{GROUP_MEMBER, LONG, STRANGER, USER, process_as};

/// Processes of [`USER`], [`GROUP_MEMBER`] and [`STRANGER`], or `None` (skipped).
fn three_users<T: Transport>(
    t: &T,
    case: &str,
) -> Option<(postbox::Process, postbox::Process, postbox::Process)> {
    Some((
        process_as(t, USER, case)?,
        process_as(t, GROUP_MEMBER, case)?,
        process_as(t, STRANGER, case)?,
    ))
}

/// A shared, system-owned mailbox of [`USER`] with `mode`.
fn shared_mailbox(owner: &postbox::Process, name: &str, mode: u16) -> postbox::Mailbox {
    owner
        .mailbox(name)
        .ownership(Ownership::System)
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .mode(Mode::new(mode))
        .create()
        .expect("create")
}

/// The mode picks the owner, group or other triplet: `w` lets a process send, `r` receive, and
/// neither denies `open` itself.
pub fn mode_bits_gate_open_send_and_receive<T: Transport>(t: &T) {
    let Some((owner, member, stranger)) =
        three_users(t, "permissions::mode_bits_gate_open_send_and_receive")
    else {
        return;
    };
    let mine = shared_mailbox(&owner, "board", 0o640);
    let stats = mine.stat().expect("stat");
    assert_eq!(
        (stats.uid, stats.gid, stats.mode.bits()),
        (USER.uid, USER.gid, 0o640)
    );

    let group = member.mailbox("board").open().expect("the group may read");
    assert_eq!(
        group.try_send("post").unwrap_err().kind(),
        SendErrorKind::PermissionDenied
    );
    mine.send("notice").expect("the owner may write");
    assert_eq!(
        group.recv().expect("the group may read").payload().as_ref(),
        b"notice"
    );
    assert_eq!(
        stranger.mailbox("board").open().unwrap_err(),
        OpenError::PermissionDenied
    );

    mine.set_mode(Mode::new(0o662)).expect("set_mode");
    let other = stranger
        .mailbox("board")
        .open()
        .expect("others may write now");
    other.send("from outside").expect("send");
    assert_eq!(other.try_recv().unwrap_err(), RecvError::PermissionDenied);
    group.send("member post").expect("the group may write now");
    assert_eq!(
        group.try_recv().expect("and read").payload().as_ref(),
        b"from outside"
    );

    mine.set_mode(Mode::new(0o600)).expect("set_mode");
    let error = other.try_send("revoked").unwrap_err();
    assert_eq!(
        error.kind(),
        SendErrorKind::PermissionDenied,
        "checked on every send"
    );
    assert_eq!(group.try_recv().unwrap_err(), RecvError::PermissionDenied);
    assert_eq!(other.stat().unwrap_err(), AdminError::PermissionDenied);
    assert_eq!(
        mine.try_recv().expect("the owner reads").payload().as_ref(),
        b"member post"
    );
}

/// A process sees in `list_mailboxes` only the mailboxes its uid may use.
pub fn list_shows_only_usable_mailboxes<T: Transport>(t: &T) {
    let Some((owner, member, stranger)) =
        three_users(t, "permissions::list_shows_only_usable_mailboxes")
    else {
        return;
    };
    let _private = shared_mailbox(&owner, "private", 0o600);
    let _team = shared_mailbox(&owner, "team", 0o640);
    let _public = shared_mailbox(&owner, "public", 0o666);
    let names = |p: &postbox::Process| -> Vec<String> {
        p.list_mailboxes()
            .expect("list")
            .into_iter()
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(names(&owner), ["private", "public", "team"]);
    assert_eq!(names(&member), ["public", "team"]);
    assert_eq!(names(&stranger), ["public"]);
}

/// Every process of the owning uid administers a system-owned mailbox; other uids get
/// `PermissionDenied` whatever the mode; root administers anything.
pub fn the_owning_uid_and_root_administer<T: Transport>(t: &T) {
    let case = "permissions::the_owning_uid_and_root_administer";
    let Some((owner, _, stranger)) = three_users(t, case) else {
        return;
    };
    let Some(colleague) = process_as(t, USER, case) else {
        return;
    };
    let Some(root) = process_as(t, Credentials::ROOT, case) else {
        return;
    };
    let _mine = shared_mailbox(&owner, "open-house", 0o666);
    let theirs = stranger.mailbox("open-house").open().expect("open");
    let denied = Err(AdminError::PermissionDenied);
    assert_eq!(theirs.set_mode(Mode::new(0o777)), denied);
    assert_eq!(theirs.delete(), denied);
    let same_uid = colleague.mailbox("open-house").open().expect("open");
    same_uid
        .set_mode(Mode::new(0o660))
        .expect("the owning uid administers");
    assert_eq!(
        theirs.try_send("x").unwrap_err().kind(),
        SendErrorKind::PermissionDenied
    );

    let by_root = root
        .mailbox("open-house")
        .open()
        .expect("root opens anything");
    by_root
        .set_mode(Mode::new(0o600))
        .expect("root administers");
    by_root.delete().expect("root deletes");
    assert_eq!(same_uid.stat().unwrap_err(), AdminError::Gone);
}

/// Root passes every mode check: it opens, sends to and receives from a 0600 mailbox of
/// another uid.
pub fn root_bypasses_mode_bits<T: Transport>(t: &T) {
    let case = "permissions::root_bypasses_mode_bits";
    let Some(owner) = process_as(t, USER, case) else {
        return;
    };
    let Some(root) = process_as(t, Credentials::ROOT, case) else {
        return;
    };
    let _mine = shared_mailbox(&owner, "locked", 0o000);
    let by_root = root.mailbox("locked").open().expect("open");
    by_root.send("root was here").expect("send");
    assert_eq!(
        by_root.recv().expect("recv").payload().as_ref(),
        b"root was here"
    );
}

/// Owner-only receive is about the process, not the mode: with 0666 another uid may open and send
/// to a process-owned mailbox, but not receive; a grant lets it.
pub fn owner_only_receive_ignores_the_mode<T: Transport>(t: &T) {
    let case = "permissions::owner_only_receive_ignores_the_mode";
    let Some((owner, _, stranger)) = three_users(t, case) else {
        return;
    };
    let mine = owner
        .mailbox("inbox-like")
        .mode(Mode::new(0o666))
        .create()
        .expect("create");
    let theirs = stranger.mailbox("inbox-like").open().expect("open");
    theirs.send("hello").expect("send");
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::PermissionDenied);
    mine.grant_receive(stranger.pid()).expect("grant");
    assert_eq!(
        theirs.try_recv().expect("granted").payload().as_ref(),
        b"hello"
    );
}

/// A grant does not override the mode: a grantee whose uid lacks `r` still cannot receive.
pub fn grants_do_not_override_the_mode<T: Transport>(t: &T) {
    let case = "permissions::grants_do_not_override_the_mode";
    let Some((owner, _, stranger)) = three_users(t, case) else {
        return;
    };
    let mine = owner
        .mailbox("write-only")
        .mode(Mode::new(0o622))
        .create()
        .expect("create");
    let theirs = stranger.mailbox("write-only").open().expect("open");
    mine.grant_receive(stranger.pid()).expect("grant");
    mine.send("kept").expect("send");
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::PermissionDenied);
    assert_eq!(
        mine.try_recv().expect("the owner reads").payload().as_ref(),
        b"kept"
    );
}

/// A mode change that takes `r` away wakes the waiting receives it denies with
/// `PermissionDenied`; receivers it still allows keep waiting.
pub fn a_mode_change_wakes_the_receivers_it_denies<T: Transport>(t: &T) {
    let case = "permissions::a_mode_change_wakes_the_receivers_it_denies";
    let Some((owner, member, stranger)) = three_users(t, case) else {
        return;
    };
    let mine = shared_mailbox(&owner, "narrowing", 0o644);
    let group = member.mailbox("narrowing").open().expect("open");
    let other = stranger.mailbox("narrowing").open().expect("open");
    std::thread::scope(|s| {
        let member_waits = s.spawn(|| group.recv_timeout(LONG));
        crate::support::await_blocked_receivers(&mine, 1);
        let stranger_waits = s.spawn(|| other.recv_timeout(LONG));
        crate::support::await_blocked_receivers(&mine, 2);
        mine.set_mode(Mode::new(0o640)).expect("set_mode");
        let denied = stranger_waits.join().expect("stranger");
        assert_eq!(denied.unwrap_err(), RecvError::PermissionDenied);
        assert_eq!(
            mine.stat().expect("stat").blocked_receivers,
            1,
            "the member still waits"
        );
        mine.send("for the group").expect("send");
        let got = member_waits.join().expect("member").expect("recv");
        assert_eq!(got.payload().as_ref(), b"for the group");
    });
}

/// Owner-only receive on a system-owned mailbox is by uid: every process of the owning uid
/// receives; another uid does not, even with `r` in the mode.
pub fn system_owned_owner_receive_is_by_uid<T: Transport>(t: &T) {
    let case = "permissions::system_owned_owner_receive_is_by_uid";
    let Some((owner, _, stranger)) = three_users(t, case) else {
        return;
    };
    let Some(colleague) = process_as(t, USER, case) else {
        return;
    };
    let mine = owner
        .mailbox("team-inbox")
        .ownership(Ownership::System)
        .receivers(Receivers::Owner)
        .mode(Mode::new(0o666))
        .create()
        .expect("create");
    let theirs = stranger.mailbox("team-inbox").open().expect("open");
    let same_uid = colleague.mailbox("team-inbox").open().expect("open");
    theirs.send("for the team").expect("others may send");
    assert_eq!(theirs.try_recv().unwrap_err(), RecvError::PermissionDenied);
    assert_eq!(
        same_uid.try_recv().expect("same uid").payload().as_ref(),
        b"for the team"
    );
    drop(mine);
}

/// `open_or_create` of an existing mailbox the caller may not use fails with
/// `PermissionDenied`: it neither opens nor creates.
pub fn open_or_create_without_permission_is_denied<T: Transport>(t: &T) {
    let case = "permissions::open_or_create_without_permission_is_denied";
    let Some((owner, _, stranger)) = three_users(t, case) else {
        return;
    };
    let mine = shared_mailbox(&owner, "private", 0o600);
    let result = stranger.mailbox("private").open_or_create();
    assert_eq!(result.unwrap_err(), OpenError::PermissionDenied);
    assert_eq!(mine.stat().expect("stat").openers, 1);
}
