"""The executor seam (SPEC §6): StepSpec in, StepOutcome out, events on the side.

The runtime and every executor depend on this module and on nothing of each
other (as httpx's transports depend on its models, never on its client).

Mirrors the a3s orchestration seed (`AgentStepSpec`, `StepOutcome`): plain
records that serialise to JSON with optional fields omitted, and load JSON that
lacks them. A StepOutcome is also the runtime value of a spawn node: it renders
as its output text and answers dotted field access.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

# finish reasons that mean "try again": the runtime retries these with backoff
TRANSIENT_REASONS = frozenset({"timeout", "rate_limit", "connection", "transient", "lost"})


def _to_json(obj, required: tuple[str, ...]) -> str:
    data = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name in required or value not in (None, {}, [], ()):
            data[f.name] = value
    return json.dumps(data, ensure_ascii=False)


_KNOWN: dict = {}


def _from_json(cls, text: str | dict):
    data = json.loads(text) if isinstance(text, str) else dict(text)
    known = _KNOWN.get(cls)
    if known is None:
        known = _KNOWN[cls] = frozenset(f.name for f in fields(cls))
    if not known.issuperset(data):
        data = {k: v for k, v in data.items() if k in known}
    return cls(**data)


@dataclass(slots=True)
class StepSpec:
    """One unit of agent work: what to run, independent of where it runs."""

    task_id: str
    agent: str
    description: str = ""
    prompt: str = ""
    max_steps: int | None = None
    parent_session_id: str | None = None
    output_schema: dict | None = None
    model: str | None = None
    system: str | None = None
    tools: list | None = None
    timeout: float | None = None
    trust: str | None = None
    role: str | None = None
    isolation: str | None = None
    context: str | None = None
    attempt: int = 1
    metadata: dict = field(default_factory=dict)

    REQUIRED: ClassVar = ("task_id", "agent", "description", "prompt")

    def to_json(self) -> str:
        return _to_json(self, self.REQUIRED)

    @classmethod
    def from_json(cls, text) -> StepSpec:
        return _from_json(cls, text)

    def to_dict(self) -> dict:
        return json.loads(self.to_json())

    def trace_context(self) -> dict:
        """The W3C trace context of a traced run's attempt (`traceparent`, `tracestate`),
        for the executor to pass on: environment variables, HTTP headers."""
        meta = self.metadata or {}
        return {k: meta[k] for k in ("traceparent", "tracestate") if meta.get(k)}


@dataclass(slots=True)
class StepOutcome:
    """The result of running one StepSpec to completion (or failing to)."""

    task_id: str
    session_id: str = ""
    agent: str = ""
    output: str = ""
    success: bool = True
    structured: Any = None
    usage: dict | None = None
    error: str | None = None
    finish_reason: str | None = None

    REQUIRED: ClassVar = ("task_id", "session_id", "agent", "output", "success")
    FIELDS: ClassVar = {"output": "output", "structured": "structured", "success": "success",
                        "agent": "agent", "task-id": "task_id", "task_id": "task_id",
                        "session-id": "session_id", "session_id": "session_id",
                        "usage": "usage", "error": "error", "finish-reason": "finish_reason",
                        "finish_reason": "finish_reason"}

    @classmethod
    def failed(cls, task_id: str, agent: str, message: str,
               finish_reason: str | None = "error") -> StepOutcome:
        return cls(task_id=task_id, session_id=f"task-run-{task_id}", agent=agent,
                   output=message, success=False, error=message, finish_reason=finish_reason)

    def to_json(self) -> str:
        return json.dumps(self.to_value(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text) -> StepOutcome:
        return _from_json(cls, text)

    # --- as a runtime value ----------------------------------------------------

    def as_text(self) -> str:
        return self.output

    def field(self, key: str, default=None):
        """`x.output` reads the outcome; any other key reads `structured`."""
        name = self.FIELDS.get(key)
        if name is not None:
            value = getattr(self, name)
            return default if value is None else value
        if isinstance(self.structured, dict):
            return self.structured.get(key, default)
        return default

    def to_value(self) -> dict:
        """As a plain dict (structured and usage are JSON already: no deep copy)."""
        out = {"task_id": self.task_id, "session_id": self.session_id, "agent": self.agent,
               "output": self.output, "success": self.success}
        if self.structured is not None:
            out["structured"] = self.structured
        if self.usage is not None:
            out["usage"] = self.usage
        if self.error is not None:
            out["error"] = self.error
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason
        return out

    @property
    def transient(self) -> bool:
        return not self.success and self.finish_reason in TRANSIENT_REASONS

    # --- checked where it enters the runtime --------------------------------------

    def problem(self) -> str | None:
        """Why this outcome cannot be used as it is (a wrong type, a non-JSON or too
        deep structured answer, usage that is not counts), or None."""
        if type(self.task_id) is type(self.session_id) is type(self.agent) is \
                type(self.output) is str and type(self.success) is bool and \
                self.usage is None and self.structured is None and \
                (self.error is None or type(self.error) is str) and \
                (self.finish_reason is None or type(self.finish_reason) is str):
            return None  # the common case, checked without a loop (it runs every step)
        for name in ("task_id", "session_id", "agent", "output"):
            if not isinstance(getattr(self, name), str):
                return f"`{name}` of type {type(getattr(self, name)).__name__}, not text"
        for name in ("error", "finish_reason"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                return f"`{name}` of type {type(value).__name__}, not text"
        if not isinstance(self.success, bool):
            return f"`success` of type {type(self.success).__name__}, not true/false"
        if self.usage is not None:
            problem = _usage_problem(self.usage)
            if problem:
                return problem
        if self.structured is not None:
            problem = _json_problem(self.structured)
            if problem:
                return f"a structured answer that is not JSON: {problem}"
        return None

    def repaired(self) -> StepOutcome:
        """The outcome with text that UTF-8 cannot store (lone surrogates, as in a reply
        cut inside an escaped emoji) repaired: pairs joined, the rest U+FFFD."""
        if self.output.isascii() and self.session_id.isascii() and self.agent.isascii() \
                and self.task_id.isascii() and self.structured is None and \
                (self.error is None or self.error.isascii()) and \
                (self.finish_reason is None or self.finish_reason.isascii()):
            return self  # the common case (isascii is a flag check)
        texts = (self.task_id, self.session_id, self.agent, self.output, self.error,
                 self.finish_reason)
        if all(t is None or t.isascii() or _storable(t) for t in texts) and \
                (self.structured is None or _storable_json(self.structured)):
            return self
        return StepOutcome(
            task_id=self.task_id, session_id=repair_text(self.session_id),
            agent=repair_text(self.agent), output=repair_text(self.output),
            success=self.success, structured=_repair_json(self.structured), usage=self.usage,
            error=repair_text(self.error), finish_reason=repair_text(self.finish_reason))


MAX_STRUCTURED_DEPTH = 200


def _usage_problem(usage) -> str | None:
    if not isinstance(usage, dict):
        return f"usage of type {type(usage).__name__}, not a table of counts"
    for key, value in usage.items():
        if not isinstance(key, str) or isinstance(value, bool) or \
                not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return f"usage `{key}` = {value!r}, not a count"
    return None


def _json_problem(value) -> str | None:
    """Whether `value` is plain JSON (dict with text keys, list, text, finite number,
    bool, null), at most MAX_STRUCTURED_DEPTH deep. Iterative: any depth is safe."""
    stack = [(value, 1)]
    while stack:
        x, depth = stack.pop()
        if depth > MAX_STRUCTURED_DEPTH:
            return f"nested deeper than {MAX_STRUCTURED_DEPTH}"
        if isinstance(x, dict):
            for k, v in x.items():
                if not isinstance(k, str):
                    return f"a key of type {type(k).__name__}"
                stack.append((v, depth + 1))
        elif isinstance(x, (list, tuple)):
            stack.extend((v, depth + 1) for v in x)
        elif isinstance(x, float):
            if not math.isfinite(x):
                return f"the number {x}"
        elif not (x is None or isinstance(x, (str, int, bool))):
            return f"a value of type {type(x).__name__}"
    return None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def repair_text(text):
    """Text with lone surrogates joined into pairs where they pair, else U+FFFD."""
    if text is None or text.isascii() or _storable(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _storable_json(value) -> bool:
    if isinstance(value, str):
        return _storable(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable_json(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_storable_json(v) for v in value)
    return True


def _repair_json(value):
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, dict):
        return {repair_text(k): _repair_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_repair_json(v) for v in value]
    return value


def step_hash(step: StepSpec, static_part: bytes | None = None) -> str:
    """What the executor is asked, without attempt number, timeout or source position.
    `static_part` (from `static_hash_part`) lets a node's instances share the rest."""
    if static_part is None:
        static_part = static_hash_part(step)
    h = hashlib.sha256(static_part)
    h.update(step.prompt.encode("utf-8", "surrogatepass"))
    if step.parent_session_id:  # continuing another session is another question
        h.update(b"\0session\0" + step.parent_session_id.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def static_hash_part(step: StepSpec) -> bytes:
    key = {"agent": step.agent, "description": step.description,
           "max_steps": step.max_steps, "output_schema": step.output_schema,
           "model": step.model, "system": step.system, "tools": step.tools,
           "trust": step.trust, "role": step.role, "isolation": step.isolation,
           "context": step.context}
    return json.dumps(key, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode() + b"\x00"


class TransientError(Exception):
    """Raised by an executor for a failure worth retrying (rate limit, lost worker...)."""


# --- events -------------------------------------------------------------------


@dataclass(slots=True)
class Event:
    kind: str               # run_started run_finished started finished failed skipped
                            # pruned retried cancelled paused
    node: str = ""          # instance id ("main/fix/loop@2/critic")
    node_kind: str = ""
    agent: str | None = None
    time: float = 0.0       # seconds since the run started
    elapsed: float | None = None
    attempt: int | None = None
    usage: dict | None = None
    message: str | None = None
    span: list | None = None
    data: dict = field(default_factory=dict)


class EventSink(Protocol):
    def emit(self, event: Event) -> None: ...


class Executor(Protocol):
    """Where steps run (SPEC §6): any object with these two members."""

    concurrency_hint: int  # advisory upper bound on concurrent steps

    async def execute_step(self, spec: StepSpec,
                           events: EventSink | None = None) -> StepOutcome: ...


class EventList:
    """A sink that keeps every event (tests, the Python API)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self, node: str | None = None) -> list[str]:
        return [e.kind for e in self.events if node is None or e.node == node]
