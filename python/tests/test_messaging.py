"""Sending and receiving: payload types, message attributes, selectors, order, batches, stats."""

import time

import pytest

import postbox


def test_bytes_round_trip_keeps_payload_and_attributes(process, name):
    box = process.create(name)
    before = time.time()
    box.send(b"\x00binary\xff", type=7, priority=3)
    got = box.recv(timeout=5)
    assert got.payload == b"\x00binary\xff"
    assert isinstance(got.payload, bytes)
    assert (got.type, got.priority, got.sender, got.is_down) == (7, 3, process.pid, False)
    assert before - 1 <= got.sent_at <= time.time() + 1
    assert bytes(got) == b"\x00binary\xff" and len(got) == 8


def test_str_is_sent_as_utf8_and_received_as_bytes(process, name):
    box = process.create(name)
    box.send("héllo ✉")
    got = box.recv(timeout=5)
    assert got.payload == "héllo ✉".encode()
    assert got.text() == "héllo ✉"


def test_bytearray_and_memoryview_are_payloads_too(process, name):
    box = process.create(name)
    box.send(bytearray(b"array"))
    box.send(memoryview(b"xviewx")[1:5])
    assert [box.recv(timeout=5).payload for _ in range(2)] == [b"array", b"view"]


def test_other_payload_types_are_a_type_error(process, name):
    box = process.create(name)
    for bad in (42, None, ["list"], 3.5):
        with pytest.raises(TypeError, match="payload"):
            box.send(bad)
    assert box.stat().messages == 0


def test_sequence_numbers_increase(process, name):
    box = process.create(name)
    box.send_batch([b"a", b"b", b"c"])
    seqs = [m.seq for m in box.recv_many(10, timeout=5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


def test_typed_receive_takes_the_selected_message(process, name):
    box = process.create(name)
    for payload, mtype in ((b"five", 5), (b"one", 1), (b"three", 3), (b"two", 2)):
        box.send(payload, type=mtype)
    assert box.recv(type=3, timeout=5).payload == b"three"
    assert box.recv(type_at_most=4, timeout=5).payload == b"one"  # lowest type <= 4
    assert box.recv(not_type=5, timeout=5).payload == b"two"
    assert box.try_recv().payload == b"five"
    with pytest.raises(postbox.Empty):
        box.try_recv(type=9)


def test_receive_by_sender(connect, name):
    owner, other = connect(), connect()
    box = owner.create(name, mode=0o666)
    theirs = other.open(name)
    theirs.send(b"from other")
    box.send(b"from owner")
    assert box.recv(sender=other.pid, timeout=5).payload == b"from other"
    assert box.recv(sender=owner.pid, timeout=5).payload == b"from owner"


def test_two_selectors_at_once_are_a_value_error(process, name):
    box = process.create(name)
    with pytest.raises(ValueError, match="at most one"):
        box.recv(type=1, not_type=2, timeout=0)


def test_priority_order_serves_highest_first(process, name):
    box = process.create(name, order="priority")
    for payload, priority in ((b"low", 1), (b"high", 9), (b"mid", 5), (b"high2", 9)):
        box.send(payload, priority=priority)
    got = [box.recv(timeout=5).payload for _ in range(4)]
    assert got == [b"high", b"high2", b"mid", b"low"]


def test_direct_messages_between_processes(connect):
    alice, bob = connect(), connect()
    alice.send_to(bob.pid, "hi bob", type=4)
    got = bob.recv_any(timeout=5)
    assert (got.payload, got.sender, got.type) == (b"hi bob", alice.pid, 4)
    alice.send_to(bob.pid, b"first")
    bob.send_to(bob.pid, b"self")
    assert bob.recv_from(bob.pid, timeout=5).payload == b"self"
    assert bob.try_recv_from(alice.pid).payload == b"first"
    with pytest.raises(postbox.Empty):
        bob.try_recv_any()


def test_inbox_typed_receive(connect):
    alice, bob = connect(), connect()
    alice.send_to(bob.pid, b"a", type=2)
    alice.send_to(bob.pid, b"b", type=3)
    assert bob.recv(type=3, timeout=5).payload == b"b"
    assert bob.try_recv().payload == b"a"


def test_stat_ls_and_ps_report_the_node(connect, name):
    process = connect()
    process.register(name)
    box = process.create(name, capacity=8, max_bytes=4096, max_size=256, mode=0o640)
    box.send(b"12345")
    stats = box.stat()
    assert (stats.name, stats.messages, stats.bytes) == (name, 1, 5)
    assert (stats.capacity, stats.max_messages, stats.max_bytes) == ("bounded", 8, 4096)
    assert (stats.max_size, stats.fixed_size, stats.mode) == (256, False, 0o640)
    assert (stats.owner_pid, stats.last_sender, stats.total_sent) == (process.pid, process.pid, 1)
    assert name in [s.name for s in process.ls()]
    me = [info for info in process.ps() if info.pid == process.pid]
    assert len(me) == 1 and me[0].name == name
    assert process.whereis(name) == process.pid
    assert process.node_stats().mailboxes >= 1


def test_rendezvous_send_names_the_receiver(connect, name):
    import threading

    sender, receiver = connect(), connect()
    box = sender.create(name, capacity=0, receivers="first-waiting", mode=0o666)
    theirs = receiver.open(name)
    got = []
    thread = threading.Thread(target=lambda: got.append(theirs.recv(timeout=10)))
    thread.start()
    assert box.send(b"meet", timeout=10) == receiver.pid
    thread.join(10)
    assert got[0].payload == b"meet"


def test_inproc_node_needs_no_daemon():
    node = postbox.InprocNode()
    with node.process() as a, node.process() as b:
        a.send_to(b.pid, "local")
        assert b.recv_any(timeout=5).payload == b"local"
    with postbox.connect("inproc://py-test") as c, postbox.connect("inproc://py-test") as d:
        box = c.create("shared", mode=0o666, receivers="first-waiting")
        d.open("shared").send(b"x")
        assert box.recv(timeout=5).payload == b"x"
