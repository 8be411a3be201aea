"""One agent step: build the StepSpec, call the executor under the run's bounds, and
turn whatever comes back (or doesn't) into a StepOutcome — retrying transient
failures with backoff and invalid structured answers with the errors in the
prompt. `call_executor` is the one place where an exception becomes a failed
outcome."""

from __future__ import annotations

import asyncio
import json
import random
import time

from ..contract import StepOutcome, StepSpec, TransientError, static_hash_part, step_hash
from .cancel import within
from .state import NodeRecord, RunState
from .structured import drop_extras, lenient, parse_answer, validate

BACKOFF_CAP = 30.0
DEFAULT_RETRIES = 2
# (node field, step field): what a spawn may override from its agent
_OVERRIDES = (("description", "description"), ("max_steps", "max_steps"), ("model", "model"),
              ("timeout", "timeout"), ("trust", "trust"), ("role", "role"),
              ("retries", "retries"))


class StepTemplate:
    """The parts of a node's StepSpec that do not depend on the instance; nodes that
    override nothing of their agent share the agent's. `hash_prefix` is the static
    part of the step hash, computed when a journal first needs it."""

    __slots__ = ("agent", "description", "max_steps", "output_schema", "model", "system",
                 "tools", "timeout", "trust", "role", "isolation", "context", "retries",
                 "metadata", "_hash_prefix")

    def step(self, task_id: str, prompt: str, metadata: dict,
             session: str | None = None) -> StepSpec:
        return StepSpec(
            task_id=task_id, agent=self.agent, description=self.description, prompt=prompt,
            parent_session_id=session,
            max_steps=self.max_steps, output_schema=self.output_schema, model=self.model,
            system=self.system, tools=self.tools, timeout=self.timeout, trust=self.trust,
            role=self.role, isolation=self.isolation, context=self.context,
            metadata={**self.metadata, **metadata})  # its own: executors may annotate it

    @property
    def hash_prefix(self) -> bytes:
        if self._hash_prefix is None:
            self._hash_prefix = static_hash_part(self.step("", "", {}))
        return self._hash_prefix

    def copy(self) -> StepTemplate:
        t = StepTemplate()
        for name in self.__slots__:
            setattr(t, name, getattr(self, name))
        t._hash_prefix = None
        return t


class StepRunner:
    """Runs the spawn nodes of one run."""

    def __init__(self, state: RunState):
        self.state = state
        self.spec = state.spec
        self.agents: dict[str, StepTemplate] = {}

    def agent_template(self, name: str) -> StepTemplate:
        t = self.agents.get(name)
        if t is not None:
            return t
        agent = self.spec.agents.get(name, {})
        t = self.agents[name] = StepTemplate()
        t.agent, t.description = name, agent.get("description") or ""
        t.max_steps, t.model, t.system = agent.get("max_steps"), agent.get("model"), \
            agent.get("system")
        t.tools = [{"name": x, **self.spec.tools.get(x, {})}
                   for x in agent.get("tools") or ()] or None
        t.timeout, t.trust, t.role = agent.get("timeout"), agent.get("trust"), agent.get("role")
        t.isolation, t.context = agent.get("isolation"), agent.get("context")
        t.retries = DEFAULT_RETRIES if agent.get("retries") is None else agent["retries"]
        t.output_schema, t._hash_prefix = None, None
        t.metadata = {"executor": agent["executor"]} if agent.get("executor") else {}
        if t.trust == "quarantined":
            t.tools = None  # quarantined steps get no tools
        return t

    def template(self, node) -> StepTemplate:
        """A spawn node's template: its agent's, or a copy with what the node overrides."""
        base = self.agent_template(node.agent)
        overrides = [(f, getattr(node, k)) for k, f in _OVERRIDES
                     if getattr(node, k) is not None]
        if not overrides and node.returns is None:
            return base
        t = base.copy()
        for name, value in overrides:
            setattr(t, name, value)
        returns = node.returns
        t.output_schema = self.spec.schemas.get(returns) if isinstance(returns, str) \
            else returns
        if t.trust == "quarantined":
            t.tools = None  # quarantined steps get no tools
        return t

    @staticmethod
    def metadata(node) -> dict:
        """What a step of `node` tells the executor about where it comes from."""
        out = {"node": node.id, "source": node.span.to_json() if node.span else None}
        if node.continued:  # a later step continues it: its conversation must be kept
            out["continued"] = True
        return out

    async def run(self, t: StepTemplate, metadata: dict, prompt: str, inst: str,
                  rec: NodeRecord, session: str | None = None) -> StepOutcome:
        """Every attempt of one step instance; the last attempt's outcome. `session` is
        the session id this step continues (`:continue`)."""
        state = self.state
        step = t.step(inst, prompt, metadata, session)
        h = None
        if state.journal is not None or state.cached:
            h = step_hash(step, t.hash_prefix)
            hit = state.cached.get(inst)
            if (hit is None or hit[0] != h) and state.renamed.get(h):
                hit = state.renamed[h].pop(0)  # the same question under an older id
            if hit is not None and hit[0] == h:  # finished before, asked the same: reuse it
                state.reused += 1
                rec.data["reused"] = hit[2]
                return StepOutcome.from_json(hit[1])
        usage_total: dict = {}
        before, tries = state.attempts_before.get(inst, 0), 0  # (a resumed run's earlier ones)
        while True:
            tries += 1
            step.attempt = rec.attempts = before + tries
            lock = state.exclusive.get(step.agent) if state.exclusive else None
            async with state.sem:
                state.budget.take_step()  # counted when the step really starts
                started = time.time()
                if state.files is not None:
                    state.files.begin(step)
                if lock is None:
                    out = await call_executor(state, step)
                else:
                    async with lock:  # an `:exclusive` agent: one step at a time
                        out = await call_executor(state, step)
            errors = []
            if out.success and step.output_schema is not None:
                out, errors = check_structured(out, step.output_schema)
            if state.files is not None:  # as the journal will have it: validated
                state.files.end(step, out)
            if state.journal is not None:  # committed before anything that depends on it
                await state.journal.record_step(state.run_id, step, h, out, started,
                                                time.time())
            self.count_usage(out, rec, usage_total)
            if tries > t.retries or out.success:
                return out
            if not await self.prepare_retry(step, prompt, out, errors, rec, tries):
                return out

    def count_usage(self, out: StepOutcome, rec: NodeRecord, total: dict) -> None:
        if not out.usage:
            return
        for k, v in out.usage.items():
            if isinstance(v, (int, float)):
                total[k] = total.get(k, 0) + v
        rec.usage = total
        self.state.budget.add_usage(out.usage)

    async def prepare_retry(self, step, prompt, out, errors, rec, tries: int) -> bool:
        """Get ready for another attempt; False when this failure is final."""
        state = self.state
        if errors:
            step.prompt = (f"{prompt}\n\nYour previous answer was invalid:\n- "
                           + "\n- ".join(errors) + "\nAnswer with JSON matching this "
                           f"schema:\n{json.dumps(step.output_schema)}")
            _retried(state, rec, out.error)
            return True
        if not out.transient:
            return False
        _retried(state, rec, out.error or out.output)
        delay = min(BACKOFF_CAP, state.options.retry_base * 2 ** (tries - 1))
        await state.clock.sleep(delay * (0.5 + random.random()))
        return True


def check_structured(out: StepOutcome, schema: dict) -> tuple[StepOutcome, list[str]]:
    """Validate `structured` (or the JSON parsed from `output`) against `schema`, extra
    record fields allowed and dropped: the outcome with its structured answer, or a
    failed one and the errors."""
    value = out.structured
    errors = []
    if value is None:
        value, problem = parse_answer(out.output, schema)
        errors = [problem] if problem else []
    errors = errors or validate(value, lenient(schema))
    if errors:
        return StepOutcome(task_id=out.task_id, session_id=out.session_id, agent=out.agent,
                           output=out.output, success=False, usage=out.usage,
                           error="the answer does not match the output schema: "
                           + "; ".join(errors), finish_reason="invalid_output"), errors
    value = drop_extras(value, schema)
    if value != out.structured:
        out = StepOutcome(task_id=out.task_id, session_id=out.session_id, agent=out.agent,
                          output=out.output, success=out.success, structured=value,
                          usage=out.usage, error=out.error, finish_reason=out.finish_reason)
    return out, []


async def call_executor(state: RunState, step: StepSpec) -> StepOutcome:
    """Call the executor; a raise, a hang past the deadline, garbage, a malformed
    outcome or an answer for another task becomes a labelled failed outcome for this
    step only; text that cannot be stored is repaired.

    The step's deadline is its `:timeout`; the run's scope (the wall-clock budget)
    may end sooner, and the executor is told the time it really has."""
    own = outer = state.scope.deadline
    if step.timeout or outer is not None:
        own = state.clock.now() + step.timeout if step.timeout else None
        if outer is not None and (own is None or outer < own):
            step.timeout = max(0.0, outer - state.clock.now())
            own = None  # the run's deadline comes first: the run scope ends this step
    try:
        if own is None:  # the common case: no deadline of its own, no extra task
            out = await state.executor.execute_step(step, state.step_events)
        else:
            finished, out = await within(state.executor.execute_step(step, state.step_events), own,
                                         state.clock)
            if not finished:
                return StepOutcome.failed(step.task_id, step.agent,
                                          f"timed out after {step.timeout}s", "timeout")
    except asyncio.CancelledError:
        raise
    except TransientError as exc:
        return StepOutcome.failed(step.task_id, step.agent, f"transient error: {exc}",
                                  "transient")
    except (TimeoutError, ConnectionError) as exc:
        return StepOutcome.failed(step.task_id, step.agent,
                                  f"{type(exc).__name__}: {exc}", "connection")
    except Exception as exc:  # noqa: BLE001 - any executor bug is this step's failure
        return StepOutcome.failed(step.task_id, step.agent,
                                  f"executor raised {type(exc).__name__}: {exc}")
    if not isinstance(out, StepOutcome):
        return StepOutcome.failed(step.task_id, step.agent, "executor returned a "
                                  f"{type(out).__name__}, not a StepOutcome")
    if out.task_id != step.task_id:
        return StepOutcome.failed(step.task_id, step.agent, f"executor answered for task "
                                  f"`{out.task_id}` instead of `{step.task_id}`")
    problem = out.problem()
    if problem is not None:
        return StepOutcome.failed(step.task_id, step.agent, f"executor returned {problem}")
    return out.repaired()


def _retried(state, rec, why) -> None:
    if state.sink is not None:
        rec.finished = state.clock.now()
        state.emit("retried", rec, message=why)
