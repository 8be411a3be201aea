"""The `defschema` type language (`:returns`, `:params`), compiled to JSON Schema (SPEC §4).

    string int number bool any null       primitive types
    (enum "a" "b")  (list-of T)  (optional T)  (one-of T ...)
    {:field T ...}                        a record; fields required unless optional
    (json-schema {...})                   a raw JSON Schema
    Name                                  a schema defined earlier
"""

from __future__ import annotations

from ..errors import WlispError, did_you_mean
from ..values.datum import Keyword, List, Map, Symbol, Vector

PRIMITIVES = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "number": {"type": "number"},
    "bool": {"type": "boolean"},
    "any": {},
    "null": {"type": "null"},
}
CONSTRUCTORS = ("enum", "list-of", "optional", "one-of", "json-schema")
# what other languages call our types
OTHER_NAMES = {"float": "number", "double": "number", "integer": "int", "long": "int",
               "boolean": "bool", "str": "string", "text": "string", "list": "list-of",
               "array": "list-of", "dict": "{:field T}", "object": "{:field T}"}
TYPE_NAMES = (*PRIMITIVES, *CONSTRUCTORS)  # every name the type language knows


class Schema:
    """A named JSON Schema known at compile time."""

    type_name = "schema"

    def __init__(self, name: str | None, json_schema: dict, span=None):
        self.name = name
        self.json = json_schema
        self.span = span

    def pr_str(self) -> str:
        return f"#<schema {self.name or 'inline'}>"


def compile_type(form, lookup, span=None, known=()) -> dict:
    """Compile a type form to JSON Schema. `lookup(name)` finds what a name means;
    `span` locates literals that carry none; `known` schema names feed suggestions."""
    try:
        return _compile(form, lookup, known)
    except WlispError as err:
        for d in err.diagnostics:
            d.span = d.span or span
        raise


def _compile(form, lookup, known) -> dict:
    def compile_type(f, lk):  # noqa: F811 - recursive calls keep `known`
        return _compile(f, lk, known)

    if isinstance(form, Symbol):
        if form.name in PRIMITIVES:
            return dict(PRIMITIVES[form.name])
        found = lookup(form.name)
        if isinstance(found, Schema):
            return found.json
        other = OTHER_NAMES.get(form.name)
        hint = f" (did you mean `{other}`?)" if other else \
            did_you_mean(form.name, [*known, *PRIMITIVES])
        raise WlispError.at("W0205", f"unknown schema or type `{form.name}`{hint}; types are "
                            f"{', '.join(PRIMITIVES)}, (enum ...), (list-of T), (optional T), "
                            "(one-of T ...), {:field T} and defschema names", form.span)
    if isinstance(form, Schema):
        return form.json
    if isinstance(form, Map):
        return _record(form, lambda f: _compile(f, lookup, known))
    if isinstance(form, List) and form and isinstance(form[0], Symbol):
        head, args = form[0].name, form[1:]
        if head == "enum":
            if not args or not all(isinstance(a, (str, int, float, bool)) for a in args):
                raise WlispError.at("W0303", "`enum` takes one or more strings, keywords or "
                                    "numbers", form.span)
            return {"enum": [str.__str__(a) if isinstance(a, str) else a for a in args]}
        if head == "list-of":
            _arity(form, 1)
            return {"type": "array", "items": compile_type(args[0], lookup)}
        if head == "optional":
            _arity(form, 1)
            return {"anyOf": [compile_type(args[0], lookup), {"type": "null"}]}
        if head == "one-of":
            if not args:
                raise WlispError.at("W0301", "`one-of` needs at least one type", form.span)
            return {"anyOf": [compile_type(a, lookup) for a in args]}
        if head == "json-schema":
            _arity(form, 1)
            if not isinstance(args[0], Map):
                raise WlispError.at("W0303", "`json-schema` takes a map", form.span_at(1))
            return _plain_json(args[0])
        raise WlispError.at("W0205", f"unknown type constructor `{head}`"
                            + did_you_mean(head, CONSTRUCTORS), form[0].span)
    raise WlispError.at("W0205", f"`{_show(form)}` is not a type: expected a type name, a record "
                        "{...} or (enum ...), (list-of T), (optional T), (one-of ...)",
                        getattr(form, "span", None))


def _show(form) -> str:
    from ..values.datum import pr_str

    return pr_str(form)[:40]


def _arity(form: List, n: int) -> None:
    if len(form) - 1 != n:
        raise WlispError.at("W0301", f"`{form[0].name}` takes {n} argument, got {len(form) - 1}",
                            form.span)


def _record(form: Map, compile_field) -> dict:
    props, required = {}, []
    for key, value in form.items():
        if not isinstance(key, (Keyword, str)):
            raise WlispError.at("W0303", "record field names must be keywords",
                                form.pair_spans.get(key, (form.span,))[0])
        name = str.__str__(key)
        optional = isinstance(value, List) and value and value[0] == Symbol("optional")
        if optional:
            _arity(value, 1)
            props[name] = compile_field(value[1])
        else:
            props[name] = compile_field(value)
            required.append(name)
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


def _plain_json(x):
    if isinstance(x, dict):
        return {str.__str__(k) if isinstance(k, str) else str(k): _plain_json(v)
                for k, v in x.items()}
    if isinstance(x, (Vector, List, list, tuple)):
        return [_plain_json(i) for i in x]
    if isinstance(x, Keyword):
        return str.__str__(x)
    if isinstance(x, Symbol):
        return x.name
    return x


def schema_at(json_schema: dict | None, path) -> dict | None:
    """The schema of the value at `path` inside a value of `json_schema` (None when it
    is not known)."""
    for key in path:
        if not isinstance(json_schema, dict):
            return None
        json_schema = (json_schema.get("properties") or {}).get(key)
    return json_schema if isinstance(json_schema, dict) else None


def fields_of(json_schema: dict | None) -> list[str] | None:
    """Property names of an object schema, or None when the shape is open."""
    if not json_schema or json_schema.get("type") != "object":
        return None
    if json_schema.get("additionalProperties") is not False:
        return None
    return list(json_schema.get("properties", {}))
