//! Permissions with a second uid: commands run as uid 65534 through `setpriv` (when the tests run
//! as root; otherwise each test says it is skipped and why). The daemon learns each client's uid
//! from the socket, so nothing here can be faked by the client.

mod support;

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt as _;

use support::{Daemon, can_switch_user};

/// A daemon whose socket every user may reach, with mailbox `name` created by root with `mode`.
fn shared_daemon(name: &str, mode: &str) -> Daemon {
    let daemon = Daemon::start_with(&["--mode", "0666"]);
    daemon.open_directory_to_all();
    daemon.run(&["create", name, "--mode", mode]).code(0);
    daemon
}

#[test]
fn another_user_may_neither_send_nor_receive_without_the_mode_bits_exit_6() {
    if !can_switch_user("another_user_may_neither_send_nor_receive_without_the_mode_bits_exit_6") {
        return;
    }
    let daemon = shared_daemon("private", "0600");
    let send = daemon.run_as_nobody(&["send", "private", "x"]).code(6);
    assert!(send.stderr.contains("permission denied"), "{}", send.stderr);
    daemon
        .run_as_nobody(&["recv", "private", "--nowait"])
        .code(6);
    daemon.run_as_nobody(&["stat", "private"]).code(6);
    let listed = daemon.run_as_nobody(&["ls", "--json"]).code(0).json();
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(0),
        "nobody sees it: {listed}"
    );
}

#[test]
fn write_permission_lets_another_user_send_but_not_receive() {
    if !can_switch_user("write_permission_lets_another_user_send_but_not_receive") {
        return;
    }
    let daemon = shared_daemon("dropbox", "0622");
    daemon
        .run_as_nobody(&["send", "dropbox", "from nobody"])
        .code(0);
    daemon
        .run_as_nobody(&["recv", "dropbox", "--nowait"])
        .code(6);
    let got = daemon.run(&["recv", "dropbox", "--json"]).ok();
    let got: serde_json::Value = serde_json::from_str(got.trim()).unwrap();
    assert_eq!(got["payload"], "from nobody");
}

#[test]
fn only_the_owner_or_root_may_delete_or_change_a_mailbox() {
    if !can_switch_user("only_the_owner_or_root_may_delete_or_change_a_mailbox") {
        return;
    }
    let daemon = shared_daemon("shared", "0666");
    daemon.run_as_nobody(&["rm", "shared"]).code(6);
    daemon
        .run_as_nobody(&["set", "shared", "--mode", "0600"])
        .code(6);
    assert_eq!(daemon.stat("shared")["mode"], 0o666);
    // Passed on to nobody, it is nobody's to change, and to delete.
    daemon
        .run(&["set", "shared", "--owner", "65534:65534"])
        .code(0);
    daemon
        .run_as_nobody(&["set", "shared", "--mode", "0600"])
        .code(0);
    daemon.run_as_nobody(&["rm", "shared"]).code(0);
    daemon.run(&["stat", "shared"]).code(5);
}

#[test]
fn a_mailbox_another_user_creates_belongs_to_that_user() {
    if !can_switch_user("a_mailbox_another_user_creates_belongs_to_that_user") {
        return;
    }
    let daemon = Daemon::start_with(&["--mode", "0666"]);
    daemon.open_directory_to_all();
    daemon.run_as_nobody(&["create", "theirs"]).code(0);
    let stats = daemon.stat("theirs");
    assert_eq!(
        (stats["uid"].as_u64(), stats["gid"].as_u64()),
        (Some(65534), Some(65534))
    );
    let ps = daemon.run_as_nobody(&["ps", "--json"]).code(0).json();
    assert_eq!(ps[0]["uid"], 65534, "the daemon knows who connected: {ps}");
}

#[test]
fn a_socket_with_the_default_mode_keeps_other_users_out_exit_6() {
    if !can_switch_user("a_socket_with_the_default_mode_keeps_other_users_out_exit_6") {
        return;
    }
    let daemon = Daemon::start();
    daemon.open_directory_to_all();
    let out = daemon.run_as_nobody(&["ls"]).code(6);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("permission denied on the daemon's socket"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_socket_directory_closed_to_other_users_keeps_them_out_exit_6() {
    if !can_switch_user("a_socket_directory_closed_to_other_users_keeps_them_out_exit_6") {
        return;
    }
    // The socket's own mode lets everyone in, but its directory does not.
    let daemon = Daemon::start_with(&["--mode", "0666"]);
    std::fs::set_permissions(daemon.dir(), Permissions::from_mode(0o700)).unwrap();
    daemon.run_as_nobody(&["ls"]).code(6);
}

#[test]
fn a_large_payload_crosses_between_users_as_a_sealed_copy_of_its_pooled_slot() {
    // Over unix:// a 1 MiB payload leaves its sender in a slot of the sender's payload pool,
    // which a process of another user must not map (its maker could still write it): the daemon
    // passes it on as a sealed copy instead. A receiver given the slot itself would refuse it
    // and fail.
    if !can_switch_user("a_large_payload_crosses_between_users_as_a_sealed_copy_of_its_pooled_slot")
    {
        return;
    }
    let daemon = Daemon::start_with(&["--mode", "0666"]);
    daemon.open_directory_to_all();
    daemon
        .run(&[
            "create",
            "bulk",
            "--mode",
            "0666",
            "--size",
            "max:2MiB",
            "--max-bytes",
            "4MiB",
        ])
        .code(0);
    let text: String = (0..1 << 20)
        .map(|i: u32| char::from(b'a' + (i % 26) as u8))
        .collect();

    daemon.run_with_input(&["send", "bulk"], &text).code(0);
    let got = daemon.run_as_nobody(&["recv", "bulk"]).code(0);
    assert!(got.stdout.trim_end() == text, "root's payload, whole");

    daemon
        .run_as_nobody_with_input(&["send", "bulk"], &text)
        .code(0);
    let got = daemon.run(&["recv", "bulk"]).code(0);
    assert!(got.stdout.trim_end() == text, "nobody's payload, whole");
}
