"""Runs a native postbox operation on the asyncio event loop (internal).

The operation wraps one of the Rust library's futures. It is polled here, on the loop's thread,
whenever its waker has written to the socket pair whose end ``fileno()`` the loop watches. No
thread ever takes the GIL to wake us, and cancellation happens here, in step with the polls.

Cancellation: when the task is cancelled while the operation waits, ``op.cancel()`` withdraws it
(the library drops the request: a receive stops waiting and takes nothing, a send is not
delivered). If the operation had completed by then (its result crossed the cancellation), the
result is not thrown away: the coroutine returns it (see ``_completed_despite_cancel``).
"""

import asyncio
import sys


def _completed_despite_cancel(frame) -> None:
    """The operation completed as the task was cancelled: keep the result, and settle the
    cancellation so that it costs nothing.

    If ``run``'s coroutine (running ``frame``) is the task itself
    (``asyncio.ensure_future(box.recv_async())``), the task completes with the result: a
    cancellation still pending when its coroutine returns would cancel the task and throw the
    result away. Otherwise the cancellation is requested again, so that it takes effect at the
    task's next ``await``, after the caller has the result.
    """
    task = asyncio.current_task()
    if task is None:
        return
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+: keep the cancel count balanced
    if uncancel is not None:
        uncancel()
    if getattr(task.get_coro(), "cr_frame", None) is not frame:
        task.cancel()


async def run(op):
    """Awaits ``op``: its value, or its exception."""
    loop = asyncio.get_running_loop()
    fd = op.fileno()
    woken = None

    def wake() -> None:
        if woken is not None and not woken.done():
            woken.set_result(None)

    loop.add_reader(fd, wake)
    try:
        while not op.poll():
            woken = loop.create_future()
            try:
                await woken
            except asyncio.CancelledError:
                if not op.cancel():
                    raise
                _completed_despite_cancel(sys._getframe())
                break
    finally:
        loop.remove_reader(fd)
    return op.result()
