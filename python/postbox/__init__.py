"""postbox: message passing between processes, from Python.

Connect to a postbox daemon (or an in-process node) as a process, then exchange messages
directly (``send_to(pid)``, ``recv_from(pid)``, ``recv_any()``) or through named mailboxes::

    import postbox

    with postbox.connect() as p:                       # the local daemon's default socket
        jobs = p.create("jobs", capacity=16)
        jobs.send("hello", type=2)
        print(jobs.recv(type=2, timeout=1.0).payload)  # b'hello'

Blocking calls release the GIL and take ``timeout=`` in seconds; ``try_*`` variants raise
:class:`Empty` / :class:`Full` at once; ``*_async`` variants are coroutines for asyncio. Every
error is a subclass of :class:`Error`, one class per kind. See docs/python.md.
"""

from ._errors import (
    AlreadyExists,
    Busy,
    ConnectError,
    Disconnected,
    Dropped,
    Empty,
    Error,
    Full,
    Gone,
    HandshakeError,
    InvalidArgument,
    InvalidAttributes,
    InvalidName,
    InvalidToken,
    InvalidType,
    InvalidUrl,
    LeaseEnded,
    NotFound,
    PeerGone,
    PermissionDenied,
    Protocol,
    QuotaExceeded,
    Timeout,
    TooLarge,
    WrongSize,
)
from ._postbox import (
    InprocNode,
    Lease,
    Mailbox,
    MailboxStats,
    Message,
    NodeStats,
    Process,
    ProcessInfo,
    connect,
    default_url,
)

__all__ = [
    "AlreadyExists",
    "Busy",
    "ConnectError",
    "Disconnected",
    "Dropped",
    "Empty",
    "Error",
    "Full",
    "Gone",
    "HandshakeError",
    "InprocNode",
    "InvalidArgument",
    "InvalidAttributes",
    "InvalidName",
    "InvalidToken",
    "InvalidType",
    "InvalidUrl",
    "Lease",
    "Mailbox",
    "MailboxStats",
    "Message",
    "NodeStats",
    "LeaseEnded",
    "NotFound",
    "PeerGone",
    "PermissionDenied",
    "Process",
    "ProcessInfo",
    "Protocol",
    "QuotaExceeded",
    "Timeout",
    "TooLarge",
    "WrongSize",
    "connect",
    "default_url",
]
