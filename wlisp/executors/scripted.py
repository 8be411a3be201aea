"""The `scripted` executor: canned answers from a TOML, JSON or YAML file.

For tests and demos: each step takes the first rule that matches its node id
(a glob over the instance or static id), agent and prompt (a regex). A rule
with `outputs = [...]` answers with them in turn and then repeats the last.
A step no rule matches fails with a message naming it.

    [[answer]]
    node = "main/review/*"          # optional glob
    agent = "reviewer"              # optional
    prompt = "security"             # optional regex, searched in the prompt
    output = "Looks fine."          # or outputs = ["first", "second"]
    structured = { approve = true } # optional
    fail = "reason"                 # optional: answer with a failed outcome
    transient = true                # with `fail`: a retryable failure
    usage = { input_tokens = 10, output_tokens = 20, cost = 0.0004 }
    delay = 0.05                    # seconds

A top-level `record = "calls.log"` (relative to the answer file) appends the task
id of every answered step to that file: tests use it to see what really ran.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re

from ..contract import StepOutcome, StepSpec
from ..errors import Diagnostic, WlispError
from .config import dotted, shown, validator_class


def _rule(words: str, **schema) -> dict:
    return {**schema, "description": words}


_AMOUNT = _rule("a number >= 0", type="number", minimum=0)
_COUNT = _rule("an integer >= 0", type="integer", minimum=0)
RULE_SCHEMA = {  # what each key of an answer holds, in words for the diagnostics
    **_rule("a table of answer keys (node, agent, prompt, output, ...)", type="object"),
    "properties": {
        "node": _rule("a glob over node ids (a string)", type="string"),
        "agent": _rule("an agent's name (a string)", type="string"),
        "prompt": _rule("a regex (a string)", type="string"),
        "output": {}, "structured": {},
        "outputs": _rule("a non-empty list of answers", type="array", minItems=1),
        "fail": _rule("the failure's message (a string)", type="string"),
        "transient": _rule("true or false", type="boolean"),
        "usage": _rule("a table { input_tokens = N, output_tokens = N, cost = N }",
                       type="object", additionalProperties=False, properties={
                           "input_tokens": _COUNT, "output_tokens": _COUNT, "cost": _AMOUNT}),
        "delay": _rule("a number >= 0 (seconds)", type="number", minimum=0),
        "times": _COUNT}}
RULE_KEYS = set(RULE_SCHEMA["properties"])


def _check(data, where: str) -> None:
    """The answer's keys and the types of their values, as W0702 diagnostics."""
    unknown = set(data) - RULE_KEYS if isinstance(data, dict) else set()
    if unknown:
        raise _bad(where, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                   + ", ".join(sorted(RULE_KEYS)))
    err = next(validator_class()(RULE_SCHEMA).iter_errors(data), None)
    if err is not None:
        name = dotted(err.absolute_path)
        raise _bad(where, (f"`{name}` must be " if name else "an answer must be ")
                   + f"{err.schema['description']}, got {shown(err.instance)}")


class Rule:
    def __init__(self, data: dict, where: str):
        _check(data, where)
        self.node = data.get("node")
        self.agent = data.get("agent")
        try:
            self.prompt = re.compile(data["prompt"]) if data.get("prompt") else None
        except re.error as exc:
            raise _bad(where, f"`prompt` is not a valid regex: {exc}") from None
        outputs = data.get("outputs")
        self.outputs = outputs if outputs is not None else [data.get("output", "")]
        self.structured = data.get("structured")
        self.fail = data.get("fail")
        self.transient = data.get("transient", False)
        self.usage = data.get("usage")
        self.delay = data.get("delay", 0)
        self.times = data.get("times")
        self.used = 0

    def matches(self, spec: StepSpec) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.agent is not None and self.agent != spec.agent:
            return False
        if self.node is not None:
            static = (spec.metadata or {}).get("node") or ""
            if not (fnmatch.fnmatchcase(spec.task_id, self.node)
                    or fnmatch.fnmatchcase(static, self.node)):
                return False
        return self.prompt is None or self.prompt.search(spec.prompt) is not None


def _bad(where: str, message: str) -> WlispError:
    return WlispError(Diagnostic("W0702", f"{where}: {message}"))


class ScriptedExecutor:
    def __init__(self, rules: list[dict], concurrency_hint: int = 64, source: str = "<rules>",
                 record: str | None = None):
        self.rules = [Rule(r, f"{source}: answer #{i + 1}") for i, r in enumerate(rules)]
        self.concurrency_hint = concurrency_hint
        self.source = source
        self.record = record
        self.calls: list[str] = []

    @classmethod
    def from_file(cls, path: str, **kw) -> ScriptedExecutor:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise _bad(path, f"cannot read the answer file: {exc.strerror}") from None
        ext = os.path.splitext(path)[1].lower()
        try:
            if ext == ".toml":
                import tomllib

                data = tomllib.loads(raw.decode())
            elif ext in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(raw)
            else:
                data = json.loads(raw)
        except Exception as exc:  # noqa: BLE001 - any parse error is the file's fault
            raise _bad(path, f"cannot parse the answer file: {exc}") from None
        rules = data.get("answer", data.get("answers")) if isinstance(data, dict) else data
        if not isinstance(rules, list):
            raise _bad(path, "expected a list of answers (`[[answer]]` tables in TOML, "
                       "`answers: [...]` in YAML/JSON)")
        record = data.get("record") if isinstance(data, dict) else None
        if record is not None and not isinstance(record, str):
            raise _bad(path, f"`record` must be a file name (a string), got {shown(record)}")
        if record:
            record = os.path.join(os.path.dirname(os.path.abspath(path)), record)
        return cls(rules, source=path, record=record, **kw)

    async def execute_step(self, spec: StepSpec, events=None) -> StepOutcome:
        self.calls.append(spec.task_id)
        rule = next((r for r in self.rules if r.matches(spec)), None)
        if rule is None:
            return StepOutcome.failed(
                spec.task_id, spec.agent, f"no scripted answer in {self.source} for step "
                f"`{spec.task_id}` (agent `{spec.agent}`); add an answer with "
                f"node = \"{(spec.metadata or {}).get('node') or spec.task_id}\"")
        index = min(rule.used, len(rule.outputs) - 1)
        rule.used += 1
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.fail:
            return StepOutcome.failed(spec.task_id, spec.agent, str(rule.fail),
                                      "transient" if rule.transient else "error")
        if self.record:
            with open(self.record, "a", encoding="utf-8") as f:
                f.write(spec.task_id + "\n")
        output = rule.outputs[index]
        structured = rule.structured
        if not isinstance(output, str):
            structured, output = output, json.dumps(output)
        return StepOutcome(task_id=spec.task_id, session_id=f"scripted-{spec.task_id}",
                           agent=spec.agent, output=output, success=True, structured=structured,
                           usage=rule.usage)
