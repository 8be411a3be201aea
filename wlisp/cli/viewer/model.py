"""What the run viewer shows, as plain data: the workflow's graph with each node's
status taken from the journal (and, while a run goes on, from the agents running
and the step files being written), and each step's page."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time

from ...errors import Diagnostic, WlispError
from ...ir.spec import WorkflowSpec
from ...runtime.journal import DB_NAME
from ...runtime.state import INSTANCE_MARK
from ...runtime.stepfiles import step_dir
from ..diagram import bodies_of, label_of
from ..inspect import report, step_view

# what a node with several instances shows: the most telling status first
PRECEDENCE = ("running", "interrupted", "failed", "paused", "cancelled", "completed",
              "skipped", "pruned")
LIVE = ("running", "interrupted")  # runs (and steps) whose files may hold unfinished attempts


def look(journal, run_id: str):
    """A run's row; `interrupted` for a run that says `running` when nothing runs it."""
    run = journal.run(run_id)
    return dataclasses.replace(run, status=run.shown_status)


def holder_gone(run) -> bool:
    """The process running `run` is gone (the journal's rule: `shown_status`)."""
    return run.shown_status == "interrupted"


def journal_mark(state_dir: str) -> tuple:
    """Changes whenever the journal does (SQLite in WAL mode writes the -wal file)."""
    out = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        try:
            st = os.stat(os.path.join(state_dir, name))
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def statuses(journal, run, started: Started | None = None) -> dict[str, dict]:
    """Node instance id -> {status, kind, agent, ...}: the journal's records, plus the
    steps started and not ended while the run is running (or was, when interrupted).
    `started` keeps what it saw of the step files from one call to the next."""
    nodes = journal.node_view(run.id)
    if run.status in LIVE:
        started = started or Started(journal.log_dir(run.id))
        completed = {n for n, rec in nodes.items() if rec.get("status") == "completed"}
        for node in journal.running(run.id) | started(completed):
            rec = nodes.setdefault(node, {"kind": "spawn"})
            if rec.get("status") != "completed":
                rec["status"] = run.status
    return nodes


class Started:
    """Attempts with a prompt and no outcome yet (`runtime/stepfiles.py`), looked for
    again on every poll of a running run, which must stay cheap however many steps it
    has: a folder is listed again only when its mtime changed; an ended attempt's
    folder, and the folder of a step the journal has completed, are not looked at."""

    RACY = 2_000_000_000  # ns: a folder changed this recently may change again unseen

    def __init__(self, logs: str):
        self.root = os.path.join(logs, "steps")
        self.known: dict[str, tuple] = {}  # folder -> (mtime or None, subfolders, state)
        self.listed = 0  # folders listed so far (to measure)

    def __call__(self, completed=frozenset()) -> set[str]:
        found, stack = set(), [""]
        while stack:
            rel = stack.pop()
            if rel in completed:
                continue
            _mtime, subs, state = self._look(rel)
            if state == "started":
                found.add(rel.rpartition("/")[0])
            stack.extend(f"{rel}/{s}" if rel else s for s in subs)
        return found

    def _look(self, rel: str) -> tuple:
        old = self.known.get(rel)
        if old is not None and old[2] == "ended":  # an attempt that ended stays so
            return old
        path = os.path.join(self.root, *rel.split("/")) if rel else self.root
        try:
            mtime = os.stat(path).st_mtime_ns
            if old is not None and old[0] == mtime:
                return old
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            self.known.pop(rel, None)
            return None, [], None
        self.listed += 1
        names = {e.name for e in entries}
        attempt = rel.rpartition("/")[2].isdigit()  # not `1.interrupted` (stepfiles.py)
        state = None if not attempt else "ended" if "outcome.json" in names else \
            "started" if "prompt.md" in names else None
        subs = [e.name for e in entries if state is None and e.is_dir(follow_symlinks=False)]
        racy = time.time_ns() - mtime < self.RACY  # coarse mtimes: list it again next time
        self.known[rel] = entry = (None if racy else mtime, subs, state)
        return entry


@functools.lru_cache(maxsize=8)
def _spec(spec_json: str) -> tuple:
    """The spec, its node ids, and those ids cut after each of their marks."""
    spec = WorkflowSpec.from_json(spec_json, validate=False)
    static_ids = {n.id for n, _ in spec.walk()}
    prefixes = {s[:m.end()] for s in static_ids for m in INSTANCE_MARK.finditer(s)}
    return spec, static_ids, prefixes


def load_spec(run) -> tuple:
    """`_spec` of a run; a spec that cannot be read is said so, not a traceback."""
    try:
        return _spec(run.spec)
    except (WlispError, LookupError, TypeError, ValueError, AttributeError) as exc:
        raise WlispError(Diagnostic("W0801", f"the spec of run `{run.id}` cannot be read "
                                    f"({exc})")) from None


def static_of(inst: str, static_ids: set[str], prefixes: set[str]):
    """The spec node an instance runs (None if none) and the instance's own marks as
    (where, mark): a mark the spec's ids have at that place is the spec's own (a static
    map's `main/m[0]`), any other one the run's (`main/m[0]/r[1]/w` runs `main/m[0]/r/w`)."""
    kept, own, last = "", [], 0
    for m in INSTANCE_MARK.finditer(inst):
        kept += inst[last:m.start()]
        last = m.end()
        if kept + m[0] in prefixes:
            kept += m[0]
        else:
            own.append((m.start(), m[0]))
    kept += inst[last:]
    return (kept if kept in static_ids else None), own


def graph(run, nodes: dict) -> list[dict]:
    """The spec's graph as nested boxes: each node with its label, kind, status and
    instances (steps link to their pages), each nested graph under its node."""
    spec, static_ids, prefixes = load_spec(run)
    instances: dict[str, list] = {}
    for inst, rec in nodes.items():
        owner, own = static_of(inst, static_ids, prefixes)
        if owner is not None:
            instances.setdefault(owner, []).append({"id": inst, "status": rec.get("status"),
                                                    "short": _short(inst, own, nodes)})
    live = run.status if run.status in LIVE else None

    def boxes(g) -> list[dict]:
        out = []
        for n in g.nodes:
            mine = instances.get(n.id, [])
            bodies = [{"title": title, "nodes": boxes(sub)} for title, sub in bodies_of(n)]
            inner = {b["status"] for body in bodies for b in body["nodes"]}
            busy = live in inner  # a loop, a map ... at work (or stopped at work)
            status = _status([i["status"] for i in mine] or ([live] if busy else []))
            out.append({"id": n.id, "kind": n.kind, "label": label_of(n).replace("<br/>", " "),
                        "status": status, "instances": mine, "bodies": bodies})
        return out
    return boxes(spec.graph)


def _status(found: list) -> str:
    for status in PRECEDENCE:
        if status in found:
            return status
    return "pending"


def _short(inst: str, own: list, nodes: dict) -> str:
    """What tells an instance apart from its node's others: its own marks (`@2`, `[1]`),
    then the items they stand for, as their map's record names them (`[1] b`)."""
    labels = []
    for at, mark in own:
        items = (nodes.get(inst[:at]) or {}).get("items")
        if isinstance(items, list) and mark[1:-1].isdigit() and int(mark[1:-1]) < len(items):
            labels.append(str(items[int(mark[1:-1])]))
    marks = "".join(mark for _, mark in own)
    return f"{marks} {' / '.join(labels)}" if labels else marks


def step_page(journal, run, node: str) -> dict | None:
    """Everything about one step: `wlisp show RUN NODE`'s view plus its files; a step
    started and not ended yet shows what its files hold so far."""
    nodes = journal.node_view(run.id)
    logs = journal.log_dir(run.id)
    folder = os.path.dirname(step_dir(logs, node, 1))
    if node not in nodes and run.status in LIVE and os.path.isdir(folder):
        nodes[node] = {"kind": "spawn", "status": run.status}
    view = step_view(run, nodes, logs, node)
    if view is None:
        return None
    view["attempts"] += _unended(folder, {a["attempt"] for a in view["attempts"]},
                                 view["status"])
    for attempt in view["attempts"]:
        folder = step_dir(logs, node, attempt["attempt"])
        attempt["stderr"] = _read(folder, "stderr.txt")
        attempt["live"] = _read(folder, "live.log")
    view["outcome"] = (nodes.get(node) or {}).get("outcome") or {}
    view["structured_json"] = None if view.get("structured") is None else json.dumps(
        view["structured"], indent=2, ensure_ascii=False)
    return view


def _unended(folder: str, logged: set, status: str) -> list[dict]:
    """Attempts with files and no entry in the run's log yet (running, or cut short)."""
    try:
        numbers = sorted(int(n) for n in os.listdir(folder) if n.isdigit())
    except OSError:
        return []
    return [{"attempt": n, "status": status if n == numbers[-1] else "interrupted",
             "prompt": _read(os.path.join(folder, str(n)), "prompt.md") or "",
             "output": _read(os.path.join(folder, str(n)), "output.txt") or ""}
            for n in numbers if n not in logged]


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
