"""OpenTelemetry traces of runs: one trace per run, spans mirroring the IR.

A run is a `workflow` span; each node instance that runs is a span inside the
span of the node that ran it (loop, map, classify ... → the contextvars of the
asyncio tasks carry the parent); each attempt of a step is an `invoke_agent`
span with the GenAI semantic-convention attributes. A step reused from the
journal is a node span marked `wlisp.reused`, with no attempt inside: nothing
ran. The attempt span's context goes to the executor as W3C `traceparent` in
the step's metadata (the command executor sets `TRACEPARENT` for the agent, the
openai executor sends the header, Ray carries it to the cluster).

Prompts and outputs are exported only with `trace_content` (privacy); secrets
never are — the outcomes seen here are masked already (`RedactingExecutor`).
Nothing here is imported, and nothing costs, when a run has no tracer.
"""

from __future__ import annotations

import contextlib
import json
import os

from opentelemetry import propagate
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, TraceFlags

from .scheduler import Scheduler

TRACE_FILE = "trace.json"  # beside steps.log: the trace a resumed run links back to
FAILED = ("failed", "cancelled", "budget_exhausted")


class TracedScheduler(Scheduler):
    """The scheduler with a span around every node instance that runs."""

    async def run_node(self, np, scope, sp, ip):
        node = np.node
        inst = ip + node.id[len(sp):]
        attrs = {"wlisp.node.id": inst, "wlisp.node.kind": node.kind}
        if node.span is not None:
            attrs["code.filepath"] = node.span.file
            attrs["code.lineno"] = node.span.line
        if node.kind == "spawn":
            attrs["gen_ai.agent.name"] = node.agent
        tracer = self.state.options.tracer
        with tracer.start_as_current_span(f"{node.kind} {inst}", attributes=attrs) as span:
            rec = await super().run_node(np, scope, sp, ip)
            span.set_attribute("wlisp.status", rec.status)
            if rec.data.get("reused"):
                span.set_attribute("wlisp.reused", True)
                span.set_attribute("wlisp.reused_from_run", rec.data["reused"])
            for key in ("iterations", "label"):
                if isinstance(rec.data.get(key), (str, int, bool)):
                    span.set_attribute(f"wlisp.{key}", rec.data[key])
            if rec.status in FAILED:
                span.set_status(Status(StatusCode.ERROR, (rec.error or rec.status)[:500]))
        return rec


class TracedExecutor:
    """Any executor, with a span around each attempt and its context passed on."""

    def __init__(self, inner, tracer, content: bool = False):
        self.inner, self.tracer, self.content = inner, tracer, content
        self.last_error: dict[str, str] = {}  # node instance -> why its last attempt failed

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def execute_step(self, spec, events=None):
        attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": spec.agent,
                 "wlisp.node.id": spec.task_id, "wlisp.attempt": spec.attempt}
        if spec.model:
            attrs["gen_ai.request.model"] = spec.model
        if spec.attempt > 1 and spec.task_id in self.last_error:
            attrs["wlisp.retry_reason"] = self.last_error[spec.task_id][:500]
        if self.content:
            attrs["gen_ai.input.messages"] = json.dumps(
                ([{"role": "system", "content": spec.system}] if spec.system else []) +
                [{"role": "user", "content": spec.prompt}], ensure_ascii=False)
        with self.tracer.start_as_current_span(f"invoke_agent {spec.agent}",
                                               attributes=attrs) as span:
            carrier: dict = {}
            propagate.inject(carrier)
            spec.metadata = {**(spec.metadata or {}), **carrier}
            out = await self.inner.execute_step(spec, events)
            seen = out
            if getattr(out, "success", False) and spec.output_schema is not None:
                from .steps import check_structured  # as the runner will judge it

                seen = check_structured(out, spec.output_schema)[0]
            self._describe(span, spec, seen)
        return out

    def _describe(self, span, spec, out) -> None:
        usage = getattr(out, "usage", None) or {}
        for ours, theirs in (("input_tokens", "gen_ai.usage.input_tokens"),
                             ("output_tokens", "gen_ai.usage.output_tokens")):
            if isinstance(usage.get(ours), int):
                span.set_attribute(theirs, usage[ours])
        if getattr(out, "finish_reason", None):
            span.set_attribute("gen_ai.response.finish_reasons", [out.finish_reason])
        if self.content and getattr(out, "output", None) is not None:
            span.set_attribute("gen_ai.output.messages", json.dumps(
                [{"role": "assistant", "content": out.output}], ensure_ascii=False))
        if getattr(out, "success", True):
            self.last_error.pop(spec.task_id, None)
            return
        error = getattr(out, "error", None) or "failed"
        self.last_error[spec.task_id] = error
        span.set_attribute("error.type", getattr(out, "finish_reason", None) or "failed")
        span.set_status(Status(StatusCode.ERROR, error[:500]))


@contextlib.contextmanager
def run_span(state):
    """The run's root span; links to the trace of the run it resumes or reuses."""
    opts, tracer = state.options, state.options.tracer
    attrs = {"wlisp.run.id": state.run_id, "wlisp.workflow": state.spec.name,
             "gen_ai.operation.name": "invoke_workflow"}
    links = [link for link in (_earlier(state, state.run_id), _earlier(state, opts.reuse_from))
             if link is not None]
    with tracer.start_as_current_span(f"workflow {state.spec.name}", attributes=attrs,
                                      links=links) as span:
        _remember(state, span)
        yield span


def finish(span, status: str, error: str | None) -> None:
    span.set_attribute("wlisp.status", status)
    if status in FAILED:
        span.set_status(Status(StatusCode.ERROR, (error or status)[:500]))


def _remember(state, span) -> None:
    """Keep the first trace of a journaled run, for the runs that continue it."""
    if state.journal is None:
        return
    path = os.path.join(state.journal.log_dir(state.run_id), TRACE_FILE)
    if os.path.exists(path):
        return
    ctx = span.get_span_context()
    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}, f)


def _earlier(state, run_id: str | None) -> Link | None:
    if state.journal is None or not run_id:
        return None
    try:
        with open(os.path.join(state.journal.log_dir(run_id), TRACE_FILE),
                  encoding="utf-8") as f:
            data = json.load(f)
        ctx = SpanContext(int(data["trace_id"], 16), int(data["span_id"], 16), is_remote=True,
                          trace_flags=TraceFlags(TraceFlags.SAMPLED))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Link(ctx, {"wlisp.link": "resumes" if run_id == state.run_id else "reuses"})


def otlp_tracer(endpoint: str | None = None):
    """(tracer, provider) exporting over OTLP/HTTP to `endpoint` (else the standard
    OTEL_EXPORTER_OTLP_* variables); shut the provider down to flush at the end."""
    from importlib.metadata import PackageNotFoundError, version

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    try:
        __version__ = version("wlisp")
    except PackageNotFoundError:
        __version__ = "0"
    exporter = OTLPSpanExporter(endpoint=_traces_url(endpoint)) if endpoint else \
        OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "wlisp")}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider.get_tracer("wlisp", __version__), provider


def collector_problem(endpoint: str) -> str | None:
    """Why spans sent to `endpoint` would not arrive (None: something listens there):
    checked once at the start (1 s), so an unreachable collector costs a warning, not
    the exporter's retries at every flush."""
    import socket
    import urllib.parse

    url = urllib.parse.urlsplit(endpoint)
    try:
        port = url.port or (443 if url.scheme == "https" else 80)
    except ValueError:
        port = None
    if url.scheme not in ("http", "https") or not url.hostname or port is None:
        raise ValueError(f"--otel needs an http:// or https:// URL, got `{endpoint}`")
    try:
        socket.create_connection((url.hostname, port), timeout=1.0).close()
    except OSError as exc:
        return f"no trace collector answers at {endpoint} ({exc.strerror or exc})"
    return None


def _traces_url(endpoint: str) -> str:
    """A base endpoint (as OTEL_EXPORTER_OTLP_ENDPOINT holds) gets the traces path."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


__all__ = ["TracedScheduler", "TracedExecutor", "run_span", "finish", "otlp_tracer"]
