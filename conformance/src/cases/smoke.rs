//! The first case to run on a new transport: one message each way, through a mailbox and an
//! inbox. If this fails, read nothing else into the other failures.

use postbox::Message;

use crate::Transport;

/// A process sends through a mailbox and directly to a pid; both arrive intact, with the sender,
/// type and priority recorded.
pub fn smoke<T: Transport>(t: &T) {
    let server = t.process();
    let client = t.process();
    assert_ne!(server.pid(), client.pid(), "every process has its own pid");

    let jobs = server.mailbox("smoke").create().expect("create");
    let to_jobs = client.mailbox("smoke").open().expect("open");
    let sent = to_jobs
        .send(Message::new("job").with_type(3).with_priority(7))
        .expect("send");
    assert_eq!(
        sent.receiver, None,
        "a buffered send does not know its receiver"
    );
    let got = jobs.recv().expect("recv");
    assert_eq!(got.payload().as_ref(), b"job");
    assert_eq!((got.mtype(), got.priority()), (3, 7));
    assert_eq!(got.sender, client.pid());
    assert!(!got.is_down());

    server.send_to(client.pid(), "reply").expect("send_to");
    let reply = client.recv_any().expect("recv_any");
    assert_eq!(reply.payload().as_ref(), b"reply");
    assert_eq!(reply.sender, server.pid());
}
