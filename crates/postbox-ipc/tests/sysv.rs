//! The System V and POSIX queue tests: each `c/tests/*.c`, written from the msgget(2),
//! msgop(2), msgctl(2), mq_overview(7) and mq_*(3) man pages, runs twice — natively against the kernel (which proves the test right)
//! and under `LD_PRELOAD=libpostbox_ipc.so` against a daemon this test hosts on a unique
//! temporary socket — and must pass both ways. Two more check that a preloaded program's System
//! V and POSIX queues are postbox mailboxes, not kernel queues.

mod support;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use postbox_daemon::{Daemon, DaemonConfig};
use support::{compile, crate_dir, run_program};

fn queue_tests() -> Vec<PathBuf> {
    let mut tests: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("c/tests"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 4, "the C tests are missing: {tests:?}");
    tests
}

/// A daemon on a unique socket in a temporary directory, served by a thread of this test until
/// dropped.
struct HostedDaemon {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl HostedDaemon {
    fn start() -> HostedDaemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("postbox.sock");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = mpsc::channel();
        let config = DaemonConfig::new().with_socket_path(&socket);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let daemon = Daemon::bind(config).unwrap();
                ready.send(()).unwrap();
                let shutdown = async {
                    let _ = stopped.await;
                };
                daemon.serve(shutdown).await.unwrap();
            });
        });
        bound.recv().expect("the daemon binds its socket");
        HostedDaemon {
            url: format!("unix://{}", socket.display()),
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for HostedDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn queue_tests_pass_natively_and_on_postbox() {
    let daemon = HostedDaemon::start();
    let dir = tempfile::tempdir().unwrap();
    for source in queue_tests() {
        let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
        let program = dir.path().join(&stem);
        compile(&source, &program);
        let native = run_program(&program, &[], None);
        assert!(native.contains(&format!("{stem}: ok")), "{native}");
        let preloaded = run_program(&program, &[], Some(&daemon.url));
        assert!(preloaded.contains(&format!("{stem}: ok")), "{preloaded}");
    }
}

/// Whether the kernel has a System V queue with `key` (/proc/sysvipc/msg: key in decimal).
fn kernel_has_queue(key: u32) -> bool {
    let table = std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .any(|field| field.parse::<i64>().ok() == Some(i64::from(key as i32)))
}

#[test]
fn a_preloaded_programs_queue_is_a_postbox_mailbox_not_a_kernel_queue() {
    let daemon = HostedDaemon::start();
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("leave_queue");
    compile(&crate_dir().join("c/tools/leave_queue.c"), &program);
    let key = 0x6000_0000 | (std::process::id() & 0x0fff_ffff);
    run_program(&program, &[&format!("{key:x}")], Some(&daemon.url));

    assert!(
        !kernel_has_queue(key),
        "the kernel has a queue for {key:#x}"
    );
    let observer = postbox::connect(&daemon.url).unwrap();
    let name = format!("sysv.{key:08x}");
    let mailboxes = observer.list_mailboxes().unwrap();
    let queue = mailboxes
        .iter()
        .find(|stats| stats.name == name)
        .unwrap_or_else(|| panic!("no mailbox {name} in {mailboxes:?}"));
    assert_eq!(queue.messages, 1);
    observer.mailbox(&name).open().unwrap().delete().unwrap();
}

#[test]
fn a_preloaded_programs_posix_queue_is_a_postbox_mailbox_not_a_kernel_queue() {
    let daemon = HostedDaemon::start();
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("leave_mq");
    compile(&crate_dir().join("c/tools/leave_mq.c"), &program);
    let queue = format!("postbox-left-{}", std::process::id());
    run_program(&program, &[&format!("/{queue}")], Some(&daemon.url));

    // The kernel's queues are files in the mqueue file system, where one is mounted.
    assert!(!Path::new("/dev/mqueue").join(&queue).exists());
    let observer = postbox::connect(&daemon.url).unwrap();
    let name = format!("posix.{queue}");
    let mailboxes = observer.list_mailboxes().unwrap();
    let found = mailboxes
        .iter()
        .find(|stats| stats.name == name)
        .unwrap_or_else(|| panic!("no mailbox {name} in {mailboxes:?}"));
    assert_eq!(found.messages, 1);
    observer.mailbox(&name).open().unwrap().delete().unwrap();
}
