"""Destructuring: the binding patterns of `let`, `fn` and `defn` parameters — a
name, a vector (`[a b & more]`) or a map (`{:keys [a] :or {a 1} :as m}`) — over
compile-time values and over run-time values (as residual expressions)."""

from __future__ import annotations

from ..values import builtins as B
from ..values.datum import Keyword, Map, Symbol, Vector
from .values import POISON, Env, Ref, merge_refs


def _split_rest(params: list):
    """`[a b & more]` -> ([a, b], more); without `&` -> (params, None)."""
    amp = Symbol("&")
    if amp not in params:
        return params, None
    i = params.index(amp)
    return params[:i], params[i + 1] if i + 1 < len(params) else None


def bind(ev, pattern, value, env: Env) -> None:
    """Bind a symbol or a vector destructuring pattern."""
    if isinstance(pattern, Symbol):
        if pattern.name != "_":
            env.vars[pattern.name] = value
        return
    if isinstance(pattern, Map):
        return bind_map(ev, pattern, value, env)
    if not isinstance(pattern, Vector):
        raise ev.error("W0302", "a binding name must be a symbol, a vector or a map "
                         "pattern", getattr(pattern, "span", None))
    names, rest = _split_rest(list(pattern))
    for i, p in enumerate(names):
        bind(ev, p, nth_of(ev, value, i, pattern), env)
    if rest is None:
        return
    if isinstance(value, Ref):
        tail = merge_refs({"call": "concat", "args": [
            {"call": "rest", "args": [value.expr]}]}, [value])
    else:
        tail = Vector(B.as_seq(value)[len(names):]) if value is not POISON else POISON
    bind(ev, rest, tail, env)


def bind_map(ev, pattern: Map, value, env: Env) -> None:
    """`{:keys [a b] :strs [c] :or {b 1} :as m, x :k}`: names from a map (an option
    map, a step's structured answer) by key, with defaults for missing keys."""
    defaults = pattern.get(Keyword("or"), Map())
    if not isinstance(defaults, Map):
        raise ev.error("W0302", "`:or` takes a map of defaults", pattern.span)
    pairs = []
    for k, v in pattern.items():
        if k in (Keyword("keys"), Keyword("strs")):
            if not isinstance(v, Vector) or not all(isinstance(s, Symbol) for s in v):
                raise ev.error("W0302", f"`{k}` takes a vector of names", pattern.span)
            pairs += [(s, Keyword(s.name) if k == "keys" else s.name) for s in v]
        elif k == Keyword("as"):
            bind(ev, v, value, env)
        elif k != Keyword("or"):
            pairs.append((k, v))  # {name :key}
    for target, key in pairs:
        default = defaults.get(target) if isinstance(target, Symbol) else None
        bind(ev, target, key_of(ev, value, key, default, pattern), env)


def key_of(ev, value, key, default, pattern):
    if value is POISON:
        return POISON
    if isinstance(value, Ref):
        name = key.name if isinstance(key, Symbol) else key
        return merge_refs({"call": "get", "args": [value.expr, ev.to_expr(name),
                                                    ev.to_expr(default)]}, [value])
    try:
        return B.get(value, key, default)
    except B.BuiltinError as exc:
        raise ev.error("W0303", f"cannot destructure: {exc}", pattern.span) from None


def nth_of(ev, value, i, pattern):
    if value is POISON:
        return POISON
    if isinstance(value, Ref):
        return merge_refs({"call": "nth", "args": [value.expr, i, None]}, [value])
    try:
        seq = B.as_seq(value)
    except B.BuiltinError as exc:
        raise ev.error("W0303", f"cannot destructure: {exc}", pattern.span) from None
    return seq[i] if i < len(seq) else None
