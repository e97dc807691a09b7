"""Context managers, peer death, monitors and leases."""

import threading

import pytest

import postbox
from conftest import PATIENCE, eventually


def test_a_process_is_a_context_manager_that_terminates(connect, daemon_url, name):
    observer = connect()
    with postbox.connect(daemon_url) as p:
        p.create(name)
        assert observer.open(name).name == name
        pid = p.pid
    assert p.closed
    with pytest.raises(ValueError, match="closed process"):
        p.create(name + "2")
    # Its process-owned mailbox went with it; sending to it is PeerGone.
    with pytest.raises(postbox.NotFound):
        observer.open(name)
    with pytest.raises(postbox.PeerGone):
        observer.send_to(pid, b"anyone?")
    p.close()  # idempotent


def test_a_mailbox_is_a_context_manager_that_closes_the_handle(process, name):
    with process.create(name) as box:
        box.send(b"kept")
    assert box.closed
    with pytest.raises(ValueError, match="closed mailbox"):
        box.try_recv()
    # Closing a handle does not delete the mailbox.
    assert process.open(name).try_recv().payload == b"kept"


def test_a_waiting_recv_from_gets_peer_gone_when_the_peer_closes(connect):
    waiter, doomed = connect(), connect()
    outcome = []

    def wait():
        try:
            waiter.recv_from(doomed.pid, timeout=PATIENCE)
        except postbox.Error as error:
            outcome.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    eventually(
        lambda: any(i.pid == waiter.pid and i.waiting for i in waiter.ps()), "the waiter waits"
    )
    doomed.close()
    thread.join(PATIENCE)
    assert len(outcome) == 1 and isinstance(outcome[0], postbox.PeerGone)
    assert "peer process is gone" in str(outcome[0])


def test_monitor_delivers_a_down_notification_then_peer_gone(connect):
    waiter, doomed = connect(), connect()
    waiter.monitor(doomed.pid)
    doomed.send_to(waiter.pid, b"last words")
    doomed.close()
    assert waiter.recv_from(doomed.pid, timeout=PATIENCE).payload == b"last words"
    down = waiter.recv_from(doomed.pid, timeout=PATIENCE)
    assert down.is_down and down.sender == doomed.pid
    with pytest.raises(postbox.PeerGone):
        waiter.recv_from(doomed.pid, timeout=PATIENCE)


def test_closing_a_process_ends_its_own_waiting_receive(connect):
    p = connect()
    outcome = []

    def wait():
        try:
            p.recv_any(timeout=PATIENCE)
        except postbox.Error as error:
            outcome.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    eventually(lambda: any(i.pid == p.pid and i.waiting for i in p.ps()), "the receive waits")
    p.close()
    thread.join(PATIENCE)
    assert len(outcome) == 1 and isinstance(outcome[0], postbox.Disconnected)


def test_lease_ack_and_nack(process, name):
    box = process.create(name)
    box.send_batch([b"a", b"b"])
    first = box.lease(timeout=PATIENCE)
    assert (first.payload, first.message.type, first.settled) == (b"a", 1, False)
    assert first.message.attempt == 1
    first.nack()
    assert first.settled
    with pytest.raises(ValueError, match="already settled"):
        first.ack()
    again = box.lease(timeout=PATIENCE)
    assert (again.payload, again.message.attempt) == (b"a", 2), "delivered a second time"
    again.ack()
    assert box.try_recv().payload == b"b"
    with pytest.raises(postbox.Empty):
        box.try_lease()


def test_lease_context_manager_acks_on_success_and_gives_back_on_error(process, name):
    box = process.create(name)
    box.send(b"job")
    with pytest.raises(RuntimeError):
        with box.lease(timeout=PATIENCE) as job:
            assert job.payload == b"job"
            raise RuntimeError("worker failed")
    with box.lease(timeout=PATIENCE) as job:
        assert job.payload == b"job"  # given back, delivered again
    assert job.settled
    with pytest.raises(postbox.Empty):
        box.try_recv()


def test_an_unsettled_lease_collected_gives_the_message_back(process, name):
    import gc

    box = process.create(name)
    box.send(b"dropped lease")
    lease = box.lease(timeout=PATIENCE)
    del lease
    gc.collect()
    assert box.recv(timeout=PATIENCE).payload == b"dropped lease"
