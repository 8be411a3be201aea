"""The residual-expression vocabulary: how a value known only at run time is written
in a WorkflowSpec. The compiler emits these, the validator checks them and the
runtime compiles them to closures (`runtime/expr.py`).

    scalar                       JSON string, number, boolean or null
    {"lit": json}                a literal array or object
    {"vec": [e...]}  {"map": [[key, e]...]}
    {"ref": node-id}             a node's value (a step's outcome)
    {"input": name}              a workflow input
    {"var": name, "in": scope}   a variable bound by a graph or a function
    {"call": builtin, "args": [e...]}
    {"get": e, "path": [key...]} dotted access; on an outcome, non-outcome keys read `structured`
    {"fn": {"params": [...], "in": scope, "body": e}}
    {"if": [c, a, b]}  {"and": [e...]}  {"or": [e...]}
    {"info": node-id}            loop-info / tournament-info of a node
"""

from __future__ import annotations

# the keys that open an expression object
EXPR_KEYS = frozenset({"lit", "vec", "map", "ref", "input", "var", "call", "get", "fn", "if",
                       "and", "or", "info"})
# keys that may appear beside them
EXPR_ARG_KEYS = frozenset({"path", "args", "in"})


def expr_refs(e, out: set) -> None:
    """Add to `out` the node ids an expression reads."""
    t = type(e)
    if t is dict:
        r = e.get("ref") or e.get("info")
        if r is not None:
            out.add(r)
        elif "lit" not in e:
            for k, v in e.items():
                if k != "in":
                    expr_refs(v, out)
    elif t is list:
        for v in e:
            expr_refs(v, out)
