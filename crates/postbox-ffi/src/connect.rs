//! Becoming a postbox process: connecting to a node by URL, to the default daemon, or starting
//! processes on an in-process node of one's own.

// Exports C symbols (`#[unsafe(no_mangle)]`); unsafe blocks stay in `sys` (tests/unsafe_audit.rs).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int};

use postbox_lib::InprocNode;

use crate::guard::call;
use crate::process::{PROCESSES, PostboxProcess};
use crate::registry::Registry;
use crate::sys;

/// An in-process node: an engine shared by the threads of this program. 0 is the null handle.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PostboxNode {
    /// Opaque; 0 is never a live node.
    pub id: u64,
}

static NODES: Registry<InprocNode> = Registry::new("postbox_node");

/// Hands a new process to C. Callers have checked `out` (by writing the null handle) before
/// starting the process, so that a process is never started that the caller cannot hold.
fn new_process(process: postbox_lib::Process, out: *mut PostboxProcess) -> crate::status::Outcome {
    let id = PROCESSES.insert(process);
    sys::write(out, PostboxProcess { id }, "out")
}

/// Connects to the postbox node at `url` as a new process, written to `*out`.
///
/// `url`: `inproc://` (this program's default in-process node), `inproc://NAME` (the in-process
/// node called NAME, shared by every connect to that name in this program), `unix:///PATH` (the
/// local daemon listening there, which learns this program's uid and gid from the socket) or
/// `tcp://HOST:PORT` (a daemon on TCP, with the token from `$POSTBOX_TOKEN_FILE` or
/// `$POSTBOX_TOKEN`). A daemon connection *is* the process: `postbox_process_free` closes it.
///
/// Pointers: `url` is a NUL-terminated UTF-8 string, read during the call only. `out` points to
/// a `postbox_process` to write; on failure it is left as the null handle.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_INVALID_URL`, `POSTBOX_STATUS_UNREACHABLE`,
/// `POSTBOX_STATUS_HANDSHAKE`, `POSTBOX_STATUS_INVALID_TOKEN` or `POSTBOX_STATUS_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_connect(url: *const c_char, out: *mut PostboxProcess) -> c_int {
    call("postbox_connect", || {
        let url = sys::str(url, "url")?;
        sys::write(out, PostboxProcess { id: 0 }, "out")?;
        new_process(postbox_lib::connect(url)?, out)
    })
}

/// As `postbox_connect`, to the default address: `$POSTBOX_URL` if set, else the local
/// daemon's default socket (`$POSTBOX_SOCKET`, else `$XDG_RUNTIME_DIR/postbox.sock`, else
/// `/tmp/postbox-$UID/postbox.sock`).
///
/// Pointers: `out` as in `postbox_connect`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_connect_default(out: *mut PostboxProcess) -> c_int {
    call("postbox_connect_default", || {
        sys::write(out, PostboxProcess { id: 0 }, "out")?;
        new_process(postbox_lib::connect_default()?, out)
    })
}

/// As `postbox_connect`, presenting `token` (`token_len` bytes) to a TCP daemon instead of reading
/// it from the environment. Other transports ignore it.
///
/// Pointers: `url` and `out` as in `postbox_connect`; `token` points to `token_len` readable
/// bytes (any bytes, not NUL-terminated), read during the call only.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_connect_with_token(
    url: *const c_char,
    token: *const u8,
    token_len: usize,
    out: *mut PostboxProcess,
) -> c_int {
    call("postbox_connect_with_token", || {
        let url = sys::str(url, "url")?;
        let token = sys::bytes(token, token_len, "token")?;
        sys::write(out, PostboxProcess { id: 0 }, "out")?;
        new_process(postbox_lib::connect_with_token(url, token)?, out)
    })
}

/// Writes the address `postbox_connect_default` uses into `buffer`, NUL-terminated.
///
/// Pointers: `buffer` points to `capacity` writable bytes; `len`, when not NULL, receives the
/// address's length without the NUL — also when the buffer is too small, which fails with
/// `POSTBOX_STATUS_INVALID_ARGUMENT` and leaves `buffer` untouched (call again with `*len + 1`).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_default_url(
    buffer: *mut c_char,
    capacity: usize,
    len: *mut usize,
) -> c_int {
    call("postbox_default_url", || {
        sys::copy_str(&postbox_lib::default_url(), buffer, capacity, len)
    })
}

/// Starts a new in-process node of its own (independent of every other node), written to
/// `*out`. Its processes are threads of this program; it lives while the node handle or any of
/// its processes does.
///
/// Pointers: `out` points to a `postbox_node` to write.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_node_new(out: *mut PostboxNode) -> c_int {
    call("postbox_node_new", || {
        sys::write(out, PostboxNode { id: 0 }, "out")?;
        let id = NODES.insert(InprocNode::new());
        sys::write(out, PostboxNode { id }, "out")
    })
}

/// Starts a new process on `node`, written to `*out`.
///
/// Pointers: `out` points to a `postbox_process` to write.
///
/// Returns `POSTBOX_STATUS_OK`, `POSTBOX_STATUS_BAD_HANDLE` or `POSTBOX_STATUS_INVALID_ARGUMENT`.
#[unsafe(no_mangle)]
pub extern "C" fn postbox_node_process(node: PostboxNode, out: *mut PostboxProcess) -> c_int {
    call("postbox_node_process", || {
        sys::write(out, PostboxProcess { id: 0 }, "out")?;
        let node = NODES.get(node.id)?;
        new_process(node.process(), out)
    })
}

/// Frees the node handle. Its processes live on (and the node with them) until each is freed.
///
/// Returns `POSTBOX_STATUS_OK` or `POSTBOX_STATUS_BAD_HANDLE` (already freed, or never a node).
#[unsafe(no_mangle)]
pub extern "C" fn postbox_node_free(node: PostboxNode) -> c_int {
    call("postbox_node_free", || NODES.remove(node.id).map(drop))
}
