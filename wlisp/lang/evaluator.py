"""The compile-time evaluator: definitions, functions, macros, imports (SPEC §3).

Small and lispy on purpose: environments are chained dicts and `eval` is one
dispatch on special forms. Values known only at run time are `Ref`s: builtins
applied to them build residual expressions instead of computing. Conditionals
over a `Ref` and spawning forms are delegated to hooks that `compiler.py`
implements, since they produce workflow nodes.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import Diagnostic, Sources, Span, WlispError, did_you_mean
from ..values import builtins as B
from ..values.datum import Keyword, List, Map, Symbol, Vector, pr_str
from .reader import read

MAX_CALL_DEPTH = 300
MAX_MACRO_DEPTH = 100
MAX_RUNTIME_RECURSION = 16  # runtime conditionals a recursion may unroll through


class Env:
    __slots__ = ("vars", "parent", "module")

    def __init__(self, parent: Env | None = None, module: bool = False):
        self.vars: dict = {}
        self.parent = parent
        self.module = module

    def find(self, name: str):
        env = self
        while env is not None:
            if name in env.vars:
                return env.vars
            env = env.parent
        return None

    def module_env(self) -> Env:
        env = self
        while not env.module and env.parent is not None:
            env = env.parent
        return env


class Builtin:
    type_name = "builtin"

    def __init__(self, name: str):
        self.name = name

    def pr_str(self) -> str:
        return f"#<builtin {self.name}>"


class Fn:
    type_name = "function"

    def __init__(self, name, params, body, env, span):
        self.name, self.params, self.body, self.env, self.span = name, params, body, env, span

    def pr_str(self) -> str:
        return f"#<fn {self.name or 'anonymous'}>"


class Macro(Fn):
    type_name = "macro"

    def pr_str(self) -> str:
        return f"#<macro {self.name}>"


class Poison:
    """Stands in for a value whose evaluation already reported an error, so one
    mistake is reported once and `wlisp check` can go on to find the next."""

    type_name = "error"

    def pr_str(self) -> str:
        return "#<error>"


POISON = Poison()

OUTCOME_FIELDS = ("output", "structured", "success", "agent", "task-id", "session-id",
                  "usage", "error", "finish-reason")


class Ref:
    """A value known only at run time, as a residual expression over node values.

    `deps` are the node ids it reads; `kind`/`schema`/`node` describe what it
    points at (a step's outcome and its :returns schema, a loop, ...) so the
    compiler can check field names; `raw` is the span where raw output of a
    quarantined step entered it, `quarantined` that such a step influenced it.
    """

    __slots__ = ("expr", "deps", "kind", "node", "schema", "quarantined", "raw", "raw_use")
    type_name = "runtime value"

    def __init__(self, expr, deps=frozenset(), kind="value", node=None, schema=None,
                 quarantined=False, raw=None, raw_use=None):
        self.expr, self.deps, self.kind, self.node = expr, deps, kind, node
        self.schema, self.quarantined, self.raw = schema, quarantined, raw
        self.raw_use = raw_use

    def used_at(self, span) -> Ref:
        """A copy that remembers where raw quarantined output was referenced."""
        return Ref(self.expr, self.deps, self.kind, self.node, self.schema, self.quarantined,
                   self.raw, self.raw_use or span)

    def pr_str(self) -> str:
        return f"#<runtime {self.node or self.kind}>"


class NotPure(Exception):
    """Raised when a step would be created where only an expression is allowed."""

    def __init__(self, span):
        self.span = span


SPECIAL: dict = {}


def special(*names):
    def register(fn):
        for n in names:
            SPECIAL[n] = fn
        return fn
    return register


def refs_in(x):
    """Refs inside a static value (a vector of step outcomes, say)."""
    if isinstance(x, Ref):
        yield x
    elif isinstance(x, (Vector, List)):
        for i in x:
            if isinstance(i, (Ref, Vector, List, Map)):
                yield from refs_in(i)
    elif isinstance(x, Map):
        for v in x.values():
            yield from refs_in(v)


def has_ref(x) -> bool:
    return next(refs_in(x), None) is not None


def merge_refs(expr, parts, kind="value") -> Ref:
    deps, quarantined, raw, raw_use = set(), False, None, None
    for r in parts:
        deps |= r.deps
        quarantined = quarantined or r.quarantined
        if raw is None and r.raw is not None:
            raw, raw_use = r.raw, r.raw_use
    return Ref(expr, frozenset(deps), kind, quarantined=quarantined, raw=raw, raw_use=raw_use)


class Evaluator:
    """Evaluates forms at compile time. Subclassed by `compiler.Compiler`."""

    def __init__(self, sources: Sources | None = None):
        self.sources = sources or Sources()
        self.diagnostics: list[Diagnostic] = []
        self.root = Env()
        for name in B.BUILTINS:
            self.root.vars[name] = Builtin(name)
        self.modules: dict[str, Env] = {}
        self.loading: list[str] = []
        self.macro_stack: list[tuple[Macro, Span | None]] = []
        self.call_stack: list = []  # Fn objects and "branch" markers (runtime conditionals)
        self.call_sites: list = []  # (function, call span) of the calls being evaluated
        self.pure = 0
        self.fresh = 0

    # --- errors ---------------------------------------------------------------

    def record(self, err: WlispError) -> Poison:
        for d in err.diagnostics:
            for macro, call_span in reversed(self.macro_stack):
                d.notes.append((f"in the expansion of macro `{macro.name}`", call_span))
        for f, call_span in reversed(self.call_sites):
            self.note_call_site(err.diagnostics, f, call_span)
        self.diagnostics.extend(err.diagnostics)
        return POISON

    def guarded(self, fn, *args):
        """Run fn; on a user error record it and return POISON instead of stopping."""
        try:
            return fn(*args)
        except WlispError as err:
            return self.record(err)

    @staticmethod
    def error(code, message, span, *notes) -> WlispError:
        return WlispError.at(code, message, span, *notes)

    # --- modules and files ----------------------------------------------------

    def new_module(self) -> Env:
        return Env(self.root, module=True)

    def eval_toplevel(self, text: str, filename: str, env: Env) -> list:
        """Evaluate every top-level form, recording errors and going on; returns the forms."""
        self.sources.add(filename, text)
        try:
            forms = read(text, filename)
        except WlispError as err:
            self.record(err)
            return []
        for form in forms:
            self.guarded(self.eval, form, env)
        return forms

    # --- evaluation -----------------------------------------------------------

    def eval(self, x, env: Env):
        t = type(x)
        if t is Symbol:
            return self.lookup(x, env)
        if t is List:
            if not x:
                return x
            head = x[0]
            if type(head) is Symbol:
                handler = SPECIAL.get(head.name)
                if handler is not None:
                    return handler(self, x, env)
            f = self.eval(head, env)
            if isinstance(f, Macro):
                return self.expand_macro(f, x, env)
            args = [self.eval(a, env) for a in x[1:]]
            if any(a is POISON for a in args) or f is POISON:
                return POISON
            return self.apply(f, args, x)
        if t is Vector:
            items = [self.guarded(self.eval, i, env) for i in x]
            return POISON if POISON in items else Vector(items)
        if t is Map:
            out = Map()
            for k, v in x.items():
                out[self.eval(k, env)] = self.guarded(self.eval, v, env)
            return POISON if any(v is POISON for v in out.values()) else out
        return x

    def lookup(self, sym: Symbol, env: Env):
        name = sym.name
        scope = env.find(name)
        if scope is not None:
            value = scope[name]
            if type(value) is Ref and value.raw is not None:
                return value.used_at(sym.span)
            return value
        if "." in name and name not in SPECIAL:
            head, *path = name.split(".")
            scope = env.find(head)
            if scope is None:
                raise self.unknown(head, env, sym.span)
            return self.get_path(scope[head], path, sym)
        raise self.unknown(name, env, sym.span)

    def unknown(self, name, env, span) -> WlispError:
        names = set()
        e = env
        while e is not None:
            names.update(e.vars)
            e = e.parent
        hint = did_you_mean(name, names, 0.7) or did_you_mean(name, SPECIAL, 0.75)
        return self.error("W0201", f"unknown name `{name}`{hint}", span)

    def get_path(self, value, path, sym: Symbol):
        """`a.b.c`: fields of static maps now, of runtime values at run time."""
        for i, key in enumerate(path):
            if value is POISON:
                return POISON
            if isinstance(value, Ref):
                return self.runtime_get(value, path[i:], sym)
            if isinstance(value, Map):
                value = value.get(key, value.get(Keyword(key)))
            elif value is None:
                return None
            else:
                raise self.error("W0303", f"cannot read field `{key}` of a "
                                 f"{B.type_name(value)}", sym.span)
        return value

    def runtime_get(self, ref: Ref, path, sym) -> Ref:
        """Residual dotted access (checked against the step's schema by the compiler)."""
        return merge_refs({"get": ref.expr, "path": list(path)}, [ref])

    def eval_body(self, forms, env: Env):
        result = None
        for form in forms:
            result = self.guarded(self.eval, form, env)
        return result

    # --- functions, macros, builtins ----------------------------------------

    def apply(self, f, args, form: List):
        if isinstance(f, Fn):
            return self.call_fn(f, args, form)
        if isinstance(f, Builtin):
            return self.apply_builtin(f.name, args, form)
        raise self.error("W0307", f"a {B.type_name(f)} is not callable: `{pr_str(form[0])}`",
                         form.span_at(0))

    def call_fn(self, f: Fn, args, form: List | None):
        span = form.span if form is not None else None
        if f in self.call_stack:
            first = self.call_stack.index(f)
            if self.call_stack[first:].count("branch") > MAX_RUNTIME_RECURSION:
                raise self.error(
                    "W0402", f"recursive call to `{f.name or 'fn'}` depends on a runtime "
                    "value, so it cannot be unrolled at compile time; use `loop` with "
                    "`:until` to repeat steps until a runtime condition holds", span,
                    ("function defined here", f.span))
        if len(self.call_stack) > MAX_CALL_DEPTH:
            raise self.error("W0402", f"compile-time recursion deeper than {MAX_CALL_DEPTH} "
                             f"calls in `{f.name or 'fn'}`", span)
        env = Env(f.env)
        called = form[0].name if form is not None and form and isinstance(form[0], Symbol) \
            else None
        self.bind_params(f, args, env, span, called)
        self.call_stack.append(f)
        self.call_sites.append((f, span))
        try:
            return self.eval_body(f.body, env)
        except WlispError as err:
            self.note_call_site(err.diagnostics, f, span)
            raise
        finally:
            self.call_stack.pop()
            self.call_sites.pop()

    def note_call_site(self, diags, f, span) -> None:
        """An error inside a library function also points at the caller's line."""
        if span is None:
            return
        for d in diags:
            if d.span is not None and d.span.file != span.file and \
                    not any(n[1] == span for n in d.notes):
                d.notes.append((f"in the call of `{f.name or 'fn'}` here", span))

    def bind_params(self, f: Fn, args, env: Env, span, called=None) -> None:
        params = list(f.params)
        rest = None
        if any(p == Symbol("&") for p in params):
            i = params.index(Symbol("&"))
            params, rest = params[:i], params[i + 1] if i + 1 < len(params) else None
        if len(args) < len(params) or (rest is None and len(args) > len(params)):
            want = f"{len(params)}{'+' if rest is not None else ''}"
            name = f.name or called or "fn"
            raise self.error("W0301", f"`{name}` takes {want} argument"
                             f"{'' if want == '1' else 's'}, got {len(args)}", span,
                             (f"`{name}` is defined here", f.span))
        for p, a in zip(params, args, strict=False):
            self.bind(p, a, env)
        if rest is not None:
            self.bind(rest, Vector(args[len(params):]), env)

    def bind(self, pattern, value, env: Env) -> None:
        """Bind a symbol or a vector destructuring pattern."""
        if isinstance(pattern, Symbol):
            if pattern.name != "_":
                env.vars[pattern.name] = value
            return
        if not isinstance(pattern, Vector):
            raise self.error("W0302", "a binding name must be a symbol or a vector of symbols",
                             getattr(pattern, "span", None))
        names = list(pattern)
        rest = None
        if Symbol("&") in names:
            i = names.index(Symbol("&"))
            names, rest = names[:i], names[i + 1] if i + 1 < len(names) else None
        for i, p in enumerate(names):
            self.bind(p, self.nth_of(value, i, pattern), env)
        if rest is not None:
            if isinstance(value, Ref):
                self.bind(rest, merge_refs({"call": "concat", "args": [
                    {"call": "rest", "args": [value.expr]}]}, [value]), env)
            else:
                self.bind(rest, Vector(B._seq(value)[len(names):]) if value is not POISON
                          else POISON, env)

    def nth_of(self, value, i, pattern):
        if value is POISON:
            return POISON
        if isinstance(value, Ref):
            return merge_refs({"call": "nth", "args": [value.expr, i, None]}, [value])
        try:
            seq = B._seq(value)
        except B.BuiltinError as exc:
            raise self.error("W0303", f"cannot destructure: {exc}", pattern.span) from None
        return seq[i] if i < len(seq) else None

    def expand_macro(self, m: Macro, form: List, env: Env):
        if len(self.macro_stack) >= MAX_MACRO_DEPTH:
            raise self.error("W0403", f"macro `{m.name}` keeps expanding: more than "
                             f"{MAX_MACRO_DEPTH} nested expansions", form.span,
                             (f"`{m.name}` is defined here", m.span))
        menv = Env(m.env)
        self.bind_params(m, list(form[1:]), menv, form.span)
        self.call_stack.append(m)
        try:
            expansion = self.eval_body(m.body, menv)
        finally:
            self.call_stack.pop()
        expansion = respan(expansion, form.span, _reachable(form[1:]))
        self.macro_stack.append((m, form.span))
        try:
            return self.eval(expansion, env)
        except WlispError as err:
            for d in err.diagnostics:
                d.notes.append((f"in the expansion of macro `{m.name}`", form.span))
            raise
        finally:
            self.macro_stack.pop()

    def call_value(self, f, args, span=None):
        """Call a function value from a builtin (map/filter/reduce/sort)."""
        if isinstance(f, Fn):
            return self.call_fn(f, list(args), List((), span))
        if isinstance(f, Builtin):
            return self.apply_builtin(f.name, list(args), List((f,), span))
        raise B.BuiltinError(f"expected a function, got {B.type_name(f)}")

    def apply_builtin(self, name: str, args, form: List):
        lo, hi = B.BUILTINS[name][1:]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo} to {hi}"
            raise self.error("W0301", f"`{name}` takes {want} argument"
                             f"{'' if want == '1' else 's'}, got {len(args)}", form.span)
        if name == "assoc":  # values may be runtime; the map and its keys decide
            runtime = any(isinstance(a, Ref) for a in (args[0], *args[1::2]))
        elif name == "conj":
            runtime = isinstance(args[0], Ref) or (
                isinstance(args[0], Map) and any(has_ref(p) and not isinstance(p, Vector)
                                                 for p in args[1:]))
        elif name in B.STRUCTURAL:
            runtime = any(isinstance(a, Ref) for a in args)
        else:
            runtime = any(has_ref(a) for a in args)
        if name in B.HIGHER_ORDER:
            return self.apply_higher(name, args, form, runtime)
        if runtime:
            return self.residual(name, args, form)
        return self.static_builtin(name, args, form)

    def static_builtin(self, name, args, form):
        def call(f, a):
            value = self.call_value(f, a, form.span)
            if name in ("filter", "sort") and has_ref(value):
                raise _NeedsRuntime  # the decision needs run-time values
            return value

        try:
            return B.apply(name, args, call=call)
        except B.BuiltinError as exc:
            raise self.error("W0403", str(exc), form.span) from None

    def residual(self, name, args, form) -> Ref:
        exprs = [self.to_expr(a, form.span_at(i + 1)) for i, a in enumerate(args)]
        if name == "str":  # fold neighbouring constant text: readable specs, less work later
            folded: list = []
            for e in exprs:
                if not isinstance(e, dict):
                    e = B.render(e)
                    if folded and isinstance(folded[-1], str):
                        folded[-1] += e
                        continue
                folded.append(e)
            exprs = folded
        return merge_refs({"call": name, "args": exprs}, [r for a in args for r in refs_in(a)])

    def apply_higher(self, name, args, form, runtime):
        f, coll = (args[0], args[1]) if name != "sort" else (args[1] if len(args) > 1 else None,
                                                            args[0])
        if not runtime:
            try:
                return self.static_builtin(name, args, form)
            except _NeedsRuntime:
                pass
        if f is None:
            return self.residual(name, args, form)
        nparams = 2 if name == "reduce" else 1
        fexpr = self.fn_expr(f, nparams, form)
        rest = [self.to_expr(a, form.span_at(i + 2)) for i, a in enumerate(args[1:])]
        parts = [r for a in args[1:] for r in refs_in(a)] + [fexpr[1]]
        call_args = [fexpr[0], *rest] if name != "sort" else [self.to_expr(coll, form.span),
                                                              fexpr[0]]
        return merge_refs({"call": name, "args": call_args}, parts)

    def fn_expr(self, f, nparams: int, form) -> tuple[dict, Ref]:
        """Compile a pure function value to a residual lambda expression."""
        if isinstance(f, Builtin):
            self.fresh += 1
            scope = f"fn{self.fresh}"
            params = [f"x{i}" for i in range(nparams)]
            body = {"call": f.name, "args": [{"var": p, "in": scope} for p in params]}
            return {"fn": {"params": params, "in": scope, "body": body}}, Ref(None)
        if not isinstance(f, Fn) or isinstance(f, Macro):
            raise self.error("W0303", f"expected a function, got {B.type_name(f)}", form.span)
        self.fresh += 1
        scope = f"fn{self.fresh}"
        names = [p.name if isinstance(p, Symbol) else f"p{i}" for i, p in enumerate(f.params)]
        args = [Ref({"var": n, "in": scope}) for n in names]
        outer_pure = self.pure
        self.pure += 1
        try:
            value = self.call_fn(f, args[:nparams], form)
        except NotPure as np:
            if outer_pure:  # an enclosing caller decides what a step here means
                raise
            raise self.error("W0406", "this function creates steps, so it cannot be applied "
                             "to a runtime collection here; only `map` turns a spawning "
                             "function into a map node", np.span or form.span) from None
        finally:
            self.pure -= 1
        return ({"fn": {"params": names, "in": scope, "body": self.to_expr(value, form.span)}},
                merge_refs(None, list(refs_in(value))))

    def to_expr(self, v, span=None):
        """A compile-time value as a residual expression (JSON)."""
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, str):
            return str.__str__(v)
        if isinstance(v, Ref):
            return v.expr
        if isinstance(v, Symbol):
            return v.name
        if isinstance(v, (Vector, List)):
            if not has_ref(v):
                return {"lit": self.plain_json(v, span)}
            return {"vec": [self.to_expr(i, span) for i in v]}
        if isinstance(v, Map):
            if not has_ref(v):
                return {"lit": self.plain_json(v, span)}
            return {"map": [[B.render_key(k), self.to_expr(x, span)] for k, x in v.items()]}
        if v is POISON:
            return None
        raise self.error("W0309", f"a {B.type_name(v)} cannot be used as a runtime value "
                         f"(`{pr_str(v)}`)", span)

    def plain_json(self, v, span):
        try:
            return B.to_json(v)
        except B.BuiltinError as exc:
            if _holds_poison(v):  # an error inside was reported where it happened
                return None
            raise self.error("W0309", f"{exc}: only data (numbers, strings, vectors, maps, "
                             "steps' results) can be used at run time", span) from None

    # --- hooks the compiler implements ----------------------------------------

    def locate(self, span, needle):
        return locate_in(self.sources, span, needle)

    @contextmanager
    def binding_scope(self, pattern):
        """Around the value of a `let` binding (the compiler names steps after it)."""
        yield

    def node_count(self) -> int:
        return 0

    def runtime_branches(self, value, kind, clauses, default, form, env):
        """A conditional whose test is known only at run time."""
        raise self.error("W0309", "a condition on a runtime value needs a workflow context",
                         form.span)

    # --- option parsing -------------------------------------------------------

    def options(self, form: List, start: int, allowed, what: str, evaluate=None) -> dict:
        """Parse trailing `:key value` pairs. A bad pair is reported and skipped, so the
        form still takes effect with its other options (no cascade of errors)."""
        out = {}
        i = start
        while i < len(form):
            key = form[i]
            if not isinstance(key, Keyword):
                self.record(self.error("W0302", f"expected a keyword option for `{what}`, got "
                                       f"`{pr_str(key)}`", form.span_at(i)))
                i += 1
                continue
            if i + 1 >= len(form):
                self.record(self.error("W0302", f"option `:{key}` needs a value",
                                       form.span_at(i)))
                break
            if key not in allowed:
                self.record(self.error("W0207", f"unknown option `:{key}` for `{what}`"
                                       + did_you_mean(key, sorted(allowed)), form.span_at(i),
                                       (f"`{what}` takes: " + ", ".join(f":{a}" for a in
                                                                         sorted(allowed)), None)))
                i += 2
                continue
            value = form[i + 1]
            if evaluate is not None:
                value = self.guarded(evaluate, value)
            if value is not POISON:
                out[str.__str__(key)] = (value, form.span_at(i + 1))
            i += 2
        return out


def _holds_poison(v) -> bool:
    if v is POISON:
        return True
    if isinstance(v, (Vector, List)):
        return any(_holds_poison(i) for i in v)
    if isinstance(v, Map):
        return any(_holds_poison(i) for i in v.values())
    return False


class _NeedsRuntime(Exception):
    pass


def _reachable(forms) -> set[int]:
    seen: set[int] = set()
    stack = list(forms)
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, (List, Vector)):
            stack.extend(x)
        elif isinstance(x, Map):
            stack.extend(x.keys())
            stack.extend(x.values())
    return seen


def respan(x, span, keep: set[int]):
    """Give forms created by a macro the call site's span; the caller's own forms
    (spliced in as arguments) keep theirs."""
    if id(x) in keep:
        return x
    if isinstance(x, Symbol):
        return Symbol(x.name, span)
    if isinstance(x, Keyword):
        return Keyword(x, span)
    if isinstance(x, (List, Vector)):
        return type(x)([respan(i, span, keep) for i in x], span)
    if isinstance(x, Map):
        return Map(((respan(k, span, keep), respan(v, span, keep)) for k, v in x.items()),
                   span=span)
    return x


def locate_in(sources: Sources, span: Span | None, needle: str) -> Span | None:
    """Find `needle` inside the source text covered by `span` (for fmt holes)."""
    if span is None:
        return None
    lines = sources.lines(span.file)
    if lines is None:
        return span
    for ln in range(span.line, min(span.end_line, len(lines)) + 1):
        line = lines[ln - 1]
        start = span.col - 1 if ln == span.line else 0
        col = line.find(needle, start)
        if col >= 0:
            return Span(span.file, ln, col + 1, ln, col + 1 + len(needle))
    return span


# The special forms of the core language register themselves on import.
from .forms import core as _core, modules as _modules  # noqa: E402,F401,I001
