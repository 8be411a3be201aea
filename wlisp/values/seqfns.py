"""More of the Clojure core a macro or helper reaches for: numbers, sequences, maps,
constructors and predicates. Pure functions over datums, like `builtins.py` (whose
table they join); those that take a function get it through `call`."""

from __future__ import annotations

from collections.abc import Mapping

from .builtins import (
    MAX_ITEMS,
    BuiltinError,
    _check_size,
    _num,
    as_seq,
    get,
    is_seq,
    like,
    truthy,
)
from .datum import Keyword, List, Map, Symbol, Vector, pr_str


def _int(x, what="a count") -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        raise BuiltinError(f"expected {what} (an integer), got {pr_str(x)}")
    return x


def _map(x) -> Mapping:
    if x is None:
        return Map()
    if not isinstance(x, Mapping):
        raise BuiltinError(f"expected a map, got {pr_str(x)}")
    return x


def inc(x):
    _num(x)
    return x + 1


def dec(x):
    _num(x)
    return x - 1


def some(f, coll, *, call):
    for x in as_seq(coll):
        value = call(f, [x])
        if truthy(value):
            return value
    return None


def every(f, coll, *, call):
    return all(truthy(call(f, [x])) for x in as_seq(coll))


def remove(f, coll, *, call):
    return like(coll, [x for x in as_seq(coll) if not truthy(call(f, [x]))])


def take(n, coll):
    return like(coll, as_seq(coll)[:max(_int(n), 0)])


def drop(n, coll):
    return like(coll, as_seq(coll)[max(_int(n), 0):])


def take_while(f, coll, *, call):
    out = []
    for x in as_seq(coll):
        if not truthy(call(f, [x])):
            break
        out.append(x)
    return like(coll, out)


def drop_while(f, coll, *, call):
    seq = list(as_seq(coll))
    i = 0
    while i < len(seq) and truthy(call(f, [seq[i]])):
        i += 1
    return like(coll, seq[i:])


def mapcat(f, coll, *, call):
    out: list = []
    for x in as_seq(coll):
        out.extend(as_seq(call(f, [x])))
        _check_size(len(out), MAX_ITEMS, "items")
    return like(coll, out)


def into(to, frm):
    if isinstance(to, Mapping) or (to is None and isinstance(frm, Mapping)):
        out = Map(_map(to))
        for pair in as_seq(frm):
            k, v = as_seq(pair)
            out[k] = v
        return out
    items = as_seq(frm)
    if isinstance(to, List):
        return List((*reversed(items), *to))
    return Vector((*as_seq(to), *items))


def merge(*maps):
    out = Map()
    for m in maps:
        out.update(_map(m))
    return out


def update(m, k, f, *, call):
    out = Map(_map(m))
    out[k] = call(f, [get(m, k)])
    return out


def assoc_in(m, path, value):
    keys = as_seq(path)
    if not keys:
        return value
    out = Map(_map(m))
    out[keys[0]] = assoc_in(get(m, keys[0]), Vector(keys[1:]), value)
    return out


def update_in(m, path, f, *, call):
    keys = as_seq(path)
    if not keys:
        return call(f, [m])
    out = Map(_map(m))
    out[keys[0]] = update_in(get(m, keys[0]), Vector(keys[1:]), f, call=call)
    return out


def select_keys(m, ks):
    m = _map(m)
    return Map((k, m[k]) for k in as_seq(ks) if k in m)


def group_by(f, coll, *, call):
    out: dict = {}
    for x in as_seq(coll):
        out.setdefault(call(f, [x]), []).append(x)
    return Map((k, Vector(v)) for k, v in out.items())


def sort_by(f, coll, *, call):
    try:
        return like(coll, sorted(as_seq(coll), key=lambda x: call(f, [x])))
    except TypeError:
        raise BuiltinError("cannot sort values of different types") from None


def reverse(coll):
    return like(coll, list(reversed(as_seq(coll))))


def frequencies(coll):
    out: dict = {}
    for x in as_seq(coll):
        out[x] = out.get(x, 0) + 1
    return Map(out)


def zipmap(ks, vs):
    return Map(zip(as_seq(ks), as_seq(vs), strict=False))


def interleave(*colls):
    seqs = [as_seq(c) for c in colls]
    n = min((len(s) for s in seqs), default=0)
    return Vector(s[i] for i in range(n) for s in seqs)


def partition(n, *args):
    """`(partition n coll)` or `(partition n step coll)`, as in Clojure."""
    coll = args[-1]
    n, step = _int(n, "a size"), _int(args[0] if len(args) == 2 else n, "a step")
    if n < 1 or step < 1:
        raise BuiltinError("`partition` needs a size and step >= 1")
    seq = as_seq(coll)
    return Vector(like(coll, seq[i:i + n]) for i in range(0, len(seq) - n + 1, step))


def cons(x, coll):
    return List((x, *as_seq(coll)))


def keyword(x):
    name = x.name if isinstance(x, Symbol) else x
    if not isinstance(name, str) or not name:
        raise BuiltinError(f"`keyword` takes a name, got {pr_str(x)}")
    return Keyword(name.removeprefix(":"))


def symbol(x):
    if not isinstance(x, str) or not x or isinstance(x, Keyword):
        raise BuiltinError(f"`symbol` takes a string, got {pr_str(x)}")
    return Symbol(x)


def name(x):
    if isinstance(x, Symbol):
        return x.name
    if isinstance(x, str):
        return str.__str__(x)
    raise BuiltinError(f"`name` takes a keyword, symbol or string, got {pr_str(x)}")


def apply(f, *args, call):
    if not args:
        raise BuiltinError("`apply` takes a function and arguments, the last a collection")
    return call(f, [*args[:-1], *as_seq(args[-1])])


def hash_map(*kvs):
    if len(kvs) % 2:
        raise BuiltinError("`hash-map` takes key/value pairs")
    return Map(zip(kvs[::2], kvs[1::2], strict=True))


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


TABLE = {
    "inc": (inc, 1, 1), "dec": (dec, 1, 1),
    "some": (some, 2, 2), "every?": (every, 2, 2), "remove": (remove, 2, 2),
    "take": (take, 2, 2), "drop": (drop, 2, 2), "take-while": (take_while, 2, 2),
    "drop-while": (drop_while, 2, 2), "mapcat": (mapcat, 2, 2), "into": (into, 2, 2),
    "merge": (merge, 0, None), "update": (update, 3, 3), "assoc-in": (assoc_in, 3, 3),
    "update-in": (update_in, 3, 3), "select-keys": (select_keys, 2, 2),
    "group-by": (group_by, 2, 2), "sort-by": (sort_by, 2, 2), "reverse": (reverse, 1, 1),
    "identity": (lambda x: x, 1, 1), "frequencies": (frequencies, 1, 1),
    "zipmap": (zipmap, 2, 2), "interleave": (interleave, 1, None),
    "partition": (partition, 2, 3), "list": (lambda *xs: List(xs), 0, None),
    "cons": (cons, 2, 2), "vec": (lambda c: Vector(as_seq(c)), 1, 1),
    "vector": (lambda *xs: Vector(xs), 0, None), "hash-map": (hash_map, 0, None),
    "keyword": (keyword, 1, 1), "symbol": (symbol, 1, 1), "name": (name, 1, 1),
    "pr-str": (lambda *xs: " ".join(pr_str(x) for x in xs), 0, None),
    "apply": (apply, 2, None),
    "symbol?": (lambda x: isinstance(x, Symbol), 1, 1),
    "keyword?": (lambda x: isinstance(x, Keyword), 1, 1),
    "true?": (lambda x: x is True, 1, 1), "false?": (lambda x: x is False, 1, 1),
    "some?": (lambda x: x is not None, 1, 1), "boolean?": (lambda x: isinstance(x, bool), 1, 1),
    "int?": (lambda x: _is_int(x), 1, 1),
    "seq?": (lambda x: isinstance(x, List), 1, 1),
    # functions are the language's own values: known here by the name of their type
    "fn?": (lambda x: getattr(x, "type_name", None) in ("function", "builtin"), 1, 1),
    "coll?": (lambda x: is_seq(x) or isinstance(x, Mapping), 1, 1),
}
# builtin -> (position of its function argument, how many arguments it gets; None: any)
FN_ARGS = {"some": (0, 1), "every?": (0, 1), "remove": (0, 1), "take-while": (0, 1),
           "drop-while": (0, 1), "mapcat": (0, 1), "update": (2, 1), "update-in": (2, 1),
           "group-by": (0, 1), "sort-by": (0, 1), "apply": (0, None)}
# ... of which the value of the function decides which items are kept or where they go
DECIDES = {"some", "every?", "remove", "take-while", "drop-while", "group-by", "sort-by"}
