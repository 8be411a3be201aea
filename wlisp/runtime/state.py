"""What one run shares across its nodes: how it was asked to run (`RunOptions`), the
record of every node instance, the bounds, the budget, the journal and events."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from ..contract import Event, EventSink
from ..values.builtins import to_json
from .budget import Budget
from .cancel import SYSTEM_CLOCK, BudgetExhausted, CancelScope
from .stepfiles import StepFiles

DEFAULT_RETRIES = 2


@dataclass
class RunOptions:
    """How to run a spec; given once, read by every layer of the runtime.

    `store` is a state directory (journaled run) or None (in memory); `reuse_from`
    names an earlier run whose completed steps are reused where their id and
    StepSpec hash still match (incremental re-run); `reuse` is such a table
    (`Journal.completed`) for a run in memory (`wlisp run --dry-run --resume`)."""

    events: EventSink | None = None
    concurrency: int | None = None
    run_id: str | None = None
    answers: dict = field(default_factory=dict)
    retry_base: float = 0.5          # seconds before the first retry of a transient failure
    clock: object = SYSTEM_CLOCK     # `runtime/cancel.py`: SystemClock or VirtualClock
    store: str | None = None
    reuse_from: str | None = None
    executor_profile: dict | None = None
    reuse: dict | None = None        # in memory: journaled steps to reuse (a rehearsal)
    tracer: object = None            # an OpenTelemetry tracer: the run is traced
    trace_content: bool = False      # ... with prompts and outputs in the spans

    def __post_init__(self):
        self.answers = dict(self.answers or {})


class NodeRecord:
    """What happened to one node instance. Status ends as one of completed, failed,
    skipped, pruned, cancelled (or paused, for a human gate awaiting an answer)."""

    __slots__ = ("id", "kind", "agent", "status", "value", "error", "started", "finished",
                 "attempts", "usage", "span", "data")

    def __init__(self, inst: str, node):
        self.id = inst
        self.kind = node.kind
        self.agent = node.agent if node.kind == "spawn" else None
        self.status = "pending"
        self.value = None
        self.error = None
        self.started = None
        self.finished = None
        self.attempts = 0
        self.usage = None
        self.span = node.span
        self.data: dict = {}

    def to_dict(self) -> dict:
        out = {"status": self.status, "kind": self.kind}
        if self.agent:
            out["agent"] = self.agent
        if self.kind == "spawn" and self.value is not None:
            out["outcome"] = to_json(self.value)
        if self.error:
            out["error"] = self.error
        if self.attempts:
            out["attempts"] = self.attempts
        if self.started is not None and self.finished is not None:
            out["elapsed"] = round(self.finished - self.started, 6)
        if self.usage:
            out["usage"] = self.usage
        if self.span:
            out["source"] = f"{self.span.file}:{self.span.line}:{self.span.col}"
        out.update(self.data)
        return out


LINE_SHOWN = 500  # of an agent's line, in the live view and `run -v` (live.log: whole)


class StepEvents:
    """The event sink executors get: the process groups they report go to the journal
    (so that a later holder of the run can kill what a dead one left running), and
    every event goes on to the run's own sink."""

    def __init__(self, journal, run_id: str, sink: EventSink | None, clock, started: float,
                 files=None):
        self.journal, self.run_id, self.sink = journal, run_id, sink
        self.clock, self.started = clock, started
        self.files = files  # StepFiles, or None

    def emit(self, event: Event) -> None:
        if self.files is not None and event.kind in ("agent", "stderr"):
            (self.files.line if event.kind == "agent" else self.files.stderr)(event)
        if event.kind == "agent" and len(event.message or "") > LINE_SHOWN:
            event.message = event.message[:LINE_SHOWN]  # cut here: masked whole before
        if self.journal is None:
            pass
        elif event.kind == "process_started":
            self.journal.record_process(self.run_id, event.node, event.attempt, event.data)
        elif event.kind == "process_ended":
            self.journal.forget_process(self.run_id, event.node, event.attempt,
                                        event.data.get("pid"))
        if self.sink is not None:
            if not event.time:  # executors do not know when the run started
                event.time = self.clock.now() - self.started
            self.sink.emit(event)


# what an instance id adds to its spec node's id: a loop's iteration, a map's item
INSTANCE_MARK = re.compile(r"@\d+|\[[\d.]+\]")


def renamed_steps(spec, cached: dict) -> dict[str, list]:
    """Journaled steps whose ids this spec does not have (written by a compiler that
    named nodes differently, such as wlisp 0.1's `main/classify/then/x/agent`), by
    step hash: an incremental re-run still reuses what they asked and answered. A
    step whose id this spec has is never taken for another one."""
    static = {INSTANCE_MARK.sub("", node.id) for node, _ in spec.walk()}
    out: dict[str, list] = {}
    for inst, hit in cached.items():
        if INSTANCE_MARK.sub("", inst) not in static:
            out.setdefault(hit[0], []).append(hit)
    return out


class RunState:
    """Everything one run shares across its nodes, built complete before it starts."""

    def __init__(self, spec, executor, inputs: dict, options: RunOptions, *, run_id: str,
                 bound: int, journal=None, cached: dict | None = None,
                 used: tuple[int, int, float] = (0, 0, 0.0), attempts: dict | None = None):
        self.spec = spec
        self.executor = executor
        self.inputs = inputs
        self.options = options
        self.run_id = run_id
        self.sink = options.events
        self.answers = options.answers
        self.clock = options.clock
        self.journal = journal
        self.cached = cached or {}   # node instance id -> (spec hash, outcome JSON, run)
        self.renamed = renamed_steps(spec, self.cached) if self.cached else {}
        self.attempts_before = attempts or {}  # node instance -> attempts journaled before
        self.records: dict[str, NodeRecord] = {}
        self.gates: dict[str, str] = {}
        self.budget = Budget(spec.budget, used)
        self.bound = bound
        self.sem = asyncio.Semaphore(bound)
        self.exclusive = {name: asyncio.Lock() for name, a in spec.agents.items()
                          if a.get("exclusive")}
        self.reused = 0
        self.started_at = self.clock.now()
        # (given the clock and start, not `self.now`: no reference cycle through the run)
        self.files = StepFiles(journal.log_dir(run_id)) \
            if journal is not None and getattr(executor, "step_files", False) else None
        self.step_events = StepEvents(journal, run_id, self.sink, self.clock,
                                      self.started_at, self.files) \
            if journal is not None or self.sink is not None else None
        wall = (spec.budget or {}).get("wall")
        self.scope = CancelScope(  # the run's scope: its deadline is the wall-clock budget
            None if wall is None else self.started_at + wall,
            None if wall is None else BudgetExhausted(f"wall-clock budget of {wall}s used up"),
            self.clock)

    def now(self) -> float:
        return self.clock.now() - self.started_at

    def record(self, inst: str, node) -> NodeRecord:
        rec = NodeRecord(inst, node)
        self.records[inst] = rec
        return rec

    def start(self, rec: NodeRecord) -> None:
        rec.status = "running"
        rec.started = self.clock.now()
        if self.sink is not None:
            self.emit("started", rec)

    def finish(self, rec: NodeRecord, status: str, value=None, error=None) -> None:
        rec.status = status
        rec.value = value
        rec.error = error
        rec.finished = self.clock.now()
        if self.sink is not None:
            self.emit({"completed": "finished"}.get(status, status), rec, message=error)

    def prune(self, inst: str, node, why: str) -> None:
        rec = self.record(inst, node)
        rec.status = "pruned"
        rec.error = why
        if self.sink is not None:
            self.emit("pruned", rec, message=why)

    def emit(self, kind: str, rec: NodeRecord, message=None, **data) -> None:
        elapsed = None
        if rec.started is not None and rec.finished is not None and kind != "started":
            elapsed = rec.finished - rec.started
        self.sink.emit(Event(kind, rec.id, rec.kind, rec.agent, self.now(), elapsed,
                             rec.attempts or None, rec.usage, message,
                             rec.span.to_json() if rec.span else None, data))

    def cancel_unfinished(self, why: str) -> None:
        for rec in self.records.values():
            if rec.status in ("pending", "running"):
                self.finish(rec, "cancelled", error=why)

