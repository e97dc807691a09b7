//! Unix stream sockets: one connection, length-prefixed framing, default socket buffers.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role};

use super::accept::AcceptOnFirstUse;
use super::framing::Framed;
use super::point_to_point;

/// A Unix stream socket with length-prefixed framing.
#[derive(Debug, Default)]
pub struct UnixStreamSocket;

fn framed(stream: UnixStream, max_len: usize) -> io::Result<Box<dyn Endpoint>> {
    let reader = stream.try_clone()?;
    Ok(Box::new(Framed::new(Some(reader), Some(stream), max_len)))
}

impl Mechanism for UnixStreamSocket {
    fn name(&self) -> String {
        "unix stream".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        point_to_point::unsupported(case)
    }

    fn prepare(&self, _case: &Case, scratch: &Path) -> io::Result<Prepared> {
        Ok(Prepared {
            address: scratch.join("stream.sock").display().to_string(),
            guard: Box::new(()),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let max_len = case.size;
        if role.listens() {
            let listener = UnixListener::bind(address)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {address}: {e}")))?;
            Ok(Box::new(AcceptOnFirstUse::new(Box::new(move || {
                let (stream, _) = listener.accept()?;
                framed(stream, max_len)
            }))))
        } else {
            let stream = UnixStream::connect(address).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot connect to {address}: {e}"))
            })?;
            framed(stream, max_len)
        }
    }
}
