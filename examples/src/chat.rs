//! A chat room built of postbox's parts: a [`Member`] says lines to the room and is shown, as
//! `NAME: text`, what everyone says, and who comes and goes.
//!
//! It speaks the same protocol as `postbox chat NAME --room ROOM`, so both can share a room:
//!
//! - **The room** `ROOM` (or `ROOM@NODE`, kept by another node) is the broadcast mailbox
//!   `chat.ROOM`: every member gets every line. Whoever joins first creates it system-owned (it
//!   outlives its creator), mode `0660`, holding 256 lines (1 MiB) per member and dropping a
//!   member's oldest when full, so that a member who stops reading cannot stop the room.
//!   Membership starts at a member's first receive: nobody is shown what was said before.
//! - **Names** travel in messages, since a pid is all the room tells: a newcomer announces its
//!   name on the room (type 201), and each member answers it directly (type 202, to its inbox),
//!   so both sides learn each other whichever joined first.
//! - **Departures** are down notifications: each member monitors every member it learns of, so
//!   it is told however the other ended — dropped, killed, or its connection or node lost.
//! - **Lines** are plain payloads of type 1, so `postbox send chat.lobby TEXT` speaks in the
//!   room too.
//!
//! ```
//! use std::time::Duration;
//! use postbox::InprocNode;
//! use postbox_examples::chat::Member;
//!
//! let node = InprocNode::new();
//! let mut alice = Member::join(node.process(), "alice", "lobby")?;
//! let bob = Member::join(node.process(), "bob", "lobby")?;
//! bob.say("hi")?;
//! let wait = Duration::from_secs(5);
//! assert_eq!(alice.next_shown(wait)?.as_deref(), Some("* bob joined"));
//! assert_eq!(alice.next_shown(wait)?.as_deref(), Some("bob: hi"));
//! drop(bob); // leaving is ending the member's process
//! assert_eq!(alice.next_shown(wait)?.as_deref(), Some("* bob left"));
//!
//! // A name is a registered name, so it is taken while its member is in a room of the node.
//! let taken = Member::join(node.process(), "alice", "lobby").unwrap_err();
//! assert_eq!(taken.to_string(), "cannot chat as alice: the name is taken on this node");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::time::{Duration, Instant};

use postbox::events::{Event, EventSource};
use postbox::{
    AdminError, Bytes, Capacity, Mailbox, Message, Mode, Overflow, Ownership, Pid, Process,
    Receivers, RecvError, Select, SelectError, Selected, Selector,
};

/// The message type of a join announcement on the room; its payload is the member's name.
const JOIN: i64 = 201;

/// The message type of a member's answer to a join, sent to the newcomer's inbox; its payload
/// is the member's name.
const HERE: i64 = 202;

/// How many lines a room holds for each member before that member's oldest are dropped.
const ROOM_LINES: usize = 256;

/// How many bytes a room holds for each member before that member's oldest are dropped.
const ROOM_BYTES: usize = 1 << 20;

/// One person in one room.
///
/// Leaving is dropping it: its process ends, and every member's monitor tells it so.
#[derive(Debug)]
pub struct Member {
    /// The room's mailbox; declared before `process` so that it is closed first.
    room: Mailbox,
    /// This member's process, registered under its name.
    process: Process,
    /// The name it registered and announced.
    name: String,
    /// The room as given to [`Member::join`], for errors.
    room_label: String,
    /// The other members it knows of, by pid, with the names they announced.
    others: HashMap<Pid, String>,
    /// One wait over the inbox and the room, the inbox first: a member's answer to our join
    /// (its name) is taken before a line it said after answering, which is then shown with that
    /// name.
    select: Select,
    /// The room's branch in `select`.
    from_room: usize,
}

impl Member {
    /// Registers `process` as `name`, joins `room` (`lobby`, or `lobby@b` for a room kept by node
    /// `b`), creating its mailbox `chat.ROOM` if needed, and announces `name` there.
    ///
    /// From its return on, every line said in the room reaches this member.
    ///
    /// # Errors
    ///
    /// `name` taken on the node (or not a valid name); the room's mailbox that cannot be opened
    /// or created (an invalid room, a node not linked with this one, no rights), or that exists
    /// and is not a broadcast mailbox; the first receive, which makes the member, refused; the
    /// announcement refused.
    pub fn join(process: Process, name: &str, room: &str) -> Result<Member, ChatError> {
        match process.register(name) {
            Ok(()) => {}
            Err(AdminError::AlreadyExists) => {
                return Err(ChatError::plain(format!(
                    "cannot chat as {name}: the name is taken on this node"
                )));
            }
            Err(error) => return Err(ChatError::new(format!("cannot chat as {name}"), error)),
        }
        let mailbox = format!("chat.{room}");
        let joining = || format!("cannot join room {room} (mailbox {mailbox})");
        let opened = process
            .mailbox(&mailbox)
            .receivers(Receivers::Broadcast)
            .ownership(Ownership::System)
            .capacity(Capacity::bounded(ROOM_LINES, ROOM_BYTES))
            .overflow(Overflow::DropOldest)
            .mode(Mode::new(0o660))
            .open_or_create()
            .map_err(|error| ChatError::new(joining(), error))?;
        let stats = opened
            .stat()
            .map_err(|error| ChatError::new(joining(), error))?;
        if stats.attrs.receivers != Receivers::Broadcast {
            return Err(ChatError::plain(format!(
                "{}: it is not a broadcast mailbox",
                joining()
            )));
        }
        // Membership starts at the first receive; an empty backlog is what a new member has.
        match opened.try_recv() {
            Ok(_) | Err(RecvError::Empty) => {}
            Err(error) => return Err(ChatError::new(joining(), error)),
        }
        opened
            .send(Message::new(name.to_owned()).with_type(JOIN))
            .map_err(|error| {
                ChatError::new(
                    format!("cannot announce {name} in room {room}"),
                    error.kind(),
                )
            })?;
        let mut select = Select::new();
        select.inbox(&process, Selector::Any);
        let from_room = select.recv(&opened, Selector::Any);
        Ok(Member {
            room: opened,
            process,
            name: name.to_owned(),
            room_label: room.to_owned(),
            others: HashMap::new(),
            select,
            from_room,
        })
    }

    /// This member's pid: where an [`EventSource`] for [`Member::chat`] posts.
    pub fn pid(&self) -> Pid {
        self.process.pid()
    }

    /// Says `line` to the room: every member, this one too, is shown it.
    ///
    /// # Errors
    ///
    /// The room deleted, or the connection lost.
    pub fn say(&self, line: impl AsRef<[u8]>) -> Result<(), ChatError> {
        self.room
            .send(Bytes::copy_from_slice(line.as_ref()))
            .map(drop)
            .map_err(|error| {
                ChatError::new(
                    format!("cannot say that in room {}", self.room_label),
                    error.kind(),
                )
            })
    }

    /// Waits at most `timeout` for the next line to show, and returns it: `NAME: text` for a
    /// line said (a sender whose name is not known yet shown as `pid N`), `* NAME joined`,
    /// `* NAME is here` (an answer to this member's join), `* NAME left`, `NAME → you: text`
    /// for a message sent to this member alone. `None` once `timeout` has passed.
    ///
    /// Messages that show nothing (this member's own announcement, repeated answers) are
    /// taken and the wait goes on.
    ///
    /// # Errors
    ///
    /// The room deleted, the connection lost, or a newcomer that cannot be monitored.
    pub fn next_shown(&mut self, timeout: Duration) -> Result<Option<String>, ChatError> {
        let deadline = Instant::now() + timeout;
        loop {
            let selected = match self.select.wait_deadline(deadline) {
                Ok(selected) => selected,
                Err(SelectError {
                    error: RecvError::Timeout,
                    ..
                }) => return Ok(None),
                Err(error) => return Err(self.receive_error(error)),
            };
            if let Some(shown) = self.shown(&selected)? {
                return Ok(Some(shown));
            }
        }
    }

    /// Chats until `input` ends: each line it posts (a [`Reader`](postbox::events::Reader)
    /// started with [`Member::pid`] as its destination) is said, blank ones skipped, and each
    /// line to show is handed to `show`. One wait covers the room, the inbox and the input.
    ///
    /// # Errors
    ///
    /// As [`Member::say`] and [`Member::next_shown`], and a read error of `input`.
    pub fn chat(
        &mut self,
        input: &EventSource,
        mut show: impl FnMut(&str),
    ) -> Result<(), ChatError> {
        loop {
            let selected = self
                .select
                .wait()
                .map_err(|error| self.receive_error(error))?;
            if selected.index != self.from_room && selected.message.sender == input.pid() {
                match Event::from_received(&selected.message) {
                    Some(Event::Line(line)) if !line.iter().all(u8::is_ascii_whitespace) => {
                        self.say(line)?;
                    }
                    Some(Event::Eof(None)) => return Ok(()),
                    Some(Event::Eof(Some(error))) => {
                        return Err(ChatError::new("cannot read the lines to say", error));
                    }
                    // Blank lines, and nothing else a reader posts.
                    _ => {}
                }
                continue;
            }
            if let Some(shown) = self.shown(&selected)? {
                show(&shown);
            }
        }
    }

    /// What a message from the room or the inbox shows, after doing what it asks: a join is
    /// answered and its member monitored, an answer's member monitored, a departure forgotten.
    fn shown(&mut self, selected: &Selected) -> Result<Option<String>, ChatError> {
        let message = &selected.message;
        let sender = message.sender;
        if message.is_down() {
            return Ok(self
                .others
                .remove(&sender)
                .map(|name| format!("* {name} left")));
        }
        let on_room = selected.index == self.from_room;
        let mine = sender == self.process.pid();
        match message.mtype() {
            // Joins count on the room, answers in the inbox; our own announcement comes back
            // from the room, and we are no newcomer to ourselves.
            JOIN | HERE if mine => Ok(None),
            JOIN if on_room => {
                // Answered even when known (our joins crossed), so that the newcomer surely
                // knows us. A newcomer already gone is about to be shown leaving, and one whose
                // inbox is full must not stop the room: neither failure matters.
                let _ = self
                    .process
                    .try_send_to(sender, Message::new(self.name.clone()).with_type(HERE));
                Ok(self
                    .learn(sender, message.payload())?
                    .map(|name| format!("* {name} joined")))
            }
            HERE if !on_room => Ok(self
                .learn(sender, message.payload())?
                .map(|name| format!("* {name} is here"))),
            JOIN | HERE => Ok(None),
            _ => {
                let who = self.who(sender);
                let text = printable(message.payload());
                Ok(Some(match on_room {
                    true => format!("{who}: {text}"),
                    false => format!("{who} → you: {text}"),
                }))
            }
        }
    }

    /// Learns that `pid` is named `announced` and monitors it; returns the name when it was not
    /// known before. An empty name teaches nothing.
    fn learn(&mut self, pid: Pid, announced: &[u8]) -> Result<Option<String>, ChatError> {
        let name = printable(announced);
        if name.is_empty() || self.others.contains_key(&pid) {
            return Ok(None);
        }
        self.process.monitor(pid).map_err(|error| {
            ChatError::new(
                format!("cannot watch {name} (pid {pid}), a new member"),
                error,
            )
        })?;
        self.others.insert(pid, name.clone());
        Ok(Some(name))
    }

    /// The name `pid` is shown under: this member's, one announced, else `pid N`.
    fn who(&self, pid: Pid) -> String {
        match (pid == self.process.pid(), self.others.get(&pid)) {
            (true, _) => self.name.clone(),
            (false, Some(name)) => name.clone(),
            (false, None) => format!("pid {pid}"),
        }
    }

    /// The error of a wait, naming the branch that failed.
    fn receive_error(&self, error: SelectError) -> ChatError {
        let from = match error.branch == self.from_room {
            true => format!("room {} (mailbox {})", self.room_label, self.room.name()),
            false => format!("the inbox of {}", self.name),
        };
        ChatError::new(format!("cannot receive from {from}"), error.error)
    }
}

/// Why a member could not join, say or wait: what it was doing, and why.
#[derive(Debug)]
pub struct ChatError {
    /// What it was doing: `cannot join room lobby (mailbox chat.lobby)`.
    doing: String,
    /// The library's error, when it gave one.
    cause: Option<Box<dyn Error + Send + Sync>>,
}

impl ChatError {
    /// An error while `doing`, because of `cause`.
    fn new(doing: impl Into<String>, cause: impl Into<Box<dyn Error + Send + Sync>>) -> ChatError {
        ChatError {
            doing: doing.into(),
            cause: Some(cause.into()),
        }
    }

    /// An error that `doing` says all of.
    fn plain(doing: String) -> ChatError {
        ChatError { doing, cause: None }
    }
}

impl fmt::Display for ChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.doing),
            None => f.write_str(&self.doing),
        }
    }
}

// The cause is part of the message, so it is not also a `source`.
impl Error for ChatError {}

/// `bytes` from another process as text fit for a terminal: invalid UTF-8 and control
/// characters (escape, carriage return, ...) shown as `�`, so that nobody can move the cursor or
/// clear the screen of the people they talk to.
fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c.is_control() && c != '\t' {
            true => char::REPLACEMENT_CHARACTER,
            false => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use postbox::InprocNode;

    use super::*;

    /// How long a test waits for something that is already on its way.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// The next `count` lines `member` is shown, each within [`PATIENCE`].
    fn shown(member: &mut Member, count: usize) -> Vec<String> {
        (0..count)
            .map(|i| match member.next_shown(PATIENCE) {
                Ok(Some(line)) => line,
                other => panic!("line {i} of {}: {other:?}", member.name),
            })
            .collect()
    }

    #[test]
    fn members_learn_each_others_names_whoever_joined_first_and_see_them_leave() {
        let node = InprocNode::new();
        let mut alice = Member::join(node.process(), "alice", "lobby").unwrap();
        let mut bob = Member::join(node.process(), "bob", "lobby").unwrap();
        alice.say("hello, bob").unwrap();
        bob.say("hi").unwrap();
        // Alice learns bob's name from his announcement, and answers it with hers.
        assert_eq!(
            shown(&mut alice, 3),
            ["* bob joined", "alice: hello, bob", "bob: hi"]
        );
        // Bob, who joined second, learns alice's name from her answer.
        assert_eq!(
            shown(&mut bob, 3),
            ["* alice is here", "alice: hello, bob", "bob: hi"]
        );
        drop(alice);
        assert_eq!(shown(&mut bob, 1), ["* alice left"]);
        assert_eq!(bob.next_shown(Duration::ZERO).unwrap(), None);
    }

    #[test]
    fn a_line_from_someone_unknown_shows_the_pid_and_one_to_a_member_alone_says_so() {
        let node = InprocNode::new();
        let mut alice = Member::join(node.process(), "alice", "lobby").unwrap();
        let stranger = node.process();
        let room = stranger.mailbox("chat.lobby").open().unwrap();
        room.send("\x1b[2Jboo").unwrap();
        stranger.send_to(alice.pid(), "psst").unwrap();
        let pid = stranger.pid();
        let mut lines = shown(&mut alice, 2);
        lines.sort();
        assert_eq!(
            lines,
            [
                format!("pid {pid} → you: psst"),
                format!("pid {pid}: �[2Jboo")
            ]
        );
    }

    #[test]
    fn a_taken_name_or_a_room_that_is_no_broadcast_mailbox_is_refused_saying_so() {
        let node = InprocNode::new();
        let _alice = Member::join(node.process(), "alice", "lobby").unwrap();
        let taken = Member::join(node.process(), "alice", "lobby").unwrap_err();
        assert_eq!(
            taken.to_string(),
            "cannot chat as alice: the name is taken on this node"
        );
        let other = node.process();
        let _queue = other
            .mailbox("chat.queue")
            .ownership(Ownership::System)
            .mode(Mode::new(0o660))
            .create()
            .unwrap();
        let refused = Member::join(node.process(), "bob", "queue").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "cannot join room queue (mailbox chat.queue): it is not a broadcast mailbox"
        );
    }
}
