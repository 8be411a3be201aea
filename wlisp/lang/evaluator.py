"""The compile-time evaluator (SPEC §3): one dispatch on special forms, environments
as chained dicts, macros, and residual expressions for values known only at run time.

The language it evaluates is a value (`lang/language.py`): a table of special
forms and the few builtins that mean more at compile time, handed in at
construction. Evaluation happens in one of three named modes:

- `Mode.DEFINE`: outside any workflow (a file's top level, a macro body run for
  its expansion): definitions and compile-time values; a step is an error.
- `Mode.GRAPH`: a workflow body: step forms add nodes to the current
  `GraphBuilder`, and body forms are ordered.
- `Mode.PURE`: a function being compiled to a residual expression (applied by
  `map`/`filter`/... to a runtime collection): a step aborts that attempt.
"""

from __future__ import annotations

import enum
from collections import namedtuple
from contextlib import contextmanager, nullcontext

from ..errors import Diagnostic, Sources, Span, WlispError, did_you_mean
from ..ir.nodes import MAX_GRAPH_DEPTH
from ..values import builtins as B
from ..values import library as L
from ..values.datum import Keyword, List, Map, Symbol, Vector, pr_str
from .builder import GraphBuilder
from .destructure import _split_rest, bind
from .macros import respan
from .reader import read
from .syntax import strip_bom
from .types import fields_of, schema_at
from .values import (
    OUTCOME_FIELDS,
    POISON,
    Builtin,
    Env,
    Fn,
    Macro,
    NotPure,
    Ref,
    deps_of,
    has_ref,
    holds_poison,
    merge_refs,
    refs_in,
)

MAX_CALL_DEPTH = 300
MAX_MACRO_DEPTH = 100
MAX_RUNTIME_RECURSION = 16  # runtime conditionals a recursion may unroll through


class Mode(enum.Enum):
    DEFINE = "define"
    GRAPH = "graph"
    PURE = "pure"


# what `Evaluator.subgraph` returns: the nested graph, the outer node ids it reads,
# the value its forms computed, and the builder (its ids and nodes)
Subgraph = namedtuple("Subgraph", "graph free value builder")


class Evaluator:
    """Evaluates forms at compile time and, in a workflow body, builds its graph."""

    def __init__(self, language, sources: Sources | None = None):
        self.forms = language.forms              # name -> handler(ev, form, env)
        self.builtin_hooks = language.builtin_hooks  # builtin name -> handler(ev, args, form)
        self.appliers = language.appliers        # value type -> handler(ev, f, args, form)
        self.sources = sources or Sources()
        self.diagnostics: list[Diagnostic] = []
        self.root = Env()
        for name in L.BUILTINS:
            self.root.vars[name] = Builtin(name)
        self.modules: dict[str, Env] = {}        # imported modules by key
        self.loading: list[str] = []             # imports being loaded (cycle check)
        self.macro_stack: list[tuple[Macro, Span | None]] = []
        self.call_stack: list = []  # Fn objects and "branch" markers (runtime conditionals)
        self.call_sites: list = []  # (function, call span) of the calls being evaluated
        self.graph: GraphBuilder | None = None
        self.pure_depth = 0
        self.fresh = 0
        # declarations of the module being compiled, and what a workflow uses
        self.workflows: dict = {}
        self.tools: dict = {}
        self.used_agents: dict = {}
        self.used_schemas: dict = {}
        self.allow_redefine = False  # the REPL redefines freely; a file may not

    # --- modes ----------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        if self.pure_depth:
            return Mode.PURE
        return Mode.GRAPH if self.graph is not None else Mode.DEFINE

    @contextmanager
    def pure(self):
        self.pure_depth += 1
        try:
            yield
        finally:
            self.pure_depth -= 1

    def step_graph(self, what: str, span) -> GraphBuilder:
        """The graph a step form adds its node to; only a workflow body has one."""
        if self.pure_depth:
            raise NotPure(span)
        if self.graph is None:
            raise self.error("W0406", f"`{what}` creates a step, which only a workflow body "
                             "can do: call it from a `defworkflow`", span)
        return self.graph

    def subgraph(self, prefix: str | None, build, *, params=(), span=None,
                 segment=None) -> Subgraph:
        """Evaluate `build()` into a nested graph named `prefix` (a loop body, a map
        item ...; None: a branch, named like the code around it, under `segment`);
        its value becomes the graph's result."""
        outer = self.graph
        inner = outer.branch(segment) if prefix is None else outer.nested(prefix)
        if inner.depth > MAX_GRAPH_DEPTH:
            raise self.error("W0405", f"graphs nest more than {MAX_GRAPH_DEPTH} deep here (a "
                             "loop, branch, map item ... inside another)", span)
        self.graph = inner
        try:
            value = build()
        finally:
            self.graph = outer
        graph = inner.close(self.to_expr(value, span), params)
        return Subgraph(graph, inner.free(deps_of(value)), value, inner)

    def naming(self, pattern):
        """Nodes created while a `let` binding is evaluated are named after it."""
        if self.graph is None:
            return nullcontext()
        if isinstance(pattern, Map):  # its `:as` name, else its first key name
            names = [pattern.get(Keyword("as"))] + list(pattern.get(Keyword("keys")) or ())
            pattern = Vector(n for n in names if n is not None) or Vector(pattern)
        name = pattern.name if isinstance(pattern, Symbol) else \
            next((p.name for p in pattern if isinstance(p, Symbol)), "_")
        return self.graph.named(name)

    def node_count(self) -> int:
        return len(self.graph.nodes) if self.graph is not None else 0

    def ref_to(self, nid, kind="value", schema=None, raw=None) -> Ref:
        return Ref({"ref": nid}, frozenset({nid}), kind, nid, schema, raw)

    # --- errors ---------------------------------------------------------------------

    @staticmethod
    def error(code, message, span, *notes) -> WlispError:
        return WlispError.at(code, message, span, *notes)

    def record(self, err: WlispError):
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

    def note_call_site(self, diags, f, span) -> None:
        """An error inside a library function also points at the caller's line."""
        if span is None:
            return
        for d in diags:
            if d.span is not None and d.span.file != span.file and \
                    not any(n[1] == span for n in d.notes):
                d.notes.append((f"in the call of `{f.name or 'fn'}` here", span))

    def locate(self, span, needle):
        """Find `needle` inside the source text covered by `span` (for fmt holes)."""
        if span is None:
            return None
        lines = self.sources.lines(span.file)
        if lines is None:
            return span
        for ln in range(span.line, min(span.end_line, len(lines)) + 1):
            line = lines[ln - 1]
            col = line.find(needle, span.col - 1 if ln == span.line else 0)
            if col >= 0:
                return Span(span.file, ln, col + 1, ln, col + 1 + len(needle))
        return span

    # --- modules --------------------------------------------------------------------

    def new_module(self) -> Env:
        return Env(self.root, module=True)

    def eval_toplevel(self, text: str, filename: str, env: Env) -> list:
        """Evaluate every top-level form, recording errors and going on; returns the forms."""
        text = strip_bom(text)
        self.sources.add(filename, text)
        try:
            forms = read(text, filename)
        except WlispError as err:
            self.record(err)
            return []
        for form in forms:
            self.guarded(self.eval, form, env)
        return forms

    # --- evaluation -----------------------------------------------------------------

    def eval(self, x, env: Env):
        t = type(x)
        if t is Symbol:
            return self.lookup(x, env)
        if t is List:
            if not x:
                return x
            head = x[0]
            if type(head) is Symbol:
                handler = self.forms.get(head.name)
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
                key = self.eval(k, env)
                if key is POISON:
                    return POISON
                out[self.map_key(key, x.pair_spans.get(k, (x.span,))[0])] = \
                    self.guarded(self.eval, v, env)
            return POISON if any(v is POISON for v in out.values()) else out
        return x

    def map_key(self, key, span):
        """A map key is data known now: it becomes a JSON object's key."""
        if has_ref(key):
            raise self.error("W0309", "a map key must be known at compile time, not at "
                             "run time", span)
        try:
            hash(key)
            B.render_key(key)
        except (TypeError, B.BuiltinError):
            raise self.error("W0303", "a map key must be data (a string, keyword, number or "
                             f"symbol), not a {B.type_name(key)}", span) from None
        return key

    def eval_body(self, forms, env: Env):
        """Forms in order; the value of the last. In a graph, each form's steps wait for
        the steps of the form before it."""
        if self.graph is None or len(forms) < 2:
            result = None
            for form in forms:
                result = self.guarded(self.eval, form, env)
            return result
        return self.graph.in_order(forms, lambda form: self.guarded(self.eval, form, env))

    def lookup(self, sym: Symbol, env: Env):
        name = sym.name
        scope = env.find(name)
        if scope is not None:
            value = scope[name]
            if type(value) is Ref and value.raw is not None:
                return value.used_at(sym.span)
            return value
        if "." in name and name not in self.forms:
            head, *path = name.split(".")
            scope = env.find(head)
            if scope is None:
                raise self.unknown(head, env, sym.span)
            return self.get_path(scope[head], path, sym)
        raise self.unknown(name, env, sym.span)

    def unknown(self, name, env, span) -> WlispError:
        hint = did_you_mean(name, env.names(), 0.7) or did_you_mean(name, self.forms, 0.75)
        return self.error("W0201", f"unknown name `{name}`{hint}", span)

    def get_path(self, value, path, sym: Symbol):
        """`a.b.c`: fields of static maps now, of runtime values at run time."""
        for i, key in enumerate(path):
            if value is POISON:
                return POISON
            if isinstance(value, Ref):
                return self.runtime_get(value, path[i:], sym)
            if isinstance(value, Map):
                self.check_declared(getattr(value, "declared", None), key, sym)
                value = value.get(key, value.get(Keyword(key)))
            elif value is None:
                return None
            else:
                raise self.error("W0303", f"cannot read field `{key}` of a "
                                 f"{B.type_name(value)}", sym.span)
        return value

    def check_declared(self, schema: dict | None, key: str, sym) -> None:
        """A field of a workflow's result must be one its `:returns` type declares."""
        fields = fields_of(schema)
        if fields is not None and key not in fields:
            raise self.error("W0206", f"the workflow's result has no field `{key}`"
                             + did_you_mean(key, fields), sym.span,
                             (f"its :returns fields are: {', '.join(fields)}", None))

    def runtime_get(self, ref: Ref, path, sym) -> Ref:
        """Residual dotted access, checked against a step's `:returns` schema."""
        key = path[0]
        out = merge_refs({"get": ref.expr, "path": list(path)}, [ref])
        if out.raw is not None and out.raw_use is None:
            out.raw_use = sym.span
        if ref.kind == "typed":  # a called workflow's result, of its declared type
            self.check_declared(ref.schema, key, sym)
            out.schema = schema_at(ref.schema, path)
            return out
        if ref.kind != "outcome":
            return out
        if key in OUTCOME_FIELDS:
            if key not in ("output", "error"):
                out.raw = None
            return out
        fields = fields_of(ref.schema)
        head = sym.name.split(".")[0]
        step = f"`{head}` (step `{ref.node}`)" if ref.node else f"`{head}`"
        if ref.schema is None:
            raise self.error("W0206", f"{step} has no `:returns` schema, so it has no field "
                             f"`{key}`; read `.output`, or declare `:returns`", sym.span,
                             (f"outcome fields: {', '.join(OUTCOME_FIELDS)}", None))
        if fields is not None and key not in fields:
            raise self.error("W0206", f"{step} has no field `{key}`"
                             + did_you_mean(key, fields + list(OUTCOME_FIELDS)), sym.span,
                             (f"its :returns fields are: {', '.join(fields)}", None))
        out.raw = None
        out.schema = schema_at(ref.schema, path)  # e.g. an enum: `case` checks its labels
        return out

    # --- functions, macros, builtins ------------------------------------------------

    def apply(self, f, args, form: List):
        if isinstance(f, Fn):
            return self.call_fn(f, args, form)
        if isinstance(f, Builtin):
            return self.apply_builtin(f.name, args, form)
        applier = self.appliers.get(type(f))
        if applier is not None:
            return applier(self, f, args, form)
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
        called = form[0].name if form and isinstance(form[0], Symbol) else None
        params, body = f.arity_for(len(args)) or (f.params, f.body)
        self.bind_params(f, args, env, span, called, params)
        self.call_stack.append(f)
        self.call_sites.append((f, span))
        try:
            return self.eval_body(body, env)
        except WlispError as err:
            self.note_call_site(err.diagnostics, f, span)
            raise
        finally:
            self.call_stack.pop()
            self.call_sites.pop()

    def bind_params(self, f: Fn, args, env: Env, span, called=None, params=None) -> None:
        params, rest = _split_rest(list(f.params if params is None else params))
        if len(args) < len(params) or (rest is None and len(args) > len(params)):
            want = " or ".join(f"{len(ps) - (Symbol('&') in ps) * 2}"
                               f"{'+' if Symbol('&') in ps else ''}" for ps, _ in f.arities)
            name = f.name or called or "fn"
            raise self.error("W0301", f"`{name}` takes {want} argument"
                             f"{'' if want == '1' else 's'}, got {len(args)}", span,
                             (f"`{name}` is defined here", f.span))
        for p, a in zip(params, args, strict=False):
            self.bind(p, a, env)
        if rest is not None:
            self.bind(rest, Vector(args[len(params):]), env)

    def bind(self, pattern, value, env: Env) -> None:
        """Bind a name or a destructuring pattern (`lang/destructure.py`)."""
        bind(self, pattern, value, env)

    def expand_once(self, m: Macro, form: List):
        """The form a macro call expands to (not evaluated)."""
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
        return respan(expansion, form.span, form[1:])

    def expand_macro(self, m: Macro, form: List, env: Env):
        expansion = self.expand_once(m, form)
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
        hook = self.builtin_hooks.get(name)
        if hook is not None:
            return hook(self, args, form)
        return self.apply_plain_builtin(name, args, form)

    def apply_plain_builtin(self, name: str, args, form: List):
        """Compute now when the arguments allow it, else build a residual expression."""
        lo, hi = L.BUILTINS[name][1:]
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
        elif name in L.STRUCTURAL:
            runtime = any(isinstance(a, Ref) for a in args)
        else:
            runtime = any(has_ref(a) for a in args)
        if name == "apply" and isinstance(args[-1], (Vector, List)):
            # the arguments are known (though maybe not their values): a direct call
            return self.apply(args[0], [*args[1:-1], *args[-1]], form)
        if name in L.HIGHER_ORDER:
            return self.apply_higher(name, args, form, runtime)
        if runtime:
            return self.residual(name, args, form)
        return self.static_builtin(name, args, form)

    def static_builtin(self, name, args, form):
        def call(f, a):
            value = self.call_value(f, a, form.span)
            if name in L.DECIDES and has_ref(value):
                raise _NeedsRuntime  # the decision needs run-time values
            return value

        try:
            return L.apply(name, args, call=call)
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
        pos, nparams = L.FN_ARGS[name]
        f = args[pos] if len(args) > pos else None
        if not runtime:
            try:
                return self.static_builtin(name, args, form)
            except _NeedsRuntime:
                pass
        if f is None:
            return self.residual(name, args, form)
        if nparams is None:  # `apply`: how many arguments is known only at run time
            raise self.error("W0309", f"`{name}` needs its arguments at compile time",
                             form.span)
        fexpr, fref = self.fn_expr(f, nparams, form)
        call_args = [fexpr if i == pos else self.to_expr(a, form.span_at(i + 1))
                     for i, a in enumerate(args)]
        parts = [r for i, a in enumerate(args) if i != pos for r in refs_in(a)] + [fref]
        return merge_refs({"call": name, "args": call_args}, parts)

    def fn_expr(self, f, nparams: int, form) -> tuple[dict, Ref]:
        """Compile a pure function value to a residual lambda expression."""
        self.fresh += 1
        scope = f"fn{self.fresh}"
        if isinstance(f, Builtin):
            _, lo, hi = L.BUILTINS.get(f.name, (None, 0, None))
            if nparams < lo or (hi is not None and nparams > hi):  # it would fail every call
                raise self.error("W0301", f"`{f.name}` takes {lo if lo == hi else f'{lo}+'} "
                                 f"argument(s); here it is called with {nparams}", form.span)
            params = [f"x{i}" for i in range(nparams)]
            body = {"call": f.name, "args": [{"var": p, "in": scope} for p in params]}
            return {"fn": {"params": params, "in": scope, "body": body}}, Ref(None)
        if not isinstance(f, Fn) or isinstance(f, Macro):
            raise self.error("W0303", f"expected a function, got {B.type_name(f)}", form.span)
        fixed, _ = _split_rest(list((f.arity_for(nparams) or (f.params,))[0]))
        names = [p.name if isinstance(p, Symbol) else f"p{i}" for i, p in enumerate(fixed)]
        names += [f"more{i}" for i in range(len(names), nparams)]  # into its `& rest`
        args = [Ref({"var": n, "in": scope}) for n in names]
        nested = self.mode is Mode.PURE
        try:
            with self.pure():
                value = self.call_fn(f, args[:nparams], form)
        except NotPure as np:
            if nested:  # an enclosing caller decides what a step here means
                raise
            raise self.error("W0406", "this function creates steps, so it cannot be applied "
                             "to a runtime collection here; only `map` turns a spawning "
                             "function into a map node", np.span or form.span) from None
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
            return {"map": [[B.render_key(self.map_key(k, span)), self.to_expr(x, span)]
                            for k, x in v.items()]}
        if v is POISON:
            return None
        raise self.error("W0309", f"a {B.type_name(v)} cannot be used as a runtime value "
                         f"(`{pr_str(v)}`)", span)

    def plain_json(self, v, span):
        try:
            return B.to_json(v)
        except B.BuiltinError as exc:
            if holds_poison(v):  # an error inside was reported where it happened
                return None
            raise self.error("W0309", f"{exc}: only data (numbers, strings, vectors, maps, "
                             "steps' results) can be used at run time", span) from None

    def static(self, form, env, span, what):
        """A form whose value must be known at compile time (an option, say)."""
        value = self.eval(form, env)
        if isinstance(value, Ref) or has_ref(value):
            raise self.error("W0309", f"{what} must be known at compile time, not at run time",
                             span)
        return value


class _NeedsRuntime(Exception):
    pass
