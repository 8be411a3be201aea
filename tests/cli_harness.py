"""Runs `wlisp` commands against a fake vendor server, offline by construction.

    unshare -rn python tests/cli_harness.py < job.json

Inside a network namespace of its own (only loopback exists, so an agent CLI that
tries any other address fails at once) it starts the fake server of `job["vendor"]`
on 127.0.0.1 and a recording HTTP proxy (HTTPS_PROXY/HTTP_PROXY point at it, so a
CLI that honours proxies shows where it wanted to go), writes `job["files"]` with
`{url}` replaced by the server's address, runs `job["commands"]` one after another
and prints one JSON report: each command's exit status and output, every request
the vendor server saw, and every host the proxy was asked for.
"""

from __future__ import annotations

import json
import os
import socketserver
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.fake_vendors import SERVERS  # noqa: E402


class Proxy(socketserver.ThreadingTCPServer):
    """Records the first line of every proxied request, answers 403 to all of them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.seen: list[str] = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(handler):
                line = handler.rfile.readline().decode("latin-1").strip()
                self.seen.append(line)
                handler.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        super().__init__(("127.0.0.1", 0), Handler)


def alive(marker: str) -> list[str]:
    """Command lines of processes still running whose command line holds `marker`."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z" and int(pid) != os.getpid():
            out.append(cmd)
    return out


def script(server, changes) -> None:
    for key, value in (changes or {}).items():
        setattr(server, key, [tuple(e) if e else None for e in value] if key == "errors"
                else value)


def main() -> None:
    job = json.load(sys.stdin)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=False, capture_output=True)
    server = SERVERS[job["vendor"]]()
    script(server, job.get("script"))
    proxy = Proxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    runs = []
    with server:
        for path, text in (job.get("files") or {}).items():
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace("{url}", server.url))
        proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
        given = {k: v.replace("{url}", server.url) for k, v in (job.get("env") or {}).items()}
        env = {**os.environ, **given, "HTTPS_PROXY": proxy_url,
               "HTTP_PROXY": proxy_url, "https_proxy": proxy_url, "http_proxy": proxy_url,
               "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
        run_id = None
        for i, argv in enumerate(job["commands"]):
            if i and job.get("then"):  # the server's script from the second command on
                script(server, job["then"])
            argv = [run_id if a == "{run_id}" else a for a in argv]  # the previous run's
            res = subprocess.run(argv, cwd=job.get("cwd"), env=env, capture_output=True,
                                 text=True, timeout=job.get("timeout", 240))
            runs.append({"argv": argv, "code": res.returncode, "stdout": res.stdout,
                         "stderr": res.stderr})
            try:
                run_id = json.loads(res.stdout).get("run_id") or run_id
            except (ValueError, AttributeError):
                pass
        requests = list(server.requests)
    json.dump({"runs": runs, "requests": requests, "proxied": proxy.seen,
               "alive": alive(job.get("watch") or "\0"),
               "namespace": bool(os.environ.get("WLISP_NETNS"))}, sys.stdout)


if __name__ == "__main__":
    main()
