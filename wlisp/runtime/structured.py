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


# --- lenient reading of strict schemas ------------------------------------------------
# Models are sent strict schemas (records with `additionalProperties: false`, as strict
# structured-output modes require). An answer with every required field and some more
# is still a good answer: it is validated with the extra fields allowed, and they are
# dropped from `structured`, instead of paying for a retry.

_lenient: dict[str, dict] = {}


def lenient(schema: dict) -> dict:
    """`schema` with extra object fields allowed at every level (cached)."""
    key = json.dumps(schema, sort_keys=True)
    found = _lenient.get(key)
    if found is None:
        found = _lenient[key] = _allow_extras(schema)
    return found


def _allow_extras(schema):
    if isinstance(schema, dict):
        return {k: _allow_extras(v) for k, v in schema.items()
                if not (k == "additionalProperties" and v is False)}
    if isinstance(schema, list):
        return [_allow_extras(v) for v in schema]
    return schema


def drop_extras(value, schema):
    """`value` (valid for `lenient(schema)`) without the fields `schema` does not allow."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict) and schema.get("additionalProperties") is False:
        props = schema.get("properties") or {}
        return {k: drop_extras(v, props[k]) for k, v in value.items() if k in props}
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        return {k: drop_extras(v, props.get(k)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [drop_extras(v, schema["items"]) for v in value]
    for branch in schema.get("anyOf") or schema.get("oneOf") or ():
        if not validate(value, lenient(branch)):
            return drop_extras(value, branch)
    return value
