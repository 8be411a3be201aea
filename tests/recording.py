"""A recording test executor: scripted behaviour per agent, observed concurrency."""

from __future__ import annotations

import asyncio
import json

from wlisp.contract import StepOutcome, StepSpec, TransientError


class Recorder:
    """Answers by agent name. Behaviours: a string (output), a dict (structured),
    a callable(spec) -> answer, or one of the special markers below."""

    def __init__(self, answers=None, latency=0.0, concurrency_hint=64, latencies=None):
        self.answers = answers or {}
        self.latency = latency
        self.latencies = latencies or {}
        self.concurrency_hint = concurrency_hint
        self.calls: list[StepSpec] = []
        self.active = 0
        self.max_active = 0
        self.per_agent_active: dict[str, int] = {}
        self.per_agent_max: dict[str, int] = {}

    def ids(self):
        return [c.task_id for c in self.calls]

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        self.calls.append(spec)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        a = spec.agent
        self.per_agent_active[a] = self.per_agent_active.get(a, 0) + 1
        self.per_agent_max[a] = max(self.per_agent_max.get(a, 0), self.per_agent_active[a])
        try:
            delay = self.latencies.get(spec.task_id, self.latency)
            if delay:
                await asyncio.sleep(delay)
            answer = self.answers.get(spec.agent, f"{spec.agent}: {spec.prompt}")
            if callable(answer):
                answer = answer(spec)
            if answer == "RAISE":
                raise RuntimeError("boom")
            if answer == "TRANSIENT":
                raise TransientError("rate limited")
            if answer == "HANG":
                await asyncio.Event().wait()
            if answer == "GARBAGE":
                return {"not": "an outcome"}  # type: ignore[return-value]
            if answer == "WRONG_ID":
                return StepOutcome(task_id="someone-else", agent=spec.agent, output="x")
            if answer == "FAIL":
                return StepOutcome.failed(spec.task_id, spec.agent, "agent gave up")
            if isinstance(answer, StepOutcome):
                return answer
            structured = answer if isinstance(answer, (dict, list)) else None
            output = json.dumps(answer) if structured is not None else str(answer)
            return StepOutcome(task_id=spec.task_id, session_id=f"s-{spec.task_id}",
                               agent=spec.agent, output=output, success=True,
                               structured=structured,
                               usage={"input_tokens": 10, "output_tokens": 5, "cost": 0.01})
        finally:
            self.active -= 1
            self.per_agent_active[a] -= 1
