//! One role's end of a postbox run: a process, the mailbox it sends to, the one it receives from.

use std::io;

use postbox::{Bytes, Mailbox, Message, Process};

/// Where a role sends.
pub(crate) enum SendTo {
    /// Nowhere (a consumer).
    Nothing,
    /// This mailbox.
    Open(Mailbox),
    /// The mailbox of this name, opened on first send (the ponger's `bench.pong`, which the
    /// pinger creates after the ponger is open).
    Later(String),
}

/// A postbox role: the mailboxes are declared before the process, so they close first.
pub(crate) struct MailboxEnd {
    pub(crate) send_to: SendTo,
    pub(crate) recv_from: Option<Mailbox>,
    pub(crate) process: Process,
}

impl crate::mechanism::Endpoint for MailboxEnd {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        if let SendTo::Later(name) = &self.send_to {
            let mailbox = self
                .process
                .mailbox(name)
                .open()
                .map_err(|e| io::Error::other(format!("cannot open mailbox {name}: {e}")))?;
            self.send_to = SendTo::Open(mailbox);
        }
        let SendTo::Open(mailbox) = &self.send_to else {
            return Err(io::Error::other("this end only receives"));
        };
        mailbox
            .send(Message::new(Bytes::copy_from_slice(message)))
            .map(drop)
            .map_err(|e| io::Error::other(format!("send to {}: {e}", mailbox.name())))
    }

    fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let mailbox = self
            .recv_from
            .as_ref()
            .ok_or_else(|| io::Error::other("this end only sends"))?;
        let received = mailbox
            .recv()
            .map_err(|e| io::Error::other(format!("receive from {}: {e}", mailbox.name())))?;
        if received.is_down() {
            return Err(io::Error::other(
                "a down notification arrived instead of a message",
            ));
        }
        // No copy when the payload's buffer is not shared.
        *buf = Vec::from(received.message.payload);
        Ok(())
    }
}
