"""The builtin functions as one table: the core (`builtins.py`) and the rest of the
Clojure core a macro or helper reaches for (`seqfns.py`). The evaluator, the spec
validator, the runtime's expressions and the highlighter all read it from here."""

from __future__ import annotations

from . import builtins as core
from . import seqfns
from .builtins import BuiltinError

# name -> (function, min args, max args or None)
BUILTINS = {**core.BUILTINS, **seqfns.TABLE}
# those taking a function: where it is and how many arguments it gets (None: any)
FN_ARGS = {**core.FN_ARGS, **seqfns.FN_ARGS}
HIGHER_ORDER = frozenset(FN_ARGS)
DECIDES = frozenset(core.DECIDES | seqfns.DECIDES)
# they only look at the shape of a collection: computed at compile time on a static
# vector or map even when its items are runtime values
STRUCTURAL = frozenset(core.STRUCTURAL | {"take", "drop", "reverse", "cons", "vec",
                                          "list", "vector", "interleave", "partition",
                                          "select-keys", "merge", "into", "zipmap",
                                          "assoc-in", "hash-map", "seq?", "coll?"})


def apply(name: str, args, call=None):
    """Apply builtin `name`; raises BuiltinError on arity or type mistakes."""
    fn, lo, hi = BUILTINS[name]
    if len(args) < lo or (hi is not None and len(args) > hi):
        want = f"{lo}" if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"
        raise BuiltinError(f"`{name}` takes {want} arguments, got {len(args)}")
    try:
        if name in HIGHER_ORDER:
            return fn(*args, call=call)
        return fn(*args)
    except BuiltinError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError) as exc:
        raise BuiltinError(f"`{name}`: {exc}") from None
