//! Direct messaging: processes address each other by pid (or registered name); a server
//! receives from anyone and answers the sender.
//!
//! Run: `cargo run --example direct`

use postbox::{InprocNode, Selector};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = InprocNode::new();
    let server = node.process();
    server.register("echo")?;

    std::thread::scope(|s| {
        let clients: Vec<_> = (0..3)
            .map(|n| {
                let client = node.process();
                s.spawn(move || {
                    let echo = client
                        .whereis("echo")
                        .expect("whereis")
                        .expect("echo is registered");
                    client.send_to(echo, format!("hello #{n}")).expect("send");
                    let reply = client.recv_from(echo).expect("reply");
                    println!("client {} got {:?}", client.pid(), reply.payload());
                })
            })
            .collect();
        for _ in 0..3 {
            let request = server.recv_any().expect("request");
            println!("server got {:?} from {}", request.payload(), request.sender);
            let mut reply = b"echo: ".to_vec();
            reply.extend_from_slice(request.payload());
            server.send_to(request.sender, reply).expect("reply");
        }
        for client in clients {
            client.join().expect("client");
        }
    });

    // recv_from takes one sender's oldest message, however many others are queued.
    let a = node.process();
    let b = node.process();
    for n in 0..3 {
        a.send_to(server.pid(), format!("a{n}"))?;
    }
    b.send_to(server.pid(), "b0")?;
    let from_b = server.recv_matching(Selector::From(b.pid()))?;
    println!(
        "recv_from(b) skipped a's three messages: {:?}",
        from_b.payload()
    );
    Ok(())
}
