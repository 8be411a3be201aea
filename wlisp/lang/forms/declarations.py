"""The declarations of SPEC §4 — defagent, deftool, defschema, defworkflow — and
the option checks they share with the step forms in `forms.py`. A bad option is
reported and skipped, so the definition still exists and later uses of it are
not reported again."""

from __future__ import annotations

import re

from ...errors import did_you_mean
from ...values import builtins as B
from ...values.datum import Keyword, List, Map, Symbol, Vector, pr_str
from ..compiler import CONTEXT, ISOLATION, ROLES, TRUST, Agent, Compiler, Tool, WorkflowDef
from ..evaluator import POISON, Env, Ref, has_ref, special
from ..types import Schema, compile_type
from .core import _check_definable, _params, _sym

AGENT_OPTS = {"executor", "model", "system", "tools", "max-steps", "timeout", "retries", "role",
              "isolation", "context", "trust", "exclusive", "description"}
SPAWN_OPTS = {"id", "returns", "max-steps", "model", "timeout", "retries", "trust", "role",
              "after", "description"}
WORKFLOW_OPTS = {"description", "budget", "concurrency"}
BUDGET_KEYS = ("steps", "tokens", "cost", "wall")
_TOOL_HOLE = re.compile(r"\{([^{}]+)\}")


def _static(ev: Compiler, form, env, span, what):
    value = ev.eval(form, env)
    if isinstance(value, Ref) or has_ref(value):
        raise ev.error("W0309", f"{what} must be known at compile time, not at run time", span)
    return value


def _check(ev, ok: bool, span, message):
    if not ok:
        raise ev.error("W0306", message, span)


def _int_opt(ev, opts, key, minimum, out, out_key=None):
    if opts.get(key, (None,))[0] is not None:
        value, span = opts[key]
        _check(ev, isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
               span, f"`:{key}` must be an integer >= {minimum}, got {pr_str(value)}")
        out[out_key or key.replace("-", "_")] = value


def _num_opt(ev, opts, key, out):
    if opts.get(key, (None,))[0] is not None:
        value, span = opts[key]
        _check(ev, isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
               span, f"`:{key}` must be a number > 0 (seconds), got {pr_str(value)}")
        out[key] = value


def _choice(ev, opts, key, choices, out):
    if opts.get(key, (None,))[0] is not None:
        value, span = opts[key]
        _check(ev, isinstance(value, str) and value in choices, span,
               f"`:{key}` must be one of " + ", ".join(f":{c}" for c in choices)
               + f", got {pr_str(value)}" + did_you_mean(str(value), choices))
        out[key] = str.__str__(value)


def _str_opt(ev, opts, key, out):
    if opts.get(key, (None,))[0] is not None:
        value, span = opts[key]
        _check(ev, isinstance(value, str) and not isinstance(value, Keyword), span,
               f"`:{key}` must be a string, got {pr_str(value)}")
        out[key.replace("-", "_")] = str.__str__(value)


def _define(ev: Compiler, env: Env, name: Symbol, value):
    """Bind a definition; defining the same agent, tool, schema or workflow twice
    in one file is a mistake (the REPL allows it)."""
    _check_definable(name)
    module = env.module_env()
    old = module.vars.get(name.name)
    if old is not None and not ev.allow_redefine and type(old) is type(value):
        ev.record(ev.error("W0202", f"{B.type_name(value)} `{name.name}` is already defined",
                           name.span, ("the first definition is here",
                                       getattr(old, "span", None))))
    module.vars[name.name] = value
    return value


@special("defagent")
def _defagent(ev: Compiler, form: List, env: Env):
    name = _sym(form, 1, "defagent")
    raw = ev.options(form, 2, AGENT_OPTS, "defagent")
    tools_form = raw.pop("tools", None)
    opts = {}
    for k, (v, span) in raw.items():
        value = ev.guarded(_static, ev, v, env, span, "an agent option")
        if value is not POISON:
            opts[k] = (value, span)
    cfg: dict = {"name": name.name}
    for check in (lambda: _str_opt(ev, opts, "executor", cfg),
                  lambda: _str_opt(ev, opts, "model", cfg),
                  lambda: _str_opt(ev, opts, "system", cfg),
                  lambda: _str_opt(ev, opts, "description", cfg),
                  lambda: _int_opt(ev, opts, "max-steps", 1, cfg),
                  lambda: _num_opt(ev, opts, "timeout", cfg),
                  lambda: _int_opt(ev, opts, "retries", 0, cfg),
                  lambda: _choice(ev, opts, "role", tuple(ROLES), cfg)):
        ev.guarded(check)
    role = cfg.setdefault("role", "custom")
    cfg["isolation"], cfg["context"] = ROLES[role]
    for check in (lambda: _choice(ev, opts, "isolation", ISOLATION, cfg),
                  lambda: _choice(ev, opts, "context", CONTEXT, cfg),
                  lambda: _choice(ev, opts, "trust", TRUST, cfg),
                  lambda: _bool_opt(ev, opts, "exclusive", cfg)):
        ev.guarded(check)
    cfg.setdefault("trust", "trusted")
    cfg["tools"] = _tools(ev, tools_form, env) if tools_form else []
    return _define(ev, env, name, Agent(name.name, cfg, form.span))


def _bool_opt(ev, opts, key, out):
    if opts.get(key, (None,))[0] is not None:
        value, span = opts[key]
        _check(ev, isinstance(value, bool), span, f"`:{key}` must be true or false")
        out[key] = value


def _tools(ev: Compiler, tools_form, env) -> list[str]:
    """`:tools [grep run-tests]`: each name must be a `deftool`."""
    form, span = tools_form
    if not isinstance(form, (Vector, List)):
        value = ev.guarded(ev.eval, form, env)
        if value is POISON:
            return []
        if not isinstance(value, (Vector, List)):
            ev.record(ev.error("W0306", "`:tools` takes a vector of tools", span))
            return []
        form = value
    names = []
    for i, item in enumerate(form):
        if isinstance(item, Symbol):
            scope = env.find(item.name)
            value = scope[item.name] if scope is not None else None
            if value is None:
                known = _all_of(env, Tool)
                ev.record(ev.error("W0204", f"unknown tool `{item.name}`"
                                   + did_you_mean(item.name, known), item.span))
                continue
        else:
            value = item
        if value is POISON:
            continue
        if not isinstance(value, Tool):
            ev.record(ev.error("W0204", f"`{pr_str(item)}` is not a tool defined with "
                               "`deftool`", getattr(item, "span", None) or
                               (form.span_at(i) if hasattr(form, "span_at") else span)))
            continue
        names.append(value.name)
    return names


@special("deftool")
def _deftool(ev: Compiler, form: List, env: Env):
    name = _sym(form, 1, "deftool")
    opts = ev.options(form, 2, {"description", "params", "command"}, "deftool")
    cfg: dict = {"name": name.name, "params": {"type": "object", "properties": {},
                                               "required": [], "additionalProperties": False},
                 "command": []}
    if "description" in opts:
        desc = ev.guarded(_static, ev, opts["description"][0], env, opts["description"][1],
                          "a description")
        if isinstance(desc, str):
            cfg["description"] = desc
        elif desc is not POISON:
            ev.record(ev.error("W0306", "`:description` takes a string", opts["description"][1]))
    if "params" in opts:
        params = ev.guarded(compile_type, opts["params"][0],
                            lambda s: _schema_lookup(ev, s, env), opts["params"][1],
                            _all_of(env, Schema))
        if params is not POISON:
            cfg["params"] = params
        else:
            cfg["params"] = {}  # unknown: do not also report the command's holes
    if "command" not in opts:
        ev.record(ev.error("W0302", "`deftool` needs `:command [\"prog\" \"{param}\" ...]`",
                           form.span))
    else:
        ev.guarded(_tool_command, ev, opts["command"], env, cfg, name)
    tool = Tool(name.name, cfg, form.span)
    ev.tools_defined[name.name] = tool
    return _define(ev, env, name, tool)


def _tool_command(ev, option, env, cfg, name):
    command = _static(ev, option[0], env, option[1], "a tool command")
    _check(ev, isinstance(command, (Vector, List)) and command and
           all(isinstance(c, str) for c in command), option[1],
           "`:command` takes a non-empty vector of strings (one per argv element), "
           "never a shell string")
    known = list(cfg["params"].get("properties", {}))
    for part in command if cfg["params"] else ():
        for hole in _TOOL_HOLE.findall(part):
            if hole not in known:
                raise ev.error("W0206", f"command hole `{{{hole}}}` is not a parameter of tool "
                               f"`{name.name}`" + did_you_mean(hole, known),
                               ev.locate(option[1], "{" + hole + "}"))
    cfg["command"] = [str.__str__(c) for c in command]


def _schema_lookup(ev, sym: Symbol, env: Env):
    scope = env.find(sym.name)
    return scope[sym.name] if scope is not None else None


@special("defschema")
def _defschema(ev: Compiler, form: List, env: Env):
    if len(form) != 3:
        raise ev.error("W0301", "`defschema` takes a name and a type: (defschema Name type)",
                       form.span)
    name = _sym(form, 1, "defschema")
    js = ev.guarded(compile_type, form[2], lambda s: _schema_lookup(ev, s, env),
                    form.span_at(2), _all_of(env, Schema))
    if js is POISON:
        js = {}  # keep the name defined so uses of it are not reported again
    return _define(ev, env, name, Schema(name.name, js, form.span))


TYPE_HEADS = {"enum", "list-of", "optional", "one-of", "json-schema"}


def _returns(ev: Compiler, form, span, env):
    """:returns takes a schema name, a schema value, an inline type, or an expression
    giving a schema (nil: none)."""
    if isinstance(form, List) and form and not (isinstance(form[0], Symbol)
                                                and form[0].name in TYPE_HEADS):
        form = _static(ev, form, env, span, "`:returns`")
        if form is None:
            return None, None
    if form is None:
        return None, None
    if isinstance(form, Schema):
        if form.name:
            ev.used_schemas[form.name] = form.json
            return form.name, form.json
        return form.json, form.json
    if isinstance(form, Symbol):
        scope = env.find(form.name)
        value = scope[form.name] if scope is not None else None
        if isinstance(value, Schema):
            if value.name:
                ev.used_schemas[value.name] = value.json
                return value.name, value.json
            return value.json, value.json
        if value is not None and not isinstance(value, Schema):
            raise ev.error("W0205", f"`{form.name}` is a {B.type_name(value)}, not a schema",
                           form.span)
    js = compile_type(form, lambda s: _schema_lookup(ev, s, env), span, _all_of(env, Schema))
    return js, js


@special("defworkflow")
def _defworkflow(ev: Compiler, form: List, env: Env):
    name = _sym(form, 1, "defworkflow")
    params = _params(form, 2, "defworkflow")
    seen = set()
    for p in params:
        if not isinstance(p, Symbol):
            raise ev.error("W0302", "workflow parameters must be names", form.span_at(2))
        if p.name in seen:
            ev.record(ev.error("W0202", f"parameter `{p.name}` is listed twice", p.span))
        seen.add(p.name)
    i, raw = 3, {}
    while i < len(form) and isinstance(form[i], Keyword):
        key = form[i]
        if i + 1 >= len(form):
            raise ev.error("W0302", f"option `:{key}` needs a value", form.span_at(i))
        if key not in WORKFLOW_OPTS:
            ev.record(ev.error("W0207", f"unknown option `:{key}` for `defworkflow`"
                               + did_you_mean(key, sorted(WORKFLOW_OPTS)), form.span_at(i)))
        else:
            raw[str.__str__(key)] = (form[i + 1], form.span_at(i + 1))
        i += 2
    opts = {}
    for k, (v, span) in raw.items():
        value = ev.guarded(_static, ev, v, env, span, f"`:{k}`")
        if value is not POISON:
            opts[k] = (value, span)
    cfg = {}
    ev.guarded(_str_opt, ev, opts, "description", cfg)
    ev.guarded(_int_opt, ev, opts, "concurrency", 1, cfg)
    if "budget" in opts:
        ev.guarded(_budget, ev, opts["budget"], raw["budget"][0], cfg)
    if i >= len(form):
        raise ev.error("W0302", f"workflow `{name.name}` has no body", form.span)
    wf = WorkflowDef(name.name, tuple(params), cfg, form[i:], env, form.span)
    ev.workflows[name.name] = wf
    return _define(ev, env, name, wf)


def _budget(ev, option, source, cfg):
    value, span = option
    _check(ev, isinstance(value, Map), span, "`:budget` takes a map like {:steps 100 :cost 2.5}")
    spans = source.pair_spans if isinstance(source, Map) else {}
    budget = {}
    for k, v in value.items():
        key_span, value_span = spans.get(k, (span, span))
        if k not in BUDGET_KEYS:
            ev.record(ev.error("W0207", f"unknown budget key `{pr_str(k)}`"
                               + did_you_mean(str(k), BUDGET_KEYS), key_span,
                               ("budget keys: " + ", ".join(f":{b}" for b in BUDGET_KEYS),
                                None)))
            continue
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
            ev.record(ev.error("W0306", f"budget `:{k}` must be a number > 0", value_span))
            continue
        budget[str.__str__(k)] = v
    cfg["budget"] = budget


def _all_of(env: Env, cls) -> list[str]:
    names = []
    while env is not None:
        names += [k for k, v in env.vars.items() if isinstance(v, cls)]
        env = env.parent
    return names
