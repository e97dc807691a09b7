"""asyncio: the *_async coroutines, and what cancelling them does."""

import asyncio

import pytest

import postbox
from conftest import PATIENCE


async def until(check, what):
    """Polls ``check()`` on the loop until it is true, failing after PATIENCE seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not check():
        assert loop.time() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.005)


def test_recv_async_gets_what_another_process_sends(connect, name):
    owner, other = connect(), connect()
    box = owner.create(name, mode=0o666)
    theirs = other.open(name)

    async def main():
        receiving = asyncio.ensure_future(box.recv_async())
        await until(lambda: box.stat().blocked_receivers == 1, "the receive waits")
        await theirs.send_async("async hello", type=3)
        return await asyncio.wait_for(receiving, PATIENCE)

    got = asyncio.run(main())
    assert (got.payload, got.type, got.sender) == (b"async hello", 3, other.pid)


def test_async_typed_receive_and_inbox(connect, name):
    alice, bob = connect(), connect()
    box = alice.create(name)

    async def main():
        box.send(b"one", type=1)
        box.send(b"two", type=2)
        typed = await box.recv_async(type=2)
        await alice.send_to_async(bob.pid, b"direct")
        direct = await bob.recv_from_async(alice.pid)
        await bob.send_to_async(alice.pid, b"back")
        anyone = await alice.recv_any_async()
        return typed, direct, anyone

    typed, direct, anyone = asyncio.run(main())
    assert (typed.payload, direct.payload, anyone.payload) == (b"two", b"direct", b"back")


def test_cancelling_a_waiting_recv_loses_nothing(process, name):
    box = process.create(name)

    async def main():
        receiving = asyncio.ensure_future(box.recv_async())
        await until(lambda: box.stat().blocked_receivers == 1, "the receive waits")
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiving
        await until(lambda: box.stat().blocked_receivers == 0, "the receive is withdrawn")
        box.send(b"after the cancel")
        # The cancelled receive did not take it: it is still there for the next receiver.
        return await asyncio.wait_for(box.recv_async(), PATIENCE)

    assert asyncio.run(main()).payload == b"after the cancel"
    assert box.stat().messages == 0


def test_wait_for_timeout_withdraws_the_receive(connect):
    alice, bob = connect(), connect()

    def bob_waits():
        return any(info.pid == bob.pid and info.waiting for info in alice.ps())

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(bob.recv_from_async(alice.pid), 0.05)
        # The withdrawal travels to the daemon on its own (see docs/python.md, "asyncio"): a
        # message sent before it arrives would go to the withdrawn receive.
        await until(lambda: not bob_waits(), "the receive is withdrawn")
        alice.send_to(bob.pid, b"later")
        return bob.recv_from(alice.pid, timeout=PATIENCE)

    assert asyncio.run(main()).payload == b"later"


def test_cancelling_a_waiting_send_does_not_deliver(process, name):
    box = process.create(name, capacity=1)
    box.send(b"first")

    async def main():
        sending = asyncio.ensure_future(box.send_async(b"cancelled"))
        await until(lambda: box.stat().blocked_senders == 1, "the send waits")
        sending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sending
        await until(lambda: box.stat().blocked_senders == 0, "the send is withdrawn")

    asyncio.run(main())
    assert box.recv(timeout=5).payload == b"first"
    with pytest.raises(postbox.Empty):
        box.try_recv()


def test_async_errors_are_the_same_exceptions(process, name):
    box = process.create(name)

    async def main():
        receiving = asyncio.ensure_future(box.recv_async())
        await until(lambda: box.stat().blocked_receivers == 1, "the receive waits")
        box.delete()
        with pytest.raises(postbox.Gone):
            await asyncio.wait_for(receiving, PATIENCE)
        with pytest.raises(postbox.TooLarge):
            await process.create(name + "x", max_size=2).send_async(b"too big")

    asyncio.run(main())


def test_many_concurrent_receivers_each_get_one(connect, name):
    owner = connect()
    box = owner.create(name, mode=0o666, receivers="first-waiting")
    receivers = [connect().open(name) for _ in range(4)]

    async def main():
        tasks = [asyncio.ensure_future(r.recv_async()) for r in receivers]
        await until(lambda: box.stat().blocked_receivers == 4, "all four wait")
        for i in range(4):
            await box.send_async(f"m{i}")
        return await asyncio.wait_for(asyncio.gather(*tasks), PATIENCE)

    got = sorted(m.payload for m in asyncio.run(main()))
    assert got == [b"m0", b"m1", b"m2", b"m3"]


def completed_then_cancelled(make_task):
    """A receive whose message is in (an in-process send completes it at once) but whose task
    is cancelled before it resumes: the race between completion and cancellation, made certain."""
    node = postbox.InprocNode()
    owner, other = node.process(), node.process()
    box = owner.create("raced", mode=0o666, receivers="first-waiting")
    theirs = other.open("raced")

    async def main():
        task = make_task(theirs)
        await until(lambda: box.stat().blocked_receivers == 1, "the receive waits")
        box.send(b"raced")  # completes the waiting receive now, inside this call
        task.cancel()  # before the task has run again
        return await asyncio.gather(task, return_exceptions=True)

    (outcome,) = asyncio.run(main())
    return outcome, box, owner  # the owner too: its mailbox lives while it does


def test_a_receive_completed_as_its_task_is_cancelled_returns_the_message():
    outcome, box, _owner = completed_then_cancelled(
        lambda mb: asyncio.ensure_future(mb.recv_async())
    )
    assert isinstance(outcome, postbox.Message) and outcome.payload == b"raced"
    with pytest.raises(postbox.Empty):
        box.try_recv()


def test_a_caller_gets_the_raced_message_then_the_cancellation():
    got = []

    async def consumer(mailbox):
        got.append(await mailbox.recv_async())
        await asyncio.sleep(3600)  # the cancellation arrives here

    outcome, _, _ = completed_then_cancelled(lambda mb: asyncio.ensure_future(consumer(mb)))
    assert isinstance(outcome, asyncio.CancelledError)
    assert [m.payload for m in got] == [b"raced"]
