"""The `command` executor: one program run per step (SPEC §8).

The argv template's placeholders — {model} {agent} {task_id} {system}
{attempt} {output_file} {schema_file} {schema} {home} — each fill exactly one
argv element, once, never a shell string; a list inside the argv is an optional
group, left out when a placeholder in it is empty. The prompt goes to stdin; the
step is described in WLISP_* environment variables; the answer is stdout (or the
declared output file). A non-zero exit is a failed outcome carrying the CLI's
message (its JSON envelope on stdout, else the tail of stderr), transient when
the profile's exit codes or pattern say so. Each
agent runs in a process group of its own, reported to the runtime (`events`) so
the journal can keep it; when the step ends — answered, failed, timed out or
cancelled — the whole group is killed, background children included. On Linux
the agent also dies with the wlisp process (parent-death signal). When the program
prints a JSON envelope (`{"result": ..., "usage": {...}}`, as `claude -p
--output-format json` does) the text and the token usage come from it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile

from .. import processes
from ..contract import Event, StepOutcome, StepSpec
from .config import expand_env
from .environment import agent_environment

PLACEHOLDERS = ("model", "agent", "task_id", "system", "attempt", "output_file", "schema_file",
                "schema", "home", "session")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
STDERR_TAIL = 2000
DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024


class CommandExecutor:
    """Runs one program per step. Subclasses that know a particular agent CLI override
    `values`, `environment`, `command` and `result`; the process handling (groups,
    timeouts, reaping, reporting) is shared."""

    step_files = True  # a journaled run keeps each attempt's files (runtime/stepfiles.py)

    def __init__(self, argv: list, *, name: str = "command", env: dict | None = None,
                 timeout: float | None = None, output_file: bool = False,
                 envelope: bool | None = None, cwd: str | None = None,
                 max_output: int = DEFAULT_MAX_OUTPUT, concurrency: int = 8,
                 pass_env: list[str] | tuple = (), foreign_env: list[str] | tuple = (),
                 transient_exit_codes: list[int] | tuple = (),
                 transient_pattern: str | None = None, isolated_home: bool = False):
        self.argv = list(argv)
        self.name = name
        self.env = {k: expand_env(str(v), f"executor `{name}` env `{k}`")
                    for k, v in (env or {}).items()}
        self.timeout = timeout
        self.output_file = output_file
        self.envelope = envelope
        self.cwd = cwd
        self.max_output = max_output
        self.concurrency_hint = concurrency
        self.pass_env, self.foreign_env = tuple(pass_env), tuple(foreign_env)
        self.transient_exit_codes = frozenset(transient_exit_codes)
        self.transient_pattern = re.compile(transient_pattern, re.IGNORECASE) \
            if transient_pattern else None
        self.isolated_home = isolated_home

    # --- what a subclass may change ------------------------------------------------------

    def values(self, spec: StepSpec, tmp: str) -> dict:
        """The placeholders' values for one step (files go in `tmp`)."""
        values = {"model": spec.model, "agent": spec.agent, "task_id": spec.task_id,
                  "system": spec.system, "attempt": spec.attempt,
                  "session": spec.parent_session_id}
        if spec.output_schema is not None:
            values["schema"] = json.dumps(spec.output_schema)
            values["schema_file"] = os.path.join(tmp, "schema.json")
            with open(values["schema_file"], "w", encoding="utf-8") as f:
                f.write(values["schema"])
        if self.output_file:
            values["output_file"] = os.path.join(tmp, "output.txt")
        if self.isolated_home:
            values["home"] = os.path.join(tmp, "home")
            os.mkdir(values["home"])
        return values

    def environment(self, spec: StepSpec, values: dict) -> dict:
        env = {**agent_environment(self.env, self.pass_env, self.foreign_env),
               "WLISP_TASK_ID": spec.task_id, "WLISP_AGENT": spec.agent,
               "WLISP_ATTEMPT": str(spec.attempt), "WLISP_MODEL": spec.model or "",
               "WLISP_ROLE": spec.role or "", "WLISP_TRUST": spec.trust or ""}
        if "schema_file" in values:
            env["WLISP_OUTPUT_SCHEMA"] = values["schema_file"]
        if "output_file" in values:
            env["WLISP_OUTPUT_FILE"] = values["output_file"]
        if "home" in values:  # a home of its own: the CLI's state files are not shared
            env["HOME"] = env["WLISP_HOME_DIR"] = values["home"]
        env.update({k.upper(): v for k, v in spec.trace_context().items()})  # (traced)
        return env

    def command(self, spec: StepSpec, values: dict) -> list[str]:
        return fill_argv(self.argv, values)

    def stdin(self, spec: StepSpec) -> bytes:
        return spec.prompt.encode("utf-8", "surrogatepass")

    # stdout is read line by line as the agent prints it; each line goes to `on_line`
    streaming = True

    def on_line(self, spec: StepSpec, line: bytes, events) -> None:
        """One line of the agent's stdout, as it arrives: the run sees it (the live tree
        shows the last line of each running step; `wlisp run -v` prints them all)."""
        if events is not None and not self.output_file:
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                events.emit(Event("agent", spec.task_id, "spawn", spec.agent,
                                  attempt=spec.attempt, message=text,
                                  data={"type": "text"}))

    def result(self, spec: StepSpec, code: int, out: bytes, err: bytes,
               values: dict) -> StepOutcome:
        """The outcome of a finished process."""
        if code != 0:
            envelope = json_object(out)  # e.g. claude: exit 1, its error in JSON on stdout
            message = envelope and _text(envelope.get("result", envelope.get("error")))
            return self.exit_failure(spec, code, out, err, message or None)
        if self.output_file:
            try:
                with open(values["output_file"], "rb") as f:
                    out = f.read()
            except OSError:
                return StepOutcome.failed(spec.task_id, spec.agent, f"`{self.argv[0]}` wrote "
                                          "no output file (WLISP_OUTPUT_FILE)")
        return self._outcome(spec, out)

    def exit_failure(self, spec: StepSpec, code: int, out: bytes, err: bytes,
                     message: str | None = None) -> StepOutcome:
        """A non-zero exit: transient when the profile's rule says so (retried with
        backoff), else permanent, with the CLI's own message or the tail of stderr."""
        tail = err.decode("utf-8", "replace")[-STDERR_TAIL:].strip()
        text = f"{tail}\n{out.decode('utf-8', 'replace')[-STDERR_TAIL:]}"
        transient = code in self.transient_exit_codes or bool(
            self.transient_pattern and self.transient_pattern.search(text))
        program = os.path.basename(str(self.argv[0])) if self.argv else self.name
        return StepOutcome.failed(spec.task_id, spec.agent,
                                  f"`{program}` exited with {code}: "
                                  f"{message or tail or '(no stderr)'}",
                                  "transient" if transient else "error")

    # --- running it ------------------------------------------------------------------------

    def cannot_run(self, spec: StepSpec) -> str | None:
        """Why this executor cannot run `spec` at all (before any process starts)."""
        if spec.parent_session_id and "{session}" not in json.dumps(self.argv):
            return (f"executor `{self.name}` cannot continue a session (`:continue`): its "
                    "argv has no {session} placeholder")
        return None

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        refused = self.cannot_run(spec)
        if refused:
            return StepOutcome.failed(spec.task_id, spec.agent, refused)
        with tempfile.TemporaryDirectory(prefix="wlisp-step-") as tmp:
            values = self.values(spec, tmp)
            env = self.environment(spec, values)
            argv = self.command(spec, values)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, env=env, cwd=self.cwd,
                    start_new_session=True,  # its own process group, killed as one
                    preexec_fn=processes.parent_death_hook(),  # dies with us (Linux)
                    limit=self.max_output + 1)  # the longest line a streaming CLI may print
            except (OSError, ValueError) as exc:  # ValueError: a NUL in an argument
                return StepOutcome.failed(spec.task_id, spec.agent, f"cannot start "
                                          f"`{argv[0]}`: {getattr(exc, 'strerror', 0) or exc}")
            _report(events, "process_started", spec, processes.identify(proc.pid))
            try:
                out, err = await asyncio.wait_for(self._communicate(proc, spec, events),
                                                  self.timeout)
            except TimeoutError:
                processes.kill_pgid(proc.pid)
                await proc.wait()
                return StepOutcome.failed(spec.task_id, spec.agent,
                                          f"`{argv[0]}` timed out after {self.timeout}s",
                                          "timeout")
            finally:
                # the whole group goes, whatever happened: a cancelled step's agent, and
                # background children a finished one left behind
                processes.kill_pgid(proc.pid)
                if proc.returncode is None:
                    await processes.reap(proc)
                _report(events, "process_ended", spec, {"pid": proc.pid})
            if err and events is not None:
                events.emit(Event("stderr", spec.task_id, "spawn", spec.agent,
                                  attempt=spec.attempt,
                                  message=err.decode("utf-8", "replace")))
            return self.result(spec, proc.returncode, out, err, values)

    async def _communicate(self, proc, spec: StepSpec, events) -> tuple[bytes, bytes]:
        if not self.streaming:
            return await proc.communicate(self.stdin(spec))

        async def feed():
            try:
                proc.stdin.write(self.stdin(spec))
                await proc.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass  # it stopped reading: its exit status says why
            finally:
                proc.stdin.close()

        async def lines():
            chunks = []
            try:
                while line := await proc.stdout.readline():
                    chunks.append(line)
                    self.on_line(spec, line, events)
            except ValueError:  # a line past max_output: the rest unread as lines
                chunks.append(await proc.stdout.read())
            return b"".join(chunks)

        _, out, err = await asyncio.gather(feed(), lines(), proc.stderr.read())
        await proc.wait()
        return out, err

    def _outcome(self, spec: StepSpec, raw: bytes) -> StepOutcome:
        truncated = len(raw) > self.max_output
        text = raw[:self.max_output].decode("utf-8", "replace")
        usage = None
        if self.envelope is not False and text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                data = None
            if isinstance(data, dict) and ("result" in data or "output" in data) and \
                    (self.envelope or "usage" in data or "total_cost_usd" in data):
                inner = data.get("result", data.get("output"))
                text = inner if isinstance(inner, str) else json.dumps(inner)
                u = data.get("usage") or {}
                usage = {"input_tokens": int(u.get("input_tokens") or 0),
                         "output_tokens": int(u.get("output_tokens") or 0),
                         "cost": float(data.get("total_cost_usd") or u.get("cost") or 0.0)}
                if data.get("is_error"):
                    return StepOutcome(spec.task_id, f"cmd-{spec.task_id}", spec.agent, text,
                                       False, None, usage, text, "error")
        if truncated:
            text += f"\n[output truncated at {self.max_output} bytes]"
        return StepOutcome(task_id=spec.task_id, session_id=f"cmd-{spec.task_id}",
                           agent=spec.agent, output=text, success=True, usage=usage,
                           finish_reason="stop")


def json_object(raw: bytes) -> dict | None:
    """`raw` as a JSON object (a CLI's envelope, one line of its events), or None."""
    text = raw.decode("utf-8", "replace").strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # {"message": ...} error objects
        return str(value.get("message") or json.dumps(value))
    return value if isinstance(value, str) else json.dumps(value)


def fill_argv(template: list, values: dict) -> list[str]:
    """Each placeholder replaced once, literally (a value that looks like a placeholder,
    `:system "S {attempt}"`, stays as it is). An element that is itself a list is an
    optional group: it is left out when any placeholder in it is empty
    (`["--model", "{model}"]` for an agent without a model)."""
    def fill(part: str) -> str:
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1)) or ""), part)

    out: list[str] = []
    for part in template:
        if isinstance(part, list):
            holes = [h for p in part for h in _PLACEHOLDER.findall(p)]
            if all(values.get(h) not in (None, "") for h in holes):
                out.extend(fill(p) for p in part)
        else:
            out.append(fill(part))
    return out


def _report(events, kind: str, spec: StepSpec, data: dict | None) -> None:
    """Tell the runtime about the step's process group (the journal keeps it while the
    step runs, so that a later holder of the run can kill it)."""
    if events is not None and data is not None:
        events.emit(Event(kind, spec.task_id, "spawn", spec.agent, attempt=spec.attempt,
                          data=data))
