"""The step and control forms of SPEC §4 — spawn, parallel, seq, loop, classify,
tournament, pipeline, try, fail, human — registered as special forms of the
compiler. Declarations (defagent, ...) are in `declarations.py`."""

from __future__ import annotations

from ...errors import did_you_mean
from ...values import builtins as B
from ...values.datum import Keyword, List, Symbol, Vector, pr_str
from ..compiler import ROLES, TRUST, WINNER_SCHEMA, Agent, Compiler
from ..evaluator import POISON, Env, Fn, Macro, Ref, has_ref, refs_in, special
from .declarations import (
    SPAWN_OPTS,
    _all_of,
    _check,
    _choice,
    _int_opt,
    _num_opt,
    _returns,
    _static,
    _str_opt,
)


@special("spawn")
def _spawn(ev: Compiler, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`spawn` takes an agent and a prompt: (spawn agent \"...\")",
                       form.span)
    if isinstance(form[2], Keyword) and form[2] in SPAWN_OPTS and len(form) % 2 == 0:
        raise ev.error("W0301", "`spawn` needs a prompt before its options: "
                       "(spawn agent \"prompt\" :returns T)", form.span)
    agent = ev.guarded(_agent, ev, form[1], env, form.span_at(1))
    prompt = ev.guarded(ev.eval, form[2], env)
    opts = ev.options(form, 3, SPAWN_OPTS, "spawn")
    attrs: dict = {}
    schema = None
    if "returns" in opts:
        returned = ev.guarded(_returns, ev, opts["returns"][0], opts["returns"][1], env)
        if returned is not POISON:
            attrs["returns"], schema = returned
        else:
            schema = {}  # unknown shape: do not report its fields as missing too
    evald = {}
    for k, (v, span) in opts.items():
        if k not in ("returns", "after", "id"):
            value = ev.guarded(_static, ev, v, env, span, f"`:{k}`")
            if value is not POISON:
                evald[k] = (value, span)
    for check in (lambda: _int_opt(ev, evald, "max-steps", 1, attrs),
                  lambda: _str_opt(ev, evald, "model", attrs),
                  lambda: _num_opt(ev, evald, "timeout", attrs),
                  lambda: _int_opt(ev, evald, "retries", 0, attrs),
                  lambda: _choice(ev, evald, "trust", TRUST, attrs),
                  lambda: _choice(ev, evald, "role", tuple(ROLES), attrs),
                  lambda: _str_opt(ev, evald, "description", attrs)):
        ev.guarded(check)
    after = ev.guarded(_after, ev, opts, env)
    if after is POISON:
        after = []
    if agent is POISON or prompt is POISON:
        return POISON
    ev.require_builder("spawn", form.span)
    attrs["agent"] = agent.name
    attrs["prompt"] = ev.check_prompt(prompt, form.span_at(2))
    deps = set(prompt.deps) if isinstance(prompt, Ref) else \
        set().union(*(r.deps for r in refs_in(prompt))) if has_ref(prompt) else set()
    explicit = None
    if "id" in opts:
        explicit = _static(ev, opts["id"][0], env, opts["id"][1], "`:id`")
        if isinstance(explicit, Symbol):
            explicit = explicit.name
    quarantined = (attrs.get("trust") or agent.config.get("trust")) == "quarantined" or \
        ev.builder.quarantine
    if quarantined:
        attrs["trust"] = "quarantined"
    nid = ev.reserve(agent.name, explicit, opts.get("id", (None, form.span))[1])
    ev.used_agents[agent.name] = agent
    ev.add_node(nid, "spawn", attrs, deps, form.span, after)
    return ev.ref_to(nid, "outcome", schema, quarantined, form.span if quarantined else None)


def _agent(ev: Compiler, sym, env, span):
    if isinstance(sym, Symbol):
        scope = env.find(sym.name)
        if scope is None:
            agents = _all_of(env, Agent)
            raise ev.error("W0203", f"unknown agent `{sym.name}`" + did_you_mean(sym.name, agents),
                           sym.span, *([("declare it with (defagent " + sym.name + " ...)",
                                         None)] if not did_you_mean(sym.name, agents) else []))
        value = scope[sym.name]
    else:
        value = ev.eval(sym, env)
    if value is POISON:
        return POISON
    if not isinstance(value, Agent):
        raise ev.error("W0203", f"`{pr_str(sym)}` is a {B.type_name(value)}, not an agent",
                       span)
    return value


def _after(ev, opts, env) -> list[str]:
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


@special("parallel")
def _parallel(ev: Compiler, form: List, env: Env):
    items = [ev.guarded(ev.eval, x, env) for x in form[1:]]
    return POISON if POISON in items else Vector(items)


@special("seq")
def _seq(ev: Compiler, form: List, env: Env):
    return ev.eval_body(form[1:], env)


def _leading_opts(ev, form, start, allowed, what, env):
    """Options written right after a form's head (`(loop [x 0] :max 3 body...)`)."""
    i, opts = start, {}
    while i + 1 < len(form) and isinstance(form[i], Keyword):
        key = form[i]
        if key not in allowed:
            raise ev.error("W0207", f"unknown option `:{key}` for `{what}`"
                           + did_you_mean(key, sorted(allowed)), form.span_at(i))
        opts[str.__str__(key)] = (form[i + 1], form.span_at(i + 1))
        i += 2
    return opts, i


@special("loop")
def _loop(ev: Compiler, form: List, env: Env):
    if len(form) < 2 or not isinstance(form[1], Vector) or len(form[1]) != 2 or \
            not isinstance(form[1][0], Symbol):
        raise ev.error("W0302", "`loop` needs a binding: (loop [draft nil] :max 3 body...)",
                       form.span_at(1))
    var = form[1][0]
    opts, i = _leading_opts(ev, form, 2, {"max", "until", "id"}, "loop", env)
    if "max" not in opts:
        raise ev.error("W0305", "`loop` needs `:max n` so it always ends", form.span,
                       ("add e.g. `:max 5` after the binding vector", None))
    mx = _static(ev, opts["max"][0], env, opts["max"][1], "`:max`")
    _check(ev, isinstance(mx, int) and not isinstance(mx, bool) and mx >= 1, opts["max"][1],
           f"`:max` must be an integer >= 1, got {pr_str(mx)}")
    body = form[i:]
    if not body:
        raise ev.error("W0302", "`loop` has no body", form.span)
    init = ev.eval(form[1][1], env)
    until = ev.eval(opts["until"][0], env) if "until" in opts else None
    if init is POISON or until is POISON:
        return POISON
    ev.require_builder("loop", form.span)
    explicit = _static(ev, opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    lid = ev.reserve("loop", explicit, form.span)
    inner_env = Env(env)
    inner_env.vars[var.name] = Ref({"var": var.name, "in": lid})
    with ev.nested(lid) as b:
        value = ev.eval_body(body, inner_env)
    deps = set().union(*(r.deps for r in refs_in(value))) if has_ref(value) else set()
    attrs = {"var": var.name, "init": ev.to_expr(init, form.span_at(1)), "max": mx,
             "body": b.graph(ev.to_expr(value, form.span))}
    free = b.free(deps) | (set(init.deps) if isinstance(init, Ref) else set())
    if until is not None:
        fexpr, fref = ev.fn_expr(until, 1, List((), opts["until"][1]))
        attrs["until"] = fexpr
        free |= fref.deps
    ev.add_node(lid, "loop", attrs, free, form.span)
    kind, schema = (value.kind, value.schema) if isinstance(value, Ref) else ("value", None)
    return ev.ref_to(lid, kind, schema, any(r.quarantined for r in refs_in(value)),
                     next((r.raw for r in refs_in(value) if r.raw), None))


@special("classify")
def _classify(ev: Compiler, form: List, env: Env):
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
    ref = ev.runtime_branches(value, "classify", clauses, default or (), form, env)
    node = ev.nodes_by_id[ref.node]
    if default is None:
        node.attrs.pop("otherwise", None)
    if value.kind == "outcome" and ev.node_kinds.get(value.node) == "spawn":
        node.attrs["mode"] = "agent"
        choices = [ev.to_expr(x) for x in labels]
        if default is not None and "other" not in choices:
            choices.append("other")  # with :else, "none of these" is a valid answer
        _constrain(ev, value.node, {"type": "object", "properties": {"label": {
            "enum": choices}}, "required": ["label"],
            "additionalProperties": False}, form.span_at(1), "classifier")
    return ref


def _constrain(ev: Compiler, nid: str, schema: dict, span, role: str):
    """A classifier or judge step answers in a format fixed by its use."""
    spawn = ev.nodes_by_id[nid]
    current = spawn.attrs.get("returns")
    if current is not None and current != schema:
        raise ev.error("W0306", f"a {role} step gets its answer format from its use; remove "
                       "its `:returns`", span)
    spawn.attrs["returns"] = schema


@special("tournament")
def _tournament(ev: Compiler, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`tournament` takes entrants and a judge: "
                       "(tournament [a b c] (fn [a b] (spawn judge ...)))", form.span)
    opts = ev.options(form, 3, {"format", "id"}, "tournament",
                      evaluate=lambda f: _static(ev, f, env, getattr(f, "span", form.span),
                                                 "a tournament option"))
    fmt = "single-elim"
    if "format" in opts:
        value, span = opts["format"]
        _check(ev, value in ("single-elim", "round-robin"), span,
               "`:format` must be :single-elim or :round-robin")
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
    if not isinstance(judge, Fn) or isinstance(judge, Macro) or len(judge.params) != 2:
        raise ev.error("W0303", "the judge must be a function of two entrants: "
                       "(fn [a b] (spawn judge ...))", form.span_at(2))
    ev.require_builder("tournament", form.span)
    tid = ev.reserve("tournament", opts.get("id", (None,))[0], form.span)
    names = [p.name if isinstance(p, Symbol) else f"p{i}" for i, p in enumerate(judge.params)]
    args = [Ref({"var": n, "in": tid}, kind="value") for n in names]
    with ev.nested(tid) as b:
        verdict = ev.call_fn(judge, args, form)
    if not (isinstance(verdict, Ref) and verdict.kind == "outcome" and
            ev.node_kinds.get(verdict.node) == "spawn" and verdict.node in b.ids):
        raise ev.error("W0303", "the judge function must return a spawn (whose answer picks "
                       "`a` or `b`)", form.span_at(2))
    _constrain(ev, verdict.node, WINNER_SCHEMA, form.span_at(2), "judge")
    ent_expr = ev.to_expr(entrants, form.span_at(1))
    if isinstance(ent_expr, dict) and "lit" in ent_expr:
        ent_expr = {"vec": [ev.to_expr(x) for x in entrants]}
    deps = set(entrants.deps) if isinstance(entrants, Ref) else \
        set().union(*(r.deps for r in refs_in(entrants)))
    ev.add_node(tid, "tournament", {"entrants": ent_expr, "judge": b.graph(verdict.expr, names),
                                    "format": fmt}, deps | b.free(verdict.deps), form.span)
    refs = list(refs_in(entrants)) if not isinstance(entrants, Ref) else [entrants]
    same = refs and all(r.kind == "outcome" and r.schema == refs[0].schema for r in refs)
    return ev.ref_to(tid, "outcome" if same else "value", refs[0].schema if same else None,
                     any(r.quarantined for r in refs), next((r.raw for r in refs if r.raw), None))


@special("loop-info", "tournament-info")
def _info(ev: Compiler, form: List, env: Env):
    want = form[0].name.split("-")[0]
    if len(form) != 2:
        raise ev.error("W0301", f"`{form[0].name}` takes one {want} value", form.span)
    value = ev.eval(form[1], env)
    if value is POISON:
        return POISON
    if not isinstance(value, Ref) or ev.node_kinds.get(value.node) != want:
        raise ev.error("W0303", f"`{form[0].name}` needs the value of a `{want}`",
                       form.span_at(1))
    return Ref({"info": value.node}, frozenset({value.node}))


@special("pipeline")
def _pipeline(ev: Compiler, form: List, env: Env):
    if len(form) < 3:
        raise ev.error("W0301", "`pipeline` takes items and one or more stages", form.span)
    stages_end = len(form)
    for i in range(2, len(form)):
        if isinstance(form[i], Keyword):
            stages_end = i
            break
    opts = ev.options(form, stages_end, {"limit", "id"}, "pipeline",
                      evaluate=lambda f: _static(ev, f, env, getattr(f, "span", form.span),
                                                 "a pipeline option"))
    limit = None
    if "limit" in opts:
        limit = opts["limit"][0]
        _check(ev, isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1,
               opts["limit"][1], "`:limit` must be an integer >= 1")
    items = ev.eval(form[1], env)
    stages = [ev.eval(f, env) for f in form[2:stages_end]]
    if items is POISON or POISON in stages:
        return POISON
    for k, st in enumerate(stages):
        if not isinstance(st, Fn) or isinstance(st, Macro) or len(st.params) != 2:
            raise ev.error("W0303", "a pipeline stage is a function (fn [prev item] ...)",
                           form.span_at(k + 2))
    ev.require_builder("pipeline", form.span)
    pid = ev.reserve("pipeline", opts.get("id", (None,))[0], form.span)
    frees: set = set()
    attrs: dict = {"limit": limit}

    def stage_graph(prefix, stage, k, item):
        prev = None if k == 0 else Ref({"var": "prev", "in": pid})
        with ev.nested(prefix) as b:
            v = ev.call_fn(stage, [prev, item], form)
        deps = set().union(*(r.deps for r in refs_in(v))) if has_ref(v) else set()
        frees.update(b.free(deps))
        return b.graph(ev.to_expr(v, form.span), ["prev"] if k else [])

    if isinstance(items, Ref):
        item = Ref({"var": "item", "in": pid})
        attrs["items"] = items.expr
        attrs["stages"] = [stage_graph(f"{pid}/stage{k + 1}", st, k, item)
                           for k, st in enumerate(stages)]
        for g in attrs["stages"]:
            g.params = [*g.params, "item"]
        frees |= items.deps
    else:
        try:
            seq = B._seq(items)
        except B.BuiltinError as exc:
            raise ev.error("W0303", f"pipeline items: {exc}", form.span_at(1)) from None
        attrs["chains"] = [[stage_graph(f"{pid}[{i}]/stage{k + 1}", st, k, x)
                            for k, st in enumerate(stages)] for i, x in enumerate(seq)]
        frees |= set().union(*(r.deps for r in refs_in(items))) if has_ref(items) else set()
    ev.add_node(pid, "pipeline", attrs, frees, form.span)
    return ev.ref_to(pid)


@special("try")
def _try(ev: Compiler, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`try` takes an expression: (try expr :catch (fn [err] ...))",
                       form.span)
    opts = ev.options(form, 2, {"catch", "id"}, "try")
    ev.require_builder("try", form.span)
    explicit = _static(ev, opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    tid = ev.reserve("try", explicit, form.span)
    with ev.nested(tid) as body_b:
        value = ev.guarded(ev.eval, form[1], env)
    free = body_b.free(set().union(*(r.deps for r in refs_in(value))) if has_ref(value)
                       else set())
    attrs = {"body": body_b.graph(ev.to_expr(value, form.span))}
    if "catch" in opts:
        handler = ev.eval(opts["catch"][0], env)
        if handler is not POISON:
            if not isinstance(handler, Fn) or isinstance(handler, Macro) or \
                    len(handler.params) != 1:
                raise ev.error("W0303", "`:catch` takes a function of one argument: "
                               "(fn [err] ...)", opts["catch"][1])
            var = handler.params[0].name if isinstance(handler.params[0], Symbol) else "err"
            with ev.nested(f"{tid}/catch") as cb:
                caught = ev.call_fn(handler, [Ref({"var": var, "in": tid})], form)
            free |= cb.free(set().union(*(r.deps for r in refs_in(caught)))
                            if has_ref(caught) else set())
            attrs["catch"] = cb.graph(ev.to_expr(caught, form.span))
            attrs["var"] = var
    ev.add_node(tid, "try", attrs, free, form.span)
    return ev.ref_to(tid)


@special("fail")
def _fail(ev: Compiler, form: List, env: Env):
    if len(form) != 2:
        raise ev.error("W0301", "`fail` takes a message: (fail \"why\")", form.span)
    message = ev.eval(form[1], env)
    if message is POISON:
        return POISON
    ev.require_builder("fail", form.span)
    nid = ev.reserve("fail", None, form.span)
    deps = message.deps if isinstance(message, Ref) else set()
    ev.add_node(nid, "fail", {"message": ev.check_prompt(message, form.span_at(1), "message")},
                deps, form.span)
    return ev.ref_to(nid)


@special("human")
def _human(ev: Compiler, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`human` takes a prompt: (human \"Approve?\")", form.span)
    prompt = ev.eval(form[1], env)
    opts = ev.options(form, 2, {"id", "returns", "description"}, "human")
    if prompt is POISON:
        return POISON
    ev.require_builder("human", form.span)
    attrs = {"prompt": ev.check_prompt(prompt, form.span_at(1))}
    schema = None
    if "returns" in opts:
        attrs["returns"], schema = _returns(ev, opts["returns"][0], opts["returns"][1], env)
    if "description" in opts:
        d = _static(ev, opts["description"][0], env, opts["description"][1], "`:description`")
        attrs["description"] = d
    explicit = _static(ev, opts["id"][0], env, opts["id"][1], "`:id`") if "id" in opts else None
    nid = ev.reserve("human", explicit, form.span)
    deps = prompt.deps if isinstance(prompt, Ref) else set()
    ev.add_node(nid, "human", attrs, deps, form.span)
    return ev.ref_to(nid, "value", schema)


