"""Keyword options of forms (`:max 3`, `:returns T`, ...): the one parser, and the
checks of option values shared by declarations and steps.

A bad option is reported and skipped, so the form still takes effect with its
other options and one mistake is reported once.
"""

from __future__ import annotations

from ..errors import WlispError, did_you_mean
from ..values.datum import Keyword, List, pr_str
from .values import POISON


class Options(dict):
    """name -> (value, span) of the options given; `end` is the index after them and
    `bad` how many problems were reported while parsing."""

    end: int = 0
    bad: int = 0

    def value(self, key: str, default=None):
        return self[key][0] if key in self else default


def parse_options(ev, form: List, start: int, allowed, what: str, *, leading: bool = False,
                  evaluate=None) -> Options:
    """Parse `:key value` pairs from `form[start:]`.

    Trailing options run to the end of the form; `leading` ones (right after a
    form's head, as in `(loop [x 0] :max 3 body...)`) stop at the first item that
    is not a keyword. `evaluate(value_form)` computes each value (errors recorded).
    """
    opts, i = Options(), start
    while i < len(form):
        key = form[i]
        if not isinstance(key, Keyword):
            if leading:
                break
            _report(ev, opts, "W0302", f"expected a keyword option for `{what}`, got "
                    f"`{pr_str(key)}`", form.span_at(i))
            i += 1
            continue
        if i + 1 >= len(form):
            _report(ev, opts, "W0302", f"option `:{key}` needs a value", form.span_at(i))
            i += 1
            break
        if key not in allowed:
            _report(ev, opts, "W0207", f"unknown option `:{key}` for `{what}`"
                    + did_you_mean(f":{key}", [f":{a}" for a in sorted(allowed)]),
                    form.span_at(i),
                    (f"`{what}` takes: " + ", ".join(f":{a}" for a in sorted(allowed)), None))
        else:
            value = form[i + 1]
            if evaluate is not None:
                value = ev.guarded(evaluate, value)
            if value is not POISON:
                opts[str.__str__(key)] = (value, form.span_at(i + 1))
            else:
                opts.bad += 1
        i += 2
    opts.end = i
    return opts


def _report(ev, opts: Options, code, message, span, *notes) -> None:
    opts.bad += 1
    ev.record(WlispError.at(code, message, span, *notes))


# --- checks of option values: each stores the checked value in `out` -------------------


def check(ok: bool, span, message) -> None:
    if not ok:
        raise WlispError.at("W0306", message, span)


def _given(opts, key):
    return opts.get(key, (None,))[0] is not None


def _out_key(key: str) -> str:
    return key.replace("-", "_")


def int_option(opts, key, minimum, out) -> None:
    if _given(opts, key):
        value, span = opts[key]
        check(isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
              span, f"`:{key}` must be an integer >= {minimum}, got {pr_str(value)}")
        out[_out_key(key)] = value


def seconds_option(opts, key, out) -> None:
    if _given(opts, key):
        value, span = opts[key]
        check(isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
              span, f"`:{key}` must be a number > 0 (seconds), got {pr_str(value)}")
        out[key] = value


def choice_option(opts, key, choices, out) -> None:
    if _given(opts, key):
        value, span = opts[key]
        check(isinstance(value, str) and value in choices, span,
              f"`:{key}` must be one of " + ", ".join(f":{c}" for c in choices)
              + f", got {pr_str(value)}" + did_you_mean(str(value), choices))
        out[key] = str.__str__(value)


def string_option(opts, key, out) -> None:
    if _given(opts, key):
        value, span = opts[key]
        check(isinstance(value, str) and not isinstance(value, Keyword), span,
              f"`:{key}` must be a string, got {pr_str(value)}")
        out[_out_key(key)] = str.__str__(value)


def bool_option(opts, key, out) -> None:
    if _given(opts, key):
        value, span = opts[key]
        check(isinstance(value, bool), span, f"`:{key}` must be true or false")
        out[key] = value
