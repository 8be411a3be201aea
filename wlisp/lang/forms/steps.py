"""The step forms of SPEC §4: `spawn`, `fail`, `human`, and the grouping forms
`parallel` and `in-order`; plus how a value becomes a prompt."""

from __future__ import annotations

from ...errors import did_you_mean
from ...ir.vocabulary import ROLES, TRUST
from ...values import builtins as B
from ...values.datum import Keyword, List, Map, Symbol, Vector, pr_str
from ..evaluator import Evaluator
from ..options import (
    choice_option,
    int_option,
    parse_options,
    seconds_option,
    string_option,
)
from ..values import POISON, Agent, Env, Ref, deps_of, first_raw, has_ref
from .core import message_arg
from .declarations import returns_type, static_options

SPAWN_OPTS = {"id", "returns", "max-steps", "model", "timeout", "retries", "trust", "role",
              "after", "description", "continue"}
HUMAN_OPTS = {"id", "returns", "description"}


def _spawn(ev: Evaluator, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`spawn` takes an agent and a prompt: (spawn agent \"...\")",
                       form.span)
    if isinstance(form[2], Keyword) and form[2] in SPAWN_OPTS and len(form) % 2 == 0:
        raise ev.error("W0301", "`spawn` needs a prompt before its options: "
                       "(spawn agent \"prompt\" :returns T)", form.span)
    agent = ev.guarded(_agent, ev, form[1], env, form.span_at(1))
    prompt = ev.guarded(ev.eval, form[2], env)
    opts = parse_options(ev, form, 3, SPAWN_OPTS, "spawn")
    attrs: dict = {}
    schema = None
    if "returns" in opts:
        returned = ev.guarded(returns_type, ev, opts["returns"][0], opts["returns"][1], env)
        if returned is not POISON:
            attrs["returns"], schema = returned
        else:
            schema = {}  # unknown shape: do not report its fields as missing too
    _spawn_options(ev, opts, env, attrs)
    after = ev.guarded(_after, ev, opts, env)
    session = ev.guarded(_continued, ev, opts, env, agent) if "continue" in opts else None
    if agent is POISON or prompt is POISON or session is POISON:
        return POISON
    graph = ev.step_graph("spawn", form.span)
    attrs["agent"] = agent.name
    attrs["prompt"] = prompt_expr(ev, prompt, form.span_at(2))
    explicit = ev.static(opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    if isinstance(explicit, Symbol):
        explicit = explicit.name
    # steps that quarantined values choose are marked by the taint pass (`ir/taint.py`)
    quarantined = (attrs.get("trust") or agent.config.get("trust")) == "quarantined"
    if quarantined:
        attrs["trust"] = "quarantined"
    nid = graph.reserve(agent.name, explicit, opts.get("id", (None, form.span))[1])
    ev.used_agents[agent.name] = agent
    if session is not None:
        attrs["session"] = {"get": session.expr, "path": ["session_id"]}
    graph.add(nid, "spawn", attrs, deps_of(prompt) | (session.deps if session else set()),
              form.span, after if after is not POISON else ())
    return ev.ref_to(nid, "outcome", schema, form.span if quarantined else None)


def _spawn_options(ev: Evaluator, opts, env, attrs: dict) -> None:
    """The options a step may override from its agent, checked into `attrs`."""
    plain = {k: v for k, v in opts.items() if k not in ("returns", "after", "id", "continue")}
    given = static_options(ev, plain, env, "`:{key}`")
    ev.guarded(int_option, given, "max-steps", 1, attrs)
    ev.guarded(string_option, given, "model", attrs)
    ev.guarded(seconds_option, given, "timeout", attrs)
    ev.guarded(int_option, given, "retries", 0, attrs)
    ev.guarded(choice_option, given, "trust", TRUST, attrs)
    ev.guarded(choice_option, given, "role", tuple(ROLES), attrs)
    ev.guarded(string_option, given, "description", attrs)


def _agent(ev: Evaluator, sym, env, span):
    if isinstance(sym, Symbol):
        scope = env.find(sym.name)
        if scope is None:
            hint = did_you_mean(sym.name, env.all_of(Agent))
            raise ev.error("W0203", f"unknown agent `{sym.name}`" + hint, sym.span,
                           *([("declare it with (defagent " + sym.name + " ...)", None)]
                             if not hint else []))
        value = scope[sym.name]
    else:
        value = ev.eval(sym, env)
    if value is POISON:
        return POISON
    if not isinstance(value, Agent):
        raise ev.error("W0203", f"`{pr_str(sym)}` is a {B.type_name(value)}, not an agent",
                       span)
    return value


def _continued(ev: Evaluator, opts, env, agent) -> Ref:
    """`:continue x`: x is an earlier step of the same agent, whose session this step
    continues (its conversation, in the CLI or API that ran it)."""
    source, span = opts["continue"]
    value = ev.eval(source, env)
    if value is POISON:
        return POISON
    draft = ev.graph.registry.get(value.node) if isinstance(value, Ref) and \
        value.kind == "outcome" and ev.graph is not None else None
    if draft is None or draft.kind != "spawn":
        raise ev.error("W0303", f"`:continue` takes an earlier step, not a "
                       f"{B.type_name(value)}", span)
    if isinstance(agent, Agent) and draft.attrs.get("agent") != agent.name:
        raise ev.error("W0303", f"`:continue` needs a step of the same agent: "
                       f"`{value.node}` is a step of `{draft.attrs.get('agent')}`, this one "
                       f"of `{agent.name}`", span, ("that step is here", draft.span))
    draft.attrs["continued"] = True
    return value


def _after(ev: Evaluator, opts, env) -> list[str]:
    if "after" not in opts:
        return []
    source, span = opts["after"]
    value = ev.eval(source, env)
    items = value if isinstance(value, (Vector, List)) else [value]
    out = []
    for i, x in enumerate(items):
        if x is POISON:
            continue
        if not isinstance(x, Ref) or x.node is None:
            where = source.span_at(i) if isinstance(source, Vector) and \
                len(source) == len(items) else span
            raise ev.error("W0303", "`:after` takes steps (or a vector of steps) to wait for, "
                           f"not a {B.type_name(x)}", where)
        out.append(x.node)
    return out


def prompt_expr(ev: Evaluator, value, span, what="prompt", for_people=False):
    """A prompt (or message) as text or a residual `str` expression; runtime values
    render as text, and raw output of a quarantined step is refused (W0401) unless the
    text is `for_people` (a human gate may show untrusted text to a person)."""
    if isinstance(value, str):
        return str.__str__(value)
    if value is None:
        return ""
    if isinstance(value, Ref) or has_ref(value):
        raw, use = (value.raw, value.raw_use) if isinstance(value, Ref) else first_raw(value)
        if raw is not None and not for_people:
            raise ev.error("W0401", f"this {what} uses the raw output of a quarantined "
                           "step; use its validated `:returns` fields instead",
                           use or span, ("the quarantined step is here", raw))
        expr = ev.to_expr(value, span)
        if isinstance(expr, dict) and expr.get("call") == "str":
            return expr
        return {"call": "str", "args": [expr]}
    if isinstance(value, (int, float, Keyword, Vector, Map)):
        try:
            return B.render(value)
        except B.BuiltinError as exc:  # e.g. a vector holding a function
            raise ev.error("W0303", f"a {what} must be text: {exc}", span) from None
    raise ev.error("W0303", f"a {what} must be a string, got a {B.type_name(value)}", span)


def _parallel(ev: Evaluator, form: List, env: Env):
    items = [ev.guarded(ev.eval, x, env) for x in form[1:]]
    return POISON if POISON in items else Vector(items)


def _in_order(ev: Evaluator, form: List, env: Env):
    """Each form's steps wait for the previous form's (what `do` does in a workflow body;
    it was called `seq`, which Clojure users read as the collection function)."""
    return ev.eval_body(form[1:], env)


def _fail(ev: Evaluator, form: List, env: Env):
    message = message_arg(ev, form, env)
    if message is POISON:
        return POISON
    graph = ev.step_graph("fail", form.span)
    nid = graph.reserve("fail", None, form.span)
    graph.add(nid, "fail", {"message": prompt_expr(ev, message, form.span_at(1), "message")},
              deps_of(message), form.span)
    return ev.ref_to(nid)


def _human(ev: Evaluator, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`human` takes a prompt: (human \"Approve?\")", form.span)
    prompt = ev.eval(form[1], env)
    opts = parse_options(ev, form, 2, HUMAN_OPTS, "human")
    if prompt is POISON:
        return POISON
    graph = ev.step_graph("human", form.span)
    attrs = {"prompt": prompt_expr(ev, prompt, form.span_at(1), for_people=True)}
    schema = None
    if "returns" in opts:
        attrs["returns"], schema = returns_type(ev, opts["returns"][0], opts["returns"][1], env)
    if "description" in opts:
        attrs["description"] = ev.static(opts["description"][0], env, opts["description"][1],
                                         "`:description`")
    explicit = ev.static(opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    nid = graph.reserve("human", explicit, form.span)
    graph.add(nid, "human", attrs, deps_of(prompt), form.span)
    return ev.ref_to(nid, "value", schema)


FORMS = {"spawn": _spawn, "parallel": _parallel, "in-order": _in_order, "fail": _fail, "human": _human}
OPTIONS = {"spawn": SPAWN_OPTS, "human": HUMAN_OPTS}
