//! Producer–consumer over a bounded, shared mailbox.
//!
//! Two producers push jobs into a mailbox that holds at most 4 of them: when it is full they
//! wait (back-pressure). Three consumers share it: each job goes to exactly one of them.
//!
//! Run: `cargo run --example producer_consumer`

use std::collections::BTreeMap;

use postbox::{Capacity, Dispatch, InprocNode, Mode, Receivers, RecvError};

const JOBS_PER_PRODUCER: u32 = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let coordinator = node.process();
    let jobs = coordinator
        .mailbox("jobs")
        .capacity(Capacity::bounded(4, 4096))
        .receivers(Receivers::Shared(Dispatch::FirstWaiting))
        .mode(Mode::new(0o600))
        .create()?;
    println!(
        "created mailbox {:?}: bounded(4 messages), shared by consumers",
        jobs.name()
    );

    let done_by: BTreeMap<u64, usize> = std::thread::scope(|s| {
        // Every participant opens the mailbox before its thread starts: a consumer opening it
        // late could find it already deleted (NotFound) once all the jobs are done.
        for producer in 0..2 {
            let process = node.process();
            let jobs = process.mailbox("jobs").open().expect("open jobs");
            s.spawn(move || {
                for n in 0..JOBS_PER_PRODUCER {
                    jobs.send(format!("job {producer}-{n}")).expect("send");
                }
                println!("producer {} sent {JOBS_PER_PRODUCER} jobs", process.pid());
            });
        }
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let process = node.process();
                let jobs = process.mailbox("jobs").open().expect("open jobs");
                s.spawn(move || {
                    let mut handled = 0;
                    // Stop once the coordinator deletes the mailbox: Gone.
                    while let Ok(job) = jobs.recv() {
                        handled += 1;
                        let _ = job;
                    }
                    (process.pid().as_raw(), handled)
                })
            })
            .collect();
        // Wait until everything was produced and consumed, then close shop.
        while jobs.stat().map(|st| st.total_received).unwrap_or(0)
            < 2 * u64::from(JOBS_PER_PRODUCER)
        {
            std::thread::yield_now();
        }
        jobs.delete().expect("delete");
        consumers
            .into_iter()
            .map(|c| c.join().expect("consumer"))
            .collect()
    });
    for (pid, handled) in &done_by {
        println!("consumer {pid} handled {handled} jobs");
    }
    let total: usize = done_by.values().sum();
    println!("{total} jobs handled in all, each exactly once");
    assert_eq!(total, 2 * JOBS_PER_PRODUCER as usize);
    assert_eq!(jobs.recv().unwrap_err(), RecvError::Gone);
    Ok(())
}
