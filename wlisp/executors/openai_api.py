"""The `openai` executor: any OpenAI-compatible chat-completions endpoint (SPEC §8).

Uses the official `openai` SDK (the `wlisp[openai]` extra). Structured steps
ask for `response_format: json_schema`; a server that rejects it is asked for
`json_object` with the schema in the prompt instead (and remembered). Agents
with `deftool` tools get the tool-calling loop of the coordinator seed: tool
calls of one turn run in parallel as argv commands with a per-tool timeout;
unknown or failing tools are reported back to the model as `{"error": ...}`;
the loop stops at the model's answer or at the iteration cap (`:max-steps`).
Rate limits, timeouts and connection errors come back as transient failures,
which the runtime retries with backoff.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import re
import weakref

import jsonschema

from .. import processes
from ..contract import Event, StepOutcome, StepSpec
from ..errors import Diagnostic, WlispError
from .environment import agent_environment

TOOL_OUTPUT_LIMIT = 16_000
_HOLE = re.compile(r"\{([^{}]+)\}")


class OpenAIExecutor:
    """Steps through chat completions. Without `client` it makes an
    `openai.AsyncOpenAI` per event loop and closes it when that loop shuts
    down, so one executor serves any number of `wlisp.run` calls. A `client`
    given by the caller is used as is and never closed: its connections belong
    to one event loop, so the caller uses it within that loop and closes it."""

    step_files = True  # a journaled run keeps each attempt's files (runtime/stepfiles.py)

    def __init__(self, *, name: str = "openai", base_url: str | None = None,
                 api_key_env: str | None = "OPENAI_API_KEY", model: str | None = None,
                 prices: dict | None = None, timeout: float = 120.0, tool_timeout: float = 60.0,
                 max_iterations: int = 8, structured: str = "json_schema",
                 temperature: float | None = None, concurrency: int = 16, client=None,
                 pass_env: list[str] | tuple = (), foreign_env: list[str] | tuple = (),
                 sessions_dir: str | None = None, stream: bool = True):
        try:
            import openai
        except ImportError:
            raise WlispError(Diagnostic("W0903", "the openai executor needs the `openai` "
                                        "package: pip install 'wlisp[openai]'")) from None
        self.openai = openai
        key = os.environ.get(api_key_env) if api_key_env else None
        if client is None and api_key_env and key is None and base_url is None:
            raise WlispError(Diagnostic("W0902", f"executor `{name}`: environment variable "
                                        f"`{api_key_env}` is not set"))
        self.client = client  # the caller's: used on every loop, never closed here
        self._client_args = {"base_url": base_url, "api_key": key or "none",
                             "timeout": timeout, "max_retries": 0}
        self._clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.name, self.model, self.prices = name, model, prices or {}
        self.tool_timeout, self.max_iterations = tool_timeout, max_iterations
        self.sessions = Conversations(sessions_dir)
        # tools see no API key (ours included) unless the profile passes it on
        self.pass_env = tuple(pass_env)
        self.foreign_env = (*foreign_env, *([api_key_env] if api_key_env else []))
        self.structured = structured
        self.temperature = temperature
        self.stream = stream  # tokens as they come; off after a server refuses it
        self.concurrency_hint = concurrency

    async def _client(self):
        """The caller's client, else one of ours for the running event loop.

        An `AsyncOpenAI` client's connections belong to the loop that opened
        them, and `wlisp.run` starts a loop per run: sharing one client across
        loops fails with "Event loop is closed". Ours are made per loop and
        closed when `asyncio.run` shuts that loop down."""
        if self.client is not None:
            return self.client
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            client = self.openai.AsyncOpenAI(**self._client_args)
            closer = _closing(client, lambda: self._clients.pop(loop, None))
            entry = self._clients[loop] = (client, closer)  # (which keeps `closer` alive)
            await anext(closer)  # its first step: the loop now closes it at shutdown
        return entry[0]

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        model = spec.model or self.model
        if not model:
            return StepOutcome.failed(spec.task_id, spec.agent, f"executor `{self.name}` has "
                                      "no model: set `model` in wlisp.toml or `:model`")
        messages = []
        if spec.parent_session_id:  # `:continue`: the earlier conversation, replayed
            messages = self.sessions.load(spec.parent_session_id)
            if messages is None:
                return StepOutcome.failed(spec.task_id, spec.agent, "cannot continue session "
                                          f"`{spec.parent_session_id}`: no conversation "
                                          f"under {self.sessions.directory}")
        elif spec.system:
            messages.append({"role": "system", "content": spec.system})
        messages.append({"role": "user", "content": spec.prompt})
        tools = {t["name"]: t for t in spec.tools or []}
        usage = {"input_tokens": 0, "output_tokens": 0, "cost": 0.0}
        cap = spec.max_steps or self.max_iterations
        last_unknown = False
        for _ in range(cap):
            try:
                resp = await self._complete(model, messages, tools, spec.output_schema,
                                            _Lines(spec, events), spec.trace_context() or None)
            except self.openai.RateLimitError as exc:
                return self._failed(spec, f"rate limited: {_brief(exc)}", "rate_limit", usage)
            except self.openai.APITimeoutError:
                return self._failed(spec, "the API did not answer in time", "timeout", usage)
            except self.openai.APIConnectionError as exc:
                where = self._client_args.get("base_url") or "the OpenAI API"
                return self._failed(spec, f"executor `{self.name}` cannot reach {where}: "
                                    f"{_brief(exc)}", "connection", usage)
            except self.openai.APIStatusError as exc:
                reason = "transient" if exc.status_code >= 500 else "error"
                return self._failed(spec, f"API error {exc.status_code}: {_brief(exc)}", reason,
                                    usage)
            except (self.openai.APIError, ValueError) as exc:
                return self._failed(spec, f"bad API response: {_brief(exc)}", "error", usage)
            self._count(resp, model, usage)
            if not getattr(resp, "choices", None):
                return self._failed(spec, "the API answered without choices", "error", usage)
            msg = resp.choices[0].message
            calls = msg.tool_calls or []
            if not calls:
                messages.append({"role": "assistant", "content": msg.content or ""})
                keep = (spec.metadata or {}).get("continued") or spec.parent_session_id
                session = self.sessions.save(messages) if keep else getattr(resp, "id", "")
                return StepOutcome(task_id=spec.task_id, session_id=session or "",
                                   agent=spec.agent, output=msg.content or "", success=True,
                                   usage=usage, finish_reason="stop")
            messages.append({"role": "assistant", "content": msg.content or None,
                             "tool_calls": [{"id": c.id, "type": "function",
                                             "function": {"name": c.function.name,
                                                          "arguments": c.function.arguments}}
                                            for c in calls]})
            results = await asyncio.gather(*(self._run_tool(tools, c) for c in calls))
            last_unknown = all(c.function.name not in tools for c in calls)
            for c, content in zip(calls, results, strict=True):
                messages.append({"role": "tool", "tool_call_id": c.id, "content": content})
        reason = "unknown_tool" if last_unknown else "max_iterations"
        return self._failed(spec, f"no answer after {cap} tool-calling rounds", reason, usage)

    async def _complete(self, model, messages, tools, schema, lines=None, headers=None):
        kwargs: dict = {"model": model, "messages": messages}
        if headers:
            kwargs["extra_headers"] = headers
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if tools:
            kwargs["tools"] = [{"type": "function", "function": {
                "name": name, "description": t.get("description", ""),
                "parameters": t.get("params") or {"type": "object", "properties": {}}}}
                for name, t in tools.items()]
        if schema is not None and self.structured == "json_schema":
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": schema}}
            try:
                return await self._create(kwargs, lines)
            except self.openai.BadRequestError as exc:
                if "response_format" not in str(exc) and "json_schema" not in str(exc):
                    raise
                self.structured = "json_object"  # this server lacks it: fall back, remember
        if schema is not None and self.structured in ("json_object", "prompt"):
            messages = [*messages[:-1], {"role": "user", "content": messages[-1]["content"]
                        + "\n\nAnswer with only a JSON value matching this JSON Schema:\n"
                        + json.dumps(schema)}]
            kwargs["messages"] = messages
            kwargs.pop("response_format", None)
            if self.structured == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
        return await self._create(kwargs, lines)

    async def _create(self, kwargs: dict, lines):
        """One completion; streamed when the server allows it, its text passed to `lines`
        as it comes (a long answer does not look frozen), the chunks put back together
        into one completion by the SDK's own accumulator."""
        client = await self._client()
        if not self.stream or lines is None or not lines.wanted:
            return await client.chat.completions.create(**kwargs)
        from openai.lib.streaming.chat import ChatCompletionStreamState

        try:
            stream = await client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True})
        except self.openai.BadRequestError as exc:
            if "stream" not in str(exc):
                raise
            self.stream = False  # this server does not stream: ask whole, remember
            return await client.chat.completions.create(**kwargs)
        state = ChatCompletionStreamState()
        async with stream:
            async for chunk in stream:
                state.handle_chunk(chunk)
                for choice in chunk.choices or ():
                    if choice.delta and choice.delta.content:
                        lines.add(choice.delta.content)
        lines.flush()
        return state.get_final_completion()

    def _count(self, resp, model, usage) -> None:
        u = getattr(resp, "usage", None)
        if u is None:
            return
        inp, out = int(u.prompt_tokens or 0), int(u.completion_tokens or 0)
        usage["input_tokens"] += inp
        usage["output_tokens"] += out
        price = self.prices.get(model) or {}
        usage["cost"] += (inp * float(price.get("input", 0)) +
                          out * float(price.get("output", 0))) / 1_000_000

    async def _run_tool(self, tools, call) -> str:
        name = call.function.name
        tool = tools.get(name)
        if tool is None:
            return json.dumps({"error": f"unknown tool `{name}`; available: "
                               + (", ".join(tools) or "none")})
        try:
            args = json.loads(call.function.arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be a JSON object")
        except ValueError as exc:
            return json.dumps({"error": f"invalid arguments for `{name}`: {exc}"})
        problem = _argument_problem(tool, args)
        if problem is not None:  # checked before anything runs; the model may try again
            return json.dumps({"error": f"invalid arguments for `{name}`: {problem}"})
        argv = []
        for part in tool.get("command", []):
            missing = [h for h in _HOLE.findall(part) if h not in args]
            if missing:
                return json.dumps({"error": f"`{name}` needs argument(s) {', '.join(missing)}"})
            argv.append(_HOLE.sub(lambda m: _arg(args[m.group(1)]), part))
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
                env=agent_environment({}, self.pass_env, self.foreign_env),
                preexec_fn=processes.parent_death_hook())
        except (OSError, ValueError) as exc:
            return json.dumps({"error": f"cannot run `{argv[0]}`: "
                               f"{getattr(exc, 'strerror', None) or exc}"})
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.tool_timeout)
        except TimeoutError:
            return json.dumps({"error": f"`{name}` timed out after {self.tool_timeout}s"})
        finally:  # the tool's whole process group goes, whatever happened
            processes.kill_pgid(proc.pid)
            if proc.returncode is None:
                await processes.reap(proc)
        text = out.decode("utf-8", "replace")[:TOOL_OUTPUT_LIMIT]
        if proc.returncode != 0:
            return json.dumps({"error": f"`{name}` exited with {proc.returncode}",
                               "stderr": err.decode("utf-8", "replace")[-2000:],
                               "stdout": text})
        return text

    @staticmethod
    def _failed(spec, message, reason, usage) -> StepOutcome:
        out = StepOutcome.failed(spec.task_id, spec.agent, message, reason)
        out.usage = usage if usage.get("input_tokens") or usage.get("output_tokens") else None
        return out


class _Lines:
    """Streamed text as `agent` events, one per line (a long line in pieces), for the
    live view, `wlisp run -v` and the step's live.log."""

    def __init__(self, spec: StepSpec, events):
        self.spec, self.events, self.buffer = spec, events, ""
        self.wanted = events is not None

    def add(self, text: str) -> None:
        self.buffer += text
        *done, self.buffer = self.buffer.split("\n")
        if len(self.buffer) > 200:  # no newline for a while: show what there is, cut
            cut = self.buffer.rfind(" ") + 1 or (len(self.buffer) > 4000 and 4000)
            if cut:  # at a space (never inside a secret, which masking must see whole)
                done.append(self.buffer[:cut])
                self.buffer = self.buffer[cut:]
        for line in done:
            self._emit(line)

    def flush(self) -> None:
        if self.buffer:
            self._emit(self.buffer)
        self.buffer = ""

    def _emit(self, line: str) -> None:
        if line.strip():
            self.events.emit(Event("agent", self.spec.task_id, "spawn", self.spec.agent,
                                   attempt=self.spec.attempt, message=line,
                                   data={"type": "text"}))


class Conversations:
    """Chat completions keep no session, so the executor keeps each step's messages (a
    file per conversation, named by a hash of its content) and `:continue` replays them."""

    def __init__(self, directory: str | None):
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
        self.directory = directory or os.path.join(cache, "wlisp", "openai-sessions")

    def save(self, messages: list) -> str:
        text = json.dumps(messages, ensure_ascii=False, sort_keys=True)
        sid = "conv-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            path = os.path.join(self.directory, sid + ".json")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                      encoding="utf-8", errors="surrogatepass") as f:
                f.write(text)
        except OSError:
            return ""  # not continuable, and said so when a step tries
        return sid

    def load(self, sid: str) -> list | None:
        if not re.fullmatch(r"conv-[0-9a-f]{32}", sid):
            return None
        try:
            with open(os.path.join(self.directory, sid + ".json"), encoding="utf-8") as f:
                messages = json.load(f)
        except (OSError, ValueError):
            return None
        return messages if isinstance(messages, list) else None


async def _closing(client, forget):
    """Closes `client` (and forgets it) when the event loop that runs this async
    generator shuts down: a loop closes its unfinished async generators then
    (`asyncio.run` does, via `shutdown_asyncgens`), the one "this loop is
    ending" hook asyncio offers."""
    try:
        yield
    finally:
        forget()
        await client.close()


def _argument_problem(tool: dict, args: dict) -> str | None:
    """What is wrong with a model's arguments for `tool`: its `:params` schema, and no
    NUL character anywhere (an argv element cannot hold one)."""
    params = tool.get("params")
    if params:
        error = jsonschema.exceptions.best_match(_validator(params).iter_errors(args))
        if error is not None:
            where = "/".join(map(str, error.absolute_path))
            return f"{where + ': ' if where else ''}{error.message}"
    stack: list = [args]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and "\0" in value:
            return "a NUL character cannot be passed to a command"
    return None


@functools.lru_cache(maxsize=256)
def _cached_validator(text: str):
    return jsonschema.Draft202012Validator(json.loads(text))


def _validator(schema: dict):
    return _cached_validator(json.dumps(schema, sort_keys=True))


def _arg(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _brief(exc) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "…"
