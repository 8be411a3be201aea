"""What the run viewer shows, as plain data: the workflow's graph with each node's
status taken from the journal (and, while a run goes on, from the agents running
and the step files being written), and each step's page."""

from __future__ import annotations

import json
import os
import re

from ...ir.spec import WorkflowSpec
from ...runtime.stepfiles import step_dir
from ..diagram import bodies_of, label_of
from ..inspect import report, step_view

_ITERATION = re.compile(r"@\d+")
_ITEM = re.compile(r"\[[\d.]+\]")
# what a node with several instances shows: the most telling status first
PRECEDENCE = ("running", "failed", "paused", "cancelled", "completed", "skipped", "pruned")


def statuses(journal, run) -> dict[str, dict]:
    """Node instance id -> {status, kind, agent, ...}: the journal's records, plus the
    steps running now when the run is."""
    nodes = journal.node_view(run.id)
    if run.status == "running":
        logs = journal.log_dir(run.id)
        for node in journal.running(run.id) | _started(logs):
            rec = nodes.setdefault(node, {"kind": "spawn"})
            if rec.get("status") != "completed":
                rec["status"] = "running"
    return nodes


def _started(logs: str) -> set[str]:
    """Attempts with a prompt and no outcome yet (`runtime/stepfiles.py`)."""
    root = os.path.join(logs, "steps")
    found = set()
    for folder, _dirs, files in os.walk(root):
        if "prompt.md" in files and "outcome.json" not in files:
            found.add(os.path.relpath(os.path.dirname(folder), root).replace(os.sep, "/"))
    return found


def static_of(inst: str, static_ids: set[str]) -> str | None:
    """The spec node an instance runs: iterations dropped, then map items if needed."""
    no_iter = _ITERATION.sub("", inst)
    if no_iter in static_ids:
        return no_iter
    plain = _ITEM.sub("", no_iter)
    return plain if plain in static_ids else None


def graph(spec_json: str, nodes: dict, run_status: str) -> list[dict]:
    """The spec's graph as nested boxes: each node with its label, kind, status and
    instances (steps link to their pages), each nested graph under its node."""
    spec = WorkflowSpec.from_json(spec_json, validate=False)
    static_ids = {n.id for n, _ in spec.walk()}
    instances: dict[str, list] = {}
    for inst, rec in nodes.items():
        owner = static_of(inst, static_ids)
        if owner is not None:
            instances.setdefault(owner, []).append({"id": inst, "status": rec.get("status"),
                                                    "short": _short(inst, owner)})

    def boxes(g) -> list[dict]:
        out = []
        for n in g.nodes:
            mine = instances.get(n.id, [])
            bodies = [{"title": title, "nodes": boxes(sub)} for title, sub in bodies_of(n)]
            inner = {b["status"] for body in bodies for b in body["nodes"]}
            busy = run_status == "running" and "running" in inner  # a loop, a map ... at work
            status = _status([i["status"] for i in mine] or (["running"] if busy else []))
            out.append({"id": n.id, "kind": n.kind, "label": label_of(n).replace("<br/>", " "),
                        "status": status, "instances": mine, "bodies": bodies})
        return out
    return boxes(spec.graph)


def _status(found: list) -> str:
    for status in PRECEDENCE:
        if status in found:
            return status
    return "pending"


def _short(inst: str, static: str) -> str:
    """What tells an instance apart from its node's others: `@2`, `[1]`, or ``."""
    marks = _ITERATION.findall(inst) + [m for m in _ITEM.findall(inst) if m not in static]
    return "".join(marks)


def step_page(journal, run, node: str) -> dict | None:
    """Everything about one step: `wlisp show RUN NODE`'s view plus its files."""
    nodes = journal.node_view(run.id)
    logs = journal.log_dir(run.id)
    view = step_view(run, nodes, logs, node)
    if view is None:
        return None
    for attempt in view["attempts"]:
        folder = step_dir(logs, node, attempt["attempt"])
        attempt["stderr"] = _read(folder, "stderr.txt")
        attempt["live"] = _read(folder, "live.log")
    view["outcome"] = (nodes.get(node) or {}).get("outcome") or {}
    view["structured_json"] = None if view.get("structured") is None else json.dumps(
        view["structured"], indent=2, ensure_ascii=False)
    return view


def _read(folder: str, name: str) -> str | None:
    path = os.path.join(folder, name)
    real = os.path.realpath(path)
    if not real.startswith(os.path.realpath(folder) + os.sep):
        return None
    try:
        with open(real, encoding="utf-8", errors="replace") as f:
            return f.read(200_000)
    except OSError:
        return None


def report_page(journal, run) -> dict:
    return report(run, journal.node_view(run.id))
