"""`wlisp serve`: a local, read-only web app over a project's journal (Starlette).

`/` lists the runs (filter by `?status=` and `?workflow=`), `/runs/RUN` shows a
run with its workflow's graph coloured by status (updated over server-sent
events while the run goes on), `/runs/RUN/steps/NODE` one step whole, and
`/runs/RUN/report` the run's report.

Safe by construction: the journal is opened with SQLite's `mode=ro`; only GET
exists; every text is escaped by Jinja2 (autoescape on for every template) and
the Content-Security-Policy allows no inline script, so an agent's output that
holds `<script>` is shown, never run; run ids are checked against the journal's
id rule and step files are read only below the run's own folder. Every asset is
in the wheel: it works offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...errors import WlispError
from ...runtime.journal import Journal
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


def create_app(state_dir: str) -> Starlette:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(HERE, "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["when"] = lambda ts: when(ts) if ts else "-"
    env.filters["seconds"] = lambda s: "-" if s is None else f"{s:.1f}s"
    # JSON as plain text, escaped like any text (Jinja's tojson marks its output safe)
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str)

    def page(name: str, code: int = 200, **data) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**data), status_code=code)

    @contextlib.contextmanager
    def journal():
        j = Journal(state_dir, create=False, read_only=True)
        try:
            yield j
        finally:
            j.close()

    def run_or_404(j, run_id):
        try:
            return j.run(run_id)
        except WlispError:
            return None

    def runs_page(request: Request):
        status, workflow = request.query_params.get("status"), request.query_params.get(
            "workflow")
        try:
            with journal() as j:
                rows = j.runs(limit=500)
        except WlispError as err:
            return page("runs.html", runs=[], problem=err.diagnostics[0].message, status=None,
                        workflow=None, statuses=[], workflows=[], state_dir=state_dir)
        shown = [r for r in rows if (not status or r["status"] == status) and
                 (not workflow or r["workflow"] == workflow)]
        return page("runs.html", runs=shown, problem=None, status=status, workflow=workflow,
                    statuses=sorted({r["status"] for r in rows}),
                    workflows=sorted({r["workflow"] for r in rows}), state_dir=state_dir)

    def run_data(run_id: str):
        with journal() as j:
            run = run_or_404(j, run_id)
            if run is None:
                return None, None
            return run, model.graph(run.spec, model.statuses(j, run), run.status)

    def run_page(request: Request):
        run, boxes = run_data(request.path_params["run_id"])
        if run is None:
            return page("missing.html", code=404, what=f"run {request.path_params['run_id']}")
        return page("run.html", run=run, boxes=boxes)

    def step_page(request: Request):
        node = request.path_params["node"]
        with journal() as j:
            run = run_or_404(j, request.path_params["run_id"])
            view = model.step_page(j, run, node) if run is not None else None
        if view is None:
            return page("missing.html", code=404, what=f"step {node}")
        return page("step.html", run=run, view=view)

    def report_page(request: Request):
        with journal() as j:
            run = run_or_404(j, request.path_params["run_id"])
            data = model.report_page(j, run) if run is not None else None
        if data is None:
            return page("missing.html", code=404, what=f"run {request.path_params['run_id']}")
        return page("report.html", run=run, data=data)

    async def events(request: Request):
        """Server-sent events: the graph (as escaped HTML) whenever it changes, the run's
        status, and `done` when the run is no longer running."""
        run_id = request.path_params["run_id"]

        async def stream():
            last = None
            while not await request.is_disconnected():
                run, boxes = await run_in_threadpool(run_data, run_id)
                if run is None:
                    yield _event("done", "missing")
                    return
                html = env.get_template("_graph.html").render(run=run, boxes=boxes)
                if (html, run.status) != last:
                    last = (html, run.status)
                    yield _event("graph", html) + _event("status", run.status)
                if run.status != "running":
                    yield _event("done", run.status)
                    return
                await asyncio.sleep(POLL)
        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    def not_found(request: Request, exc):
        return page("missing.html", code=404, what=request.url.path)

    routes = [Route("/", runs_page), Route("/runs/{run_id}", run_page),
              Route("/runs/{run_id}/events", events),
              Route("/runs/{run_id}/report", report_page),
              Route("/runs/{run_id}/steps/{node:path}", step_page),
              Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")),
                    name="static")]
    return Starlette(routes=routes, middleware=[Middleware(_Headers)],
                     exception_handlers={404: not_found})


def _event(name: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {name}\n{lines}\n"


def serve(state_dir: str, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(state_dir), host=host, port=port, log_level="warning")


__all__ = ["create_app", "serve"]
