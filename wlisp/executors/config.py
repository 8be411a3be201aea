"""`wlisp.toml`: executor profiles and which agent uses which (SPEC §8).

Found upward from the workflow file (or given with --config). Secrets are
never written here: profiles name environment variables (`api_key_env`), and
`${VAR}` in `env` values is expanded when the executor starts. Mistakes are
reported with the file, line and key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..errors import Diagnostic, Span, WlispError, did_you_mean, usage_error

CONFIG_NAME = "wlisp.toml"
TYPES = ("mock", "scripted", "command", "openai", "ray")
PROFILE_KEYS = {
    "mock": {"type", "concurrency", "latency"},
    "scripted": {"type", "concurrency", "answers"},
    "command": {"type", "concurrency", "argv", "env", "timeout", "output_file", "envelope",
                "cwd", "max_output"},
    "openai": {"type", "concurrency", "base_url", "api_key_env", "model", "prices", "timeout",
               "tool_timeout", "max_iterations", "structured", "temperature"},
    "ray": {"type", "concurrency", "inner", "address", "resources", "num_cpus", "num_gpus",
            "actors"},
}


@dataclass
class Config:
    path: str | None = None
    profiles: dict[str, dict] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def base_dir(self) -> str:
        return os.path.dirname(os.path.abspath(self.path)) if self.path else os.getcwd()


def find_config(start: str | None) -> str | None:
    """The nearest wlisp.toml at or above `start` (a file or directory)."""
    here = os.path.abspath(start or os.getcwd())
    if not os.path.isdir(here):
        here = os.path.dirname(here)
    while True:
        candidate = os.path.join(here, CONFIG_NAME)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def config_for(given: str | None, near: str | None = None, sources=None,
               search: bool = True) -> Config:
    """The wlisp.toml to use: `given`, else (with `search`) the nearest one above
    `near` (a workflow file; default the current directory), else none. Its text
    goes into `sources` so that a mistake in it is shown with its line."""
    if given:
        path = os.path.abspath(given)
        if not os.path.isfile(path):
            raise usage_error(f"no config file {path}")
    elif search:
        path = find_config(near if near and near != "-" else os.getcwd())
    else:
        path = None
    if path and sources is not None:
        with open(path, encoding="utf-8", errors="replace") as f:
            sources.add(path, f.read())
    return load_config(path)


def load_config(path: str | None) -> Config:
    if path is None:
        return Config()
    import tomllib

    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise _error(path, None, f"cannot read: {exc.strerror}") from None
    text = raw.decode("utf-8", "replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        span = Span(path, int(m.group(1)), int(m.group(2)), int(m.group(1)),
                    int(m.group(2)) + 1) if m else None
        raise WlispError(Diagnostic("W0901", f"invalid TOML: {exc}", span)) from None
    cfg = Config(path=path, text=text)
    for key in data:
        if key not in ("executors", "agents"):
            raise _error(path, _locate(text, None, key),
                         f"unknown section `{key}`" + did_you_mean(key, ["executors", "agents"]))
    for name, prof in (data.get("executors") or {}).items():
        cfg.profiles[name] = _check_profile(cfg, name, prof)
    agents = data.get("agents") or {}
    for agent, prof in agents.items():
        if not isinstance(prof, str):
            raise _error(path, _locate(text, "agents", agent),
                         f"`agents.{agent}` must name an executor profile")
        if prof not in cfg.profiles and prof not in ("mock",):
            raise _error(path, _locate(text, "agents", agent),
                         f"`agents.{agent}` names unknown executor profile `{prof}`"
                         + did_you_mean(prof, cfg.profiles))
        cfg.agents[agent] = prof
    return cfg


def _check_profile(cfg: Config, name: str, prof) -> dict:
    path, text, table = cfg.path, cfg.text, f"executors.{name}"
    if not isinstance(prof, dict):
        raise _error(path, _locate(text, "executors", name), f"`{table}` must be a table")
    kind = prof.get("type")
    if kind not in TYPES:
        raise _error(path, _locate(text, table, "type"),
                     f"`{table}.type` must be one of {', '.join(TYPES)}, got {kind!r}"
                     + did_you_mean(str(kind), TYPES))
    for key in prof:
        if key not in PROFILE_KEYS[kind]:
            raise _error(path, _locate(text, table, key),
                         f"unknown key `{key}` for a {kind} executor"
                         + did_you_mean(key, PROFILE_KEYS[kind]))
    conc = prof.get("concurrency")
    if conc is not None and (not isinstance(conc, int) or isinstance(conc, bool) or conc < 1):
        raise _error(path, _locate(text, table, "concurrency"),
                     f"`{table}.concurrency` must be an integer >= 1")
    if kind == "command":
        argv = prof.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise _error(path, _locate(text, table, "argv"),
                         f"`{table}.argv` must be a non-empty list of strings (one per argument;"
                         " never a shell string)")
    if kind == "openai" and not isinstance(prof.get("base_url", ""), str):
        raise _error(path, _locate(text, table, "base_url"), f"`{table}.base_url` is a URL")
    if kind == "ray" and not isinstance(prof.get("inner"), str):
        raise _error(path, _locate(text, table, "inner"),
                     f"`{table}.inner` must name the profile whose steps Ray runs")
    return dict(prof)


def _locate(text: str, table: str | None, key: str) -> Span | None:
    """Line of `key` inside `[table]` (or the table header itself), for messages."""
    lines = text.splitlines()
    current = None
    header = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    for i, line in enumerate(lines, 1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "")
            if table and current == f"{table}.{key}":
                return Span("", i, 1, i, len(line) + 1)
            continue
        if current == table or (table is None and current is None):
            km = re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line)
            if km:
                col = line.index(key) + 1
                return Span("", i, col, i, col + len(key))
    return None


def _error(path: str, span: Span | None, message: str) -> WlispError:
    if span is not None:
        span = Span(path, span.line, span.col, span.end_line, span.end_col)
    return WlispError(Diagnostic("W0901", f"{os.path.basename(path)}: {message}", span))


def expand_env(value: str, where: str) -> str:
    """`${VAR}` from the environment; a missing variable is an error naming it."""
    def sub(m):
        name = m.group(1)
        if name not in os.environ:
            raise WlispError(Diagnostic("W0902", f"{where}: environment variable `{name}` is "
                                        "not set"))
        return os.environ[name]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, value)
