"""A run's inputs: checked against the workflow's parameters, and read from the
command line's `k=v` / `k=@file` pairs."""

from __future__ import annotations

from ..errors import did_you_mean, usage_error
from ..ir.inputs import input_error, parse_text, typed_inputs


def check_inputs(spec, inputs: dict | None) -> dict:
    """The inputs a run of `spec` gets: defaults filled in, each checked against its
    declared type (W0311); a missing or unknown one is a usage error."""
    inputs = dict(inputs or {})
    declared = spec.inputs or {}
    extra = [k for k in inputs if k not in spec.params]  # first: a typo explains both
    if extra:
        raise usage_error(f"workflow `{spec.name}` has no input "
                          + ", ".join(f"`{k}`" for k in extra)
                          + did_you_mean(extra[0], spec.params)
                          + f"; its inputs are: {', '.join(spec.params) or '(none)'}")
    missing = [p for p in spec.params if p not in inputs and
               "default" not in declared.get(p, {})]
    if missing:
        raise usage_error(f"workflow `{spec.name}` needs input"
                          f"{'s' if len(missing) > 1 else ''} "
                          + ", ".join(f"`{m}`" for m in missing)
                          + " (pass --input " + " --input ".join(f"{m}=..." for m in missing)
                          + ")")
    return typed_inputs(spec, inputs)


def parse_input_pairs(pairs, spec=None) -> dict:
    """`k=v`, read as the parameter's declared type (text for a string; JSON if it
    parses, else the text, when undeclared), `k=@file` (the file's text)."""
    declared = (spec.inputs or {}) if spec is not None else {}
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise usage_error(f"--input takes key=value or key=@file, got `{pair}`")
        if value.startswith("@"):
            try:
                with open(value[1:], encoding="utf-8") as f:
                    out[key] = f.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise usage_error(f"--input {key}: cannot read {value[1:]}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
            continue
        try:
            out[key] = parse_text(declared.get(key, {}).get("type"), value)
        except ValueError as exc:
            raise input_error(spec, key, str(exc)) from None
    return out
