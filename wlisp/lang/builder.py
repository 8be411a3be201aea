"""Building the node graph of a workflow while its body is evaluated.

Nodes are drafts while the workflow compiles: a later form may still decide
something about an earlier node (a `classify` fixes its classifier step's
answer format, a `tournament` its judge's). When the whole workflow has been
evaluated, `GraphDraft.emit()` turns the drafts into the immutable IR once.

Ids come from the lexical position, in the user's words: the workflow and
`let` binding names. A binding's value that is one step or one loop, map, ...
takes the binding's name (`main/change/round`, `main/change/round@2/review`);
other nodes add their agent or kind (`main/review/reviewer` when `review` binds
more than one step), with `#2`, `#3` for repeats in one scope and `[i]`, `@k`
for map items and loop iterations. A runtime conditional's branches are named
like the code around it, not under the classify node, so a pattern's `if`s do
not nest the ids of what follows them. The forms of a body run in order: each
form's nodes wait for the sink nodes of the form before it.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import WlispError
from ..ir.nodes import FIELDS, NESTING, Graph, Node, make_node, map_graphs

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

    def __init__(self, prefix: str, registry: dict[str, NodeDraft], depth: int = 1,
                 taken: set[str] | None = None):
        self.prefix = prefix
        self.depth = depth                     # 1 for a workflow's graph, 2 nested in it ...
        self.registry = registry
        self.nodes: list[NodeDraft] = []
        self.ids: set[str] = set()             # this graph's own nodes
        self.taken = set() if taken is None else taken  # ids no other node may get
        self.explicit: set[str] = set()        # ids the user gave with `:id`
        self.path: list[str] = [prefix]
        self.claims: list[list] = []           # per open binding: [name taken?]
        self.namespace = prefix
        self.barrier: list[str] = []           # what the next node waits for (body order)
        self.deps: dict[str, frozenset] = {}   # node id -> ids it waits for

    def nested(self, prefix: str) -> GraphBuilder:
        return GraphBuilder(prefix, self.registry, self.depth + 1)

    def branch(self, segment: str | None) -> GraphBuilder:
        """A runtime conditional's branch: named like the code around it (under its
        label's `segment`), its ids unique together with the enclosing graph's."""
        inner = GraphBuilder(self.path[0], self.registry, self.depth + 1, self.taken)
        inner.path = self.path + ([segment] if segment else [])
        inner.namespace = self.namespace
        return inner

    # --- ids ------------------------------------------------------------------------

    def reserve(self, base: str, explicit, span, claim: bool = False) -> str:
        """A fresh id for a node: `:id` relative to the scope, else from the position.
        A node with nested graphs (`claim`) takes the name of the binding it is the
        first node of; steps take it when the binding ends (`adopt`)."""
        bare = "/".join(self.path)
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit or "/" in explicit:
                raise WlispError.at("W0306", "`:id` must be a non-empty string without `/`",
                                    span)
            nid = f"{self.namespace}/{str.__str__(explicit)}"
            if nid in self.taken:
                first = self.registry.get(nid)
                raise WlispError.at("W0304", f"duplicate id `{nid}` in this scope", span,
                                    ("the first one is here", first and first.span))
            self.explicit.add(nid)
        elif claim and self._claimable():
            nid = self._free(bare)
            self.claims[-1][1] = True
        else:
            nid = self._free(bare + "/" + base)
        self.ids.add(nid)
        self.taken.add(nid)
        return nid

    def _claimable(self) -> bool:
        """The open binding's name is still to give (to its first node)."""
        return bool(self.claims) and not self.claims[-1][1] and \
            self.claims[-1][0] == self.path[-1]

    def _free(self, stem: str) -> str:
        """`stem`, or `stem#2`, `stem#3` ... when a node of the scope has it."""
        nid, n = stem, 1
        while nid in self.taken:
            n += 1
            nid = f"{stem}#{n}"
        return nid

    def release(self, nid: str) -> None:
        """Give back an id reserved for a node that turned out not to be needed."""
        self.ids.discard(nid)
        self.taken.discard(nid)
        bare = "/".join(self.path)
        if self.claims and (nid == bare or nid.startswith(bare + "#")):
            self.claims[-1][1] = False

    @contextmanager
    def named(self, name: str):
        """Nodes created inside are named after a `let` binding."""
        self.path.append(name)
        self.claims.append([name, False])
        try:
            yield
        finally:
            self.path.pop()
            self.claims.pop()

    def adopt(self, nid: str) -> str | None:
        """Give the open binding's name to the step `nid` that is its value: the new
        id, or None when it keeps its own (an explicit `:id`, the name taken, a node
        with nested graphs, or a later node of the binding already reading it)."""
        bare = "/".join(self.path)
        draft = self.registry.get(nid)
        if draft is None or nid not in self.ids or nid in self.explicit or \
                not self._claimable() or nid.rpartition("/")[0] != bare or \
                NESTING[draft.kind] or nid in self.barrier:
            return None
        later = self.nodes[self.nodes.index(draft) + 1:]
        if any(nid in self.deps[n.id] for n in later):
            return None
        name = self._free(bare)
        for names in (self.ids, self.taken):
            names.discard(nid)
            names.add(name)
        self.registry[name] = self.registry.pop(nid)
        self.deps[name] = self.deps.pop(nid)
        draft.id = name
        self.claims[-1][1] = True
        return name

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
