"""Typed workflow inputs (`(defworkflow main [brief (rounds int 3)] ...)`): the spec's
`inputs` table gives a parameter's JSON Schema and default. The compiler checks
defaults with it, the runtime checks a run's inputs before any step, and the command
line reads `-i k=v` text as the declared type."""

from __future__ import annotations

import json
from functools import lru_cache

from ..errors import Diagnostic, Span, WlispError

TRUE, FALSE = ("true", "yes", "y", "on", "1"), ("false", "no", "n", "off", "0")


def type_label(schema: dict | None) -> str:
    """A parameter's type in the words of the type language."""
    if not isinstance(schema, dict) or not schema:
        return "any value"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(type_label({"type": k}) for k in kind)
    return {"integer": "int", "number": "number", "boolean": "bool", "string": "string",
            "null": "null", "array": "list",
            "object": "record"}.get(kind, "value matching its schema")


@lru_cache(maxsize=256)
def _validator(text: str):
    import jsonschema

    schema = json.loads(text)
    return jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator)(schema)


def schema_mismatch(schema: dict, value) -> str | None:
    """Why `value` (JSON data) is not of type `schema`, or None."""
    import jsonschema

    error = jsonschema.exceptions.best_match(
        _validator(json.dumps(schema, sort_keys=True)).iter_errors(value))
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path))
    return f"{where + ': ' if where else ''}{error.message}"


def parse_text(schema: dict | None, text: str):
    """Command-line text as a value of the declared type: a string stays text, numbers
    and records are JSON, booleans also yes/no; undeclared: JSON if it parses, else
    text. A ValueError says why not."""
    kind = (schema or {}).get("type")
    if kind == "string" or (schema and "enum" in schema and all(
            isinstance(v, str) for v in schema["enum"])):
        return text
    if kind == "boolean":
        low = text.strip().lower()
        if low in TRUE or low in FALSE:
            return low in TRUE
        raise ValueError(f"expected yes/no or true/false, got {text!r}")
    try:
        return json.loads(text)
    except ValueError:
        if schema and kind is not None:
            raise ValueError(f"expected {type_label(schema)} (JSON), got {text!r}") from None
        return text


def input_error(spec, name: str, message: str) -> WlispError:
    """W0311, pointing at the parameter's declaration when the spec knows it."""
    where = Span.from_json((spec.inputs or {}).get(name, {}).get("span")) or spec.span
    return WlispError(Diagnostic("W0311", f"input `{name}` of workflow `{spec.name}`: "
                                 f"{message}", where))


def typed_inputs(spec, inputs: dict) -> dict:
    """`inputs` with defaults filled in, each checked against its declared type."""
    out = dict(inputs)
    for name, decl in (spec.inputs or {}).items():
        if name not in out and "default" in decl:
            out[name] = decl["default"]
        if name in out and decl.get("type"):
            problem = schema_mismatch(decl["type"], out[name])
            if problem:
                raise input_error(spec, name, f"expected {type_label(decl['type'])}, got "
                                  f"{json.dumps(out[name])[:200]} ({problem})")
    return out
