"""Building the node graph of a workflow while its body is evaluated.

Nodes are drafts while the workflow compiles: a later form may still decide
something about an earlier node (a `classify` fixes its classifier step's
answer format, a `tournament` its judge's). When the whole workflow has been
evaluated, `GraphDraft.emit()` turns the drafts into the immutable IR once.

Ids come from the lexical position: the workflow, `let` binding names, then
the agent or node kind (`main/review/reviewer`), with `#2`, `#3` for repeats in
one scope and `[i]`, `@k` for map items and loop iterations. The forms of a body
run in order: each form's nodes wait for the sink nodes of the form before it.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import WlispError
from ..ir.nodes import FIELDS, Graph, Node, make_node, map_graphs

JOIN_THRESHOLD = 8  # above this many predecessors, a sequence point gets a join node


class NodeDraft:
    """A node under construction: its kind's fields as a dict, nested graphs as drafts."""

    __slots__ = ("id", "kind", "attrs", "after", "span")

    def __init__(self, nid: str, kind: str, attrs: dict, after, span):
        self.id, self.kind, self.after, self.span = nid, kind, list(after), span
        self.attrs = {k: v for k, v in attrs.items() if v is not None}

    def emit(self) -> Node:
        attrs = {name: map_graphs(holds, self.attrs[name], GraphDraft.emit)
                 for name, holds, _ in FIELDS[self.kind] if name in self.attrs}
        return make_node(self.kind, self.id, attrs, self.after, self.span)


class GraphDraft:
    __slots__ = ("nodes", "result", "params")

    def __init__(self, nodes: list[NodeDraft], result, params=()):
        self.nodes, self.result, self.params = nodes, result, list(params)

    def emit(self) -> Graph:
        return Graph([n.emit() for n in self.nodes], self.result, self.params)


class GraphBuilder:
    """Collects the node drafts of one graph; nested graphs get builders of their own
    that share the compilation's `registry` (every draft by id)."""

    def __init__(self, prefix: str, registry: dict[str, NodeDraft], depth: int = 1):
        self.prefix = prefix
        self.depth = depth                     # 1 for a workflow's graph, 2 nested in it ...
        self.registry = registry
        self.nodes: list[NodeDraft] = []
        self.ids: set[str] = set()
        self.path: list[str] = [prefix]
        self.namespace = prefix
        self.barrier: list[str] = []           # what the next node waits for (body order)
        self.deps: dict[str, frozenset] = {}   # node id -> ids it waits for

    def nested(self, prefix: str) -> GraphBuilder:
        return GraphBuilder(prefix, self.registry, self.depth + 1)

    # --- ids ------------------------------------------------------------------------

    def reserve(self, base: str, explicit, span) -> str:
        """A fresh id for a node: `:id` relative to the scope, else from the position."""
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit or "/" in explicit:
                raise WlispError.at("W0306", "`:id` must be a non-empty string without `/`",
                                    span)
            nid = f"{self.namespace}/{str.__str__(explicit)}"
            if nid in self.ids:
                first = self.registry.get(nid)
                raise WlispError.at("W0304", f"duplicate id `{nid}` in this scope", span,
                                    ("the first one is here", first and first.span))
        else:
            stem = "/".join(self.path) + "/" + base
            nid, n = stem, 1
            while nid in self.ids:
                n += 1
                nid = f"{stem}#{n}"
        self.ids.add(nid)
        return nid

    def release(self, nid: str) -> None:
        """Give back an id reserved for a node that turned out not to be needed."""
        self.ids.discard(nid)

    @contextmanager
    def named(self, name: str):
        """Nodes created inside are named after a `let` binding."""
        self.path.append(name)
        try:
            yield
        finally:
            self.path.pop()

    @contextmanager
    def namespace_of(self, name: str):
        """An inlined workflow: its nodes and its explicit ids live under its name."""
        saved_path, saved_ns = list(self.path), self.namespace
        self.path.append(name)
        self.namespace = "/".join(self.path)
        try:
            yield
        finally:
            self.path, self.namespace = saved_path, saved_ns

    # --- nodes ----------------------------------------------------------------------

    def add(self, nid: str, kind: str, attrs: dict, deps, span, after=()) -> NodeDraft:
        deps = frozenset(deps)
        order = [a for a in self.barrier if a not in deps]
        order += [a for a in after if a not in order]
        draft = NodeDraft(nid, kind, attrs, order, span)
        self.nodes.append(draft)
        self.deps[nid] = deps | frozenset(order)
        self.registry[nid] = draft
        return draft

    def kind_of(self, nid: str | None) -> str | None:
        draft = self.registry.get(nid) if nid else None
        return draft.kind if draft else None

    def fix_answer_format(self, nid: str, schema: dict, role: str, span) -> None:
        """A classifier or judge step answers in a format fixed by its use."""
        draft = self.registry[nid]
        current = draft.attrs.get("returns")
        if current is not None and current != schema:
            raise WlispError.at("W0306", f"a {role} step gets its answer format from its use; "
                                "remove its `:returns`", span)
        draft.attrs["returns"] = schema

    def free(self, extra=()) -> set[str]:
        """Node ids this graph reads from enclosing graphs."""
        out = set(extra)
        for d in self.deps.values():
            out |= d
        return out - self.ids

    def close(self, result, params=()) -> GraphDraft:
        return GraphDraft(self.nodes, result, params)

    # --- body order -----------------------------------------------------------------

    def in_order(self, forms, evaluate):
        """Evaluate body forms in order: each form's nodes wait for the previous form's."""
        saved, result = self.barrier, None
        try:
            for i, form in enumerate(forms):
                start = len(self.nodes)
                result = evaluate(form)
                if i < len(forms) - 1 and len(self.nodes) > start:
                    self.barrier = self._sequence_point(start)
        finally:
            self.barrier = saved
        return result

    def _sequence_point(self, start: int) -> list[str]:
        new = self.nodes[start:]
        used: set = set()
        for n in new:
            used |= self.deps[n.id]
        sinks = [n.id for n in new if n.id not in used]
        if len(sinks) <= JOIN_THRESHOLD:
            return sinks
        nid = self.reserve("join", None, None)
        draft = NodeDraft(nid, "value", {}, sinks, new[-1].span)
        self.nodes.append(draft)
        self.deps[nid] = frozenset(sinks)
        self.registry[nid] = draft
        return [nid]
