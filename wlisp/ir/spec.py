"""WorkflowSpec: the node graph the compiler emits and the runtime runs (SPEC §5).

A spec is a tree of `Graph`s. Each graph holds nodes and a result expression;
control nodes (loop, classify, map, ...) own nested graphs. Residual
expressions stay plain JSON (see `wlisp/expr.py` for their vocabulary). Node ids
are static and unique across the whole spec; a nested graph's nodes all start
with their owner's id, so the runtime names instances by swapping that prefix
(`main/fix/loop/critic` runs as `main/fix/loop@2/critic`).
"""

from __future__ import annotations

import contextlib
import gc
import json
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import Diagnostic, Span, WlispError

SPEC_VERSION = 1


@contextlib.contextmanager
def no_gc():
    """Compiling and loading make many small acyclic objects; cycle collection passes
    over the growing heap cost up to a third of the time and reclaim nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

# kind -> ((field name, field type), ...). Types: expr (JSON expression), graph,
# graphs (list of graphs), chains (list of lists of graphs), branches, value (plain JSON).
NODE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "spawn": (("agent", "value"), ("prompt", "expr"), ("returns", "value"),
              ("max_steps", "value"), ("model", "value"), ("timeout", "value"),
              ("retries", "value"), ("trust", "value"), ("role", "value"),
              ("description", "value"), ("label_schema", "value")),
    "value": (("expr", "expr"),),
    "loop": (("var", "value"), ("init", "expr"), ("max", "value"), ("until", "expr"),
             ("body", "graph")),
    "classify": (("on", "expr"), ("mode", "value"), ("branches", "branches"),
                 ("otherwise", "graph")),
    "tournament": (("entrants", "expr"), ("judge", "graph"), ("format", "value")),
    "map": (("items", "expr"), ("var", "value"), ("body", "graph"), ("bodies", "graphs"),
            ("limit", "value")),
    "pipeline": (("items", "expr"), ("stages", "graphs"), ("chains", "chains"),
                 ("limit", "value")),
    "try": (("body", "graph"), ("catch", "graph"), ("var", "value")),
    "fail": (("message", "expr"),),
    "human": (("prompt", "expr"), ("returns", "value"), ("description", "value")),
}
KINDS = tuple(NODE_FIELDS)


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    result: Any = None
    params: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out: dict = {"nodes": [n.to_json() for n in self.nodes], "result": self.result}
        if self.params:
            out["params"] = list(self.params)
        return out

    @classmethod
    def from_json(cls, data: dict) -> Graph:
        return cls([Node.from_json(n) for n in data.get("nodes", [])], data.get("result"),
                   list(data.get("params", [])))


@dataclass
class Branch:
    label: Any
    body: Graph


@dataclass
class Node:
    """One node. `attrs` holds the kind's fields (NODE_FIELDS); unset ones are None."""

    id: str
    kind: str
    attrs: dict = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    span: Span | None = None

    def __post_init__(self):
        self.attrs = {k: v for k, v in self.attrs.items() if v is not None}

    def __getattr__(self, name):  # node.prompt, node.body, ...
        if name.startswith("__"):
            raise AttributeError(name)
        return self.__dict__["attrs"].get(name)

    def graphs(self):
        """Nested graphs with their static id prefix (the prefix instances rename)."""
        a = self.attrs
        for key in ("body", "otherwise", "judge", "catch"):
            if a.get(key) is not None:
                yield a[key]
        for b in a.get("branches") or ():
            yield b.body
        yield from a.get("bodies") or ()
        yield from a.get("stages") or ()
        for chain in a.get("chains") or ():
            yield from chain

    def to_json(self) -> dict:
        out: dict = {"id": self.id, "kind": self.kind}
        for name, ftype in NODE_FIELDS[self.kind]:
            value = self.attrs.get(name)
            if value is None:
                continue
            if ftype == "graph":
                value = value.to_json()
            elif ftype == "graphs":
                value = [g.to_json() for g in value]
            elif ftype == "chains":
                value = [[g.to_json() for g in chain] for chain in value]
            elif ftype == "branches":
                value = [{"label": b.label, "body": b.body.to_json()} for b in value]
            out[name] = value
        if self.after:
            out["after"] = list(self.after)
        if self.span:
            out["span"] = self.span.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict) -> Node:
        kind = data.get("kind")
        if kind not in NODE_FIELDS:
            raise WlispError.at("W0607", f"unknown node kind `{kind}` (node `{data.get('id')}`);"
                                f" known kinds: {', '.join(KINDS)}", None)
        attrs = {}
        for name, ftype in NODE_FIELDS[kind]:
            value = data.get(name)
            if value is None:
                continue
            if ftype == "graph":
                value = Graph.from_json(value)
            elif ftype == "graphs":
                value = [Graph.from_json(g) for g in value]
            elif ftype == "chains":
                value = [[Graph.from_json(g) for g in chain] for chain in value]
            elif ftype == "branches":
                value = [Branch(b.get("label"), Graph.from_json(b["body"])) for b in value]
            attrs[name] = value
        return cls(data["id"], kind, attrs, list(data.get("after", [])),
                   Span.from_json(data.get("span")))


@dataclass
class WorkflowSpec:
    name: str
    graph: Graph
    params: list[str] = field(default_factory=list)
    description: str | None = None
    agents: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)
    schemas: dict = field(default_factory=dict)
    budget: dict | None = None
    concurrency: int | None = None
    source: str | None = None
    span: Span | None = None
    version: int = SPEC_VERSION

    def to_dict(self) -> dict:
        out = {"wlisp_spec": self.version, "name": self.name}
        for f in fields(self):
            if f.name in ("name", "version", "graph", "span"):
                continue
            value = getattr(self, f.name)
            if value not in (None, {}, []) or f.name == "params":
                out[f.name] = value
        if self.span:
            out["span"] = self.span.to_json()
        out["graph"] = self.graph.to_json()
        return out

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False,
                          separators=None if indent else (",", ":"))

    @classmethod
    def from_dict(cls, data: dict, validate: bool = True) -> WorkflowSpec:
        with no_gc():
            return cls._from_dict(data, validate)

    @classmethod
    def _from_dict(cls, data: dict, validate: bool) -> WorkflowSpec:
        if validate:
            from .validate import check_document

            check_document(data)
        spec = cls(name=data["name"], graph=Graph.from_json(data["graph"]),
                   params=list(data.get("params", [])), description=data.get("description"),
                   agents=data.get("agents", {}), tools=data.get("tools", {}),
                   schemas=data.get("schemas", {}), budget=data.get("budget"),
                   concurrency=data.get("concurrency"), source=data.get("source"),
                   span=Span.from_json(data.get("span")), version=data["wlisp_spec"])
        if validate:
            from .validate import validate

            validate(spec)
        return spec

    @classmethod
    def from_json(cls, text: str, validate: bool = True) -> WorkflowSpec:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise WlispError(Diagnostic("W0601", f"not a JSON WorkflowSpec: {exc}")) from None
        if not isinstance(data, dict):
            raise WlispError(Diagnostic("W0601", "a WorkflowSpec must be a JSON object"))
        return cls.from_dict(data, validate)

    def walk(self):
        """Every node of the spec, depth first, with its parent graph chain."""
        stack = [(self.graph, ())]
        while stack:
            graph, owners = stack.pop()
            for node in graph.nodes:
                yield node, owners
                for g in node.graphs():
                    stack.append((g, (*owners, node)))


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


def node_refs(node: Node, out: set) -> None:
    """Add the node ids a node reads, including what its nested graphs read from outside
    them (not its `after` order)."""
    for name, ftype in NODE_FIELDS[node.kind]:
        if ftype == "expr":
            expr_refs(node.attrs.get(name), out)
    for g in node.graphs():
        out.update(graph_free_refs(g))


def graph_free_refs(g: Graph) -> set:
    """Node ids a graph reads from the graphs around it."""
    inner: set = set()
    for n in g.nodes:
        node_refs(n, inner)
    expr_refs(g.result, inner)
    return inner.difference(n.id for n in g.nodes)

