"""`wlisp.toml`: executor profiles and which agent uses which (SPEC §8).

Found upward from the workflow file (or given with --config). Secrets are
never written here: profiles name environment variables (`api_key_env`), and
`${VAR}` in `env` values is expanded when the executor starts.

The whole file is validated on load against a JSON Schema (`SCHEMA`: one
per executor type, `PROFILE_SCHEMAS`), then its cross-references (`[agents]`
and ray's `inner` name defined profiles) are checked; every mistake is a W0901
naming the file, the line and column of the key, and the key. A profile that
loads builds its executor without surprises.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field

from ..errors import Diagnostic, Span, WlispError, did_you_mean, usage_error

CONFIG_NAME = "wlisp.toml"
TYPES = ("mock", "scripted", "command", "openai", "ray", "claude-code", "codex", "llm",
         "gemini-cli")


# --- the schema ------------------------------------------------------------------------
# Each rule carries its requirement in words (`description`): a diagnostic says
# "`executors.NAME.key` must be <words>, got <value>".

def _rule(words: str, **schema) -> dict:
    return {**schema, "description": words}


_NO_NUL = "^[^\\x00]*$"
_SECONDS = _rule("a number > 0 (seconds)", type="number", exclusiveMinimum=0)
_AMOUNT = _rule("a number >= 0", type="number", minimum=0)
_BOOL = _rule("true or false", type="boolean")
_PRICE = _rule("a number >= 0 (USD per 1M tokens)", type="number", minimum=0)
KEYS = {
    "mock": {"latency": _rule("a number >= 0 (seconds per step)", type="number", minimum=0)},
    "scripted": {
        "answers": _rule("a file that exists (relative to this file)", type="string",
                         format="file")},
    "command": {
        "argv": _rule("a non-empty list of strings (one per argument; never a shell string), "
                      "or of lists of strings (a group left out when a placeholder in it is "
                      "empty)", type="array", minItems=1, items=_rule(
                          "a string (one argument) or a list of strings (an optional group)",
                          anyOf=[{"type": "string", "pattern": _NO_NUL},
                                 {"type": "array", "minItems": 1,
                                  "items": {"type": "string", "pattern": _NO_NUL}}])),
        "env": _rule('a table of strings (NAME = "value")', type="object",
                     propertyNames=_rule("an environment variable name (no `=`)",
                                         pattern="^[^=\\x00]+$"),
                     additionalProperties=_rule("a string", type="string", pattern=_NO_NUL)),
        "timeout": _SECONDS,
        "output_file": _BOOL,
        "envelope": _BOOL,
        "cwd": _rule("a directory that exists (relative to this file)", type="string",
                     format="directory"),
        "max_output": _rule("an integer >= 1 (bytes)", type="integer", minimum=1),
        "pass_env": None,
        "transient_exit_codes": _rule("a list of exit codes (integers) that mean \"try "
                                      "again later\"", type="array",
                                      items={"type": "integer"}),
        "transient_pattern": _rule("a regular expression (matched against stderr and "
                                   "stdout of a failed run)", type="string", format="regex"),
        "isolated_home": _BOOL},
    "openai": {
        "base_url": _rule("a URL starting with http:// or https://", type="string",
                          pattern="^https?://"),
        "api_key_env": _rule("the name of an environment variable (a string)", type="string",
                             pattern="^[A-Za-z_0-9]*$"),
        "model": _rule("a model name (a non-empty string)", type="string", minLength=1),
        "prices": _rule("a table of model = { input = N, output = N } (USD per 1M tokens)",
                        type="object", additionalProperties=_rule(
                            "a table { input = N, output = N } (USD per 1M tokens)",
                            type="object", properties={"input": _PRICE, "output": _PRICE},
                            required=["input", "output"], additionalProperties=False)),
        "timeout": _SECONDS,
        "tool_timeout": _SECONDS,
        "max_iterations": _rule("an integer >= 1", type="integer", minimum=1),
        "structured": _rule("json_schema, json_object or prompt",
                            enum=["json_schema", "json_object", "prompt"]),
        "temperature": _rule("a number between 0 and 2", type="number", minimum=0, maximum=2),
        "stream": _rule("true or false (stream tokens as they come; default true)",
                        type="boolean"),
        "pass_env": None,
        "sessions_dir": _rule("a directory for conversations `:continue` replays (default "
                              "~/.cache/wlisp/openai-sessions)", type="string", minLength=1)},
    "ray": {
        "inner": _rule("the name of the profile whose steps Ray runs", type="string"),
        "address": _rule('a string ("auto", "ray://HOST:PORT")', type="string"),
        "actors": _rule("an integer >= 1", type="integer", minimum=1),
        "num_cpus": _AMOUNT,
        "num_gpus": _AMOUNT,
        "resources": _rule(
            "a table of agent = { num_cpus = N, num_gpus = N, resources = { NAME = N } }",
            type="object", additionalProperties=_rule(
                "a table { num_cpus = N, num_gpus = N, resources = { NAME = N } }",
                type="object", additionalProperties=False, properties={
                    "num_cpus": _AMOUNT, "num_gpus": _AMOUNT,
                    "resources": _rule("a table of NAME = N (N >= 0)", type="object",
                                       additionalProperties=_AMOUNT)}))},
}
_PASS_ENV = _rule("a list of environment variable names (secrets the agent may see)",
                  type="array", items=_rule("an environment variable name (no `=`)",
                                            type="string", pattern="^[^=\\x00]+$"))
for _keys in KEYS.values():  # the same rule wherever a profile starts processes
    if "pass_env" in _keys:
        _keys["pass_env"] = _PASS_ENV
_CLI = {  # what every agent CLI type takes
    "binary": _rule("the CLI's program (a name on PATH or a path)", type="string",
                    minLength=1, pattern=_NO_NUL),
    "extra_args": _rule("a list of strings (added to every call)", type="array",
                        items={"type": "string", "pattern": _NO_NUL}),
    "env": KEYS["command"]["env"], "pass_env": _PASS_ENV, "timeout": _SECONDS,
    "cwd": KEYS["command"]["cwd"], "max_output": KEYS["command"]["max_output"],
    "transient_exit_codes": KEYS["command"]["transient_exit_codes"],
    "transient_pattern": KEYS["command"]["transient_pattern"],
    "on_permission_denied": _rule("fail or warn", enum=["fail", "warn"]),
}
KEYS["claude-code"] = {
    **_CLI,
    "permission_mode": _rule("a Claude Code permission mode (default, acceptEdits, plan, "
                             "bypassPermissions ...)", type="string", minLength=1),
    "system_prompt": _rule("append (to Claude Code's own) or replace",
                           enum=["append", "replace"]),
    "allowed_tools": _rule("a list of tool rules", type="array", items={"type": "string"}),
    "disallowed_tools": _rule("a list of tool rules", type="array", items={"type": "string"})}
KEYS["codex"] = {
    **_CLI,
    "sandbox": _rule("read-only, workspace-write or danger-full-access",
                     enum=["read-only", "workspace-write", "danger-full-access"]),
    "profile": _rule("a Codex configuration profile name", type="string", minLength=1),
    "plugins": _BOOL}
KEYS["llm"] = dict(_CLI)
KEYS["gemini-cli"] = {
    **_CLI,
    "approval_mode": _rule("default, auto_edit, yolo or plan",
                           enum=["default", "auto_edit", "yolo", "plan"]),
    "system_prompt": _rule("prepend (to the prompt) or replace (GEMINI_SYSTEM_MD)",
                           enum=["prepend", "replace"])}
REQUIRED = {"command": ["argv"], "ray": ["inner"]}
_TYPE = _rule("one of " + ", ".join(TYPES), enum=list(TYPES))
_CONCURRENCY = _rule("an integer >= 1 (steps of this profile at once)", type="integer",
                     minimum=1)

PROFILE_SCHEMAS = {
    kind: {"type": "object", "additionalProperties": False, "required": REQUIRED.get(kind, []),
           "properties": {"type": {"const": kind}, "concurrency": _CONCURRENCY, **keys}}
    for kind, keys in KEYS.items()}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "wlisp.toml",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "executors": _rule("a table of executor profiles ([executors.NAME])", type="object",
                           additionalProperties={
                               **_rule("a table (an executor profile)", type="object"),
                               "required": ["type"], "properties": {"type": _TYPE},
                               "allOf": [{"if": {"type": "object", "required": ["type"],
                                                 "properties": {"type": {"const": kind}}},
                                          "then": schema}
                                         for kind, schema in PROFILE_SCHEMAS.items()]}),
        "agents": _rule('a table of agent = "profile"', type="object",
                        additionalProperties=_rule("the name of an executor profile",
                                                   type="string"))},
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
    """The profiles and routing of the wlisp.toml at `path` (none: empty), validated
    whole; every mistake in it is a W0901 diagnostic at its key."""
    if path is None:
        return Config()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise WlispError(Diagnostic("W0901", f"{os.path.basename(path)}: cannot read: "
                                    f"{exc.strerror}")) from None
    text = raw.decode("utf-8", "replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        span = Span(path, int(m.group(1)), int(m.group(2)), int(m.group(1)),
                    int(m.group(2)) + 1) if m else None
        raise WlispError(Diagnostic("W0901", f"invalid TOML: {exc}", span)) from None
    cfg = Config(path=path, text=text)
    problems = _schema_problems(data, cfg.base_dir)
    if not problems:
        cfg.profiles = {name: dict(prof) for name, prof in data.get("executors", {}).items()}
        cfg.agents = dict(data.get("agents", {}))
        problems = _reference_problems(cfg)
    if problems:
        spans = KeySpans(path, text)
        diags = [Diagnostic("W0901", f"{os.path.basename(path)}: {message}", spans.at(where))
                 for where, message in dict.fromkeys(problems)]
        raise WlispError(sorted(diags, key=lambda d: (d.span or Span("", 0, 0, 0, 0))[1:3]))
    return cfg


# --- validation ------------------------------------------------------------------------

Problem = tuple[tuple, str]  # (where: the path of keys and indexes, message)


@functools.cache
def validator_class():
    """Draft 2020-12 with TOML's numbers: a `number` is finite (TOML has nan and inf)
    and an `integer` is an int (2.0 counts nothing)."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({
        "number": lambda _, v: isinstance(v, int | float) and not isinstance(v, bool)
        and math.isfinite(v),
        "integer": lambda _, v: isinstance(v, int) and not isinstance(v, bool)})
    return jsonschema.validators.extend(base, type_checker=checker)


def _schema_problems(data: dict, base_dir: str) -> list[Problem]:
    import jsonschema

    def exists(test):
        return lambda value: not isinstance(value, str) or test(os.path.join(base_dir, value))

    formats = jsonschema.FormatChecker(formats=())
    formats.checks("file")(exists(os.path.isfile))
    formats.checks("directory")(exists(os.path.isdir))
    formats.checks("regex")(_is_regex)
    validator = validator_class()(SCHEMA, format_checker=formats)
    return [problem for err in validator.iter_errors(data) for problem in _explain(err)]


def _is_regex(value) -> bool:
    try:
        re.compile(value)
    except (re.error, TypeError):
        return not isinstance(value, str)
    return True


def _explain(err) -> list[Problem]:
    """A jsonschema error in the words of wlisp.toml: where, and what is wrong."""
    where = tuple(err.absolute_path)
    name = dotted(where)
    if err.validator == "additionalProperties":
        allowed = err.schema.get("properties", {})
        return [(where + (key,), _unknown(where, key, allowed, err.instance))
                for key in err.instance if key not in allowed]
    if err.validator == "required":
        props = err.schema.get("properties", {})
        # a misspelt key is reported once, as unknown (with a did-you-mean), not also missing
        typos = [] if err.schema.get("additionalProperties") is not False else \
            [key for key in err.instance if key not in props]
        return [(where, f"`{name}` needs `{key}`: "
                 + props.get(key, {}).get("description", "a value"))
                for key in err.validator_value
                if key not in err.instance and not did_you_mean(key, typos)]
    words = err.schema.get("description")
    if "propertyNames" in err.relative_schema_path:  # a key of `env` itself
        return [(where + (err.instance,), f"`{name}`: the key {shown(err.instance)} must be "
                 f"{words}")]
    if words is None:  # not reached: every rule of SCHEMA says its words
        return [(where, f"`{name}`: {err.message}")]
    hint = did_you_mean(err.instance, err.validator_value) \
        if err.validator == "enum" and isinstance(err.instance, str) else ""
    return [(where, f"`{name}` must be {words}, got {shown(err.instance)}{hint}")]


def _unknown(where: tuple, key: str, allowed, table: dict) -> str:
    hint = did_you_mean(key, allowed)
    if not where:
        return f"unknown section `{key}`{hint}"
    if len(where) == 2 and where[0] == "executors":
        kind = table.get("type")
        return f"unknown key `{key}` for {'an' if kind == 'openai' else 'a'} {kind} executor{hint}"
    return f"unknown key `{key}` in `{dotted(where)}`{hint}"


def _reference_problems(cfg: Config) -> list[Problem]:
    """Names that must be defined: `[agents]` profiles and ray's `inner`."""
    known = [*cfg.profiles, "mock"]
    out = []
    for name, prof in cfg.profiles.items():
        inner = prof.get("inner") if prof["type"] == "ray" else None
        where = ("executors", name, "inner")
        if inner is not None and inner not in known:
            out.append((where, f"`{dotted(where)}` names no profile: `{inner}`"
                        + did_you_mean(inner, known)))
        elif inner is not None and cfg.profiles.get(inner, {}).get("type") == "ray":
            out.append((where, f"`{dotted(where)}`: a ray profile cannot wrap another ray "
                        f"profile (`{inner}`)"))
    for agent, prof in cfg.agents.items():
        if prof not in known:
            hint = did_you_mean(prof, cfg.profiles) or _define_it(prof)
            out.append((("agents", agent), f"`{dotted(('agents', agent))}` names unknown "
                        f"executor profile `{prof}`" + hint))
    return out


def _define_it(name: str) -> str:
    """`claude = "claude"` in [agents] names a profile, not a type: say how to make one."""
    import difflib

    kind = [t for t in TYPES if t.startswith(name) or name.startswith(t)] or \
        difflib.get_close_matches(name, TYPES, n=1, cutoff=0.8)  # `claude`, `comand`
    return (f"; define it as `[executors.{name}]` with `type = \"{kind[0]}\"`" if kind
            else f"; define it as an `[executors.{name}]` table")


def dotted(path) -> str:
    """A path as TOML writes it: `executors.o.prices."gpt-4.1".input`, `argv[1]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += ("." if out else "") + key
    return out


def shown(value) -> str:
    """A value as TOML writes it, cut short."""
    if isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --- where keys are --------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_SPACE = re.compile(r"[ \t]*")
_SPACE_LINES = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")  # and comments
_SCALAR = re.compile(r"[^\s,\]}#]+(?: (?=\d)[^\s,\]}#]+)?")  # numbers, booleans, dates
_STRINGS = [re.compile(r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*"{3,5}'),
            re.compile(r"'''(?:[^']|'(?!''))*'{3,5}"),
            re.compile(r'"(?:[^"\\\n]|\\.)*"'),
            re.compile(r"'[^'\n]*'")]


class KeySpans:
    """Where each key of a TOML document is, by its path as tomllib builds it (keys,
    and indexes into arrays and arrays of tables); array elements too. For pointing
    at mistakes only: it follows text that tomllib accepted, and keeps what it found
    if it gets lost."""

    def __init__(self, file: str, text: str):
        self.file, self.text, self.i = file, text, 0
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self.spans: dict[tuple, Span] = {}
        self.arrays: dict[tuple, int] = {}  # [[array of tables]] -> its last index
        try:
            self._document()
        except (ValueError, IndexError):
            pass

    def at(self, path: tuple) -> Span | None:
        """The span of `path`, else of the nearest key around it."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.spans:
                return self.spans[path[:n]]
        return None

    def _mark(self, path: tuple, start: int, end: int, keep: bool = False) -> None:
        if keep and path in self.spans:
            return
        line = bisect.bisect_right(self.starts, start)
        first = self.starts[line - 1]
        last = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        self.spans[path] = Span(self.file, line, start - first + 1, line,
                                min(end, last) - first + 1)

    def _skip(self, lines: bool = False) -> int:
        self.i = (_SPACE_LINES if lines else _SPACE).match(self.text, self.i).end()
        return self.i

    def _document(self) -> None:
        table: tuple = ()
        while self._skip(lines=True) < len(self.text):
            start = self.i
            if self.text[self.i] == "[":
                table = self._header()
            else:
                self._keyval(table)
            if self.i == start:
                raise ValueError("lost")

    def _header(self) -> tuple:
        double = self.text.startswith("[[", self.i)
        self.i += 2 if double else 1
        keys = self._key()
        self.i = self.text.index("]", self.i) + (2 if double else 1)
        path: tuple = ()
        first = keys[0][1]
        for n, (name, _, end) in enumerate(keys):
            path += (name,)
            inner = n < len(keys) - 1
            self._mark(path, first, end, keep=inner or double)
            if (inner and path in self.arrays) or (double and not inner):
                if not inner:  # a new element of this array of tables
                    self.arrays[path] = self.arrays.get(path, -1) + 1
                path += (self.arrays[path],)
                self._mark(path, first, end, keep=inner)
        return path

    def _keyval(self, table: tuple) -> None:
        keys = self._key()
        path, first = table, keys[0][1]
        for n, (name, _, end) in enumerate(keys):
            path += (name,)
            self._mark(path, first, end, keep=n < len(keys) - 1)
        if not self.text.startswith("=", self._skip()):
            raise ValueError("no =")
        self.i += 1
        self._skip()
        self._value(path)

    def _key(self) -> list[tuple[str, int, int]]:
        """A dotted key: (name, start, end) of each part."""
        keys = []
        while True:
            start = self._skip()
            if self.text[start] in "\"'":
                self._string()
                name = tomllib.loads("k = " + self.text[start:self.i])["k"]
            else:
                m = _BARE.match(self.text, start)
                if m is None:
                    raise ValueError("no key")
                name, self.i = m.group(), m.end()
            keys.append((name, start, self.i))
            if not self.text.startswith(".", self._skip()):
                return keys
            self.i += 1

    def _value(self, path: tuple) -> None:
        c = self.text[self.i]
        if c in "\"'":
            self._string()
        elif c in "[{":
            self._items(path, c == "[")
        else:
            self.i = _SCALAR.match(self.text, self.i).end()

    def _items(self, path: tuple, array: bool) -> None:
        """An array's elements, or an inline table's keys."""
        self.i += 1
        n = 0
        while self._skip(lines=True) < len(self.text) and self.text[self.i] not in "]}":
            start = self.i
            if array:
                self._value(path + (n,))
                self._mark(path + (n,), start, self.i)
                n += 1
            else:
                self._keyval(path)
            if self.text.startswith(",", self._skip(lines=True)):
                self.i += 1
            if self.i == start:
                raise ValueError("lost")
        self.i += 1

    def _string(self) -> None:
        for pattern in _STRINGS:
            m = pattern.match(self.text, self.i)
            if m:
                self.i = m.end()
                return
        raise ValueError("not a string")


def expand_env(value: str, where: str) -> str:
    """`${VAR}` from the environment; a missing variable is an error naming it."""
    def sub(m):
        name = m.group(1)
        if name not in os.environ:
            raise WlispError(Diagnostic("W0902", f"{where}: environment variable `{name}` is "
                                        "not set"))
        return os.environ[name]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, value)
