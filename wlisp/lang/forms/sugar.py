"""Forms that are rewrites of others, as Clojure has them: the threading forms
`->`, `->>`, `cond->`, the binding conditionals `if-let`, `when-let`, functions
made of functions (`partial`, `comp`), and `macroexpand-1` / `macroexpand` to see
what a macro writes."""

from __future__ import annotations

from ...values.datum import List, Symbol, Vector
from ..evaluator import Evaluator
from ..values import POISON, Env, Fn, Macro
from .core import gensym


def _call(f, x, last: bool):
    """`f` with `x` threaded in: `(f a)` -> `(f x a)` (or `(f a x)`), `g` -> `(g x)`."""
    if isinstance(f, List) and f:
        items = [*f, x] if last else [f[0], x, *f[1:]]
        return List(items, f.span)
    return List((f, x), getattr(f, "span", None))


def _thread(last: bool):
    def form_(ev: Evaluator, form: List, env: Env):
        if len(form) < 2:
            raise ev.error("W0301", f"`{form[0].name}` takes a value and forms", form.span)
        x = form[1]
        for f in form[2:]:
            x = _call(f, x, last)
        return ev.eval(x, env)
    return form_


def _cond_thread(ev: Evaluator, form: List, env: Env):
    """`(cond-> x test (f a) ...)`: x through each form whose test is true."""
    if len(form) < 2 or len(form) % 2:
        raise ev.error("W0301", "`cond->` takes a value and test/form pairs", form.span)
    g = gensym(ev, "cond")
    bindings = [g, form[1]]
    for test, f in zip(form[2::2], form[3::2], strict=True):
        bindings += [g, List((Symbol("if"), test, _call(f, g, False), g), form.span)]
    return ev.eval(List((Symbol("let"), Vector(bindings, form.span), g), form.span), env)


def _if_let(ev: Evaluator, form: List, env: Env):
    """`(if-let [x expr] then else)`: then with x bound when expr is truthy."""
    name = form[0].name
    if len(form) < 3 or not isinstance(form[1], Vector) or len(form[1]) != 2:
        raise ev.error("W0302", f"`{name}` takes a binding: ({name} [x expr] ...)",
                       form.span)
    pattern, expr = form[1]
    g = gensym(ev, "test")
    then = List((Symbol("let"), Vector((pattern, g), form.span), *(
        form[2:] if name == "when-let" else form[2:3])), form.span)
    other = form[3:4] if name == "if-let" else ()
    return ev.eval(List((Symbol("let"), Vector((g, expr), form.span),
                         List((Symbol("if"), g, then, *other), form.span)), form.span), env)


def _made_fn(ev: Evaluator, form: List, env: Env, build):
    """A function over `& args` whose body `build(names, args)` writes with the
    evaluated arguments of `form` bound to fresh names."""
    values = [ev.eval(a, env) for a in form[1:]]
    if POISON in values:
        return POISON
    inner = Env(env)
    names = []
    for v in values:
        names.append(gensym(ev, "f"))
        inner.vars[names[-1].name] = v
    rest = gensym(ev, "args")
    params = Vector((Symbol("&"), rest), form.span)
    return Fn(form[0].name, params, (build(names, rest),), inner, form.span)


def _partial(ev: Evaluator, form: List, env: Env):
    """`(partial f a b)`: a function of the remaining arguments."""
    if len(form) < 2:
        raise ev.error("W0301", "`partial` takes a function and arguments", form.span)
    return _made_fn(ev, form, env, lambda names, rest: List(
        (Symbol("apply"), *names, rest), form.span))


def _comp(ev: Evaluator, form: List, env: Env):
    """`(comp f g)`: `(f (g x ...))`; the last function takes all the arguments."""
    if len(form) < 2:
        raise ev.error("W0301", "`comp` takes one or more functions", form.span)

    def build(names, rest):
        call = List((Symbol("apply"), names[-1], rest), form.span)
        for name in reversed(names[:-1]):
            call = List((name, call), form.span)
        return call
    return _made_fn(ev, form, env, build)


def macro_of(ev: Evaluator, x, env: Env):
    if isinstance(x, List) and x and isinstance(x[0], Symbol):
        value = env.get(x[0].name)
        if isinstance(value, Macro):
            return value
    return None


def _macroexpand(ev: Evaluator, form: List, env: Env):
    if len(form) != 2:
        raise ev.error("W0301", f"`{form[0].name}` takes one (quoted) form", form.span)
    x = ev.eval(form[1], env)
    while (m := macro_of(ev, x, env)) is not None:
        x = ev.expand_once(m, x)
        if form[0].name == "macroexpand-1":
            break
    return x


FORMS = {"->": _thread(False), "->>": _thread(True), "cond->": _cond_thread,
         "if-let": _if_let, "when-let": _if_let, "partial": _partial, "comp": _comp,
         "macroexpand-1": _macroexpand,
         "macroexpand": _macroexpand}
