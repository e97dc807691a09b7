//! Python arguments as library values: payloads, timeouts, selectors and mailbox attributes.
//!
//! Everything a caller passes is checked here and turned into a clear `TypeError` or
//! `ValueError`; nothing user-controlled reaches a panicking path.

use std::time::Duration;

use postbox::{
    Bytes, Capacity, Dispatch, Message, MessageSize, Mode, Order, Overflow, Ownership, Pid,
    Receivers, Selector,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyByteArray, PyString};

/// What a mailbox holds by default: 64 messages, 1 MiB (the library's default).
const DEFAULT_MESSAGES: usize = 64;
/// See [`DEFAULT_MESSAGES`].
const DEFAULT_BYTES: usize = 1 << 20;

/// A payload: `bytes`, `bytearray`, `memoryview` (anything with the buffer protocol) or `str`,
/// which is sent as its UTF-8 encoding.
pub(crate) fn payload(value: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(text.to_cow()?.as_bytes()));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if let Ok(bytes) = value.extract::<PyBackedBytes>() {
        return Ok(Bytes::copy_from_slice(&bytes));
    }
    if let Ok(view) = value.call_method0("tobytes")
        && let Ok(bytes) = view.extract::<PyBackedBytes>()
    {
        return Ok(Bytes::copy_from_slice(&bytes));
    }
    Err(PyTypeError::new_err(format!(
        "a payload is bytes, bytearray, memoryview or str, not {}",
        value.get_type().name()?
    )))
}

/// A message: the payload with its System V type and POSIX priority.
pub(crate) fn message(value: &Bound<'_, PyAny>, mtype: i64, priority: u16) -> PyResult<Message> {
    Ok(Message::new(payload(value)?)
        .with_type(mtype)
        .with_priority(priority))
}

/// A timeout in seconds: `None` waits forever (so does infinity); negative or NaN is an error.
pub(crate) fn timeout(seconds: Option<f64>) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_infinite() && s > 0.0 => Ok(None),
        Some(s) => Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
            PyValueError::new_err(format!(
                "timeout must be a non-negative number of seconds, not {s}"
            ))
        }),
    }
}

/// The selector named by at most one of the receive keywords (`type`, `not_type`,
/// `type_at_most`, `sender`); none means the first message.
pub(crate) fn selector(
    mtype: Option<i64>,
    not_type: Option<i64>,
    type_at_most: Option<i64>,
    sender: Option<u64>,
) -> PyResult<Selector> {
    let chosen = [
        mtype.map(Selector::Type),
        not_type.map(Selector::NotType),
        type_at_most.map(Selector::TypeAtMost),
        sender.map(|pid| Selector::From(Pid::from_raw(pid))),
    ];
    let mut given = chosen.into_iter().flatten();
    match (given.next(), given.next()) {
        (None, _) => Ok(Selector::Any),
        (Some(selector), None) => Ok(selector),
        (Some(_), Some(_)) => Err(PyValueError::new_err(
            "give at most one of type, not_type, type_at_most and sender",
        )),
    }
}

/// Permission bits, at most `0o777` (the library would drop higher bits silently).
pub(crate) fn mode(bits: u32) -> PyResult<Mode> {
    u16::try_from(bits)
        .ok()
        .filter(|bits| *bits <= 0o777)
        .map(Mode::new)
        .ok_or_else(|| PyValueError::new_err(format!("mode must be at most 0o777, not {bits:#o}")))
}

/// A capacity given as a number of messages (0: rendezvous) or `"unbounded"`.
#[derive(FromPyObject)]
pub(crate) enum CapacityArg {
    /// So many messages.
    Messages(i64),
    /// `"unbounded"`.
    Named(String),
}

/// The attributes a mailbox is created with, from the keywords of `create` / `open_or_create`.
pub(crate) struct AttrArgs {
    pub(crate) capacity: Option<CapacityArg>,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) max_size: Option<usize>,
    pub(crate) fixed_size: Option<usize>,
    pub(crate) order: Option<String>,
    pub(crate) overflow: Option<String>,
    pub(crate) ownership: Option<String>,
    pub(crate) receivers: Option<String>,
    pub(crate) mode: Option<u32>,
    /// `create` (fail if it exists) rather than `open_or_create`.
    pub(crate) create_only: bool,
}

/// One of `choices` by its Python spelling, or a `ValueError` listing them.
fn choose<T: Copy>(what: &str, given: &str, choices: &[(&str, T)]) -> PyResult<T> {
    choices
        .iter()
        .find(|(name, _)| *name == given)
        .map(|&(_, value)| value)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            PyValueError::new_err(format!(
                "{what} must be one of {}, not {given:?}",
                names.join(", ")
            ))
        })
}

impl AttrArgs {
    fn capacity(&self) -> PyResult<Capacity> {
        let bytes = self.max_bytes;
        let capacity = match &self.capacity {
            None => Capacity::bounded(DEFAULT_MESSAGES, bytes.unwrap_or(DEFAULT_BYTES)),
            Some(CapacityArg::Messages(0)) => Capacity::Zero,
            Some(CapacityArg::Messages(n)) => match usize::try_from(*n) {
                Ok(messages) => Capacity::bounded(messages, bytes.unwrap_or(DEFAULT_BYTES)),
                Err(_) => {
                    return Err(PyValueError::new_err(format!(
                        "capacity must be 0 (rendezvous), a number of messages or \"unbounded\", not {n}"
                    )));
                }
            },
            Some(CapacityArg::Named(name)) if name == "unbounded" => Capacity::Unbounded,
            Some(CapacityArg::Named(name)) => {
                return Err(PyValueError::new_err(format!(
                    "capacity must be 0 (rendezvous), a number of messages or \"unbounded\", not {name:?}"
                )));
            }
        };
        if bytes.is_some() && !matches!(capacity, Capacity::Bounded { .. }) {
            return Err(PyValueError::new_err(
                "max_bytes applies only to a bounded capacity",
            ));
        }
        Ok(capacity)
    }

    fn size(&self) -> PyResult<Option<MessageSize>> {
        match (self.max_size, self.fixed_size) {
            (Some(_), Some(_)) => Err(PyValueError::new_err(
                "give max_size or fixed_size, not both",
            )),
            (Some(max), None) => Ok(Some(MessageSize::Variable(max))),
            (None, Some(fixed)) => Ok(Some(MessageSize::Fixed(fixed))),
            (None, None) => Ok(None),
        }
    }

    /// Sets every given attribute on `builder`.
    pub(crate) fn apply(
        &self,
        builder: postbox::MailboxBuilder,
    ) -> PyResult<postbox::MailboxBuilder> {
        let mut builder = builder.capacity(self.capacity()?);
        if let Some(size) = self.size()? {
            builder = builder.size(size);
        }
        if let Some(order) = &self.order {
            let fifo = [("fifo", Order::Fifo), ("priority", Order::Priority)];
            builder = builder.order(choose("order", order, &fifo)?);
        }
        if let Some(overflow) = &self.overflow {
            let choices = [
                ("block", Overflow::Block),
                ("drop-oldest", Overflow::DropOldest),
            ];
            builder = builder.overflow(choose("overflow", overflow, &choices)?);
        }
        if let Some(ownership) = &self.ownership {
            let choices = [
                ("process", Ownership::Process),
                ("system", Ownership::System),
            ];
            builder = builder.ownership(choose("ownership", ownership, &choices)?);
        }
        if let Some(receivers) = &self.receivers {
            let choices = [
                ("owner", Receivers::Owner),
                ("exclusive", Receivers::Exclusive),
                ("round-robin", Receivers::Shared(Dispatch::RoundRobin)),
                ("first-waiting", Receivers::Shared(Dispatch::FirstWaiting)),
                ("pair", Receivers::Pair),
                ("broadcast", Receivers::Broadcast),
            ];
            builder = builder.receivers(choose("receivers", receivers, &choices)?);
        }
        if let Some(bits) = self.mode {
            builder = builder.mode(mode(bits)?);
        }
        Ok(builder)
    }
}
