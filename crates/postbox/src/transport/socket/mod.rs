//! The socket transports: a process that is one connection to a daemon (`unix://`, `tcp://`).
//!
//! [`SocketLink`] writes requests and cancels; [`answers`](self::answers) carries the daemon's
//! answers to the requests that wait for them; [`stream`](self::stream) is the connected socket
//! of either kind.

mod answers;
mod link;
mod stream;

pub(crate) use link::SocketLink;
pub(crate) use stream::Endpoint;
