//! Which room a chat joins, and the mailbox that is that room.

use std::fmt;

use postbox_core::Name;
use postbox_wire::link::NodeName;

/// What every room's mailbox name starts with, so that rooms sit together in `postbox ls` and
/// apart from other mailboxes.
const PREFIX: &str = "chat.";

/// A room: `lobby`, or `lobby@b` for a room kept by node `b`.
///
/// The node part is kept as written and handed to the library inside the mailbox name
/// (`chat.lobby@b`): the chat does not route anything itself, so a room on another node works
/// exactly when the library reaches mailboxes there.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Room {
    /// The room's own name: `lobby`.
    local: String,
    /// The node keeping it, when not the one the chat talks to.
    node: Option<String>,
}

impl Room {
    /// Parses `ROOM` or `ROOM@NODE`: `chat.ROOM` must be a valid mailbox name, and `NODE` a
    /// valid node name.
    ///
    /// # Errors
    ///
    /// The rule broken, as clap shows it (a usage error).
    pub(crate) fn parse(text: &str) -> Result<Room, String> {
        let (local, node) = match text.split_once('@') {
            Some((local, node)) => (local, Some(node)),
            None => (text, None),
        };
        if local.is_empty() {
            return Err(format!("invalid room {text:?}: the room needs a name"));
        }
        Name::new(&format!("{PREFIX}{local}"))
            .map_err(|e| format!("invalid room {text:?}: the mailbox chat.{local}: {e}"))?;
        if let Some(node) = node {
            NodeName::new(node)
                .map_err(|e| format!("invalid room {text:?}: node {node:?}: {e}"))?;
        }
        Ok(Room {
            local: local.to_owned(),
            node: node.map(str::to_owned),
        })
    }

    /// The name of the room's mailbox: `chat.lobby`, or `chat.lobby@b`.
    pub(crate) fn mailbox(&self) -> String {
        match &self.node {
            Some(node) => format!("{PREFIX}{}@{node}", self.local),
            None => format!("{PREFIX}{}", self.local),
        }
    }
}

impl fmt::Display for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "{}@{node}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_is_the_mailbox_chat_dot_room_on_its_node() {
        let lobby = Room::parse("lobby").unwrap();
        assert_eq!(
            (lobby.mailbox(), lobby.to_string()),
            ("chat.lobby".into(), "lobby".into())
        );
        let remote = Room::parse("ops.team@node-b").unwrap();
        assert_eq!(remote.mailbox(), "chat.ops.team@node-b");
        assert_eq!(remote.to_string(), "ops.team@node-b");
    }

    #[test]
    fn rooms_that_make_no_mailbox_name_are_refused() {
        for bad in [
            "",
            "two words",
            "lobby@",
            "lobby@b@c",
            "@b",
            "é",
            &"x".repeat(251),
        ] {
            assert!(Room::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Room::parse(&"x".repeat(250)).is_ok());
    }
}
