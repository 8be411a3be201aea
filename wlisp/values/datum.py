"""The datum model shared by code and compile-time data, and its printer.

Code is data: the reader produces these values and macros manipulate them.
Numbers, strings, booleans and nil are plain Python values; symbols, keywords
and collections are small classes that also carry a source span. A collection
remembers the spans of its items (`item_spans`), so even a literal `0` can be
pointed at in a diagnostic.
"""

from __future__ import annotations

import json
import re

from ..errors import Span


class Symbol:
    __slots__ = ("name", "span")

    def __init__(self, name: str, span: Span | None = None):
        self.name = name
        self.span = span

    def __eq__(self, other):
        return type(other) is Symbol and other.name == self.name

    def __hash__(self):
        return hash(("sym", self.name))

    def __repr__(self):
        return self.name


class Keyword(str):
    """A keyword is its name as a string (`:bug` == "bug"), so that labels and map
    keys mean the same at compile time and at run time, where keywords are JSON strings."""

    span: Span | None = None

    def __new__(cls, name: str, span: Span | None = None):
        kw = super().__new__(cls, name)
        kw.span = span
        return kw

    def __repr__(self):
        return ":" + str.__str__(self)


class _Seq(tuple):
    """Immutable sequence with a span; equality includes the concrete type."""

    def __new__(cls, items=(), span: Span | None = None, item_spans=None):
        obj = super().__new__(cls, items)
        obj.span = span
        obj.item_spans = item_spans
        return obj

    def __eq__(self, other):
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((type(self).__name__, tuple.__hash__(self)))

    def span_at(self, i: int) -> Span | None:
        """Best span for item `i`: its own, the recorded one, or the collection's."""
        if 0 <= i < len(self):
            own = getattr(self[i], "span", None)
            if own is not None:
                return own
            if self.item_spans and i < len(self.item_spans):
                return self.item_spans[i]
        return self.span


class List(_Seq):
    def __repr__(self):
        return pr_str(self)


class Vector(_Seq):
    def __repr__(self):
        return pr_str(self)


class Map(dict):
    """A map; `pairs_spans` maps each key to the spans of (key, value) when read."""

    def __init__(self, *args, span: Span | None = None, pair_spans=None, **kw):
        super().__init__(*args, **kw)
        self.span = span
        self.pair_spans = pair_spans or {}

    def __eq__(self, other):
        return isinstance(other, Map) and dict.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def value_span(self, key) -> Span | None:
        spans = self.pair_spans.get(key)
        return spans[1] if spans else self.span

    def __repr__(self):
        return pr_str(self)


# --- printing -----------------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
_NEEDS_ESCAPE = re.compile(r'["\\\n\t\r\0]|[\x00-\x1f\x7f]')


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    return _ESCAPES.get(ch) or f"\\u{{{ord(ch):x}}}"


def pr_str(x) -> str:
    """Print a datum so that reading the text gives the same datum back."""
    if x is None:
        return "nil"
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, Keyword):
        return ":" + str.__str__(x)
    if isinstance(x, str):
        return '"' + _NEEDS_ESCAPE.sub(_escape, x) + '"'
    if isinstance(x, Symbol):
        return x.name
    if isinstance(x, int):
        return str(int(x))
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            return json.dumps(str(x))  # no literal for these; print as a string
        text = repr(float(x))
        return text
    if isinstance(x, List):
        return "(" + " ".join(pr_str(i) for i in x) + ")"
    if isinstance(x, (Vector, list, tuple)):
        return "[" + " ".join(pr_str(i) for i in x) + "]"
    if isinstance(x, dict):
        return "{" + " ".join(f"{pr_str(k)} {pr_str(v)}" for k, v in x.items()) + "}"
    printer = getattr(x, "pr_str", None)
    return printer() if printer else f"#<{type(x).__name__}>"
