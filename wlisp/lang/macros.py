"""Macro expansions keep pointing at the user's source: forms a macro creates get
the call site's span, the caller's own forms keep theirs."""

from __future__ import annotations

from ..values.datum import Keyword, List, Map, Symbol, Vector


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


def respan(x, span, arguments):
    """Give forms created by a macro the call site's span; the caller's own forms
    (the `arguments`, spliced into the expansion) keep theirs."""
    return _respan(x, span, _reachable(arguments))


def _respan(x, span, keep: set[int]):
    if id(x) in keep:
        return x
    if isinstance(x, Symbol):
        return Symbol(x.name, span)
    if isinstance(x, Keyword):
        return Keyword(x, span)
    if isinstance(x, (List, Vector)):
        return type(x)([_respan(i, span, keep) for i in x], span)
    if isinstance(x, Map):
        return Map(((_respan(k, span, keep), _respan(v, span, keep)) for k, v in x.items()),
                   span=span)
    return x
