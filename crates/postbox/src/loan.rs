//! A buffer lent by a mailbox or process to write a large payload into in place, so that over
//! `unix://` sending it copies nothing (docs/shm.md).

use bytes::Bytes;
use postbox_core::Message;
use postbox_shm::PayloadBuffer;

/// A payload buffer to write into, then send: `mailbox.loan(len)`, fill it through `DerefMut`,
/// then `mailbox.send(loan)` (or anything else that takes a message).
///
/// Over `unix://` with attachments, a loan of at least the attachment threshold (64 KiB unless
/// `?shm_from=` says otherwise) is a memfd mapped into this process: sending seals it and passes
/// its descriptor, so the payload is written once, by the caller, and never copied — not into the
/// socket, not in the daemon, not in the receiver. Otherwise (a smaller loan, another transport,
/// `?shm=off`) it is an ordinary zeroed buffer, and sending it is an ordinary send.
///
/// ```
/// let node = postbox::InprocNode::new();
/// let (a, b) = (node.process(), node.process());
/// let mut loan = a.loan(5);
/// loan.copy_from_slice(b"hello");
/// a.send_to(b.pid(), loan)?;
/// assert_eq!(b.recv_any()?.payload().as_ref(), b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Loan {
    buffer: Buffer,
}

#[derive(Debug)]
enum Buffer {
    /// A memfd to be sealed and sent as its descriptor.
    Shared(PayloadBuffer),
    /// Ordinary memory.
    Heap(Vec<u8>),
}

impl Loan {
    /// A loan of `len` zero bytes, in a memfd when `attach_from` says the link attaches payloads
    /// of that size (and the kernel gives one), else in ordinary memory.
    pub(crate) fn new(len: usize, attach_from: Option<usize>) -> Loan {
        let shared = attach_from
            .filter(|&from| len >= from && len > 0)
            .and_then(|_| PayloadBuffer::create(len).ok());
        Loan {
            buffer: match shared {
                Some(buffer) => Buffer::Shared(buffer),
                None => Buffer::Heap(vec![0; len]),
            },
        }
    }

    /// Whether sending this loan passes a descriptor rather than bytes.
    pub fn is_shared(&self) -> bool {
        matches!(self.buffer, Buffer::Shared(_))
    }

    /// The payload, sealed in place when the loan is shared: its bytes can no longer change.
    pub fn into_bytes(self) -> Bytes {
        match self.buffer {
            Buffer::Shared(buffer) => buffer.into_bytes(),
            Buffer::Heap(bytes) => Bytes::from(bytes),
        }
    }
}

impl std::ops::Deref for Loan {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.buffer {
            Buffer::Shared(buffer) => buffer,
            Buffer::Heap(bytes) => bytes,
        }
    }
}

impl std::ops::DerefMut for Loan {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.buffer {
            Buffer::Shared(buffer) => buffer,
            Buffer::Heap(bytes) => bytes,
        }
    }
}

impl From<Loan> for Message {
    fn from(loan: Loan) -> Message {
        Message::new(loan.into_bytes())
    }
}
