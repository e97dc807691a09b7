//! System V style typed selective receive, and POSIX style priorities.
//!
//! Run: `cargo run --example typed_receive`

use postbox::{InprocNode, Message, Order, RecvError, Selector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let p = node.process();

    let events = p.mailbox("events").create()?;
    for (mtype, text) in [
        (3, "disk warning"),
        (1, "shutdown request"),
        (2, "login"),
        (3, "disk full"),
    ] {
        events.send(Message::new(text).with_type(mtype))?;
    }
    let show = |label: &str, selector: Selector| match events.try_recv_matching(selector) {
        Ok(m) => println!("{label:<28} -> type {} {:?}", m.mtype(), m.payload()),
        Err(e) => println!("{label:<28} -> {e}"),
    };
    show("Type(3)  (msgtyp = 3)", Selector::Type(3));
    show("TypeAtMost(2) (msgtyp = -2)", Selector::TypeAtMost(2));
    show("NotType(3) (MSG_EXCEPT)", Selector::NotType(3));
    show("Any (msgtyp = 0)", Selector::Any);
    assert_eq!(events.try_recv().unwrap_err(), RecvError::Empty);
    show("Any on an empty mailbox", Selector::Any);

    let urgent = p.mailbox("alerts").order(Order::Priority).create()?;
    for (priority, text) in [
        (1, "low"),
        (9, "critical"),
        (5, "high"),
        (9, "critical too"),
    ] {
        urgent.send(Message::new(text).with_priority(priority))?;
    }
    print!("priority order:");
    while let Ok(m) = urgent.try_recv() {
        print!(" {:?}(p{})", m.payload(), m.priority());
    }
    println!();
    Ok(())
}
