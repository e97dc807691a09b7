"""Runs a native postbox operation on the asyncio event loop (internal).

The operation wraps one of the Rust library's futures. It is polled here, on the loop's thread,
whenever its waker has written to the socket pair whose end ``fileno()`` the loop watches. No
thread ever takes the GIL to wake us, and cancellation happens here, in step with the polls.

Cancellation: when the task is cancelled while the operation waits, ``op.cancel()`` withdraws it
(the library drops the request: a receive stops waiting and takes nothing, a send is not
delivered). If the operation had completed by then (its result crossed the cancellation), the
result is not thrown away: the coroutine returns it, and the task's cancellation is requested
again so that it takes effect at the task's next ``await``.
"""

import asyncio


def _cancel_again() -> None:
    """Re-requests the current task's cancellation, leaving its cancel count as it was."""
    task = asyncio.current_task()
    if task is None:
        return
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()
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
                _cancel_again()
                break
    finally:
        loop.remove_reader(fd)
    return op.result()
