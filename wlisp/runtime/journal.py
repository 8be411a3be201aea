"""The journal: every run and every finished step attempt, in SQLite (SPEC §9).

One database per state directory (`.wlisp/wlisp.db`, WAL, synchronous=FULL) and
a folder per run whose `steps.log` holds each attempt's prompt and output as text.
Steps are group-committed on a writer thread (`runtime/commits.py`). Resume reads
the completed rows back and the scheduler replays the run, taking journaled
outcomes for steps whose id and StepSpec hash match. The process groups of running
steps are kept too, so that the next holder of a run can kill what a dead one left.

One connection serves the event loop's thread and the writer thread; a lock keeps
their uses of it apart. A damaged database is refused with a way to recover it.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass

from .. import processes
from ..contract import repair_text
from ..errors import Diagnostic, WlispError
from .commits import GroupCommits, step_row

SCHEMA_VERSION = 3
DB_NAME = "wlisp.db"
LEASE_STALE_AFTER = 30.0  # seconds without a heartbeat: the holder is presumed dead
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")

_SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL,
    inputs TEXT NOT NULL, executor TEXT, digest TEXT, source TEXT, created REAL NOT NULL,
    updated REAL NOT NULL, finished REAL, error TEXT, value TEXT, usage TEXT,
    answers TEXT NOT NULL DEFAULT '{}', budget TEXT, parent TEXT,
    lease_pid INTEGER, lease_host TEXT, lease_time REAL);
CREATE TABLE steps (
    run_id TEXT NOT NULL, node TEXT NOT NULL, attempt INTEGER NOT NULL,
    spec_hash TEXT NOT NULL, status TEXT NOT NULL, outcome TEXT NOT NULL,
    started REAL, finished REAL, usage TEXT, static_node TEXT,
    PRIMARY KEY (run_id, node, attempt));
"""
# v2: node records (control nodes too) for `wlisp show`;
# v3: the process groups of running steps (`wlisp/processes.py`)
_MIGRATIONS = {
    1: """
CREATE TABLE nodes (
    run_id TEXT NOT NULL, node TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (run_id, node));
""",
    2: """
CREATE TABLE processes (
    run_id TEXT NOT NULL, node TEXT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (run_id, node, attempt, pid));
""",
}


class JournalError(WlispError):
    """The journal could not be read or written; the run cannot go on safely."""


def journal_error(message: str, code: str = "W0801") -> JournalError:
    return JournalError(Diagnostic(code, message))


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise journal_error(f"invalid run id {run_id!r}: use letters, digits, `.`, `_`, `-` "
                            "(at most 64, not starting with `.` or `-`)", "W0701")
    return run_id


def default_state_dir(near: str | None = None) -> str:
    """Where a project's runs are journaled: WLISP_HOME, else `.wlisp` in the project's
    root — the nearest directory holding `wlisp.toml`, else the git root, else the
    current directory — looking up from `near` (a workflow file) or the current
    directory. A journal kept beside the workflow file by wlisp 0.1 is still used when
    the project has none."""
    env = os.environ.get("WLISP_HOME")
    if env:
        return env
    start = os.path.dirname(os.path.abspath(near)) if near and not near.startswith("<") \
        and near != "-" else os.getcwd()
    root = project_root(start)
    chosen = os.path.join(root or os.getcwd(), ".wlisp")
    beside = os.path.join(start, ".wlisp")
    if not os.path.exists(os.path.join(chosen, DB_NAME)) and \
            os.path.exists(os.path.join(beside, DB_NAME)):
        return beside
    return chosen


def project_root(start: str) -> str | None:
    """The nearest directory at or above `start` with `wlisp.toml`, else with `.git`."""
    for marker in ("wlisp.toml", ".git"):
        here = start
        while True:
            if os.path.exists(os.path.join(here, marker)):
                return here
            parent = os.path.dirname(here)
            if parent == here:
                break
            here = parent
    return None


def shown_status(status: str, pid: int | None, host: str | None, beat: float | None) -> str:
    """A run's status as people should read it: `interrupted` for one journaled as
    running whose process is gone (killed, it could not record its end; `wlisp resume`
    continues it), judged from its lease: the rule by which `take_lease` lets another
    process take the run over."""
    if status != "running":
        return status
    if not pid:  # (a holder always leaves its pid)
        return "interrupted"
    stale = time.time() - (beat or 0) >= LEASE_STALE_AFTER
    gone = host == socket.gethostname() and not _pid_alive(pid)
    return "interrupted" if stale or gone else status


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # someone else's; a pid out of range
        return True
    try:  # a killed process its parent has not reaped yet is dead too (Linux)
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b") ", 1)[1][:1] != b"Z"
    except (OSError, IndexError):  # no /proc: kill(0) said it is there
        return True


# JSON columns of the runs table and their value when unset
_JSON_COLUMNS = {"inputs": {}, "executor": {}, "usage": {}, "answers": {}, "budget": {},
                 "value": None}


@dataclass
class RunRow:
    """One run as journaled (the spec stays JSON text: the caller decides how to load it)."""

    id: str
    workflow: str
    status: str
    spec: str
    inputs: dict
    executor: dict
    digest: str | None
    source: str | None
    created: float
    updated: float
    finished: float | None
    error: str | None
    value: object
    usage: dict
    answers: dict
    budget: dict
    parent: str | None
    lease_pid: int | None
    lease_host: str | None
    lease_time: float | None

    @property
    def shown_status(self) -> str:
        """The status to show people (`interrupted`: its process is gone)."""
        return shown_status(self.status, self.lease_pid, self.lease_host, self.lease_time)


class Journal:
    """A state directory: the database and the per-run log folders."""

    def __init__(self, state_dir: str, create: bool = True, read_only: bool = False):
        """`read_only`: SQLite's `mode=ro` (the run viewer): no write can happen."""
        self.dir = os.path.abspath(state_dir)
        self.path = path = os.path.join(self.dir, DB_NAME)
        if os.path.exists(self.dir) and not os.path.isdir(self.dir):
            raise journal_error(f"the state directory {self.dir} is a file, not a directory "
                                "(check --state-dir and WLISP_HOME)")
        if not create and not os.path.exists(path):
            raise journal_error(f"no journal at {path}: no run was recorded there yet (runs "
                                "go to the project's `.wlisp/`, beside the nearest "
                                "wlisp.toml, else at the git root; --state-dir or "
                                "WLISP_HOME point elsewhere)")
        try:
            if not read_only:
                os.makedirs(self.dir, exist_ok=True)
        except OSError as exc:
            raise journal_error(f"cannot create the state directory {self.dir}: "
                                f"{exc.strerror or exc}") from None
        self.lock = threading.RLock()  # the event loop's thread and the writer share `db`
        self.read_only = read_only
        try:
            if read_only:
                self.db = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True,
                                          isolation_level=None, check_same_thread=False)
                self.db.execute("PRAGMA busy_timeout=10000")
                self.commits = None
                return
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self._migrate()
            if create:  # about to write: never into a damaged file
                self._check_integrity()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        self.commits = GroupCommits(self)

    def error(self, message: str) -> JournalError:
        return journal_error(f"{message} ({self.path})")

    def _damaged(self, exc) -> JournalError:
        text = str(exc)
        if ("readonly" in text or "unable to open" in text) and not self.read_only:
            return journal_error(f"cannot open the journal {self.path} for writing: {text} "
                                 "(is the state directory writable?)")
        if "unable to open" in text:
            return journal_error(f"cannot open the journal {self.path}: {text}")
        return journal_error(
            f"the journal {self.path} is damaged ({text}). Recover what it holds with "
            f"`sqlite3 {self.path} .recover | sqlite3 {self.path}.recovered`, or move the "
            f"state directory aside (`mv {self.dir} {self.dir}.damaged`) to start a new one")

    def _q(self, sql: str, args=()) -> list:
        """Rows of a query; a damaged database is a JournalError, not a traceback."""
        try:
            with self.lock:
                return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _w(self, sql: str, args=()) -> int:
        """One write in its own transaction; the number of rows it changed."""
        try:
            with self.lock:
                return self.db.execute(sql, args).rowcount
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    # --- schema ---------------------------------------------------------------------

    def _migrate(self) -> None:
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            self.db.executescript("BEGIN;" + _SCHEMA_V1 + "".join(_MIGRATIONS.values())
                                  + f"INSERT INTO meta VALUES ('schema_version', "
                                  f"'{SCHEMA_VERSION}'); COMMIT;")
            return
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or not str(row[0]).isdigit():
            raise sqlite3.DatabaseError("it has no schema version")
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise journal_error(f"the journal {self.path} has schema version {version}, newer "
                                f"than this wlisp understands ({SCHEMA_VERSION}); upgrade "
                                "wlisp to read it", "W0802")
        for v in range(version, SCHEMA_VERSION):
            self.db.executescript("BEGIN;" + _MIGRATIONS[v] + f"UPDATE meta SET value="
                                  f"'{v + 1}' WHERE key='schema_version'; COMMIT;")

    def _check_integrity(self) -> None:
        problems = [r[0] for r in self.db.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("integrity check: " + "; ".join(problems))

    # --- runs -----------------------------------------------------------------------

    def create_run(self, run_id: str, spec_json: str, workflow: str, inputs: dict,
                   executor: dict | None, digest: str | None, source: str | None,
                   parent: str | None = None, budget: dict | None = None) -> None:
        check_run_id(run_id)
        now = time.time()
        try:
            with self.lock, _transaction(self.db):
                if self.db.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():
                    raise journal_error(f"a run named `{run_id}` already exists in {self.dir}; "
                                        f"continue it with `wlisp resume {run_id}`", "W0803")
                self.db.execute(
                    "INSERT INTO runs (id, workflow, status, spec, inputs, executor, digest, "
                    "source, created, updated, parent, budget, lease_pid, lease_host, "
                    "lease_time) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run_id, workflow, "running", repair_text(spec_json),
                     repair_text(json.dumps(inputs, default=str)),
                     json.dumps(executor) if executor else None, digest, source, now, now,
                     parent, json.dumps(budget) if budget else None, os.getpid(),
                     socket.gethostname(), now))
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def resolve(self, ref: str) -> str:
        """The run id `ref` names: an id, `last` (the newest run) or a unique prefix."""
        if ref == "last":
            rows = self._q("SELECT id FROM runs ORDER BY created DESC LIMIT 1")
            if not rows:
                raise journal_error(f"no runs in {self.dir} yet", "W0804")
            return rows[0][0]
        check_run_id(ref)
        if self._q("SELECT 1 FROM runs WHERE id=?", (ref,)):
            return ref
        like = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = [r[0] for r in self._q("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' "
                                       "ORDER BY created DESC LIMIT 6", (like,))]
        if len(found) > 1:
            raise journal_error(f"`{ref}` names several runs: {', '.join(found[:5])}"
                                f"{' ...' if len(found) > 5 else ''}; give more of the id",
                                "W0804")
        return found[0] if found else ref  # unknown: `run` says so, listing recent ones

    def run(self, run_id: str) -> RunRow:
        """A run's row, its JSON columns decoded."""
        check_run_id(run_id)
        rows = self._q("SELECT * FROM runs WHERE id=?", (run_id,))
        if not rows:
            known = [r[0] for r in self._q("SELECT id FROM runs ORDER BY created DESC LIMIT 5")]
            raise journal_error(f"no run `{run_id}` in {self.dir}"
                                + (f"; recent runs: {', '.join(known)}" if known else ""),
                                "W0804")
        with self.lock:
            cols = [d[0] for d in self.db.execute("SELECT * FROM runs LIMIT 0").description]
        data = dict(zip(cols, rows[0], strict=True))
        for key, unset in _JSON_COLUMNS.items():
            data[key] = _json_or(data[key], unset)
        return RunRow(**data)

    def take_lease(self, run_id: str) -> list[dict]:
        """Claim a run for this process, in one transaction: no other process can check
        and claim in between. Refused while a live process holds it. Returns the process
        groups a dead holder left running (to kill before its steps run again)."""
        me, host, now = os.getpid(), socket.gethostname(), time.time()
        try:
            with self.lock, _transaction(self.db):
                run = self.run(run_id)
                pid, holder = run.lease_pid, run.lease_host
                if (pid, holder) != (me, host) and run.shown_status == "running":  # held
                    raise journal_error(f"run `{run_id}` is being executed by process {pid} "
                                        f"on {holder}; wait for it to finish, or stop it "
                                        "first", "W0805")
                self.db.execute("UPDATE runs SET lease_pid=?, lease_host=?, lease_time=?, "
                                "status='running', updated=? WHERE id=?",
                                (me, host, now, now, run_id))
                left = [json.loads(r) for (r,) in self.db.execute(
                    "SELECT record FROM processes WHERE run_id=?", (run_id,))]
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        return left

    def reap(self, run_id: str, left: list[dict]) -> int:
        """Kill the process groups a dead holder of `run_id` left; how many processes."""
        killed = sum(processes.kill_group(record) for record in left)
        self._w("DELETE FROM processes WHERE run_id=?", (run_id,))
        return killed

    def heartbeat(self, run_id: str) -> None:
        self.commits.submit(self._w, "UPDATE runs SET lease_time=? WHERE id=?",
                            (time.time(), run_id))

    def set_answers(self, run_id: str, answers: dict) -> None:
        self._w("UPDATE runs SET answers=? WHERE id=?", (json.dumps(answers), run_id))

    def set_budget(self, run_id: str, budget: dict) -> None:
        self._w("UPDATE runs SET budget=? WHERE id=?", (json.dumps(budget), run_id))

    def finish_run(self, run_id: str, result, records) -> None:
        """Final status, value (already JSON) and node records, in one transaction."""
        # spawns that ran are described by their step rows; record the rest (control
        # nodes, and spawns that were skipped, pruned, cancelled or reused)
        rows = [(run_id, r.id, r.kind, r.status,
                 repair_text(json.dumps(r.to_dict(), default=str)))
                for r in records.values()
                if r.kind != "spawn" or r.status != "completed"
                or r.data.get("reused", run_id) != run_id]
        now = time.time()
        self.commits.drain()
        try:
            with self.lock, _transaction(self.db):
                self.db.execute(
                    "UPDATE runs SET status=?, finished=?, updated=?, error=?, value=?, usage=?,"
                    " lease_pid=NULL, lease_host=NULL, lease_time=NULL WHERE id=?",
                    (result.status, now, now, repair_text(result.error),
                     repair_text(json.dumps(result.value, default=str)),
                     json.dumps(result.usage), run_id))
                self.db.execute("DELETE FROM nodes WHERE run_id=?", (run_id,))
                self.db.executemany("INSERT INTO nodes VALUES (?,?,?,?,?)", rows)
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    # --- reading --------------------------------------------------------------------

    def runs(self, limit: int = 50) -> list[dict]:
        rows = self._q(
            "SELECT r.id, r.workflow, r.status, r.created, r.finished, r.usage, r.parent, "
            "r.source, r.inputs, (SELECT COUNT(*) FROM steps s WHERE s.run_id=r.id), "
            "r.lease_pid, r.lease_host, r.lease_time "
            "FROM runs r ORDER BY r.created DESC LIMIT ?", (limit,))
        out = []
        for (rid, wf, status, created, finished, usage, parent, source, inputs, steps,
             *lease) in rows:
            usage = _json_or(usage, {})
            out.append({
                "id": rid, "workflow": wf, "file": source, "inputs": _json_or(inputs, {}),
                "status": shown_status(status, *lease), "started": created, "finished": finished,
                "duration": (finished - created) if finished and created else None,
                "steps": steps, "tokens": int(usage.get("tokens", 0) or 0),
                "cost": usage.get("cost", 0.0), "parent": parent})
        return out

    def nodes(self, run_id: str) -> dict:
        return {node: _json_or(rec, {}) for node, rec in self._q(
            "SELECT node, record FROM nodes WHERE run_id=? ORDER BY rowid", (run_id,))}

    def node_view(self, run_id: str) -> dict:
        """Every node of a run for `wlisp show`: steps from their rows (last attempt,
        with its outcome and source), other nodes from the records written when the
        run ended."""
        view: dict = {}
        sources = _sources(self.run(run_id).spec)
        for s in self.steps(run_id):
            out = _json_or(s["outcome"], {})
            info = {"status": s["status"], "kind": "spawn", "agent": out.get("agent"),
                    "attempts": s["attempt"], "outcome": out}
            if sources.get(s["static_node"]):
                info["source"] = sources[s["static_node"]]
            if s["started"] and s["finished"]:
                info["elapsed"] = round(s["finished"] - s["started"], 6)
            if s["usage"]:
                info["usage"] = _json_or(s["usage"], {})
            if not out.get("success"):
                info["error"] = out.get("error") or out.get("output")
            view[s["node"]] = info
        for node, rec in self.nodes(run_id).items():
            view[node] = {**view.get(node, {}), **rec}
        return view

    def running(self, run_id: str) -> set[str]:
        """Steps whose agent process runs now (for the live view of a run)."""
        return {node for (node,) in self._q("SELECT node FROM processes WHERE run_id=?",
                                            (run_id,))}

    def steps(self, run_id: str) -> list[dict]:
        cols = ("node", "attempt", "spec_hash", "status", "outcome", "started", "finished",
                "usage", "static_node")
        return [dict(zip(cols, r, strict=True)) for r in self._q(
            f"SELECT {', '.join(cols)} FROM steps WHERE run_id=? ORDER BY started, node, attempt",
            (run_id,))]

    def usage_so_far(self, run_id: str) -> tuple[int, int, float]:
        """Steps, tokens and cost a run used so far (what it resumes its budget from);
        a usage it cannot read counts as none."""
        steps = tokens = 0
        cost = 0.0
        for (usage,) in self._q("SELECT usage FROM steps WHERE run_id=?", (run_id,)):
            steps += 1
            u = _json_or(usage, {})
            tokens += _count(u.get("input_tokens")) + _count(u.get("output_tokens"))
            cost += _count(u.get("cost"))
        return steps, tokens, cost

    def attempts_so_far(self, run_id: str) -> dict[str, int]:
        """node -> its last journaled attempt: a resumed run numbers on from there, so
        no attempt of an earlier process is written over."""
        return dict(self._q("SELECT node, MAX(attempt) FROM steps WHERE run_id=? "
                            "GROUP BY node", (run_id,)))

    def completed(self, run_ids) -> dict[str, tuple[str, str, str]]:
        """node -> (spec hash, outcome JSON, run) of the last completed attempt, for reuse."""
        out: dict = {}
        for run_id in run_ids:
            for node, h, outcome in self._q(
                    "SELECT node, spec_hash, outcome FROM steps WHERE run_id=? AND "
                    "status='completed' ORDER BY attempt", (run_id,)):
                out.setdefault(run_id, {})[node] = (h, outcome, run_id)
        merged: dict = {}
        for run_id in reversed(list(run_ids)):  # the run itself wins over its parent
            merged.update(out.get(run_id, {}))
        return merged

    def log_dir(self, run_id: str) -> str:
        return os.path.join(self.dir, "runs", check_run_id(run_id))

    # --- steps and their processes (on the writer thread) -----------------------------

    async def record_step(self, run_id: str, step, h: str, outcome, started: float,
                          finished: float) -> None:
        """Journal one finished attempt; returns once it is committed."""
        await self.commits.add(step_row(run_id, step, h, outcome, started, finished))

    def insert_steps(self, rows) -> None:
        """Commit step rows and forget their processes (on the writer thread)."""
        with self.lock, _transaction(self.db):
            self.db.executemany("INSERT OR REPLACE INTO steps VALUES (?,?,?,?,?,?,?,?,?,?)",
                                rows)
            self.db.executemany("DELETE FROM processes WHERE run_id=? AND node=? AND attempt=?",
                                [r[:3] for r in rows])

    def record_process(self, run_id: str, node: str, attempt: int, record: dict) -> None:
        self.commits.submit(self._w, "INSERT OR REPLACE INTO processes VALUES (?,?,?,?,?)",
                            (run_id, node, attempt or 1, record["pid"], json.dumps(record)))

    def forget_process(self, run_id: str, node: str, attempt: int, pid: int) -> None:
        self.commits.submit(self._w, "DELETE FROM processes WHERE run_id=? AND node=? AND "
                            "attempt=? AND pid=?", (run_id, node, attempt or 1, pid))

    def drain(self) -> None:
        self.commits.drain()

    def close(self) -> None:
        if self.commits is not None:
            self.commits.close()
        with self.lock:
            self.db.close()


def _json_or(text, unset):
    """A JSON column's value; what it cannot be read as stays `unset`."""
    if not text:
        return unset
    try:
        return json.loads(text)
    except ValueError:
        return unset


def _sources(spec_json: str) -> dict[str, str]:
    """static node id -> `file:line:col`, read from a journaled spec's JSON."""
    out: dict[str, str] = {}
    stack = [_json_or(spec_json, {}).get("graph")]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            span = x.get("span")
            if isinstance(x.get("id"), str) and isinstance(span, list) and len(span) == 5:
                out[x["id"]] = f"{span[0]}:{span[1]}:{span[2]}"
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return out


def _count(value) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) else 0


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK): takes the database's write lock first,
    so what is checked inside cannot change before it is written."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
