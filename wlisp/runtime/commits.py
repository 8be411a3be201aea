"""Group commit: finished step attempts, written to the journal on a thread of their own.

A step's row is committed before anything that depends on it starts: `add`
returns once its group is durable. The completions of one event-loop tick share
a transaction, handed to the writer thread at the end of that tick, so the fsync
overlaps the steps still running. At most `GROUP_MAX` finished attempts are ever
uncommitted: a step finishing past that waits for the writer to catch up, which
bounds what a crash can lose to the steps in flight plus that many. Anything
that goes wrong on the writer fails the waiting steps with a journal error
(nothing is swallowed, nothing waits forever).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from ..contract import repair_text

GROUP_MAX = 256  # finished attempts that may be uncommitted at once
LOG_NAME = "steps.log"


class GroupCommits:
    def __init__(self, journal):
        self.journal = journal
        self.pending: list[tuple] = []
        self.batch: asyncio.Future | None = None   # the waiters of this tick's group
        self.inflight = 0                            # rows handed over, not yet committed
        self.committed = threading.Condition()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="wlisp-journal")

    async def add(self, row: tuple) -> None:
        """Journal one finished attempt (a steps row plus its prompt and output for the
        log); returns once it is committed."""
        self.pending.append(row)
        batch = self.batch
        if batch is None:  # the first completion of this tick schedules the commit
            batch = self.batch = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self.flush)
        if len(self.pending) + self.inflight >= GROUP_MAX:  # bound what a crash loses
            self.flush()
            self.wait_committed()
        await batch

    def flush(self) -> None:
        """Hand the pending rows to the writer thread; their waiters wake when durable."""
        rows, batch = self.pending, self.batch
        self.pending, self.batch = [], None
        if rows:
            with self.committed:
                self.inflight += len(rows)
            self.writer.submit(self._write, rows, batch, asyncio.get_running_loop())

    def wait_committed(self, timeout: float = 60.0) -> None:
        with self.committed:
            self.committed.wait_for(lambda: self.inflight == 0, timeout)

    def _write(self, rows, batch, loop) -> None:  # on the writer thread
        error = None
        try:
            self.journal.insert_steps([r[:10] for r in rows])
            self._write_logs(rows)
        except Exception as exc:  # noqa: BLE001 - whatever it is, the run must hear of it
            error = self.journal.error(f"cannot write the journal: {type(exc).__name__}: "
                                       f"{exc}")
        finally:
            with self.committed:
                self.inflight -= len(rows)
                self.committed.notify_all()
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, batch, error)

    def _write_logs(self, rows) -> None:
        """Every attempt's prompt and output, appended to the run's plain-text log
        (`runs/RUN/steps.log`): one open per group."""
        by_run: dict[str, list] = {}
        for row in rows:
            by_run.setdefault(row[0], []).append(row)
        for run_id, items in by_run.items():
            folder = os.path.join(self.journal.dir, "runs", run_id)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, LOG_NAME), "a", encoding="utf-8",
                      errors="replace") as f:
                f.write("".join(
                    f"{'=' * 78}\n# {node} (attempt {attempt}, {status})\n\n## prompt\n\n"
                    f"{prompt}\n\n## output\n\n{output}\n\n"
                    for _, node, attempt, _, status, _, _, _, _, _, prompt, output in items))

    def submit(self, fn, *args):
        """Run `fn(*args)` on the writer thread, after what was handed over before."""
        return self.writer.submit(fn, *args)

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until everything handed over is written (before reading or finishing)."""
        self.writer.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self.writer.shutdown(wait=True)


def step_row(run_id: str, step, spec_hash: str, outcome, started: float,
             finished: float) -> tuple:
    """The steps row of a finished attempt, then its prompt and output for the log; all
    text storable (an executor's text was repaired on entry; the runtime's is repaired
    here)."""
    return (run_id, step.task_id, step.attempt, spec_hash,
            "completed" if outcome.success else "failed",
            repair_text(json.dumps(outcome.to_value(), ensure_ascii=False)), started, finished,
            json.dumps(outcome.usage) if outcome.usage else None,
            (step.metadata or {}).get("node"), step.prompt, outcome.output)


def _settle(batch: asyncio.Future, error) -> None:
    if batch.done():
        return
    if error is None:
        batch.set_result(None)
    else:
        batch.set_exception(error)
