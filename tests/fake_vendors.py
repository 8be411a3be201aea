"""Fake vendor APIs on 127.0.0.1 for the real agent CLIs (claude, codex, gemini).

Each server records every request and answers from a small script: the text to
say, a structured answer (sent the way each vendor's CLI asks for it), an error
status, usage with cache tokens. Streams are real server-sent events over a
chunked response, as the vendors send them. Anything a CLI asks for that a
server does not know is answered 404 and recorded, so tests can see it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from .loopback import LoopbackServer

USAGE = {"input_tokens": 100, "output_tokens": 7, "cache_read_input_tokens": 4000,
         "cache_creation_input_tokens": 600}


class FakeServer(LoopbackServer):
    """A threaded HTTP server on 127.0.0.1 with a scripted `handle(request)`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.errors: list[tuple[int, str]] = []   # (status, message) for the next requests
        self.text = "Hello from the fake model."
        self.structured: dict | None = None
        self.delay = 0.0  # seconds before each model answer (a model that hangs)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._serve(self, None)

            def do_POST(self):
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                server._serve(self, body)

        super().__init__(Handler)


    def _serve(self, h, body):
        request = {"method": h.command, "path": h.path, "body": body,
                   "headers": {k.lower(): v for k, v in h.headers.items()}}
        with self.lock:
            self.requests.append(request)
            error = self.errors.pop(0) if self.errors and body is not None and \
                self.is_model_call(request) else None
        if error:  # (a None in the list lets that request through)
            return send_json(h, error[0], self.error_body(*error))
        if self.delay and self.is_model_call(request):
            time.sleep(self.delay)
        return self.handle(h, request)

    def model_calls(self) -> list[dict]:
        return [r for r in self.requests if self.is_model_call(r)]

    # what a vendor's server says; overridden per vendor
    def is_model_call(self, request) -> bool:
        return request["method"] == "POST"

    def error_body(self, status: int, message: str) -> dict:
        return {"error": {"message": message, "code": status}}

    def handle(self, h, request):
        send_json(h, 404, {"error": {"message": f"not found: {request['path']}"}})


def send_json(h, status: int, data) -> None:
    payload = json.dumps(data).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    h.wfile.write(payload)


class EventStream:
    """Server-sent events over a chunked HTTP/1.1 response."""

    def __init__(self, h):
        self.h = h
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

    def send(self, data, event: str | None = None) -> None:
        text = (f"event: {event}\n" if event else "") + f"data: {json.dumps(data)}\n\n"
        chunk = text.encode()
        self.h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.h.wfile.flush()

    def close(self) -> None:
        self.h.wfile.write(b"0\r\n\r\n")
        self.h.wfile.flush()


# --- Anthropic Messages (Claude Code) ------------------------------------------------------


class AnthropicServer(FakeServer):
    """`POST /v1/messages`, streaming or not. With `structured` set and Claude Code's
    `StructuredOutput` tool offered, the first answer calls that tool."""

    def is_model_call(self, request) -> bool:
        return request["method"] == "POST" and request["path"].startswith("/v1/messages") \
            and "count_tokens" not in request["path"]

    def error_body(self, status, message):
        return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}

    def handle(self, h, request):
        body = request["body"] or {}
        if "count_tokens" in request["path"]:
            return send_json(h, 200, {"input_tokens": 10})
        if not self.is_model_call(request):
            return super().handle(h, request)
        tools = {t.get("name") for t in body.get("tools") or []}
        answered = any(isinstance(m.get("content"), list) and any(
            c.get("type") == "tool_result" for c in m["content"]) for m in body["messages"])
        if self.structured is not None and "StructuredOutput" in tools and not answered:
            block = {"type": "tool_use", "id": "toolu_01", "name": "StructuredOutput",
                     "input": self.structured}
            stop = "tool_use"
        else:
            block, stop = {"type": "text", "text": self.text}, "end_turn"
        message = {"id": "msg_01", "type": "message", "role": "assistant",
                   "model": body.get("model"), "content": [block], "stop_reason": stop,
                   "stop_sequence": None, "usage": dict(USAGE)}
        if not body.get("stream"):
            return send_json(h, 200, message)
        s = EventStream(h)
        s.send({"type": "message_start", "message": {**message, "content": [],
                                                     "stop_reason": None}}, "message_start")
        if block["type"] == "text":
            start, delta = {"type": "text", "text": ""}, {"type": "text_delta",
                                                          "text": block["text"]}
        else:
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        s.send({"type": "content_block_start", "index": 0, "content_block": start},
               "content_block_start")
        s.send({"type": "content_block_delta", "index": 0, "delta": delta},
               "content_block_delta")
        s.send({"type": "content_block_stop", "index": 0}, "content_block_stop")
        s.send({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": USAGE["output_tokens"]}}, "message_delta")
        s.send({"type": "message_stop"}, "message_stop")
        s.close()


# --- OpenAI Responses (Codex) -------------------------------------------------------------


class ResponsesServer(FakeServer):
    """`POST /v1/responses`, streamed as Codex asks for it. With `structured` set and a
    `text.format` JSON schema in the request, the answer is that JSON."""

    def is_model_call(self, request) -> bool:
        return request["method"] == "POST" and request["path"].rstrip("/").endswith("/responses")

    def handle(self, h, request):
        if not self.is_model_call(request):
            return super().handle(h, request)
        body = request["body"] or {}
        fmt = ((body.get("text") or {}).get("format") or {}).get("type")
        text = json.dumps(self.structured) if self.structured is not None and \
            fmt == "json_schema" else self.text
        n = len(self.model_calls())
        item = {"type": "message", "id": f"msg_{n}", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}
        usage = {"input_tokens": 4700, "input_tokens_details": {"cached_tokens": 4000},
                 "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 4707}
        response = {"id": f"resp_{n}", "object": "response", "status": "in_progress",
                    "model": body.get("model"), "output": []}
        s = EventStream(h)
        s.send({"type": "response.created", "response": response}, "response.created")
        s.send({"type": "response.output_item.added", "output_index": 0,
                "item": {**item, "content": [], "status": "in_progress"}},
               "response.output_item.added")
        s.send({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                "content_index": 0, "delta": text}, "response.output_text.delta")
        s.send({"type": "response.output_item.done", "output_index": 0, "item": item},
               "response.output_item.done")
        s.send({"type": "response.completed", "response": {
            **response, "status": "completed", "output": [item], "usage": usage}},
            "response.completed")
        s.close()


class AnyVendorServer(FakeServer):
    """Anthropic Messages and OpenAI Responses on one address, by path."""

    def vendor(self, request):
        for cls in (ResponsesServer, GeminiServer, AnthropicServer):
            if cls.is_model_call(self, request):
                return cls
        return AnthropicServer

    def is_model_call(self, request) -> bool:
        return any(cls.is_model_call(self, request)
                   for cls in (ResponsesServer, GeminiServer, AnthropicServer))

    def handle(self, h, request):
        return self.vendor(request).handle(self, h, request)


SERVERS = {"anthropic": AnthropicServer, "responses": ResponsesServer,
           "any": AnyVendorServer, "none": FakeServer}


# --- Gemini generateContent (Gemini CLI) ----------------------------------------------------


def example_of(schema: dict):
    """A small instance of a (Gemini-style, upper-case types allowed) JSON Schema."""
    kind = str(schema.get("type", "object")).lower()
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {k: example_of(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example_of(schema.get("items") or {})]
    return {"integer": 50, "number": 0.5, "boolean": True}.get(kind, "flash")


class GeminiServer(FakeServer):
    """`POST /v1beta/models/M:generateContent` and `:streamGenerateContent?alt=sse`.
    Requests with a response schema (the CLI's own model router asks for one) get an
    instance of it; the rest get `text`, or `structured` as JSON."""

    def is_model_call(self, request) -> bool:
        return request["method"] == "POST" and "/models/" in request["path"] and \
            "Content" in request["path"]

    def error_body(self, status, message):
        return {"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}}

    def handle(self, h, request):
        if not self.is_model_call(request):
            return super().handle(h, request)
        config = (request["body"] or {}).get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        text = json.dumps(example_of(schema)) if schema else \
            json.dumps(self.structured) if self.structured is not None else self.text
        reply = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                 "finishReason": "STOP", "index": 0}],
                 "usageMetadata": {"promptTokenCount": 4700, "candidatesTokenCount": 7,
                                   "totalTokenCount": 4707, "cachedContentTokenCount": 4000},
                 "modelVersion": "gemini-fake"}
        if "streamGenerateContent" not in request["path"]:
            return send_json(h, 200, reply)
        s = EventStream(h)
        s.send(reply)
        s.close()


SERVERS["gemini"] = GeminiServer
