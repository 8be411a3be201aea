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

# The vocabulary as a table: the key that opens an expression object -> the shape of
# its value, the keys that must stand beside it and the keys that may. The loader's
# checks (`expr_problems`) and the published JSON Schema (`expr_schema`) both read it.
FORMS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "lit": ("json", (), ()),
    "vec": ("exprs", (), ()),
    "map": ("pairs", (), ()),
    "ref": ("string", (), ()),
    "input": ("string", (), ()),
    "var": ("string", (), ("in",)),
    "call": ("string", ("args",), ()),
    "get": ("expr", ("path",), ()),
    "fn": ("fn", (), ()),
    "if": ("three", (), ()),
    "and": ("exprs", (), ()),
    "or": ("exprs", (), ()),
    "info": ("string", (), ()),
}
# the keys beside an opening key, and the shape of their values
ARGS = {"args": "exprs", "path": "strings", "in": "string"}
EXPR_KEYS = frozenset(FORMS)
EXPR_ARG_KEYS = frozenset(ARGS)
FN_KEYS = {"params": "strings", "in": "string", "body": "expr"}
SCALARS = (str, int, float, bool, type(None))


def expr_problems(e):
    """Yield what is wrong with the shape of expression `e` (nothing when it is well
    formed), at any depth, without recursion: a spec may nest expressions deeply."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            problem = _object_problem(x, stack)
        elif isinstance(x, SCALARS):
            continue
        elif isinstance(x, list):
            problem = ('a bare JSON array is not an expression (use {"lit": [...]} or '
                       '{"vec": [...]})')
        else:
            problem = f"a {type(x).__name__} is not JSON"
        if problem is not None:
            yield problem


def _object_problem(x: dict, stack: list) -> str | None:
    heads = [k for k in x if k in FORMS]
    if len(heads) != 1:
        return (f"an expression object has exactly one of {', '.join(sorted(FORMS))}; "
                f"this one has keys {sorted(map(str, x))}")
    head = heads[0]
    shape, required, optional = FORMS[head]
    extra = sorted(str(k) for k in x if k != head and k not in required and k not in optional)
    if extra:
        return f"`{head}` does not take `{extra[0]}`"
    for key in required:
        if key not in x:
            return f"`{head}` needs `{key}` beside it"
    for key, value in x.items():
        problem = _SHAPES[shape if key == head else ARGS[key]](value, stack)
        if problem is not None:
            return f"`{key}` {problem}"
    return None


def _exprs(v, stack, count=None):
    if not isinstance(v, list) or (count is not None and len(v) != count):
        return "takes an array of expressions" if count is None else \
            f"takes an array of {count} expressions"
    stack.extend(v)
    return None


def _strings(v, stack):
    if isinstance(v, list) and all(isinstance(i, str) for i in v):
        return None
    return "takes an array of strings"


def _pairs(v, stack):
    if not isinstance(v, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in v):
        return "takes an array of [key string, expression] pairs"
    stack.extend(p[1] for p in v)
    return None


def _fn(v, stack):
    if not isinstance(v, dict) or "params" not in v or "body" not in v \
            or any(k not in FN_KEYS for k in v):
        return 'takes {"params": [...], "in": scope, "body": expression}'
    for key, value in v.items():
        problem = _SHAPES[FN_KEYS[key]](value, stack)
        if problem is not None:
            return f"`{key}` {problem}"
    return None


def _expr(v, stack):
    stack.append(v)


_SHAPES = {
    "json": lambda v, stack: None,
    "expr": _expr,
    "exprs": _exprs,
    "three": lambda v, stack: _exprs(v, stack, 3),
    "string": lambda v, stack: None if isinstance(v, str) else "takes a string",
    "strings": _strings,
    "pairs": _pairs,
    "fn": _fn,
}


def expr_schema() -> dict:
    """The JSON Schema of an expression (`$defs/expr` of the WorkflowSpec schema): the
    same rules as `expr_problems`, from the same table."""
    e = {"$ref": "#/$defs/expr"}
    exprs = {"type": "array", "items": e}
    strings = {"type": "array", "items": {"type": "string"}}
    shapes = {
        "json": {}, "expr": e, "exprs": exprs, "string": {"type": "string"},
        "strings": strings, "three": {**exprs, "minItems": 3, "maxItems": 3},
        "pairs": {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                             "prefixItems": [{"type": "string"}, e]}},
        "fn": {"type": "object", "required": ["params", "body"], "additionalProperties": False,
               "properties": {"params": strings, "in": {"type": "string"}, "body": e}},
    }
    props = {k: shapes[shape] for k, (shape, _, _) in FORMS.items()}
    props.update({k: shapes[shape] for k, shape in ARGS.items()})
    beside = {a: [k for k, (_, req, opt) in FORMS.items() if a in req + opt] for a in ARGS}
    return {
        "type": ["string", "number", "boolean", "null", "object"],
        "minProperties": 1, "additionalProperties": False, "properties": props,
        # an argument key needs its opening key, an opening key its required arguments ...
        "dependentRequired": {**{k: list(req) for k, (_, req, _) in FORMS.items() if req},
                              **beside},
        # ... and no object has two opening keys
        "dependentSchemas": {k: {"maxProperties": 1 + len(req) + len(opt)}
                             for k, (_, req, opt) in FORMS.items()},
    }


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
