//! `postbox chat`: people at their terminals talking through one daemon — in the room, directly,
//! and coming and going — and the same chat driven through pipes, as a script would.

mod support;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use support::terminal::Screen;
use support::{Background, Daemon};

/// The time zone the chats run in: nine hours east of UTC, as a POSIX `TZ` string. Not the
/// machine's own (UTC, usually), so that a time shown in UTC instead of the local zone fails.
const ZONE: &str = "<+09>-9";

/// The zone's offset from UTC, in seconds.
const OFFSET: u64 = 9 * 3600;

/// `postbox chat ARGS` against `daemon`, in [`ZONE`].
fn chat(daemon: &Daemon, args: &[&str]) -> Command {
    let mut args = args.to_vec();
    args.insert(0, "chat");
    let mut command = daemon.command(&args);
    command.env("TZ", ZONE);
    command
}

/// A chat at a terminal of its own, once it is in the room (its own join shown).
fn at_terminal(daemon: &Daemon, args: &[&str]) -> Screen {
    let mut screen = Screen::spawn(chat(daemon, args));
    screen.wait_for(&format!("] {} joined", args[0]));
    screen
}

/// A chat with its input and output on pipes, and what it has written so far.
struct Piped {
    /// The command.
    chat: Background,
    /// Its stdout so far, by line.
    lines: Vec<String>,
}

impl Piped {
    /// Starts `postbox chat ARGS` on pipes, and waits until it is in the room.
    fn start(daemon: &Daemon, args: &[&str]) -> Piped {
        let mut command = chat(daemon, args);
        command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut piped = Piped {
            chat: Background::spawn(command),
            lines: Vec::new(),
        };
        piped.wait_for(&format!("] {} joined", args[0]));
        piped
    }

    /// Waits until it has written a line holding `text` (within the support's patience for
    /// each line), and returns that line.
    #[track_caller]
    fn wait_for(&mut self, text: &str) -> String {
        if let Some(line) = self.lines.iter().find(|line| line.contains(text)) {
            return line.clone();
        }
        loop {
            let line = self.chat.stdout_line();
            self.lines.push(line.clone());
            if line.contains(text) {
                return line;
            }
        }
    }
}

/// Seconds since the epoch, now.
fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `HH:MM:SS` of `seconds` since the epoch, in [`ZONE`].
fn clock(seconds: u64) -> String {
    let of_day = (seconds + OFFSET) % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The `HH:MM:SS` a shown line starts with, checked to be between `from` and `to` (seconds since
/// the epoch) in [`ZONE`].
#[track_caller]
fn assert_shown_between(line: &str, from: u64, to: u64) {
    let shown = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map(|(time, _)| time)
        .unwrap_or_else(|| panic!("no [HH:MM:SS] in front of {line:?}"));
    let window: Vec<String> = (from..=to).map(clock).collect();
    assert!(
        window.iter().any(|time| time == shown),
        "{line:?} was said between {} and {} ({ZONE})",
        clock(from),
        clock(to)
    );
}

#[test]
fn two_people_at_their_terminals_talk_in_the_room_and_directly() {
    let daemon = Daemon::start();
    let mut alice = at_terminal(&daemon, &["alice"]);
    let mut bob = at_terminal(&daemon, &["bob"]);
    alice.wait_for("] bob joined");
    bob.wait_for("] alice is here");
    // A third member, on pipes, witnesses what reaches everyone.
    let mut carol = Piped::start(&daemon, &["carol"]);
    alice.wait_for("] carol joined");
    bob.wait_for("] carol joined");
    carol.wait_for("] alice is here");
    carol.wait_for("] bob is here");

    // A line goes to every member, with who said it and when (its send time, local time).
    let before = epoch_seconds();
    bob.type_line("hello, alice");
    let line = alice.wait_for("] bob: hello, alice");
    let after = epoch_seconds();
    assert!(line.starts_with('['), "{line:?}");
    assert_shown_between(&line, before, after);
    bob.wait_for("] bob: hello, alice");
    carol.wait_for("] bob: hello, alice");

    // A direct message reaches bob alone, marked as such.
    alice.type_line("/msg bob meet me at noon");
    let direct = bob.wait_for("] alice → you: meet me at noon");
    assert_shown_between(&direct, before, epoch_seconds());
    alice.wait_for("] you → bob: meet me at noon");
    // The room is in order: whatever reached carol before this line was said before it.
    alice.type_line("that was all");
    carol.wait_for("] alice: that was all");
    bob.wait_for("] alice: that was all");
    assert!(
        carol.lines.iter().all(|line| !line.contains("noon")),
        "{:?}",
        carol.lines
    );
    assert!(
        !alice.shown().contains("alice: meet me"),
        "{}",
        alice.shown()
    );

    // /who lists everyone in the room, the asker marked.
    alice.type_line("/who");
    alice.wait_for("] in lobby: alice (you), bob, carol");
    bob.type_line("/who");
    bob.wait_for("] in lobby: alice, bob (you), carol");

    // /quit leaves cleanly, and the others see it.
    bob.type_line("/quit");
    assert_eq!(bob.exit_code(), 0, "{}", bob.shown());
    alice.wait_for("] bob left");
    carol.wait_for("] bob left");
    alice.type_line("/who");
    alice.wait_for("] in lobby: alice (you), carol");
}

#[test]
fn a_member_killed_with_sigkill_is_announced_as_left() {
    let daemon = Daemon::start();
    let mut alice = at_terminal(&daemon, &["alice"]);
    let mut dave = Piped::start(&daemon, &["dave"]);
    alice.wait_for("] dave joined");
    dave.wait_for("] alice is here");
    dave.chat.kill();
    alice.wait_for("] dave left");
    alice.type_line("/who");
    alice.wait_for("] in lobby: alice (you)\n");
}

#[test]
fn a_taken_name_is_refused_with_a_clear_error() {
    let daemon = Daemon::start();
    let mut alice = Piped::start(&daemon, &["alice"]);
    let out = support::run_command(chat(&daemon, &["alice"]), None).code(1);
    assert!(
        out.stderr
            .starts_with("postbox: cannot chat as alice: the name is taken"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("pick another NAME"), "{}", out.stderr);
    // Refused before joining: the room never heard of it.
    let _bob = Piped::start(&daemon, &["bob"]);
    alice.wait_for("] bob joined");
    let joins = alice.lines.iter().filter(|l| l.contains("alice joined"));
    assert_eq!(joins.count(), 1, "{:?}", alice.lines);
}

#[test]
fn mistakes_are_explained_and_the_chat_goes_on() {
    let daemon = Daemon::start();
    let mut alice = at_terminal(&daemon, &["alice"]);
    alice.type_line("/dance");
    alice.wait_for("postbox: unknown command /dance; commands: /who");
    alice.type_line("/msg nobody hello?");
    alice.wait_for("postbox: cannot send to nobody: no process is registered as \"nobody\"");
    // A person on another node is passed on by name: no such process here, said as such.
    alice.type_line("/msg zed@b hello?");
    alice.wait_for("postbox: cannot send to zed@b:");
    alice.type_line("/msg bob");
    alice.wait_for("postbox: usage: /msg PEER TEXT");
    alice.type_line("//who is there");
    alice.wait_for("] alice: /who is there");
    alice.type_line("/help");
    alice.wait_for("postbox: commands: /who lists the members");
    // Ctrl-D at a terminal leaves, as /quit does.
    alice.type_end_of_input();
    assert_eq!(alice.exit_code(), 0, "{}", alice.shown());
}

#[test]
fn piped_lines_are_said_in_order_and_the_end_of_input_leaves() {
    let daemon = Daemon::start();
    let mut alice = Piped::start(&daemon, &["alice"]);
    let mut script = Piped::start(&daemon, &["script", "--room", "lobby"]);
    alice.wait_for("] script joined");
    script.wait_for("] alice is here");
    script.chat.write_stdin("one\ntwo\n/who\nthree\n");
    script.chat.close_stdin();
    script.wait_for("] in lobby: alice, script (you)");
    script.chat.finish().code(0);
    alice.wait_for("] script left");
    let said: Vec<&String> = alice
        .lines
        .iter()
        .filter(|line| line.contains("] script: "))
        .collect();
    assert_eq!(said.len(), 3, "{:?}", alice.lines);
    for (line, text) in said.iter().zip(["one", "two", "three"]) {
        assert!(line.ends_with(&format!("] script: {text}")), "{line:?}");
    }
}

#[test]
fn rooms_are_apart_and_plain_sends_and_receives_reach_them() {
    let daemon = Daemon::start();
    let mut alice = Piped::start(&daemon, &["alice", "--room", "ops"]);
    let _bob = Piped::start(&daemon, &["bob"]);
    // The room is a broadcast mailbox anyone may use: `send` speaks in it, under the name its
    // process registered while that process runs, else as a pid.
    let mut bot = daemon.spawn(&["send", "chat.ops", "--lines", "--as", "bot"]);
    bot.write_stdin("beep\n");
    alice.wait_for("] bot: beep");
    bot.close_stdin();
    bot.finish().code(0);
    daemon.run(&["send", "chat.ops", "deploy done"]).code(0);
    let line = alice.wait_for("deploy done");
    assert!(
        line.contains("] pid ") && line.ends_with(": deploy done"),
        "{line:?}"
    );
    // `send --to` is a direct message.
    daemon.run(&["send", "--to", "alice", "psst"]).code(0);
    alice.wait_for(" → you: psst");
    // `recv` listens.
    let listener = daemon.spawn(&["recv", "chat.ops", "--follow", "--as", "listener"]);
    daemon.wait_until_waiting(listener.announced_pid());
    alice.chat.write_stdin("anyone there?\n");
    assert_eq!(listener.stdout_line(), "anyone there?");
    assert!(
        alice.lines.iter().all(|line| !line.contains("bob")),
        "{:?}",
        alice.lines
    );
    let stat = daemon.stat("chat.ops");
    assert_eq!(stat["attrs"]["receivers"], "Broadcast", "{stat}");
    assert_eq!(stat["attrs"]["overflow"], "DropOldest", "{stat}");
    assert_eq!(
        stat["attrs"]["capacity"]["Bounded"]["messages"], 256,
        "{stat}"
    );
    assert_eq!(stat["mode"], 0o660, "{stat}");
    assert!(
        stat["owner"].get("System").is_some(),
        "system-owned: {stat}"
    );
}

#[test]
fn a_deleted_room_ends_the_chat_with_exit_7() {
    let daemon = Daemon::start();
    let mut alice = at_terminal(&daemon, &["alice"]);
    daemon.run(&["rm", "chat.lobby"]).code(0);
    alice.wait_for("postbox: cannot receive from room lobby (mailbox chat.lobby): ");
    assert_eq!(alice.exit_code(), 7, "{}", alice.shown());
}

#[test]
fn a_mailbox_that_is_not_a_broadcast_one_is_not_a_room() {
    let daemon = Daemon::start();
    daemon.run(&["create", "chat.lobby"]).code(0);
    let out = support::run_command(chat(&daemon, &["alice"]), None).code(1);
    assert!(
        out.stderr
            .contains("mailbox chat.lobby exists and is not a broadcast mailbox"),
        "{}",
        out.stderr
    );
    // A broadcast mailbox made beforehand is a room, with the attributes it was made with.
    let made = [
        "create",
        "chat.small",
        "--receivers",
        "broadcast",
        "--capacity",
        "8",
    ];
    daemon.run(&made).code(0);
    let mut alice = Piped::start(&daemon, &["alice", "--room", "small"]);
    alice.chat.write_stdin("/who\n");
    alice.wait_for("] in small: alice (you)");
    let stat = daemon.stat("chat.small");
    assert_eq!(
        stat["attrs"]["capacity"]["Bounded"]["messages"], 8,
        "{stat}"
    );
}

#[test]
fn a_room_on_another_node_is_passed_to_the_node_as_written() {
    let daemon = Daemon::start();
    let out = support::run_command(chat(&daemon, &["alice", "--room", "lobby@b"]), None);
    // Whatever the node answers is reported about the mailbox chat.lobby@b, never another one.
    assert!(
        out.stderr.contains("room lobby@b (mailbox chat.lobby@b)"),
        "{}",
        out.stderr
    );
    for bad in ["two words", "lobby@", "lobby@b@c"] {
        let out = support::run_command(chat(&daemon, &["alice", "--room", bad]), None).code(2);
        assert!(
            out.stderr.contains("invalid room"),
            "{bad:?}: {}",
            out.stderr
        );
    }
}
