//! A buffer lent by a mailbox or process to write a large payload into in place, so that over
//! `unix://` sending it copies nothing (docs/shm.md).

use bytes::Bytes;
use postbox_core::Message;
use postbox_shm::{PayloadBuffer, PayloadPool, PooledBuffer};

/// A payload buffer to write into, then send: `mailbox.loan(len)`, fill it through `DerefMut`,
/// then `mailbox.send(loan)` (or anything else that takes a message).
///
/// Over `unix://` with attachments, a loan of at least the attachment threshold (64 KiB unless
/// `?shm_from=` says otherwise) is shared memory mapped into this process: a slot of the
/// process's payload pool, recycled once every holder of its last message is done with it
/// (docs/shm.md, "Pooled payloads"), or, when the pool has no slot to give, a memfd of its own
/// that sending seals. Sending passes descriptors, so the payload is written once, by the
/// caller, and never copied — not into the socket, not in the daemon, not in the receiver.
/// Otherwise (a smaller loan, another transport, `?shm=off`) it is an ordinary zeroed buffer,
/// and sending it is an ordinary send.
///
/// The loan's bytes start zeroed either way. A slot is a power of two long, and past the loan's
/// end it may still hold an earlier payload of this process: a receiver of the same user that
/// mapped the slot's file itself, bypassing the library, could read it.
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
    /// A slot of the process's payload pool, sent as the slot and a token.
    Pooled(PooledBuffer),
    /// A memfd to be sealed and sent as its descriptor.
    Shared(PayloadBuffer),
    /// Ordinary memory.
    Heap(Vec<u8>),
}

impl Loan {
    /// A loan of `len` bytes, in shared memory when `attach_from` says the link attaches
    /// payloads of that size (and the kernel gives some), else in ordinary memory; zero unless
    /// `zeroed` is false and a recycled pool slot is lent.
    pub(crate) fn new(len: usize, attach_from: Option<usize>, zeroed: bool) -> Loan {
        let shared = attach_from.filter(|&from| len >= from && len > 0);
        let pool = PayloadPool::shared();
        let pooled = |_| match zeroed {
            true => pool.loan(len),
            false => pool.loan_for_overwrite(len),
        };
        let buffer = shared
            .and_then(pooled)
            .map(Buffer::Pooled)
            .or_else(|| shared.and_then(|_| PayloadBuffer::create(len).ok().map(Buffer::Shared)))
            .unwrap_or_else(|| Buffer::Heap(vec![0; len]));
        Loan { buffer }
    }

    /// Whether sending this loan passes descriptors rather than bytes.
    pub fn is_shared(&self) -> bool {
        !matches!(self.buffer, Buffer::Heap(_))
    }

    /// The payload, no longer writable through the loan (a sealed file's bytes can never change
    /// again; a pooled slot's are not written until every holder is done with them).
    pub fn into_bytes(self) -> Bytes {
        match self.buffer {
            Buffer::Pooled(buffer) => buffer.into_payload().into_bytes(),
            Buffer::Shared(buffer) => buffer.into_bytes(),
            Buffer::Heap(bytes) => Bytes::from(bytes),
        }
    }
}

impl std::ops::Deref for Loan {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.buffer {
            Buffer::Pooled(buffer) => buffer,
            Buffer::Shared(buffer) => buffer,
            Buffer::Heap(bytes) => bytes,
        }
    }
}

impl std::ops::DerefMut for Loan {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.buffer {
            Buffer::Pooled(buffer) => buffer,
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
