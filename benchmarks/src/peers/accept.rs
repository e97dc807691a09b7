//! A listening end that accepts its peer on first use, so that its `open` never waits.

use std::io;

use crate::mechanism::Endpoint;

/// What completes a listening end: accepts the peer and builds the connected endpoint.
pub(crate) type Accept = Box<dyn FnOnce() -> io::Result<Box<dyn Endpoint>>>;

/// An endpoint that is bound and listening, and connects on its first send or receive.
pub(crate) struct AcceptOnFirstUse {
    accept: Option<Accept>,
    connected: Option<Box<dyn Endpoint>>,
}

impl AcceptOnFirstUse {
    /// Accepts with `accept` on first use.
    pub(crate) fn new(accept: Accept) -> AcceptOnFirstUse {
        AcceptOnFirstUse {
            accept: Some(accept),
            connected: None,
        }
    }

    fn connected(&mut self) -> io::Result<&mut Box<dyn Endpoint>> {
        if self.connected.is_none() {
            let accept = self
                .accept
                .take()
                .ok_or_else(|| io::Error::other("accepting the peer failed earlier"))?;
            self.connected = Some(accept()?);
        }
        self.connected
            .as_mut()
            .ok_or_else(|| io::Error::other("not connected"))
    }
}

impl Endpoint for AcceptOnFirstUse {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.connected()?.send(message)
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        self.connected()?.recv(buf)
    }
}
