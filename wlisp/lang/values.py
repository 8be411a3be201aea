"""The values of the compile-time language beyond plain data (SPEC §3):
environments, functions, macros, agents, tools, and runtime references.

A `Ref` stands for a value known only at run time: a residual expression
(`ir/expr.py`) over node values, with the node ids it reads. Builtins applied
to Refs build larger Refs instead of computing.
"""

from __future__ import annotations

from ..errors import Span
from ..values.datum import List, Map, Symbol, Vector

OUTCOME_FIELDS = ("output", "structured", "success", "agent", "task-id", "session-id",
                  "usage", "error", "finish-reason")


class Env:
    """A scope: names to values, falling back to the enclosing scope."""

    __slots__ = ("vars", "parent", "module")

    def __init__(self, parent: Env | None = None, module: bool = False):
        self.vars: dict = {}
        self.parent = parent
        self.module = module

    def find(self, name: str):
        env = self
        while env is not None:
            if name in env.vars:
                return env.vars
            env = env.parent
        return None

    def get(self, name: str, default=None):
        scope = self.find(name)
        return default if scope is None else scope[name]

    def module_env(self) -> Env:
        env = self
        while not env.module and env.parent is not None:
            env = env.parent
        return env

    def names(self) -> set[str]:
        out: set[str] = set()
        env = self
        while env is not None:
            out.update(env.vars)
            env = env.parent
        return out

    def all_of(self, cls) -> list[str]:
        """Names bound to values of `cls`, innermost first (for suggestions)."""
        names, env = [], self
        while env is not None:
            names += [k for k, v in env.vars.items() if isinstance(v, cls)]
            env = env.parent
        return names


class Builtin:
    type_name = "builtin"

    def __init__(self, name: str):
        self.name = name

    def pr_str(self) -> str:
        return f"#<builtin {self.name}>"


class Fn:
    """A function: one or more arities, each (params, body); `params`/`body` are the
    first (most code calls functions of one arity)."""

    type_name = "function"

    def __init__(self, name, params, body, env, span, arities=None):
        self.name, self.params, self.body, self.env, self.span = name, params, body, env, span
        self.arities = arities or [(params, body)]

    def arity_for(self, n: int):
        """The (params, body) a call with `n` arguments takes, or None."""
        fixed = [a for a in self.arities if Symbol("&") not in a[0] and len(a[0]) == n]
        if fixed:
            return fixed[0]
        for params, body in self.arities:
            if Symbol("&") in params and n >= list(params).index(Symbol("&")):
                return params, body
        return None

    def pr_str(self) -> str:
        return f"#<fn {self.name or 'anonymous'}>"


class Macro(Fn):
    type_name = "macro"

    def pr_str(self) -> str:
        return f"#<macro {self.name}>"


def is_function(f, arity: int | None = None) -> bool:
    """A function (not a macro), optionally of exactly `arity` parameters."""
    return isinstance(f, Fn) and not isinstance(f, Macro) and \
        (arity is None or f.arity_for(arity) is not None)


class Declared:
    """A named declaration whose checked options (`config`) go into the spec."""

    type_name = "declaration"

    def __init__(self, name: str, config: dict, span: Span | None):
        self.name, self.config, self.span = name, config, span

    def pr_str(self) -> str:
        return f"#<{self.type_name} {self.name}>"


class Agent(Declared):
    type_name = "agent"


class Tool(Declared):
    type_name = "tool"


class Poison:
    """Stands in for a value whose evaluation already reported an error, so one
    mistake is reported once and `wlisp check` can go on to find the next."""

    type_name = "error"

    def pr_str(self) -> str:
        return "#<error>"


POISON = Poison()


def holds_poison(v) -> bool:
    if v is POISON:
        return True
    if isinstance(v, (Vector, List)):
        return any(holds_poison(i) for i in v)
    if isinstance(v, Map):
        return any(holds_poison(i) for i in v.values())
    return False


class Ref:
    """A value known only at run time, as a residual expression over node values.

    `deps` are the node ids it reads; `kind`/`schema`/`node` describe what it
    points at (a step's outcome and its :returns schema, a loop, ...) so the
    compiler can check field names; `raw` is the span where raw output of a
    quarantined step entered it (for a caret at the use; `ir/taint.py` is the rule).
    """

    __slots__ = ("expr", "deps", "kind", "node", "schema", "raw", "raw_use")
    type_name = "runtime value"

    def __init__(self, expr, deps=frozenset(), kind="value", node=None, schema=None,
                 raw=None, raw_use=None):
        self.expr, self.deps, self.kind, self.node = expr, deps, kind, node
        self.schema, self.raw = schema, raw
        self.raw_use = raw_use

    def used_at(self, span) -> Ref:
        """A copy that remembers where raw quarantined output was referenced."""
        return Ref(self.expr, self.deps, self.kind, self.node, self.schema, self.raw,
                   self.raw_use or span)

    def pr_str(self) -> str:
        return f"#<runtime {self.node or self.kind}>"


def refs_in(x):
    """Refs inside a value (a vector of step outcomes, say)."""
    if isinstance(x, Ref):
        yield x
    elif isinstance(x, (Vector, List)):
        for i in x:
            if isinstance(i, (Ref, Vector, List, Map)):
                yield from refs_in(i)
    elif isinstance(x, Map):
        for v in x.values():
            yield from refs_in(v)


def has_ref(x) -> bool:
    return next(refs_in(x), None) is not None


def deps_of(x) -> frozenset:
    """The node ids a value reads at run time (none for a static value)."""
    if isinstance(x, Ref):
        return x.deps
    out: set = set()
    for r in refs_in(x):
        out |= r.deps
    return frozenset(out)


def merge_refs(expr, parts, kind="value") -> Ref:
    """A Ref for `expr` computed from the Refs `parts`: their deps and raw text."""
    deps, raw, raw_use = set(), None, None
    for r in parts:
        deps |= r.deps
        if raw is None and r.raw is not None:
            raw, raw_use = r.raw, r.raw_use
    return Ref(expr, frozenset(deps), kind, raw=raw, raw_use=raw_use)


def first_raw(value):
    """(raw span, use span) of the first raw quarantined output inside `value`."""
    for r in refs_in(value):
        if r.raw is not None:
            return r.raw, r.raw_use
    return None, None


class NotPure(Exception):
    """A step would be created while compiling a function to a residual expression
    (pure mode): the caller abandons that attempt or reports W0406."""

    def __init__(self, span):
        self.span = span
