//! The chat itself: joining the room, then one `Select` over the room, the inbox and the lines
//! typed, until the person leaves.

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::time::SystemTime;

use anyhow::Context as _;
use jiff::tz::TimeZone;
use postbox::events::{Event, Reader};
use postbox::{
    AdminError, Bytes, Capacity, Mailbox, Message, Mode, OpenError, Overflow, Ownership, Pid,
    Process, Received, Receivers, RecvError, Select, Selected, Selector, SendErrorKind, Timestamp,
};

use super::input::{HELP, Input};
use super::room::Room;
use super::roster::{Added, Roster};
use super::shown::Shown;
use crate::args::ChatArgs;
use crate::node::Node;
use crate::output;

/// The message type of a join announcement on the room; its payload is the member's name.
const JOIN: i64 = 201;

/// The message type of a member's answer to a join announcement, sent to the newcomer's inbox;
/// its payload is the member's name.
const HERE: i64 = 202;

/// How many lines a room holds for each member before that member's oldest are dropped.
const ROOM_LINES: usize = 256;

/// How many bytes a room holds for each member before that member's oldest lines are dropped.
const ROOM_BYTES: usize = 1 << 20;

/// Whether the chat goes on after a typed line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flow {
    /// Wait for the next thing to happen.
    Continue,
    /// Leave the room.
    Leave,
}

/// `postbox chat`.
///
/// Registers NAME, joins the room (creating its mailbox if needed) and announces itself, then
/// shows what is said and who comes and goes until `/quit` or the end of standard input (exit
/// 0). The chat says on stderr, once it is a member, `postbox: pid N, in room ROOM (mailbox
/// chat.ROOM) as NAME; ...`.
///
/// # Errors
///
/// Connecting; NAME taken; the room's mailbox that cannot be opened or created, or that is not a
/// broadcast mailbox; standard input that cannot be read; the room deleted (exit 7) or the
/// connection lost while chatting; writing to stdout.
pub(crate) fn run(node: &Node, args: &ChatArgs) -> anyhow::Result<()> {
    let name = args.name.as_str();
    let process = node.connect()?;
    match process.register(name) {
        Ok(()) => {}
        Err(AdminError::AlreadyExists) => anyhow::bail!(
            "cannot chat as {name}: the name is taken (another process on this node is \
             registered as {name}; `postbox ps` shows it); pick another NAME"
        ),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot register this chat as {name:?}"));
        }
    }
    let room = join(&process, &args.room)?;
    let stdin = Reader::lines(io::stdin())
        .start(node.connect()?, process.pid())
        .context("cannot read standard input")?;
    room.send(Message::new(name.to_owned()).with_type(JOIN))
        .with_context(|| format!("cannot announce {name} in room {}", args.room))?;
    output::note(&format!(
        "pid {}, in room {} (mailbox {}) as {name}; /help lists the commands",
        process.pid(),
        args.room,
        room.name()
    ));
    let mut chat = Chat {
        process: &process,
        room: &room,
        room_label: args.room.to_string(),
        roster: Roster::new(process.pid(), name),
        strangers: HashMap::new(),
        zone: TimeZone::system(),
    };
    let mut select = Select::new();
    let from_room = select.recv(&room, Selector::Any);
    select.inbox(&process, Selector::Any);
    loop {
        let Selected { index, message } = select.wait().map_err(|error| {
            let from = match error.branch == from_room {
                true => format!("room {} (mailbox {})", args.room, room.name()),
                false => "this chat's inbox".to_owned(),
            };
            anyhow::Error::new(error.error).context(format!("cannot receive from {from}"))
        })?;
        let flow = if index == from_room {
            chat.on_room(&message)?;
            Flow::Continue
        } else if message.sender == stdin.pid() {
            match Event::from_received(&message) {
                Some(Event::Line(line)) => chat.typed(&line)?,
                Some(Event::Eof(None)) => Flow::Leave,
                Some(Event::Eof(Some(error))) => {
                    anyhow::bail!("cannot read standard input: {error}")
                }
                // A reader posts nothing else.
                _ => Flow::Continue,
            }
        } else {
            chat.on_inbox(&message)?;
            Flow::Continue
        };
        if flow == Flow::Leave {
            break;
        }
    }
    // Leaving is terminating: every member's monitor tells it, as for a chat that was killed.
    drop(stdin);
    Ok(())
}

/// Opens the room's mailbox, creating it if it does not exist, and becomes a member: from the
/// returned moment on, every line said in the room reaches this chat.
///
/// # Errors
///
/// Opening or creating it; a mailbox by that name that is not a broadcast mailbox; the first
/// receive, which makes the member, refused (the mode gives no `r`).
fn join(process: &Process, room: &Room) -> anyhow::Result<Mailbox> {
    let name = room.mailbox();
    let mailbox = process
        .mailbox(&name)
        .receivers(Receivers::Broadcast)
        .ownership(Ownership::System)
        .capacity(Capacity::bounded(ROOM_LINES, ROOM_BYTES))
        .overflow(Overflow::DropOldest)
        .mode(Mode::new(0o660))
        .open_or_create()
        .map_err(|error| {
            let hint = match (&error, name.contains('@')) {
                (OpenError::InvalidName, true) => {
                    " (this daemon links with no other node: NAME@NODE needs node links, see \
                     docs/nodes.md)"
                }
                _ => "",
            };
            anyhow::Error::new(error)
                .context(format!("cannot join room {room} (mailbox {name}){hint}"))
        })?;
    let stats = mailbox
        .stat()
        .with_context(|| format!("cannot look at mailbox {name}"))?;
    if stats.attrs.receivers != Receivers::Broadcast {
        anyhow::bail!(
            "cannot join room {room}: mailbox {name} exists and is not a broadcast mailbox \
             (receivers: {}), so not every member would get every line; pick another room, or \
             delete it with `postbox rm {name}`",
            output::receivers(stats.attrs.receivers)
        );
    }
    // Membership starts at the first receive; an empty backlog is what a new member has.
    match mailbox.try_recv() {
        Ok(_) | Err(RecvError::Empty) => Ok(mailbox),
        Err(error) => {
            Err(error).with_context(|| format!("cannot join room {room} (mailbox {name})"))
        }
    }
}

/// A chat in its room.
struct Chat<'a> {
    /// This chat's process.
    process: &'a Process,
    /// The room's mailbox.
    room: &'a Mailbox,
    /// The room as the person named it, for `/who`.
    room_label: String,
    /// Who is in the room.
    roster: Roster,
    /// The names of senders that are not members (`postbox send --as NAME`), or `None` for those
    /// without one, looked up once each.
    strangers: HashMap<Pid, Option<String>>,
    /// The time zone times are shown in.
    zone: TimeZone,
}

impl Chat<'_> {
    /// Handles a message from the room: a join announcement or a line said.
    fn on_room(&mut self, message: &Received) -> anyhow::Result<()> {
        match message.mtype() {
            JOIN => self.joined(message),
            // Answers to joins go to inboxes; one on the room is noise.
            HERE => Ok(()),
            _ => {
                let who = self.who(message.sender);
                let text = message.payload();
                self.show(&Shown::Said { who: &who, text }, message.sent_at)
            }
        }
    }

    /// Handles a join announcement: a new member is watched, answered and shown.
    fn joined(&mut self, message: &Received) -> anyhow::Result<()> {
        let sender = message.sender;
        if sender == self.process.pid() {
            let me = self.who(sender);
            return self.show(&Shown::Joined(&me), message.sent_at);
        }
        let added = self.roster.add(sender, message.payload());
        if added == Added::Refused {
            return Ok(());
        }
        // Answered even when known (our joins crossed), so that the newcomer surely knows us.
        // Failing is harmless: a newcomer already gone is about to be shown leaving.
        let me = self.who(self.process.pid());
        let _ = self
            .process
            .try_send_to(sender, Message::new(me).with_type(HERE));
        if added == Added::New {
            self.watch(sender)?;
            let who = self.who(sender);
            self.show(&Shown::Joined(&who), message.sent_at)?;
        }
        Ok(())
    }

    /// Handles a message in the inbox (not a typed line): a departure, a member's answer to our
    /// join, or a direct message.
    fn on_inbox(&mut self, message: &Received) -> anyhow::Result<()> {
        let sender = message.sender;
        if message.is_down() {
            return match self.roster.remove(sender) {
                Some(who) => self.show(&Shown::Left(&who), message.sent_at),
                None => Ok(()),
            };
        }
        match message.mtype() {
            HERE => {
                if self.roster.add(sender, message.payload()) == Added::New {
                    self.watch(sender)?;
                    let who = self.who(sender);
                    self.show(&Shown::Here(&who), message.sent_at)?;
                }
                Ok(())
            }
            // Joins count on the room only.
            JOIN => Ok(()),
            _ => {
                let from = self.who(sender);
                let text = message.payload();
                self.show(&Shown::ToYou { from: &from, text }, message.sent_at)?;
                if message.call().is_some() {
                    // Shown, but nobody here answers: the caller hears so instead of waiting.
                    let _ = self.process.fail(
                        message,
                        "postbox chat shows requests but does not answer them",
                    );
                }
                Ok(())
            }
        }
    }

    /// Does what a typed line asks.
    fn typed(&mut self, line: &[u8]) -> anyhow::Result<Flow> {
        match Input::parse(line) {
            Input::Nothing => {}
            Input::Say(text) => match self.room.send(Bytes::copy_from_slice(text)) {
                Ok(_) => {}
                Err(error) => {
                    let kind = error.kind();
                    let what = format!("cannot say that in room {}", self.room_label);
                    if matches!(kind, SendErrorKind::Gone | SendErrorKind::Disconnected) {
                        return Err(anyhow::Error::new(kind).context(what));
                    }
                    output::note(&format!("{what}: {kind}"));
                }
            },
            Input::Msg { peer, text } => self.direct(peer, text)?,
            Input::MsgUsage => output::note("usage: /msg PEER TEXT"),
            Input::Who => {
                let names = self.roster.names();
                let me = self.who(self.process.pid());
                let shown = Shown::Members {
                    room: &self.room_label,
                    names: &names,
                    me: &me,
                };
                self.show(&shown, now())?;
            }
            Input::Quit => return Ok(Flow::Leave),
            Input::Help => output::note(HELP),
            Input::Unknown(command) => output::note(&format!("unknown command {command}; {HELP}")),
        }
        Ok(Flow::Continue)
    }

    /// `/msg PEER TEXT`: sends TEXT to the process registered as PEER (passed to the node as
    /// written, `NAME@NODE` included), and shows it; a peer that cannot be reached is reported,
    /// and the chat goes on.
    fn direct(&mut self, peer: &str, text: &[u8]) -> anyhow::Result<()> {
        let pid = match self.process.whereis(peer) {
            Ok(Some(pid)) => pid,
            Ok(None) => {
                output::note(&format!(
                    "cannot send to {peer}: no process is registered as {peer:?} (/who lists \
                     the room's members)"
                ));
                return Ok(());
            }
            Err(error) => {
                output::note(&format!("cannot send to {peer}: {error}"));
                return Ok(());
            }
        };
        match self.process.try_send_to(pid, Bytes::copy_from_slice(text)) {
            Ok(()) => self.show(&Shown::FromYou { to: peer, text }, now()),
            Err(error) => {
                output::note(&format!("cannot send to {peer}: {}", error.kind()));
                Ok(())
            }
        }
    }

    /// Monitors a new member, so that its departure is shown however it ends.
    fn watch(&self, member: Pid) -> anyhow::Result<()> {
        self.process
            .monitor(member)
            .with_context(|| format!("cannot watch process {member}, a member of the room"))
    }

    /// The name `pid` is shown under: the one it announced in the room, else the one it
    /// registered (looked up once), else `pid N`.
    fn who(&mut self, pid: Pid) -> String {
        if let Some(name) = self.roster.name(pid) {
            return name.to_owned();
        }
        let process = self.process;
        let registered = self.strangers.entry(pid).or_insert_with(|| {
            let processes = process.list_processes().unwrap_or_default();
            processes
                .into_iter()
                .find(|info| info.pid == pid)
                .and_then(|info| info.name)
        });
        match registered {
            Some(name) => name.clone(),
            None => format!("pid {pid}"),
        }
    }

    /// Writes one line at `at` to stdout, at once: a pipe reads the conversation line by line.
    fn show(&self, shown: &Shown<'_>, at: Timestamp) -> anyhow::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", shown.line(at, &self.zone))?;
        out.flush()?;
        Ok(())
    }
}

/// The wall-clock time now, for what this chat shows of its own doing.
fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}
