//! A session's attached payloads (protocol.md §7.5), both ways: the payloads that arrived beside
//! the byte stream, waiting for the frames that claim them, and the payloads of frames this side
//! queued, waiting for the driver to send them with those frames' first bytes.
//!
//! Stream offsets tie the two together. A payload travels with the write whose bytes begin with
//! its frame, and arrives with the read that covers that frame's first byte; so a frame starting
//! at offset `p` takes the payloads that arrived with reads covering `p`, and a payload that
//! arrived with a read ending at or before a frame's start, and that no earlier frame took, was
//! sent without a frame to claim it.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::{Attached, Attachment, Carrier, MAX_ATTACHMENTS};

/// The smallest payload a session attaches by default (64 KiB): below it, a descriptor, a mapping
/// and their system calls cost more than copying the bytes through the socket.
pub const DEFAULT_ATTACH_FROM: usize = 64 * 1024;

/// Payloads received and not yet claimed beyond which the peer is refused: two frames' worth.
const MAX_WAITING: usize = 2 * MAX_ATTACHMENTS;

/// Payloads that arrived with one read, covering stream bytes `start..end`.
#[derive(Debug)]
struct Arrival {
    start: u64,
    end: u64,
    payloads: VecDeque<Bytes>,
}

/// The payloads of one frame this side queued: the driver sends them with the write whose bytes
/// begin at stream offset `at`, the frame's first byte.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Departure {
    /// The offset of the frame's first byte in the stream this session has queued since it
    /// started (its `Hello` or first answer is at 0).
    pub at: u64,
    /// The payloads, in the frame's attachment order.
    pub payloads: Vec<Bytes>,
}

/// Both directions' bookkeeping. Off until the capability is in force.
#[derive(Debug, Default)]
pub(super) struct Attachments {
    /// The smallest payload this side attaches; `None` while attachments are not in force.
    from: Option<usize>,
    /// Set before they are in force, applied when they are.
    wanted_from: Option<usize>,
    arrived: VecDeque<Arrival>,
    waiting: usize,
    departing: VecDeque<Departure>,
}

impl Attachments {
    /// Attachments are in force from now on (the handshake granted the capability).
    pub(super) fn enable(&mut self) {
        self.from = Some(self.wanted_from.unwrap_or(DEFAULT_ATTACH_FROM));
    }

    /// Attach payloads of at least `from` bytes (at least 1), once attachments are in force.
    pub(super) fn set_from(&mut self, from: usize) {
        let from = from.max(1);
        self.wanted_from = Some(from);
        if self.from.is_some() {
            self.from = Some(from);
        }
    }

    /// The threshold in force, if attachments are.
    pub(super) fn from(&self) -> Option<usize> {
        self.from
    }

    /// Payloads that arrived with the read of stream bytes `start..end`.
    pub(super) fn arrived(
        &mut self,
        start: u64,
        end: u64,
        payloads: Vec<Bytes>,
    ) -> Result<(), String> {
        if payloads.is_empty() {
            return Ok(());
        }
        if self.from.is_none() {
            return Err(format!(
                "{} descriptors arrived on a connection without the attachments capability",
                payloads.len()
            ));
        }
        self.waiting += payloads.len();
        if self.waiting > MAX_WAITING {
            return Err(format!(
                "{} attached payloads wait for frames to claim them; at most {MAX_WAITING} may",
                self.waiting
            ));
        }
        self.arrived.push_back(Arrival {
            start,
            end,
            payloads: payloads.into(),
        });
        Ok(())
    }

    /// Payloads that arrived with the read of the last `read` bytes of a stream received up to
    /// offset `end`.
    pub(super) fn arrived_with_read(
        &mut self,
        end: u64,
        read: usize,
        payloads: Vec<Bytes>,
    ) -> Result<(), String> {
        self.arrived(end.saturating_sub(read as u64), end, payloads)
    }

    /// The operation in `payload` that a frame starting at `at` carries, its attached payloads
    /// filled in from those that arrived with it.
    pub(super) fn fill<T: Carrier>(&mut self, at: u64, payload: &Bytes) -> Result<T, String> {
        let attached = Attached::<T>::decode(payload).map_err(|error| error.to_string())?;
        let mut claimed = self.claim(at, attached.attachments())?.into_iter();
        // `claim` gave exactly one payload per attachment.
        attached.fill(|_| {
            claimed
                .next()
                .ok_or_else(|| "attachments miscounted".to_owned())
        })
    }

    /// Checks, as a frame starting at `at` is read, that no payload waits that an earlier frame
    /// should have claimed.
    pub(super) fn check_unclaimed(&self, at: u64) -> Result<(), String> {
        match self.arrived.front() {
            Some(arrival) if arrival.end <= at => Err(format!(
                "{} attached payloads arrived that no frame claimed",
                arrival.payloads.len()
            )),
            _ => Ok(()),
        }
    }

    /// The payloads the frame starting at `at` claims in `table`, each of the length the table
    /// says.
    pub(super) fn claim(&mut self, at: u64, table: &[Attachment]) -> Result<Vec<Bytes>, String> {
        let mut claimed = Vec::with_capacity(table.len());
        for attachment in table {
            let front = self
                .arrived
                .front_mut()
                .filter(|arrival| arrival.start <= at && at < arrival.end);
            let Some(payload) = front.and_then(|arrival| arrival.payloads.pop_front()) else {
                return Err(format!(
                    "the frame claims {} attached payloads but {} arrived with it",
                    table.len(),
                    claimed.len()
                ));
            };
            self.waiting -= 1;
            if self.arrived.front().is_some_and(|a| a.payloads.is_empty()) {
                self.arrived.pop_front();
            }
            // A pooled slot may be longer than its payload: the frame says how much is.
            let Some(len) = usize::try_from(attachment.len)
                .ok()
                .filter(|&len| len <= payload.len())
            else {
                return Err(format!(
                    "attached payload for message {} is {} bytes; the frame says {}",
                    attachment.message,
                    payload.len(),
                    attachment.len
                ));
            };
            claimed.push(if len == payload.len() {
                payload
            } else {
                payload.slice(..len)
            });
        }
        Ok(claimed)
    }

    /// A frame starting at `at` was queued with `payloads` attached.
    pub(super) fn depart(&mut self, at: u64, payloads: Vec<Bytes>) {
        if !payloads.is_empty() {
            self.departing.push_back(Departure { at, payloads });
        }
    }

    /// The next frame's payloads to send.
    pub(super) fn poll_departure(&mut self) -> Option<Departure> {
        self.departing.pop_front()
    }

    /// Everything waiting is dropped (the connection is over).
    pub(super) fn clear(&mut self) {
        self.arrived.clear();
        self.waiting = 0;
        self.departing.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(lens: &[usize]) -> Vec<Bytes> {
        lens.iter().map(|&len| Bytes::from(vec![1; len])).collect()
    }

    fn table(lens: &[u64]) -> Vec<Attachment> {
        lens.iter()
            .enumerate()
            .map(|(i, &len)| Attachment {
                message: i as u32,
                len,
            })
            .collect()
    }

    fn on() -> Attachments {
        let mut attachments = Attachments::default();
        attachments.enable();
        attachments
    }

    #[test]
    fn a_frame_takes_the_payloads_that_arrived_with_its_first_byte() {
        let mut a = on();
        a.arrived(100, 200, payloads(&[5, 6])).unwrap();
        a.check_unclaimed(150).unwrap();
        let claimed = a.claim(150, &table(&[5, 6])).unwrap();
        assert_eq!(claimed.iter().map(Bytes::len).collect::<Vec<_>>(), [5, 6]);
        a.check_unclaimed(400).unwrap();
    }

    #[test]
    fn missing_extra_and_wrongly_sized_payloads_are_refused() {
        let mut a = on();
        a.arrived(0, 100, payloads(&[5])).unwrap();
        assert!(a.claim(50, &table(&[5, 5])).is_err(), "one missing");

        let mut a = on();
        a.arrived(100, 200, payloads(&[5])).unwrap();
        assert!(
            a.claim(50, &table(&[5])).is_err(),
            "arrived after the frame"
        );

        let mut a = on();
        a.arrived(0, 100, payloads(&[5, 5])).unwrap();
        a.claim(10, &table(&[5])).unwrap();
        assert!(a.check_unclaimed(100).is_err(), "one extra");

        let mut a = on();
        a.arrived(0, 100, payloads(&[5])).unwrap();
        assert!(
            a.claim(10, &table(&[6])).is_err(),
            "shorter than the table says"
        );
    }

    #[test]
    fn a_payload_longer_than_its_claim_is_trimmed_to_it() {
        let mut a = on();
        a.arrived(0, 100, vec![Bytes::from_static(b"pooled slot")])
            .unwrap();
        let claimed = a.claim(10, &table(&[6])).unwrap();
        assert_eq!(claimed, [Bytes::from_static(b"pooled")]);
    }

    #[test]
    fn payloads_without_the_capability_or_beyond_the_bound_are_refused() {
        let mut off = Attachments::default();
        assert!(off.arrived(0, 1, payloads(&[1])).is_err());
        off.arrived(0, 1, Vec::new()).unwrap();

        let mut a = on();
        a.arrived(0, 1, payloads(&[1; MAX_WAITING])).unwrap();
        assert!(a.arrived(1, 2, payloads(&[1])).is_err());
    }

    #[test]
    fn the_threshold_is_the_default_until_set_and_at_least_one() {
        let mut a = Attachments::default();
        assert_eq!(a.from(), None);
        a.set_from(0);
        assert_eq!(a.from(), None, "not in force yet");
        a.enable();
        assert_eq!(a.from(), Some(1));
        assert_eq!(on().from(), Some(DEFAULT_ATTACH_FROM));
    }
}
