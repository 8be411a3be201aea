"""Human gates (SPEC §4 `human`): which gates a paused run waits at, what each
expects (its `:returns`), and the answers given for them on resume — parsed by that
type and refused, with the gate, the type and the value named, when they do not fit.
"""

from __future__ import annotations

import json
import re

from ..errors import did_you_mean, usage_error
from ..ir.inputs import parse_text
from .structured import validate

NODE_ID = re.compile(r"\w[\w.#@\[\]-]*/[\w.#@\[\]/-]+")  # `main/ship`, not a JSON answer

YES = {"yes", "y", "true"}
NO = {"no", "n", "false"}


def waiting_gates(journal, run_id: str) -> dict[str, dict | None]:
    """gate -> the JSON Schema its answer must fit (None: any value)."""
    return {n: rec.get("expects") for n, rec in journal.nodes(run_id).items()
            if rec["status"] == "paused" and rec.get("kind") == "human"}


def describe(schema: dict | None) -> str:
    """What a gate expects, in words."""
    if not schema:
        return "any value (JSON or text)"
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    words = {"boolean": "yes or no", "integer": "a whole number", "number": "a number",
             "string": "text", "object": "a JSON object", "array": "a JSON list"}
    return words.get(kind, "JSON") + (f" matching {json.dumps(schema)}"
                                      if kind in ("object", "array", None) else "")


def parse_answer(gate: str, text: str, schema: dict | None):
    """The value `text` (as typed on the command line) stands for at `gate`."""
    if not schema:
        return parse_text(None, text)
    kind = schema.get("type")
    word = text.strip().lower()
    if kind == "boolean" and word in YES | NO:
        return word in YES
    if kind == "string" and "enum" not in schema:
        return text
    value = parse_text(None, text)
    if "enum" in schema and isinstance(value, str):  # labels match without case
        value = next((v for v in schema["enum"] if isinstance(v, str)
                      and v.lower() == value.strip().lower()), value)
    return check_answer(gate, value, schema, text)


def check_answer(gate: str, value, schema: dict | None, given=None):
    """`value` when it fits the gate's schema; a usage error naming all three if not."""
    if schema and validate(value, schema):
        shown = given if given is not None else json.dumps(value, default=str)
        raise usage_error(f"the answer for gate `{gate}` must be {describe(schema)}; "
                          f"got {shown!r}")
    return value


def gate_answers(journal, run_id: str, given) -> dict:
    """`VALUE` (when one gate waits) or `NODE=VALUE` strings -> {gate: value}, each
    parsed and checked by its gate's type."""
    gates = waiting_gates(journal, run_id)
    out = {}
    for answer in given:
        node, sep, value = answer.partition("=")
        if sep and node in gates:
            out[node] = parse_answer(node, value, gates[node])
        elif sep and NODE_ID.fullmatch(node) and gates:  # a node id, of no waiting gate
            raise usage_error(f"run `{run_id}` waits at no gate `{node}`"
                              + did_you_mean(node, gates) + f"; it waits at {', '.join(gates)}")
        elif len(gates) == 1:
            gate = next(iter(gates))
            out[gate] = parse_answer(gate, answer, gates[gate])
        elif not gates:
            raise usage_error(f"run `{run_id}` is not waiting at a human gate")
        else:
            raise usage_error(f"run `{run_id}` waits at several gates ({', '.join(gates)});"
                              " answer with --answer NODE=VALUE")
    return out


def waiting_message(run_id: str, gates: dict) -> str:
    """How to answer a paused run: each gate and what it expects."""
    lines = [f"run `{run_id}` waits at {len(gates)} human gate{'s' * (len(gates) != 1)}; "
             "answer with --answer VALUE" + (" (or NODE=VALUE)" if len(gates) > 1 else "")]
    lines += [f"  {gate}: expects {describe(schema)}" for gate, schema in gates.items()]
    return "\n".join(lines)
