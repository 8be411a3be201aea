"""Running WorkflowSpecs (SPEC §6–§7): `run_async`, `resume_async`, and how a run ends.

A run is supervised inside its cancel scope (whose deadline is the wall-clock
budget); how it ended is decided from typed reasons: the workflow's result, a
`BudgetExhausted` raised by a step or set as the scope's reason, or a
cancellation from outside (Ctrl-C), which is re-raised after the journal is
closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import time
import uuid
from dataclasses import dataclass, field

from ..contract import Event
from ..errors import usage_error
from ..ir.inputs import schema_mismatch
from ..ir.spec import WorkflowSpec
from ..values.builtins import BuiltinError, to_json
from .cancel import BudgetExhausted
from .gates import check_answer, waiting_gates
from .inputs import check_inputs
from .journal import JournalError
from .runner import run_sync
from .scheduler import execute
from .state import RunOptions, RunState

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
    failed_node: str | None = None   # the node instance whose failure ended the run
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


def concurrency_bound(spec: WorkflowSpec, executor, concurrency: int | None) -> int:
    """min(executor hint, workflow :concurrency, caller's bound); never silently ignored."""
    candidates = [getattr(executor, "concurrency_hint", DEFAULT_CONCURRENCY),
                  spec.concurrency, concurrency]
    for c in candidates:
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 1):
            raise usage_error(f"a concurrency bound must be a positive integer, got {c!r}")
    return min(c for c in candidates if c is not None)


def spec_digest(spec: WorkflowSpec) -> str:
    """What ran, in 16 hex digits (the journal's provenance of a run)."""
    return hashlib.sha256(spec.to_json().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


async def run_async(spec: WorkflowSpec, executor, inputs: dict | None = None,
                    **options) -> RunResult:
    """Run `spec` against `executor`. Failures are values: the result says how it ended.

    `options` are the fields of `RunOptions` (events, concurrency, run_id, answers,
    retry_base, clock, store, reuse_from, executor_profile).
    """
    opts = RunOptions(**options)
    inputs = check_inputs(spec, inputs)
    bound = concurrency_bound(spec, executor, opts.concurrency)
    run_id = new_run_id() if opts.run_id is None else opts.run_id
    journal, cached = None, dict(opts.reuse or {})
    if opts.store is not None:
        from .journal import Journal, check_run_id

        check_run_id(run_id)
        journal = Journal(opts.store)
        try:
            if opts.reuse_from is not None:
                journal.run(opts.reuse_from)
            journal.create_run(run_id, spec.to_json(), spec.name, inputs, opts.executor_profile,
                               spec_digest(spec), spec.source, parent=opts.reuse_from)
            if opts.answers:
                journal.set_answers(run_id, opts.answers)
            cached = journal.completed([opts.reuse_from]) if opts.reuse_from else {}
        except BaseException:
            journal.close()
            raise
    state = RunState(spec, _traced_executor(executor, opts), inputs, opts, run_id=run_id, bound=bound,
                     journal=journal, cached=cached)
    return await _supervise(state)


async def resume_async(run_id: str, executor, *, store: str, budget: dict | None = None,
                       **options) -> RunResult:
    """Continue a journaled run: completed steps are taken from the journal, failed
    and unfinished ones run again. `answers` answer human gates (node id -> value);
    `budget` raises budget limits."""
    from .journal import Journal

    opts = RunOptions(store=store, run_id=run_id, **options)
    journal = Journal(store, create=False)
    try:
        run = journal.run(run_id)
        gates = waiting_gates(journal, run_id)
        for gate, value in opts.answers.items():  # each answer must fit its gate's type
            check_answer(gate, value, gates.get(gate))
        journal.reap(run_id, journal.take_lease(run_id))  # what a dead holder left running
        spec = WorkflowSpec.from_json(run.spec, validate=False)  # written by us
        spec.budget = {**(spec.budget or {}), **run.budget, **(budget or {})}
        if budget:
            journal.set_budget(run_id, {**run.budget, **budget})
        opts.answers = {**run.answers, **opts.answers}
        if opts.answers != run.answers:
            journal.set_answers(run_id, opts.answers)
        cached = journal.completed([run_id] + ([run.parent] if run.parent else []))
        used = journal.usage_so_far(run_id)
        attempts = journal.attempts_so_far(run_id)
        bound = concurrency_bound(spec, executor, opts.concurrency)
    except BaseException:
        journal.close()
        raise
    state = RunState(spec, _traced_executor(executor, opts), run.inputs, opts, run_id=run_id, bound=bound,
                     journal=journal, cached=cached, used=used, attempts=attempts)
    return await _supervise(state)


@contextlib.contextmanager
def _gentle_gc():
    """A run allocates many small, acyclic objects; the default collector thresholds
    make it re-scan the whole heap over and over (a third of a 10,000-step fan-out's
    time). Collect young objects less often while the run lasts, then restore. Freezing
    the heap the run starts with took W3 from 9.5x to 7.7x asyncio (GC was 4 µs of a
    24 µs step). Runs going on at once in one process share this: the first one in
    sets it, the last one out restores what was there before them."""
    if not _GC["runs"]:
        old = gc.get_threshold()
        gc.set_threshold(max(old[0], 50_000), old[1], max(old[2], 100))
        # what existed before the run (modules, the spec) is not re-scanned by the full
        # collections the run triggers; left alone when the program froze objects itself
        freeze = gc.get_freeze_count() == 0
        if freeze:
            gc.freeze()
        _GC["before"] = (old, freeze)
    _GC["runs"] += 1
    try:
        yield
    finally:
        _GC["runs"] -= 1
        if not _GC["runs"]:
            old, freeze = _GC["before"]
            if freeze:
                gc.unfreeze()
            gc.set_threshold(*old)


_GC: dict = {"runs": 0, "before": None}  # runs under _gentle_gc now; what they replaced


async def _supervise(state: RunState) -> RunResult:
    spec, events, journal = state.spec, state.sink, state.journal
    if events is not None:
        events.emit(Event("run_started", spec.name, data={"run_id": state.run_id}))
    heartbeat = asyncio.ensure_future(_heartbeat(journal, state.run_id)) if journal else None
    t0 = state.clock.now()
    traced = _traced(state)
    try:
        with _gentle_gc(), traced as span:
            status, value, error, failed = await _outcome(state)
            if span is not None:
                _finish_span(span, state, status, error)
    except asyncio.CancelledError:  # from outside (Ctrl-C): record, close, pass it on
        state.cancel_unfinished("cancelled")
        _close(state, heartbeat, RunResult("cancelled", None, state.run_id, state.records,
                                           "cancelled", state.budget.used(),
                                           state.clock.now() - t0))  # what it used, too
        raise
    except JournalError as err:  # the journal failed: stop loudly, keep what it holds
        state.cancel_unfinished("the journal failed")
        with contextlib.suppress(JournalError):
            _close(state, heartbeat, RunResult("failed", None, state.run_id, state.records,
                                               err.diagnostics[0].message))
        raise
    state.cancel_unfinished(error or "cancelled")
    if state.gates and status in ("completed", "failed") and not _real_failure(state):
        status, error = "paused", "waiting for a human answer"
    result = RunResult(status, value if status == "completed" else None, state.run_id,
                       state.records, error, state.budget.used(), state.clock.now() - t0,
                       dict(state.gates), state.reused, failed if status == "failed" else None)
    _close(state, heartbeat, result)
    if events is not None:
        events.emit(Event("run_finished", spec.name, time=state.now(), message=error,
                          data={"status": status, "run_id": state.run_id,
                                "reused": state.reused}))
    return result


def _traced(state: RunState):
    """The run's root span when it is traced (`runtime/tracing.py`), else nothing."""
    if state.options.tracer is None:
        return contextlib.nullcontext()
    from .tracing import run_span

    return run_span(state)


def _traced_executor(executor, opts: RunOptions):
    """A traced run's executor: each attempt a span (`runtime/tracing.py`)."""
    if opts.tracer is None:
        return executor
    from .tracing import TracedExecutor

    return TracedExecutor(executor, opts.tracer, opts.trace_content)


def _scheduler(state: RunState):
    if state.options.tracer is None:
        return None
    from .tracing import TracedScheduler  # a span per node instance

    return TracedScheduler


def _finish_span(span, state: RunState, status: str, error: str | None) -> None:
    from .tracing import finish

    paused = state.gates and status in ("completed", "failed") and not _real_failure(state)
    finish(span, "paused" if paused else status, error)


async def _outcome(state: RunState) -> tuple[str, object, str | None, str | None]:
    """(status, value, error, failed node) of running the workflow in the run's scope."""
    res = None
    try:
        with state.scope:
            res = await execute(state, _scheduler(state))
    except (BudgetExhausted, JournalError, BaseExceptionGroup) as exc:
        journal_failure = _find(exc, JournalError)
        if journal_failure is not None:
            raise journal_failure from None
        found = _find(exc, BudgetExhausted)
        if found is None:
            raise
        return "budget_exhausted", None, found.what, None
    if state.scope.reason is not None:  # the scope's deadline: the wall-clock budget
        return "budget_exhausted", None, state.scope.reason.what, None
    if not res.ok:
        return "failed", None, _located(res), res.failed_node and res.failed_node.id
    try:
        value = to_json(res.value)
    except BuiltinError as exc:  # a value without a JSON form
        return "failed", None, f"the result of workflow `{state.spec.name}`: {exc}", None
    if state.spec.returns is not None:  # `:returns` of the workflow: its result's type
        problem = schema_mismatch(state.spec.returns, value)
        if problem is not None:
            return "failed", None, (f"the result of workflow `{state.spec.name}` is not "
                                    f"of its declared type: {problem}"), None
    return "completed", value, None, None


def _located(res) -> str:
    """The run's error, naming the node that failed and where it is in the source."""
    rec = res.failed_node
    if rec is None or (res.error or "").startswith(f"`{rec.id}`"):
        return res.error
    where = f"{rec.span.file}:{rec.span.line}:{rec.span.col}: " if rec.span else ""
    if where and (res.error or "").startswith(where):
        return res.error
    return f"{where}`{rec.id}` {rec.status}: {res.error}"


async def _heartbeat(journal, run_id: str, every: float = 5.0) -> None:
    while True:
        await asyncio.sleep(every)
        journal.heartbeat(run_id)


def _close(state: RunState, heartbeat, result: RunResult) -> None:
    if heartbeat is not None:
        heartbeat.cancel()
    if state.files is not None:
        state.files.close()
    if state.journal is not None:
        try:
            state.journal.finish_run(result.run_id, result, state.records)
        finally:
            state.journal.close()


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


def run(spec: WorkflowSpec, executor, inputs: dict | None = None, **options) -> RunResult:
    """Synchronous wrapper around `run_async` (Ctrl-C cancels the run, as with
    `asyncio.run`; an executor that ignores cancellation cannot keep it from returning)."""
    return run_sync(run_async(spec, executor, inputs, **options))


def resume(run_id: str, executor, **options) -> RunResult:
    """Synchronous wrapper around `resume_async`."""
    return run_sync(resume_async(run_id, executor, **options))
