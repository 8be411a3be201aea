"""The special forms of the core language (SPEC §3): definitions, binding,
conditionals, quoting, `fmt`, `error`. Each is `(evaluator, form, env) -> value`;
`FORMS` is this module's table of them. A condition on a runtime value becomes a
classify node (`branches.runtime_branches`).
"""

from __future__ import annotations

import re

from ...errors import WlispError
from ...values import builtins as B
from ...values.datum import Keyword, List, Map, Symbol, Vector, pr_str
from ..evaluator import Evaluator
from ..values import POISON, Env, Fn, Macro, Ref, has_ref, merge_refs, refs_in
from .branches import runtime_branches


def name_at(form: List, i: int, what: str) -> Symbol:
    if i >= len(form) or not isinstance(form[i], Symbol):
        raise WlispError.at("W0302", f"`{what}` needs a name here", form.span_at(i))
    return form[i]


def _def(ev: Evaluator, form: List, env: Env):
    if len(form) != 3:
        raise ev.error("W0301", "`def` takes a name and a value: (def name expr)", form.span)
    name = name_at(form, 1, "def")
    check_definable(ev, name)
    value = ev.guarded(ev.eval, form[2], env)  # on error the name still exists, as POISON
    module = env.module_env()
    if value is not POISON or name.name not in module.vars:  # a failed def keeps the old
        module.vars[name.name] = value
    return value


def check_definable(ev: Evaluator, name: Symbol) -> None:
    if name.name in ev.forms:
        raise WlispError.at("W0202", f"`{name.name}` is a special form and cannot be redefined",
                            name.span)


def params_at(form: List, i: int, what: str) -> Vector:
    if i >= len(form) or not isinstance(form[i], Vector):
        raise WlispError.at("W0302", f"`{what}` needs a parameter vector like [a b]",
                            form.span_at(i))
    for p in form[i]:
        if not isinstance(p, (Symbol, Vector, Map)):
            raise WlispError.at("W0302", f"parameters must be names, got `{pr_str(p)}`",
                                getattr(p, "span", None) or form.span_at(i))
    return form[i]


def _defn(ev: Evaluator, form: List, env: Env):
    kind = form[0].name
    name = name_at(form, 1, kind)
    check_definable(ev, name)
    i = 3 if len(form) > 3 and isinstance(form[2], str) else 2
    cls = Macro if kind == "defmacro" else Fn
    arities = _arities(form, i, kind)
    f = cls(name.name, *arities[0], env, form.span, arities)
    env.module_env().vars[name.name] = f
    return f


def _arities(form: List, i: int, what: str) -> list:
    """`[params] body...`, or one `([params] body...)` per arity (multi-arity)."""
    if i < len(form) and isinstance(form[i], List):
        out = []
        for k, clause in enumerate(form[i:]):
            if not isinstance(clause, List) or not clause or not isinstance(clause[0], Vector):
                raise WlispError.at("W0302", f"each arity of `{what}` looks like "
                                    "([params] body...)", form.span_at(i + k))
            out.append((tuple(params_at(clause, 0, what)), clause[1:]))
        counts = [len(ps) for ps, _ in out if Symbol("&") not in ps]
        if len(set(counts)) != len(counts):
            raise WlispError.at("W0302", f"`{what}` has two arities with the same number of "
                                "parameters", form.span)
        return out
    return [(tuple(params_at(form, i, what)), form[i + 1:])]


def _fn(ev: Evaluator, form: List, env: Env):
    """`(fn [x] ...)`, `(fn name [x] ...)` (it can call itself), multi-arity too."""
    name = form[1] if len(form) > 1 and isinstance(form[1], Symbol) else None
    i = 2 if name is not None else 1
    arities = _arities(form, i, "fn")
    if name is None:
        return Fn(None, *arities[0], env, form.span, arities)
    own = Env(env)
    f = Fn(name.name, *arities[0], own, form.span, arities)
    own.vars[name.name] = f
    return f


def _let(ev: Evaluator, form: List, env: Env):
    if len(form) < 2 or not isinstance(form[1], Vector):
        raise ev.error("W0302", "`let` needs a vector of name/value pairs: (let [a 1 b 2] ...)",
                       form.span_at(1))
    if len(form[1]) % 2:
        last = form[1].span_at(len(form[1]) - 1)
        raise ev.error("W0302", f"`let` binding `{pr_str(form[1][-1])}` has no value", last)
    bindings = form[1]
    inner = Env(env)
    for i in range(0, len(bindings), 2):
        pattern = bindings[i]
        if not isinstance(pattern, (Symbol, Vector, Map)):
            raise ev.error("W0302", f"a `let` name must be a symbol, a vector or a map, got "
                           f"`{pr_str(pattern)}`", bindings.span_at(i))
        with ev.naming(pattern):
            value = _adopt(ev, ev.guarded(ev.eval, bindings[i + 1], inner))
        ev.bind(pattern, value, inner)
    return ev.eval_body(form[2:], inner)


def _adopt(ev: Evaluator, value):
    """A binding whose value is one step gives the step its name (`builder.adopt`)."""
    if ev.graph is None or not isinstance(value, Ref) or value.node is None or \
            value.expr != {"ref": value.node}:
        return value
    nid = ev.graph.adopt(value.node)
    if nid is None:
        return value
    return Ref({"ref": nid}, frozenset({nid}), value.kind, nid, value.schema, value.raw,
               value.raw_use)


def _do(ev: Evaluator, form: List, env: Env):
    return ev.eval_body(form[1:], env)


def _quote(ev: Evaluator, form: List, env: Env):
    if len(form) != 2:
        raise ev.error("W0301", "`quote` takes one form", form.span)
    return form[1]


def _quasiquote(ev: Evaluator, form: List, env: Env):
    if len(form) != 2:
        raise ev.error("W0301", "`quasiquote` takes one form", form.span)
    return _qq(ev, form[1], env, 1, {})


UNQUOTE, SPLICE, QUASI = Symbol("unquote"), Symbol("unquote-splicing"), Symbol("quasiquote")


def _qq(ev: Evaluator, x, env: Env, depth: int, gensyms: dict):
    """Syntax-quote `x` at nesting `depth`: `~` evaluates only at depth 1 (a nested
    quasiquote keeps its own unquotes, `~~x` reaches the outer one), and `name#`
    becomes one fresh symbol per expansion (hygienic macros)."""
    if isinstance(x, List) and x and x[0] in (UNQUOTE, QUASI) and len(x) == 2:
        if x[0] == UNQUOTE and depth == 1:
            return ev.eval(x[1], env)
        inner = depth - 1 if x[0] == UNQUOTE else depth + 1  # `~~@xs`: spliced in here
        return List((x[0], *_qq_items(ev, x[1:], env, inner, gensyms)), x.span)
    if isinstance(x, (List, Vector)):
        return type(x)(_qq_items(ev, x, env, depth, gensyms), x.span)
    if isinstance(x, Map):
        return Map(((_qq(ev, k, env, depth, gensyms), _qq(ev, v, env, depth, gensyms))
                    for k, v in x.items()), span=x.span)
    if isinstance(x, Symbol) and x.name.endswith("#") and len(x.name) > 1:
        if x.name not in gensyms:
            gensyms[x.name] = gensym(ev, x.name[:-1])
        return gensyms[x.name]
    return x


def _qq_items(ev: Evaluator, x, env: Env, depth: int, gensyms: dict) -> list:
    items = []
    for item in x:
        if isinstance(item, List) and item and item[0] == SPLICE and depth == 1:
            spliced = ev.eval(item[1], env) if len(item) == 2 else None
            if not isinstance(spliced, (List, Vector)) and spliced is not None:
                raise ev.error("W0303", "`~@` needs a list or vector to splice, got a "
                               f"{B.type_name(spliced)}", item.span)
            items.extend(spliced or ())
        elif isinstance(item, List) and item and item[0] == SPLICE:
            items.append(List((SPLICE, *(_qq(ev, i, env, depth - 1, gensyms)
                                         for i in item[1:])), item.span))
        else:
            items.append(_qq(ev, item, env, depth, gensyms))
    return items


def gensym(ev: Evaluator, prefix: str = "G") -> Symbol:
    """A symbol no program has written (names with `__` and a counter are reserved)."""
    ev.fresh += 1
    return Symbol(f"{prefix}__{ev.fresh}__auto")


def _gensym(ev: Evaluator, form: List, env: Env):
    if len(form) > 2:
        raise ev.error("W0301", "`gensym` takes an optional prefix", form.span)
    prefix = ev.eval(form[1], env) if len(form) == 2 else "G"
    if isinstance(prefix, Symbol):
        prefix = prefix.name
    if not isinstance(prefix, str) or not prefix:
        raise ev.error("W0303", "`gensym` takes a string prefix", form.span_at(1))
    return gensym(ev, str.__str__(prefix))


def _unquote(ev: Evaluator, form: List, env: Env):
    raise ev.error("W0308", "`~` (unquote) is only meaningful inside a ` (quasiquote)",
                   form.span)


def message_arg(ev: Evaluator, form: List, env: Env):
    """The value of the one message argument of `(error "why")` or `(fail "why")`."""
    if len(form) != 2:
        raise ev.error("W0301", f"`{form[0].name}` takes a message: ({form[0].name} \"why\")",
                       form.span)
    return ev.eval(form[1], env)


def _error_form(ev: Evaluator, form: List, env: Env):
    """`(error "message")`: a compile-time diagnostic, for libraries checking their use."""
    message = message_arg(ev, form, env)
    if message is POISON:
        return POISON
    if isinstance(message, Ref) or has_ref(message):
        raise ev.error("W0309", "`error` is raised at compile time; for a runtime failure use "
                       "`fail`", form.span)
    data = message
    if isinstance(message, Map) and Keyword("message") in message:  # (throw {:message ..})
        message = message[Keyword("message")]
    try:
        text = B.render(message)
    except B.BuiltinError as exc:
        raise ev.error("W0303", f"`{form[0].name}` needs a message: {exc}",
                       form.span) from None
    err = ev.error("W0403", text, form.span)
    err.data = data  # what a compile-time `try` handler gets as `:data`
    raise err


def _if(ev: Evaluator, form: List, env: Env):
    if len(form) not in (3, 4):
        raise ev.error("W0301", "`if` takes a condition, a then-form and an optional "
                       "else-form", form.span)
    cond = ev.eval(form[1], env)
    if cond is POISON:
        return POISON
    if isinstance(cond, Ref):
        return runtime_branches(ev, cond, "if", [(True, form[2:3])], form[3:4], form, env)
    return ev.eval(form[2], env) if B.truthy(cond) else \
        (ev.eval(form[3], env) if len(form) == 4 else None)


def _when(ev: Evaluator, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`when` takes a condition and a body", form.span)
    cond = ev.eval(form[1], env)
    if cond is POISON:
        return POISON
    if isinstance(cond, Ref):
        return runtime_branches(ev, cond, "if", [(True, form[2:])], (), form, env)
    return ev.eval_body(form[2:], env) if B.truthy(cond) else None


def _cond(ev: Evaluator, form: List, env: Env):
    if len(form) % 2 == 0:
        raise ev.error("W0302", "`cond` takes test/expression pairs", form.span)
    return _cond_from(ev, form, 1, env)


def _cond_from(ev, form, i, env):
    while i < len(form):
        test = ev.eval(form[i], env)
        if test is POISON:
            return POISON
        if isinstance(test, Ref):
            rest = List((Symbol("cond", form.span), *form[i + 2:]), form.span,
                        (form.span, *(form.item_spans or ())[i + 2:]) if form.item_spans
                        else None)
            return runtime_branches(ev, test, "if", [(True, (form[i + 1],))], (rest,), form, env)
        if B.truthy(test):
            return ev.eval(form[i + 1], env)
        i += 2
    return None


def _case(ev: Evaluator, form: List, env: Env):
    if len(form) < 2:
        raise ev.error("W0301", "`case` takes a value and value/expression pairs", form.span)
    value = ev.eval(form[1], env)
    clauses, default = [], None
    i = 2
    while i < len(form):
        if form[i] == Keyword("else") and i + 1 < len(form):
            default = (form[i + 1],)
            i += 2
            continue
        if i + 1 >= len(form):
            raise ev.error("W0302", "`case` clause without an expression; use `:else e` for "
                           "the default", form.span_at(i))
        label = form[i]
        if not isinstance(label, (str, int, float, bool)) and label is not None:
            raise ev.error("W0302", "`case` labels must be literals (keywords, strings, "
                           "numbers, booleans)", form.span_at(i))
        clauses.append((label, (form[i + 1],)))
        i += 2
    if value is POISON:
        return POISON
    if isinstance(value, Ref):
        return runtime_branches(ev, value, "case", clauses, default, form, env)
    for label, body in clauses:
        if B.eq(label, value):
            return ev.eval_body(body, env)
    return ev.eval_body(default or (), env)


def _and_or(ev: Evaluator, form: List, env: Env):
    is_and = form[0].name == "and"
    residual = []
    value = is_and
    for i, sub in enumerate(form[1:], 1):
        before = ev.node_count()
        value = ev.eval(sub, env)
        if residual and ev.node_count() != before:
            raise ev.error("W0406", f"steps inside `{form[0].name}` after a runtime test would "
                           "always run; use `if` or `when` for conditional steps",
                           form.span_at(i))
        if value is POISON:
            return POISON
        if isinstance(value, Ref) or has_ref(value):
            residual.append(value)
            continue
        if residual:
            residual.append(value)
        elif B.truthy(value) != is_and:
            return value
    if not residual:
        return value
    op = "and" if is_and else "or"
    return merge_refs({op: [ev.to_expr(v, form.span) for v in residual]},
                      [r for v in residual for r in refs_in(v)])


def _fmt(ev: Evaluator, form: List, env: Env):
    if len(form) != 2:
        raise ev.error("W0301", "`fmt` takes one template string: (fmt \"Hello {name}\")",
                       form.span)
    template = form[1]
    if not isinstance(template, str):
        template = ev.eval(template, env)
        if not isinstance(template, str):
            raise ev.error("W0303", "`fmt` needs a template string", form.span_at(1))
    parts = []
    pos = 0
    for m in _HOLE.finditer(template):
        if m.start() > pos:
            parts.append(template[pos:m.start()])
        pos = m.end()
        text = m.group(0)
        if text in ("{{", "}}"):
            parts.append(text[0])
            continue
        name = m.group(1).strip()
        span = ev.locate(form.span_at(1), text)
        if not _HOLE_NAME.match(name):
            raise ev.error("W0302", f"a `fmt` hole holds a name or a dotted path, not "
                           f"`{name}`", span)
        parts.append(ev.guarded(ev.lookup, Symbol(name, span), env))
    if pos < len(template):
        parts.append(template[pos:])
    if any(p is POISON for p in parts):
        return POISON
    if not any(has_ref(p) for p in parts):
        return ev.static_builtin("str", parts, form)
    return ev.residual("str", parts, form)


_HOLE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_HOLE_NAME = re.compile(r"[^\s\d:.(){}\[\]\"';`~][^\s(){}\[\]\"';`~]*\Z")




FORMS = {"def": _def, "defn": _defn, "defmacro": _defn, "fn": _fn, "let": _let, "do": _do,
         "quote": _quote, "quasiquote": _quasiquote, "unquote": _unquote, "gensym": _gensym,
         "unquote-splicing": _unquote, "error": _error_form, "throw": _error_form, "if": _if, "when": _when,
         "cond": _cond, "case": _case, "and": _and_or, "or": _and_or, "fmt": _fmt}
