//! A typed service: `#[postbox::service]` turns the `Calculator` trait into a client whose
//! methods are calls and a server that answers them from a shared mailbox, here two servers
//! taking turns. An application error comes back as `ServiceError::Failed`, a slow answer as a
//! timeout, and deleting the mailbox stops the servers.
//!
//! Run: `cargo run --example rpc_calculator` (an in-process node), or
//! `cargo run --example rpc_calculator -- unix:///path/to/postbox.sock` (through a daemon: each
//! process is its own connection).

use std::time::Duration;

use postbox::service::ServiceError;
use postbox::{Dispatch, InprocNode, Mode, Process, Receivers};
use serde::{Deserialize, Serialize};

/// Why a calculation failed.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum CalcError {
    /// Division by zero.
    DivideByZero,
    /// The result does not fit in an `i64`.
    Overflow,
}

impl std::fmt::Display for CalcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CalcError::DivideByZero => "division by zero",
            CalcError::Overflow => "the result does not fit in 64 bits",
        })
    }
}

impl std::error::Error for CalcError {}

/// What the calculator servers offer.
#[postbox::service]
trait Calculator {
    /// `a + b`.
    fn add(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// `a / b`.
    fn divide(&self, a: i64, b: i64) -> Result<i64, CalcError>;
    /// The sum of all of `numbers`.
    fn sum(&self, numbers: Vec<i64>) -> Result<i64, CalcError>;
    /// Sleeps `millis` before answering, to show a client's timeout.
    fn slow(&self, millis: u64);
}

/// The calculator itself: stateless, so both servers share one.
struct Calc;

impl Calculator for Calc {
    fn add(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        a.checked_add(b).ok_or(CalcError::Overflow)
    }

    fn divide(&self, a: i64, b: i64) -> Result<i64, CalcError> {
        match b {
            0 => Err(CalcError::DivideByZero),
            _ => a.checked_div(b).ok_or(CalcError::Overflow),
        }
    }

    fn sum(&self, numbers: Vec<i64>) -> Result<i64, CalcError> {
        numbers
            .into_iter()
            .try_fold(0i64, |total, n| total.checked_add(n))
            .ok_or(CalcError::Overflow)
    }

    fn slow(&self, millis: u64) {
        std::thread::sleep(Duration::from_millis(millis));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let url = std::env::args().nth(1);
    let process = || -> Result<Process, Box<dyn std::error::Error>> {
        Ok(match &url {
            Some(url) => postbox::connect(url)?,
            None => node.process(),
        })
    };
    let owner = process()?;
    let client = process()?;
    let servers = [process()?, process()?];

    // A mailbox both servers receive from, taking turns; anyone may call it.
    let calc = owner
        .mailbox("calculator")
        .receivers(Receivers::Shared(Dispatch::RoundRobin))
        .mode(Mode::new(0o666))
        .create()?;

    std::thread::scope(|s| -> Result<(), Box<dyn std::error::Error>> {
        for server in &servers {
            let requests = server.mailbox("calculator").open()?;
            s.spawn(move || {
                let stopped = CalculatorServer::serve(server, &requests, &Calc);
                println!("server {} stopped: {stopped}", server.pid());
            });
        }

        let opened = client.mailbox("calculator").open()?;
        let calculator = CalculatorClient::new(&client, &opened);
        println!("2 + 3 = {}", calculator.add(2, 3)?);
        println!("sum 1..=100 = {}", calculator.sum((1..=100).collect())?);
        match calculator.divide(1, 0) {
            Err(ServiceError::Failed(error)) => println!("1 / 0 failed: {error}"),
            other => println!("1 / 0 gave {other:?}?"),
        }
        match calculator.slow_timeout(500, Duration::from_millis(50)) {
            Err(error) => println!("slow(500) with a 50 ms timeout: {error}"),
            Ok(()) => println!("slow(500) answered within 50 ms?"),
        }
        let answer = pollster::block_on(calculator.add_async(40, 2))?;
        println!("40 + 2 (async) = {answer}");

        // Deleting the mailbox is the servers' stop condition.
        calc.delete()?;
        Ok(())
    })
}
