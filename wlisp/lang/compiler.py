"""Workflow forms → WorkflowSpec nodes (SPEC §4).

`Compiler` extends the compile-time evaluator with the forms that create
nodes. Nodes go into the current `GraphBuilder`; control forms (loop,
classify, map, tournament, pipeline, try) open nested builders for their
bodies. Ids come from the lexical position: the workflow, `let` binding
names, then the agent or node kind (`main/review/reviewer`), with `#2`, `#3`
for repeats in one scope and `[i]`, `@k` for map items and loop iterations.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import Span, WlispError, did_you_mean
from ..ir.spec import Branch, Graph, Node
from ..values import builtins as B
from ..values.datum import Keyword, Map, Symbol, Vector, pr_str
from .evaluator import (
    OUTCOME_FIELDS,
    POISON,
    SPECIAL,
    Env,
    Evaluator,
    Fn,
    Macro,
    NotPure,
    Ref,
    has_ref,
    merge_refs,
    refs_in,
)
from .types import fields_of

ROLES = {"explore": ("read-only", "system-only"), "verify": ("read-only", "none"),
         "plan": ("shared", "full"), "implement": ("worktree", "full"),
         "custom": ("shared", "none")}
ISOLATION = ("shared", "read-only", "worktree", "remote")
CONTEXT = ("none", "system-only", "full")
TRUST = ("trusted", "quarantined")
JOIN_THRESHOLD = 8  # above this many predecessors, a sequence point gets a join node
WINNER_SCHEMA = {"type": "object", "properties": {"winner": {"enum": ["a", "b"]}},
                 "required": ["winner"], "additionalProperties": False}


class Agent:
    type_name = "agent"

    def __init__(self, name: str, config: dict, span: Span | None):
        self.name, self.config, self.span = name, config, span

    def pr_str(self) -> str:
        return f"#<agent {self.name}>"


class Tool:
    type_name = "tool"

    def __init__(self, name: str, config: dict, span: Span | None):
        self.name, self.config, self.span = name, config, span

    def pr_str(self) -> str:
        return f"#<tool {self.name}>"


class WorkflowDef:
    type_name = "workflow"

    def __init__(self, name, params, opts, body, env, span):
        self.name, self.params, self.opts = name, params, opts
        self.body, self.env, self.span = body, env, span

    def pr_str(self) -> str:
        return f"#<workflow {self.name}>"


class GraphBuilder:
    """Collects the nodes of one graph while its forms are evaluated."""

    def __init__(self, prefix: str, quarantine: bool = False):
        self.prefix = prefix
        self.nodes: list[Node] = []
        self.ids: set[str] = set()
        self.path: list[str] = [prefix]
        self.namespace = prefix
        self.barrier: list[str] = []
        self.deps: dict[str, frozenset] = {}
        self.quarantine = quarantine

    def free(self, extra=()) -> set[str]:
        """Node ids this graph reads from enclosing graphs."""
        out = set(extra)
        for d in self.deps.values():
            out |= d
        return out - self.ids

    def graph(self, result, params=()) -> Graph:
        return Graph(self.nodes, result, list(params))


class Compiler(Evaluator):
    def __init__(self, sources=None):
        super().__init__(sources)
        self.builder: GraphBuilder | None = None
        self.node_kinds: dict[str, str] = {}
        self.nodes_by_id: dict[str, Node] = {}
        self.used_agents: dict[str, Agent] = {}
        self.used_schemas: dict[str, dict] = {}
        self.tools_defined: dict[str, Tool] = {}
        self.workflows: dict[str, WorkflowDef] = {}
        self.allow_redefine = False  # the REPL redefines freely; a file may not

    # --- building nodes ---------------------------------------------------------

    def require_builder(self, what: str, span) -> GraphBuilder:
        if self.pure:
            raise NotPure(span)
        if self.builder is None:
            raise self.error("W0406", f"`{what}` creates a step, which only a workflow body can "
                             "do: call it from a `defworkflow`", span)
        return self.builder

    def reserve(self, base: str, explicit, span) -> str:
        b = self.builder
        if explicit is not None:
            if not isinstance(explicit, str) or not explicit or "/" in explicit:
                raise self.error("W0306", "`:id` must be a non-empty string without `/`", span)
            nid = f"{b.namespace}/{str.__str__(explicit)}"
            if nid in b.ids:
                raise self.error("W0304", f"duplicate id `{nid}` in this scope", span,
                                 ("the first one is here", self.nodes_by_id.get(nid) and
                                  self.nodes_by_id[nid].span))
        else:
            stem = "/".join(b.path) + "/" + base
            nid, n = stem, 1
            while nid in b.ids:
                n += 1
                nid = f"{stem}#{n}"
        b.ids.add(nid)
        return nid

    def add_node(self, nid, kind, attrs, deps, span, after=()) -> Node:
        b = self.builder
        deps = frozenset(deps)
        order = [a for a in b.barrier if a not in deps]
        order += [a for a in after if a not in order]
        node = Node(nid, kind, attrs, order, span)
        b.nodes.append(node)
        b.deps[nid] = deps | frozenset(order)
        self.node_kinds[nid] = kind
        self.nodes_by_id[nid] = node
        return node

    @contextmanager
    def nested(self, prefix: str, quarantine: bool = False):
        outer = self.builder
        inner = GraphBuilder(prefix, quarantine or bool(outer and outer.quarantine))
        self.builder = inner
        try:
            yield inner
        finally:
            self.builder = outer

    @contextmanager
    def binding_scope(self, pattern):
        b = self.builder
        if b is None:
            yield
            return
        name = pattern.name if isinstance(pattern, Symbol) else \
            next((p.name for p in pattern if isinstance(p, Symbol)), "_")
        b.path.append(name)
        try:
            yield
        finally:
            b.path.pop()

    def node_count(self) -> int:
        return len(self.builder.nodes) if self.builder else 0

    def eval_body(self, forms, env):
        """Body forms run in order: each form's steps wait for the previous form's."""
        b = self.builder
        if b is None or len(forms) < 2:
            return super().eval_body(forms, env)
        saved, result = b.barrier, None
        try:
            for i, form in enumerate(forms):
                start = len(b.nodes)
                result = self.guarded(self.eval, form, env)
                if i < len(forms) - 1 and len(b.nodes) > start:
                    b.barrier = self.sequence_point(b, start)
        finally:
            b.barrier = saved
        return result

    def sequence_point(self, b: GraphBuilder, start: int) -> list[str]:
        new = b.nodes[start:]
        used = set()
        for n in new:
            used |= b.deps[n.id]
        sinks = [n.id for n in new if n.id not in used]
        if len(sinks) <= JOIN_THRESHOLD:
            return sinks
        nid = self.reserve("join", None, None)
        node = Node(nid, "value", {"expr": None}, sinks, new[-1].span)
        b.nodes.append(node)
        b.deps[nid] = frozenset(sinks)
        self.node_kinds[nid] = "value"
        return [nid]

    def ref_to(self, nid, kind="value", schema=None, quarantined=False, raw=None,
               deps=frozenset()) -> Ref:
        return Ref({"ref": nid}, frozenset({nid}) | deps, kind, nid, schema, quarantined, raw)

    # --- runtime access checks --------------------------------------------------

    def runtime_get(self, ref: Ref, path, sym) -> Ref:
        key = path[0]
        out = merge_refs({"get": ref.expr, "path": list(path)}, [ref])
        if out.raw is not None and out.raw_use is None:
            out.raw_use = sym.span
        if ref.kind != "outcome":
            return out
        if key in OUTCOME_FIELDS:
            if key not in ("output", "error"):
                out.raw = None
            return out
        fields = fields_of(ref.schema)
        head = sym.name.split(".")[0]
        step = f"`{head}` (step `{ref.node}`)" if ref.node else f"`{head}`"
        if ref.schema is None:
            raise self.error("W0206", f"{step} has no `:returns` schema, so it has no field "
                             f"`{key}`; read `.output`, or declare `:returns`", sym.span,
                             (f"outcome fields: {', '.join(OUTCOME_FIELDS)}", None))
        if fields is not None and key not in fields:
            raise self.error("W0206", f"{step} has no field `{key}`"
                             + did_you_mean(key, fields + list(OUTCOME_FIELDS)), sym.span,
                             (f"its :returns fields are: {', '.join(fields)}", None))
        out.raw = None
        return out

    def check_prompt(self, value, span, what="prompt"):
        """Prompts are strings; runtime values render as text, raw quarantine is refused."""
        if isinstance(value, str):
            return str.__str__(value)
        if value is None:
            return ""
        if isinstance(value, Ref) or has_ref(value):
            raw = value.raw if isinstance(value, Ref) else \
                next((r.raw for r in refs_in(value) if r.raw), None)
            if raw is not None:
                use = value.raw_use if isinstance(value, Ref) else \
                    next((r.raw_use for r in refs_in(value) if r.raw), None)
                raise self.error("W0401", f"this {what} uses the raw output of a quarantined "
                                 "step; use its validated `:returns` fields instead",
                                 use or span, ("the quarantined step is here", raw))
            expr = self.to_expr(value, span)
            if isinstance(expr, dict) and expr.get("call") == "str":
                return expr
            return {"call": "str", "args": [expr]}
        if isinstance(value, (int, float, Keyword, Vector, Map)):
            try:
                return B.render(value)
            except B.BuiltinError as exc:  # e.g. a vector holding a function
                raise self.error("W0303", f"a {what} must be text: {exc}", span) from None
        raise self.error("W0303", f"a {what} must be a string, got a {B.type_name(value)}", span)

    # --- conditionals on runtime values ------------------------------------------

    def runtime_branches(self, value: Ref, kind, clauses, default, form, env):
        if self.pure:
            return self.pure_branches(value, kind, clauses, default, form, env)
        self.require_builder("if", form.span)
        cid = self.reserve("classify", None, form.span)
        on = {"call": "boolean", "args": [value.expr]} if kind == "if" else value.expr
        branches, frees, results = [], set(), []
        for label, body in clauses:
            seg = "then" if kind == "if" else _label_segment(label)
            g, free, res = self.branch_graph(f"{cid}/{seg}", body, env, value.quarantined)
            branches.append(Branch(True if kind == "if" else self.to_expr(label), g))
            frees |= free
            results.append(res)
        otherwise = None
        if default or kind == "if":  # a `case` without :else fails on no match
            otherwise, free, res = self.branch_graph(f"{cid}/else", default, env,
                                                     value.quarantined)
            frees |= free
            results.append(res)
        self.add_node(cid, "classify", {"on": on, "mode": "expr", "branches": branches,
                                        "otherwise": otherwise}, value.deps | frees, form.span)
        return self.ref_to(cid, quarantined=value.quarantined or any(
            r.quarantined for res in results for r in refs_in(res)))

    def branch_graph(self, prefix, body, env, quarantine):
        with self.nested(prefix, quarantine) as b:
            self.call_stack.append("branch")
            try:
                res = self.eval_body(body, Env(env))
            finally:
                self.call_stack.pop()
        result = self.to_expr(res, None)
        deps = set().union(*(r.deps for r in refs_in(res))) if has_ref(res) else set()
        return b.graph(result), b.free(deps), res

    def pure_branches(self, value, kind, clauses, default, form, env):
        otherwise = self.eval_body(default, Env(env)) if default else None
        expr = self.to_expr(otherwise, form.span)
        parts = [value] + list(refs_in(otherwise))
        for label, body in reversed(clauses):
            res = self.eval_body(body, Env(env))
            test = {"call": "boolean", "args": [value.expr]} if kind == "if" else \
                {"call": "=", "args": [value.expr, self.to_expr(label)]}
            expr = {"if": [test, self.to_expr(res, form.span), expr]}
            parts.extend(refs_in(res))
        return merge_refs(expr, parts)

    # --- map over collections ------------------------------------------------------

    def apply_builtin(self, name, args, form):
        if name == "map" and len(args) == 4 and args[2] == Keyword("limit"):
            return self.compile_map(args[0], args[1], args[3], form)
        if name == "map" and len(args) == 2:
            return self.compile_map(args[0], args[1], None, form)
        return super().apply_builtin(name, args, form)

    def compile_map(self, f, coll, limit, form):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise self.error("W0306", f"`:limit` must be an integer >= 1, got {pr_str(limit)}",
                             form.span_at(4))
        if not isinstance(f, Fn) or isinstance(f, Macro):
            return super().apply_builtin("map", [f, coll], form)
        if isinstance(coll, Ref):
            return self.runtime_map(f, coll, limit, form)
        try:
            items = B._seq(coll)
        except B.BuiltinError as exc:
            raise self.error("W0303", f"`map`: {exc}", form.span_at(2)) from None
        if self.builder is None or self.pure:
            return Vector(self.call_value(f, [x], form.span) for x in items)
        mid = self.reserve("map", None, form.span)
        bodies, values, frees, any_nodes = [], [], set(), False
        for i, item in enumerate(items):
            with self.nested(f"{mid}[{i}]") as b:
                v = self.call_fn(f, [item], form)
            deps = set().union(*(r.deps for r in refs_in(v))) if has_ref(v) else set()
            any_nodes = any_nodes or bool(b.nodes)
            bodies.append(b.graph(self.to_expr(v, form.span)))
            frees |= b.free(deps)
            values.append(v)
        if any(v is POISON for v in values):  # reported already; do not cascade
            return POISON
        if not any_nodes:
            self.builder.ids.discard(mid)
            return Vector(values)
        self.add_node(mid, "map", {"bodies": bodies, "limit": limit}, frees, form.span)
        return self.ref_to(mid, quarantined=any(r.quarantined for v in values
                                                for r in refs_in(v)))

    def runtime_map(self, f: Fn, coll: Ref, limit, form):
        if self.builder is not None and not self.pure:
            self.pure += 1
            try:
                return super().apply_higher("map", [f, coll], form, True)
            except NotPure:
                pass
            finally:
                self.pure -= 1
        self.require_builder("map", form.span)
        mid = self.reserve("map", None, form.span)
        var = next((p.name for p in f.params if isinstance(p, Symbol)), "item")
        item = Ref({"var": var, "in": mid}, quarantined=coll.quarantined)
        with self.nested(mid, coll.quarantined) as b:
            v = self.call_fn(f, [item], form)
        deps = set().union(*(r.deps for r in refs_in(v))) if has_ref(v) else set()
        self.add_node(mid, "map", {"items": coll.expr, "var": var,
                                   "body": b.graph(self.to_expr(v, form.span)),
                                   "limit": limit}, coll.deps | b.free(deps), form.span)
        return self.ref_to(mid)

    # --- calls of workflows ------------------------------------------------------------

    def apply(self, f, args, form):
        if isinstance(f, WorkflowDef):
            return self.inline_workflow(f, args, form)
        return super().apply(f, args, form)

    def inline_workflow(self, wf: WorkflowDef, args, form):
        if len(args) != len(wf.params):
            raise self.error("W0301", f"workflow `{wf.name}` takes {len(wf.params)} "
                             f"argument(s), got {len(args)}", form.span,
                             (f"`{wf.name}` is defined here", wf.span))
        b = self.require_builder(wf.name, form.span)
        env = Env(wf.env)
        for p, a in zip(wf.params, args, strict=True):
            self.bind(p, a, env)
        saved_path, saved_ns = list(b.path), b.namespace
        b.path.append(wf.name)
        b.namespace = "/".join(b.path)
        if wf in self.call_stack:
            raise self.error("W0402", f"workflow `{wf.name}` calls itself", form.span)
        self.call_stack.append(wf)
        try:
            return self.eval_body(wf.body, env)
        finally:
            self.call_stack.pop()
            b.path, b.namespace = saved_path, saved_ns

    # --- entry points --------------------------------------------------------------------

    def compile_expression(self, forms, env: Env, name: str = "repl", span=None):
        """Evaluate forms as an ad-hoc workflow body (the REPL's entry point).

        Returns (value, None) when they computed a value at compile time, or
        (None, spec) when they created steps or depend on runtime values.
        """
        wf = WorkflowDef(name, (), {}, tuple(forms), env, span)
        before = len(self.diagnostics)
        value, graph = self._evaluate(wf)
        if len(self.diagnostics) > before:
            raise WlispError(self.diagnostics[before:])
        if not graph.nodes and not has_ref(value):
            return value, None
        return None, self._spec(wf, graph)

    def compile_workflow(self, wf: WorkflowDef):
        return self._spec(wf, self._evaluate(wf)[1])

    def _evaluate(self, wf: WorkflowDef):
        """Evaluate a workflow body into (its compile-time value, its graph)."""
        self.used_agents, self.used_schemas = {}, {}
        self.builder = GraphBuilder(wf.name)
        env = Env(wf.env)
        for p in wf.params:
            env.vars[p.name] = Ref({"input": p.name})
        try:
            value = self.eval_body(wf.body, env)
            result = self.guarded(self.to_expr, value, wf.span)
            return value, self.builder.graph(result)
        finally:
            self.builder = None

    def _spec(self, wf: WorkflowDef, graph: Graph):
        from ..ir.spec import WorkflowSpec

        agents = {name: a.config for name, a in sorted(self.used_agents.items())}
        tools = {}
        for a in self.used_agents.values():
            for t in a.config.get("tools", []):
                tools[t] = self.tools_defined[t].config
        opts = wf.opts
        return WorkflowSpec(
            name=wf.name, graph=graph, params=[p.name for p in wf.params],
            description=opts.get("description"), agents=agents, tools=tools,
            schemas=dict(sorted(self.used_schemas.items())), budget=opts.get("budget"),
            concurrency=opts.get("concurrency"), source=wf.span.file if wf.span else None,
            span=wf.span)


def _label_segment(label) -> str:
    text = B.render(label) if label is not None else "nil"
    return text.replace("/", "_") or "_"


# Workflow forms register themselves as special forms on import.
from .forms import declarations as _declarations  # noqa: E402,F401
from .forms import steps as _forms  # noqa: E402,F401

# SPECIAL is re-exported: importing this module is what registers the workflow forms
__all__ = ["Compiler", "Agent", "Tool", "WorkflowDef", "GraphBuilder", "SPECIAL"]
