//! Every `unsafe` block of the shim: the caller's `msgbuf` and `msqid_ds`, and `errno`.
//!
//! A System V caller passes raw pointers with no length beside them but the one its man page
//! implies: `msgp` points to a `long` type followed by `msgsz` bytes of text; `buf` to a
//! `struct msqid_ds`. These helpers check for null and otherwise rely on that contract, as the C
//! library does (where the kernel would answer `EFAULT` for an unmapped address, this crashes
//! like any C function given a bad pointer).

#![allow(unsafe_code)]

use std::ffi::{c_int, c_long, c_void};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The offset of `mtext` in `struct msgbuf { long mtype; char mtext[]; }`.
const TEXT_OFFSET: usize = size_of::<c_long>();

/// Sets the calling thread's `errno`.
pub(crate) fn set_errno(value: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno, valid for the thread's life.
    unsafe { *libc::__errno_location() = value };
}

/// The type and text of the message at `msgp`, text `msgsz` bytes long. `EFAULT` for null.
pub(crate) fn read_msgbuf<'a>(
    msgp: *const c_void,
    msgsz: usize,
) -> Result<(c_long, &'a [u8]), c_int> {
    if msgp.is_null() {
        return Err(libc::EFAULT);
    }
    let base = msgp.cast::<u8>();
    // SAFETY: `msgp` is non-null; msgsnd(2) requires it to point to a `long` followed by `msgsz`
    // readable bytes, unchanged during the call. The type is read unaligned, so a misaligned
    // buffer is no undefined behaviour; bytes need no alignment.
    let (mtype, text) = unsafe {
        let mtype = base.cast::<c_long>().read_unaligned();
        let text = std::slice::from_raw_parts(base.add(TEXT_OFFSET), msgsz);
        (mtype, text)
    };
    Ok((mtype, text))
}

/// Writes a received message into the caller's buffer at `msgp`: its type, then `text` (which
/// the caller has checked fits the buffer's `msgsz`). `EFAULT` for null.
pub(crate) fn write_msgbuf(msgp: *mut c_void, mtype: c_long, text: &[u8]) -> Result<(), c_int> {
    if msgp.is_null() {
        return Err(libc::EFAULT);
    }
    let base = msgp.cast::<u8>();
    // SAFETY: `msgp` is non-null; msgrcv(2) requires it to point to a `long` followed by `msgsz`
    // writable bytes, and `text.len() <= msgsz`. The type is written unaligned; the text is a
    // Rust slice, which cannot overlap the caller's buffer.
    unsafe {
        base.cast::<c_long>().write_unaligned(mtype);
        std::ptr::copy_nonoverlapping(text.as_ptr(), base.add(TEXT_OFFSET), text.len());
    }
    Ok(())
}

/// A `msqid_ds` of zeroes, to fill in (its padding fields are private in `libc`).
pub(crate) fn empty_msqid_ds() -> libc::msqid_ds {
    // SAFETY: `msqid_ds` is a C struct of integers only, for which all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The caller's `msqid_ds` at `buf` (`IPC_SET`). `EFAULT` for null.
pub(crate) fn read_msqid_ds(buf: *const libc::msqid_ds) -> Result<libc::msqid_ds, c_int> {
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `buf` is non-null; msgctl(2) requires it to point to a `struct msqid_ds`, which
    // holds integers only, so any bytes there are a valid value. Read unaligned to be safe.
    Ok(unsafe { buf.read_unaligned() })
}

/// Writes `ds` to the caller's `msqid_ds` at `buf` (`IPC_STAT`). `EFAULT` for null.
pub(crate) fn write_msqid_ds(buf: *mut libc::msqid_ds, ds: libc::msqid_ds) -> Result<(), c_int> {
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `buf` is non-null; msgctl(2) requires it to point to writable storage for a
    // `struct msqid_ds`. Written unaligned, without reading or dropping the old contents.
    unsafe { buf.write_unaligned(ds) };
    Ok(())
}

/// Writes `info` to the caller's `msginfo` at `buf` (`IPC_INFO`, `MSG_INFO`: msgctl(2) passes
/// it where a `msqid_ds` would be). `EFAULT` for null.
pub(crate) fn write_msginfo(buf: *mut libc::msginfo, info: libc::msginfo) -> Result<(), c_int> {
    if buf.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `buf` is non-null; msgctl(2) requires it to point to writable storage for a
    // `struct msginfo` with these commands. Written unaligned, without reading the old contents.
    unsafe { buf.write_unaligned(info) };
    Ok(())
}

/// This process's effective uid and gid.
pub(crate) fn credentials() -> (u32, u32) {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// The NUL-terminated name at `name`, as bytes. `EFAULT` for null.
pub(crate) fn c_bytes<'a>(name: *const std::ffi::c_char) -> Result<&'a [u8], c_int> {
    if name.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `name` is non-null; mq_open(3) and mq_unlink(3) require a NUL-terminated string,
    // unchanged during the call.
    Ok(unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes())
}

/// The caller's `mq_attr` at `attr`, or `None` for null.
pub(crate) fn read_mq_attr(attr: *const libc::mq_attr) -> Option<libc::mq_attr> {
    if attr.is_null() {
        return None;
    }
    // SAFETY: `attr` is non-null; mq_open(3)/mq_setattr(3) require it to point to a `struct
    // mq_attr`: integers only, so any bytes there are a valid value. Read unaligned to be safe.
    Some(unsafe { attr.read_unaligned() })
}

/// Writes `attr` to the caller's `mq_attr` at `out`. `EFAULT` for null.
pub(crate) fn write_mq_attr(out: *mut libc::mq_attr, attr: libc::mq_attr) -> Result<(), c_int> {
    if out.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `out` is non-null; mq_getattr(3) requires writable storage for a `struct mq_attr`.
    unsafe { out.write_unaligned(attr) };
    Ok(())
}

/// An `mq_attr` of zeroes, to fill in (its padding is private in `libc`).
pub(crate) fn empty_mq_attr() -> libc::mq_attr {
    // SAFETY: `mq_attr` is a C struct of integers only, for which all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// The `len` bytes at `data` (a message to send). `EFAULT` for null unless `len` is 0.
pub(crate) fn bytes<'a>(data: *const std::ffi::c_char, len: usize) -> Result<&'a [u8], c_int> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() || isize::try_from(len).is_err() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `data` is non-null; mq_send(3) requires `len` readable bytes there, unchanged
    // during the call.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// Copies `text` into the caller's buffer at `data` (which the caller checked holds it).
pub(crate) fn copy_out(data: *mut std::ffi::c_char, text: &[u8]) -> Result<(), c_int> {
    if data.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `data` is non-null; mq_receive(3) requires `msg_len` writable bytes there, and the
    // caller checked `text.len() <= msg_len`. A Rust slice cannot overlap the caller's buffer.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), data.cast::<u8>(), text.len()) };
    Ok(())
}

/// Writes a received message's priority when the caller asked for it (`msg_prio` not null).
pub(crate) fn write_priority(out: *mut std::ffi::c_uint, priority: std::ffi::c_uint) {
    if !out.is_null() {
        // SAFETY: `out` is non-null; mq_receive(3) requires it to point to an `unsigned int`.
        unsafe { out.write_unaligned(priority) };
    }
}

/// The caller's absolute timeout at `abs_timeout`. `EFAULT` for null.
pub(crate) fn read_timespec(abs_timeout: *const libc::timespec) -> Result<libc::timespec, c_int> {
    if abs_timeout.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: `abs_timeout` is non-null; mq_timedsend(3) requires it to point to a `struct
    // timespec` (integers only).
    Ok(unsafe { abs_timeout.read_unaligned() })
}

/// A new descriptor number for a queue: an eventfd, so that the number is a real descriptor
/// (unique, inherited by `fork`, closed by `close`) as a Linux `mqd_t` is.
pub(crate) fn new_descriptor(cloexec: bool) -> Result<c_int, c_int> {
    let flags = if cloexec { libc::EFD_CLOEXEC } else { 0 };
    // SAFETY: eventfd takes plain integers and returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, flags) };
    if fd < 0 {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EMFILE))
    } else {
        Ok(fd)
    }
}

/// Closes a queue's descriptor number.
pub(crate) fn close_descriptor(fd: c_int) {
    // SAFETY: `fd` is a descriptor this library made with `new_descriptor` and owns.
    unsafe { libc::close(fd) };
}

/// The process's umask, which a new queue's mode is masked with (read by setting it back).
pub(crate) fn umask() -> libc::mode_t {
    // SAFETY: umask only swaps the process's file mode mask; it is set straight back.
    unsafe {
        let mask = libc::umask(0o022);
        libc::umask(mask);
        mask
    }
}

// ---- Waiting interruptibly (see `wait`): an eventfd to be woken by, signal masks, ppoll. ----

/// An eventfd that a future's waker writes to and a waiting thread polls.
#[derive(Debug)]
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    /// A new non-blocking, close-on-exec eventfd.
    pub(crate) fn new() -> Result<EventFd, c_int> {
        let fd = new_descriptor(true)?;
        // SAFETY: `fd` is a descriptor eventfd just returned, owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        set_nonblocking(owned.as_raw_fd());
        Ok(EventFd(owned))
    }

    /// Makes the eventfd readable.
    pub(crate) fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live `u64` to a descriptor this value owns; a full
        // counter (EAGAIN) already means readable, so the result needs no handling.
        unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Makes the eventfd unreadable again (reads its counter).
    pub(crate) fn drain(&self) {
        let mut count: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live `u64` from a descriptor this value owns; it
        // is non-blocking, and EAGAIN (nothing to read) is fine.
        unsafe { libc::read(self.0.as_raw_fd(), (&raw mut count).cast(), 8) };
    }
}

fn set_nonblocking(fd: c_int) {
    // SAFETY: fcntl on a descriptor the caller owns, with plain integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}

/// A set of signals.
#[derive(Clone, Copy)]
pub(crate) struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// No signal.
    pub(crate) fn empty() -> SignalSet {
        let mut set = empty_sigset();
        // SAFETY: `set` is a live `sigset_t`.
        unsafe { libc::sigemptyset(&raw mut set) };
        SignalSet(set)
    }

    /// Every signal.
    pub(crate) fn full() -> SignalSet {
        let mut set = empty_sigset();
        // SAFETY: `set` is a live `sigset_t`.
        unsafe { libc::sigfillset(&raw mut set) };
        SignalSet(set)
    }

    pub(crate) fn contains(&self, signal: c_int) -> bool {
        // SAFETY: reads a live, initialised `sigset_t`; an invalid number answers -1.
        unsafe { libc::sigismember(&raw const self.0, signal) == 1 }
    }

    pub(crate) fn insert(&mut self, signal: c_int) {
        // SAFETY: changes a live, initialised `sigset_t`; an invalid number is refused (-1).
        unsafe { libc::sigaddset(&raw mut self.0, signal) };
    }

    pub(crate) fn is_empty(&self) -> bool {
        !(1..=libc::SIGRTMAX()).any(|signal| self.contains(signal))
    }
}

impl std::fmt::Debug for SignalSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members: Vec<c_int> = (1..=libc::SIGRTMAX())
            .filter(|&s| self.contains(s))
            .collect();
        f.debug_set().entries(members).finish()
    }
}

fn empty_sigset() -> libc::sigset_t {
    // SAFETY: `sigset_t` is an array of integers, for which all zeroes is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Sets the calling thread's signal mask to `how` applied to `set`; returns the mask before.
fn thread_mask(how: c_int, set: &SignalSet) -> SignalSet {
    let mut old = empty_sigset();
    // SAFETY: both pointers are to live `sigset_t`s; pthread_sigmask changes only this
    // thread's mask (it cannot fail with a valid `how`).
    unsafe { libc::pthread_sigmask(how, &raw const set.0, &raw mut old) };
    SignalSet(old)
}

/// Blocks every signal in the calling thread; returns the mask before.
pub(crate) fn block_signals() -> SignalSet {
    thread_mask(libc::SIG_BLOCK, &SignalSet::full())
}

/// Sets the calling thread's signal mask to `mask` (signals pending and now unblocked are
/// delivered, their handlers run, before this returns).
pub(crate) fn set_signal_mask(mask: &SignalSet) {
    thread_mask(libc::SIG_SETMASK, mask);
}

/// The signals not in `blocked` whose handlers were installed with `SA_RESTART`.
pub(crate) fn restarting_handlers(blocked: &SignalSet) -> SignalSet {
    let mut set = SignalSet::empty();
    for signal in 1..=libc::SIGRTMAX() {
        if blocked.contains(signal) {
            continue;
        }
        let mut action: libc::sigaction = {
            // SAFETY: `sigaction` is a C struct of integers, pointers and a `sigset_t`, for
            // which all zeroes is a valid value.
            unsafe { std::mem::zeroed() }
        };
        // SAFETY: a null new action only reads the current one into `action`, a live struct.
        let read = unsafe { libc::sigaction(signal, std::ptr::null(), &raw mut action) };
        let handled = action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN;
        if read == 0 && handled && action.sa_flags & libc::SA_RESTART != 0 {
            set.insert(signal);
        }
    }
    set
}

/// A signalfd, readable while one of its signals is pending (it is never read: the signal
/// stays pending, for its handler).
#[derive(Debug)]
pub(crate) struct SignalFd(OwnedFd);

impl SignalFd {
    pub(crate) fn new(signals: &SignalSet) -> Result<SignalFd, c_int> {
        // SAFETY: `signals` is a live, initialised `sigset_t`; -1 asks for a new descriptor.
        let fd = unsafe {
            libc::signalfd(
                -1,
                &raw const signals.0,
                libc::SFD_CLOEXEC | libc::SFD_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(last_errno());
        }
        // SAFETY: `fd` is a descriptor signalfd just returned, owned by nobody else.
        Ok(SignalFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

fn last_errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// What a [`ppoll`] came back with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled {
    /// The eventfd is readable.
    Woken,
    /// The signalfd is readable (and the eventfd is not).
    SignalPending,
    /// A signal handler ran (`EINTR`).
    Interrupted,
    /// The timeout passed.
    TimedOut,
}

/// Waits until `events` (or `signals`, when given) is readable, a signal handler runs, or
/// `timeout` passes — with the thread's signal mask set to `mask` for the wait alone, atomically
/// (so a signal blocked until now and pending is delivered here, and interrupts the wait).
pub(crate) fn ppoll(
    events: &EventFd,
    signals: Option<&SignalFd>,
    timeout: Option<std::time::Duration>,
    mask: &SignalSet,
) -> Result<Polled, c_int> {
    let mut fds = [
        libc::pollfd {
            fd: events.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signals.map_or(-1, |s| s.0.as_raw_fd()), // a negative fd is skipped
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let time = timeout.map(|left| libc::timespec {
        tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
    });
    let time_ptr = time.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
    // SAFETY: `fds` is a live array of two `pollfd`s, `time_ptr` null or a live `timespec`,
    // `mask` a live, initialised `sigset_t`; ppoll writes only `revents`.
    let ready = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, time_ptr, &raw const mask.0) };
    if ready < 0 {
        let errno = last_errno();
        return if errno == libc::EINTR {
            Ok(Polled::Interrupted)
        } else {
            Err(errno)
        };
    }
    Ok(if fds[0].revents != 0 {
        Polled::Woken
    } else if fds[1].revents != 0 {
        Polled::SignalPending
    } else {
        Polled::TimedOut
    })
}

// ---- mq_notify: the caller's `sigevent`, and delivering a notification. ----

/// The leading fields of glibc's `struct sigevent` (64 bytes in all): the value, the signal, how
/// to notify, and for `SIGEV_THREAD` the function and its thread attributes (a union with
/// `sigev_notify_thread_id`, which the `libc` crate exposes instead).
#[repr(C)]
#[derive(Clone, Copy)]
struct CSigevent {
    value: libc::sigval,
    signo: c_int,
    notify: c_int,
    function: Option<extern "C" fn(libc::sigval)>,
    _attributes: *mut c_void,
}

/// What a caller's `sigevent` asks for, read out of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sigevent {
    /// `sigev_notify`.
    pub(crate) notify: c_int,
    /// `sigev_signo`.
    pub(crate) signo: c_int,
    /// `sigev_value`, as the pointer-sized integer it is passed as.
    pub(crate) value: usize,
    /// `sigev_notify_function`.
    pub(crate) function: Option<extern "C" fn(libc::sigval)>,
}

/// The caller's `sigevent` at `sevp`, or `None` for null.
pub(crate) fn read_sigevent(sevp: *const libc::sigevent) -> Option<Sigevent> {
    if sevp.is_null() {
        return None;
    }
    // SAFETY: `sevp` is non-null; mq_notify(3) requires it to point to a `struct sigevent`
    // (64 bytes), whose first 32 bytes `CSigevent` lays out as glibc does: a pointer-sized value,
    // two ints, then a function pointer (null or a function, as `Option` of a fn pointer
    // allows) and a pointer. Read unaligned.
    let raw = unsafe { sevp.cast::<CSigevent>().read_unaligned() };
    Some(Sigevent {
        notify: raw.notify,
        signo: raw.signo,
        value: raw.value.sival_ptr as usize,
        function: raw.function,
    })
}

/// Calls a `SIGEV_THREAD` notification function with its value.
pub(crate) fn call_notify_function(function: extern "C" fn(libc::sigval), value: usize) {
    function(libc::sigval {
        sival_ptr: value as *mut c_void,
    });
}

/// `si_code` of a message queue notification.
const SI_MESGQ: c_int = -3;

/// The leading fields of Linux's `siginfo_t` (128 bytes) for a queued signal: `si_pid`,
/// `si_uid` and `si_value` follow the three ints at offset 16.
#[repr(C)]
#[allow(dead_code)] // read by the kernel
struct CSiginfo {
    signo: c_int,
    errno: c_int,
    code: c_int,
    pad: c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: usize,
    rest: [u64; 12],
}

/// Sends `signo` to this process as the kernel sends a queue notification: `si_code`
/// `SI_MESGQ`, the sender's pid and uid, and the registration's value.
pub(crate) fn queue_signal(signo: c_int, value: usize, sender_pid: libc::pid_t, sender_uid: u32) {
    let info = CSiginfo {
        signo,
        errno: 0,
        code: SI_MESGQ,
        pad: 0,
        pid: sender_pid,
        uid: sender_uid,
        value,
        rest: [0; 12],
    };
    // SAFETY: rt_sigqueueinfo reads a 128-byte `siginfo_t` from a live `CSiginfo` of that size;
    // a process may send itself any negative `si_code`.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigqueueinfo,
            libc::getpid(),
            signo,
            &raw const info,
        )
    };
}

/// The real uid of this process.
pub(crate) fn uid() -> u32 {
    // SAFETY: getuid cannot fail and touches no memory.
    unsafe { libc::getuid() }
}
