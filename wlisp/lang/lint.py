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
LITERAL_LABELS = {"case", "classify"}


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
            return
        if isinstance(x, Vector):
            self.body(x, bound)
            return
        if isinstance(x, Map):
            self.body(list(x.keys()) + list(x.values()), bound)
            return
        if not isinstance(x, List) or not x:
            return
        head = x[0]
        name = head.name if isinstance(head, Symbol) else None
        if name in ("quote", "defmacro"):
            return
        if name == "quasiquote":
            self.unquoted(x[1] if len(x) > 1 else None, bound)
            return
        if name is not None and not self.known(name, bound):
            self.unknown(head, bound)
            return
        value = self.env.find(name).get(name) if name and name not in bound and \
            self.env.find(name) is not None else None
        if isinstance(value, Macro):
            return
        if name in ("fn", "defn"):
            i = 1 if name == "fn" else (3 if len(x) > 3 and isinstance(x[2], str) else 2)
            if i < len(x) and isinstance(x[i], Vector):
                self.body(x[i + 1:], bound | _names(x[i]))
            return
        if name == "let" and len(x) > 1 and isinstance(x[1], Vector):
            inner = set(bound)
            pairs = list(x[1])
            for k in range(0, len(pairs) - 1, 2):
                self.walk(pairs[k + 1], inner)
                inner |= _names(pairs[k])
            self.body(x[2:], inner)
            return
        if name == "loop" and len(x) > 1 and isinstance(x[1], Vector) and x[1]:
            if len(x[1]) > 1:
                self.walk(x[1][1], bound)
            self.args(x[2:], bound | _names(x[1][0]))
            return
        if name == "spawn" and len(x) > 1 and isinstance(x[1], Symbol) and \
                not self.known(x[1].name, bound):
            self.unknown(x[1], bound, agent=True)
            self.args(x[2:], bound)
            return
        if name in LITERAL_LABELS:
            self.walk(x[1] if len(x) > 1 else None, bound)
            for item in x[2:]:
                if isinstance(item, List) and name == "classify":
                    self.body(item[1:], bound)
            if name == "case":
                self.body([e for k, e in zip(x[2::2], x[3::2], strict=False)], bound)
            return
        if name == "fmt":
            return  # holes are checked when the function is called
        self.args(x[1:] if name else x, bound)

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


__all__ = ["lint_module"]
