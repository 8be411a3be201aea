"""A real OTLP/HTTP trace receiver on 127.0.0.1: it decodes what the official exporter
sends (protobuf `ExportTraceServiceRequest`, gzip or not) into plain span dicts."""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .loopback import LoopbackServer


def _value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


def _span(span, resource: dict) -> dict:
    return {"name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
            "parent": span.parent_span_id.hex() or None,
            "attributes": {a.key: _value(a.value) for a in span.attributes},
            "links": [{"trace_id": link.trace_id.hex(), "span_id": link.span_id.hex(),
                       "attributes": {a.key: _value(a.value) for a in link.attributes}}
                      for link in span.links],
            "status": span.status.code, "message": span.status.message,
            "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
            "resource": resource}


class OTLPReceiver(LoopbackServer):
    def __init__(self):
        self.spans: list[dict] = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                with receiver.lock:
                    receiver.requests.append({"path": self.path,
                                              "type": self.headers.get("Content-Type")})
                    for rs in request.resource_spans:
                        resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            receiver.spans.extend(_span(s, resource) for s in ss.spans)
                data = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)


    def named(self, prefix: str) -> list[dict]:
        return [s for s in self.spans if s["name"].startswith(prefix)]
