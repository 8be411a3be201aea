"""Running WorkflowSpecs (SPEC §6–§7): `run_async`, its result, and the executor seam."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from ..builtins import BuiltinError, to_json
from ..errors import Diagnostic, WlispError
from ..ir import WorkflowSpec
from .events import Event, EventList, EventSink
from .records import BudgetExhausted, RunState
from .types import StepOutcome, StepSpec, TransientError

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
                    retry_base: float = 0.5, sleep=None, store=None) -> RunResult:
    """Run `spec` against `executor`. Failures are values: the result says how it ended."""
    from .scheduler import execute

    if store is not None:
        raise usage_error("journaled runs (store=...) are not available yet; pass store=None")
    inputs = check_inputs(spec, inputs)
    bound = concurrency_bound(spec, executor, concurrency)
    state = RunState(spec, executor, inputs, bound=bound, sink=events, answers=answers,
                     retry_base=retry_base, sleep=sleep or asyncio.sleep)
    run_id = run_id or uuid.uuid4().hex[:12]
    t0 = time.monotonic()
    if events is not None:
        events.emit(Event("run_started", spec.name, data={"run_id": run_id}))
    status, value, error = "completed", None, None
    task = asyncio.ensure_future(execute(spec, state))
    watchdog = None
    if spec.budget and spec.budget.get("wall"):
        wall = spec.budget["wall"]
        watchdog = asyncio.get_running_loop().call_later(
            wall, lambda: task.cancel(f"wall-clock budget of {wall}s used up"))
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
                       dict(state.gates))
    if events is not None:
        events.emit(Event("run_finished", spec.name, time=state.now(), message=error,
                          data={"status": status, "run_id": run_id}))
    return result


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


__all__ = ["run", "run_async", "RunResult", "StepSpec", "StepOutcome", "TransientError",
           "Event", "EventList", "EventSink"]
