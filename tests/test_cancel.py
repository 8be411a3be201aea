"""Cancellation and deadlines (SPEC §7): how a run ends is decided by typed reasons,
never by the text of a message; timing is tested on a virtual clock."""

import asyncio
import json
import sqlite3

import pytest

from wlisp.contract import StepOutcome
from wlisp.lang.api import compile
from wlisp.runtime import run_async

AGENTS = "(defagent writer) (defagent slow)"


def wf(body, opts=""):
    return compile(AGENTS + f"(defworkflow main [] {opts} {body})", "t.wl")


class Hang:
    """An executor whose steps never finish (those of agent `writer` do, at once);
    it notes the timeouts it is told and the cancellations it sees."""

    concurrency_hint = 8

    def __init__(self):
        self.started = asyncio.Event()
        self.cancelled = 0
        self.timeouts: list = []

    async def execute_step(self, spec, events=None):
        if spec.agent == "writer" and spec.prompt == "quick":
            return StepOutcome(task_id=spec.task_id, agent=spec.agent, output="done")
        self.timeouts.append(spec.timeout)
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def _status(store, run_id):
    db = sqlite3.connect(f"{store}/wlisp.db")
    try:
        return db.execute("SELECT status, error FROM runs WHERE id=?", (run_id,)).fetchone()
    finally:
        db.close()


def test_a_cancel_whose_reason_mentions_budget_is_still_a_cancel(tmp_path):
    """Regression: a reason containing the word "budget" ended the run budget_exhausted."""
    store = str(tmp_path / "state")

    async def main():
        ex = Hang()
        task = asyncio.ensure_future(run_async(wf('(spawn writer "x")'), ex, {}, store=store,
                                               run_id="r1"))
        await ex.started.wait()
        task.cancel("operator: budget review")
        try:
            result = await task
        except asyncio.CancelledError:
            return "raised"
        return result.status

    assert asyncio.run(main()) == "raised"
    assert _status(store, "r1")[0] == "cancelled"


def test_cancelling_a_run_cancels_a_step_that_has_a_timeout():
    """Regression: with `:timeout`, the executor call ran in a task of its own that a
    cancelled run left running (an orphaned agent)."""
    async def main():
        ex = Hang()
        task = asyncio.ensure_future(run_async(wf('(spawn slow "x" :timeout 30)'), ex, {}))
        await ex.started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)
        return ex.cancelled

    assert asyncio.run(main()) == 1


def test_a_step_timeout_on_a_virtual_clock():
    from wlisp.runtime import VirtualClock

    clock = VirtualClock()
    ex = Hang()
    spec = wf('[(spawn slow "forever" :timeout 30 :retries 0) (spawn writer "quick")]')
    res = asyncio.run(run_async(spec, ex, {}, clock=clock))
    assert res.status == "failed"
    assert res.nodes["main/slow"]["error"] == "timed out after 30s"
    assert res.nodes["main/slow"]["elapsed"] == 30.0  # virtual seconds, exactly
    assert res.nodes["main/writer"]["status"] == "completed"
    assert clock.now() == 30.0 and ex.cancelled == 1  # the timed-out call was cancelled


def test_the_wall_budget_ends_the_run_at_its_deadline():
    from wlisp.runtime import VirtualClock

    clock = VirtualClock()
    ex = Hang()
    spec = wf('(spawn slow "forever" :timeout 100)', ":budget {:wall 10}")
    res = asyncio.run(run_async(spec, ex, {}, clock=clock))
    assert res.status == "budget_exhausted"
    assert res.error == "wall-clock budget of 10s used up"
    assert clock.now() == 10.0
    # the step's own deadline (100 s) is later than the run's: the executor is told 10 s
    assert ex.timeouts == [10.0]
    assert res.nodes["main/slow"]["status"] == "cancelled"


def test_a_step_deadline_before_the_wall_deadline_is_the_steps_own():
    from wlisp.runtime import VirtualClock

    clock = VirtualClock()
    ex = Hang()
    spec = wf('(spawn slow "forever" :timeout 3 :retries 1)', ":budget {:wall 100}")
    res = asyncio.run(run_async(spec, ex, {}, clock=clock, retry_base=1.0))
    assert res.status == "failed" and res.nodes["main/slow"]["attempts"] == 2
    assert ex.timeouts == [3, 3]
    assert 6.0 <= clock.now() < 100.0  # two timeouts and one backoff, not the wall


def test_results_stay_json_after_a_cancel(tmp_path):
    """A cancelled run's journal row is complete and readable."""
    store = str(tmp_path / "s")

    async def main():
        ex = Hang()
        task = asyncio.ensure_future(run_async(wf('(spawn writer "x")'), ex, {}, store=store,
                                               run_id="r2"))
        await ex.started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    status, error = _status(store, "r2")
    assert status == "cancelled" and error == "cancelled"
    db = sqlite3.connect(f"{store}/wlisp.db")
    (record,) = db.execute("SELECT record FROM nodes WHERE run_id='r2'").fetchone()
    assert json.loads(record)["status"] == "cancelled"
