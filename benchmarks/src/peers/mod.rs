//! Every mechanism the comparison runs: postbox over each transport, and its peers.
//!
//! A program that runs these mechanisms must dispatch the hidden subcommands they start as
//! children of the running executable: [`postbox::DAEMON_SUBCOMMAND`] (to
//! [`postbox::serve_daemon`]), [`postbox::EXEC_DAEMON_SUBCOMMAND`] (to
//! [`postbox::exec_daemon`]) and the harness's role subcommand.

pub mod buffering;
pub mod crossbeam;
pub mod iceoryx2_ports;
pub mod ipc;
pub mod pipe;
pub mod postbox;
pub mod tcp;
pub mod unix_seqpacket;
pub mod unix_stream;

mod accept;
mod framing;
mod point_to_point;

use crate::mechanism::Mechanism;

/// Every mechanism, in report order: postbox first, then the peers from the simplest.
pub fn all() -> Vec<Box<dyn Mechanism>> {
    let mut mechanisms: Vec<Box<dyn Mechanism>> = Vec::new();
    for postbox in postbox::Postbox::all() {
        mechanisms.push(Box::new(postbox));
    }
    mechanisms.push(Box::new(postbox::PostboxCall));
    mechanisms.push(Box::new(postbox::PostboxNodeLink));
    mechanisms.push(Box::new(pipe::Pipe));
    mechanisms.push(Box::new(unix_stream::UnixStreamSocket));
    mechanisms.push(Box::new(unix_seqpacket::UnixSeqpacket));
    mechanisms.push(Box::new(tcp::TcpLoopback));
    mechanisms.push(Box::new(crossbeam::Crossbeam));
    mechanisms.extend(ipc::mechanisms());
    mechanisms
}
