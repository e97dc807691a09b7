//! Who is in the room, as far as this chat knows: everyone whose join announcement or answer to
//! ours reached it, until their down notification does.

use std::collections::HashMap;

use postbox_core::{Name, Pid};

/// The members this chat knows of, by pid, with the names they announced.
#[derive(Debug)]
pub(crate) struct Roster {
    /// This chat's own pid and name.
    me: (Pid, String),
    /// The others.
    others: HashMap<Pid, String>,
}

/// What [`Roster::add`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Added {
    /// A member not known before: watch it, and show it.
    New,
    /// Already known (a join and an answer crossed): nothing to do.
    Known,
    /// Not a member's name (or this chat's own pid): ignored.
    Refused,
}

impl Roster {
    /// A roster holding only this chat, `me` named `name`.
    pub(crate) fn new(me: Pid, name: &str) -> Roster {
        Roster {
            me: (me, name.to_owned()),
            others: HashMap::new(),
        }
    }

    /// Adds `pid` under the name it announced. The announcement comes from another process, so
    /// it must be a name a chat could register (a valid name, `NAME@NODE` allowed for members
    /// on other nodes); anything else is refused, never shown.
    pub(crate) fn add(&mut self, pid: Pid, announced: &[u8]) -> Added {
        let Some(name) = std::str::from_utf8(announced)
            .ok()
            .filter(|name| valid(name))
        else {
            return Added::Refused;
        };
        if pid == self.me.0 {
            return Added::Refused;
        }
        match self.others.insert(pid, name.to_owned()) {
            None => Added::New,
            Some(_) => Added::Known,
        }
    }

    /// Removes `pid`, returning the name it had.
    pub(crate) fn remove(&mut self, pid: Pid) -> Option<String> {
        self.others.remove(&pid)
    }

    /// The name `pid` goes by, if it is this chat or a member.
    pub(crate) fn name(&self, pid: Pid) -> Option<&str> {
        match pid == self.me.0 {
            true => Some(&self.me.1),
            false => self.others.get(&pid).map(String::as_str),
        }
    }

    /// Every member's name, this chat's included, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.others.values().cloned().collect();
        names.push(self.me.1.clone());
        names.sort();
        names
    }
}

/// Whether `name` is a process name, or one with `@NODE` after it.
fn valid(name: &str) -> bool {
    let (local, node) = match name.split_once('@') {
        Some((local, node)) => (local, Some(node)),
        None => (name, None),
    };
    Name::new(local).is_ok()
        && node.is_none_or(|node| postbox_wire::link::NodeName::new(node).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_known_by_pid_until_they_leave() {
        let (me, bob, carol) = (Pid::from_raw(1), Pid::from_raw(2), Pid::from_raw(3));
        let mut roster = Roster::new(me, "alice");
        assert_eq!(roster.add(bob, b"bob"), Added::New);
        assert_eq!(roster.add(bob, b"bob"), Added::Known);
        assert_eq!(roster.add(carol, b"carol@b"), Added::New);
        assert_eq!(roster.names(), ["alice", "bob", "carol@b"]);
        assert_eq!(roster.name(me), Some("alice"));
        assert_eq!(roster.remove(bob).as_deref(), Some("bob"));
        assert_eq!(roster.remove(bob), None);
        assert_eq!(roster.name(bob), None);
        assert_eq!(roster.names(), ["alice", "carol@b"]);
    }

    #[test]
    fn announcements_that_are_not_names_are_refused() {
        let mut roster = Roster::new(Pid::from_raw(1), "alice");
        for bad in [
            &b""[..],
            b"two words",
            b"\x1b[2J",
            b"\xff",
            b"bob@",
            b"a@b@c",
        ] {
            assert_eq!(roster.add(Pid::from_raw(2), bad), Added::Refused, "{bad:?}");
        }
        assert_eq!(roster.add(Pid::from_raw(1), b"mallory"), Added::Refused);
        assert_eq!(roster.names(), ["alice"]);
    }
}
