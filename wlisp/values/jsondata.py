"""wlisp values are JSON data, and these are the limits that follows from it, in one
place: numbers are finite, integers short enough to write out, text is Unicode
without lone surrogates. The reader, the builtins and the WorkflowSpec loader
check them here, so that whatever wlisp makes can be written as JSON and read back.
"""

from __future__ import annotations

import json
import math
import re

# Python will not turn an int of more than 4300 digits into text (nor read one from
# JSON), so neither could a spec hold it.
MAX_INT_DIGITS = 4300
_INT_LIMIT = 10 ** MAX_INT_DIGITS
SURROGATE = re.compile("[\ud800-\udfff]")  # a lone one: pairs are one character in Python
# a \u escape that decodes to a surrogate; real pairs become one character when read
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def number_problem(x) -> str | None:
    """Why the number `x` cannot be a wlisp value, or None when it can."""
    if type(x) is float and not math.isfinite(x):
        return "numbers must be finite"
    if type(x) is int and not -_INT_LIMIT < x < _INT_LIMIT:
        return f"integers may have at most {MAX_INT_DIGITS} digits"
    return None


def text_problem(s: str) -> str | None:
    """Why the string `s` is not Unicode text, or None when it is."""
    m = SURROGATE.search(s)
    if m is None:
        return None
    return f"it holds a lone surrogate U+{ord(m.group()):04X}, which is not a character"


def _constant(name: str):
    raise ValueError(f"`{name}` is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number `{text[:24]}` is out of range: numbers must be finite")
    return value


def loads(text: str | bytes):
    """`json.loads`, refusing what is not JSON data although Python accepts it: NaN and
    Infinity, numbers that overflow to infinity, lone surrogates. Raises ValueError
    (RecursionError for absurdly deep nesting, as json.loads does)."""
    data = json.loads(text, parse_constant=_constant, parse_float=_float)
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8", "replace")
    if _SURROGATE_ESCAPE.search(text) or SURROGATE.search(text):
        _refuse_surrogates(data)
    return data


def _refuse_surrogates(data) -> None:
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            problem = text_problem(x)
            if problem is not None:
                raise ValueError(f"a string is not text: {problem}")
        elif isinstance(x, dict):
            stack.extend(x)
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
