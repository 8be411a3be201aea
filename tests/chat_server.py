"""A real chat-completions server on 127.0.0.1 for the openai executor's tests.

Each request takes the next scripted reply: a dict (a completion message, or a
raw {"status": ..., "body": ...}), "HANG" (sleep past the client's timeout) or
"MALFORMED" (a 200 whose body is not JSON). Requests are recorded. A request
with `"stream": true` gets the completion as server-sent chunks, the content a
few characters at a time (`chunk_delay` seconds apart), as real servers send it;
with `streaming = False` the server answers such a request with a 400, as some
OpenAI-compatible servers do.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from .loopback import LoopbackServer


def completion(content=None, tool_calls=None, prompt_tokens=10, completion_tokens=5):
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(tool_calls)]
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if tool_calls else "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def chunks(reply: dict, size: int = 4):
    """A chat.completion as the chat.completion.chunk objects of its stream."""
    message = reply["choices"][0]["message"]
    base = {"id": reply["id"], "object": "chat.completion.chunk", "created": 0, "model": "m"}

    def chunk(delta, finish=None):
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    yield chunk({"role": "assistant", "content": ""})
    content = message.get("content") or ""
    for i in range(0, len(content), size):
        yield chunk({"content": content[i:i + size]})
    for i, call in enumerate(message.get("tool_calls") or []):
        yield chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                     "function": {"name": call["function"]["name"],
                                                  "arguments": call["function"]["arguments"]}}]})
    yield chunk({}, reply["choices"][0]["finish_reason"])
    yield {**base, "choices": [], "usage": reply["usage"]}


class ChatServer(LoopbackServer):
    def __init__(self):
        self.streaming = True
        self.chunk_delay = 0.0
        self.replies: list = []
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do: clients reuse

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "body": body,
                                            "auth": self.headers.get("Authorization"),
                                            "traceparent": self.headers.get("traceparent")})
                if body.get("stream") and not server.streaming:  # refused: no reply used
                    self._send(400, json.dumps({"error": {
                        "message": "stream is not supported by this server",
                        "type": "invalid_request_error"}}).encode())
                    return
                with server.lock:
                    reply = server.replies.pop(0) if server.replies else \
                        completion("(no scripted reply)")
                if reply == "HANG":
                    time.sleep(3)
                    reply = completion("too late")
                if reply == "MALFORMED":
                    self._send(200, b"{this is not json")
                    return
                status = reply.get("status", 200) if "choices" not in reply else 200
                payload = reply.get("body", reply) if "choices" not in reply else reply
                if body.get("stream") and status == 200:
                    self._stream(payload)
                else:
                    self._send(status, json.dumps(payload).encode())

            def _stream(self, reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for c in chunks(reply):
                        self._chunk(f"data: {json.dumps(c)}\n\n".encode())
                        time.sleep(server.chunk_delay)
                    self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _chunk(self, data: bytes):
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _send(self, status, data):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the hang test)

        super().__init__(Handler, "/v1")

