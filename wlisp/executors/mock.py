"""The `mock` executor: offline, instant and deterministic.

Answers are derived from the step alone: text echoes the agent and the task;
structured steps get a small instance of their schema (the first label for a
classifier, a judge's winner chosen by a stable hash of the prompt).
"""

from __future__ import annotations

import asyncio
import hashlib
import json

from ..contract import StepOutcome, StepSpec


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def sample(schema: dict | None, seed: str, name: str = "value"):
    """A small value valid for `schema` (the subset the type language emits)."""
    if not isinstance(schema, dict) or not schema:
        return f"mock {name}"
    if "enum" in schema:
        choices = schema["enum"]
        if name == "winner":
            return choices[_digest(seed) % len(choices)]
        return choices[0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return sample(schema[key][0], seed, name)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        req = schema.get("required", list(props))
        return {k: sample(props.get(k, {}), seed + k, k) for k in props if k in req} | \
               {k: sample(v, seed + k, k) for k, v in props.items() if k not in req}
    if kind == "array":
        n = max(1, schema.get("minItems", 1))
        return [sample(schema.get("items", {}), f"{seed}{i}", name) for i in range(n)]
    if kind == "string":
        return f"mock {name}"
    if kind == "integer":
        return max(schema.get("minimum", 1), 1) if "maximum" not in schema else \
            schema.get("minimum", 0)
    if kind == "number":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and hi is not None:
            return hi
        return 0.9 if name.endswith("score") else 1.0
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return f"mock {name}"


class MockExecutor:
    """Deterministic offline answers; `latency` (seconds) simulates slow agents."""

    def __init__(self, concurrency_hint: int = 64, latency: float = 0.0):
        self.concurrency_hint = concurrency_hint
        self.latency = latency
        self.calls = 0

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        structured = None
        if spec.output_schema is not None:
            structured = sample(spec.output_schema, spec.task_id + spec.prompt)
            output = json.dumps(structured)
        else:
            first = spec.prompt.strip().splitlines()[0] if spec.prompt.strip() else ""
            output = f"[{spec.agent}] {first[:120]}"
        words = len(spec.prompt.split())
        # a continued step stays in the session it continues, as the agent CLIs do
        session = spec.parent_session_id or f"mock-{spec.task_id}"
        return StepOutcome(task_id=spec.task_id, session_id=session,
                           agent=spec.agent, output=output, success=True,
                           structured=structured,
                           usage={"input_tokens": words, "output_tokens": len(output.split()),
                                  "cost": 0.0})
