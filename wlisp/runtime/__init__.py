"""Running WorkflowSpecs (SPEC §6–§7): `run_async`, its result, and the executor seam."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
import uuid
from dataclasses import dataclass, field

from ..contract import Event, EventList, EventSink, StepOutcome, StepSpec, TransientError
from ..errors import Diagnostic, WlispError
from ..ir.spec import WorkflowSpec
from ..values.builtins import BuiltinError, to_json
from .state import BudgetExhausted, RunState

DEFAULT_CONCURRENCY = 64


@dataclass
class RunResult:
    status: str                      # completed failed budget_exhausted paused cancelled
    value: object = None
    run_id: str = ""
    records: dict = field(default_factory=dict, repr=False)
    error: str | None = None
    usage: dict = field(default_factory=dict)
    elapsed: float = 0.0
    gates: dict = field(default_factory=dict)
    reused: int = 0                  # steps taken from the journal instead of the executor
    _nodes: dict | None = field(default=None, repr=False)

    @property
    def nodes(self) -> dict:
        """node instance id -> {"status", "outcome", "error", ...}, built on first use."""
        if self._nodes is None:
            self._nodes = {k: r.to_dict() for k, r in self.records.items()}
        return self._nodes

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "status": self.status, "value": self.value,
                "error": self.error, "usage": self.usage, "elapsed": round(self.elapsed, 6),
                "reused": self.reused,
                "nodes": self.nodes, **({"gates": self.gates} if self.gates else {})}


def usage_error(message: str) -> WlispError:
    return WlispError(Diagnostic("W0701", message))


def check_inputs(spec: WorkflowSpec, inputs: dict | None) -> dict:
    inputs = dict(inputs or {})
    missing = [p for p in spec.params if p not in inputs]
    if missing:
        raise usage_error(f"workflow `{spec.name}` needs input"
                          f"{'s' if len(missing) > 1 else ''} "
                          + ", ".join(f"`{m}`" for m in missing)
                          + " (pass --input " + " --input ".join(f"{m}=..." for m in missing)
                          + ")")
    extra = [k for k in inputs if k not in spec.params]
    if extra:
        raise usage_error(f"workflow `{spec.name}` has no input "
                          + ", ".join(f"`{k}`" for k in extra)
                          + f"; its inputs are: {', '.join(spec.params) or '(none)'}")
    return inputs


def concurrency_bound(spec: WorkflowSpec, executor, concurrency: int | None) -> int:
    """min(executor hint, workflow :concurrency, caller's bound); never silently ignored."""
    candidates = [getattr(executor, "concurrency_hint", DEFAULT_CONCURRENCY),
                  spec.concurrency, concurrency]
    for c in candidates:
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 1):
            raise usage_error(f"a concurrency bound must be a positive integer, got {c!r}")
    return min(c for c in candidates if c is not None)


async def run_async(spec: WorkflowSpec, executor, inputs: dict | None = None, *,
                    events: EventSink | None = None, concurrency: int | None = None,
                    run_id: str | None = None, answers: dict | None = None,
                    retry_base: float = 0.5, sleep=None, store: str | None = None,
                    reuse_from: str | None = None, executor_profile: dict | None = None,
                    digest: str | None = None) -> RunResult:
    """Run `spec` against `executor`. Failures are values: the result says how it ended.

    With `store` (a state directory) the run is journaled; `reuse_from` names an
    earlier run whose completed steps are reused where their id and StepSpec hash
    still match (incremental re-run). `store=None` runs in memory.
    """
    inputs = check_inputs(spec, inputs)
    concurrency_bound(spec, executor, concurrency)
    journal = cached = None
    run_id = new_run_id() if run_id is None else run_id
    if store is not None:
        from .journal import Journal, check_run_id

        check_run_id(run_id)
        journal = Journal(store)
        try:
            if reuse_from is not None:
                journal.run(reuse_from)
            journal.create_run(run_id, spec.to_json(), spec.name, inputs, executor_profile,
                               digest, spec.source, parent=reuse_from)
            if answers:
                journal.set_answers(run_id, answers)
            cached = journal.completed([reuse_from]) if reuse_from else {}
        except BaseException:
            journal.close()
            raise
    return await _execute(spec, executor, inputs, run_id, events=events,
                          concurrency=concurrency, answers=answers, retry_base=retry_base,
                          sleep=sleep, journal=journal, cached=cached)


async def resume_async(run_id: str, executor, *, store: str, answers: dict | None = None,
                       budget: dict | None = None, events: EventSink | None = None,
                       concurrency: int | None = None, retry_base: float = 0.5,
                       sleep=None) -> RunResult:
    """Continue a journaled run: completed steps are taken from the journal, failed
    and unfinished ones run again. `answers` answer human gates (node id -> value);
    `budget` raises budget limits."""
    from .journal import Journal

    journal = Journal(store, create=False)
    try:
        run = journal.run(run_id)
        journal.take_lease(run_id)
        spec = WorkflowSpec.from_json(run["spec"], validate=False)  # written by us
        if run["budget"]:
            spec.budget = {**(spec.budget or {}), **json.loads(run["budget"])}
        if budget:
            spec.budget = {**(spec.budget or {}), **budget}
            journal.set_budget(run_id, {**json.loads(run["budget"] or "{}"), **budget})
        all_answers = {**json.loads(run["answers"] or "{}"), **(answers or {})}
        if answers:
            journal.set_answers(run_id, all_answers)
        cached = journal.completed([run_id] + ([run["parent"]] if run["parent"] else []))
        used = journal.usage_so_far(run_id)
        inputs = json.loads(run["inputs"])
    except BaseException:
        journal.close()
        raise
    return await _execute(spec, executor, inputs, run_id, events=events,
                          concurrency=concurrency, answers=all_answers, retry_base=retry_base,
                          sleep=sleep, journal=journal, cached=cached, used=used)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


async def _execute(spec, executor, inputs, run_id, *, events, concurrency, answers, retry_base,
                   sleep, journal=None, cached=None, used=None) -> RunResult:
    bound = concurrency_bound(spec, executor, concurrency)
    state = RunState(spec, executor, inputs, bound=bound, sink=events, answers=answers,
                     retry_base=retry_base, sleep=sleep or asyncio.sleep)
    state.run_id, state.journal, state.cached = run_id, journal, cached or {}
    if used:
        state.budget.used_steps, state.budget.used_tokens, state.budget.used_cost = used
    t0 = time.monotonic()
    if events is not None:
        events.emit(Event("run_started", spec.name, data={"run_id": run_id}))
    with _gentle_gc():
        return await _supervise(spec, state, run_id, journal, events, t0)


@contextlib.contextmanager
def _gentle_gc():
    """A run allocates many small, acyclic objects; the default collector thresholds
    make it re-scan the whole heap over and over (a third of a 10,000-step fan-out's
    time). Collect young objects less often while the run lasts, then restore."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 50_000), old[1], max(old[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*old)


async def _supervise(spec, state, run_id, journal, events, t0) -> RunResult:
    from .scheduler import execute

    status, value, error = "completed", None, None
    task = asyncio.ensure_future(execute(spec, state))
    loop = asyncio.get_running_loop()
    watchdog = heartbeat = None
    if spec.budget and spec.budget.get("wall"):
        wall = spec.budget["wall"]
        watchdog = loop.call_later(
            wall, lambda: task.cancel(f"wall-clock budget of {wall}s used up"))
    if journal is not None:
        heartbeat = asyncio.ensure_future(_heartbeat(journal, run_id))
    try:
        res = await task
        if res.ok:
            value = to_json(res.value)
        else:
            status, error = "failed", res.error
    except (BudgetExhausted, BaseExceptionGroup) as exc:
        found = _find(exc, BudgetExhausted)
        if found is None:
            raise
        status, error = "budget_exhausted", found.what
    except asyncio.CancelledError as exc:
        reason = exc.args[0] if exc.args else None
        if reason and "budget" in str(reason):
            status, error = "budget_exhausted", str(reason)
        else:
            status, error = "cancelled", "cancelled"
            state.cancel_unfinished(error)
            _close(state, journal, heartbeat, RunResult("cancelled", None, run_id,
                                                        state.records, error))
            raise
    except BuiltinError as exc:  # a value without a JSON form
        status, error = "failed", str(exc)
    finally:
        if watchdog is not None:
            watchdog.cancel()
    state.cancel_unfinished(error or "cancelled")
    if state.gates and status in ("completed", "failed") and not _real_failure(state):
        status, error = "paused", "waiting for a human answer"
    result = RunResult(status, value if status == "completed" else None, run_id,
                       state.records, error,
                       {"steps": state.budget.used_steps, "tokens": state.budget.used_tokens,
                        "cost": state.budget.used_cost}, time.monotonic() - t0,
                       dict(state.gates), state.reused)
    _close(state, journal, heartbeat, result)
    if events is not None:
        events.emit(Event("run_finished", spec.name, time=state.now(), message=error,
                          data={"status": status, "run_id": run_id, "reused": state.reused}))
    return result


async def _heartbeat(journal, run_id: str, every: float = 5.0) -> None:
    while True:
        await asyncio.sleep(every)
        journal.heartbeat(run_id)


def _close(state, journal, heartbeat, result) -> None:
    if heartbeat is not None:
        heartbeat.cancel()
    if journal is not None:
        try:
            journal.finish_run(result.run_id, result, state.records)
        finally:
            journal.close()


def _find(exc: BaseException, cls):
    """The first `cls` inside (possibly nested) exception groups."""
    if isinstance(exc, cls):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find(inner, cls)
        if found is not None:
            return found
    return None


def _real_failure(state: RunState) -> bool:
    return any(r.status == "failed" for r in state.records.values())


def run(spec: WorkflowSpec, executor, inputs: dict | None = None, **kw) -> RunResult:
    """Synchronous wrapper around `run_async`."""
    return asyncio.run(run_async(spec, executor, inputs, **kw))


def resume(run_id: str, executor, **kw) -> RunResult:
    """Synchronous wrapper around `resume_async`."""
    return asyncio.run(resume_async(run_id, executor, **kw))


__all__ = ["run", "run_async", "resume", "resume_async", "RunResult", "StepSpec", "StepOutcome", "TransientError",
           "Event", "EventList", "EventSink"]
