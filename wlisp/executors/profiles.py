"""Executors: where agent steps actually run, behind one protocol (SPEC §6, §8).

`mock` and `scripted` are offline and deterministic; `command` runs a program
per step; `openai` talks to any OpenAI-compatible API. Profiles in
`wlisp.toml` configure them, and a `Router` sends each agent's steps to its
profile. An executor is any object with `concurrency_hint` and
`async execute_step(spec, events) -> StepOutcome`.
"""

from __future__ import annotations

import asyncio
import os

from ..contract import StepOutcome, StepSpec
from ..errors import WlispError, did_you_mean, usage_error
from .config import Config
from .environment import RedactingExecutor, key_variables, secret_values

OFFLINE = ("mock", "scripted")  # in-process executors: no agent, no step files


def build_profile(config: Config, name: str, answers: str | None = None):
    """One executor from a `[executors.NAME]` table (or a built-in name). The table
    passed `load_config`'s schema, so its values have the types the executors take."""
    prof = config.profiles.get(name)
    if prof is None:
        if name == "mock":
            prof = {"type": "mock"}
        elif name == "scripted":
            prof = {"type": "scripted"}
        else:
            known = [*config.profiles, "mock", "scripted"]
            raise usage_error(f"unknown executor `{name}`" + did_you_mean(name, known)
                         + f"; available: {', '.join(known)}"
                         + ("" if config.path else " (no wlisp.toml found)"))
    kind = prof["type"]
    opts = {k: v for k, v in prof.items() if k != "type"}
    if kind not in ("mock", "scripted", "ray"):  # other profiles' keys are not for its processes
        opts["foreign_env"] = sorted(v for k, v in key_variables(config.profiles).items()
                                     if k != name)
    conc = opts.pop("concurrency", None)
    extra = {"concurrency_hint": conc} if conc else {}
    if kind == "mock":
        from .mock import MockExecutor

        return MockExecutor(latency=opts.get("latency", 0), **extra)
    if kind == "scripted":
        from .scripted import ScriptedExecutor

        path = answers or opts.get("answers")
        if not path:
            raise usage_error("the scripted executor needs an answer file (--answers FILE)")
        if not answers:
            path = os.path.join(config.base_dir, path)
        return ScriptedExecutor.from_file(path, **extra)
    if kind == "command":
        from .command import CommandExecutor

        if "cwd" in opts:  # load_config saw that it exists
            opts["cwd"] = os.path.join(config.base_dir, opts["cwd"])
        return CommandExecutor(opts.pop("argv"), name=name, **opts,
                               **({"concurrency": conc} if conc else {}))
    if kind == "openai":
        from .openai_api import OpenAIExecutor

        if "sessions_dir" in opts:
            opts["sessions_dir"] = os.path.join(config.base_dir,
                                                os.path.expanduser(opts["sessions_dir"]))

        return OpenAIExecutor(name=name, **opts, **({"concurrency": conc} if conc else {}))
    if kind in ("claude-code", "codex", "llm", "gemini-cli"):
        from .agent_clis import TYPES

        if "cwd" in opts:
            opts["cwd"] = os.path.join(config.base_dir, opts["cwd"])
        return TYPES[kind](name=name, **opts, **({"concurrency": conc} if conc else {}))
    if kind == "ray":
        from .ray_cluster import RayExecutor

        return RayExecutor.from_profile(config, name, prof, build_profile)
    raise usage_error(f"unknown executor type `{kind}`")  # pragma: no cover - config checks it


class Router:
    """Sends each step to its agent's profile: the agent's `:executor`, else the
    `[agents]` table, else `[agents] default`, else the fallback."""

    def __init__(self, config: Config, fallback: str = "mock", answers: str | None = None):
        self.config = config
        self.fallback = config.agents.get("default", fallback)
        self.answers = answers
        self.executors: dict[str, object] = {}
        self.gates: dict[str, asyncio.Semaphore] = {}
        names = set(config.agents.values()) | {self.fallback}
        for name in names:
            self._get(name)
        self.concurrency_hint = sum(getattr(e, "concurrency_hint", 8)
                                    for e in self.executors.values())
        # any profile that runs real agents (also one reached only through an agent's
        # `:executor`, built when its first step comes): each attempt keeps its files
        self.step_files = any(getattr(e, "step_files", False) for e in self.executors.values()) \
            or any(p.get("type") not in OFFLINE for p in config.profiles.values())

    def _get(self, name: str):
        if name not in self.executors:
            ex = build_profile(self.config, name, self.answers)
            self.executors[name] = ex
            self.gates[name] = asyncio.Semaphore(getattr(ex, "concurrency_hint", 8))
        return self.executors[name]

    def profile_for(self, spec: StepSpec) -> str:
        chosen = (spec.metadata or {}).get("executor")
        return chosen or self.config.agents.get(spec.agent) or self.fallback

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        name = self.profile_for(spec)
        try:
            ex = self._get(name)
        except WlispError as err:
            return StepOutcome.failed(spec.task_id, spec.agent, err.diagnostics[0].message)
        async with self.gates[name]:  # each profile keeps its own bound
            return await ex.execute_step(spec, events)


def make_executor(name: str | None = None, *, answers: str | None = None,
                  config: Config | None = None):
    """The CLI's executor: `--executor NAME` (a profile or a built-in) for every step,
    or, without it, the routing of wlisp.toml (mock when there is none)."""
    config = config or Config()
    name = answered_by(name, answers, config)
    if name is not None:
        executor = build_profile(config, name, answers)
    elif config.profiles or config.agents:
        executor = Router(config, answers=answers)
    else:
        return build_profile(config, "mock")
    secrets = secret_values(config.profiles)
    return RedactingExecutor(executor, secrets) if secrets else executor


def answered_by(name: str | None, answers: str | None, config: Config) -> str | None:
    """The executor `--answers FILE` asks for: the scripted one, for every step unless
    wlisp.toml routes agents to a scripted profile of its own; `-e` naming an executor
    that reads no answers is a mistake (the answers would be silently ignored and real
    agents run)."""
    if not answers:
        return name
    if name is None:
        routed = any(reads_answers(n, config) for n in config.agents.values())
        return None if routed else "scripted"
    if not reads_answers(name, config):
        raise usage_error(f"--answers is read by the scripted executor, and `{name}` is not "
                          "one: drop --answers, or use --executor scripted")
    return name


def reads_answers(name: str, config: Config) -> bool:
    """Whether executor `name` (a profile or a built-in) is the scripted one."""
    return name == "scripted" or config.profiles.get(name, {}).get("type") == "scripted"


def executor_label(name: str | None, config: Config, answers: str | None = None) -> str:
    """How to name the executor a run uses: the profile given, else the config file
    that routes agents, else `mock`."""
    name = answered_by(name, answers, config)
    if name:
        return name
    routed = config.path and (config.profiles or config.agents)
    return os.path.basename(config.path) if routed else "mock"
