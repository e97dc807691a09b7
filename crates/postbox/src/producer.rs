//! A producer: a sender whose sends to one mailbox arrive exactly once, even when a connection
//! breaks between a send and its answer (see [`Producer`]; docs/semantics.md "Idempotent sends"
//! for the rules, docs/durability.md for what survives a restart).

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use postbox_core::{Delivery, Message, OpenError, ProducerId, SendError, SendErrorKind};
use postbox_wire::{Request, Target};
use thiserror::Error;

use crate::transport::sent;
use crate::wait::Patience;
use crate::{ConnectError, Mailbox, Process, Sent};

/// How a [`Producer`] retries a send whose answer was lost: how many times it reconnects at most,
/// how long it pauses before each attempt (doubling from `first_pause` up to `max_pause`), and
/// how long after the send began it gives up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Retry {
    /// Reconnection attempts per send, at most.
    pub attempts: u32,
    /// The pause before the first attempt.
    pub first_pause: Duration,
    /// The longest pause between attempts.
    pub max_pause: Duration,
    /// How long after a send began no further attempt is made.
    pub within: Duration,
}

impl Default for Retry {
    /// 20 attempts, pausing 10 ms doubling to 1 s, within 30 s: enough to ride out a daemon
    /// restart, short enough that a daemon that is gone for good is reported.
    fn default() -> Retry {
        Retry {
            attempts: 20,
            first_pause: Duration::from_millis(10),
            max_pause: Duration::from_secs(1),
            within: Duration::from_secs(30),
        }
    }
}

/// Why a [`Producer`] could not be made.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
pub enum ProducerError {
    /// The node could not be reached or refused the connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The mailbox could not be opened (it does not exist, or may not be sent to by this user).
    #[error("cannot open mailbox {name:?} to produce to it: {error}")]
    Open {
        /// The mailbox.
        name: String,
        /// Why.
        error: OpenError,
    },
    /// The daemon predates idempotent sends: it would not recognise a retried send. Upgrade the
    /// daemon, or send with a plain [`Mailbox`] (a retry may then duplicate a message).
    #[error(
        "the postbox daemon does not support idempotent sends (it predates them): upgrade it, \
         or send through a plain mailbox handle, whose retries may duplicate messages"
    )]
    Unsupported,
}

/// How to make a [`Producer`]: where, to which mailbox, and optionally with a token, an identity
/// to resume, and a retry policy. Made by [`Producer::builder`].
#[derive(Clone, Debug)]
pub struct ProducerBuilder {
    url: String,
    mailbox: String,
    token: Option<Secret>,
    resume: Option<(ProducerId, u64)>,
    retry: Retry,
}

impl ProducerBuilder {
    /// Presents `token` to a TCP or TLS daemon, as [`connect_with_token`](crate::connect_with_token)
    /// does, on the first connection and every reconnection.
    pub fn token(mut self, token: &[u8]) -> Self {
        self.token = Some(Secret(token.to_vec()));
        self
    }

    /// Resumes producer `id` from its send number `next_seq`, instead of starting as a new
    /// producer with a random id: for a program that restarts and must not resend what it sent
    /// before. It must also keep its numbers going: `next_seq` above every number it used
    /// ([`Producer::next_seq`] as it stopped, saved with the program's own state) — a number
    /// used before would make a new message a duplicate, dropped unseen.
    pub fn resume(mut self, id: ProducerId, next_seq: u64) -> Self {
        self.resume = Some((id, next_seq));
        self
    }

    /// Retries lost answers as `retry` says (default: [`Retry::default`]).
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    /// Connects and opens the mailbox.
    ///
    /// # Errors
    ///
    /// `Connect` when the node cannot be reached or refuses, `Open` when the mailbox cannot be
    /// opened, `Unsupported` when the daemon predates idempotent sends.
    pub fn connect(self) -> Result<Producer, ProducerError> {
        let token = self.token.as_ref().map(|t| t.0.as_slice());
        let (process, mailbox) = open(&self.url, token, &self.mailbox)?;
        let (id, next_seq) = self.resume.unwrap_or_else(|| (random_id(), 1));
        Ok(Producer {
            mailbox,
            process,
            url: self.url,
            token: self.token,
            name: self.mailbox,
            id,
            next_seq,
            retry: self.retry,
            resent: 0,
        })
    }
}

/// A sender whose sends to one mailbox arrive exactly once, even when the connection breaks
/// between a send and its answer — Kafka's idempotent producer.
///
/// Every send carries the producer's id and a number, one higher each send. The mailbox
/// remembers, per producer, the highest number it accepted, and drops a send whose number it has
/// seen (answering it as it answered the first). So when the connection to the daemon breaks
/// before a send's answer arrives (`Disconnected`: the send may or may not have arrived), the
/// producer reconnects — pausing and retrying as its [`Retry`] says — and sends the message again
/// under the same number: the mailbox takes it if the first attempt never arrived, and drops it
/// if it did. Either way it is there exactly once, and the send returns `Ok`.
///
/// - For a durable mailbox the numbers are stored with the messages, so this holds across a
///   daemon restart (even `kill -9`): a send retried after the restart is still recognised.
/// - A mailbox remembers its [`MAX_PRODUCERS_PER_MAILBOX`](postbox_core::MAX_PRODUCERS_PER_MAILBOX)
///   most recently active producers; one idle while that many others sent is forgotten.
/// - The id is random unless [resumed](ProducerBuilder::resume): a restarted program that must
///   not duplicate what it sent before its restart resumes its old id *and* numbering.
/// - A send that fails for a definite reason (`Full`, `Timeout`, `TooLarge`, ...) is not
///   retried and hands its message back, as [`Mailbox::send`] does. A send still unanswered when
///   the retries run out fails `Disconnected` with its message back: it is indeterminate (it may
///   have arrived); send it again with [`Producer::resend`] to keep exactly-once.
///
/// ```
/// use postbox::Producer;
///
/// let owner = postbox::connect("inproc://doc-producer")?;
/// let jobs = owner.mailbox("jobs").create()?;
/// let mut producer = Producer::connect("inproc://doc-producer", "jobs")?;
/// producer.send("job 1")?;
/// producer.send("job 2")?;
/// assert_eq!(producer.next_seq(), 3);
/// assert_eq!(jobs.recv()?.payload().as_ref(), b"job 1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Producer {
    // Dropped before its process.
    mailbox: Mailbox,
    process: Process,
    url: String,
    token: Option<Secret>,
    name: String,
    id: ProducerId,
    next_seq: u64,
    retry: Retry,
    /// Sends sent again over a new connection after their answer was lost.
    resent: u64,
}

impl Producer {
    /// A producer to `mailbox` at `url` (as [`connect`](crate::connect) takes it), with a random id.
    ///
    /// # Errors
    ///
    /// As [`ProducerBuilder::connect`].
    pub fn connect(url: &str, mailbox: &str) -> Result<Producer, ProducerError> {
        Producer::builder(url, mailbox).connect()
    }

    /// How to make a producer to `mailbox` at `url`, with more settings.
    pub fn builder(url: &str, mailbox: &str) -> ProducerBuilder {
        ProducerBuilder {
            url: url.to_owned(),
            mailbox: mailbox.to_owned(),
            token: None,
            resume: None,
            retry: Retry::default(),
        }
    }

    /// The producer's id, to save for [resuming](ProducerBuilder::resume) it.
    pub fn id(&self) -> ProducerId {
        self.id
    }

    /// The number the next send gets, to save for [resuming](ProducerBuilder::resume).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// How many times a send was sent again over a new connection because its answer was lost
    /// (each time, the mailbox either took it or dropped it as a duplicate).
    pub fn resent(&self) -> u64 {
        self.resent
    }

    /// The mailbox handle it sends through (replaced when it reconnects).
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    /// Sends `message`, waiting for room, as [`Mailbox::send`] does — exactly once, retrying
    /// over a new connection when the answer is lost.
    ///
    /// # Errors
    ///
    /// As [`Mailbox::send`], the message handed back; `Disconnected` once the retries ran out
    /// (indeterminate: see [`Producer::resend`]); `Gone` or `PermissionDenied` when, after a
    /// reconnection, the mailbox no longer exists or may no longer be sent to.
    pub fn send(&mut self, message: impl Into<Message>) -> Result<Sent, SendError> {
        let seq = self.take_seq();
        self.send_numbered(message.into(), seq, Patience::Forever)
    }

    /// As [`Producer::send`], failing `Full` at once instead of waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Producer::send`], plus `Full`.
    pub fn try_send(&mut self, message: impl Into<Message>) -> Result<Sent, SendError> {
        let seq = self.take_seq();
        self.send_numbered(message.into(), seq, Patience::None)
    }

    /// As [`Producer::send`], waiting for room at most `timeout` (retries do not extend it).
    ///
    /// # Errors
    ///
    /// As [`Producer::send`], plus `Timeout` (not delivered; the message comes back).
    pub fn send_timeout(
        &mut self,
        message: impl Into<Message>,
        timeout: Duration,
    ) -> Result<Sent, SendError> {
        let patience = Patience::timeout(timeout);
        let seq = self.take_seq();
        self.send_numbered(message.into(), seq, patience)
    }

    /// As [`Producer::send_timeout`], until `deadline`.
    ///
    /// # Errors
    ///
    /// As [`Producer::send_timeout`].
    pub fn send_deadline(
        &mut self,
        message: impl Into<Message>,
        deadline: Instant,
    ) -> Result<Sent, SendError> {
        let seq = self.take_seq();
        self.send_numbered(message.into(), seq, Patience::Until(deadline))
    }

    /// Sends `message` again under the number of the last send (the one before
    /// [`Producer::next_seq`]), which failed `Disconnected` (its retries ran out), or whose
    /// answer a restarted program never saw: it arrives only if that send did not — the way to
    /// keep exactly-once after an indeterminate failure. Any other resend is a mistake: a
    /// message that was not the last send's is dropped as its duplicate if that one arrived.
    ///
    /// # Errors
    ///
    /// As [`Producer::send`].
    pub fn resend(&mut self, message: impl Into<Message>) -> Result<Sent, SendError> {
        let seq = match self.next_seq.checked_sub(1) {
            Some(last) => last,
            None => self.take_seq(),
        };
        self.send_numbered(message.into(), seq, Patience::Forever)
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        seq
    }

    /// Sends `message` as number `seq`: again over a new connection while the answer is lost,
    /// within the retry policy and `patience`'s deadline.
    fn send_numbered(
        &mut self,
        message: Message,
        seq: u64,
        patience: Patience,
    ) -> Result<Sent, SendError> {
        let started = Instant::now();
        let mut give_up = started.checked_add(self.retry.within);
        if let Some(deadline) = patience.deadline() {
            give_up = Some(give_up.map_or(deadline, |g| g.min(deadline)));
        }
        let mut pause = self.retry.first_pause;
        let mut attempts = 0;
        loop {
            let request = Request::ProducerSend {
                target: Target::Mailbox(self.mailbox.id()),
                message: message.clone(),
                delivery: Delivery::Queued,
                wait: patience.wait(),
                producer: self.id,
                seq,
            };
            let answer = self.mailbox.core().call(request, patience.deadline());
            match sent(answer) {
                Ok(receiver) => return Ok(Sent { receiver }),
                Err(error) if error.kind() != SendErrorKind::Disconnected => return Err(error),
                // Lost with the connection: it may or may not have arrived.
                Err(_) => {}
            }
            loop {
                attempts += 1;
                let late = give_up.is_some_and(|g| Instant::now() + pause > g);
                if attempts > self.retry.attempts || late {
                    return Err(SendError::new(SendErrorKind::Disconnected, message));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(self.retry.max_pause);
                match self.reconnect() {
                    Ok(()) => {
                        self.resent += 1;
                        break;
                    }
                    Err(None) => continue,
                    Err(Some(kind)) => return Err(SendError::new(kind, message)),
                }
            }
        }
    }

    /// A new connection and handle in place of the broken ones. `Err(None)`: try again later;
    /// `Err(Some(kind))`: the send fails so.
    fn reconnect(&mut self) -> Result<(), Option<SendErrorKind>> {
        let token = self.token.as_ref().map(|t| t.0.as_slice());
        match open(&self.url, token, &self.name) {
            Ok((process, mailbox)) => {
                // The old handle first, then its process: both on the broken connection.
                self.mailbox = mailbox;
                self.process = process;
                Ok(())
            }
            Err(ProducerError::Connect(_)) => Err(None),
            Err(ProducerError::Open {
                error: OpenError::NotFound,
                ..
            }) => Err(Some(SendErrorKind::Gone)),
            Err(ProducerError::Open {
                error: OpenError::PermissionDenied,
                ..
            }) => Err(Some(SendErrorKind::PermissionDenied)),
            Err(ProducerError::Open { .. }) => Err(None),
            Err(ProducerError::Unsupported) => Err(Some(SendErrorKind::Protocol)),
        }
    }
}

/// A token, kept out of `Debug` output.
#[derive(Clone)]
struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<token>")
    }
}

/// Connects to `url` and opens `name` there, checking that idempotent sends are carried out.
fn open(url: &str, token: Option<&[u8]>, name: &str) -> Result<(Process, Mailbox), ProducerError> {
    let process = match token {
        Some(token) => crate::connect_with_token(url, token)?,
        None => crate::connect(url)?,
    };
    if !process.core.link.idempotent_sends() {
        return Err(ProducerError::Unsupported);
    }
    let mailbox = process
        .mailbox(name)
        .open()
        .map_err(|error| ProducerError::Open {
            name: name.to_owned(),
            error,
        })?;
    Ok((process, mailbox))
}

/// A random producer id: the standard library's per-process random hash keys, over the time and
/// the OS process id, so that two producers (in one program or two) practically never share one.
fn random_id() -> ProducerId {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    ProducerId::from_raw(hasher.finish())
}
