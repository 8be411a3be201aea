"""The control forms of SPEC §4 — loop, classify, tournament, pipeline, try,
`map` over items with a spawning function, loop-info / tournament-info — each a
node owning nested graphs (`Evaluator.subgraph`)."""

from __future__ import annotations

from ...errors import WlispError
from ...ir.vocabulary import TOURNAMENT_FORMATS
from ...values import builtins as B
from ...values.datum import Keyword, List, Map, Symbol, Vector, pr_str
from ..evaluator import Evaluator, Mode
from ..options import check, parse_options
from ..values import (
    POISON,
    Env,
    NotPure,
    Ref,
    deps_of,
    first_raw,
    has_ref,
    is_function,
    refs_in,
)
from .branches import runtime_branches

LOOP_OPTS = {"max", "until", "id"}
TOURNAMENT_OPTS = {"format", "id"}
PIPELINE_OPTS = {"limit", "id"}
TRY_OPTS = {"catch", "id"}
MAP_OPTS = {"limit"}
WINNER_SCHEMA = {"type": "object", "properties": {"winner": {"enum": ["a", "b"]}},
                 "required": ["winner"], "additionalProperties": False}


def _static_options(ev, env, form, what):
    return lambda f: ev.static(f, env, getattr(f, "span", form.span), what)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _loop(ev: Evaluator, form: List, env: Env):
    if len(form) < 2 or not isinstance(form[1], Vector) or len(form[1]) != 2 or \
            not isinstance(form[1][0], Symbol):
        raise ev.error("W0302", "`loop` needs a binding: (loop [draft nil] :max 3 body...)",
                       form.span_at(1))
    var = form[1][0]
    opts = parse_options(ev, form, 2, LOOP_OPTS, "loop", leading=True)
    if opts.bad:
        return POISON
    if "max" not in opts:
        raise ev.error("W0305", "`loop` needs `:max n` so it always ends", form.span,
                       ("add e.g. `:max 5` after the binding vector", None))
    mx = ev.static(opts["max"][0], env, opts["max"][1], "`:max`")
    check(_positive_int(mx), opts["max"][1], f"`:max` must be an integer >= 1, got {pr_str(mx)}")
    body = form[opts.end:]
    if not body:
        raise ev.error("W0302", "`loop` has no body", form.span)
    init = ev.eval(form[1][1], env)
    until = ev.eval(opts["until"][0], env) if "until" in opts else None
    if init is POISON or until is POISON:
        return POISON
    graph = ev.step_graph("loop", form.span)
    explicit = ev.static(opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    lid = graph.reserve("loop", explicit, form.span, claim=True)
    inner = Env(env)
    inner.vars[var.name] = Ref({"var": var.name, "in": lid})
    sub = ev.subgraph(lid, lambda: ev.eval_body(body, inner), span=form.span)
    attrs = {"var": var.name, "init": ev.to_expr(init, form.span_at(1)), "max": mx,
             "body": sub.graph}
    free = sub.free | deps_of(init)
    if until is not None:
        fexpr, fref = ev.fn_expr(until, 1, List((), opts["until"][1]))
        attrs["until"] = fexpr
        free |= fref.deps
    graph.add(lid, "loop", attrs, free, form.span)
    value = sub.value
    kind, schema = (value.kind, value.schema) if isinstance(value, Ref) else ("value", None)
    return ev.ref_to(lid, kind, schema, first_raw(value)[0])


def _classify(ev: Evaluator, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`classify` takes a classifier and labelled branches",
                       form.span)
    clauses, default, labels = [], None, []
    for i, clause in enumerate(form[2:], 2):
        if not isinstance(clause, List) or not clause:
            raise ev.error("W0302", "a `classify` branch looks like (:label body...)",
                           form.span_at(i))
        label = clause[0]
        if label == Keyword("else"):
            default = clause[1:]
            continue
        if not isinstance(label, (str, int, float, bool)):
            raise ev.error("W0302", "branch labels must be keywords, strings, numbers or "
                           "booleans", clause.span_at(0))
        if label in labels:
            raise ev.error("W0304", f"duplicate branch label `{pr_str(label)}`",
                           clause.span_at(0))
        labels.append(label)
        clauses.append((label, clause[1:]))
    if not clauses:
        raise ev.error("W0302", "`classify` needs at least one labelled branch", form.span)
    value = ev.eval(form[1], env)
    if value is POISON:
        return POISON
    if not isinstance(value, Ref):
        for label, body in clauses:
            if B.eq(label, value):
                return ev.eval_body(body, env)
        if default is not None:
            return ev.eval_body(default, env)
        raise ev.error("W0303", f"classify: {pr_str(value)} matches none of the labels "
                       + ", ".join(pr_str(x) for x in labels), form.span_at(1))

    def classifier_mode() -> str:
        """A spawn as classifier answers with one of the labels ("agent" mode)."""
        if value.kind != "outcome" or ev.graph.kind_of(value.node) != "spawn":
            return "expr"
        choices = [ev.to_expr(x) for x in labels]
        if default is not None and "other" not in choices:
            choices.append("other")  # with :else, "none of these" is a valid answer
        ev.graph.fix_answer_format(value.node, {
            "type": "object", "properties": {"label": {"enum": choices}},
            "required": ["label"], "additionalProperties": False},
            "classifier", form.span_at(1))
        return "agent"

    return runtime_branches(ev, value, "classify", clauses, default, form, env,
                            before_node=classifier_mode)


def _tournament(ev: Evaluator, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`tournament` takes entrants and a judge: "
                       "(tournament [a b c] (fn [a b] (spawn judge ...)))", form.span)
    opts = parse_options(ev, form, 3, TOURNAMENT_OPTS, "tournament",
                         evaluate=_static_options(ev, env, form, "a tournament option"))
    fmt = "single-elim"
    if "format" in opts:
        value, span = opts["format"]
        check(value in TOURNAMENT_FORMATS, span, "`:format` must be :single-elim or :round-robin")
        fmt = str.__str__(value)
    entrants = ev.eval(form[1], env)
    judge = ev.eval(form[2], env)
    if entrants is POISON or judge is POISON:
        return POISON
    if isinstance(entrants, (Vector, List)):
        if len(entrants) < 2:
            raise ev.error("W0404", f"a tournament needs at least 2 entrants, got "
                           f"{len(entrants)}", form.span_at(1))
    elif not isinstance(entrants, Ref):
        raise ev.error("W0303", "tournament entrants must be a vector", form.span_at(1))
    if not is_function(judge, 2):
        raise ev.error("W0303", "the judge must be a function of two entrants: "
                       "(fn [a b] (spawn judge ...))", form.span_at(2))
    graph = ev.step_graph("tournament", form.span)
    tid = graph.reserve("tournament", opts.value("id"), form.span, claim=True)
    names = [p.name if isinstance(p, Symbol) else f"p{i}" for i, p in enumerate(judge.params)]

    def judge_graph():
        verdict = ev.call_fn(judge, [Ref({"var": n, "in": tid}) for n in names], form)
        if not (isinstance(verdict, Ref) and verdict.kind == "outcome" and
                ev.graph.kind_of(verdict.node) == "spawn" and verdict.node in ev.graph.ids):
            raise ev.error("W0303", "the judge function must return a spawn (whose answer "
                           "picks `a` or `b`)", form.span_at(2))
        ev.graph.fix_answer_format(verdict.node, WINNER_SCHEMA, "judge", form.span_at(2))
        return verdict

    sub = ev.subgraph(tid, judge_graph, params=names, span=form.span_at(2))
    ent_expr = ev.to_expr(entrants, form.span_at(1))
    if isinstance(ent_expr, dict) and "lit" in ent_expr:
        ent_expr = {"vec": [ev.to_expr(x) for x in entrants]}
    graph.add(tid, "tournament", {"entrants": ent_expr, "judge": sub.graph, "format": fmt},
              deps_of(entrants) | sub.free, form.span)
    refs = [entrants] if isinstance(entrants, Ref) else list(refs_in(entrants))
    same = refs and all(r.kind == "outcome" and r.schema == refs[0].schema for r in refs)
    return ev.ref_to(tid, "outcome" if same else "value", refs[0].schema if same else None,
                     next((r.raw for r in refs if r.raw), None))


def _info(ev: Evaluator, form: List, env: Env):
    want = form[0].name.split("-")[0]
    if len(form) != 2:
        raise ev.error("W0301", f"`{form[0].name}` takes one {want} value", form.span)
    value = ev.eval(form[1], env)
    if value is POISON:
        return POISON
    kind = ev.graph.kind_of(value.node) if isinstance(value, Ref) and ev.graph else None
    if kind != want:
        raise ev.error("W0303", f"`{form[0].name}` needs the value of a `{want}`",
                       form.span_at(1))
    return Ref({"info": value.node}, frozenset({value.node}))


def _pipeline(ev: Evaluator, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`pipeline` takes items and one or more stages", form.span)
    stages_end = next((i for i in range(2, len(form)) if isinstance(form[i], Keyword)),
                      len(form))
    opts = parse_options(ev, form, stages_end, PIPELINE_OPTS, "pipeline",
                         evaluate=_static_options(ev, env, form, "a pipeline option"))
    limit = opts.value("limit")
    if "limit" in opts:
        check(_positive_int(limit), opts["limit"][1], "`:limit` must be an integer >= 1")
    items = ev.eval(form[1], env)
    stages = [ev.eval(f, env) for f in form[2:stages_end]]
    if items is POISON or POISON in stages:
        return POISON
    for k, st in enumerate(stages):
        if not is_function(st, 2):
            raise ev.error("W0303", "a pipeline stage is a function (fn [prev item] ...)",
                           form.span_at(k + 2))
    graph = ev.step_graph("pipeline", form.span)
    pid = graph.reserve("pipeline", opts.value("id"), form.span, claim=True)
    frees: set = set()

    def stage_graph(prefix, stage, k, item, params):
        prev = None if k == 0 else Ref({"var": "prev", "in": pid})
        sub = ev.subgraph(prefix, lambda: ev.call_fn(stage, [prev, item], form),
                          params=params, span=form.span)
        frees.update(sub.free)
        return sub.graph

    attrs: dict = {"limit": limit}
    if isinstance(items, Ref):
        item = Ref({"var": "item", "in": pid})
        attrs["items"] = items.expr
        attrs["stages"] = [stage_graph(f"{pid}/stage{k + 1}", st, k, item,
                                       ["prev", "item"] if k else ["item"])
                           for k, st in enumerate(stages)]
    else:
        try:
            seq = B.as_seq(items)
        except B.BuiltinError as exc:
            raise ev.error("W0303", f"pipeline items: {exc}", form.span_at(1)) from None
        attrs["chains"] = [[stage_graph(f"{pid}[{i}]/stage{k + 1}", st, k, x,
                                        ["prev"] if k else [])
                            for k, st in enumerate(stages)] for i, x in enumerate(seq)]
    graph.add(pid, "pipeline", attrs, frees | deps_of(items), form.span)
    return ev.ref_to(pid)


def _try(ev: Evaluator, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`try` takes an expression: (try expr :catch (fn [err] ...))",
                       form.span)
    opts = parse_options(ev, form, 2, TRY_OPTS, "try")
    if ev.mode is not Mode.GRAPH:  # a helper or macro computing: compile-time errors
        return _compile_time_try(ev, form, env, opts)
    graph = ev.step_graph("try", form.span)
    explicit = ev.static(opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    tid = graph.reserve("try", explicit, form.span, claim=True)

    def body_value():
        try:
            return ev.eval(form[1], env)
        except WlispError as err:
            if "catch" in opts and _catchable(err):
                raise _CaughtAtCompileTime(err) from None
            ev.record(err)
            return POISON

    try:
        body = ev.subgraph(tid, body_value, span=form.span)
    except _CaughtAtCompileTime as caught:  # the body failed while being computed
        graph.release(tid)
        return _handle(ev, caught.err, opts, env, form)
    if not body.builder.nodes and not has_ref(body.value):  # a value: nothing to run
        graph.release(tid)
        return body.value
    attrs, free = {"body": body.graph}, set(body.free)
    if "catch" in opts:
        handler = ev.eval(opts["catch"][0], env)
        if handler is not POISON:
            if not is_function(handler, 1):
                raise ev.error("W0303", "`:catch` takes a function of one argument: "
                               "(fn [err] ...)", opts["catch"][1])
            var = handler.params[0].name if isinstance(handler.params[0], Symbol) else "err"
            caught = ev.subgraph(
                f"{tid}/catch", lambda: ev.call_fn(handler, [Ref({"var": var, "in": tid})],
                                                   form), span=form.span)
            free |= caught.free
            attrs["catch"], attrs["var"] = caught.graph, var
    graph.add(tid, "try", attrs, free, form.span)
    return ev.ref_to(tid)


class _CaughtAtCompileTime(Exception):
    def __init__(self, err):
        self.err = err


def _catchable(err: WlispError) -> bool:
    """Errors of computing a value — `(error ...)`, `(throw ...)`, a builtin's (W0403) —
    not mistakes in the program (unknown names, malformed forms)."""
    return all(d.code == "W0403" for d in err.diagnostics)


def _compile_time_try(ev: Evaluator, form: List, env: Env, opts):
    """`try` while a value is computed at compile time (a `def`, a macro, a helper):
    the handler gets `{:message ... :data ...}` for errors of computing values."""
    try:
        return ev.eval(form[1], env)
    except WlispError as err:
        if "catch" not in opts or not _catchable(err):
            raise
        return _handle(ev, err, opts, env, form)


def _handle(ev: Evaluator, err: WlispError, opts, env, form):
    handler = ev.eval(opts["catch"][0], env)
    if not is_function(handler, 1):
        raise ev.error("W0303", "`:catch` takes a function of one argument: (fn [err] ...)",
                       opts["catch"][1]) from None
    info = Map({Keyword("message"): err.diagnostics[0].message,
                Keyword("data"): getattr(err, "data", None)})
    return ev.call_fn(handler, [info], form)


# --- map with a spawning function ---------------------------------------------------------


def map_hook(ev: Evaluator, args, form):
    """`(map f items)` and `(map f items :limit n)`: a map node when `f` spawns."""
    if len(args) == 4 and args[2] == Keyword("limit"):
        return _compile_map(ev, args[0], args[1], args[3], form)
    if len(args) == 2:
        return _compile_map(ev, args[0], args[1], None, form)
    return ev.apply_plain_builtin("map", args, form)


def _compile_map(ev: Evaluator, f, coll, limit, form):
    if limit is not None and not _positive_int(limit):
        raise ev.error("W0306", f"`:limit` must be an integer >= 1, got {pr_str(limit)}",
                       form.span_at(4))
    if not is_function(f):
        return ev.apply_plain_builtin("map", [f, coll], form)
    if isinstance(coll, Ref):
        return _runtime_map(ev, f, coll, limit, form)
    try:
        items = B.as_seq(coll)
    except B.BuiltinError as exc:
        raise ev.error("W0303", f"`map`: {exc}", form.span_at(2)) from None
    if ev.mode is not Mode.GRAPH:
        return B.like(coll, [ev.call_value(f, [x], form.span) for x in items])
    graph = ev.graph
    mid = graph.reserve("map", None, form.span, claim=True)
    subs = [ev.subgraph(f"{mid}[{i}]", lambda x=x: ev.call_fn(f, [x], form), span=form.span)
            for i, x in enumerate(items)]
    values = [s.value for s in subs]
    if any(v is POISON for v in values):  # reported already; do not cascade
        return POISON
    if not any(s.builder.nodes for s in subs):  # a plain computation: no map node
        graph.release(mid)
        return B.like(coll, values)
    graph.add(mid, "map", {"bodies": [s.graph for s in subs], "limit": limit,
                           "labels": [item_label(x) for x in items]},
              set().union(*(s.free for s in subs)), form.span)
    return ev.ref_to(mid)


def item_label(x) -> str:
    """A map item as the user wrote it (a value only known at run time: `…`)."""
    return "…" if isinstance(x, Ref) else B.short_label(x)


def _runtime_map(ev: Evaluator, f, coll: Ref, limit, form):
    if ev.mode is Mode.GRAPH:  # a pure function over the items is an expression
        try:
            with ev.pure():
                return ev.apply_higher("map", [f, coll], form, True)
        except NotPure:
            pass
    graph = ev.step_graph("map", form.span)
    mid = graph.reserve("map", None, form.span, claim=True)
    var = next((p.name for p in f.params if isinstance(p, Symbol)), "item")
    item = Ref({"var": var, "in": mid})
    sub = ev.subgraph(mid, lambda: ev.call_fn(f, [item], form), span=form.span)
    graph.add(mid, "map", {"items": coll.expr, "var": var, "body": sub.graph, "limit": limit},
              coll.deps | sub.free, form.span)
    return ev.ref_to(mid)


FORMS = {"loop": _loop, "classify": _classify, "tournament": _tournament, "pipeline": _pipeline,
         "try": _try, "loop-info": _info, "tournament-info": _info}
OPTIONS = {"loop": LOOP_OPTS, "tournament": TOURNAMENT_OPTS, "pipeline": PIPELINE_OPTS,
           "try": TRY_OPTS, "map": MAP_OPTS}
BUILTIN_HOOKS = {"map": map_hook}
