//! Typed services (`#[postbox::service]`) on the transport: a client stub and a serve loop
//! over a mailbox and over a process's inbox, an application error carried back as its value,
//! and the serve loop's stop when its mailbox goes.

use postbox::RecvError;
use postbox::service::ServiceError;
use serde::{Deserialize, Serialize};

use crate::Transport;
use crate::support::{LONG, wait_until};

/// Why a division failed.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum MathError {
    /// The divisor was zero.
    DivideByZero,
}

/// The service the cases call.
#[postbox::service]
pub trait Calculator {
    /// Adds.
    fn add(&self, a: i64, b: i64) -> i64;
    /// Divides, failing on zero.
    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError>;
    /// Joins names.
    fn greet(&self, names: Vec<String>) -> String;
}

struct Calc;

impl Calculator for Calc {
    fn add(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }

    fn divide(&self, a: i64, b: i64) -> Result<i64, MathError> {
        a.checked_div(b).ok_or(MathError::DivideByZero)
    }

    fn greet(&self, names: Vec<String>) -> String {
        format!("hello, {}", names.join(" and "))
    }
}

/// A client stub calls through a mailbox the serve loop answers; the loop returns `Gone` when
/// the mailbox is deleted.
pub fn a_typed_service_answers_through_a_mailbox<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let calc = server.mailbox("calc").create().expect("create");
    let opened = client.mailbox("calc").open().expect("open");
    std::thread::scope(|s| {
        let serving = s.spawn(|| CalculatorServer::serve(&server, &calc, &Calc));
        let calculator = CalculatorClient::new(&client, &opened);
        assert_eq!(calculator.add(2, 3).expect("add"), 5);
        assert_eq!(
            calculator
                .greet(vec!["ada".into(), "bob".into()])
                .expect("greet"),
            "hello, ada and bob"
        );
        assert_eq!(
            calculator.divide(1, 0).unwrap_err(),
            ServiceError::Failed(MathError::DivideByZero)
        );
        assert_eq!(
            calculator.add_timeout(40, 2, LONG).expect("add_timeout"),
            42
        );
        calc.delete().expect("delete");
        wait_until("serve returns", || serving.is_finished());
        assert_eq!(serving.join().expect("the serve loop"), RecvError::Gone);
    });
}

/// A client stub calls a process directly; the server answers from its inbox.
pub fn a_typed_service_answers_through_an_inbox<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    let callee = server.pid();
    std::thread::scope(|s| {
        let serving = s.spawn(|| {
            for _ in 0..2 {
                let request = server.recv_any_timeout(LONG).expect("a request");
                CalculatorServer::handle(&server, &request, &Calc).expect("answered");
            }
        });
        let calculator = CalculatorClient::new(&client, callee);
        assert_eq!(
            pollster::block_on(calculator.add_async(1, 2)).expect("add_async"),
            3
        );
        assert_eq!(calculator.divide(9, 3).expect("divide"), 3);
        serving.join().expect("the server");
    });
}
