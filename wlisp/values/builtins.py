"""Pure builtins, shared by the compile-time evaluator and the runtime.

They take plain values (numbers, strings, sequences, mappings, outcomes) and
return plain values; they never see runtime references. The compiler decides
whether to call them now or to emit a residual expression the runtime will
evaluate with the very same functions, so both stages agree on semantics.
Higher-order builtins (`map`, `filter`, `reduce`, `sort` with a key) take a
`call` callback so each stage can apply its own kind of function.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Mapping, Sequence

from . import jsondata
from .datum import Keyword, List, Map, Symbol, Vector


class BuiltinError(Exception):
    """A builtin applied to values it cannot handle; the caller adds the span."""


# Builtins make text and vectors of bounded size, so that applying one again and again
# (doubling a string in a `reduce`) is an error rather than the end of memory.
MAX_TEXT = 10_000_000   # characters
MAX_ITEMS = 1_000_000   # items, as `range`


def _check_size(n: int, limit: int, what: str) -> None:
    if n > limit:
        raise BuiltinError(f"the result is too large: {n:,} {what} (at most {limit:,})")


def _joined(sep: str, parts: list[str]) -> str:
    """`sep.join(parts)`, measured before it is made."""
    _check_size(sum(map(len, parts)) + len(sep) * max(0, len(parts) - 1), MAX_TEXT,
                "characters")
    return sep.join(parts)


def _json_size(x) -> int:
    """About how long `x` is as JSON text; counting stops just past MAX_TEXT."""
    total, stack = 0, [x]
    while stack and total <= MAX_TEXT:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, Mapping):
            total += 2 + 2 * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif is_seq(v):
            total += 2 + len(v)
            stack.extend(v)
        else:
            total += 8
    return total


def _dumps(x) -> str:
    _check_size(_json_size(x), MAX_TEXT, "characters")
    text = json.dumps(to_json(x), ensure_ascii=False)
    _check_size(len(text), MAX_TEXT, "characters")
    return text


def is_seq(x) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, str)


def like(coll, items):
    """A list when `coll` is a list (code stays code: a macro's `(concat '(do) body)`),
    else a vector."""
    return List(items) if isinstance(coll, List) else Vector(items)


def is_outcome(x) -> bool:
    return hasattr(x, "as_text")


def render(x) -> str:
    """How a value reads inside a string: outcomes as their output text,
    keywords by name, nil as empty, vectors of outcomes one per paragraph."""
    if x is None:
        return ""
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, Symbol):
        return x.name
    if is_outcome(x):
        return x.as_text()
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e16:
        return repr(x)
    if isinstance(x, (int, float)):
        return repr(x)
    if is_seq(x) and x and all(is_outcome(i) for i in x):
        return _joined("\n\n", [i.as_text() for i in x])
    return _dumps(x)


def short_label(x, width: int = 30) -> str:
    """A value on one short line: a map item in a picture or a run's tree (an
    outcome by its text, an agent or function by its name)."""
    try:
        text = render(_head(x, width * 4, width * 4))
    except BuiltinError:
        text = getattr(x, "name", None) or type_name(x)
    text = " ".join(str(text)[:width * 4].split())  # (a document as an item: its start)
    return text if len(text) <= width else text[:width - 1] + "…"


def _head(x, room: int, depth: int):
    """As much of `x` as the first `room` characters of its rendering show (each item
    takes two at least, each level one), so that a large item (a document, a long
    list of records) is not rendered whole to show its start."""
    if isinstance(x, str):
        return x[:room]
    if is_outcome(x) or not isinstance(x, (Mapping, Sequence)):
        return x  # (an outcome renders as its text, cut after)
    if depth == 0:
        return "…"
    if isinstance(x, Mapping):
        return {k: _head(v, room, depth - 1)
                for k, v in itertools.islice(x.items(), room // 2 + 1)}
    return [_head(v, room, depth - 1) for v in itertools.islice(x, room // 2 + 1)]


def to_json(x):
    """A value as plain JSON data (outcomes become their dict form)."""
    if x is None or isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, str):
        return str.__str__(x)
    if isinstance(x, Symbol):
        return x.name
    if is_outcome(x):
        return x.to_value()
    if isinstance(x, Mapping):
        return {render_key(k): to_json(v) for k, v in x.items()}
    if is_seq(x):
        return [to_json(i) for i in x]
    raise BuiltinError(f"{type_name(x)} has no JSON form")


def render_key(k) -> str:
    return str.__str__(k) if isinstance(k, str) else render(k)


def type_name(x) -> str:
    if x is None:
        return "nil"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, Keyword):
        return "keyword"
    if isinstance(x, str):
        return "string"
    if isinstance(x, (int, float)):
        return "number"
    if isinstance(x, Symbol):
        return "symbol"
    if isinstance(x, List):
        return "list"
    if is_seq(x):
        return "vector"
    if isinstance(x, Mapping):
        return "map"
    if is_outcome(x):
        return "outcome"
    return getattr(x, "type_name", type(x).__name__)


def truthy(x) -> bool:
    return x is not None and x is not False


def _num(*xs):
    for x in xs:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise BuiltinError(f"expected a number, got {type_name(x)}")


def as_seq(x, what="a vector"):
    if x is None:
        return ()
    if isinstance(x, Mapping):
        return tuple(Vector((k, v)) for k, v in x.items())
    if isinstance(x, str):
        return tuple(x)
    if not is_seq(x):
        raise BuiltinError(f"expected {what}, got {type_name(x)}")
    return x


def _str_arg(x, name="a string"):
    if not isinstance(x, str):
        raise BuiltinError(f"expected {name}, got {type_name(x)}")
    return str.__str__(x)


def _arithmetic(fn):
    """A numeric builtin whose result must still be a JSON number (SPEC §5): finite,
    and an integer short enough to write out."""
    @functools.wraps(fn)
    def checked(*xs):
        try:
            result = fn(*xs)
        except OverflowError:
            raise BuiltinError("the result is out of range: numbers must be finite") from None
        problem = jsondata.number_problem(result)
        if problem is not None:
            raise BuiltinError(f"the result is out of range: {problem}")
        return result
    return checked


@_arithmetic
def add(*xs):
    _num(*xs)
    return sum(xs)


@_arithmetic
def sub(x, *xs):
    _num(x, *xs)
    return -x if not xs else x - sum(xs)


@_arithmetic
def mul(*xs):
    _num(*xs)
    return math.prod(xs)


@_arithmetic
def div(x, *xs):
    _num(x, *xs)
    if not xs:
        xs, x = (x,), 1
    for y in xs:
        if y == 0:
            raise BuiltinError("division by zero")
        x = x // y if isinstance(x, int) and isinstance(y, int) and x % y == 0 else x / y
    return x


@_arithmetic
def mod(x, y):
    _num(x, y)
    if y == 0:
        raise BuiltinError("division by zero")
    return x % y


def _cmp(op):
    def compare(*xs):
        for a, b in zip(xs, xs[1:], strict=False):
            if not ((isinstance(a, (int, float)) and isinstance(b, (int, float)))
                    or (isinstance(a, str) and isinstance(b, str))):
                raise BuiltinError(f"cannot compare {type_name(a)} with {type_name(b)}")
            if not op(a, b):
                return False
        return True
    return compare


def eq(*xs):
    return all(_plain(a) == _plain(b) for a, b in zip(xs, xs[1:], strict=False))


def _plain(x):
    """Equality ignores the vector/list distinction, as JSON does."""
    if is_outcome(x):
        return ("outcome", x.task_id)
    if isinstance(x, bool) or x is None:
        return ("const", x)
    if is_seq(x):
        return ("seq", tuple(_plain(i) for i in x))
    if isinstance(x, Mapping):
        return ("map", frozenset((render_key(k), _plain(v)) for k, v in x.items()))
    return x


def str_(*xs):
    return _joined("", [render(x) for x in xs])


def join(sep, xs=None):
    if xs is None:
        sep, xs = "", sep
    return _joined(_str_arg(sep, "a separator string"), [render(x) for x in as_seq(xs)])


def replace(s, old, new):
    s, old, new = _str_arg(s), _str_arg(old), _str_arg(new)
    count = s.count(old) if old else len(s) + 1
    _check_size(len(s) + count * (len(new) - len(old)), MAX_TEXT, "characters")
    return s.replace(old, new)


def split(s, sep=None):
    s = _str_arg(s)
    return Vector(s.split(_str_arg(sep)) if sep not in (None, "") else s.split())


def contains(coll, x):
    if isinstance(coll, str):
        return _str_arg(x) in coll
    if isinstance(coll, Mapping):
        return x in coll
    return any(_plain(i) == _plain(x) for i in as_seq(coll))


def get(coll, key, default=None):
    if coll is None:
        return default
    if is_outcome(coll):
        return coll.field(render_key(key), default)
    if isinstance(coll, Mapping):
        if key in coll:
            return coll[key]
        if isinstance(key, str):
            return coll.get(str.__str__(key), default)
        return default
    if is_seq(coll) or isinstance(coll, str):
        if isinstance(key, bool) or not isinstance(key, int):
            return default
        return coll[key] if 0 <= key < len(coll) else default  # -1: nil, no wrapping
    raise BuiltinError(f"cannot look up a key in {type_name(coll)}")


def get_in(coll, path, default=None):
    for key in as_seq(path, "a path vector"):
        coll = get(coll, key)
        if coll is None:
            return default
    return coll


def nth(coll, i, default=None):
    if isinstance(i, bool) or not isinstance(i, int):
        raise BuiltinError(f"index must be an integer, got {type_name(i)}")
    seq = as_seq(coll)
    if 0 <= i < len(seq):  # no wrapping: -1 is out of range, as in Clojure
        return seq[i]
    if default is None:
        raise BuiltinError(f"index {i} out of range for {len(seq)} items")
    return default


def first(coll):
    seq = as_seq(coll)
    return seq[0] if seq else None


def last(coll):
    seq = as_seq(coll)
    return seq[-1] if seq else None


def seq(coll):
    """Clojure's `seq`: nil for an empty collection, else its items as a list."""
    items = as_seq(coll)
    return List(items) if items else None


def rest(coll):
    return like(coll, as_seq(coll)[1:])


def conj(coll, *xs):
    if coll is None:
        return Vector(xs)
    if isinstance(coll, Mapping):
        out = Map(coll)
        for pair in xs:
            k, v = as_seq(pair)
            out[k] = v
        return out
    if isinstance(coll, List):  # a list grows at its head, as in any Lisp
        return List((*reversed(xs), *coll))
    return Vector((*as_seq(coll), *xs))


def concat(*colls):
    seqs = [as_seq(c) for c in colls]
    _check_size(sum(map(len, seqs)), MAX_ITEMS, "items")
    first_coll = next((c for c in colls if c is not None), None)
    return like(first_coll, [i for seq in seqs for i in seq])


def assoc(m, *kvs):
    if len(kvs) % 2:
        raise BuiltinError("assoc needs key/value pairs")
    if m is not None and not isinstance(m, Mapping):
        if is_seq(m):
            out = list(m)
            for k, v in zip(kvs[::2], kvs[1::2], strict=True):
                if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(out):
                    raise BuiltinError(f"index {k!r} out of range for {len(out)} items")
                out[k] = v
            return Vector(out)
        raise BuiltinError(f"cannot assoc into {type_name(m)}")
    out = Map(m or {})
    for k, v in zip(kvs[::2], kvs[1::2], strict=True):
        out[k] = v
    return out


def dissoc(m, *ks):
    if not isinstance(m, Mapping):
        raise BuiltinError(f"expected a map, got {type_name(m)}")
    return Map((k, v) for k, v in m.items() if k not in ks)


def keys(m):
    if not isinstance(m, Mapping):
        raise BuiltinError(f"expected a map, got {type_name(m)}")
    return Vector(m.keys())


def vals(m):
    if not isinstance(m, Mapping):
        raise BuiltinError(f"expected a map, got {type_name(m)}")
    return Vector(m.values())


def range_(a, b=None, step=1):
    _num(a, *(x for x in (b, step) if x is not None))
    if step == 0:
        raise BuiltinError("range step must not be 0")
    lo, hi = (0, a) if b is None else (a, b)
    count = max(0, math.ceil((hi - lo) / step))
    if count > 1_000_000:
        raise BuiltinError(f"range of {count} items is too large")
    return Vector(lo + i * step for i in range(count))


def length(x):
    if x is None:
        return 0
    if isinstance(x, (str, Mapping)) or is_seq(x):
        return len(x)
    raise BuiltinError(f"cannot take the length of {type_name(x)}")


def sort(coll, key=None, *, call=None):
    items = list(as_seq(coll))
    try:
        if key is not None:
            return like(coll, sorted(items, key=lambda x: call(key, [x])))
        return like(coll, sorted(items))
    except TypeError:
        raise BuiltinError("cannot sort values of different types") from None


def distinct(coll):
    seen, out = set(), []
    for x in as_seq(coll):
        k = _plain(x)
        try:
            if k in seen:
                continue
            seen.add(k)
        except TypeError:
            pass
        out.append(x)
    return like(coll, out)


def map_(f, coll, *, call):
    return like(coll, [call(f, [x]) for x in as_seq(coll)])


def filter_(f, coll, *, call):
    return like(coll, [x for x in as_seq(coll) if truthy(call(f, [x]))])


def reduce_(f, init, coll=None, *, call):
    if coll is None:
        seq = list(as_seq(init))
        if not seq:
            return None
        init, seq = seq[0], seq[1:]
    else:
        seq = as_seq(coll)
    acc = init
    for x in seq:
        acc = call(f, [acc, x])
    return acc


def parse_json(s):
    try:
        return from_json(jsondata.loads(_str_arg(s)))
    except ValueError as exc:
        raise BuiltinError(f"invalid JSON: {exc}") from None


def from_json(x):
    if isinstance(x, dict):
        return Map((k, from_json(v)) for k, v in x.items())
    if isinstance(x, list):
        return Vector(from_json(i) for i in x)
    return x


def encode_json(x):
    return _dumps(x)


def _str1(fn):
    def text(s):
        out = fn(_str_arg(s))
        _check_size(len(out), MAX_TEXT, "characters")  # `upper` of "ß" is "SS"
        return out
    return text


def _pred(test):
    return lambda x: bool(test(x))


# name -> (function, min args, max args or None). `call`-taking ones are higher order.
BUILTINS = {
    "+": (add, 0, None), "-": (sub, 1, None), "*": (mul, 0, None), "/": (div, 1, None),
    "mod": (mod, 2, 2),
    "min": (lambda *xs: (_num(*xs), min(xs))[1], 1, None),
    "max": (lambda *xs: (_num(*xs), max(xs))[1], 1, None),
    "=": (eq, 1, None), "!=": (lambda *xs: not eq(*xs), 1, None),
    "<": (_cmp(lambda a, b: a < b), 1, None), "<=": (_cmp(lambda a, b: a <= b), 1, None),
    ">": (_cmp(lambda a, b: a > b), 1, None), ">=": (_cmp(lambda a, b: a >= b), 1, None),
    "str": (str_, 0, None), "join": (join, 1, 2), "split": (split, 1, 2),
    "upper": (_str1(str.upper), 1, 1), "lower": (_str1(str.lower), 1, 1),
    "trim": (_str1(str.strip), 1, 1),
    "contains?": (contains, 2, 2),
    "starts-with?": (lambda s, p: _str_arg(s).startswith(_str_arg(p)), 2, 2),
    "ends-with?": (lambda s, p: _str_arg(s).endswith(_str_arg(p)), 2, 2),
    "replace": (replace, 3, 3),
    "len": (length, 1, 1), "get": (get, 2, 3), "get-in": (get_in, 2, 3),
    "first": (first, 1, 1), "rest": (rest, 1, 1), "seq": (seq, 1, 1), "nth": (nth, 2, 3),
    "last": (last, 1, 1),
    "conj": (conj, 1, None), "concat": (concat, 0, None), "assoc": (assoc, 1, None),
    "dissoc": (dissoc, 1, None), "keys": (keys, 1, 1), "vals": (vals, 1, 1),
    "range": (range_, 1, 3), "map": (map_, 2, 2), "filter": (filter_, 2, 2),
    "reduce": (reduce_, 2, 3), "sort": (sort, 1, 2), "distinct": (distinct, 1, 1),
    "nil?": (_pred(lambda x: x is None), 1, 1),
    "empty?": (lambda x: length(x) == 0, 1, 1),
    "string?": (_pred(lambda x: isinstance(x, str) and not isinstance(x, Keyword)), 1, 1),
    "number?": (_pred(lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)), 1, 1),
    "map?": (_pred(lambda x: isinstance(x, Mapping)), 1, 1),
    "vector?": (_pred(lambda x: is_seq(x) and not isinstance(x, List)), 1, 1),
    "list?": (_pred(lambda x: isinstance(x, List)), 1, 1),
    "sequential?": (_pred(is_seq), 1, 1),
    "json": (encode_json, 1, 1), "parse-json": (parse_json, 1, 1),
    "not": (lambda x: not truthy(x), 1, 1),
    "boolean": (truthy, 1, 1),
}

# builtin -> (position of its function argument, how many arguments it gets)
FN_ARGS = {"map": (0, 1), "filter": (0, 1), "reduce": (0, 2), "sort": (1, 1)}
DECIDES = {"filter", "sort"}  # the function's value decides which items stay, or where

# Builtins that only look at the shape of a collection, so they compute at compile
# time on a static vector or map even when its items are runtime values.
STRUCTURAL = {"len", "first", "rest", "seq", "nth", "last", "conj", "concat", "assoc",
              "dissoc",
              "keys", "vals", "get", "get-in", "empty?", "vector?", "map?", "list?",
              "sequential?"}
