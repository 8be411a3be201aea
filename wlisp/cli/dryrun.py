"""`wlisp run --dry-run`: everything a run would need, checked before anything is
spent — the workflow compiles, the inputs fit, `wlisp.toml` loads, and each agent's
executor can start (its program on PATH, its key set, its URL answering) — and the
plan: the steps that would run and how many at most."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request

from ..executors.agent_clis import TYPES as CLI_TYPES
from ..executors.profiles import OFFLINE

PROGRAMS = {kind: cls.program for kind, cls in CLI_TYPES.items()}
URL_TIMEOUT = 3.0


def profile_of(agent: dict, config, forced: str | None) -> str:
    """The profile an agent's steps go to, as the router decides it."""
    if forced:
        return forced
    return agent.get("executor") or config.agents.get(agent.get("name", "")) or \
        config.agents.get("default") or "mock"


def check_profile(name: str, config) -> list[tuple[str | None, str]]:
    """What stops profile `name` from running a step, each with the key of its
    `[executors.NAME]` table at fault (empty: nothing)."""
    prof = config.profiles.get(name)
    if prof is None:
        return [] if name in OFFLINE else [(None, f"no profile `{name}` in wlisp.toml")]
    kind, problems = prof.get("type"), []
    program, key = prof.get("binary") or PROGRAMS.get(kind), "binary"
    if kind == "command":
        program, key = (prof["argv"][0] if isinstance(prof["argv"][0], str) else None), "argv"
    cwd = os.path.join(config.base_dir, prof["cwd"]) if "cwd" in prof else os.getcwd()
    problem = program and _cannot_start(program, cwd)  # (where the executor starts it)
    if problem:
        problems.append((key if key in prof else None, problem))
    env = prof.get("api_key_env", "OPENAI_API_KEY" if kind == "openai" else None)
    if env and not os.environ.get(env):
        problems.append(("api_key_env" if "api_key_env" in prof else None,
                         f"environment variable `{env}` is not set"))
    if kind == "openai" and prof.get("base_url"):
        problem = _answers(prof["base_url"])
        if problem:
            problems.append(("base_url", problem))
    return problems or _builds(name, config)


def _cannot_start(program: str, cwd: str) -> str | None:
    """Why `program` cannot be started as a step's agent (None: it can)."""
    if os.sep not in program:
        return None if shutil.which(program) else f"`{program}` is not on PATH"
    path = os.path.join(cwd, program)  # a relative path is taken from the agent's cwd
    if not os.path.isfile(path):
        return f"`{program}` does not exist"
    return None if os.access(path, os.X_OK) else f"`{program}` is not executable"


def _builds(name: str, config) -> list[tuple[str | None, str]]:
    """What making the profile's executor says (an `env` entry naming an unset
    variable, a missing optional package), as the run would say it."""
    from ..errors import WlispError
    from ..executors.profiles import build_profile

    try:
        build_profile(config, name)
    except WlispError as err:
        return [("env" if "environment variable" in d.message else None, d.message)
                for d in err.diagnostics]
    return []


def _answers(url: str) -> str | None:
    """None when something answers HTTP at `url` (any status), else why not."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=URL_TIMEOUT)
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"`{url}` does not answer: {reason}"
    return None


def step_bound(graph) -> int | None:
    """The most steps a graph can run (None: it depends on run-time values)."""
    total = 0
    for node in graph.nodes:
        n = _node_bound(node)
        if n is None:
            return None
        total += n
    return total


def _node_bound(node) -> int | None:
    kind = node.kind
    if kind == "spawn":
        return 1
    if kind in ("value", "fail", "human"):
        return 0
    if kind == "loop":
        body = step_bound(node.body)
        return None if body is None else body * node.max
    if kind == "classify":
        arms = [step_bound(b.body) for b in node.branches or ()]
        if node.otherwise is not None:
            arms.append(step_bound(node.otherwise))
        return None if None in arms else max(arms, default=0)
    if kind == "try":
        parts = [step_bound(node.body)] + ([step_bound(node.catch)] if node.catch else [])
        return None if None in parts else sum(parts)
    if kind == "map" and node.bodies is not None:
        parts = [step_bound(g) for g in node.bodies]
        return None if None in parts else sum(parts)
    if kind == "pipeline" and node.chains is not None:
        parts = [step_bound(g) for chain in node.chains for g in chain]
        return None if None in parts else sum(parts)
    return None  # a map or pipeline over run-time items, a tournament


class _Rehearsal:
    """An executor that runs nothing: each step it is asked for would run for real."""

    concurrency_hint = 64

    async def execute_step(self, spec, events=None):
        from ..contract import StepOutcome

        return StepOutcome.failed(spec.task_id, spec.agent, WOULD_RUN, "dry_run")


WOULD_RUN = "would run"


def reuse_plan(spec, values: dict, cached: dict, run_id: str) -> dict:
    """Which steps an incremental re-run over `run_id`'s journal (`cached`) would take
    from it and which it would run: the workflow is rehearsed in memory, steps asking
    what they asked before are reused, the first that would run stops its branch."""
    import asyncio

    from ..runtime import run_async

    result = asyncio.run(run_async(spec, _Rehearsal(), values, reuse=cached))
    steps = []
    for node, rec in result.nodes.items():
        if rec.get("kind") != "spawn":
            continue
        verdict = "reused" if rec.get("reused") else "would run" if rec.get("error") == \
            WOULD_RUN else "waits" if rec["status"] == "skipped" else None
        if verdict:
            steps.append({"verdict": verdict, "node": node, "agent": rec.get("agent")})
    return {"run": run_id, "steps": steps}


def reuse_lines(reuse: dict) -> list[str]:
    count = {v: sum(s["verdict"] == v for s in reuse["steps"])
             for v in ("reused", "would run", "waits")}
    return [f"with the steps of run {reuse['run']}:",
            *(f"  {s['verdict']:<9}  {s['node']} [{s['agent']}]" for s in reuse["steps"]),
            f"{count['reused']} reused, {count['would run']} would run, {count['waits']} "
            "wait for those (what runs after them depends on their answers)"]


def agent_checks(specs, config, forced: str | None = None) -> tuple[list[dict], list]:
    """({agent, profile, problems} for each agent the workflows use, a diagnostic per
    thing that would stop a step: its executor cannot start (W0904), or an `[agents]`
    entry of wlisp.toml names no agent any of them defines (W0901))."""
    from ..errors import Diagnostic, did_you_mean
    from ..executors.config import KeySpans

    spans = KeySpans(config.path, config.text) if config.path else None

    def at(*path):
        return spans.at(path) if spans else None

    rows, found = [], []
    used = sorted({n.agent for spec in specs for n, _ in spec.walk() if n.kind == "spawn"})
    agents = {name: agent for spec in specs for name, agent in spec.agents.items()}
    for name in used:
        profile = profile_of(agents.get(name, {}), config, forced)
        problems = check_profile(profile, config)
        rows.append({"agent": name, "profile": profile, "problems": [p for _, p in problems]})
        found += [Diagnostic("W0904", f"agent `{name}` (profile `{profile}`): {problem}",
                             at("executors", profile, key) if key else
                             at("agents", name) if name in config.agents else
                             at("executors", profile))
                  for key, problem in problems]
    for name in config.agents:
        if name != "default" and name not in agents:
            found.append(Diagnostic(
                "W0901", f"[agents] `{name}` in wlisp.toml names no agent of this workflow"
                + did_you_mean(name, agents) + "; its agents: "
                + (", ".join(sorted(agents)) or "none"), at("agents", name)))
    return rows, found


def plan(spec, config, forced: str | None) -> tuple[dict, list]:
    """(the plan: each agent's executor, the step nodes, the most steps the workflow can
    take (None: it depends on run-time values); diagnostics: what would stop it)."""
    agents, found = agent_checks([spec], config, forced)
    steps = [{"node": n.id, "agent": n.agent} for n, _ in spec.walk() if n.kind == "spawn"]
    return {"agents": agents, "steps": steps, "at_most": step_bound(spec.graph),
            "budget": spec.budget or None}, found


def plan_lines(the_plan: dict) -> list[str]:
    steps, bound = the_plan["steps"], the_plan["at_most"]
    return [*(f"agent {a['agent']} → {a['profile']}: " + ("; ".join(a["problems"]) or "ready")
              for a in the_plan["agents"]),
            f"{len(steps)} step node{'s' if len(steps) != 1 else ''}:",
            *(f"  {s['node']} [{s['agent']}]" for s in steps),
            "at most " + (f"{bound} step{'s' if bound != 1 else ''}" if bound is not None
                          else "an unknown number of steps (run-time fan-out)")
            + (f"; budget {the_plan['budget']}" if the_plan["budget"] else "")]
