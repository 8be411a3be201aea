"""The node kinds of a WorkflowSpec (SPEC §5) and the one table of their fields.

Every node kind is a dataclass whose fields *are* the table of the format: each
field says what it holds (an expression, a nested graph, a list of graphs, ...
or a plain JSON value), and JSON encoding, the walk over nested graphs, the
validator, the published JSON Schema and the diagrams all read `FIELDS`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import Span, WlispError
from .expr import expr_refs
from .vocabulary import ROLES, TOURNAMENT_FORMATS, TRUST

# what a node field holds; every node field is one of these
EXPR, VALUE, GRAPH, GRAPHS, CHAINS, BRANCHES = "expr", "value", "graph", "graphs", "chains", \
    "branches"
NESTED = (GRAPH, GRAPHS, CHAINS, BRANCHES)
# Graphs nest (a loop body in a branch in a map item ...) at most this deep: the
# compiler refuses deeper (W0405), the loader too (W0601).
MAX_GRAPH_DEPTH = 100
# the JSON Schemas of plain values
STRING, COUNT = {"type": "string"}, {"type": "integer", "minimum": 1}
SCHEMA_REF = {"type": ["string", "object"]}  # a schema's name, or an inline JSON Schema


def _field(holds: str, title: str | None = None, default=None, json: dict | None = None):
    """A node field: `holds` says what it contains; `title` names nested graphs in
    diagrams (`{i}` is the graph's index); `json` is the JSON Schema of a plain value."""
    return field(default=default, metadata={"holds": holds, "title": title, "json": json})


@dataclass(slots=True)
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
        return cls([node_from_json(n) for n in data.get("nodes", [])], data.get("result"),
                   list(data.get("params", [])))


@dataclass(slots=True)
class Branch:
    label: Any
    body: Graph


@dataclass(slots=True, kw_only=True)
class Node:
    """Fields common to every node; a subclass per kind adds the kind's own."""

    kind: ClassVar[str] = ""
    id: str
    after: list[str] = field(default_factory=list)
    span: Span | None = None

    def fields(self) -> tuple[tuple[str, str, str | None], ...]:
        """(name, what it holds, diagram title) of this kind's own fields."""
        return FIELDS[self.kind]

    def graphs(self):
        """Nested graphs, in field order (the runtime renames their node ids)."""
        for _, g in self.titled_graphs():
            yield g

    def titled_graphs(self):
        """(title, graph) for each nested graph, for diagrams."""
        for name, holds, title in NESTING[self.kind]:
            value = getattr(self, name)
            if value is None:
                continue
            if holds == GRAPH:
                yield title or name, value
            elif holds == GRAPHS:
                labels = getattr(self, "labels", None) or ()
                for i, g in enumerate(value):
                    named = f" {labels[i]}" if i < len(labels) else ""
                    yield title.format(i=i, i1=i + 1) + named, g
            elif holds == CHAINS:
                for i, chain in enumerate(value):
                    for k, g in enumerate(chain):
                        yield title.format(i=i, k1=k + 1), g
            else:
                for b in value:
                    yield f"{b.label}", b.body

    def to_json(self) -> dict:
        out: dict = {"id": self.id, "kind": self.kind}
        for name, holds, _ in self.fields():
            value = getattr(self, name)
            if value is not None:
                out[name] = _encode(holds, value)
        if self.after:
            out["after"] = list(self.after)
        if self.span:
            out["span"] = self.span.to_json()
        return out


@dataclass(slots=True, kw_only=True)
class Spawn(Node):
    kind: ClassVar[str] = "spawn"
    agent: str = _field(VALUE, json=STRING)
    prompt: Any = _field(EXPR)
    returns: Any = _field(VALUE, json=SCHEMA_REF)
    max_steps: int | None = _field(VALUE, json=COUNT)
    model: str | None = _field(VALUE, json=STRING)
    timeout: float | None = _field(VALUE, json={"type": "number", "exclusiveMinimum": 0})
    retries: int | None = _field(VALUE, json={"type": "integer", "minimum": 0})
    trust: str | None = _field(VALUE, json={"enum": list(TRUST)})
    role: str | None = _field(VALUE, json={"enum": list(ROLES)})
    description: str | None = _field(VALUE, json=STRING)
    # the quarantined steps whose values chose this one (so it runs quarantined)
    chosen_by: list[str] | None = _field(VALUE, json={"type": "array", "items": STRING})
    # `:continue x`: the session id of the step this one continues (an expression);
    # `continued`: a later step continues this one (an executor keeps its conversation)
    session: Any = _field(EXPR)
    continued: bool | None = _field(VALUE, json={"type": "boolean"})


@dataclass(slots=True, kw_only=True)
class Value(Node):
    kind: ClassVar[str] = "value"
    expr: Any = _field(EXPR)


@dataclass(slots=True, kw_only=True)
class Loop(Node):
    kind: ClassVar[str] = "loop"
    var: str | None = _field(VALUE, json=STRING)
    init: Any = _field(EXPR)
    max: int | None = _field(VALUE, json={"type": "integer"})  # below 1: W0604, when loaded
    until: Any = _field(EXPR)
    body: Graph | None = _field(GRAPH)


@dataclass(slots=True, kw_only=True)
class Classify(Node):
    kind: ClassVar[str] = "classify"
    on: Any = _field(EXPR)
    mode: str | None = _field(VALUE, json={"enum": ["agent", "expr"]})
    branches: list[Branch] | None = _field(BRANCHES)
    otherwise: Graph | None = _field(GRAPH, "else")


@dataclass(slots=True, kw_only=True)
class Tournament(Node):
    kind: ClassVar[str] = "tournament"
    entrants: Any = _field(EXPR)
    judge: Graph | None = _field(GRAPH)
    format: str | None = _field(VALUE, json={"enum": list(TOURNAMENT_FORMATS)})


@dataclass(slots=True, kw_only=True)
class Map(Node):
    kind: ClassVar[str] = "map"
    items: Any = _field(EXPR)
    var: str | None = _field(VALUE, json=STRING)
    body: Graph | None = _field(GRAPH)
    bodies: list[Graph] | None = _field(GRAPHS, "[{i}]")
    limit: int | None = _field(VALUE, json=COUNT)
    # the items of `bodies` as the user wrote them, short: for pictures and `wlisp show`
    labels: list[str] | None = _field(VALUE, json={"type": "array", "items": STRING})


@dataclass(slots=True, kw_only=True)
class Pipeline(Node):
    kind: ClassVar[str] = "pipeline"
    items: Any = _field(EXPR)
    stages: list[Graph] | None = _field(GRAPHS, "stage {i1}")
    chains: list[list[Graph]] | None = _field(CHAINS, "[{i}] stage {k1}")
    limit: int | None = _field(VALUE, json=COUNT)


@dataclass(slots=True, kw_only=True)
class Try(Node):
    kind: ClassVar[str] = "try"
    body: Graph | None = _field(GRAPH)
    catch: Graph | None = _field(GRAPH)
    var: str | None = _field(VALUE, json=STRING)


@dataclass(slots=True, kw_only=True)
class Fail(Node):
    kind: ClassVar[str] = "fail"
    message: Any = _field(EXPR)


@dataclass(slots=True, kw_only=True)
class Human(Node):
    kind: ClassVar[str] = "human"
    prompt: Any = _field(EXPR)
    returns: Any = _field(VALUE, json=SCHEMA_REF)
    description: str | None = _field(VALUE, json=STRING)


NODE_TYPES: dict[str, type[Node]] = {cls.kind: cls for cls in (
    Spawn, Value, Loop, Classify, Tournament, Map, Pipeline, Try, Fail, Human)}
KINDS = tuple(NODE_TYPES)
_COMMON = {f.name for f in dataclasses.fields(Node)}
# kind -> ((field, what it holds, diagram title), ...): the table everything reads
FIELDS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    kind: tuple((f.name, f.metadata["holds"], f.metadata["title"])
                for f in dataclasses.fields(cls) if f.name not in _COMMON)
    for kind, cls in NODE_TYPES.items()}
# kind -> the fields that hold nested graphs (none for a spawn: the hot path)
NESTING = {kind: tuple(f for f in fields if f[1] in NESTED) for kind, fields in FIELDS.items()}
# plain-value field -> its JSON Schema (a field has the same type in every kind)
VALUE_SCHEMAS: dict[str, dict] = {
    f.name: f.metadata["json"] for cls in NODE_TYPES.values() for f in dataclasses.fields(cls)
    if f.name not in _COMMON and f.metadata["holds"] == VALUE}


def make_node(kind: str, nid: str, attrs: dict, after=(), span: Span | None = None) -> Node:
    """A node of `kind`; an attribute the kind does not have is a TypeError (a bug)."""
    return NODE_TYPES[kind](id=nid, after=list(after), span=span, **attrs)


def map_graphs(holds: str, value, fn):
    """The value of a field with `fn` applied to each graph in it (shape kept)."""
    if holds == GRAPH:
        return fn(value)
    if holds == GRAPHS:
        return [fn(g) for g in value]
    if holds == CHAINS:
        return [[fn(g) for g in chain] for chain in value]
    if holds == BRANCHES:
        return [Branch(b.label, fn(b.body)) for b in value]
    return value


def _encode(holds: str, value):
    value = map_graphs(holds, value, Graph.to_json)
    if holds == BRANCHES:
        return [{"label": b.label, "body": b.body} for b in value]
    return value


def _decode(holds: str, value):
    if holds == BRANCHES:
        value = [Branch(b.get("label"), b["body"]) for b in value]
    return map_graphs(holds, value, Graph.from_json)


def node_from_json(data: dict) -> Node:
    kind = data.get("kind")
    if kind not in NODE_TYPES:
        raise WlispError.at("W0607", f"unknown node kind `{kind}` (node `{data.get('id')}`);"
                            f" known kinds: {', '.join(KINDS)}", None)
    attrs = {name: _decode(holds, data[name]) for name, holds, _ in FIELDS[kind]
             if data.get(name) is not None}
    return make_node(kind, data["id"], attrs, data.get("after", ()),
                     Span.from_json(data.get("span")))


def node_refs(node: Node, out: set) -> None:
    """Add the node ids a node reads, including what its nested graphs read from outside
    them (not its `after` order)."""
    for name, holds, _ in node.fields():
        if holds == EXPR:
            expr_refs(getattr(node, name), out)
    for g in node.graphs():
        out.update(graph_free_refs(g))


def graph_free_refs(g: Graph) -> set:
    """Node ids a graph reads from the graphs around it."""
    inner: set = set()
    for n in g.nodes:
        node_refs(n, inner)
    expr_refs(g.result, inner)
    return inner.difference(n.id for n in g.nodes)
