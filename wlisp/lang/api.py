"""Front-door functions of the language core: compile source, check it, load specs."""

from __future__ import annotations

import os
import sys

from ..errors import Diagnostic, Sources, WlispError, did_you_mean
from ..ir.spec import WorkflowSpec
from ..ir.spec import no_gc as _no_gc
from .compiler import compile_workflow
from .evaluator import Evaluator
from .language import LANGUAGE
from .lint import lint_module

# The evaluator recurses on nesting; deeply nested source must become a W0405
# diagnostic (RecursionError is caught below), not a crash of the interpreter.
if sys.getrecursionlimit() < 12000:
    sys.setrecursionlimit(12000)


def new_evaluator(sources: Sources | None = None) -> Evaluator:
    """An evaluator of the whole language (the REPL keeps one across inputs)."""
    return Evaluator(LANGUAGE, sources)


def _evaluate(text: str, filename: str, sources: Sources | None = None):
    with _no_gc():
        return _evaluate_now(text, filename, sources)


def _evaluate_now(text: str, filename: str, sources: Sources | None = None):
    comp = new_evaluator(sources)
    env = comp.new_module()
    try:
        forms = comp.eval_toplevel(text, filename, env)
        seen = {(d.code, d.span) for d in comp.diagnostics}
        for d in lint_module(forms, env, comp.forms):  # helpers no workflow calls (yet)
            if (d.code, d.span) not in seen:
                comp.diagnostics.append(d)
    except RecursionError:
        comp.diagnostics.append(Diagnostic("W0405", "forms are nested too deeply to compile"))
    return comp, env


def pick_workflow(comp, name: str | None, filename: str):
    workflows = comp.workflows
    if name is not None:
        if name not in workflows:
            raise WlispError(Diagnostic("W0208", f"no workflow `{name}` in {filename}"
                                        + did_you_mean(name, workflows)
                                        + (f"; it defines: {', '.join(workflows)}"
                                           if workflows else "")))
        return workflows[name]
    if "main" in workflows:
        return workflows["main"]
    if len(workflows) == 1:
        return next(iter(workflows.values()))
    if not workflows:
        raise WlispError(Diagnostic("W0504", f"{filename} defines no workflow "
                                    "(add a `defworkflow`)"))
    raise WlispError(Diagnostic("W0701", f"{filename} defines several workflows "
                                f"({', '.join(workflows)}) and none is `main`; pick one "
                                "with --workflow"))


def compile(text: str, filename: str = "<input>", workflow: str | None = None,
            sources: Sources | None = None) -> WorkflowSpec:
    """Compile wlisp source to a WorkflowSpec. Raises WlispError with every diagnostic."""
    comp, _ = _evaluate(text, filename, sources)
    if comp.diagnostics:
        raise WlispError(unique(comp.diagnostics))
    wf = pick_workflow(comp, workflow, filename)
    try:
        with _no_gc():
            spec = compile_workflow(comp, wf)
    except RecursionError:
        raise WlispError(Diagnostic("W0405", "forms are nested too deeply to compile",
                                    wf.span)) from None
    if comp.diagnostics:
        raise WlispError(unique(comp.diagnostics))
    return spec


def unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per mistake: a helper called from three places reports the error
    in its body once (the same code at the same place), saying how many calls had it."""
    first: dict = {}
    repeats: dict = {}
    for d in diagnostics:
        key = (d.code, d.span) if d.span is not None else (d.code, d.message)
        if key in first:
            repeats[key] = repeats.get(key, 0) + 1
        else:
            first[key] = d
    for key, n in repeats.items():
        first[key].notes.append((f"reported once; {n + 1} calls of this code have it", None))
    return list(first.values())


def read_source(path: str) -> str:
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: skip a byte order mark
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise WlispError(Diagnostic("W0505", f"cannot read `{path}`: "
                                    f"{getattr(exc, 'strerror', None) or exc}")) from None


def compile_file(path: str | os.PathLike, workflow: str | None = None,
                 sources: Sources | None = None) -> WorkflowSpec:
    path = os.fspath(path)
    return compile(read_source(path), path, workflow, sources)


def compile_every(path: str, sources: Sources | None = None) -> list[WorkflowSpec]:
    """Every workflow a file defines, compiled (`check --config` routes all of them)."""
    comp, _ = _evaluate(read_source(path), path, sources)
    specs = [compile_workflow(comp, wf) for wf in list(comp.workflows.values())]
    if comp.diagnostics:
        raise WlispError(unique(comp.diagnostics))
    return specs


def check(text: str, filename: str = "<input>", sources: Sources | None = None
          ) -> list[Diagnostic]:
    """Every diagnostic of a file: its top-level forms and each of its workflows."""
    comp, _ = _evaluate(text, filename, sources)
    for wf in list(comp.workflows.values()):
        try:
            compile_workflow(comp, wf)
        except WlispError as err:
            comp.diagnostics.extend(err.diagnostics)
        except RecursionError:
            comp.diagnostics.append(Diagnostic("W0405", "forms are nested too deeply to "
                                               "compile", wf.span))
    return unique(comp.diagnostics)


def check_files(paths, sources: Sources | None = None) -> list[Diagnostic]:
    """Every diagnostic of several files; a `.json` file is checked as a WorkflowSpec."""
    found: list[Diagnostic] = []
    for path in paths:
        try:
            if path.endswith(".json"):
                WorkflowSpec.from_json(read_source(path))
            else:
                found += check(read_source(path), path, sources)
        except WlispError as err:
            found += err.diagnostics
    return found
