"""Executors that know a particular agent CLI: `claude-code`, `codex`, `llm`,
`gemini-cli` (SPEC §8).

Each is a command executor (same process groups, timeouts, reaping and secret
handling) that builds the CLI's own argv and reads the CLI's machine-readable
output: the system prompt through the CLI's flag, the model only when the agent
has one, the step's schema through the native structured-output flag, and from
the answer the text, the structured answer, the error (also when the CLI exits
non-zero with it on stdout), usage including cache tokens, cost when reported,
the CLI's real session id and denied permissions. docs/executors.md has the
options of each.
"""

from __future__ import annotations

import json
import os
import re

from ..contract import Event, StepOutcome, StepSpec
from .command import CommandExecutor, json_object
from .environment import CLI_KEYS

# what most vendors say when they want you to come back later
TRANSIENT = r"rate.?limit|overloaded|too many requests|\b(429|500|502|503|504|529)\b"
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504, 529})


class AgentCLI(CommandExecutor):
    """Options every CLI type takes; a subclass says how to call its CLI and read it."""

    kind = ""
    program = ""
    no_sessions: str | None = None  # why this CLI cannot continue a session, if it cannot
    quiet_env: dict = {}  # switches that keep a headless run offline and steady

    def __init__(self, *, name: str | None = None, binary: str | None = None,
                 extra_args: list[str] | tuple = (), env: dict | None = None,
                 pass_env: list[str] | tuple = (), foreign_env: list[str] | tuple = (),
                 timeout: float | None = None, cwd: str | None = None,
                 concurrency: int = 4, transient_pattern: str | None = TRANSIENT,
                 transient_exit_codes: list[int] | tuple = (),
                 on_permission_denied: str = "fail", max_output: int | None = None,
                 **options):
        super().__init__([binary or self.program], name=name or self.kind,
                         env={**self.quiet_env, **(env or {})}, timeout=timeout, cwd=cwd,
                         concurrency=concurrency,
                         pass_env=(*CLI_KEYS.get(self.kind, ()), *pass_env),
                         foreign_env=foreign_env, transient_pattern=transient_pattern,
                         transient_exit_codes=transient_exit_codes,
                         **({"max_output": max_output} if max_output else {}))
        self.extra_args = list(extra_args)
        self.on_permission_denied = on_permission_denied
        self.options = options

    def values(self, spec, tmp):
        return {**super().values(spec, tmp), "tmp": tmp}

    def cannot_run(self, spec):
        if spec.parent_session_id and self.no_sessions:
            return (f"executor `{self.name}` cannot continue a session (`:continue`): "
                    f"{self.no_sessions}")
        return None

    def activity(self, spec: StepSpec, events, kind: str, text: str, **data) -> None:
        """Tell the run what the agent is doing (text it wrote, a tool it used)."""
        if events is not None and text:
            events.emit(Event("agent", spec.task_id, "spawn", spec.agent, attempt=spec.attempt,
                              message=text, data={"type": kind, **data}))

    def outcome(self, spec: StepSpec, *, text: str, session: str | None = None,
                structured=None, usage: dict | None = None, error: str | None = None,
                finish: str = "stop") -> StepOutcome:
        return StepOutcome(task_id=spec.task_id, session_id=session or f"{self.kind}-"
                           f"{spec.task_id}", agent=spec.agent, output=text,
                           success=error is None, structured=structured, usage=usage,
                           error=error, finish_reason=finish if error is None or
                           finish != "stop" else "error")


# --- Claude Code --------------------------------------------------------------------------


class ClaudeCode(AgentCLI):
    """`claude -p --output-format stream-json --verbose`: the prompt on stdin; events
    (the agent's text, tool uses and results) as JSON lines, then the result envelope."""

    kind, program = "claude-code", "claude"
    streaming = True
    quiet_env = {"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
                 "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}

    def command(self, spec, values):
        opts = self.options
        argv = [self.argv[0], "-p", "--output-format", "stream-json", "--verbose"]
        if spec.model:
            argv += ["--model", spec.model]
        if spec.system:
            flag = "--system-prompt" if opts.get("system_prompt") == "replace" else \
                "--append-system-prompt"
            argv += [flag, spec.system]
        if spec.output_schema is not None:
            argv += ["--json-schema", values["schema"]]
        if opts.get("permission_mode"):
            argv += ["--permission-mode", opts["permission_mode"]]
        for key, flag in (("allowed_tools", "--allowed-tools"),
                          ("disallowed_tools", "--disallowed-tools")):
            if opts.get(key):
                argv += [flag, *opts[key]]
        if spec.max_steps:
            argv += ["--max-turns", str(spec.max_steps)]
        if spec.parent_session_id:
            argv += ["--resume", spec.parent_session_id]
        return argv + self.extra_args

    def on_line(self, spec, line, events):
        event = json_object(line)
        message = (event or {}).get("message") or {}
        for block in message.get("content") or () if isinstance(message, dict) else ():
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                self.activity(spec, events, "text", _string(block.get("text")))
            elif block.get("type") == "tool_use":
                self.activity(spec, events, "tool_use", f"{block.get('name')} "
                              f"{json.dumps(block.get('input'))}", tool=block.get("name"))
            elif block.get("type") == "tool_result":
                self.activity(spec, events, "tool_result", _string(block.get("content")))

    def result(self, spec, code, out, err, values):
        data = next((e for e in reversed(list(_json_lines(out))) if e.get("type") == "result"),
                    None) or _last_json(out)
        if not isinstance(data, dict) or "result" not in data and "is_error" not in data:
            return self.exit_failure(spec, code, out, err) if code else \
                self.outcome(spec, text=out.decode("utf-8", "replace"))
        text = _string(data.get("result"))
        usage = _usage(data.get("usage") or {}, cost=data.get("total_cost_usd"))
        session = data.get("session_id")
        status = data.get("api_error_status")
        if data.get("is_error") or code:
            finish = "rate_limit" if status == 429 else "transient" if status in \
                TRANSIENT_STATUS else _finish(data.get("subtype"))
            return self.outcome(spec, text=text, session=session, usage=usage,
                                error=text or f"`claude` exited with {code}", finish=finish)
        denied = data.get("permission_denials") or []
        if denied:
            names = ", ".join(sorted({str(d.get("tool_name", "?")) for d in denied}))
            if self.on_permission_denied == "fail":
                return self.outcome(spec, text=text, session=session, usage=usage,
                                    error=f"permission denied for {names}",
                                    finish="permission_denied")
            return self.outcome(spec, text=text, session=session, usage=usage,
                                structured=data.get("structured_output"),
                                finish="permission_denied")
        return self.outcome(spec, text=text, session=session, usage=usage,
                            structured=data.get("structured_output"),
                            finish=_finish(data.get("subtype")))


def _finish(subtype) -> str:
    return {"success": "stop", "error_max_turns": "max_steps"}.get(subtype, subtype or "stop")


# --- Codex ---------------------------------------------------------------------------------


class Codex(AgentCLI):
    """`codex exec --json -`: the prompt on stdin, JSONL events out."""

    kind, program = "codex", "codex"
    streaming = True

    def on_line(self, spec, line, events):
        event = json_object(line) or {}
        item = event.get("item") or {}
        if event.get("type") != "item.completed" or not isinstance(item, dict):
            return
        if item.get("type") == "agent_message":
            self.activity(spec, events, "text", _string(item.get("text")))
        elif item.get("type") == "command_execution":
            self.activity(spec, events, "tool_use", _string(item.get("command")),
                          tool="shell", exit_code=item.get("exit_code"))
        elif item.get("type") in ("file_change", "mcp_tool_call", "web_search"):
            self.activity(spec, events, "tool_use", item["type"], tool=item["type"])

    def command(self, spec, values):
        opts = self.options
        sandbox = opts.get("sandbox") or ("read-only" if spec.isolation == "read-only"
                                          else "workspace-write")
        # (`codex exec resume` takes fewer flags: these work for both)
        flags = ["--json", "--skip-git-repo-check", "-c", "check_for_update_on_startup=false",
                 "-c", "analytics.enabled=false", "-c", f"sandbox_mode={json.dumps(sandbox)}"]
        if spec.model:
            flags += ["--model", spec.model]
        if spec.system:  # TOML string: JSON escapes are TOML basic-string escapes
            flags += ["-c", f"developer_instructions={json.dumps(spec.system)}"]
        if spec.output_schema is not None:
            flags += ["--output-schema", values["schema_file"]]
        if opts.get("profile"):
            flags += ["-c", f"profile={json.dumps(opts['profile'])}"]
        if not opts.get("plugins"):  # their startup sync reaches github.com and chatgpt.com
            flags += ["--disable", "plugins"]
        flags += self.extra_args
        if spec.parent_session_id:
            return [self.argv[0], "exec", "resume", *flags, spec.parent_session_id, "-"]
        return [self.argv[0], "exec", "--color", "never", *flags, "-"]

    def result(self, spec, code, out, err, values):
        session, texts, usage, error = None, [], None, None
        for event in _json_lines(out):
            kind = event.get("type")
            item = event.get("item") or {}
            if kind == "thread.started":
                session = event.get("thread_id")
            elif kind == "item.completed" and item.get("type") == "agent_message":
                texts.append(_string(item.get("text")))
            elif kind == "turn.completed":
                u = event.get("usage") or {}
                usage = _usage({"input_tokens": u.get("input_tokens"),
                                "output_tokens": u.get("output_tokens"),
                                "cache_read_input_tokens": u.get("cached_input_tokens"),
                                "cache_creation_input_tokens": u.get(
                                    "cache_write_input_tokens")}, included=True)
            elif kind in ("turn.failed", "error"):
                error = _message(event.get("error") or event.get("message"))
        text = texts[-1] if texts else ""
        if error is not None or code:
            if error is None:
                return self.exit_failure(spec, code, out, err)
            transient = bool(self.transient_pattern and self.transient_pattern.search(error))
            return self.outcome(spec, text=text, session=session, usage=usage, error=error,
                                finish="transient" if transient else "error")
        return self.outcome(spec, text=text, session=session, usage=usage)


# --- llm -----------------------------------------------------------------------------------


class LLM(AgentCLI):
    """`llm prompt --json`, with a log database per step (several llm processes at once
    race to create and migrate a shared one)."""

    kind, program = "llm", "llm"
    no_sessions = "llm keeps conversations in its log database, and each step has its own"

    def command(self, spec, values):
        argv = [self.argv[0], "prompt", "--json", "--no-stream",
                "-d", os.path.join(values["tmp"], "logs.db")]
        if spec.model:
            argv += ["-m", spec.model]
        if spec.system:
            argv += ["-s", spec.system]
        if spec.output_schema is not None:
            argv += ["--schema", values["schema"]]
        return argv + self.extra_args

    def result(self, spec, code, out, err, values):
        if code:
            return self.exit_failure(spec, code, out, err)
        data = _last_json(out)
        record = data[-1] if isinstance(data, list) and data else data
        if not isinstance(record, dict):
            return self.outcome(spec, text=out.decode("utf-8", "replace"))
        details = record.get("token_details") or {}
        usage = _usage({"input_tokens": record.get("input_tokens"),
                        "output_tokens": record.get("output_tokens"),
                        "cache_read_input_tokens": _cached(details)}, included=True)
        structured = None
        if spec.output_schema is not None:
            structured = _maybe_json(record.get("response"))
        return self.outcome(spec, text=_string(record.get("response")),
                            session=record.get("conversation_id"), usage=usage,
                            structured=structured)


# --- Gemini CLI ----------------------------------------------------------------------------

# defaults under the user's own settings (GEMINI_CLI_SYSTEM_DEFAULTS_PATH): an API key
# (GEMINI_API_KEY) unless the user chose another way in, no usage statistics (they go
# to play.googleapis.com), no update checks
GEMINI_DEFAULTS = {"security": {"auth": {"selectedType": "gemini-api-key"}},
                   "privacy": {"usageStatisticsEnabled": False},
                   "general": {"enableAutoUpdate": False,
                               "enableAutoUpdateNotification": False}}


class GeminiCLI(AgentCLI):
    """`gemini --output-format json -p ""`: the prompt on stdin, one JSON document out.
    Gemini CLI has no system-prompt or schema flag: the agent's system prompt goes
    before the prompt (`system_prompt = "replace"`: GEMINI_SYSTEM_MD replaces the CLI's
    own), the schema after it."""

    kind, program = "gemini-cli", "gemini"
    no_sessions = "Gemini CLI resumes sessions by index, not by id"

    def values(self, spec, tmp):
        values = super().values(spec, tmp)
        if spec.system and self.options.get("system_prompt") == "replace":
            values["system_md"] = os.path.join(tmp, "system.md")
            with open(values["system_md"], "w", encoding="utf-8") as f:
                f.write(spec.system)
        return values

    def environment(self, spec, values):
        env = super().environment(spec, values)
        defaults = _gemini_defaults(env)
        if defaults:
            env.setdefault("GEMINI_CLI_SYSTEM_DEFAULTS_PATH", defaults)
        if "system_md" in values:
            env["GEMINI_SYSTEM_MD"] = values["system_md"]
        return env

    def stdin(self, spec):
        parts = [spec.prompt]
        if spec.system and self.options.get("system_prompt") != "replace":
            parts.insert(0, f"{spec.system}\n\n---\n")
        if spec.output_schema is not None:
            parts.append("\n\nAnswer with only a JSON value matching this JSON Schema:\n"
                         + json.dumps(spec.output_schema))
        return "".join(parts).encode("utf-8", "surrogatepass")

    def command(self, spec, values):
        argv = [self.argv[0], "--output-format", "json", "--skip-trust"]
        if spec.model:
            argv += ["--model", spec.model]
        mode = self.options.get("approval_mode") or ("plan" if spec.isolation == "read-only"
                                                    else None)
        if mode:
            argv += ["--approval-mode", mode]
        return argv + self.extra_args + ["--prompt", ""]

    def result(self, spec, code, out, err, values):
        data = _last_json(out)
        if not isinstance(data, dict):
            return self.exit_failure(spec, code, out, err) if code else \
                self.outcome(spec, text=out.decode("utf-8", "replace"))
        text, session = _string(data.get("response")), data.get("session_id")
        usage = _gemini_usage((data.get("stats") or {}).get("models") or {})
        if data.get("error") or code:
            error = _message(data.get("error")) or f"`gemini` exited with {code}"
            status = (data.get("error") or {}).get("code") if isinstance(
                data.get("error"), dict) else None
            finish = "rate_limit" if status == 429 else "transient" if status in \
                TRANSIENT_STATUS else "error"
            return self.outcome(spec, text=text, session=session, usage=usage, error=error,
                                finish=finish)
        structured = _maybe_json(text.strip().removeprefix("```json").removesuffix("```")) \
            if spec.output_schema is not None else None
        return self.outcome(spec, text=text, session=session, usage=usage,
                            structured=structured)


def _gemini_defaults(env: dict) -> str | None:
    """GEMINI_DEFAULTS as a file Gemini CLI accepts: it ignores one with any ancestor
    directory writable by others (as /tmp is), so it lives in the cache directory."""
    cache = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or "~", ".cache")
    path = os.path.join(os.path.expanduser(cache), "wlisp", "gemini-defaults-1.json")
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        if not os.path.exists(path):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                json.dump(GEMINI_DEFAULTS, f)
    except OSError:
        return None
    parts = os.path.dirname(os.path.realpath(path))
    while True:
        if os.stat(parts).st_mode & 0o022:  # writable by group or others: refused
            return None
        if parts == os.path.dirname(parts):
            return path
        parts = os.path.dirname(parts)


def _gemini_usage(models: dict) -> dict:
    """Tokens of every model the CLI called for the step (its router included)."""
    total: dict = {}
    for stats in models.values():
        tokens = (stats or {}).get("tokens") or {}
        for ours, theirs in (("input_tokens", "prompt"), ("output_tokens", "candidates"),
                             ("cache_read_input_tokens", "cached")):
            total[ours] = total.get(ours, 0) + _count(tokens.get(theirs))
        total["output_tokens"] += _count(tokens.get("thoughts"))
    return _usage(total, included=True)


# --- reading CLI output --------------------------------------------------------------------


def _json_lines(raw: bytes):
    """The JSON objects among a CLI's output lines (its events)."""
    for line in raw.splitlines():
        value = json_object(line)
        if value is not None:
            yield value


def _last_json(raw: bytes):
    """The JSON document a CLI printed (some print a notice before it)."""
    text = raw.decode("utf-8", "replace").strip()
    for start in (0, *(m.start() for m in re.finditer(r"^[\[{]", text, re.M))):
        try:
            return json.loads(text[start:])
        except ValueError:
            continue
    return None


def _maybe_json(text):
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _string(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _message(value) -> str:
    """An error as the CLI reports it, unwrapped when it quotes a vendor's JSON body."""
    if isinstance(value, dict):
        value = value.get("message") or json.dumps(value)
    text = _string(value)
    inner = _maybe_json(text)
    if isinstance(inner, dict):
        err = inner.get("error", inner)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return text


def _count(value) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value > 0 else 0


def _cached(details) -> int:
    if not isinstance(details, dict):
        return 0
    inner = details.get("input_tokens_details") or details.get("prompt_tokens_details") or {}
    return _count(inner.get("cached_tokens") if isinstance(inner, dict) else 0)


def _usage(u: dict, cost=None, included: bool = False) -> dict:
    """Usage with the tokens the model really processed as `input_tokens` (what budgets
    count) and the cache tokens beside it. Anthropic reports cache reads and writes
    apart from `input_tokens`; OpenAI includes them (`included`)."""
    read, write = _count(u.get("cache_read_input_tokens")), \
        _count(u.get("cache_creation_input_tokens"))
    fresh = _count(u.get("input_tokens"))
    out = {"input_tokens": fresh if included else fresh + read + write,
           "output_tokens": _count(u.get("output_tokens"))}
    if read:
        out["cache_read_input_tokens"] = read
    if write:
        out["cache_creation_input_tokens"] = write
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        out["cost"] = float(cost)
    return out


TYPES = {cls.kind: cls for cls in (ClaudeCode, Codex, LLM, GeminiCLI)}
