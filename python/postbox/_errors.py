"""The exceptions postbox raises: one class per error kind, all under :class:`Error`.

The native module raises these by name; each carries the Rust error's text. Where a kind has a
natural Python counterpart the class derives from it too, so ``except TimeoutError`` or
``except PermissionError`` catch postbox's as well.
"""


class Error(Exception):
    """Base class of every postbox error."""


class NotFound(Error, LookupError):
    """No such mailbox (open) or process (send_to, monitor) ever existed."""


class AlreadyExists(Error):
    """create: the mailbox exists; register: the name is taken."""


class PermissionDenied(Error, PermissionError):
    """The mailbox's mode or receive rights do not allow this; or only its owner may do it."""


class Full(Error):
    """The mailbox or inbox is full (zero capacity: no receiver waits) and the send may not wait."""


class Empty(Error):
    """Nothing matching is queued and the receive may not wait."""


class Timeout(Error, TimeoutError):
    """The timeout passed first; a send's message was not delivered."""


class TooLarge(Error, ValueError):
    """The payload is larger than the mailbox's size rule, its byte capacity or the node's maximum."""


class WrongSize(Error, ValueError):
    """The payload is not exactly the size a fixed-size mailbox requires."""


class InvalidType(Error, ValueError):
    """The message type is below 1."""


class Gone(Error):
    """The mailbox was deleted (before or while the operation waited)."""


class PeerGone(Error):
    """The process waited on (recv_from, send_to, a pair's other end) has terminated."""


class Busy(Error):
    """Another process holds the exclusive or pair right."""


class QuotaExceeded(Error):
    """A node-wide limit (queued bytes, mailboxes per user) would be passed."""


class Dropped(Error):
    """A drop-oldest mailbox discarded the message before anyone received it (receipts)."""


class InvalidName(Error, ValueError):
    """The name breaks the rule: 1 to 255 bytes of letters, digits and ``. _ / -``."""


class InvalidAttributes(Error, ValueError):
    """create: the attributes contradict each other or the node's limits; says which."""


class InvalidArgument(Error, ValueError):
    """The request does not apply to this mailbox; says why."""


class Disconnected(Error, ConnectionError):
    """The process has terminated, or its connection to the daemon was lost."""


class Protocol(Error):
    """The daemon broke the protocol."""


class LeaseEnded(Error):
    """An acknowledgement came too late: the mailbox's lease time was up first, so the message
    went back and may be delivered again."""


class ConnectError(Error, ConnectionError):
    """The daemon could not be reached (no socket there, connection refused, ...)."""


class InvalidUrl(ConnectError, ValueError):
    """The address is not a postbox URL (inproc://[NAME], unix:///PATH, tcp://HOST:PORT)."""


class HandshakeError(ConnectError):
    """The daemon refused the connection or is not a postbox daemon."""


class InvalidToken(ConnectError, ValueError):
    """The token is unusable (empty, too long, unreadable file)."""


__all__ = [name for name, value in dict(globals()).items() if isinstance(value, type)]

for _name in __all__:
    globals()[_name].__module__ = "postbox"  # tracebacks say postbox.Timeout

