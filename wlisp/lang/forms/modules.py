"""`import`: files beside the importing one (never outside its directory tree) and
standard-library modules; each module is evaluated once per compilation. And
`include-text`: a text file from the same tree (a prompt kept in a file), read
once at compile time, so its content is part of the spec and of each step's hash."""

from __future__ import annotations

import os
import re
from importlib import resources

from ...errors import did_you_mean
from ...values import builtins as B
from ...values.datum import Keyword, List, Symbol, Vector
from ..evaluator import Evaluator
from ..options import parse_options
from ..values import Env

IMPORT_OPTIONS = {"only", "as"}
STDLIB_NAME = re.compile(r"[a-z][a-z0-9-]{0,63}")


def _import(ev: Evaluator, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`import` takes a file name or a module name", form.span)
    target = form[1]
    opts = parse_options(ev, form, 2, IMPORT_OPTIONS, "import")
    if isinstance(target, str):
        path, label = resolve_import(ev, target, form)
        key = os.path.realpath(path)
        loader = lambda: open(path, encoding="utf-8-sig").read()  # noqa: E731
    elif isinstance(target, Symbol):
        name = target.name
        if not STDLIB_NAME.fullmatch(name):
            raise ev.error("W0501", f"`{name[:80]}` is not a standard library module name "
                           "(plain names such as `patterns`); import a file by its path in "
                           "a string: (import \"lib/helpers.wl\")", target.span)
        res = resources.files("wlisp.stdlib").joinpath(f"{name}.wl")
        if not res.is_file():
            mods = [p.name[:-3] for p in resources.files("wlisp.stdlib").iterdir()
                    if p.name.endswith(".wl")]
            raise ev.error("W0501", f"no standard library module `{name}`"
                             + did_you_mean(name, mods), target.span)
        key = label = f"<stdlib>/{name}.wl"
        loader = res.read_text
    else:
        raise ev.error("W0303", "`import` takes a string path or a module name",
                         form.span_at(1))
    module = load_module(ev, key, label, loader, form.span_at(1))
    exported = {k: v for k, v in module.vars.items()}
    only = opts.get("only")
    if only is not None:
        if not isinstance(only[0], Vector):
            raise ev.error("W0303", "`:only` takes a vector of names", only[1])
        picked = {}
        for sym in only[0]:
            name = sym.name if isinstance(sym, Symbol) else str(sym)
            if name not in exported:
                raise ev.error("W0201", f"`{name}` is not defined in {label}"
                                 + did_you_mean(name, exported), getattr(sym, "span", None)
                                 or only[1])
            picked[name] = exported[name]
        exported = picked
    prefix = ""
    if "as" in opts:
        alias = opts["as"][0]
        if not isinstance(alias, Symbol):
            raise ev.error("W0303", "`:as` takes a name", opts["as"][1])
        prefix = alias.name + "/"
    target_env = env.module_env()
    for k, v in exported.items():
        target_env.vars[prefix + k] = v
    return None


def resolve_import(ev: Evaluator, name: str, form: List, what: str = "import"):
    """The file `name` (a path relative to the importing file) names, inside the
    importing file's directory tree; anything else is a diagnostic."""
    if "\0" in name:
        raise ev.error("W0501", "a file name cannot contain a NUL character", form.span_at(1))
    try:
        return _resolve(ev, name, form, what)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ev.error("W0501", f"cannot {what} `{name[:80]}`: {reason}",
                       form.span_at(1)) from None


def _resolve(ev: Evaluator, name: str, form: List, what: str):
    here = form.span.file if form.span else "<input>"
    base = os.path.dirname(os.path.abspath(here)) if not here.startswith("<") else os.getcwd()
    path = os.path.normpath(os.path.join(base, name))
    real_base, real = os.path.realpath(base), os.path.realpath(path)
    if os.path.commonpath([real_base, real]) != real_base:
        raise ev.error("W0502", f"`{name}` is outside the importing file's directory "
                         f"tree ({base}); `{what}` may only reach files beside or below it",
                         form.span_at(1))
    if not os.path.isfile(path):
        raise ev.error("W0501", f"cannot {what} `{name}`: no such file", form.span_at(1))
    label = os.path.relpath(path) if not os.path.isabs(here) else path
    return path, label


def load_module(ev: Evaluator, key, label, loader, span) -> Env:
    if key in ev.modules:
        return ev.modules[key]
    if key in ev.loading:
        raise ev.error("W0503", f"import cycle: {' -> '.join(ev.loading + [key])}", span)
    try:
        text = loader()
    except (OSError, UnicodeDecodeError) as exc:
        raise ev.error("W0501", f"cannot read `{label}`: {exc}", span) from None
    env = ev.new_module()
    ev.loading.append(key)
    before = len(ev.diagnostics)
    try:
        ev.eval_toplevel(text, label, env)
    finally:
        ev.loading.pop()
    if len(ev.diagnostics) > before:
        for d in ev.diagnostics[before:]:
            d.notes.append(("while importing this module", span))
    ev.modules[key] = env
    return env


def _include_text(ev: Evaluator, form: List, env: Env):
    """`(include-text "prompts/review.md")`: the file's text, from the workflow's tree."""
    if len(form) != 2:
        raise ev.error("W0301", "`include-text` takes one file name", form.span)
    name = ev.static(form[1], env, form.span_at(1), "the file name")
    if not isinstance(name, str) or isinstance(name, Keyword) or not name:
        raise ev.error("W0303", "`include-text` takes a file name (a string)", form.span_at(1))
    if os.path.isabs(name):
        raise ev.error("W0502", f"`{name[:80]}` is an absolute path; `include-text` reads "
                       "only files beside or below the workflow's file", form.span_at(1))
    path, _label = resolve_import(ev, name, form, "include-text")
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read(B.MAX_TEXT + 1)
    except (OSError, UnicodeDecodeError) as exc:
        raise ev.error("W0505", f"cannot read `{name[:80]}`: {exc}", form.span_at(1)) from None
    if len(text) > B.MAX_TEXT:
        raise ev.error("W0505", f"`{name[:80]}` is longer than {B.MAX_TEXT} characters",
                       form.span_at(1))
    return text


FORMS = {"import": _import, "include-text": _include_text}
