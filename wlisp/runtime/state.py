"""Per-run state: node records, budgets, bounds, and the event stream."""

from __future__ import annotations

import asyncio
import time

from ..contract import Event


class BudgetExhausted(Exception):
    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


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
        from ..values.builtins import to_json

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


class Budget:
    def __init__(self, limits: dict | None):
        limits = limits or {}
        self.steps = limits.get("steps")
        self.tokens = limits.get("tokens")
        self.cost = limits.get("cost")
        self.wall = limits.get("wall")
        self.used_steps = 0
        self.used_tokens = 0
        self.used_cost = 0.0

    def take_step(self) -> None:
        if self.steps is not None and self.used_steps >= self.steps:
            raise BudgetExhausted(f"step budget of {self.steps} used up")
        self.used_steps += 1

    def add_usage(self, usage: dict | None) -> None:
        if not usage:
            return
        self.used_tokens += int(usage.get("input_tokens") or 0) + \
            int(usage.get("output_tokens") or 0)
        self.used_cost += float(usage.get("cost") or 0.0)
        if self.tokens is not None and self.used_tokens > self.tokens:
            raise BudgetExhausted(f"token budget of {self.tokens} exceeded "
                                  f"({self.used_tokens} used)")
        if self.cost is not None and self.used_cost > self.cost:
            raise BudgetExhausted(f"cost budget of {self.cost} exceeded "
                                  f"({self.used_cost:.4f} used)")


class RunState:
    """Everything one run shares across its nodes."""

    def __init__(self, spec, executor, inputs, *, bound: int, sink=None, answers=None,
                 retry_base: float = 0.5, sleep=asyncio.sleep, default_retries: int = 2):
        self.spec = spec
        self.executor = executor
        self.inputs = inputs
        self.sink = sink
        self.answers = answers or {}
        self.records: dict[str, NodeRecord] = {}
        self.gates: dict[str, str] = {}
        self.budget = Budget(spec.budget)
        self.bound = bound
        self.sem = asyncio.Semaphore(bound)
        self.exclusive = {name: asyncio.Lock() for name, a in spec.agents.items()
                          if a.get("exclusive")}
        self.retry_base = retry_base
        self.sleep = sleep
        self.default_retries = default_retries
        self.started_at = time.monotonic()
        self.run_id = ""
        self.journal = None
        self.cached: dict = {}   # node instance id -> (spec hash, outcome JSON) to reuse
        self.reused = 0

    def now(self) -> float:
        return time.monotonic() - self.started_at

    def record(self, inst: str, node) -> NodeRecord:
        rec = NodeRecord(inst, node)
        self.records[inst] = rec
        return rec

    def start(self, rec: NodeRecord) -> None:
        rec.status = "running"
        rec.started = time.monotonic()
        if self.sink is not None:
            self.emit("started", rec)

    def finish(self, rec: NodeRecord, status: str, value=None, error=None) -> None:
        rec.status = status
        rec.value = value
        rec.error = error
        rec.finished = time.monotonic()
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
