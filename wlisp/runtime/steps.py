"""One agent step: build the StepSpec, call the executor under the bounds, and turn
whatever comes back (or doesn't) into a StepOutcome — retrying transient
failures with backoff and invalid structured answers with the errors in the
prompt. This is the one place where an exception becomes a failed outcome."""

from __future__ import annotations

import asyncio
import json
import random
import time

from ..contract import StepOutcome, StepSpec, TransientError
from ..values import builtins as B
from .journal import static_hash_part, step_hash
from .state import NodeRecord
from .structured import parse_answer, validate

BACKOFF_CAP = 30.0


def agent_template(sched, name: str) -> dict:
    """StepSpec fields that come from the agent (cached per agent and run)."""
    cache = sched.agent_templates
    t = cache.get(name)
    if t is None:
        spec = sched.spec
        agent = spec.agents.get(name, {})
        tools = [{"name": x, **spec.tools.get(x, {})} for x in agent.get("tools") or ()]
        retries = agent.get("retries")
        meta = {"executor": agent["executor"]} if agent.get("executor") else {}
        t = cache[name] = {
            "_agent_meta": meta,
            "agent": name, "description": agent.get("description") or "",
            "max_steps": agent.get("max_steps"), "output_schema": None,
            "model": agent.get("model"), "system": agent.get("system"), "tools": tools or None,
            "timeout": agent.get("timeout"), "trust": agent.get("trust"),
            "role": agent.get("role"), "isolation": agent.get("isolation"),
            "context": agent.get("context"),
            "_retries": sched.state.default_retries if retries is None else retries}
    return t


_OVERRIDES = (("description", "description"), ("max_steps", "max_steps"), ("model", "model"),
              ("timeout", "timeout"), ("trust", "trust"), ("role", "role"),
              ("retries", "_retries"))


def step_template(sched, np) -> dict:
    """The parts of a node's StepSpec that do not depend on the instance (cached).
    A node that overrides nothing shares its agent's template."""
    node = np.node
    base = agent_template(sched, node.agent)
    overrides = [(f, getattr(node, k)) for k, f in _OVERRIDES if getattr(node, k) is not None]
    returns = node.returns
    if overrides or returns is not None or base["trust"] == "quarantined":
        t = dict(base)
        t.update(overrides)
        if returns is not None:
            t["output_schema"] = sched.spec.schemas.get(returns) if isinstance(returns, str) \
                else returns
        if t["trust"] == "quarantined":
            t["tools"] = None  # quarantined steps get no tools
    else:
        t = base
    np.exprs["_meta"] = {"node": node.id, "source": node.span.to_json() if node.span else None,
                         **base["_agent_meta"]}
    return t


def build_step(sched, np, scope, inst: str) -> tuple[StepSpec, dict]:
    t = np.exprs.get("_step")
    if t is None:
        t = np.exprs["_step"] = step_template(sched, np)
    prompt = sched.expr(np, "prompt")(scope)
    step = StepSpec(inst, t["agent"], t["description"],
                    prompt if isinstance(prompt, str) else B.render(prompt), t["max_steps"],
                    None, t["output_schema"], t["model"], t["system"], t["tools"], t["timeout"],
                    t["trust"], t["role"], t["isolation"], t["context"], 1,
                    dict(np.exprs["_meta"]))  # each step its own: executors may annotate it
    return step, t


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
    step, template = build_step(sched, np, scope, inst)
    journal = state.journal
    h = None
    if journal is not None or state.cached:
        static = np.exprs.get("_hash")
        if static is None:
            static = np.exprs["_hash"] = static_hash_part(step)
        h = step_hash(step, static)
        hit = state.cached.get(inst)
        if hit is not None and hit[0] == h:  # finished before, asked the same: reuse it
            state.reused += 1
            rec.data["reused"] = hit[2]
            return StepOutcome.from_json(hit[1])
    retries = template["_retries"]
    lock = state.exclusive.get(step.agent)
    base_prompt = step.prompt
    usage_total: dict = {}
    attempt = 0
    while True:
        attempt += 1
        step.attempt = attempt
        rec.attempts = attempt
        async with state.sem:
            state.budget.take_step()  # counted when the step really starts
            started = time.time()
            if lock is None:
                out = await call_executor(state, step)
            else:
                async with lock:
                    out = await call_executor(state, step)
        errors = []
        if out.success and step.output_schema is not None:
            out, errors = check_structured(out, step.output_schema)
            if errors:
                problem = "the answer does not match the output schema: " + "; ".join(errors)
                out = StepOutcome(out.task_id, out.session_id, out.agent, out.output, False,
                                  None, out.usage, problem, "invalid_output")
        if journal is not None:  # committed before anything that depends on it starts
            await journal.record_step(state.run_id, step, h, out, started, time.time())
        if out.usage:
            for k, v in out.usage.items():
                if isinstance(v, (int, float)):
                    usage_total[k] = usage_total.get(k, 0) + v
            rec.usage = usage_total
            state.budget.add_usage(out.usage)
        if attempt > retries or out.success:
            return out
        if errors:
            step.prompt = (f"{base_prompt}\n\nYour previous answer was invalid:\n- "
                           + "\n- ".join(errors) + "\nAnswer with JSON matching this "
                           f"schema:\n{json.dumps(step.output_schema)}")
            _retried(state, rec, out.error)
        elif out.transient:
            _retried(state, rec, out.error or out.output)
            delay = min(BACKOFF_CAP, state.retry_base * 2 ** (attempt - 1))
            await state.sleep(delay * (0.5 + random.random()))
        else:
            return out


def _retried(state, rec, why) -> None:
    if state.sink is not None:
        rec.finished = time.monotonic()
        state.emit("retried", rec, message=why)
