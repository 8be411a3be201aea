"""One agent step: build the StepSpec, call the executor under the bounds, and turn
whatever comes back (or doesn't) into a StepOutcome — retrying transient
failures with backoff and invalid structured answers with the errors in the
prompt. This is the one place where an exception becomes a failed outcome."""

from __future__ import annotations

import asyncio
import json
import random
import time

from .. import builtins as B
from .records import NodeRecord
from .structured import parse_answer, validate
from .types import StepOutcome, StepSpec, TransientError

BACKOFF_CAP = 30.0


def build_step(sched, np, scope, inst: str) -> StepSpec:
    node, spec = np.node, sched.spec
    agent = spec.agents.get(node.agent, {})
    prompt = sched.expr(np, "prompt")(scope)
    returns = node.returns
    schema = spec.schemas.get(returns) if isinstance(returns, str) else returns
    trust = node.trust or agent.get("trust")
    tools = None
    if agent.get("tools") and trust != "quarantined":  # quarantined steps get no tools
        tools = [{"name": t, **spec.tools.get(t, {})} for t in agent["tools"]]
    return StepSpec(
        task_id=inst, agent=node.agent,
        description=node.description or agent.get("description") or "",
        prompt=prompt if isinstance(prompt, str) else B.render(prompt),
        max_steps=node.max_steps or agent.get("max_steps"), output_schema=schema,
        model=node.model or agent.get("model"), system=agent.get("system"), tools=tools,
        timeout=node.timeout or agent.get("timeout"), trust=trust,
        role=node.role or agent.get("role"), isolation=agent.get("isolation"),
        context=agent.get("context"),
        metadata={"node": node.id, "source": node.span.to_json() if node.span else None})


async def call_executor(state, step: StepSpec) -> StepOutcome:
    """Call the executor; a raise, a hang past the timeout, garbage or an answer for
    another task becomes a labelled failed outcome for this step only."""
    executor = state.executor
    try:
        if step.timeout:
            task = asyncio.ensure_future(executor.execute_step(step, state.sink))
            done, _ = await asyncio.wait({task}, timeout=step.timeout)
            if not done:
                task.cancel()  # if the executor ignores cancellation, it is abandoned
                return StepOutcome.failed(step.task_id, step.agent,
                                          f"timed out after {step.timeout}s", "timeout")
            out = task.result()
        else:
            out = await executor.execute_step(step, state.sink)
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
    return out


def check_structured(out: StepOutcome, schema: dict) -> tuple[StepOutcome, list[str]]:
    """Validate `structured` (or the JSON parsed from `output`) against `schema`."""
    value = out.structured
    if value is None:
        value, problem = parse_answer(out.output, schema)
        if problem:
            return out, [problem]
    errors = validate(value, schema)
    if errors:
        return out, errors
    if out.structured is None:
        out = StepOutcome(out.task_id, out.session_id, out.agent, out.output, out.success,
                          value, out.usage, out.error, out.finish_reason)
    return out, []


async def run_spawn(sched, np, scope, inst: str, rec: NodeRecord) -> StepOutcome:
    state = sched.state
    node = np.node
    step = build_step(sched, np, scope, inst)
    agent = sched.spec.agents.get(node.agent, {})
    retries = node.retries if node.retries is not None else agent.get("retries")
    retries = state.default_retries if retries is None else retries
    lock = state.exclusive.get(node.agent)
    base_prompt = step.prompt
    usage_total: dict = {}
    attempt = 0
    while True:
        attempt += 1
        step.attempt = attempt
        rec.attempts = attempt
        async with state.sem:
            state.budget.take_step()  # counted when the step really starts
            if lock is None:
                out = await call_executor(state, step)
            else:
                async with lock:
                    out = await call_executor(state, step)
        if out.usage:
            for k, v in out.usage.items():
                if isinstance(v, (int, float)):
                    usage_total[k] = usage_total.get(k, 0) + v
            rec.usage = usage_total
            state.budget.add_usage(out.usage)
        problem = None
        if out.success and step.output_schema is not None:
            out, errors = check_structured(out, step.output_schema)
            if errors:
                problem = "the answer does not match the output schema: " + "; ".join(errors)
                if attempt <= retries:
                    step.prompt = (f"{base_prompt}\n\nYour previous answer was invalid:\n- "
                                   + "\n- ".join(errors) + "\nAnswer with JSON matching this "
                                   f"schema:\n{json.dumps(step.output_schema)}")
                    _retried(state, rec, problem)
                    continue
                out = StepOutcome(out.task_id, out.session_id, out.agent, out.output, False,
                                  None, out.usage, problem, "invalid_output")
        if not out.success and out.transient and attempt <= retries:
            _retried(state, rec, out.error or out.output)
            delay = min(BACKOFF_CAP, state.retry_base * 2 ** (attempt - 1))
            await state.sleep(delay * (0.5 + random.random()))
            continue
        return out


def _retried(state, rec, why) -> None:
    if state.sink is not None:
        rec.finished = time.monotonic()
        state.emit("retried", rec, message=why)
