//! One `Select` for everything: a timer, Ctrl-C, standard input and a work mailbox — the events of
//! the outside world faked as senders, each a process of its own.
//!
//! Run: `cargo run --example event_loop`, type lines, press Ctrl-C (or Ctrl-D) to end. It ends by
//! itself after 20 ticks, and at once when standard input is empty (`</dev/null`).

use std::time::Duration;

use postbox::events::{Event, Reader, Signal, Signals, Timer};
use postbox::{InprocNode, Select, Selector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let me = node.process();
    let work = me.mailbox("work").create()?;

    // Each source posts into this process's inbox from its own pid.
    let timer = Timer::every(Duration::from_millis(500))
        .count(20)
        .start(node.process(), me.pid())?;
    let interrupt = Signals::new([Signal::INT]).start(node.process(), me.pid())?;
    let stdin = Reader::lines(std::io::stdin()).start(node.process(), me.pid())?;

    // Work arrives from an ordinary process too.
    let worker = node.process();
    let jobs = worker.mailbox("work").open()?;
    let producer = std::thread::spawn(move || {
        for job in ["compile", "test", "ship"] {
            if jobs.send(job).is_err() {
                break;
            }
        }
        worker
    });

    let mut select = Select::new();
    let ticks = select.inbox(&me, Selector::From(timer.pid()));
    let signals = select.inbox(&me, Selector::From(interrupt.pid()));
    let lines = select.inbox(&me, Selector::From(stdin.pid()));
    let jobs = select.recv(&work, Selector::Any);
    println!("waiting for ticks, Ctrl-C, lines on stdin and work");
    loop {
        let selected = select.wait()?;
        let event = Event::from_received(&selected.message);
        match (selected.index, event) {
            (i, Some(Event::Tick { tick, missed })) if i == ticks => {
                println!("tick {tick} ({missed} missed)");
                if tick >= 20 {
                    println!("20 ticks: done");
                    break;
                }
            }
            (i, Some(Event::Signal(signal))) if i == signals => {
                println!("{signal}: stopping");
                break;
            }
            (i, Some(Event::Line(line))) if i == lines => {
                println!("you typed {:?}", String::from_utf8_lossy(&line));
            }
            (i, Some(Event::Eof(error))) if i == lines => {
                match error {
                    Some(error) => println!("stdin failed: {error}"),
                    None => println!("end of stdin: stopping"),
                }
                break;
            }
            (i, _) if i == jobs => {
                println!(
                    "job {:?}",
                    String::from_utf8_lossy(selected.message.payload())
                );
            }
            (_, other) => println!("unexpected {other:?}"),
        }
    }
    // Dropping the sources stops them and terminates their processes.
    drop((timer, interrupt, stdin));
    drop(producer.join());
    Ok(())
}
