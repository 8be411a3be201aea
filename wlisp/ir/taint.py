"""Quarantine as taint over a WorkflowSpec (SPEC §7, §12).

A `:trust :quarantined` step reads untrusted text. Its raw text (`output`, `error`,
`session-id`, `finish-reason`, an unvalidated `structured`) must never reach a
prompt, a routing decision or the workflow's result; the fields of its
schema-validated `structured` answer may (an enum or a number is the safe channel,
a free string a visible, deliberate crossing). Steps whose execution such a step
chooses run quarantined themselves.

The check runs over the compiled graph, not per form, so one rule covers every form
that lowers to it (`if`, `cond`, `case`, `map`, `try`, workflow calls, macros ...):
each value is given a `Taint`, computed from the node kinds and the expression
vocabulary alone. Unknown shapes are treated as text (over-approximated), never as
clean. Both the compiler and the spec loader run it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Diagnostic
from .nodes import Graph, Node, node_refs
from .vocabulary import WRITE_ISOLATION

# outcome fields that hold the agent's own text; other outcome fields are ours
RAW_FIELDS = frozenset({"output", "error", "session-id", "session_id", "finish-reason",
                        "finish_reason"})
META_FIELDS = frozenset({"success", "agent", "task-id", "task_id", "usage"})
# builtins that return one item of their first argument, or a part of it
ITEM_OF = frozenset({"first", "last", "nth"})
PART_OF = frozenset({"rest", "distinct", "sort", "concat", "conj", "filter"})
NONE: frozenset = frozenset()
FIXPOINT_PASSES = 8  # loop variables settle in two or three; then everything is text


@dataclass(frozen=True, slots=True)
class Taint:
    """What quarantined steps a value carries: `raw` their text, `infl` only their
    choices. `steps` marks the outcome of one of these quarantined steps (its fields
    differ: validated answers are clean); `elem` describes the items of a sequence."""

    raw: frozenset = NONE
    infl: frozenset = NONE
    steps: frozenset = NONE
    validated: bool = False
    elem: Taint | None = None

    def flat(self) -> Taint:
        """The value as text (a prompt renders an outcome as its output)."""
        if not self.steps and self.elem is None:
            return self
        raw, infl = self.raw | self.steps, self.infl | self.steps
        if self.elem is not None:
            e = self.elem.flat()
            raw |= e.raw
            infl |= e.infl
        return Taint(frozenset(raw), frozenset(infl))

    def ids(self) -> frozenset:
        f = self.flat()
        return f.raw | f.infl

    def chosen_by(self, ids: frozenset) -> Taint:
        if not ids or ids <= self.infl:
            return self
        return Taint(self.raw, self.infl | ids, self.steps, self.validated, self.elem)

    def join(self, other: Taint) -> Taint:
        if self == other or other is CLEAN:
            return self
        if self is CLEAN:
            return other
        raw, infl = self.raw | other.raw, self.infl | other.infl
        if self.elem is None is other.elem:  # either value, or the outcome of a step
            steps = self.steps | other.steps
            validated = (self.validated or not self.steps) and \
                (other.validated or not other.steps)
            return Taint(raw, infl, steps, validated and bool(steps))
        if not self.steps and not other.steps:  # a sequence, or a value without items
            elem = self.elem.join(other.elem) if self.elem and other.elem else \
                self.elem or other.elem
            return Taint(raw, infl, elem=elem)
        a, b = self.flat(), other.flat()
        return Taint(a.raw | b.raw, a.infl | b.infl)

    def field(self, key) -> Taint:
        """The taint of `value.key` (or `(get value key)`)."""
        if self.steps:
            key = key[1:] if isinstance(key, str) and key.startswith(":") else key
            own = self.steps
            if key in RAW_FIELDS or (key not in META_FIELDS and not self.validated):
                return Taint(self.raw | own, self.infl | own)
            return Taint(self.raw, self.infl | own)
        if self.elem is not None:
            return self.item()
        return self

    def item(self) -> Taint:
        """The taint of one item of this sequence."""
        if self.elem is None:
            return self.flat()
        return self.elem.chosen_by(self.raw | self.infl).join(Taint(self.raw, self.infl))


CLEAN = Taint()


def seq_of(item: Taint, shape: Taint = CLEAN) -> Taint:
    """A sequence of items like `item`; `shape` is what chose its length and order."""
    s = shape.flat()
    return Taint(s.raw, s.infl, elem=item)


class Analysis:
    """One pass over a spec: taints of node values, problems found, spawns that must
    run quarantined because a quarantined value chose them."""

    def __init__(self, spec):
        self.spec = spec
        self.values: dict[str, Taint] = {}
        self.spans: dict = {}
        self.problems: dict[tuple, Diagnostic] = {}
        self.marked: list[Node] = []
        self.settled: dict[str, tuple[Taint, frozenset]] = {}  # loop id -> (var, chosen)
        self.at = None  # the span of the node being read: where a problem is shown
        # node visits allowed: loops are read until their variable settles, so loops
        # nested deep over quarantined values could otherwise take exponential time
        self.budget = 100_000 + 50 * sum(1 for _ in spec.walk())

    # --- reporting ---------------------------------------------------------------------

    def report(self, what: str, taint: Taint, span) -> None:
        step = sorted(taint.flat().raw)[0]
        key = (what, step)
        if key in self.problems:
            return
        notes = [(f"`{step}` is the quarantined step", self.spans.get(step))]
        notes.append(("only the fields of its `:returns` answer may cross: `r.field` "
                      "rather than `r.output`", None))
        self.problems[key] = Diagnostic(
            "W0401", f"{what} carries raw text of quarantined step `{step}`", span, notes)

    def sink(self, what: str, taint: Taint, span=None) -> None:
        if taint.flat().raw:
            self.report(what, taint, span or self.at)

    # --- graphs and nodes --------------------------------------------------------------

    def run(self) -> None:
        for a in self.spec.agents.values():
            if isinstance(a, dict) and a.get("trust") == "quarantined" and \
                    a.get("isolation") in WRITE_ISOLATION:
                self.problems[("agent", a.get("name"))] = Diagnostic(
                    "W0407", f"quarantined agent `{a.get('name')}` has write isolation "
                    f"`{a.get('isolation')}`; a quarantined agent must be `:read-only`",
                    self.spec.span)
        result = self.graph(self.spec.graph, {}, NONE)
        self.sink("the workflow's result", result, self.spec.span)

    def graph(self, g: Graph, scope: dict, ctx: frozenset) -> Taint:
        self.budget -= len(g.nodes) + 1
        if self.budget < 0:
            raise _GaveUp
        for node in _in_order(g):
            self.spans[node.id] = self.at = node.span
            self.values[node.id] = self.node(node, scope, ctx).chosen_by(ctx)
        return self.expr(g.result, scope).chosen_by(ctx)

    def node(self, node: Node, scope: dict, ctx: frozenset) -> Taint:
        return getattr(self, "node_" + node.kind)(node, scope, ctx)

    def node_spawn(self, node, scope, ctx) -> Taint:
        self.sink(f"the prompt of step `{node.id}`", self.expr(node.prompt, scope), node.span)
        agent = self.spec.agents.get(node.agent)
        # a source reads untrusted text: its agent or the step says so; a step that is
        # only chosen by quarantined values runs quarantined but its text is its own
        source = (isinstance(agent, dict) and agent.get("trust") == "quarantined") or (
            node.trust == "quarantined" and not node.chosen_by)
        if node.session is not None and not source:  # its conversation comes along
            self.sink(f"the session step `{node.id}` continues",
                      self.expr(node.session, scope), node.span)
        if ctx and not source and (node.trust, node.chosen_by) != ("quarantined",
                                                                   sorted(ctx)):
            node.trust, node.chosen_by = "quarantined", sorted(ctx)
            self.marked.append(node)
        if not source:
            return CLEAN
        return Taint(infl=frozenset({node.id}), steps=frozenset({node.id}),
                     validated=node.returns is not None)

    def node_value(self, node, scope, ctx) -> Taint:
        return self.expr(node.expr, scope)

    def node_human(self, node, scope, ctx) -> Taint:
        self.expr(node.prompt, scope)  # a person may read untrusted text; not a sink
        return CLEAN

    def node_fail(self, node, scope, ctx) -> Taint:
        # the message becomes the error a `:catch` handler or the caller reads
        self.sink(f"the message of `{node.id}`", self.expr(node.message, scope), node.span)
        return CLEAN

    def node_loop(self, node, scope, ctx) -> Taint:
        # start where this loop settled last time (an enclosing loop reads its body again):
        # taints only grow, so nested loops settle in one more pass each, not 2^depth
        var, chosen = self.settled.get(node.id, (CLEAN, NONE))
        var, result, before = var.join(self.expr(node.init, scope)), CLEAN, chosen
        for _ in range(FIXPOINT_PASSES):
            inner = {**scope, (node.id, node.var): var}
            result = self.graph(node.body, inner, ctx | chosen)
            if node.until is not None:
                test = self.call_fn(node.until, [result], scope)
                self.sink(f"the `:until` test of loop `{node.id}`", test, node.span)
                chosen = chosen | test.ids()
            joined = var.join(result)
            if joined == var and chosen == before:
                break
            var, before = joined, chosen
        else:
            var = var.flat()
        self.settled[node.id] = (var, chosen)
        return var.join(result).chosen_by(chosen)

    def node_classify(self, node, scope, ctx) -> Taint:
        on = self.expr(node.on, scope)
        if node.mode == "agent":
            decision = on.field("label")
        else:
            decision = on
            self.sink(f"the routing decision of `{node.id}`", on, node.span)
        chosen = ctx | decision.ids()
        value = CLEAN
        for b in node.branches or ():
            value = value.join(self.graph(b.body, scope, chosen))
        if node.otherwise is not None:
            value = value.join(self.graph(node.otherwise, scope, chosen))
        return value.chosen_by(decision.ids())

    def node_tournament(self, node, scope, ctx) -> Taint:
        entrants = self.expr(node.entrants, scope)
        entrant, chosen = entrants.item(), ctx | entrants.ids()
        inner = {**scope, **{(node.id, p): entrant for p in node.judge.params}}
        verdict = self.graph(node.judge, inner, chosen)
        return entrant.chosen_by(chosen | verdict.ids())

    def node_map(self, node, scope, ctx) -> Taint:
        if node.body is not None:
            items = self.expr(node.items, scope)
            shape = items.flat() if items.elem is None else Taint(items.raw, items.infl)
            inner = {**scope, (node.id, node.var): items.item()}
            for p in node.body.params:
                inner[(node.id, p)] = items.item()
            body = self.graph(node.body, inner, ctx | shape.raw | shape.infl)
            return seq_of(body, shape)
        value = CLEAN
        for g in node.bodies or ():
            value = value.join(self.graph(g, scope, ctx))
        return seq_of(value)

    def node_pipeline(self, node, scope, ctx) -> Taint:
        if node.stages is not None:
            items = self.expr(node.items, scope)
            shape = items.flat() if items.elem is None else Taint(items.raw, items.infl)
            chosen = ctx | shape.raw | shape.infl
            prev = CLEAN
            for g in node.stages:
                inner = {**scope, (node.id, "item"): items.item(), (node.id, "prev"): prev}
                prev = self.graph(g, inner, chosen)
            return seq_of(prev, shape)
        value = CLEAN
        for chain in node.chains or ():
            prev = CLEAN
            for g in chain:
                prev = self.graph(g, {**scope, (node.id, "prev"): prev}, ctx)
            value = value.join(prev)
        return seq_of(value)

    def node_try(self, node, scope, ctx) -> Taint:
        body = self.graph(node.body, scope, ctx)
        if node.catch is None:
            return body
        # the error may quote any text seen inside the body (a refused answer, a
        # failed parse), and which errors happen is chosen by what ran there
        inside = body.ids() | self.ids_within(node.body)
        err = Taint(inside, inside)
        caught = self.graph(node.catch, {**scope, (node.id, node.var): err}, ctx | inside)
        return body.join(caught)

    def ids_within(self, g: Graph) -> frozenset:
        out: set = set()
        stack = [g]
        while stack:
            graph = stack.pop()
            for n in graph.nodes:
                t = self.values.get(n.id)
                if t is not None:
                    out |= t.ids()
                stack.extend(n.graphs())
        return frozenset(out)

    # --- expressions -------------------------------------------------------------------

    def expr(self, e, scope: dict) -> Taint:
        if type(e) is not dict:
            return CLEAN
        if "ref" in e:
            return self.values.get(e["ref"], CLEAN)
        if "info" in e:
            return self.values.get(e["info"], CLEAN).flat()
        if "var" in e:
            return scope.get((e.get("in", ""), e["var"]), CLEAN)
        if "get" in e:
            t = self.expr(e["get"], scope)
            for key in e["path"]:
                t = t.field(key)
            return t
        if "vec" in e:
            item = CLEAN
            for x in e["vec"]:
                item = item.join(self.expr(x, scope))
            return seq_of(item)
        if "map" in e:
            return _flat_join(self.expr(v, scope) for _, v in e["map"])
        if "call" in e:
            return self.call(e["call"], e["args"], scope)
        if "fn" in e:  # a function value: what it can return with unknown arguments
            return self.expr(e["fn"]["body"], scope).flat()
        if "if" in e:
            test, then, other = e["if"]
            t = self.expr(test, scope)
            self.sink("a routing decision (`if`, `cond`, `case`)", t)
            return self.expr(then, scope).join(self.expr(other, scope)).chosen_by(t.ids())
        if "and" in e or "or" in e:
            value = CLEAN
            for x in e.get("and", e.get("or")):
                value = value.join(self.expr(x, scope))
            return value
        return CLEAN  # lit, input

    def call(self, name: str, args: list, scope: dict) -> Taint:
        fns = [a for a in args if type(a) is dict and "fn" in a]
        values = [self.expr(a, scope) for a in args if not (type(a) is dict and "fn" in a)]
        if name in ("get", "get-in") and len(args) >= 2 and not fns:
            path = args[1].get("lit", args[1].get("vec")) if type(args[1]) is dict \
                else [args[1]]
            if name == "get-in" and isinstance(path, list) and \
                    all(not isinstance(k, dict) for k in path):
                t = values[0]
                for k in path:
                    t = t.field(k)
                return t
            if name == "get" and not isinstance(args[1], dict):
                return values[0].field(args[1])
            return _flat_join(values)
        if name in ITEM_OF and values and not fns:
            return values[0].item().join(_flat_join(values[1:]))
        if name == "map" and fns and values:
            items = values[-1]
            return seq_of(self.call_fn(fns[0], [items.item()], scope), _shape(items))
        if name in PART_OF or (name == "filter" and fns):
            item, shape = CLEAN, CLEAN
            for v in values:
                item, shape = item.join(v.item()), shape.join(_shape(v))
            for f in fns:  # a predicate chooses which items stay
                shape = shape.join(self.call_fn(f, [item] * 3, scope).flat())
            return seq_of(item, shape)
        for f in fns:
            values.append(self.call_fn(f, [_flat_join(v.item() for v in values)] * 3, scope))
        return _flat_join(values)

    def call_fn(self, f, args: list, scope: dict) -> Taint:
        """What a function expression returns for arguments of these taints."""
        if not (type(f) is dict and "fn" in f):
            return _flat_join([self.expr(f, scope), *args])
        fn = f["fn"]
        inner = dict(scope)
        for i, p in enumerate(fn["params"]):
            inner[(fn.get("in", ""), p)] = args[i] if i < len(args) else _flat_join(args)
        return self.expr(fn["body"], inner)


def _shape(t: Taint) -> Taint:
    return t.flat() if t.elem is None else Taint(t.raw, t.infl)


def _flat_join(taints) -> Taint:
    raw, infl = set(), set()
    for t in taints:
        f = t.flat()
        raw |= f.raw
        infl |= f.infl
    return Taint(frozenset(raw), frozenset(infl)) if raw or infl else CLEAN


def _in_order(g: Graph) -> list[Node]:
    """The graph's nodes with every node after those it reads (as the compiler emits
    them; a spec written by hand may list them in any order)."""
    ids = {n.id for n in g.nodes}
    seen: set = set()
    for n in g.nodes:
        refs: set = set()
        node_refs(n, refs)
        if (refs & ids) - seen:
            return _topological(g, ids)
        seen.add(n.id)
    return g.nodes


def _topological(g: Graph, ids: set) -> list[Node]:
    deps = {}
    for n in g.nodes:
        refs: set = set()
        node_refs(n, refs)
        deps[n.id] = (refs | set(n.after)) & ids
    by_id, out, done = {n.id: n for n in g.nodes}, [], set()
    while len(out) < len(g.nodes):
        ready = [i for i in by_id if i not in done and deps[i] <= done]
        if not ready:  # a cycle: the validator reports it
            return g.nodes
        for i in ready:
            done.add(i)
            out.append(by_id[i])
    return out


def _has_sources(spec) -> bool:
    if any(isinstance(a, dict) and a.get("trust") == "quarantined"
           for a in spec.agents.values()):
        return True
    return any(n.kind == "spawn" and n.trust == "quarantined" and not n.chosen_by
               for n, _ in spec.walk())


class _GaveUp(Exception):
    pass


def check(spec) -> tuple[list[Diagnostic], list[Node]]:
    """The quarantine problems of `spec`, and the spawns it marked quarantined (their
    `trust` is set, so the spec shows and the runtime enforces it)."""
    if not _has_sources(spec):  # nothing can carry taint: the common case, kept cheap
        return [], []
    analysis = Analysis(spec)
    try:
        analysis.run()
    except _GaveUp:
        return [Diagnostic("W0405", "loops nest too deeply over quarantined values to check "
                           "where their text goes; flatten the loops", spec.span)], []
    return list(analysis.problems.values()), analysis.marked
