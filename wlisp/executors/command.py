"""The `command` executor: one program run per step (SPEC §8).

The argv template's placeholders — {model} {agent} {task_id} {system}
{attempt} {output_file} {schema_file} — each fill exactly one argv element,
never a shell string. The prompt goes to stdin; the step is described in
WLISP_* environment variables; the answer is stdout (or the declared output
file). A non-zero exit is a failed outcome carrying the tail of stderr. Each
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

PLACEHOLDERS = ("model", "agent", "task_id", "system", "attempt", "output_file", "schema_file")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
STDERR_TAIL = 2000
DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024


class CommandExecutor:
    def __init__(self, argv: list[str], *, name: str = "command", env: dict | None = None,
                 timeout: float | None = None, output_file: bool = False,
                 envelope: bool | None = None, cwd: str | None = None,
                 max_output: int = DEFAULT_MAX_OUTPUT, concurrency: int = 8,
                 pass_env: list[str] | tuple = (), foreign_env: list[str] | tuple = ()):
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

    def _argv(self, spec: StepSpec, values: dict) -> list[str]:
        """The argv with each placeholder replaced once, literally: a value that itself
        looks like a placeholder (`:system "S {attempt}"`) stays as it is."""
        fill = lambda m: str(values.get(m.group(1)) or "")  # noqa: E731
        return [_PLACEHOLDER.sub(fill, part) for part in self.argv]

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        with tempfile.TemporaryDirectory(prefix="wlisp-step-") as tmp:
            values = {"model": spec.model, "agent": spec.agent, "task_id": spec.task_id,
                      "system": spec.system, "attempt": spec.attempt}
            env = {**agent_environment(self.env, self.pass_env, self.foreign_env),
                   "WLISP_TASK_ID": spec.task_id,
                   "WLISP_AGENT": spec.agent, "WLISP_ATTEMPT": str(spec.attempt),
                   "WLISP_MODEL": spec.model or "", "WLISP_ROLE": spec.role or "",
                   "WLISP_TRUST": spec.trust or ""}
            if spec.output_schema is not None:
                values["schema_file"] = os.path.join(tmp, "schema.json")
                with open(values["schema_file"], "w", encoding="utf-8") as f:
                    json.dump(spec.output_schema, f)
                env["WLISP_OUTPUT_SCHEMA"] = values["schema_file"]
            if self.output_file:
                values["output_file"] = os.path.join(tmp, "output.txt")
                env["WLISP_OUTPUT_FILE"] = values["output_file"]
            argv = self._argv(spec, values)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, env=env, cwd=self.cwd,
                    start_new_session=True,  # its own process group, killed as one
                    preexec_fn=processes.parent_death_hook())  # dies with us (Linux)
            except (OSError, ValueError) as exc:  # ValueError: a NUL in an argument
                return StepOutcome.failed(spec.task_id, spec.agent, f"cannot start "
                                          f"`{argv[0]}`: {getattr(exc, 'strerror', 0) or exc}")
            _report(events, "process_started", spec, processes.identify(proc.pid))
            try:
                out, err = await asyncio.wait_for(
                    proc.communicate(spec.prompt.encode("utf-8", "surrogatepass")),
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
            if proc.returncode != 0:
                tail = err.decode("utf-8", "replace")[-STDERR_TAIL:]
                return StepOutcome.failed(spec.task_id, spec.agent,
                                          f"`{argv[0]}` exited with {proc.returncode}: "
                                          f"{tail.strip() or '(no stderr)'}")
            if self.output_file:
                try:
                    with open(values["output_file"], "rb") as f:
                        out = f.read()
                except OSError:
                    return StepOutcome.failed(spec.task_id, spec.agent, f"`{argv[0]}` wrote no "
                                              "output file (WLISP_OUTPUT_FILE)")
        return self._outcome(spec, out)

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


def _report(events, kind: str, spec: StepSpec, data: dict | None) -> None:
    """Tell the runtime about the step's process group (the journal keeps it while the
    step runs, so that a later holder of the run can kill it)."""
    if events is not None and data is not None:
        events.emit(Event(kind, spec.task_id, "spawn", spec.agent, attempt=spec.attempt,
                          data=data))
