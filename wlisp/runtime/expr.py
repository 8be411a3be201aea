"""Residual expressions: JSON (see `validate.py`) compiled once into closures.

The closures take a `Scope` (the values of nodes, variables and inputs visible
where the expression runs) and apply the same builtins the compiler uses, so a
value computed at run time is the value compile time would have computed.
"""

from __future__ import annotations

from ..values import builtins as B
from ..values import library as L


class ExprError(Exception):
    """A residual expression failed at run time (wrong type, bad index...)."""


class Scope:
    """Values visible to one graph instance; lookups fall back to the parent."""

    __slots__ = ("values", "parent")

    def __init__(self, parent: Scope | None = None, values: dict | None = None):
        self.values = values if values is not None else {}
        self.parent = parent

    def lookup(self, key):
        s = self
        while s is not None:
            v = s.values.get(key, _MISSING)
            if v is not _MISSING:
                return v
            s = s.parent
        raise ExprError(f"no value for {describe_key(key)}")

    def child(self, values: dict | None = None) -> Scope:
        return Scope(self, values)


_MISSING = object()


def var_key(scope_id: str, name: str) -> str:
    return f"{scope_id}\x00{name}"


def input_key(name: str) -> str:
    return f"\x01{name}"


def info_key(node_id: str) -> str:
    return f"\x02{node_id}"


def describe_key(key: str) -> str:
    if key.startswith("\x01"):
        return f"input `{key[1:]}`"
    if key.startswith("\x02"):
        return f"info of `{key[1:]}`"
    if "\x00" in key:
        return f"variable `{key.split(chr(0), 1)[1]}`"
    return f"node `{key}`"


class Lambda:
    """A residual `fn` closed over the scope it was evaluated in."""

    __slots__ = ("keys", "body", "scope")
    type_name = "function"

    def __init__(self, keys, body, scope):
        self.keys, self.body, self.scope = keys, body, scope

    def __call__(self, args):
        if len(args) != len(self.keys):
            raise ExprError(f"function takes {len(self.keys)} arguments, got {len(args)}")
        return self.body(Scope(self.scope, dict(zip(self.keys, args, strict=True))))


def call_function(f, args):
    if isinstance(f, Lambda):
        return f(list(args))
    raise B.BuiltinError(f"expected a function, got {B.type_name(f)}")


def compile_expr(e):
    """Compile one expression to `fn(scope) -> value`."""
    if not isinstance(e, dict):
        if isinstance(e, list):
            raise ExprError("a bare JSON array is not an expression")
        return lambda scope, v=e: v
    if "ref" in e:
        key = e["ref"]
        return lambda scope: scope.lookup(key)
    if "var" in e:
        key = var_key(e.get("in", ""), e["var"])
        return lambda scope: scope.lookup(key)
    if "input" in e:
        key = input_key(e["input"])
        return lambda scope: scope.lookup(key)
    if "call" in e:
        raw = e.get("args", [])
        return _compile_call(e["call"], [compile_expr(a) for a in raw], raw)
    if "get" in e:
        target, path = compile_expr(e["get"]), list(e["path"])
        get = B.get

        def getter(scope):
            value = target(scope)
            for key in path:
                if value is None:
                    return None
                try:
                    value = get(value, key)
                except B.BuiltinError as exc:
                    raise ExprError(f"cannot read `.{key}`: {exc}") from None
            return value
        return getter
    if "lit" in e:
        return lambda scope, v=e["lit"]: v
    if "vec" in e:
        items = [compile_expr(x) for x in e["vec"]]
        return lambda scope: [f(scope) for f in items]
    if "map" in e:
        pairs = [(k, compile_expr(v)) for k, v in e["map"]]
        return lambda scope: {k: f(scope) for k, f in pairs}
    if "fn" in e:
        fn = e["fn"]
        keys = [var_key(fn.get("in", ""), p) for p in fn.get("params", [])]
        body = compile_expr(fn.get("body"))
        return lambda scope: Lambda(keys, body, scope)
    if "if" in e:
        c, a, b = (compile_expr(x) for x in e["if"])
        truthy = B.truthy
        return lambda scope: a(scope) if truthy(c(scope)) else b(scope)
    if "and" in e or "or" in e:
        is_and = "and" in e
        parts = [compile_expr(x) for x in e["and" if is_and else "or"]]
        truthy = B.truthy

        def logic(scope):
            value = is_and
            for f in parts:
                value = f(scope)
                if truthy(value) != is_and:
                    return value
            return value
        return logic
    if "info" in e:
        key = info_key(e["info"])
        return lambda scope: scope.lookup(key)
    raise ExprError(f"unknown expression {sorted(e)}")


def _compile_str(raw_args, args):
    """`str` (every fmt prompt): constant text stays text, the rest is rendered."""
    render = B.render
    parts = [a if isinstance(a, str) else None for a in raw_args]
    if len(parts) == 2 and parts[0] is not None and parts[1] is None:
        text, f = parts[0], args[1]

        def prefixed(scope):
            try:
                return text + render(f(scope))
            except B.BuiltinError as exc:  # a value with no text form (a function)
                raise ExprError(f"`str`: {exc}") from None
        return prefixed
    pairs = list(zip(parts, args, strict=True))

    def joined(scope):
        try:
            return "".join(p if p is not None else render(f(scope)) for p, f in pairs)
        except B.BuiltinError as exc:
            raise ExprError(f"`str`: {exc}") from None
    return joined


def _compile_call(name: str, args, raw_args=()):
    if name == "str" and raw_args:
        return _compile_str(raw_args, args)
    if name not in L.BUILTINS:
        raise ExprError(f"unknown builtin `{name}`")
    fn, lo, hi = L.BUILTINS[name]
    if len(args) < lo or (hi is not None and len(args) > hi):
        raise ExprError(f"`{name}` takes {lo}..{hi} arguments, got {len(args)}")
    higher = name in L.HIGHER_ORDER

    def call(scope):
        values = [a(scope) for a in args]
        try:
            if higher:
                return fn(*values, call=call_function)
            return fn(*values)
        except B.BuiltinError as exc:
            raise ExprError(str(exc)) from None
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
            raise ExprError(f"`{name}`: {exc}") from None
    return call
