//! Pseudo-terminals: commands run as when a person types into them and reads their output.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::ffi::OsStrExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use super::PATIENCE;

/// A new pseudo-terminal: the side a test types into (and reads the screen from), and the
/// terminal a command is given.
pub(crate) fn pty() -> (File, File) {
    let typing = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .expect("cannot open a pseudo-terminal");
    grantpt(&typing).expect("grantpt");
    unlockpt(&typing).expect("unlockpt");
    let name = ptsname(&typing, Vec::new()).expect("ptsname");
    let terminal = rustix::fs::open(
        OsStr::from_bytes(name.as_bytes()),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("cannot open the terminal side");
    (File::from(typing), File::from(terminal))
}

/// A command with a terminal of its own for stdin, stdout and stderr, as in a terminal window:
/// what a person types, and the screen showing the echo of it and everything the command writes.
/// The command is killed when this drops.
#[derive(Debug)]
pub(crate) struct Screen {
    /// The command.
    child: Child,
    /// The side typed into; kept open while the command runs (closing it hangs the terminal up).
    typing: File,
    /// What the terminal shows, as it comes.
    output: Receiver<Vec<u8>>,
    /// What it has shown so far, carriage returns left out.
    shown: String,
}

impl Screen {
    /// Starts `command` at a new terminal.
    pub(crate) fn spawn(mut command: Command) -> Screen {
        let (typing, terminal) = pty();
        let clone = || terminal.try_clone().expect("cannot duplicate the terminal");
        command
            .stdin(Stdio::from(clone()))
            .stdout(Stdio::from(clone()))
            .stderr(Stdio::from(terminal));
        let child = command.spawn().expect("cannot start postbox");
        // The parent's copies of the terminal go with `command`: once the command exits, reading
        // the screen ends (EIO) instead of waiting forever.
        drop(command);
        let mut screen = typing
            .try_clone()
            .expect("cannot duplicate the pseudo-terminal");
        let (send, output) = mpsc::channel();
        thread::spawn(move || {
            let mut buffer = [0; 4096];
            while let Ok(read @ 1..) = screen.read(&mut buffer) {
                if send.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        Screen {
            child,
            typing,
            output,
            shown: String::new(),
        }
    }

    /// Types `line` and Enter.
    pub(crate) fn type_line(&mut self, line: &str) {
        self.typing
            .write_all(format!("{line}\n").as_bytes())
            .expect("cannot type");
    }

    /// Types Ctrl-D at the start of a line: the end of the input.
    pub(crate) fn type_end_of_input(&mut self) {
        self.typing.write_all(b"\x04").expect("cannot type");
    }

    /// Everything shown so far.
    pub(crate) fn shown(&mut self) -> &str {
        while let Ok(bytes) = self.output.try_recv() {
            self.take(&bytes);
        }
        &self.shown
    }

    /// Waits until the screen shows `text` anywhere (within [`PATIENCE`]) and returns the line
    /// holding it.
    #[track_caller]
    pub(crate) fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(at) = self.shown.find(text) {
                let start = self.shown[..at]
                    .rfind('\n')
                    .map_or(0, |newline| newline + 1);
                let end = self.shown[at..]
                    .find('\n')
                    .map_or(self.shown.len(), |newline| at + newline);
                return self.shown[start..end].to_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.take(&bytes),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "the screen never showed {text:?}; it shows:\n{}",
                        self.shown
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the command ended without showing {text:?}; it showed:\n{}",
                    self.shown
                ),
            }
        }
    }

    /// Waits for the command to exit (within [`PATIENCE`]) and returns its exit code (-1 when a
    /// signal ended it).
    #[track_caller]
    pub(crate) fn exit_code(&mut self) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "the command did not exit in time; its screen:\n{}",
                self.shown()
            );
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Appends what the terminal showed.
    fn take(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        self.shown.extend(text.chars().filter(|&c| c != '\r'));
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
