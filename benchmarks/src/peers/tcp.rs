//! TCP over loopback: one connection with `TCP_NODELAY`, length-prefixed framing.
//!
//! The listening role binds 127.0.0.1 port 0 in its `open` and writes the port the kernel chose
//! to a file under the run's scratch directory before returning; the other role, opened only
//! after that, reads it. No port is ever guessed, so no other program can take it in between.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;

use crate::mechanism::{Case, Endpoint, Mechanism, Prepared, Role};

use super::accept::AcceptOnFirstUse;
use super::framing::Framed;
use super::point_to_point;

/// TCP over the loopback interface with `TCP_NODELAY`.
#[derive(Debug, Default)]
pub struct TcpLoopback;

fn framed(stream: TcpStream, max_len: usize) -> io::Result<Box<dyn Endpoint>> {
    stream.set_nodelay(true)?;
    let reader = stream.try_clone()?;
    Ok(Box::new(Framed::new(Some(reader), Some(stream), max_len)))
}

impl Mechanism for TcpLoopback {
    fn name(&self) -> String {
        "tcp loopback".to_owned()
    }

    fn unsupported(&self, case: &Case) -> Option<String> {
        point_to_point::unsupported(case)
    }

    fn prepare(&self, _case: &Case, scratch: &Path) -> io::Result<Prepared> {
        Ok(Prepared {
            address: scratch.join("tcp.port").display().to_string(),
            guard: Box::new(()),
        })
    }

    fn open(&self, case: &Case, address: &str, role: Role) -> io::Result<Box<dyn Endpoint>> {
        let max_len = case.size;
        if role.listens() {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let port = listener.local_addr()?.port();
            std::fs::write(address, port.to_string())
                .map_err(|e| io::Error::new(e.kind(), format!("cannot write {address}: {e}")))?;
            Ok(Box::new(AcceptOnFirstUse::new(Box::new(move || {
                let (stream, _) = listener.accept()?;
                framed(stream, max_len)
            }))))
        } else {
            let text = std::fs::read_to_string(address)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot read {address}: {e}")))?;
            let port: u16 = text.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{address} holds no port: {text:?}"),
                )
            })?;
            let stream = TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
            framed(stream, max_len)
        }
    }
}
