//! A process dies while others wait on it: nobody waits forever.
//!
//! Run: `cargo run --example peer_death`

use postbox::{InprocNode, Mode, RecvError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let watcher = node.process();
    let worker = node.process();
    let worker_pid = worker.pid();
    watcher.monitor(worker_pid)?;

    // The worker owns a mailbox; a client waits on it, another waits for a direct message.
    let results = worker.mailbox("results").mode(Mode::new(0o666)).create()?;
    let client = node.process();
    let client_box = client.mailbox("results").open()?;

    worker.send_to(watcher.pid(), "last words")?;
    std::thread::scope(|s| {
        let waiting_on_mailbox = s.spawn(|| client_box.send_with_receipt("will anyone read this?"));
        // Let the client's send start waiting, then let the worker die.
        while results.stat().map(|st| st.messages).unwrap_or(0) == 0 {
            std::thread::yield_now();
        }
        drop(results);
        drop(worker);
        let error = waiting_on_mailbox
            .join()
            .expect("client thread")
            .unwrap_err();
        println!("client waiting for a receipt on the dead worker's mailbox: {error}");
    });

    // Messages sent before death are delivered, then the down notification, then PeerGone.
    let last = watcher.recv_from(worker_pid)?;
    println!("watcher: {:?} from {}", last.payload(), last.sender);
    let down = watcher.recv_from(worker_pid)?;
    println!("watcher: down notification = {}", down.is_down());
    let after = watcher.recv_from(worker_pid).unwrap_err();
    println!("watcher: recv_from(dead worker) = {after}");
    assert_eq!(after, RecvError::PeerGone);
    Ok(())
}
