"""The dataflow scheduler: runs a WorkflowSpec's graphs against an executor.

Each graph instance starts a node as soon as the nodes it reads (and those it
is ordered `after`) are done. A failed node makes its dependents `skipped` and
its graph fail, which fails the owner node, unless a `try` or a `pipeline`
takes the failure as a value. Control nodes run nested graph instances; their
nodes are named by swapping the owner's static id prefix for the instance's
(`main/fix/loop/critic` → `main/fix/loop@2/critic`).
"""

from __future__ import annotations

import asyncio

from ..ir.expr import expr_refs
from ..ir.nodes import Graph, Node, node_refs
from ..values import builtins as B
from .cancel import BudgetExhausted
from .expr import ExprError, Scope, compile_expr, info_key, input_key, var_key
from .state import NodeRecord, RunState
from .steps import StepRunner
from .tournament import run_tournament

ITEM_LABELS = 200  # a run-time map's items named in its record (for `show` and the viewer)
FINAL = ("completed", "failed", "skipped", "pruned", "cancelled", "paused")


class NodePlan:
    """A node prepared once per run: its local dependencies, its compiled expressions
    (by field name) and, for a spawn, its step template."""

    __slots__ = ("node", "deps", "exprs", "template", "metadata")

    def __init__(self, node: Node, deps: list[int]):
        self.node = node
        self.deps = deps
        self.exprs: dict = {}
        self.template = self.metadata = None

    def expr(self, name: str):
        f = self.exprs.get(name)
        if f is None:
            f = self.exprs[name] = compile_expr(getattr(self.node, name))
        return f


class GraphPlan:
    """A static graph prepared once: compiled expressions and local dependencies."""

    __slots__ = ("graph", "nodes", "result", "result_deps", "sequential")

    def __init__(self, graph: Graph):
        self.graph = graph
        index = {n.id: i for i, n in enumerate(graph.nodes)}
        self.nodes = []
        for n in graph.nodes:
            refs: set = set()
            node_refs(n, refs)
            deps = {index[r] for r in refs if r in index and r != n.id}
            deps.update(index[a] for a in n.after if a in index)
            self.nodes.append(NodePlan(n, sorted(deps)))
        refs = set()
        expr_refs(graph.result, refs)
        self.result_deps = sorted(index[r] for r in refs if r in index)
        self.result = compile_expr(graph.result)
        # a chain (every node waits for the one before it) runs inline, without tasks
        self.sequential = all(i - 1 in np.deps for i, np in enumerate(self.nodes) if i)


class GraphResult:
    __slots__ = ("ok", "value", "error", "failed_node")

    def __init__(self, ok, value=None, error=None, failed_node=None):
        self.ok, self.value, self.error, self.failed_node = ok, value, error, failed_node

    @property
    def paused(self) -> bool:
        """It did not fail: it waits at a human gate (its owner waits too)."""
        return self.failed_node is not None and self.failed_node.status == "paused"

    def outcome(self, error: str | None = None):
        """(status, value, error) of an owner node whose nested graph did not finish."""
        return ("paused" if self.paused else "failed"), self.value, error or self.error


class Scheduler:
    def __init__(self, state: RunState):
        self.spec = state.spec
        self.state = state
        self.steps = StepRunner(state)
        self.plans: dict[int, GraphPlan] = {}

    def plan(self, graph: Graph) -> GraphPlan:
        p = self.plans.get(id(graph))
        if p is None:
            p = self.plans[id(graph)] = GraphPlan(graph)
        return p

    # --- graphs -------------------------------------------------------------------

    async def run_graph(self, graph: Graph, scope: Scope, sp: str, ip: str) -> GraphResult:
        """Run one instance of `graph`; `sp`/`ip` are the static and instance id prefixes."""
        plan = self.plan(graph)
        nodes = plan.nodes
        failed: dict[int, NodeRecord] = {}
        if len(nodes) == 1:
            rec = await self.run_node(nodes[0], scope, sp, ip)
            if rec.status != "completed":
                failed[0] = rec
        elif plan.sequential:
            for i, np in enumerate(nodes):
                bad = [failed[d] for d in np.deps if d in failed]
                if bad:
                    failed[i] = self.skip(np.node, ip + np.node.id[len(sp):], bad[0])
                    continue
                rec = await self.run_node(np, scope, sp, ip)
                if rec.status != "completed":
                    failed[i] = rec
        elif nodes:
            await self.run_many(plan, scope, sp, ip, failed)
        if failed:  # any failure fails the graph; report the cause, not a skipped dependent
            causes = [r for r in failed.values() if r.status in ("failed", "paused")]
            return self.graph_failure((causes or list(failed.values()))[0])
        try:
            return GraphResult(True, plan.result(scope))
        except ExprError as exc:
            owner = f"`{ip or sp}`" if ip or sp else f"workflow `{self.spec.name}`"
            return GraphResult(False, None, f"the result of {owner}: {exc}")

    def graph_failure(self, rec: NodeRecord) -> GraphResult:
        return GraphResult(False, rec.value if rec.kind == "spawn" else None,
                           rec.error or f"`{rec.id}` {rec.status}", rec)

    async def run_many(self, plan: GraphPlan, scope, sp, ip, failed) -> None:
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in plan.nodes]

        async def one(i: int, np: NodePlan):
            try:
                for d in np.deps:
                    if not futs[d].done():
                        await futs[d]
                bad = [failed[d] for d in np.deps if d in failed]
                if bad:
                    failed[i] = self.skip(np.node, ip + np.node.id[len(sp):], bad[0])
                else:
                    rec = await self.run_node(np, scope, sp, ip)
                    if rec.status != "completed":
                        failed[i] = rec
            finally:
                if not futs[i].done():
                    futs[i].set_result(None)

        async with asyncio.TaskGroup() as tg:
            for i, np in enumerate(plan.nodes):
                tg.create_task(one(i, np))

    def skip(self, node: Node, inst: str, cause: NodeRecord) -> NodeRecord:
        st = self.state
        verb = "is waiting for" if cause.status == "paused" else "depends on"
        status = "cancelled" if cause.status == "paused" else "skipped"
        rec = st.record(inst, node)
        st.finish(rec, status, error=f"{verb} `{cause.id}`, which {cause.status}")
        return rec

    # --- nodes ----------------------------------------------------------------------

    async def run_node(self, np: NodePlan, scope: Scope, sp: str, ip: str) -> NodeRecord:
        node = np.node
        inst = ip + node.id[len(sp):]
        st = self.state
        rec = st.record(inst, node)
        st.start(rec)
        try:
            if node.kind == "spawn":  # the hot path: no dispatch, no extra coroutine
                template = np.template
                if template is None:
                    template = np.template = self.steps.template(node)
                    np.metadata = self.steps.metadata(node)
                prompt = np.expr("prompt")(scope)
                session = np.expr("session")(scope) if node.session is not None else None
                if session is not None and not isinstance(session, str):
                    raise ExprError(f"the step `:continue` names has no session id "
                                    f"({B.type_name(session)})")
                outcome = await self.steps.run(template, np.metadata, prompt if isinstance(
                    prompt, str) else B.render(prompt), inst, rec, session)
                status, value, error = ("completed", outcome, None) if outcome.success else \
                    ("failed", outcome, outcome.error or outcome.output)
            elif node.kind == "classify":  # its branches are named like its siblings
                status, value, error = await self._classify(np, scope, inst, rec, sp, ip)
            else:
                status, value, error = await CONTROL[node.kind](self, np, scope, inst, rec)
        except ExprError as exc:
            status, value, error = "failed", None, f"{_where(node)}{exc}"
        except BudgetExhausted:
            st.finish(rec, "cancelled", error="budget exhausted")
            raise
        except asyncio.CancelledError:
            st.finish(rec, "cancelled", error="cancelled")
            raise
        if status == "completed":
            scope.values[node.id] = value
        st.finish(rec, status, value=value, error=error)
        return rec

    async def _value(self, np, scope, inst, rec):
        if np.node.expr is None:
            return "completed", None, None
        return "completed", np.expr("expr")(scope), None

    async def _fail(self, np, scope, inst, rec):
        message = B.render(np.expr("message")(scope))
        return "failed", None, message or "failed"

    async def _human(self, np, scope, inst, rec):
        answers = self.state.answers
        if inst in answers:
            return "completed", answers[inst], None
        prompt = B.render(np.expr("prompt")(scope))
        self.state.gates[inst] = prompt
        returns = np.node.returns
        expects = self.spec.schemas.get(returns) if isinstance(returns, str) else returns
        if expects is not None:  # what `wlisp resume --answer` is checked against
            rec.data["expects"] = expects
        return "paused", None, f"waiting for a human answer: {prompt}"

    async def _loop(self, np, scope, inst, rec):
        node = np.node
        value = np.expr("init")(scope)
        until = np.expr("until")(scope) if node.until else None
        if until is not None and not callable(until):  # a loaded spec may hold anything
            raise ExprError(f"`until` of loop `{node.id}` is not a function")
        key = var_key(node.id, node.var)
        stopped, k = "max", 0
        for k in range(1, node.max + 1):
            res = await self.run_graph(node.body, scope.child({key: value}), node.id,
                                       f"{inst}@{k}")
            if not res.ok:
                scope.values[info_key(node.id)] = {"iterations": k, "stopped": "failed"}
                return res.outcome(f"iteration {k}: {res.error}")
            value = res.value
            if until is not None and B.truthy(until([value])):
                stopped = "until"
                break
            structured = getattr(value, "structured", None)
            if isinstance(structured, dict) and structured.get("loop_continue") is False:
                stopped = "signal"
                break
        scope.values[info_key(node.id)] = {"iterations": k, "stopped": stopped}
        rec.data["iterations"] = k
        return "completed", value, None

    async def _classify(self, np, scope, inst, rec, sp, ip):
        node = np.node
        value = np.expr("on")(scope)
        label = classifier_label(value) if node.mode == "agent" else value
        chosen = None
        for b in node.branches:
            if _label_matches(b.label, label):
                chosen = b.body
                break
        if chosen is None:
            chosen = node.otherwise
        if chosen is None:
            labels = ", ".join(B.render(b.label) for b in node.branches)
            return "failed", None, (f"{_where(node)}classify: {_show(label)} matches none of "
                                    f"the labels ({labels}) and there is no :else")
        rec.data["label"] = B.to_json(label) if not B.is_outcome(label) else None
        for g in [b.body for b in node.branches] + [node.otherwise]:
            if g is not None and g is not chosen:
                for n in g.nodes:
                    self.state.prune(ip + n.id[len(sp):], n, f"`{inst}` chose "
                                     f"{_show(label)}")
        res = await self.run_graph(chosen, scope.child(), sp, ip)
        if not res.ok:
            return res.outcome()
        return "completed", res.value, None

    async def _map(self, np, scope, inst, rec):
        node = np.node
        if node.bodies is not None:
            jobs = [(g, scope.child(), f"{node.id}[{i}]", f"{inst}[{i}]")
                    for i, g in enumerate(node.bodies)]
        else:
            items, problem = self.items(np, scope, "map")
            if problem:
                return "failed", None, problem
            key = var_key(node.id, node.var)
            jobs = [(node.body, scope.child({key: x}), node.id, f"{inst}[{i}]")
                    for i, x in enumerate(items)]
            rec.data["items"] = [B.short_label(x) for x in items[:ITEM_LABELS]]
        if len(jobs) == 1:
            results = [await self.run_graph(*jobs[0])]
        else:
            results = await bounded(self.run_graph, jobs, node.limit)
        bad = next((r for r in results if not r.ok), None)
        if bad is not None:
            return bad.outcome()[0], None, bad.error
        return "completed", [r.value for r in results], None

    def items(self, np, scope, what: str):
        """A runtime collection as a list, or the message of why it is not one."""
        try:
            return list(B.as_seq(np.expr("items")(scope))), None
        except B.BuiltinError as exc:
            return None, f"{_where(np.node)}{what}: {exc}"

    async def _pipeline(self, np, scope, inst, rec):
        node = np.node
        if node.chains is not None:
            chains = [(chain, scope, f"{node.id}[{i}]", f"{inst}[{i}]", None)
                      for i, chain in enumerate(node.chains)]
        else:
            items, problem = self.items(np, scope, "pipeline")
            if problem:
                return "failed", None, problem
            chains = [(node.stages, scope, node.id, f"{inst}[{i}]", x)
                      for i, x in enumerate(items)]
            rec.data["items"] = [B.short_label(x) for x in items[:ITEM_LABELS]]
        prev_key, item_key = var_key(node.id, "prev"), var_key(node.id, "item")

        async def chain(stages, base, sp, ip, item):
            last = None
            for k, g in enumerate(stages):
                values = {prev_key: last}
                if node.chains is None:
                    values[item_key] = item
                res = await self.run_graph(g, base.child(values), sp, ip)
                if res.paused:
                    waiting.append(res)
                if not res.ok:
                    return res.value  # a failed step stops its chain; its outcome is the value
                if res.value is None:
                    return last if k else None
                last = res.value
            return last

        waiting: list = []  # chains stopped at a human gate: the pipeline waits with them
        values = await bounded(chain, chains, node.limit)
        if waiting:
            return waiting[0].outcome()
        return "completed", values, None

    async def _try(self, np, scope, inst, rec):
        node = np.node
        res = await self.run_graph(node.body, scope.child(), node.id, inst)
        if res.ok:
            return "completed", res.value, None
        if res.paused:  # waiting is not failing: nothing to catch yet
            return res.outcome()
        if node.catch is None:
            return "completed", None, None
        err = {"message": res.error or "failed",
               "node": res.failed_node.id if res.failed_node else None}
        caught = await self.run_graph(node.catch, scope.child({var_key(node.id, node.var): err}),
                                      node.id, inst)
        if not caught.ok:
            return caught.outcome()
        return "completed", caught.value, None

    async def _tournament(self, np, scope, inst, rec):
        return await run_tournament(self, np, scope, inst, rec)


async def bounded(run, jobs, limit) -> list:
    """`run(*job)` for every job concurrently, at most `limit` at a time, in order."""
    if limit is None or limit >= len(jobs):
        coros = [run(*j) for j in jobs]
    else:
        sem = asyncio.Semaphore(limit)

        async def gated(job):
            async with sem:
                return await run(*job)
        coros = [gated(j) for j in jobs]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(c) for c in coros]
    return [t.result() for t in tasks]


# the control nodes by kind: plain functions, not bound methods kept on the scheduler,
# which would make a cycle holding the whole run until the garbage collector finds it
CONTROL = {kind: getattr(Scheduler, "_" + kind) for kind in (
    "value", "fail", "human", "loop", "map", "pipeline", "try", "tournament")}


def classifier_label(value):
    """An agent classifier answers {"label": ...} or, as text, the bare label."""
    structured = getattr(value, "structured", None)
    if isinstance(structured, dict) and "label" in structured:
        return structured["label"]
    if B.is_outcome(value):
        return value.output.strip().strip("\"'`.!* ")
    return value


def _label_matches(label, value) -> bool:
    if B.eq(label, value):
        return True
    return isinstance(label, str) and isinstance(value, str) and \
        label.lower() == value.strip().lower()


def _show(value) -> str:
    if B.is_outcome(value):
        return repr(value.output[:60])
    try:
        import json

        return json.dumps(B.to_json(value))[:80]
    except (B.BuiltinError, TypeError, ValueError):
        return B.type_name(value)


def _where(node: Node) -> str:
    return f"{node.span.file}:{node.span.line}:{node.span.col}: " if node.span else ""


async def execute(state: RunState, cls=None):
    """Run the root graph; returns the GraphResult (the state holds the records).
    `cls`: the scheduler class (a traced run's is `tracing.TracedScheduler`)."""
    scope = Scope(None, {input_key(k): v for k, v in state.inputs.items()})
    return await (cls or Scheduler)(state).run_graph(state.spec.graph, scope, "", "")


__all__ = ["execute", "Scheduler", "FINAL"]
