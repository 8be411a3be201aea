"""Time, deadlines and cancellation, with reasons that are types (after trio's cancel
scopes): a run's scope holds its wall-clock deadline; a step's deadline is its
`:timeout` or, when sooner, the run's (effective deadline = min(own, parent's)).
What ended something is known by the reason's class, never by the text of a
message.

Time comes from a `Clock`: the system's, or in tests a `VirtualClock` whose time
passes only when every task waits, so timing tests run instantly and exactly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time


class CancelReason(Exception):
    """Why a scope was cancelled; the class says what happened, the text explains it."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class BudgetExhausted(CancelReason):
    """A `:steps`, `:tokens`, `:cost` or `:wall` budget was used up: the run stops,
    resumable with a larger budget. Raised where a step would exceed it."""


# --- clocks -----------------------------------------------------------------------------


class SystemClock:
    """Monotonic time and the event loop's timers."""

    now = staticmethod(time.monotonic)  # no Python frame: it runs twice per node

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_at(self, when: float, callback):
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, when - time.monotonic()), callback)


SYSTEM_CLOCK = SystemClock()


class _Timer:
    __slots__ = ("when", "callback", "cancelled")

    def __init__(self, when, callback):
        self.when, self.callback, self.cancelled = when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock for tests: time starts at 0 and jumps to the next timer as soon as every
    task is waiting, like trio's MockClock with autojump. Meant for executors that
    wait on asyncio only (no real subprocess or socket is fast enough to race it).
    `sleeps` records every `sleep` asked for."""

    IDLE_TICKS = 50  # event-loop passes without progress before time jumps

    def __init__(self) -> None:
        self.time = 0.0
        self.sleeps: list[float] = []
        self._timers: list = []
        self._order = itertools.count()
        self._jumper: asyncio.Task | None = None

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        done = asyncio.get_running_loop().create_future()
        self.call_at(self.time + seconds, lambda: done.done() or done.set_result(None))
        await done

    def call_at(self, when: float, callback) -> _Timer:
        timer = _Timer(when, callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        if self._jumper is None or self._jumper.done():
            self._jumper = asyncio.get_running_loop().create_task(self._jump())
        return timer

    async def _jump(self) -> None:
        while self._timers:
            for _ in range(self.IDLE_TICKS):  # let every ready task run first
                await asyncio.sleep(0)
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.time = max(self.time, when)
            timer.callback()


# --- scopes -----------------------------------------------------------------------------


class CancelScope:
    """Cancels the task that entered it when its deadline passes or `cancel()` is
    called. On exit a cancellation it caused is absorbed (unless the task was also
    cancelled from outside) and `reason` tells why; otherwise `reason` is None."""

    def __init__(self, deadline: float | None = None, reason: CancelReason | None = None,
                 clock=SYSTEM_CLOCK, parent: CancelScope | None = None):
        self.deadline, self.deadline_reason = deadline, reason
        self.clock, self.parent = clock, parent
        self.reason: CancelReason | None = None
        self._task: asyncio.Task | None = None
        self._timer = None
        self._cancelling = 0

    @property
    def effective_deadline(self) -> float | None:
        """The earliest deadline of this scope and the scopes around it."""
        own = self.deadline
        outer = self.parent.effective_deadline if self.parent is not None else None
        if own is None or (outer is not None and outer < own):
            return outer
        return own

    def remaining(self) -> float | None:
        deadline = self.effective_deadline
        return None if deadline is None else max(0.0, deadline - self.clock.now())

    def cancel(self, reason: CancelReason) -> None:
        if self.reason is None and self._task is not None:
            self.reason = reason
            self._task.cancel()

    def __enter__(self) -> CancelScope:
        self._task = asyncio.current_task()
        self._cancelling = self._task.cancelling()
        if self.deadline is not None:
            self._timer = self.clock.call_at(self.deadline,
                                             lambda: self.cancel(self.deadline_reason))
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if self._timer is not None:
            self._timer.cancel()
        if self.reason is not None:
            # absorb our own cancellation; one from outside (Ctrl-C) still propagates
            return self._task.uncancel() <= self._cancelling and \
                kind is asyncio.CancelledError
        return False


async def within(coro, deadline: float | None, clock=SYSTEM_CLOCK):
    """Await `coro` until `deadline` (clock time). Returns (True, result) or, past the
    deadline, (False, None) with the coroutine's task cancelled and abandoned, so an
    awaitable that ignores cancellation cannot hold its caller. Cancelling the
    caller cancels the coroutine too."""
    if deadline is None:
        return True, await coro
    task = asyncio.ensure_future(coro)
    expired = asyncio.get_running_loop().create_future()
    timer = clock.call_at(deadline, lambda: expired.done() or expired.set_result(None))
    try:
        await asyncio.wait((task, expired), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        timer.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    return False, None
