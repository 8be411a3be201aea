"""The declarations of SPEC §4: defagent, deftool, defschema, defworkflow, and the
`:returns` types the step forms share. A bad option is reported and skipped, so
the definition still exists and later uses of it are not reported again."""

from __future__ import annotations

import re

from ...errors import did_you_mean
from ...ir.inputs import schema_mismatch, type_label
from ...ir.vocabulary import BUDGET_KEYS, CONTEXT, ISOLATION, ROLES, TRUST, WRITE_ISOLATION
from ...values import builtins as B
from ...values.datum import List, Map, Symbol, Vector, pr_str
from ..compiler import WorkflowDef
from ..evaluator import Evaluator
from ..options import (
    bool_option,
    check,
    choice_option,
    int_option,
    parse_options,
    seconds_option,
    string_option,
)
from ..types import CONSTRUCTORS, Schema, compile_type
from ..values import POISON, Agent, Env, Tool
from .core import check_definable, name_at

AGENT_OPTS = {"executor", "model", "system", "tools", "max-steps", "timeout", "retries", "role",
              "isolation", "context", "trust", "exclusive", "description"}
TOOL_OPTS = {"description", "params", "command"}
WORKFLOW_OPTS = {"description", "budget", "concurrency", "returns"}
_TOOL_HOLE = re.compile(r"\{([^{}]+)\}")


def define(ev: Evaluator, env: Env, name: Symbol, value):
    """Bind a definition; defining the same agent, tool, schema or workflow twice
    in one file is a mistake (the REPL allows it)."""
    check_definable(ev, name)
    module = env.module_env()
    old = module.vars.get(name.name)
    if old is not None and not ev.allow_redefine and type(old) is type(value):
        ev.record(ev.error("W0202", f"{B.type_name(value)} `{name.name}` is already defined",
                           name.span, ("the first definition is here",
                                       getattr(old, "span", None))))
    module.vars[name.name] = value
    return value


def static_options(ev: Evaluator, opts, env, what: str) -> dict:
    """Evaluate option value forms that must be known at compile time (errors recorded)."""
    out = {}
    for k, (v, span) in opts.items():
        value = ev.guarded(ev.static, v, env, span, what.format(key=k))
        if value is not POISON:
            out[k] = (value, span)
    return out


def _defagent(ev: Evaluator, form: List, env: Env):
    name = name_at(form, 1, "defagent")
    raw = parse_options(ev, form, 2, AGENT_OPTS, "defagent")
    tools_form = raw.pop("tools", None)
    opts = static_options(ev, raw, env, "an agent option")
    cfg: dict = {"name": name.name}
    for key in ("executor", "model", "system", "description"):
        ev.guarded(string_option, opts, key, cfg)
    ev.guarded(int_option, opts, "max-steps", 1, cfg)
    ev.guarded(seconds_option, opts, "timeout", cfg)
    ev.guarded(int_option, opts, "retries", 0, cfg)
    ev.guarded(choice_option, opts, "role", tuple(ROLES), cfg)
    role = cfg.setdefault("role", "custom")
    cfg["isolation"], cfg["context"] = ROLES[role]
    ev.guarded(choice_option, opts, "isolation", ISOLATION, cfg)
    ev.guarded(choice_option, opts, "context", CONTEXT, cfg)
    ev.guarded(choice_option, opts, "trust", TRUST, cfg)
    ev.guarded(bool_option, opts, "exclusive", cfg)
    cfg.setdefault("trust", "trusted")
    if cfg["trust"] == "quarantined":
        _read_only(ev, cfg, opts, form)
    cfg["tools"] = _tools(ev, tools_form, env) if tools_form else []
    return define(ev, env, name, Agent(name.name, cfg, form.span))


def _read_only(ev: Evaluator, cfg: dict, opts: dict, form: List) -> None:
    """A quarantined agent reads untrusted text and must not write: read-only unless the
    author asked for write isolation, which is refused (W0407)."""
    if "isolation" not in opts and "role" not in opts:
        cfg["isolation"] = "read-only"
    elif cfg["isolation"] in WRITE_ISOLATION:
        key = "isolation" if "isolation" in opts else "role"
        ev.record(ev.error("W0407", f"a quarantined agent cannot have write isolation "
                           f"`{cfg['isolation']}`; quarantined agents are read-only",
                           opts[key][1], ("use `:isolation :read-only`, or a trusted agent "
                                          "that reads only validated fields", None)))


def _tools(ev: Evaluator, tools_form, env) -> list[str]:
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
            value = env.get(item.name)
            if value is None:
                ev.record(ev.error("W0204", f"unknown tool `{item.name}`"
                                   + did_you_mean(item.name, env.all_of(Tool)), item.span))
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


def _deftool(ev: Evaluator, form: List, env: Env):
    name = name_at(form, 1, "deftool")
    opts = parse_options(ev, form, 2, TOOL_OPTS, "deftool")
    cfg: dict = {"name": name.name, "params": {"type": "object", "properties": {},
                                               "required": [], "additionalProperties": False},
                 "command": []}
    if "description" in opts:
        desc = ev.guarded(ev.static, opts["description"][0], env, opts["description"][1],
                          "a description")
        if isinstance(desc, str):
            cfg["description"] = desc
        elif desc is not POISON:
            ev.record(ev.error("W0306", "`:description` takes a string", opts["description"][1]))
    if "params" in opts:
        params = ev.guarded(compile_type, opts["params"][0], env.get, opts["params"][1],
                            env.all_of(Schema))
        # unknown: do not also report the command's holes
        cfg["params"] = params if params is not POISON else {}
    if "command" not in opts:
        ev.record(ev.error("W0302", "`deftool` needs `:command [\"prog\" \"{param}\" ...]`",
                           form.span))
    else:
        ev.guarded(_tool_command, ev, opts["command"], env, cfg, name)
    tool = Tool(name.name, cfg, form.span)
    ev.tools[name.name] = tool
    return define(ev, env, name, tool)


def _tool_command(ev, option, env, cfg, name):
    command = ev.static(option[0], env, option[1], "a tool command")
    check(isinstance(command, (Vector, List)) and command and
          all(isinstance(c, str) for c in command), option[1],
          "`:command` takes a non-empty vector of strings (one per argv element), "
          "never a shell string")
    if _TOOL_HOLE.search(command[0]):
        raise ev.error("W0306", "the program of a tool command (its first element) must be "
                       "fixed: a hole there would let the model choose what runs",
                       ev.locate(option[1], command[0]))
    known = list(cfg["params"].get("properties", {}))
    for part in command if cfg["params"] else ():
        for hole in _TOOL_HOLE.findall(part):
            if hole not in known:
                raise ev.error("W0206", f"command hole `{{{hole}}}` is not a parameter of tool "
                               f"`{name.name}`" + did_you_mean(hole, known),
                               ev.locate(option[1], "{" + hole + "}"))
    cfg["command"] = [str.__str__(c) for c in command]


def _defschema(ev: Evaluator, form: List, env: Env):
    if len(form) != 3:
        raise ev.error("W0301", "`defschema` takes a name and a type: (defschema Name type)",
                       form.span)
    name = name_at(form, 1, "defschema")
    js = ev.guarded(compile_type, form[2], env.get, form.span_at(2), env.all_of(Schema))
    if js is POISON:
        js = {}  # keep the name defined so uses of it are not reported again
    return define(ev, env, name, Schema(name.name, js, form.span))


def returns_type(ev: Evaluator, form, span, env):
    """`:returns` takes a schema name, a schema value, an inline type, or an expression
    giving a schema (nil: none). Returns (what the node records, the JSON Schema)."""
    if isinstance(form, List) and form and not (isinstance(form[0], Symbol)
                                                and form[0].name in CONSTRUCTORS):
        form = ev.static(form, env, span, "`:returns`")
    if form is None:
        return None, None
    if isinstance(form, Symbol):
        value = env.get(form.name)
        if value is not None and not isinstance(value, Schema):
            raise ev.error("W0205", f"`{form.name}` is a {B.type_name(value)}, not a schema",
                           form.span)
        form = value or form
    if isinstance(form, Schema):
        if form.name:
            ev.used_schemas[form.name] = form.json
            return form.name, form.json
        return form.json, form.json
    js = compile_type(form, env.get, span, env.all_of(Schema))
    return js, js


def _defworkflow(ev: Evaluator, form: List, env: Env):
    name = name_at(form, 1, "defworkflow")
    if len(form) < 3 or not isinstance(form[2], Vector):
        raise ev.error("W0302", "`defworkflow` needs a parameter vector like [brief]",
                       form.span_at(2))
    params, inputs, seen = [], {}, set()
    for i, p in enumerate(form[2]):
        p = ev.guarded(_typed_param, ev, p, env, form[2].span_at(i), inputs)
        if p is POISON:
            continue
        if p.name in seen:
            ev.record(ev.error("W0202", f"parameter `{p.name}` is listed twice", p.span))
        seen.add(p.name)
        params.append(p)
    raw = parse_options(ev, form, 3, WORKFLOW_OPTS, "defworkflow", leading=True)
    returns = raw.pop("returns", None)
    opts = static_options(ev, raw, env, "`:{key}`")
    cfg = {}
    ev.guarded(string_option, opts, "description", cfg)
    ev.guarded(int_option, opts, "concurrency", 1, cfg)
    if "budget" in opts:
        ev.guarded(_budget, ev, opts["budget"], raw["budget"][0], cfg)
    if returns is not None:  # the result's type: checked when a run ends
        typed = ev.guarded(returns_type, ev, returns[0], returns[1], env)
        if typed is not POISON:
            cfg["returns"] = typed[1]
    if raw.end >= len(form):
        if raw.bad:  # a dangling option was reported already
            return POISON
        raise ev.error("W0302", f"workflow `{name.name}` has no body", form.span)
    wf = WorkflowDef(name.name, tuple(params), cfg, form[raw.end:], env, form.span, inputs)
    ev.workflows[name.name] = wf
    return define(ev, env, name, wf)


def _typed_param(ev: Evaluator, p, env, span, inputs: dict) -> Symbol:
    """`name`, `(name Type)` or `(name Type default)`: a workflow input, typed with any
    `defschema` type; a default (checked against the type) makes it optional."""
    if isinstance(p, Symbol):
        return p
    if not isinstance(p, List) or not 2 <= len(p) <= 3 or not isinstance(p[0], Symbol):
        raise ev.error("W0302", "a workflow parameter is `name`, `(name Type)` or "
                       "`(name Type default)`", span)
    schema = compile_type(p[1], env.get, p.span_at(1), env.all_of(Schema))
    spec: dict = {"type": schema, **({"span": p.span.to_json()} if p.span else {})}
    if len(p) == 3:
        default = ev.static(p[2], env, p.span_at(2), "a parameter's default")
        value = B.to_json(default)
        problem = schema_mismatch(schema, value)
        if problem:
            raise ev.error("W0303", f"the default of `{p[0].name}` is not of type "
                           f"{type_label(schema)}: {problem}", p.span_at(2))
        spec["default"] = value
    inputs[p[0].name] = spec
    return p[0]


def _budget(ev, option, source, cfg):
    value, span = option
    check(isinstance(value, Map), span, "`:budget` takes a map like {:steps 100 :cost 2.5}")
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


FORMS = {"defagent": _defagent, "deftool": _deftool, "defschema": _defschema,
         "defworkflow": _defworkflow}
OPTIONS = {"defagent": AGENT_OPTS, "deftool": TOOL_OPTS, "defworkflow": WORKFLOW_OPTS}
