"""One exception class per error kind, each carrying the Rust error's text."""

import os
import threading

import pytest

import postbox
from conftest import PATIENCE, eventually


def test_every_exception_is_a_postbox_error_with_python_bases():
    assert issubclass(postbox.Timeout, TimeoutError)
    assert issubclass(postbox.PermissionDenied, PermissionError)
    assert issubclass(postbox.NotFound, LookupError)
    assert issubclass(postbox.InvalidName, ValueError)
    assert issubclass(postbox.ConnectError, ConnectionError)
    assert issubclass(postbox.InvalidUrl, postbox.ConnectError)
    for exported in postbox.__all__:
        value = getattr(postbox, exported)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, postbox.Error), exported


def test_open_and_create_errors(process, name):
    with pytest.raises(postbox.NotFound, match="no such mailbox"):
        process.open(name)
    process.create(name)
    with pytest.raises(postbox.AlreadyExists, match="already exists"):
        process.create(name)
    assert process.open_or_create(name).name == name
    with pytest.raises(postbox.InvalidName, match="invalid name"):
        process.create("no spaces allowed")
    with pytest.raises(postbox.InvalidAttributes, match="drop-oldest"):
        process.create(name + "x", capacity="unbounded", overflow="drop-oldest")


def test_bad_attribute_values_are_value_errors(process, name):
    with pytest.raises(ValueError, match="order must be one of fifo, priority"):
        process.create(name, order="lifo")
    with pytest.raises(ValueError, match="capacity"):
        process.create(name, capacity=-1)
    with pytest.raises(ValueError, match="capacity"):
        process.create(name, capacity="huge")
    with pytest.raises(ValueError, match="mode"):
        process.create(name, mode=0o1777)
    with pytest.raises(ValueError, match="max_bytes"):
        process.create(name, capacity=0, max_bytes=10)
    with pytest.raises(ValueError, match="not both"):
        process.create(name, max_size=4, fixed_size=4)
    with pytest.raises(postbox.NotFound):
        process.open(name)  # none of those created it


def test_size_and_type_errors(process, name):
    small = process.create(name, max_size=4)
    with pytest.raises(postbox.TooLarge, match="too large"):
        small.send(b"12345")
    fixed = process.create(name + "f", fixed_size=3)
    with pytest.raises(postbox.WrongSize, match="wrong size"):
        fixed.send(b"12")
    fixed.send(b"123")
    with pytest.raises(postbox.InvalidType, match="at least 1"):
        small.send(b"x", type=0)
    with pytest.raises(OverflowError):
        small.send(b"x", priority=70000)


def test_gone_after_delete(connect, name):
    owner, other = connect(), connect()
    box = owner.create(name, mode=0o666)
    theirs = other.open(name)
    box.delete()
    with pytest.raises(postbox.Gone, match="gone"):
        theirs.send(b"x")
    with pytest.raises(postbox.Gone):
        box.try_recv()
    with pytest.raises(postbox.Gone):
        box.stat()


def test_permission_denied_for_a_non_owner_receiver(connect, name):
    owner, other = connect(), connect()
    owner.create(name, mode=0o666)  # receivers: owner only (process-owned default)
    theirs = other.open(name)
    theirs.send(b"may send")
    with pytest.raises(postbox.PermissionDenied, match="permission denied"):
        theirs.try_recv()


def test_busy_exclusive_receive(connect, name):
    owner, a, b = connect(), connect(), connect()
    owner.create(name, ownership="system", receivers="exclusive", mode=0o666).send(b"x")
    first = a.open(name)
    assert first.recv(timeout=PATIENCE).payload == b"x"
    with pytest.raises(postbox.Busy, match="busy"):
        b.open(name).try_recv()
    first.delete()


def test_peer_gone_and_not_found_for_direct_sends(connect):
    p = connect()
    with pytest.raises(postbox.NotFound, match="no such process"):
        p.send_to(10**12, b"x")


def test_connect_errors(tmp_path):
    with pytest.raises(postbox.ConnectError, match="cannot reach"):
        postbox.connect(f"unix://{tmp_path}/nobody-here.sock")
    with pytest.raises(postbox.InvalidUrl, match="invalid postbox URL"):
        postbox.connect("http://example")
    with pytest.raises(postbox.InvalidToken):
        postbox.connect("tcp://127.0.0.1:1", token=b"")


def test_closed_handles_raise_value_error_not_panic(process, name):
    box = process.create(name)
    box.close()
    for call in (box.try_recv, box.stat, box.delete, lambda: box.send(b"x")):
        with pytest.raises(ValueError):
            call()
