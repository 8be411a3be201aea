"""Editing support for the REPL that needs no terminal: completeness, indentation, completion.

Everything here works on plain text with the scanner of `lang/syntax.py`
(not the parser), because it runs on every key press over *unfinished* input:
a half-typed form is the normal case, not an error. The scanner knows strings,
triple-quoted strings, comments and quote prefixes, so a `(` inside
`"a (quote"` or `; (comment` never keeps the REPL waiting for a `)`.

The prompt-toolkit glue lives in `repl.py`; this module imports nothing from
it, so it is cheap to test and reusable by other front ends.
"""

from __future__ import annotations

import re

from ..ir.vocabulary import CONTEXT, ISOLATION, ROLES, TOURNAMENT_FORMATS, TRUST
from ..lang.syntax import ATOM_PATTERN, scan
from ..lang.types import TYPE_NAMES

_TOKEN_END = re.compile(f"(?:{ATOM_PATTERN})?\\Z")
_COMMAND = re.compile(r"\s*(:(\S*))")

# REPL commands: name -> (argument, what it does). `repl.py` dispatches on these.
COMMANDS = {
    "help": ("", "show this help"),
    "spec": ("EXPR", "show the compiled WorkflowSpec of EXPR as JSON (nothing runs)"),
    "graph": ("EXPR", "show the node graph of EXPR as Mermaid (nothing runs)"),
    "expand": ("FORM", "show what the macros in FORM's head expand it to (macroexpand)"),
    "load": ("FILE", "evaluate the definitions (and expressions) of a .wl file"),
    "executor": ("[NAME [ANSWERS]]", "show or switch the executor (a wlisp.toml profile, mock, scripted)"),
    "reset": ("", "forget every definition"),
    "quit": ("", "leave the REPL (Ctrl-D does too)"),
}
# Commands whose argument is wlisp code: the input is complete only when it is.
CODE_COMMANDS = {"spec", "graph", "expand"}

# Forms whose body is indented by two spaces rather than aligned with the first argument.
BODY_FORMS = {"fn", "let", "loop", "do", "in-order", "when", "try", "classify", "case", "cond",
              "parallel", "pipeline", "tournament", "import"}

# Values of options that take one of a few keywords.
OPTION_VALUES = {"role": tuple(ROLES), "isolation": ISOLATION, "context": CONTEXT,
                 "trust": TRUST, "format": TOURNAMENT_FORMATS}


def is_complete(text: str) -> bool:
    """True when `text` is ready to evaluate: every bracket and string is closed.

    Blank input and input with a stray closer count as complete — there is
    nothing to wait for, and the reader will explain a stray closer.
    """
    s = scan(text)
    if s.stray:
        return True
    return not (s.frames or s.in_string or s.dangling_prefix)


def command_of(text: str) -> tuple[str, str] | None:
    """(name, argument) when `text` is a REPL command, i.e. starts with `:`.

    The argument is `text` with the `:name` blanked out by spaces, so code in it
    keeps its line and column for diagnostics.
    """
    m = _COMMAND.match(text)
    if m is None:
        return None
    return m.group(2), text[: m.start(1)] + " " * (m.end(1) - m.start(1)) + text[m.end(1):]


def submit_ready(text: str) -> bool:
    """Whether the REPL should evaluate `text` now (a command, or complete forms)."""
    cmd = command_of(text)
    if cmd is not None and cmd[0] not in CODE_COMMANDS:
        return True
    return is_complete(text)


def indent_for(text_before: str) -> int:
    """Column for a new line typed after `text_before` (Lisp style).

    Inside `[` or `{`: one past the opener. Inside `(`: two past it for
    definitions and body forms; aligned with the first argument when it is on
    the opener's line (`(spawn reviewer` → under `reviewer`); otherwise two
    past. Inside a multi-line string the previous line's indentation is kept.
    """
    s = scan(text_before)
    if s.in_string:
        last = text_before.rsplit("\n", 1)[-1]
        return len(last) - len(last.lstrip(" "))
    if not s.frames:
        return 0
    f = s.frames[-1]
    if f.opener != "(":
        return f.col + 1
    if f.head is None:
        return f.col + 1
    if f.head.startswith("def") or f.head in BODY_FORMS or f.arg_col is None:
        return f.col + 2
    return f.arg_col


# --- completion -----------------------------------------------------------------------


def names_in(env) -> dict[str, str]:
    """Every name visible in `env` -> its kind (agent, schema, function, builtin, ...)."""
    out: dict[str, str] = {}
    while env is not None:
        for name, value in env.vars.items():
            out.setdefault(name, getattr(value, "type_name", "value"))
        env = env.parent
    return out


def special_forms() -> list[str]:
    from ..lang.language import LANGUAGE

    return LANGUAGE.special_forms


def form_options() -> dict[str, set[str]]:
    """Keyword options of every form that takes some."""
    from ..lang.language import LANGUAGE

    return LANGUAGE.options


def completions(text_before: str, names: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """What may replace the token being typed at the end of `text_before`.

    Returns (prefix, [(candidate, kind)...]) where `prefix` is the partial
    token the candidates replace. Knows the form being typed: `:` offers that
    form's keyword options (or the values of `:role`, `:trust`...), the agent
    argument of `spawn` offers agents, `:returns` offers schemas, the head of a
    list offers special forms and callables, any other place offers names.
    Inside strings and comments there is nothing to offer.
    """
    prefix = _TOKEN_END.search(text_before).group(0)
    before = text_before[: len(text_before) - len(prefix)]
    s = scan(before)
    if s.in_string or s.in_comment or s.stray:
        return prefix, []
    if not s.frames:
        if prefix.startswith(":") and not before.strip():
            return prefix, _match(prefix, [(":" + c, "command") for c in COMMANDS])
        return prefix, _match(prefix, _all_names(names, head=False))
    f = s.frames[-1]
    opt_key = f.prev[1:] if f.prev and f.prev.startswith(":") else None
    if opt_key in OPTION_VALUES:
        return prefix, _match(prefix, [(":" + v, opt_key) for v in OPTION_VALUES[opt_key]])
    in_schema = any(fr.head == "defschema" and fr.items >= 2 for fr in s.frames)
    if opt_key == "returns" or (in_schema and not prefix.startswith(":")):
        return prefix, _match(prefix, _of_kind(names, "schema") + [(t, "type") for t in TYPE_NAMES])
    if prefix.startswith(":"):
        opts = form_options().get(f.head or "", set())
        return prefix, _match(prefix, [(":" + o, f"option of {f.head}") for o in sorted(opts)])
    if "." in prefix:
        return prefix, []
    if f.opener == "(" and f.items == 0:
        return prefix, _match(prefix, _all_names(names, head=True))
    if f.head == "spawn" and f.items == 1:
        return prefix, _match(prefix, _of_kind(names, "agent"))
    return prefix, _match(prefix, _all_names(names, head=False))


def _of_kind(names: dict[str, str], kind: str) -> list[tuple[str, str]]:
    return [(n, k) for n, k in sorted(names.items()) if k == kind]


def _all_names(names: dict[str, str], head: bool) -> list[tuple[str, str]]:
    """Special forms first at a list's head (where they mean something), then names."""
    out = [(n, "special form") for n in special_forms()] if head else []
    callable_kinds = {"function", "macro", "workflow", "builtin"}
    for n, k in sorted(names.items()):
        if not head or k in callable_kinds:
            out.append((n, k))
    return out


def _match(prefix: str, candidates: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for name, kind in candidates:
        if name.startswith(prefix) and name not in seen:
            seen.add(name)
            out.append((name, kind))
    return out
