//! Selectors as C passes them: which message a receive takes.

use std::ffi::c_int;

use postbox_lib::{Pid, Selector};

use crate::status::{Error, Outcome};

/// The kinds of selector (`postbox_selector.kind`).
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PostboxSelectorKind {
    /// The first message in queue order (System V `msgtyp == 0`).
    Any = 0,
    /// The first message of type `mtype` (`msgtyp > 0`).
    Type = 1,
    /// The first message of any type but `mtype` (`MSG_EXCEPT`).
    NotType = 2,
    /// The message with the lowest type at most `mtype`, first among equals (`msgtyp < 0`).
    TypeAtMost = 3,
    /// The first message from process `pid`; fails with `POSTBOX_STATUS_PEER_GONE` when that process
    /// has terminated and none of its messages remain, instead of waiting forever.
    From = 4,
}

/// Which message a receive takes. Plain data, passed by value: `{POSTBOX_SELECTOR_KIND_ANY, 0, 0}`
/// takes the first message.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxSelector {
    /// A `postbox_selector_kind`.
    pub kind: c_int,
    /// The message type, for `TYPE`, `NOT_TYPE` and `TYPE_AT_MOST`; ignored otherwise.
    pub mtype: i64,
    /// The sending process, for `FROM`; ignored otherwise.
    pub pid: u64,
}

impl PostboxSelector {
    /// The library's selector, or why this one is not valid.
    pub(crate) fn to_selector(self) -> Outcome<Selector> {
        const ANY: c_int = PostboxSelectorKind::Any as c_int;
        const TYPE: c_int = PostboxSelectorKind::Type as c_int;
        const NOT_TYPE: c_int = PostboxSelectorKind::NotType as c_int;
        const TYPE_AT_MOST: c_int = PostboxSelectorKind::TypeAtMost as c_int;
        const FROM: c_int = PostboxSelectorKind::From as c_int;
        Ok(match self.kind {
            ANY => Selector::Any,
            TYPE => Selector::Type(self.mtype),
            NOT_TYPE => Selector::NotType(self.mtype),
            TYPE_AT_MOST => Selector::TypeAtMost(self.mtype),
            FROM => Selector::From(Pid::from_raw(self.pid)),
            other => {
                return Err(Error::invalid(format!(
                    "selector kind {other} is not a postbox_selector_kind"
                )));
            }
        })
    }
}
