//! Selectors: which message a receive takes (System V `msgrcv` typed selection, and by sender).

use crate::Pid;

/// Which message a receive operation takes, scanning the queue in its order.
///
/// A receiver blocked with a selector is woken only by a message that matches it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Selector {
    /// The first message (`msgtyp == 0`).
    Any,
    /// The first message of exactly this type (`msgtyp > 0`).
    Type(i64),
    /// The first message of any other type (`MSG_EXCEPT`).
    NotType(i64),
    /// The message with the lowest type that is at most this one, the first among equals
    /// (`msgtyp < 0`).
    TypeAtMost(i64),
    /// The first message from this sender. If the sender has terminated and none of its messages
    /// remain, the receive fails with `PeerGone` instead of waiting forever.
    From(Pid),
}

impl Selector {
    /// Whether a message of type `mtype` from `sender` can be taken by this selector on its own
    /// (for [`Selector::TypeAtMost`], the choice of the *lowest* type needs the whole queue).
    pub fn matches(self, mtype: i64, sender: Pid) -> bool {
        match self {
            Selector::Any => true,
            Selector::Type(t) => mtype == t,
            Selector::NotType(t) => mtype != t,
            Selector::TypeAtMost(t) => mtype <= t,
            Selector::From(pid) => sender == pid,
        }
    }
}
