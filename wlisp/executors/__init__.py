"""Executors: where agent steps actually run, behind one protocol (SPEC §6, §8).

`mock` and `scripted` are offline and deterministic; `command`, `openai` and
`ray` come with the executor milestones. An executor is any object with
`concurrency_hint` and `async execute_step(spec, events) -> StepOutcome`.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import Diagnostic, WlispError, did_you_mean
from ..runtime.events import EventSink
from ..runtime.types import StepOutcome, StepSpec

BUILTIN = ("mock", "scripted")


class Executor(Protocol):
    concurrency_hint: int

    async def execute_step(self, spec: StepSpec,
                           events: EventSink | None = None) -> StepOutcome: ...


def make_executor(name: str, *, answers: str | None = None, **options):
    """Build a built-in executor by name (the CLI's `--executor`)."""
    if name == "mock":
        from .mock import MockExecutor

        return MockExecutor(**options)
    if name == "scripted":
        from .scripted import ScriptedExecutor

        if not answers:
            raise WlispError(Diagnostic("W0701", "the scripted executor needs an answer file "
                                        "(--answers FILE)"))
        return ScriptedExecutor.from_file(answers, **options)
    raise WlispError(Diagnostic("W0701", f"unknown executor `{name}`"
                                + did_you_mean(name, BUILTIN)
                                + f"; available: {', '.join(BUILTIN)}"))
