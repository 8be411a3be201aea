"""Workflows: their definitions, calls between them, and the compilation of one into
a WorkflowSpec (SPEC §4, §5).

Compiling a workflow evaluates its body in graph mode: its parameters are
runtime references to the run's inputs, step forms add node drafts, and the
body's value becomes the graph's result. The drafts are emitted as IR once the
whole body has been evaluated.
"""

from __future__ import annotations

from ..errors import Span, WlispError
from ..ir import taint
from ..ir.inputs import schema_mismatch
from ..ir.spec import WorkflowSpec
from ..values.builtins import to_json
from ..values.datum import Map
from .builder import GraphBuilder, GraphDraft
from .evaluator import Evaluator
from .values import Env, Ref, has_ref


class WorkflowDef:
    type_name = "workflow"

    def __init__(self, name, params, opts, body, env, span, inputs=None):
        self.name, self.params, self.opts = name, params, opts
        self.body, self.env, self.span = body, env, span
        self.inputs = inputs or {}  # typed parameters: name -> {"type": schema, "default"}

    def pr_str(self) -> str:
        return f"#<workflow {self.name}>"


def inline_workflow(ev: Evaluator, wf: WorkflowDef, args, form):
    """Calling a workflow from another inlines it as a sub-graph with its own id
    namespace (`main/review/...` for a call of `review` from `main`)."""
    if len(args) != len(wf.params):
        raise ev.error("W0301", f"workflow `{wf.name}` takes {len(wf.params)} "
                       f"argument(s), got {len(args)}", form.span,
                       (f"`{wf.name}` is defined here", wf.span))
    graph = ev.step_graph(wf.name, form.span)
    if wf in ev.call_stack:
        raise ev.error("W0402", f"workflow `{wf.name}` calls itself", form.span)
    env = Env(wf.env)
    for p, a in zip(wf.params, args, strict=True):
        ev.bind(p, a, env)
    ev.call_stack.append(wf)
    try:
        with graph.namespace_of(wf.name):
            value = ev.eval_body(wf.body, env)
    finally:
        ev.call_stack.pop()
    returns = wf.opts.get("returns")
    return value if returns is None else typed_result(ev, wf, value, returns, form)


def typed_result(ev: Evaluator, wf: WorkflowDef, value, returns: dict, form):
    """A called workflow's value, known to be of its `:returns` type: checked now when
    it is known now, and reading a field the type does not declare is W0206."""
    if isinstance(value, Ref):
        return Ref(value.expr, value.deps, "typed", value.node, returns, value.raw,
                   value.raw_use)
    if not has_ref(value):
        problem = schema_mismatch(returns, to_json(value))
        if problem:
            raise ev.error("W0303", f"workflow `{wf.name}` returns a value not of its "
                           f"declared type: {problem}", form.span,
                           (f"`{wf.name}` is defined here", wf.span))
    if isinstance(value, Map):
        value = Map(value, span=value.span, pair_spans=value.pair_spans)
        value.declared = returns  # get_path checks the fields read
    return value


def compile_workflow(ev: Evaluator, wf: WorkflowDef) -> WorkflowSpec:
    return _spec(ev, wf, _evaluate(ev, wf)[1])


def compile_expression(ev: Evaluator, forms, env: Env, name: str = "repl",
                       span: Span | None = None):
    """Evaluate forms as an ad-hoc workflow body (the REPL's entry point).

    Returns (value, None) when they computed a value at compile time, or
    (None, spec) when they created steps or depend on runtime values.
    """
    wf = WorkflowDef(name, (), {}, tuple(forms), env, span)
    before = len(ev.diagnostics)
    value, graph = _evaluate(ev, wf)
    if len(ev.diagnostics) > before:
        raise WlispError(ev.diagnostics[before:])
    if not graph.nodes and not has_ref(value):
        return value, None
    return None, _spec(ev, wf, graph)


def _evaluate(ev: Evaluator, wf: WorkflowDef) -> tuple[object, GraphDraft]:
    """Evaluate a workflow body into (its compile-time value, its graph)."""
    ev.used_agents, ev.used_schemas = {}, {}
    ev.graph = GraphBuilder(wf.name, registry={})
    env = Env(wf.env)
    for p in wf.params:  # a typed input's schema lets `case` and dotted access check it
        env.vars[p.name] = Ref({"input": p.name},
                               schema=wf.inputs.get(p.name, {}).get("type"))
    try:
        value = ev.eval_body(wf.body, env)
        result = ev.guarded(ev.to_expr, value, wf.span)
        return value, ev.graph.close(result)
    finally:
        ev.graph = None


def _spec(ev: Evaluator, wf: WorkflowDef, graph: GraphDraft) -> WorkflowSpec:
    agents = {name: a.config for name, a in sorted(ev.used_agents.items())}
    tools = {t: ev.tools[t].config for a in ev.used_agents.values()
             for t in a.config.get("tools", [])}
    opts = wf.opts
    spec = WorkflowSpec(
        name=wf.name, graph=graph.emit(), params=[p.name for p in wf.params],
        description=opts.get("description"), agents=agents, tools=tools,
        schemas=dict(sorted(ev.used_schemas.items())), budget=opts.get("budget"),
        inputs=dict(wf.inputs), returns=opts.get("returns"),
        concurrency=opts.get("concurrency"), source=wf.span.file if wf.span else None,
        span=wf.span)
    problems = taint.check(spec)[0]  # marks the steps quarantined values choose
    if problems:
        raise WlispError(problems)
    return spec
