//! Operation payloads: every request and response survives a round trip, and no input — random,
//! truncated or mutated — makes the decoders panic.

use postbox_core::{
    Branch, Capacity, Delivery, MailboxAttrs, MailboxId, Message, MessageSize, Mode, Pid, Selector,
    Source, Wait,
};
use postbox_wire::{Request, Response, Target, decode_request, decode_response, encode_request};
use proptest::prelude::*;

fn selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        Just(Selector::Any),
        any::<i64>().prop_map(Selector::Type),
        any::<i64>().prop_map(Selector::NotType),
        any::<i64>().prop_map(Selector::TypeAtMost),
        any::<u64>().prop_map(|p| Selector::From(Pid::from_raw(p))),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<i64>(),
        any::<u16>(),
    )
        .prop_map(|(payload, mtype, priority)| {
            Message::new(payload)
                .with_type(mtype)
                .with_priority(priority)
        })
}

fn request() -> impl Strategy<Value = Request> {
    let wait = prop_oneof![Just(Wait::Try), Just(Wait::Block)];
    let branch = (any::<bool>(), any::<u64>(), selector()).prop_map(|(inbox, id, selector)| {
        let source = if inbox {
            Source::Inbox
        } else {
            Source::Mailbox(MailboxId::from_raw(id))
        };
        Branch::new(source, selector)
    });
    let attrs =
        (any::<u16>(), 1..100usize, any::<bool>()).prop_map(|(mode, n, fixed)| MailboxAttrs {
            capacity: Capacity::bounded(n, n * 10),
            size: if fixed {
                MessageSize::Fixed(n)
            } else {
                MessageSize::Variable(n)
            },
            mode: Mode::new(mode),
            ..MailboxAttrs::system_owned()
        });
    prop_oneof![
        (any::<u64>(), message(), any::<bool>(), wait.clone()).prop_map(
            |(id, message, receipt, wait)| {
                let delivery = if receipt {
                    Delivery::Receipt
                } else {
                    Delivery::Queued
                };
                Request::Send {
                    target: Target::Process(Pid::from_raw(id)),
                    message,
                    delivery,
                    wait,
                }
            }
        ),
        (proptest::collection::vec(branch, 0..5), wait)
            .prop_map(|(branches, wait)| Request::Recv { branches, wait }),
        ("[a-z]{1,20}", attrs).prop_map(|(name, attrs)| Request::Create { name, attrs }),
        any::<u64>().prop_map(|id| Request::Stat {
            mailbox: MailboxId::from_raw(id)
        }),
        Just(Request::ListProcesses),
    ]
}

proptest! {
    #[test]
    fn requests_round_trip(request in request()) {
        let bytes = encode_request(&request);
        prop_assert_eq!(decode_request(&bytes), Ok(request));
    }

    #[test]
    fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }

    #[test]
    fn mutated_and_truncated_requests_never_panic(request in request(), at in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let mut bytes = encode_request(&request).to_vec();
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] = byte;
            bytes.truncate(cut % (bytes.len() + 1));
        }
        let _ = decode_request(&bytes);
        let _ = decode_response(&bytes);
    }
}

#[test]
fn a_response_with_a_message_round_trips() {
    let response = Response::Sent {
        receiver: Some(Pid::from_raw(3)),
    };
    let bytes = postbox_wire::encode_response(&response);
    assert_eq!(decode_response(&bytes), Ok(response));
}
