//! People chatting in a room, each line shown with who said it: the library's side of `postbox
//! chat NAME --room ROOM`, sharing its rooms (see [`postbox_examples::chat`]).
//!
//! Run: `cargo run --example chat` plays a short scene in one program: alice and bob, two
//! processes of one in-process node, join room `lobby`, say a line each, and print what each is
//! shown; then alice leaves.
//!
//! With a daemon: `cargo run --example chat -- URL NAME ROOM` connects to URL, joins ROOM as
//! NAME, says each line typed and prints what is said, until the end of standard input (Ctrl-D).
//! `postbox chat NAME --room ROOM` against the same daemon joins the same room.
//!
//! On two machines: set up two linked nodes, `a` and `b` (docs/nodes.md, "A three-node cluster
//! with TLS, from scratch"), then on b run `postbox chat dave --room lobby`, and on a
//!
//! ```sh
//! cargo run --example chat -- unix://$XDG_RUNTIME_DIR/postbox.sock alice lobby@b
//! ```
//!
//! The room `lobby@b` is kept by node b; each person's process stays on their own node.

use std::process::ExitCode;
use std::time::Duration;

use postbox::InprocNode;
use postbox::events::Reader;
use postbox_examples::chat::Member;

/// How long the scene waits for more before it takes a member to have seen everything.
const QUIET: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => scene(),
        [url, name, room] => chat(url, name, room),
        _ => {
            // A usage error: exit 2, as the postbox command's.
            eprintln!(
                "usage: chat [URL NAME ROOM], e.g. chat unix:///tmp/a/postbox.sock alice lobby@b"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat: {error}");
            ExitCode::FAILURE
        }
    }
}

/// alice and bob on one in-process node: each says a line, then each prints what it is shown.
fn scene() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let mut alice = Member::join(node.process(), "alice", "lobby")?;
    let mut bob = Member::join(node.process(), "bob", "lobby")?;
    alice.say("hello, bob")?;
    bob.say("hi")?;
    // Alice first: she answers bob's announcement with her name, which bob then learns.
    while let Some(line) = alice.next_shown(QUIET)? {
        println!("alice sees: {line}");
    }
    while let Some(line) = bob.next_shown(QUIET)? {
        println!("bob sees: {line}");
    }
    drop(alice);
    while let Some(line) = bob.next_shown(QUIET)? {
        println!("bob sees: {line}");
    }
    Ok(())
}

/// NAME in ROOM through the daemon at URL, saying the lines of standard input.
fn chat(url: &str, name: &str, room: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut member = Member::join(postbox::connect(url)?, name, room)?;
    // Standard input reaches the member as events from a process of its own, so that one wait
    // covers the room, the inbox and the typing.
    let input = Reader::lines(std::io::stdin()).start(postbox::connect(url)?, member.pid())?;
    eprintln!("in room {room} as {name}; type lines to say them, Ctrl-D leaves");
    member.chat(&input, |line| println!("{line}"))?;
    Ok(())
}
