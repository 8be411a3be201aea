"""`wlisp serve`: a local, read-only web app over a project's journal (Starlette).

`/` lists the runs (filter by `?status=` and `?workflow=`), `/runs/RUN` shows a
run with its workflow's graph coloured by status (updated over server-sent
events while the run goes on), `/runs/RUN/steps/NODE` one step whole, and
`/runs/RUN/report` the run's report.

Safe by construction: the journal is opened with SQLite's `mode=ro`; only GET
exists; every text is escaped by Jinja2 (autoescape on for every template) and
the Content-Security-Policy allows no inline script, so an agent's output that
holds `<script>` is shown, never run; run ids are checked against the journal's
id rule and step files are read only below the run's own folder; only requests
whose Host names this machine or the address served on are answered (no DNS
rebinding). What cannot be read (no journal, no such run, a damaged journal) is a
page that says so. Every asset is in the wheel: it works offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import time

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...errors import WlispError
from ...runtime.journal import DB_NAME, Journal
from ..render import when
from . import model

HERE = os.path.dirname(__file__)
POLL = 0.5  # seconds between looks at a running run's journal
HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self'; "
           "style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class _Headers:
    """Security headers on every response (ASGI middleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] += [(k.lower().encode(), v.encode())
                                       for k, v in HEADERS.items()]
            await send(message)
        await self.app(scope, receive, sending)


UNREADABLE = (WlispError, sqlite3.Error)  # what a journal (or a request) can make fail


class Viewer:
    """What every handler needs: the journal's place and the templates."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.env = env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
            autoescape=True, undefined=jinja2.StrictUndefined)
        env.filters["when"] = lambda ts: when(ts) if ts else "-"
        env.filters["seconds"] = lambda s: "-" if s is None else f"{s:.1f}s"
        # JSON as plain text, escaped like any text (Jinja's tojson marks its output safe)
        env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False,
                                                     default=str)

    def page(self, name: str, code: int = 200, **data) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**data), status_code=code)

    @contextlib.contextmanager
    def journal(self):
        j = Journal(self.state_dir, create=False, read_only=True)
        try:
            yield j
        finally:
            j.close()

    def problem(self, err: Exception) -> tuple[int, str]:
        """The status and message of what could not be read: 404 for what is not there
        (no journal, no such run), 500 for a journal that cannot be read."""
        path = os.path.join(self.state_dir, DB_NAME)
        if not isinstance(err, WlispError):  # what the journal did not put in words
            return 500, f"the journal {path} cannot be read ({err})"
        code = err.diagnostics[0].code if err.diagnostics else ""
        missing = code in ("W0701", "W0804") or not os.path.exists(path)
        return (404 if missing else 500), str(err)

    def problem_page(self, err: Exception) -> HTMLResponse:
        code, message = self.problem(err)
        return self.page("problem.html", code, message=message,
                         title="Not found" if code == 404 else "The journal cannot be read")

    def graph(self, run, boxes) -> str:
        return self.env.get_template("_graph.html").render(run=run, boxes=boxes)


def guarded(viewer: Viewer, handler):
    """The endpoint of `handler`: whatever cannot be read is a page that says why (never
    a traceback, never an empty list that hides a damaged journal)."""
    def endpoint(request: Request):
        try:
            return handler(viewer, request)
        except UNREADABLE as err:
            return viewer.problem_page(err)
    return endpoint


def runs_page(v: Viewer, request: Request):
    status, workflow = (request.query_params.get(k) for k in ("status", "workflow"))
    with v.journal() as j:
        rows = j.runs(limit=500)  # (a run whose process is gone reads `interrupted`)
    shown = [r for r in rows if (not status or r["status"] == status) and
             (not workflow or r["workflow"] == workflow)]
    return v.page("runs.html", runs=shown, status=status, workflow=workflow,
                  statuses=sorted({r["status"] for r in rows}),
                  workflows=sorted({r["workflow"] for r in rows}), state_dir=v.state_dir)


def run_page(v: Viewer, request: Request):
    with v.journal() as j:
        run = model.look(j, request.path_params["run_id"])
        boxes = model.graph(run, model.statuses(j, run))
    return v.page("run.html", run=run, boxes=boxes)


def step_page(v: Viewer, request: Request):
    node = request.path_params["node"]
    with v.journal() as j:
        run = model.look(j, request.path_params["run_id"])
        view = model.step_page(j, run, node)
    if view is None:
        return v.page("problem.html", 404, title="Not found",
                      message=f"no step `{node}` in run `{run.id}`")
    return v.page("step.html", run=run, view=view)


def report_page(v: Viewer, request: Request):
    with v.journal() as j:
        run = model.look(j, request.path_params["run_id"])
        data = model.report_page(j, run)
    return v.page("report.html", run=run, data=data)


def events(v: Viewer, request: Request):
    """Server-sent events: the graph (as escaped HTML) whenever it changes, the run's
    status, and `done` when the run is no longer running. A run that cannot be shown
    is a problem page, not a stream."""
    follow = Follow(v, request.path_params["run_id"])
    follow()
    return StreamingResponse(_stream(request, follow), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


class Follow:
    """A page's looks at a running run, every POLL seconds: the journal is read again
    only when it changed or the run's process went away, step folders only where they
    changed (`model.Started`), so that a run of many steps is cheap to follow."""

    def __init__(self, viewer: Viewer, run_id: str):
        self.viewer, self.run_id = viewer, run_id
        self.run = self.key = self.started = None
        self.html, self.cost = "", 0.0

    def __call__(self) -> bool:
        """Look again; whether the run's status or graph changed."""
        began = time.monotonic()
        key = (model.journal_mark(self.viewer.state_dir),
               self.run is not None and model.holder_gone(self.run))
        if key == self.key:
            return False
        with self.viewer.journal() as j:
            run = model.look(j, self.run_id)
            self.started = self.started or model.Started(j.log_dir(run.id))
            html = self.viewer.graph(run, model.graph(run, model.statuses(j, run,
                                                                          self.started)))
        changed = self.run is None or (html, run.status) != (self.html, self.run.status)
        self.run, self.html, self.key = run, html, key
        self.cost = time.monotonic() - began
        return changed


async def _stream(request: Request, follow: Follow):
    """The events of `events`: the first look is sent as it is; later ones when they
    change something. The pause between looks grows with what a look costs."""
    changed = True
    while True:
        if changed:
            yield _event("graph", follow.html) + _event("status", follow.run.status)
        if follow.run.status != "running":
            yield _event("done", follow.run.status)
            return
        await asyncio.sleep(max(POLL, 4 * follow.cost))
        if await request.is_disconnected():
            return
        try:
            changed = await run_in_threadpool(follow)
        except UNREADABLE as err:
            yield _event("problem", follow.viewer.problem(err)[1]) + _event("done", "problem")
            return


def create_app(state_dir: str, host: str = "127.0.0.1") -> Starlette:
    """The app over the journal in `state_dir`, answering requests for `host` and this
    machine's own names only (a web page elsewhere must not reach it by DNS rebinding)."""
    v = Viewer(state_dir)

    def not_found(request: Request, exc):
        return v.page("problem.html", 404, title="Not found",
                      message=f"nothing at {request.url.path}")

    routes = [Route("/", guarded(v, runs_page)), Route("/runs/{run_id}", guarded(v, run_page)),
              Route("/runs/{run_id}/events", guarded(v, events)),
              Route("/runs/{run_id}/report", guarded(v, report_page)),
              Route("/runs/{run_id}/steps/{node:path}", guarded(v, step_page)),
              Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")),
                    name="static")]
    middleware = [Middleware(_Headers), Middleware(TrustedHostMiddleware, www_redirect=False,
                                                   allowed_hosts=allowed_hosts(host))]
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})


def allowed_hosts(host: str) -> list[str]:
    """This machine's names, and the one served on; served on every address
    (`0.0.0.0`, `::`), the names and addresses this machine gives itself too."""
    names = {"127.0.0.1", "localhost", "::1", "[::1]", host}
    if ":" in host:
        names.add(f"[{host.strip('[]')}]")
    if host in ("0.0.0.0", "::", ""):
        names |= {socket.gethostname(), socket.getfqdn()}
        with contextlib.suppress(OSError):
            names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return sorted(n.lower() for n in names if n)


def _event(name: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n{lines}\n"


def serve(state_dir: str, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(state_dir, host), host=host, port=port, log_level="warning")


__all__ = ["create_app", "serve"]
