"""The journal: every run and every finished step attempt, in SQLite (SPEC §9).

One database per state directory (`.wlisp/wlisp.db`, WAL, synchronous=FULL) and
a folder per run whose `steps.log` holds each attempt's prompt and output as text. A
step's row is committed before anything that depends on it starts; the
completions that arrive in the same event-loop tick share one transaction
(group commit), so durability stays cheap under fan-out. Resume reads the
completed rows back and the scheduler replays the run, taking journaled
outcomes for steps whose id and StepSpec hash match.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..contract import StepOutcome, StepSpec
from ..errors import Diagnostic, WlispError

SCHEMA_VERSION = 2
DB_NAME = "wlisp.db"
LOG_NAME = "steps.log"
GROUP_MAX = 256  # rows per group commit at most: bounds the finished steps a crash loses
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
# v2: node records (control nodes too) for `wlisp show`
_MIGRATIONS = {
    1: """
CREATE TABLE nodes (
    run_id TEXT NOT NULL, node TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (run_id, node));
""",
}


def journal_error(message: str, code: str = "W0801") -> WlispError:
    return WlispError(Diagnostic(code, message))


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise journal_error(f"invalid run id {run_id!r}: use letters, digits, `.`, `_`, `-` "
                            "(at most 64, not starting with `.` or `-`)", "W0701")
    return run_id


def default_state_dir(near: str | None = None) -> str:
    """WLISP_HOME, else `.wlisp` beside `near` (a workflow file), else the nearest
    `.wlisp` above the current directory, else `./.wlisp`."""
    env = os.environ.get("WLISP_HOME")
    if env:
        return env
    if near and not near.startswith("<") and near != "-":
        return os.path.join(os.path.dirname(os.path.abspath(near)), ".wlisp")
    here = os.getcwd()
    while True:
        candidate = os.path.join(here, ".wlisp")
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return os.path.join(os.getcwd(), ".wlisp")
        here = parent


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
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


class Journal:
    """A state directory: the database and the per-run log folders."""

    def __init__(self, state_dir: str, create: bool = True):
        self.dir = os.path.abspath(state_dir)
        path = os.path.join(self.dir, DB_NAME)
        if not create and not os.path.exists(path):
            raise journal_error(f"no journal at {path} (runs are recorded in `.wlisp/` beside "
                                "the workflow; use --state-dir or WLISP_HOME to point "
                                "elsewhere)")
        os.makedirs(self.dir, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA busy_timeout=10000")
            self._migrate(path)
        except sqlite3.DatabaseError as exc:
            raise journal_error(f"cannot open the journal {path}: {exc}") from None
        self.pending: list[tuple] = []
        self.batch: asyncio.Future | None = None  # completions of this tick share a commit
        # one writer thread owns the connection while a run is going: commits and logs
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="wlisp-journal")

    # --- schema ---------------------------------------------------------------------

    def _migrate(self, path: str) -> None:
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            self.db.executescript("BEGIN;" + _SCHEMA_V1 + "".join(_MIGRATIONS.values())
                                  + f"INSERT INTO meta VALUES ('schema_version', "
                                  f"'{SCHEMA_VERSION}'); COMMIT;")
            return
        version = int(self.db.execute(
            "SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise journal_error(f"the journal {path} has schema version {version}, newer than "
                                f"this wlisp understands ({SCHEMA_VERSION}); upgrade wlisp to "
                                "read it", "W0802")
        for v in range(version, SCHEMA_VERSION):
            self.db.executescript("BEGIN;" + _MIGRATIONS[v] + f"UPDATE meta SET value="
                                  f"'{v + 1}' WHERE key='schema_version'; COMMIT;")

    # --- runs -----------------------------------------------------------------------

    def create_run(self, run_id: str, spec_json: str, workflow: str, inputs: dict,
                   executor: dict | None, digest: str | None, source: str | None,
                   parent: str | None = None, budget: dict | None = None) -> None:
        check_run_id(run_id)
        now = time.time()
        try:
            self.db.execute(
                "INSERT INTO runs (id, workflow, status, spec, inputs, executor, digest, source,"
                " created, updated, parent, budget, lease_pid, lease_host, lease_time) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, workflow, "running", spec_json, json.dumps(inputs, default=str),
                 json.dumps(executor) if executor else None, digest, source, now, now, parent,
                 json.dumps(budget) if budget else None, os.getpid(), socket.gethostname(),
                 now))
        except sqlite3.IntegrityError:
            raise journal_error(f"a run named `{run_id}` already exists in {self.dir}; "
                                f"continue it with `wlisp resume {run_id}`", "W0803") from None

    def run(self, run_id: str) -> RunRow:
        """A run's row, its JSON columns decoded."""
        check_run_id(run_id)
        row = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            known = [r[0] for r in self.db.execute(
                "SELECT id FROM runs ORDER BY created DESC LIMIT 5")]
            raise journal_error(f"no run `{run_id}` in {self.dir}"
                                + (f"; recent runs: {', '.join(known)}" if known else ""),
                                "W0804")
        cols = [d[0] for d in self.db.execute("SELECT * FROM runs LIMIT 0").description]
        data = dict(zip(cols, row, strict=True))
        for key in _JSON_COLUMNS:
            data[key] = json.loads(data[key]) if data[key] else _JSON_COLUMNS[key]
        return RunRow(**data)

    def take_lease(self, run_id: str) -> None:
        """Claim a run for this process; refuse if a live process holds it."""
        run = self.run(run_id)
        pid, host, beat = run.lease_pid, run.lease_host, run.lease_time or 0
        mine = pid == os.getpid() and host == socket.gethostname()
        if pid and not mine and run.status == "running":
            fresh = time.time() - beat < LEASE_STALE_AFTER
            alive = host == socket.gethostname() and _pid_alive(pid)
            if fresh and (alive or host != socket.gethostname()):
                raise journal_error(f"run `{run_id}` is being executed by process {pid} on "
                                    f"{host}; wait for it to finish, or stop it first",
                                    "W0805")
        self.db.execute("UPDATE runs SET lease_pid=?, lease_host=?, lease_time=?, status="
                        "'running', updated=? WHERE id=?",
                        (os.getpid(), socket.gethostname(), time.time(), time.time(), run_id))

    def heartbeat(self, run_id: str) -> None:
        self.writer.submit(self.db.execute, "UPDATE runs SET lease_time=? WHERE id=?",
                           (time.time(), run_id))

    def set_answers(self, run_id: str, answers: dict) -> None:
        self.db.execute("UPDATE runs SET answers=? WHERE id=?", (json.dumps(answers), run_id))

    def set_budget(self, run_id: str, budget: dict) -> None:
        self.db.execute("UPDATE runs SET budget=? WHERE id=?", (json.dumps(budget), run_id))

    def finish_run(self, run_id: str, result, records) -> None:
        """Final status, value (already JSON) and node records, in one transaction."""
        # spawns that ran are described by their step rows; record the rest (control
        # nodes, and spawns that were skipped, pruned, cancelled or reused)
        rows = [(run_id, r.id, r.kind, r.status, json.dumps(r.to_dict(), default=str))
                for r in records.values()
                if r.kind != "spawn" or r.status != "completed"
                or r.data.get("reused", run_id) != run_id]
        now = time.time()
        self.drain()
        with _transaction(self.db):
            self.db.execute(
                "UPDATE runs SET status=?, finished=?, updated=?, error=?, value=?, usage=?, "
                "lease_pid=NULL, lease_host=NULL, lease_time=NULL WHERE id=?",
                (result.status, now, now, result.error,
                 json.dumps(result.value, default=str), json.dumps(result.usage),
                 run_id))
            self.db.execute("DELETE FROM nodes WHERE run_id=?", (run_id,))
            self.db.executemany("INSERT INTO nodes VALUES (?,?,?,?,?)", rows)

    def runs(self, limit: int = 50) -> list[dict]:
        cur = self.db.execute(
            "SELECT r.id, r.workflow, r.status, r.created, r.finished, r.usage, r.parent, "
            "(SELECT COUNT(*) FROM steps s WHERE s.run_id=r.id) FROM runs r "
            "ORDER BY r.created DESC LIMIT ?", (limit,))
        out = []
        for rid, wf, status, created, finished, usage, parent, steps in cur:
            out.append({"id": rid, "workflow": wf, "status": status, "started": created,
                        "finished": finished, "steps": steps,
                        "cost": (json.loads(usage) if usage else {}).get("cost", 0.0),
                        "parent": parent})
        return out

    def nodes(self, run_id: str) -> dict:
        return {node: json.loads(rec) for node, rec in self.db.execute(
            "SELECT node, record FROM nodes WHERE run_id=? ORDER BY rowid", (run_id,))}

    def node_view(self, run_id: str) -> dict:
        """Every node of a run for `wlisp show`: steps from their rows (last attempt),
        other nodes from the records written when the run ended."""
        view: dict = {}
        for s in self.steps(run_id):
            out = json.loads(s["outcome"])
            info = {"status": s["status"], "kind": "spawn", "agent": out.get("agent"),
                    "attempts": s["attempt"]}
            if s["started"] and s["finished"]:
                info["elapsed"] = round(s["finished"] - s["started"], 6)
            if s["usage"]:
                info["usage"] = json.loads(s["usage"])
            if not out.get("success"):
                info["error"] = out.get("error") or out.get("output")
            view[s["node"]] = info
        for node, rec in self.nodes(run_id).items():
            view[node] = {**view.get(node, {}), **rec}
        return view

    def steps(self, run_id: str) -> list[dict]:
        cols = ("node", "attempt", "spec_hash", "status", "outcome", "started", "finished",
                "usage", "static_node")
        return [dict(zip(cols, r, strict=True)) for r in self.db.execute(
            f"SELECT {', '.join(cols)} FROM steps WHERE run_id=? ORDER BY started, node, attempt",
            (run_id,))]

    def usage_so_far(self, run_id: str) -> tuple[int, int, float]:
        steps = tokens = 0
        cost = 0.0
        for (usage,) in self.db.execute("SELECT usage FROM steps WHERE run_id=?", (run_id,)):
            steps += 1
            u = json.loads(usage) if usage else {}
            tokens += int(u.get("input_tokens") or 0) + int(u.get("output_tokens") or 0)
            cost += float(u.get("cost") or 0.0)
        return steps, tokens, cost

    def completed(self, run_ids) -> dict[str, tuple[str, str, str]]:
        """node -> (spec hash, outcome JSON, run) of the last completed attempt, for reuse."""
        out: dict = {}
        for run_id in run_ids:
            for node, h, outcome in self.db.execute(
                    "SELECT node, spec_hash, outcome FROM steps WHERE run_id=? AND "
                    "status='completed' ORDER BY attempt", (run_id,)):
                out.setdefault(run_id, {})[node] = (h, outcome, run_id)
        merged: dict = {}
        for run_id in reversed(list(run_ids)):  # the run itself wins over its parent
            merged.update(out.get(run_id, {}))
        return merged

    # --- steps, group-committed ---------------------------------------------------------

    async def record_step(self, run_id: str, step: StepSpec, h: str, outcome: StepOutcome,
                          started: float, finished: float) -> None:
        """Journal one finished attempt; returns once it is committed."""
        self.pending.append((run_id, step.task_id, step.attempt, h,
                             "completed" if outcome.success else "failed",
                             json.dumps(outcome.to_value(), ensure_ascii=False), started,
                             finished, json.dumps(outcome.usage) if outcome.usage else None,
                             (step.metadata or {}).get("node"), step.prompt, outcome.output))
        batch = self.batch
        if batch is None:  # the first completion of this tick schedules the commit
            batch = self.batch = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(self._flush)
        elif len(self.pending) >= GROUP_MAX:  # a big wave: commit now, bound what a crash loses
            self._flush(wait=True)
        await batch

    def _flush(self, wait: bool = False) -> None:
        """Hand the pending rows to the writer thread: the commit's fsync overlaps with
        the steps still running, and the batch's waiters wake when it is durable.
        `wait`: block until it is written (a full group: bound what a crash can lose)."""
        rows, batch = self.pending, self.batch
        self.pending, self.batch = [], None
        if not rows:
            return
        loop = asyncio.get_running_loop()
        job = self.writer.submit(self._write, rows, batch, loop)
        if wait:
            job.result()

    def _write(self, rows, batch, loop) -> None:  # on the writer thread
        try:
            with _transaction(self.db):
                self.db.executemany("INSERT OR REPLACE INTO steps VALUES (?,?,?,?,?,?,?,?,?,?)",
                                    [r[:10] for r in rows])
        except sqlite3.Error as exc:
            loop.call_soon_threadsafe(_settle, batch, journal_error(
                f"cannot write the journal: {exc}"))
            return
        loop.call_soon_threadsafe(_settle, batch, None)
        self._write_logs(rows)

    def drain(self) -> None:
        """Wait until every handed-over batch is written (before reading or finishing)."""
        self.writer.submit(lambda: None).result()

    def _write_logs(self, rows) -> None:
        """Every attempt's prompt and output, appended to the run's plain-text log
        (`runs/RUN/steps.log`), off the event loop: one open per group commit."""
        by_run: dict[str, list] = {}
        for row in rows:
            by_run.setdefault(row[0], []).append(row)
        for run_id, items in by_run.items():
            folder = os.path.join(self.dir, "runs", run_id)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, LOG_NAME), "a", encoding="utf-8") as f:
                f.write("".join(
                    f"{'=' * 78}\n# {node} (attempt {attempt}, {status})\n\n## prompt\n\n"
                    f"{prompt}\n\n## output\n\n{output}\n\n"
                    for _, node, attempt, _, status, _, _, _, _, _, prompt, output in items))

    def log_dir(self, run_id: str) -> str:
        return os.path.join(self.dir, "runs", check_run_id(run_id))

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.db.close()


def _settle(batch: asyncio.Future, error) -> None:
    if batch.done():
        return
    if error is None:
        batch.set_result(None)
    else:
        batch.set_exception(error)


class _transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, exc, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
