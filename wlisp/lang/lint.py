"""Names in function bodies that nothing defines — found even when no workflow calls
the function (a typo in a helper should not wait for its first caller).

A conservative walk over each top-level `defn` body of a file: it tracks the
names that parameters, `let`, `loop` and `fn` bind, skips quoted data, type
expressions (`:returns`, which use type names) and macro calls (whose
arguments are syntax), and reports a symbol that resolves nowhere.
"""

from __future__ import annotations

from ..errors import Diagnostic, did_you_mean
from ..values.datum import Keyword, List, Map, Symbol, Vector
from .values import Agent, Env, Macro

TYPE_OPTIONS = {"returns", "params"}


def lint_module(forms, env: Env, special_forms) -> list[Diagnostic]:
    """Diagnostics for unknown names in the `defn` bodies of one file's forms."""
    out: list[Diagnostic] = []
    for form in forms:
        if isinstance(form, List) and len(form) > 2 and form[0] == Symbol("defn") \
                and isinstance(form[1], Symbol):
            i = 3 if len(form) > 3 and isinstance(form[2], str) else 2
            if i < len(form) and isinstance(form[i], Vector):
                _Walker(env, out, special_forms).body(form[i + 1:], _names(form[i]))
    return out


def _names(pattern) -> set[str]:
    if isinstance(pattern, Symbol):
        return {pattern.name}
    if isinstance(pattern, Vector):
        return set().union(*(_names(p) for p in pattern)) if pattern else set()
    return set()


class _Walker:
    def __init__(self, env: Env, out: list, special_forms):
        self.env, self.out, self.special = env, out, special_forms

    def known(self, name: str, bound: set[str]) -> bool:
        head = name.split(".")[0] if "." in name and name not in self.special else name
        return head in bound or head in self.special or self.env.find(head) is not None or \
            self.env.find(name) is not None or name in ("&", "_")

    def body(self, forms, bound: set[str]) -> None:
        for f in forms:
            self.walk(f, bound)

    def walk(self, x, bound: set[str]) -> None:
        if isinstance(x, Symbol):
            if not self.known(x.name, bound):
                self.unknown(x, bound)
        elif isinstance(x, Vector):
            self.body(x, bound)
        elif isinstance(x, Map):
            self.body(list(x.keys()) + list(x.values()), bound)
        elif isinstance(x, List) and x:
            head = x[0]
            name = head.name if isinstance(head, Symbol) else None
            form = _FORMS.get(name)
            if form is not None:
                form(self, x, bound)
            elif name is not None and not self.known(name, bound):
                self.unknown(head, bound)
            elif not (name and name not in bound and isinstance(self.env.get(name), Macro)):
                self.args(x[1:] if name else x, bound)  # a macro's arguments are syntax

    def _skip(self, x, bound) -> None:
        """Quoted data, macro definitions, `fmt` (its holes are checked when called)."""

    def _quasiquote(self, x, bound) -> None:
        self.unquoted(x[1] if len(x) > 1 else None, bound)

    def _fn(self, x, bound) -> None:
        i = 1 if x[0].name == "fn" else (3 if len(x) > 3 and isinstance(x[2], str) else 2)
        if i < len(x) and isinstance(x[i], Vector):
            self.body(x[i + 1:], bound | _names(x[i]))

    def _let(self, x, bound) -> None:
        if len(x) < 2 or not isinstance(x[1], Vector):
            return self.args(x[1:], bound)
        inner = set(bound)
        pairs = list(x[1])
        for k in range(0, len(pairs) - 1, 2):
            self.walk(pairs[k + 1], inner)
            inner |= _names(pairs[k])
        self.body(x[2:], inner)

    def _loop(self, x, bound) -> None:
        if len(x) < 2 or not isinstance(x[1], Vector) or not x[1]:
            return self.args(x[1:], bound)
        if len(x[1]) > 1:
            self.walk(x[1][1], bound)
        self.args(x[2:], bound | _names(x[1][0]))

    def _spawn(self, x, bound) -> None:
        if len(x) > 1 and isinstance(x[1], Symbol) and not self.known(x[1].name, bound):
            self.unknown(x[1], bound, agent=True)
            return self.args(x[2:], bound)
        self.args(x[1:], bound)

    def _labelled(self, x, bound) -> None:
        """`case` and `classify`: labels are literals, not names."""
        self.walk(x[1] if len(x) > 1 else None, bound)
        if x[0].name == "classify":
            for item in x[2:]:
                if isinstance(item, List):
                    self.body(item[1:], bound)
        else:
            self.body([e for k, e in zip(x[2::2], x[3::2], strict=False)], bound)

    def args(self, items, bound) -> None:
        skip = False
        for item in items:
            if skip:
                skip = False
                continue
            if isinstance(item, Keyword):
                skip = str.__str__(item) in TYPE_OPTIONS
                continue
            self.walk(item, bound)

    def unquoted(self, x, bound) -> None:
        if isinstance(x, List) and x and x[0] in (Symbol("unquote"),
                                                  Symbol("unquote-splicing")):
            self.walk(x[1] if len(x) > 1 else None, bound)
        elif isinstance(x, (List, Vector)):
            for i in x:
                self.unquoted(i, bound)

    def unknown(self, sym: Symbol, bound, agent: bool = False) -> None:
        names = set(bound)
        e = self.env
        while e is not None:
            names.update(e.vars)
            e = e.parent
        head = sym.name.split(".")[0]
        if agent:
            agents = [k for k, v in self.env.vars.items() if isinstance(v, Agent)]
            message = f"unknown agent `{sym.name}`" + did_you_mean(sym.name, agents)
            self.out.append(Diagnostic("W0203", message, sym.span))
            return
        self.out.append(Diagnostic("W0201", f"unknown name `{head}`"
                                   + (did_you_mean(head, names, 0.7)
                                      or did_you_mean(head, self.special, 0.75)), sym.span))


_FORMS = {"quote": _Walker._skip, "defmacro": _Walker._skip, "fmt": _Walker._skip,
          "quasiquote": _Walker._quasiquote, "fn": _Walker._fn, "defn": _Walker._fn,
          "let": _Walker._let, "loop": _Walker._loop, "spawn": _Walker._spawn,
          "case": _Walker._labelled, "classify": _Walker._labelled}
