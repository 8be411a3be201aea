"""wlisp: an embedded Lisp for orchestrating LLM agents (public API, SPEC §6).

Names load on first use, so `wlisp --help` stays fast.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "compile": ("wlisp.lang.api", "compile"),
    "compile_file": ("wlisp.lang.api", "compile_file"),
    "check": ("wlisp.lang.api", "check"),
    "WorkflowSpec": ("wlisp.ir.spec", "WorkflowSpec"),
    "run": ("wlisp.runtime", "run"),
    "run_async": ("wlisp.runtime", "run_async"),
    "resume": ("wlisp.runtime", "resume"),
    "resume_async": ("wlisp.runtime", "resume_async"),
    "RunResult": ("wlisp.runtime", "RunResult"),
    "StepSpec": ("wlisp.contract", "StepSpec"),
    "StepOutcome": ("wlisp.contract", "StepOutcome"),
    "TransientError": ("wlisp.contract", "TransientError"),
    "Event": ("wlisp.contract", "Event"),
    "EventSink": ("wlisp.contract", "EventSink"),
    "EventList": ("wlisp.contract", "EventList"),
    "Executor": ("wlisp.contract", "Executor"),
    "make_executor": ("wlisp.executors", "make_executor"),
    "MockExecutor": ("wlisp.executors.mock", "MockExecutor"),
    "ScriptedExecutor": ("wlisp.executors.scripted", "ScriptedExecutor"),
    "WlispError": ("wlisp.errors", "WlispError"),
    "Diagnostic": ("wlisp.errors", "Diagnostic"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'wlisp' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
