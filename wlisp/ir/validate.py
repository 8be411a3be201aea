"""Validation of a WorkflowSpec loaded from JSON, and its published JSON Schema.

The JSON Schema checks shape; `validate_spec` checks meaning: known kinds, refs
that resolve to a node in the same or an enclosing graph, acyclic dependencies,
bound variables, `max` >= 1, >= 2 static tournament entrants, known agents and
schemas. Expressions use the vocabulary of `ir/expr.py`.
"""

from __future__ import annotations

import json
from functools import lru_cache

from ..errors import Diagnostic, WlispError
from ..values.library import BUILTINS
from . import taint
from .expr import expr_problems, expr_schema
from .nodes import (
    CHAINS,
    EXPR,
    FIELDS,
    GRAPH,
    GRAPHS,
    KINDS,
    MAX_GRAPH_DEPTH,
    NESTING,
    STRING,
    VALUE_SCHEMAS,
    Graph,
    Node,
)
from .vocabulary import BUDGET_KEYS, CONTEXT, ISOLATION

SPEC_VERSION = 1


def _graph_schema() -> dict:
    return {"type": "object", "required": ["nodes"],
            "properties": {"nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                           "result": {"$ref": "#/$defs/expr"},
                           "params": {"type": "array", "items": STRING}}}


def _nullable(schema: dict) -> dict:
    """`schema`, or null (a field set to null is absent)."""
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


def _node_schema(span: dict) -> dict:
    ftype_schema = {
        "expr": {"$ref": "#/$defs/expr"},
        "graph": {"$ref": "#/$defs/graph"},
        "graphs": {"type": "array", "items": {"$ref": "#/$defs/graph"}},
        "chains": {"type": "array", "items": {"type": "array",
                                              "items": {"$ref": "#/$defs/graph"}}},
        "branches": {"type": "array", "items": {
            "type": "object", "required": ["label", "body"],
            "properties": {"label": {}, "body": {"$ref": "#/$defs/graph"}}}},
    }
    # a field has the same type in every kind that has it, so one flat map describes
    # all node fields (ten `if kind / then` blocks made every node checked ten times)
    node_props: dict = {}
    for fields in FIELDS.values():
        for name, ftype, _ in fields:
            schema = ftype_schema.get(ftype) or _nullable(VALUE_SCHEMAS[name])
            assert node_props.get(name, schema) == schema, name
            node_props[name] = schema
    return {"type": "object", "required": ["id", "kind"],
            "properties": {"id": {"type": "string", "minLength": 1},
                           "kind": {"enum": list(KINDS)},
                           "after": {"type": "array", "items": STRING},
                           "span": span, **node_props},
            "additionalProperties": False}


def _declarations() -> dict:
    """Agents and tools, as `defagent` and `deftool` write them."""
    strings = {"type": "array", "items": STRING}
    agent = {"name": STRING, "executor": STRING, "model": STRING, "system": STRING,
             "description": STRING, "max_steps": VALUE_SCHEMAS["max_steps"],
             "retries": VALUE_SCHEMAS["retries"], "timeout": VALUE_SCHEMAS["timeout"],
             "role": VALUE_SCHEMAS["role"], "trust": VALUE_SCHEMAS["trust"],
             "isolation": {"enum": list(ISOLATION)}, "context": {"enum": list(CONTEXT)},
             "exclusive": {"type": "boolean"}, "tools": strings}
    tool = {"name": STRING, "description": STRING, "params": {"type": "object"},
            "command": strings}
    return {name: {"type": "object", "additionalProperties": {
        "type": "object", "properties": {k: _nullable(v) for k, v in props.items()}}}
        for name, props in (("agents", agent), ("tools", tool))}


def json_schema() -> dict:
    """The JSON Schema of a WorkflowSpec document (`wlisp schema`)."""
    span = {"type": "array", "prefixItems": [STRING] + [{"type": "integer"}] * 4,
            "minItems": 5, "maxItems": 5}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://wlisp.dev/schema/workflow-spec-v1.json",
        "title": "wlisp WorkflowSpec",
        "type": "object",
        "required": ["wlisp_spec", "name", "graph"],
        "properties": {
            "wlisp_spec": {"type": "integer", "minimum": 1},
            "name": STRING,
            "description": {"type": ["string", "null"]},
            "params": {"type": "array", "items": STRING},
            "source": {"type": ["string", "null"]},
            **_declarations(),
            "schemas": {"type": "object", "additionalProperties": {"type": "object"}},
            "returns": {"type": ["object", "null"]},
            "inputs": {"type": "object", "additionalProperties": {
                "type": "object", "additionalProperties": False,
                "properties": {"type": {"type": "object"}, "default": {}, "span": span}}},
            "budget": {"type": ["object", "null"], "additionalProperties": False,
                       "properties": {k: {"type": "number", "exclusiveMinimum": 0}
                                      for k in BUDGET_KEYS}},
            "concurrency": {"type": ["integer", "null"], "minimum": 1},
            "span": span,
            "graph": {"$ref": "#/$defs/graph"},
        },
        "$defs": {"graph": _graph_schema(), "node": _node_schema(span), "expr": expr_schema()},
    }


def check_document(data: dict) -> None:
    """Shape check with the JSON Schema, after the version check (so a newer format
    gets the version message rather than a pile of schema errors) and the nesting
    check (the schema check costs the square of the depth)."""
    version = data.get("wlisp_spec")
    if type(version) in (int, float) and version > SPEC_VERSION:
        raise WlispError(Diagnostic("W0606", f"this WorkflowSpec has format version {version}, "
                                    f"newer than this wlisp supports ({SPEC_VERSION}); "
                                    "upgrade wlisp to run it"))
    depth = graph_depth(data.get("graph"))
    if depth > MAX_GRAPH_DEPTH:
        raise WlispError(Diagnostic("W0601", f"invalid WorkflowSpec: graphs nest {depth} deep; "
                                    f"at most {MAX_GRAPH_DEPTH} are allowed"))
    errors = sorted(_validator().iter_errors(data),
                    key=lambda e: [(type(p) is str, p) for p in e.absolute_path])
    if errors:
        raise WlispError([Diagnostic("W0601", f"invalid WorkflowSpec at "
                                     f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: "
                                     f"{e.message}") for e in errors[:20]])


def graph_depth(graph) -> int:
    """How deep graphs nest in the JSON of a graph, whatever else is wrong with it."""
    deepest, stack = 0, [(graph, 1)]
    while stack:
        g, depth = stack.pop()
        if not isinstance(g, dict) or not isinstance(g.get("nodes"), list):
            continue
        deepest = max(deepest, depth)
        for node in g["nodes"]:
            kind = node.get("kind") if isinstance(node, dict) else None
            for name, holds, _ in NESTING.get(kind, ()) if isinstance(kind, str) else ():
                stack.extend((sub, depth + 1) for sub in _graphs_in(holds, node.get(name)))
    return deepest


def _graphs_in(holds: str, value) -> list:
    if holds == GRAPH:
        return [value]
    items = value if isinstance(value, list) else []
    if holds == GRAPHS:
        return items
    if holds == CHAINS:
        return [g for chain in items if isinstance(chain, list) for g in chain]
    return [b.get("body") for b in items if isinstance(b, dict)]


_VALIDATOR = None


def _validator():
    """The schema without `$defs/expr`: `validate_spec` checks expressions itself,
    without recursion (the compiler may nest them thousands deep) and faster."""
    global _VALIDATOR
    if _VALIDATOR is None:
        import jsonschema

        schema = json_schema()
        schema["$defs"]["expr"] = {}
        _VALIDATOR = jsonschema.Draft202012Validator(schema)
    return _VALIDATOR


class _Scope:
    def __init__(self, parent, ids=(), vars=()):
        self.parent, self.ids, self.vars = parent, set(ids), set(vars)

    def _has(self, what: str, key) -> bool:
        s = self
        while s is not None:
            if key in getattr(s, what):
                return True
            s = s.parent
        return False

    def has_id(self, ref) -> bool:
        return self._has("ids", ref)

    def has_var(self, key) -> bool:
        return self._has("vars", key)


# the nested graphs each kind runs: a field it needs, or two of which it needs one
NEEDS = {"loop": ("body",), "try": ("body",), "tournament": ("judge",),
         "map": ("body", "bodies"), "pipeline": ("stages", "chains")}


@lru_cache(maxsize=512)
def _schema_problem(text: str) -> str | None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(json.loads(text))
    except jsonschema.SchemaError as exc:
        return exc.message
    return None


def schema_problem(schema: dict) -> str | None:
    """Why `schema` is not a JSON Schema (draft 2020-12), or None when it is."""
    return _schema_problem(json.dumps(schema, sort_keys=True))


def validate_spec(spec) -> None:
    """Raise WlispError listing every problem of `spec`: first malformed expressions
    (which the semantic checks could not read), then the semantic problems."""
    problems = expression_problems(spec)
    for name, schema in spec.schemas.items():
        problem = schema_problem(schema)
        if problem is not None:
            problems.append(Diagnostic("W0601", f"schema `{name}` is not a JSON Schema: "
                                       f"{problem}"))
    if spec.returns is not None and schema_problem(spec.returns) is not None:
        problems.append(Diagnostic("W0601", "`returns` is not a JSON Schema: "
                                   f"{schema_problem(spec.returns)}"))
    for name, decl in spec.inputs.items():
        problem = schema_problem(decl.get("type", {})) if name in spec.params else \
            "it is not a parameter"
        if problem is not None:
            problems.append(Diagnostic("W0601", f"input `{name}` is not well declared: "
                                       f"{problem}"))
    if not problems:
        seen: set[str] = set()
        ctx = _Validator(spec, problems, seen)
        ctx.graph(spec.graph, _Scope(None, vars={("input", p) for p in spec.params}), "", None)
    if not problems:  # quarantine needs a well-formed graph to follow
        problems.extend(taint.check(spec)[0])
    if problems:
        raise WlispError(problems[:20])


def expression_problems(spec) -> list[Diagnostic]:
    """What is wrong with the shape of the spec's expressions (see `ir/expr.py`)."""
    out: list[Diagnostic] = []
    stack: list[tuple[Graph, Node | None]] = [(spec.graph, None)]
    while stack:
        graph, owner = stack.pop()
        where = f"a graph of node `{owner.id}`" if owner else "the workflow"
        out += [Diagnostic("W0601", f"invalid result expression of {where}: {p}",
                           owner.span if owner else None) for p in expr_problems(graph.result)]
        for node in graph.nodes:
            for name, holds, _ in node.fields():
                if holds == EXPR:
                    out += [Diagnostic("W0601", f"node `{node.id}`: invalid `{name}` "
                                       f"expression: {p}", node.span)
                            for p in expr_problems(getattr(node, name))]
            stack.extend((g, node) for g in node.graphs())
    return out


class _Validator:
    def __init__(self, spec, problems, seen):
        self.spec, self.problems, self.seen = spec, problems, seen

    def err(self, code, message, node: Node | None = None):
        self.problems.append(Diagnostic(code, message, node.span if node else None))

    def graph(self, graph: Graph, parent: _Scope, prefix: str, owner: Node | None) -> set:
        """Check a graph; return the node ids it reads from the graphs around it."""
        scope = _Scope(parent, (n.id for n in graph.nodes),
                       ((owner.id if owner else "", p) for p in graph.params))
        if owner is not None:  # graph params are bound "in" the owner id
            scope.vars |= {(owner.id, p) for p in graph.params}
        deps: dict[str, set[str]] = {}
        reads: set[str] = set()
        for node in graph.nodes:
            if node.id in self.seen:
                self.err("W0601", f"duplicate node id `{node.id}`", node)
            self.seen.add(node.id)
            if prefix and not node.id.startswith(prefix):
                self.err("W0601", f"node `{node.id}` must start with its owner's id `{prefix}`",
                         node)
            refs = self.node(node, scope, prefix)
            reads |= refs
            deps[node.id] = refs | set(node.after)
            for a in node.after:
                if a not in scope.ids:
                    self.err("W0602", f"node `{node.id}` is ordered after unknown node `{a}`",
                             node)
        reads |= self.expr(graph.result, scope, None)
        self.cycles(graph, deps)
        return reads.difference(deps)

    def node(self, node: Node, scope: _Scope, prefix: str = "") -> set[str]:
        refs: set[str] = set()
        for name, holds, _ in node.fields():
            if holds == EXPR and getattr(node, name) is not None:
                refs |= self.expr(getattr(node, name), scope, node)
        check = self.CHECKS.get(node.kind)
        if check is not None:
            check(self, node)
        self.check_graphs(node)
        var = getattr(node, "var", None)
        for g in node.graphs():
            inner = _Scope(scope)
            inner.vars |= {(node.id, p) for p in g.params}
            if var:
                inner.vars.add((node.id, var))
            owner_prefix = prefix if node.kind == "classify" else node.id  # see ir/spec.py
            refs |= self.graph(g, inner, owner_prefix, node)
        return refs

    def check_spawn(self, node) -> None:
        if node.agent not in self.spec.agents:
            self.err("W0602", f"node `{node.id}` spawns unknown agent `{node.agent}`", node)
        self.check_returns(node)

    def check_returns(self, node) -> None:
        if isinstance(node.returns, str) and node.returns not in self.spec.schemas:
            self.err("W0602", f"node `{node.id}` returns unknown schema `{node.returns}`", node)
        elif isinstance(node.returns, dict):
            problem = schema_problem(node.returns)
            if problem is not None:
                self.err("W0601", f"node `{node.id}`: `returns` is not a JSON Schema: "
                         f"{problem}", node)

    def check_loop(self, node) -> None:
        mx = node.max
        if isinstance(mx, bool) or not isinstance(mx, int) or mx < 1:
            self.err("W0604", f"loop `{node.id}` needs an integer `max` >= 1, got {mx!r}", node)

    def check_tournament(self, node) -> None:
        ent = node.entrants
        static = ent.get("vec", ent.get("lit")) if isinstance(ent, dict) else None
        if isinstance(static, list) and len(static) < 2:
            self.err("W0605", f"tournament `{node.id}` has {len(static)} entrant(s); "
                     "it needs at least 2", node)

    def check_classify(self, node) -> None:
        if not node.branches:
            self.err("W0601", f"classify `{node.id}` has no branches", node)

    CHECKS = {"spawn": check_spawn, "human": check_returns, "loop": check_loop,
              "tournament": check_tournament, "classify": check_classify}

    def check_graphs(self, node) -> None:
        """The nested graphs a node's kind runs: one field, or exactly one of two."""
        fields = NEEDS.get(node.kind)
        if fields is None:
            return
        given = [f for f in fields if getattr(node, f) is not None]
        if len(fields) == 1 and not given:
            self.err("W0601", f"{node.kind} `{node.id}` has no `{fields[0]}`", node)
        elif len(fields) == 2 and len(given) != 1:
            self.err("W0601", f"{node.kind} `{node.id}` needs exactly one of `{fields[0]}` "
                     f"or `{fields[1]}`", node)

    def expr(self, e, scope: _Scope, node: Node | None) -> set[str]:
        """The node ids an expression reads; reports the references, variables, inputs
        and builtins in it that do not resolve (its shape was checked before)."""
        refs: set[str] = set()
        stack = [(e, scope)]
        while stack:
            x, sc = stack.pop()
            if not isinstance(x, dict) or "lit" in x:
                continue
            if "ref" in x or "info" in x:
                r = x.get("ref", x.get("info"))
                if not sc.has_id(r):
                    where = f" in node `{node.id}`" if node else " in a result"
                    self.err("W0602", f"reference to unknown node `{r}`{where}", node)
                refs.add(r)
            elif "var" in x:
                if not sc.has_var((x.get("in", ""), x["var"])):
                    self.err("W0602", f"unbound variable `{x['var']}`"
                             + (f" in node `{node.id}`" if node else ""), node)
            elif "input" in x:
                if ("input", x["input"]) not in _root_vars(sc):
                    self.err("W0602", f"unknown workflow input `{x['input']}`", node)
            elif "call" in x:
                self.call(x["call"], len(x["args"]), node)
                stack.extend((a, sc) for a in x["args"])
            elif "fn" in x:
                f = x["fn"]
                inner = _Scope(sc, vars={(f.get("in", ""), p) for p in f["params"]})
                stack.append((f["body"], inner))
            elif "get" in x:
                stack.append((x["get"], sc))
            elif "map" in x:
                stack.extend((v, sc) for _, v in x["map"])
            else:  # vec, if, and, or: a list of expressions
                stack.extend((a, sc) for a in next(iter(x.values())))
        return refs

    def call(self, name: str, nargs: int, node: Node | None) -> None:
        if name not in BUILTINS:
            self.err("W0601", f"unknown builtin `{name}`", node)
            return
        _, lo, hi = BUILTINS[name]
        if nargs < lo or (hi is not None and nargs > hi):
            takes = f"{lo}" if lo == hi else f"at least {lo}" if hi is None else f"{lo} to {hi}"
            self.err("W0601", f"`{name}` takes {takes} arguments, not {nargs}", node)

    def cycles(self, graph: Graph, deps: dict[str, set[str]]) -> None:
        local = {k: {d for d in v if d in deps} for k, v in deps.items()}
        state: dict[str, int] = {}
        for start in local:
            if state.get(start):
                continue
            stack = [(start, iter(sorted(local[start])))]
            state[start] = 1
            while stack:
                nid, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[nid] = 2
                    stack.pop()
                elif state.get(nxt) == 1:
                    node = next(n for n in graph.nodes if n.id == nxt)
                    cycle = [s for s, _ in stack][[s for s, _ in stack].index(nxt):]
                    self.err("W0603", "dependency cycle: " + " -> ".join(cycle + [nxt]), node)
                    return
                elif not state.get(nxt):
                    state[nxt] = 1
                    stack.append((nxt, iter(sorted(local[nxt]))))


def _root_vars(scope: _Scope):
    while scope.parent is not None:
        scope = scope.parent
    return scope.vars
