"""Running a coroutine to the end from synchronous code, with a bounded shutdown and,
for the command line, SIGINT, SIGTERM and SIGHUP all taking the same path.

`asyncio.run` waits forever for tasks that ignore cancellation (an executor that
swallows `CancelledError`), so `wlisp.run()` would never return; here such tasks get
`SHUTDOWN_GRACE` seconds and are then abandoned. A signal cancels the run's task, as
Ctrl-C does: the run records what finished, kills its agents' process groups and
ends `cancelled`; the caller learns which signal it was (`Interrupted`).
"""

from __future__ import annotations

import asyncio
import signal
import threading

SHUTDOWN_GRACE = 2.0  # seconds cancelled tasks get to finish before they are abandoned
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """The run was cancelled by a signal; `signum` says which."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run_sync(coro, signals=(signal.SIGINT,)):
    """`coro`'s result. The `signals` (in the main thread) cancel it; a second one
    stops waiting. Raises `Interrupted` when a signal cancelled it."""
    loop = asyncio.new_event_loop()
    received: list[int] = []
    try:
        asyncio.set_event_loop(loop)
        main = loop.create_task(coro)
        if threading.current_thread() is not threading.main_thread():
            signals = ()
        for sig in signals:
            loop.add_signal_handler(sig, _on_signal, sig, main, received)
        try:
            return loop.run_until_complete(main)
        except asyncio.CancelledError:
            if received:
                raise Interrupted(received[0]) from None
            raise
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
    finally:
        try:
            _finish_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _on_signal(signum: int, main: asyncio.Task, received: list) -> None:
    received.append(signum)
    if len(received) == 1:
        main.cancel()
    else:  # asked twice: stop waiting for the cancellation to finish
        raise KeyboardInterrupt


def _finish_tasks(loop) -> None:
    """Cancel what is left, give it a bounded time, abandon what ignores it."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=SHUTDOWN_GRACE))
    for t in tasks:
        if not t.done():  # it ignores cancellation: let it go without a warning at exit
            t._log_destroy_pending = False
