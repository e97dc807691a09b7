//! `postbox chat NAME [--room ROOM]`: people talking in a room, built only of postbox's parts.
//!
//! - **The room** is the broadcast mailbox `chat.ROOM` ([`Room`]): every member gets every line.
//!   The first chat to join creates it system-owned (it outlives its creator), mode `0660`,
//!   bounded to 256 lines (1 MiB) per member with drop-oldest, so that a member that stops
//!   reading (suspended, say) loses its own oldest lines instead of stopping the room.
//! - **A chat is one process** registered under NAME (taken: the chat refuses to start). Its
//!   standard input reaches it as line events from a `Reader`, in the same `Select` as the room
//!   and its inbox.
//! - **Joining** announces the member on the room (type 201, payload NAME); each member answers
//!   the newcomer directly (type 202, payload its own name), so both sides learn each other
//!   whichever joined first, and **monitors** it: its down notification is its departure, shown
//!   however it ended — `/quit`, end of input, a lost connection or `kill -9`.
//! - **Lines** are plain payloads of type 1 (the default), so `postbox send chat.lobby TEXT`
//!   speaks in the room and `postbox recv chat.lobby --follow` listens. A direct message is a
//!   type-1 message to the person's inbox. Each line is shown with its *send* time, in the local
//!   time zone, and who sent it: the name its process announced, else its registered name, else
//!   its pid (see [`shown`] for the forms).

mod input;
mod room;
mod roster;
mod session;
mod shown;

pub(crate) use room::Room;
pub(crate) use session::run;
