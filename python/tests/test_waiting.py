"""Blocking, non-blocking and timed operations, and the GIL while they wait."""

import threading
import time

import pytest

import postbox
from conftest import eventually


def test_recv_timeout_raises_timeout_within_bounds(process, name):
    box = process.create(name)
    start = time.monotonic()
    with pytest.raises(postbox.Timeout) as raised:
        box.recv(timeout=0.2)
    elapsed = time.monotonic() - start
    assert 0.2 <= elapsed < 2.0
    assert isinstance(raised.value, TimeoutError)
    assert isinstance(raised.value, postbox.Error)
    assert "timed out" in str(raised.value)


def test_inbox_timeout(process):
    start = time.monotonic()
    with pytest.raises(postbox.Timeout):
        process.recv_any(timeout=0.1)
    assert 0.1 <= time.monotonic() - start < 2.0


def test_try_recv_on_an_empty_mailbox_raises_empty(process, name):
    box = process.create(name)
    with pytest.raises(postbox.Empty, match="empty"):
        box.try_recv()
    with pytest.raises(postbox.Timeout):  # a zero timeout is a timeout, as in Rust
        box.recv(timeout=0)


def test_a_full_bounded_mailbox_refuses_or_times_out(process, name):
    box = process.create(name, capacity=2)
    box.send(b"1")
    box.try_send(b"2")
    with pytest.raises(postbox.Full, match="full"):
        box.try_send(b"3")
    start = time.monotonic()
    with pytest.raises(postbox.Timeout):
        box.send(b"3", timeout=0.1)
    assert time.monotonic() - start >= 0.1
    assert box.stat().messages == 2  # neither failed send was queued


def test_byte_capacity_counts_too(process, name):
    box = process.create(name, capacity=10, max_bytes=4)
    box.send(b"abc")
    with pytest.raises(postbox.Full):
        box.try_send(b"de")


def test_bad_timeouts_are_value_errors(process, name):
    box = process.create(name)
    for bad in (-1, -0.001, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            box.recv(timeout=bad)
    box.send(b"x", timeout=float("inf"))
    assert box.recv(timeout=float("inf")).payload == b"x"


def test_blocked_recv_releases_the_gil(connect, name):
    """While one Python thread waits in recv, another runs Python code and sends to it."""
    owner, other = connect(), connect()
    box = owner.create(name, mode=0o666, receivers="first-waiting")
    theirs = other.open(name)
    got = []
    waiter = threading.Thread(target=lambda: got.append(theirs.recv(timeout=PATIENCE_WAIT)))
    waiter.start()
    # Had the waiter kept the GIL, this thread could not even poll until its recv timed out.
    eventually(lambda: box.stat().blocked_receivers == 1, "the receiver waits")
    assert waiter.is_alive()
    box.send(b"wake up")
    waiter.join(PATIENCE_WAIT)
    assert not waiter.is_alive()
    assert got[0].payload == b"wake up"


PATIENCE_WAIT = 30.0


def test_blocked_send_releases_the_gil(process, name):
    box = process.create(name, capacity=1)
    box.send(b"first")
    errors = []

    def send():
        try:
            box.send(b"second", timeout=PATIENCE_WAIT)
        except postbox.Error as error:  # pragma: no cover - reported below
            errors.append(error)

    sender = threading.Thread(target=send)
    sender.start()
    eventually(lambda: box.stat().blocked_senders == 1, "the sender waits")
    assert box.recv(timeout=5).payload == b"first"
    sender.join(PATIENCE_WAIT)
    assert not errors
    assert box.recv(timeout=5).payload == b"second"
