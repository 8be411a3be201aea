"""Structured output: find the JSON in an answer, check it against the schema."""

from __future__ import annotations

import json
import re

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)\n?```", re.S)
_validators: dict[str, object] = {}


def parse_answer(text: str, schema: dict | None):
    """The JSON value in `text`: the whole text, a fenced ```json block, or — for a
    schema with a single enum field (labels, judges) — a bare matching word."""
    stripped = text.strip()
    for candidate in (stripped, *[m.group(1) for m in _FENCE.finditer(text)]):
        try:
            return json.loads(candidate), None
        except ValueError:
            continue
    single = _single_enum(schema)
    if single is not None:
        prop, choices = single
        word = stripped.strip("\"'`.!* \n\t").lower()
        for c in choices:
            if isinstance(c, str) and word == c.lower():
                return {prop: c}, None
    return None, "the answer is not JSON (a ```json fenced block is accepted)"


def _single_enum(schema):
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    props = schema.get("properties") or {}
    req = schema.get("required") or []
    if len(req) == 1 and req[0] in props and "enum" in props[req[0]]:
        return req[0], props[req[0]]["enum"]
    return None


def validate(value, schema: dict) -> list[str]:
    """Human-readable validation errors (empty when valid)."""
    import jsonschema

    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        validator = _validators[key] = cls(schema)
    errors = []
    for err in validator.iter_errors(value):
        where = "/".join(str(p) for p in err.absolute_path)
        errors.append(f"{where or '(top)'}: {err.message}")
    return errors[:10]
