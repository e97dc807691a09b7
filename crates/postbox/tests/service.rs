//! `#[postbox::service]` on the in-process node: round trips, application errors, timeouts, and
//! clients and servers that do not understand each other.

mod common;

use std::time::Duration;

use common::join_soon;
use postbox::service::{IncompatibleKind, ServiceError};
use postbox::{CallErrorKind, InprocNode, Process, RecvError};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// Why a division failed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
enum MathError {
    DivideByZero,
    Overflow { of: String },
}

/// The service under test, as the server is built.
#[postbox::service]
trait Calculator {
    /// Adds.
    fn add(&self, a: i64, b: i64) -> i64;
    /// Divides, failing on zero.
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    /// Says hello to everyone.
    fn greet(&self, names: Vec<String>) -> String;
    /// Returns nothing.
    fn ping(&self);
}

struct Calc;

impl Calculator for Calc {
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError> {
        match b {
            0 => Err(MathError::DivideByZero),
            _ => a.checked_div(b).ok_or_else(|| MathError::Overflow {
                of: format!("{a} / {b}"),
            }),
        }
    }

    fn greet(&self, names: Vec<String>) -> String {
        format!("hello, {}", names.join(" and "))
    }

    fn ping(&self) {}
}

/// Runs `CalculatorServer::serve` on `server`'s inbox, answering `n` requests through
/// `handle` in a thread; returns its handle.
fn serve_inbox(server: Process, n: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..n {
            let request = server.recv_any().expect("a request");
            CalculatorServer::handle(&server, &request, &Calc).expect("answered");
        }
    })
}

#[test]
fn smoke() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let calc = server
        .mailbox("calc")
        .mode(postbox::Mode::new(0o666))
        .create()
        .unwrap();
    let opened = client.mailbox("calc").open().unwrap();
    std::thread::scope(|s| {
        let serving = s.spawn(|| CalculatorServer::serve(&server, &calc, &Calc));
        let calculator = CalculatorClient::new(&client, &opened);
        assert_eq!(calculator.add(2, 3).unwrap(), 5);
        assert_eq!(calculator.divide(7, 2).unwrap(), 3);
        assert_eq!(
            calculator.greet(vec!["ada".into(), "bob".into()]).unwrap(),
            "hello, ada and bob"
        );
        calculator.ping().unwrap();
        // Deleting the mailbox is serve's stop condition: it returns why it stopped.
        calc.delete().unwrap();
        common::spin_until("serve returns", || serving.is_finished());
        assert_eq!(serving.join().unwrap(), RecvError::Gone);
    });
}

#[test]
fn an_application_error_comes_back_as_failed_with_its_value() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let serving = serve_inbox(server, 2);
    let calculator = CalculatorClient::new(&client, callee);
    assert_eq!(
        calculator.divide(1, 0).unwrap_err(),
        ServiceError::Failed(MathError::DivideByZero)
    );
    assert_eq!(
        calculator.divide(i64::MIN, -1).unwrap_err(),
        ServiceError::Failed(MathError::Overflow {
            of: format!("{} / -1", i64::MIN)
        })
    );
    let shown: ServiceError<String> = ServiceError::Failed("no such user".into());
    assert_eq!(shown.to_string(), "the service failed: no such user");
    join_soon(serving);
}

#[test]
fn the_timeout_and_async_forms_call_the_same_method() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let serving = serve_inbox(server, 2);
    let calculator = CalculatorClient::new(&client, callee);
    assert_eq!(
        calculator
            .add_timeout(1, 2, Duration::from_secs(10))
            .unwrap(),
        3
    );
    assert_eq!(pollster::block_on(calculator.add_async(40, 2)).unwrap(), 42);
    join_soon(serving);
}

#[test]
fn a_server_that_does_not_answer_in_time_gives_a_timeout() {
    let node = InprocNode::new();
    let server = node.process(); // never receives
    let client = node.process();
    let calculator = CalculatorClient::new(&client, server.pid());
    match calculator.add_timeout(1, 2, Duration::from_millis(20)) {
        Err(ServiceError::Call(error)) => assert_eq!(error.kind(), CallErrorKind::Timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_server_that_terminates_holding_the_request_fails_the_call_with_peer_gone() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let dying = std::thread::spawn(move || {
        server.recv_any().expect("the request");
        drop(server);
    });
    let calculator = CalculatorClient::new(&client, callee);
    match calculator.add(1, 2) {
        Err(ServiceError::Call(error)) => assert_eq!(error.kind(), CallErrorKind::PeerGone),
        other => panic!("expected PeerGone, got {other:?}"),
    }
    join_soon(dying);
}

#[test]
fn a_mutable_service_keeps_its_state_between_calls() {
    #[postbox::service]
    trait Counter {
        fn bump(&mut self, by: u32) -> u32;
    }
    struct Count(u32);
    impl Counter for Count {
        fn bump(&mut self, by: u32) -> u32 {
            self.0 += by;
            self.0
        }
    }
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let serving = std::thread::spawn(move || {
        let mut count = Count(0);
        for _ in 0..2 {
            let request = server.recv_any().unwrap();
            CounterServer::handle(&server, &request, &mut count).unwrap();
        }
        count.0
    });
    let counter = CounterClient::new(&client, callee);
    assert_eq!(counter.bump(2).unwrap(), 2);
    assert_eq!(counter.bump(3).unwrap(), 5);
    assert_eq!(join_soon(serving), 5);
}

/// The same service, built from an older or newer trait; only their clients are used.
#[allow(dead_code)]
mod other_versions {
    use super::MathError;

    /// `add` takes `i32`s here: another method, as far as the wire is concerned.
    #[postbox::service]
    pub(crate) trait Calculator {
        fn add(&self, a: i32, b: i32) -> i32;
        fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    }

    /// The arguments renamed: the same methods.
    pub(crate) mod renamed {
        use super::super::MathError;

        #[postbox::service]
        pub(crate) trait Calculator {
            fn add(&self, x: i64, y: i64) -> i64;
            fn divide(&self, dividend: i64, divisor: i64) -> Result<i64, MathError>;
            fn greet(&self, everyone: Vec<String>) -> String;
            fn ping(&self);
        }
    }
}

#[test]
fn a_client_of_a_changed_trait_gets_incompatible_service_and_the_server_goes_on() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let serving = serve_inbox(server, 3);
    let old = other_versions::CalculatorClient::new(&client, callee);
    match old.add(1, 2) {
        Err(ServiceError::Incompatible(incompatible)) => {
            assert_eq!(incompatible.kind(), IncompatibleKind::UnknownMethod);
            assert!(
                incompatible.to_string().starts_with(
                    "incompatible service: the server does not know this method: \
                     Calculator has no method with identity 0x"
                ),
                "{incompatible}"
            );
        }
        other => panic!("expected IncompatibleService, got {other:?}"),
    }
    // The unchanged method of the same old trait still works.
    assert_eq!(old.divide(9, 3).unwrap(), 3);
    assert_eq!(CalculatorClient::new(&client, callee).add(1, 2).unwrap(), 3);
    join_soon(serving);
}

#[test]
fn renaming_arguments_keeps_every_identity_and_changing_a_type_does_not() {
    assert_eq!(
        CalculatorRequest::METHODS,
        other_versions::renamed::CalculatorRequest::METHODS
    );
    let changed = other_versions::CalculatorRequest::METHODS;
    assert_ne!(changed[0].1, CalculatorRequest::METHODS[0].1);
    assert_eq!(changed[1], CalculatorRequest::METHODS[1]);
    let request = CalculatorRequest::Add { a: 1, b: 2 };
    assert_eq!(request.method_id(), CalculatorRequest::METHODS[0].1);
}

#[test]
fn a_garbage_request_is_failed_with_bad_request_and_serving_goes_on() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let serving = serve_inbox(server, 4);
    // Too short to name a method.
    let failed = client.call(callee, "xx").unwrap_err();
    assert_eq!(failed.kind(), CallErrorKind::Failed);
    let failure = failed.failure().unwrap();
    assert_eq!(&failure[..2], &[1, 1], "an incompatibility, BadRequest");
    assert!(String::from_utf8_lossy(&failure[2..]).contains("too short to name a method"));
    // The identity of `add`, then arguments that do not decode: a varint that never ends.
    let mut payload = CalculatorRequest::METHODS[0].1.to_le_bytes().to_vec();
    payload.extend([0xff; 12]);
    let failed = client.call(callee, payload).unwrap_err();
    let failure = failed.failure().unwrap();
    assert_eq!(&failure[..2], &[1, 1], "an incompatibility, BadRequest");
    assert!(String::from_utf8_lossy(&failure[2..]).starts_with("Calculator::add: "));
    // Trailing bytes after valid arguments are no valid request either.
    let mut payload = CalculatorRequest::Add { a: 1, b: 2 }
        .__encode()
        .unwrap()
        .to_vec();
    payload.push(0);
    let failed = client.call(callee, payload).unwrap_err();
    assert_eq!(&failed.failure().unwrap()[..2], &[1, 1]);
    assert_eq!(CalculatorClient::new(&client, callee).add(1, 2).unwrap(), 3);
    join_soon(serving);
}

#[test]
fn an_answer_from_something_that_is_no_service_is_a_bad_answer_not_a_panic() {
    let node = InprocNode::new();
    let server = node.process();
    let client = node.process();
    let callee = server.pid();
    let imposter = std::thread::spawn(move || {
        let request = server.recv_any().unwrap();
        server.reply(&request, vec![0xff; 12]).unwrap();
        let request = server.recv_any().unwrap();
        server.fail(&request, "no such thing").unwrap();
        let request = server.recv_any().unwrap();
        server.fail(&request, vec![0, 0xff, 0xff]).unwrap();
    });
    let calculator = CalculatorClient::new(&client, callee);
    /// What an incompatibility says, or a panic if `result` is anything else.
    fn incompatibility<T: Debug, E: Debug>(result: Result<T, ServiceError<E>>) -> String {
        match result {
            Err(ServiceError::Incompatible(incompatible)) => {
                assert_eq!(incompatible.kind(), IncompatibleKind::BadAnswer);
                incompatible.to_string()
            }
            other => panic!("expected IncompatibleService, got {other:?}"),
        }
    }
    for attempt in 0..3 {
        let error = match attempt {
            0 => incompatibility(calculator.add(1, 2)),
            _ => incompatibility(calculator.divide(1, 2)),
        };
        assert!(
            error
                .starts_with("incompatible service: the answer could not be decoded: Calculator::"),
            "{attempt}: {error}"
        );
    }
    join_soon(imposter);
}
