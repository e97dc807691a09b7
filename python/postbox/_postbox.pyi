"""Type stubs of the native module ``postbox._postbox`` (re-exported by ``postbox``)."""

from typing import Any, Coroutine, Iterable, List, Literal, Optional, Type, Union

from types import TracebackType

Payload = Union[bytes, bytearray, memoryview, str]
Capacity = Union[int, Literal["unbounded"]]
OrderName = Literal["fifo", "priority"]
OverflowName = Literal["block", "drop-oldest"]
OwnershipName = Literal["process", "system"]
ReceiversName = Literal["owner", "exclusive", "round-robin", "first-waiting", "pair", "broadcast"]

def connect(url: Optional[str] = None, *, token: Optional[bytes] = None) -> Process: ...
def default_url() -> str: ...

class InprocNode:
    def __init__(self) -> None: ...
    def process(self) -> Process: ...

class Message:
    @property
    def payload(self) -> bytes: ...
    @property
    def type(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def sender(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def attempt(self) -> int: ...
    @property
    def sent_at(self) -> float: ...
    @property
    def is_down(self) -> bool: ...
    def text(self, errors: str = "strict") -> str: ...
    def __bytes__(self) -> bytes: ...
    def __len__(self) -> int: ...

class Lease:
    @property
    def message(self) -> Message: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def settled(self) -> bool: ...
    def ack(self) -> None: ...
    def nack(self) -> None: ...
    def __enter__(self) -> Lease: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc_value: Optional[BaseException] = None,
        traceback: Optional[TracebackType] = None,
    ) -> bool: ...

class MailboxStats:
    id: int
    name: str
    messages: int
    bytes: int
    capacity: Literal["zero", "bounded", "unbounded"]
    max_messages: Optional[int]
    max_bytes: Optional[int]
    max_size: int
    fixed_size: bool
    order: OrderName
    overflow: OverflowName
    ownership: OwnershipName
    receivers: ReceiversName
    mode: int
    owner_pid: Optional[int]
    uid: int
    gid: int
    total_sent: int
    total_received: int
    dropped: int
    last_sender: Optional[int]
    last_receiver: Optional[int]
    created: float
    changed: float
    blocked_senders: int
    blocked_receivers: int
    openers: int

class ProcessInfo:
    pid: int
    name: Optional[str]
    uid: int
    gid: int
    inbox_messages: int
    owned_mailboxes: int
    waiting: int

class NodeStats:
    processes: int
    mailboxes: int
    queued_messages: int
    queued_bytes: int
    max_queued_bytes: int
    total_sent: int
    total_received: int
    total_dropped: int

class Mailbox:
    @property
    def name(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Mailbox: ...
    def __exit__(self, *exc: Any) -> bool: ...
    def send(
        self, payload: Payload, *, type: int = 1, priority: int = 0, timeout: Optional[float] = None
    ) -> Optional[int]: ...
    def try_send(self, payload: Payload, *, type: int = 1, priority: int = 0) -> Optional[int]: ...
    def send_async(
        self, payload: Payload, *, type: int = 1, priority: int = 0
    ) -> Coroutine[Any, Any, Optional[int]]: ...
    def send_with_receipt(
        self, payload: Payload, *, type: int = 1, priority: int = 0, timeout: Optional[float] = None
    ) -> int: ...
    def send_batch(self, payloads: Iterable[Payload], *, timeout: Optional[float] = None) -> None: ...
    def recv(
        self,
        *,
        type: Optional[int] = None,
        not_type: Optional[int] = None,
        type_at_most: Optional[int] = None,
        sender: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Message: ...
    def try_recv(
        self,
        *,
        type: Optional[int] = None,
        not_type: Optional[int] = None,
        type_at_most: Optional[int] = None,
        sender: Optional[int] = None,
    ) -> Message: ...
    def recv_async(
        self,
        *,
        type: Optional[int] = None,
        not_type: Optional[int] = None,
        type_at_most: Optional[int] = None,
        sender: Optional[int] = None,
    ) -> Coroutine[Any, Any, Message]: ...
    def recv_many(self, max: int, *, timeout: Optional[float] = None) -> List[Message]: ...
    def lease(self, *, timeout: Optional[float] = None) -> Lease: ...
    def try_lease(self) -> Lease: ...
    def stat(self) -> MailboxStats: ...
    def delete(self) -> None: ...
    def set_mode(self, mode: int) -> None: ...
    def set_max_bytes(self, max_bytes: int) -> None: ...
    def grant_receive(self, grantee: int) -> None: ...
    def revoke_receive(self, grantee: int) -> None: ...

class Process:
    @property
    def pid(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Process: ...
    def __exit__(self, *exc: Any) -> bool: ...
    def create(
        self,
        name: str,
        *,
        capacity: Optional[Capacity] = None,
        max_bytes: Optional[int] = None,
        max_size: Optional[int] = None,
        fixed_size: Optional[int] = None,
        order: Optional[OrderName] = None,
        overflow: Optional[OverflowName] = None,
        ownership: Optional[OwnershipName] = None,
        receivers: Optional[ReceiversName] = None,
        mode: Optional[int] = None,
    ) -> Mailbox: ...
    def open(self, name: str) -> Mailbox: ...
    def open_or_create(
        self,
        name: str,
        *,
        capacity: Optional[Capacity] = None,
        max_bytes: Optional[int] = None,
        max_size: Optional[int] = None,
        fixed_size: Optional[int] = None,
        order: Optional[OrderName] = None,
        overflow: Optional[OverflowName] = None,
        ownership: Optional[OwnershipName] = None,
        receivers: Optional[ReceiversName] = None,
        mode: Optional[int] = None,
    ) -> Mailbox: ...
    def send_to(
        self,
        to: int,
        payload: Payload,
        *,
        type: int = 1,
        priority: int = 0,
        timeout: Optional[float] = None,
    ) -> None: ...
    def try_send_to(self, to: int, payload: Payload, *, type: int = 1, priority: int = 0) -> None: ...
    def send_to_async(
        self, to: int, payload: Payload, *, type: int = 1, priority: int = 0
    ) -> Coroutine[Any, Any, None]: ...
    def send_to_with_receipt(
        self,
        to: int,
        payload: Payload,
        *,
        type: int = 1,
        priority: int = 0,
        timeout: Optional[float] = None,
    ) -> None: ...
    def recv(
        self,
        *,
        type: Optional[int] = None,
        not_type: Optional[int] = None,
        type_at_most: Optional[int] = None,
        sender: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Message: ...
    def try_recv(
        self,
        *,
        type: Optional[int] = None,
        not_type: Optional[int] = None,
        type_at_most: Optional[int] = None,
        sender: Optional[int] = None,
    ) -> Message: ...
    def recv_async(
        self,
        *,
        type: Optional[int] = None,
        not_type: Optional[int] = None,
        type_at_most: Optional[int] = None,
        sender: Optional[int] = None,
    ) -> Coroutine[Any, Any, Message]: ...
    def recv_any(self, *, timeout: Optional[float] = None) -> Message: ...
    def try_recv_any(self) -> Message: ...
    def recv_any_async(self) -> Coroutine[Any, Any, Message]: ...
    def recv_from(self, sender: int, *, timeout: Optional[float] = None) -> Message: ...
    def try_recv_from(self, sender: int) -> Message: ...
    def recv_from_async(self, sender: int) -> Coroutine[Any, Any, Message]: ...
    def monitor(self, target: int) -> None: ...
    def demonitor(self, target: int) -> None: ...
    def register(self, name: str) -> None: ...
    def whereis(self, name: str) -> Optional[int]: ...
    def ls(self) -> List[MailboxStats]: ...
    def ps(self) -> List[ProcessInfo]: ...
    def node_stats(self) -> NodeStats: ...
