"""Conditionals whose test is known only at run time (`if`, `when`, `cond`, `case`,
`classify`): a classify node with one nested graph per branch in a workflow
body, or an `if` expression inside pure code and for an `if` none of whose
branches has a step (SPEC §4 `classify`)."""

from __future__ import annotations

from ...ir.nodes import Branch
from ...values import builtins as B
from ...values.datum import List
from ..evaluator import Evaluator, Mode
from ..values import Env, Ref, merge_refs, refs_in


def runtime_branches(ev: Evaluator, value: Ref, kind: str, clauses, default, form, env,
                     *, before_node=None):
    """`clauses` are (label, body forms); `default` the else body, or None when there is
    none (an `if` always has one: nil). `before_node()` runs once the branches are
    compiled, before the classify node exists (to fix its classifier's answer format)."""
    if kind in ("case", "classify"):
        check_exhaustive(ev, value, [label for label, _ in clauses], default, form)
    if ev.mode is Mode.PURE:
        return _pure_branches(ev, value, kind, clauses, default, form, env)
    graph = ev.step_graph("if", form.span)
    cid = graph.reserve(kind, None, form.span, claim=True)  # before the nodes in it
    branches, frees, subs = [], set(), []
    for label, body in clauses:
        sub = _branch(ev, None if kind == "if" else label_segment(label), body, env, form)
        branches.append(Branch(True if kind == "if" else ev.to_expr(label), sub.graph))
        frees |= sub.free
        subs.append(sub)
    otherwise = None
    if default is not None or kind == "if":
        sub = _branch(ev, None if kind == "if" else "else", default or (), env, form)
        otherwise = sub.graph
        frees |= sub.free
        subs.append(sub)
    if kind == "if" and not any(s.builder.nodes for s in subs):
        # routing with no step in it (a pattern's `(if prev ... task)`): an expression
        graph.release(cid)
        return _expression_if(value, subs)
    mode = before_node() if before_node is not None else "expr"
    on = {"call": "boolean", "args": [value.expr]} if kind == "if" else value.expr
    graph.add(cid, "classify", {"on": on, "mode": mode, "branches": branches,
                                "otherwise": otherwise}, value.deps | frees, form.span)
    return ev.ref_to(cid)


def _expression_if(value: Ref, subs):
    then, otherwise = subs
    expr = {"if": [{"call": "boolean", "args": [value.expr]}, then.graph.result,
                   otherwise.graph.result]}
    return merge_refs(expr, [value] + list(refs_in(then.value)) + list(refs_in(otherwise.value)))


def check_exhaustive(ev: Evaluator, value: Ref, labels, default, form) -> None:
    """Routing over an enum (a `:returns` field, a typed input) covers every member or
    has `:else`, and every label is a member (W0310)."""
    members = (value.schema or {}).get("enum") if isinstance(value.schema, dict) else None
    if not isinstance(members, list):
        return
    given = [ev.to_expr(label) for label in labels]
    strangers = [label for label, g in zip(labels, given, strict=True) if g not in members]
    if strangers:
        raise ev.error("W0310", f"{B.render(strangers[0])!r} is not one of the values this can "
                       f"be: {', '.join(map(repr, members))}", _label_span(form, strangers[0]))
    missing = [m for m in members if m not in given]
    if missing and default is None:
        raise ev.error("W0310", "these values are not routed: "
                       f"{', '.join(map(repr, missing))}; add a branch for each, or `:else`",
                       form.span)


def _label_span(form, label):
    """Where `label` is written: a `case` label, or the head of a `classify` clause."""
    for i, item in enumerate(form):
        if i < 2:
            continue
        if type(item) is type(label) and item == label:
            return form.span_at(i)
        if isinstance(item, List) and item and item[0] == label:
            return item.span_at(0)
    return form.span


def _branch(ev: Evaluator, segment, body, env, form):
    """A branch's nested graph, its ids under the label it routes (`main/bug/fix`) or,
    for an `if`, beside its siblings; a problem with its value points at its last form."""
    def build():
        ev.call_stack.append("branch")  # recursion through runtime branches is bounded
        try:
            return ev.eval_body(body, Env(env))
        finally:
            ev.call_stack.pop()
    span = getattr(body[-1], "span", None) if body else None
    return ev.subgraph(None, build, span=span or form.span, segment=segment)


def _pure_branches(ev: Evaluator, value, kind, clauses, default, form, env):
    otherwise = ev.eval_body(default, Env(env)) if default else None
    expr = ev.to_expr(otherwise, form.span)
    parts = [value] + list(refs_in(otherwise))
    for label, body in reversed(clauses):
        res = ev.eval_body(body, Env(env))
        test = {"call": "boolean", "args": [value.expr]} if kind == "if" else \
            {"call": "=", "args": [value.expr, ev.to_expr(label)]}
        expr = {"if": [test, ev.to_expr(res, form.span), expr]}
        parts.extend(refs_in(res))
    return merge_refs(expr, parts)


def label_segment(label) -> str:
    """A branch label as a segment of node ids."""
    text = B.render(label) if label is not None else "nil"
    return text.replace("/", "_") or "_"
