"""Agent processes that must not outlive the run that started them.

An executor starts each agent in a process group of its own (its leader's pid is
the group id). It reports the group — with the leader's start time and the boot id,
so that a reused pid is never mistaken for it — and the journal keeps the record
while the step runs. A new holder of a run (`wlisp resume`) kills the groups of
its dead predecessor that still match before it runs those steps again. On Linux
the leader also gets a parent-death signal: it is killed the moment the process
that started it dies, even by SIGKILL.

Which processes count as the group's: if the leader still runs with the recorded
start time, the whole group. If it is gone, the processes whose group id is the
recorded one and which started no earlier than it did (Linux does not reuse a pid
while a group of that id exists, so these are the leader's descendants unless the
whole group ended and a new session leader took the same pid in between).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

LINUX = sys.platform.startswith("linux")
_PR_SET_PDEATHSIG = 1
_libc = None


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None


def _stat(pid: int) -> tuple[int, int] | None:
    """(process group, start time in clock ticks since boot) from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()  # the name may hold spaces and parens
    try:
        return int(fields[2]), int(fields[19])
    except (IndexError, ValueError):
        return None


def identify(pid: int) -> dict | None:
    """What the journal keeps of a process group whose leader is `pid` (Linux only)."""
    stat = _stat(pid) if LINUX else None
    if stat is None:
        return None
    return {"pid": pid, "pgid": stat[0], "start": stat[1], "boot": boot_id()}


def members(record: dict) -> list[int]:
    """The live processes of a recorded group (empty when it is gone or not ours)."""
    if not LINUX or record.get("boot") != boot_id():
        return []  # another boot: nothing of that one still runs
    pgid, start = record["pgid"], record["start"]
    leader = _stat(pgid)
    if leader is not None and leader[1] != start:
        return []  # that pid is another process now
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[0] == pgid and stat[1] >= start:
                found.append(int(name))
    return found


def kill_group(record: dict) -> int:
    """SIGKILL every live process of a recorded group; how many there were."""
    pids = members(record)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return len(pids)


async def reap(proc) -> None:
    """Collect an asyncio subprocess just killed, so that its exit is not reported to
    an event loop that has closed by then."""
    import asyncio

    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(proc.wait(), 5)


def kill_pgid(pgid: int) -> None:
    """SIGKILL a process group we started and still own (its leader is our child)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def parent_death_hook():
    """A `preexec_fn` that makes a freshly forked child get SIGKILL when its parent
    dies (Linux), else None. The libc handle is loaded before the fork; the child only
    makes the call, then checks that the parent did not die before it."""
    global _libc
    if not LINUX:
        return None
    if _libc is None:
        import ctypes

        try:
            _libc = ctypes.CDLL(None, use_errno=True)
        except OSError:
            return None
    parent, libc = os.getpid(), _libc

    def die_with_parent() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(1)

    return die_with_parent
