"""Human gates (SPEC §4 `human`): which gates a paused run waits at, and the
answers given for them on resume."""

from __future__ import annotations

from ..errors import usage_error
from .inputs import json_or_text


def waiting_gates(journal, run_id: str) -> list[str]:
    return [n for n, rec in journal.nodes(run_id).items() if rec["status"] == "paused"]


def gate_answers(journal, run_id: str, given) -> dict:
    """`VALUE` (when one gate waits) or `NODE=VALUE` strings -> {gate: value}; a value
    is JSON when it parses, else text."""
    gates = waiting_gates(journal, run_id) if given else []
    out = {}
    for answer in given:
        node, sep, value = answer.partition("=")
        if sep and node in gates:
            out[node] = json_or_text(value)
        elif len(gates) == 1:
            out[gates[0]] = json_or_text(answer)
        elif not gates:
            raise usage_error(f"run `{run_id}` is not waiting at a human gate")
        else:
            raise usage_error(f"run `{run_id}` waits at several gates ({', '.join(gates)});"
                              " answer with --answer NODE=VALUE")
    return out
