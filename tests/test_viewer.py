"""`wlisp serve`: the run viewer, a real uvicorn server on 127.0.0.1 over a real journal,
looked at with a real headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytest.importorskip("starlette")

from .conftest import wlisp_bin  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("WLISP_REQUIRE_BROWSER"),
    reason="needs a headless Chromium (apt-get install chromium)")

# answers with HTML, like an agent quoting a web page; `wait` waits for a GO file
AGENT = """import os, sys, time
prompt = sys.stdin.read()
if prompt == "wait":
    while not os.path.exists("GO"):
        time.sleep(0.05)
    print("done waiting")
else:
    print("<script>window.pwned = 1</script><b>bold</b> & " + prompt)
"""
FLOW = ('(defagent w)\n(defworkflow main [p] (let [first (spawn w "quick") '
        'second (spawn w p)] [first second]))\n')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def project(tmp_path):
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.cmd]\ntype = "command"\nargv = [{json.dumps(sys.executable)}, "-c", '
        f'{json.dumps(AGENT)}]\ncwd = "."\n[agents]\ndefault = "cmd"\n')
    (tmp_path / "f.wl").write_text(FLOW)
    return tmp_path


def wlisp(project, *args, **kw):
    env = {k: v for k, v in os.environ.items() if k != "WLISP_HOME"}
    return subprocess.run([wlisp_bin(), *args], cwd=project, env=env, capture_output=True,
                          text=True, timeout=60, **kw)


class Server:
    """A `wlisp serve` process; what it logged is in `log`."""

    def __init__(self, project, host: str = "127.0.0.1"):
        port = free_port()
        self.url = f"http://{host}:{port}"
        self.log = project / f"serve-{port}.log"
        env = {k: v for k, v in os.environ.items() if k != "WLISP_HOME"}
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([wlisp_bin(), "serve", "--host", host, "--port",
                                          str(port)], cwd=project, env=env, stdout=log,
                                         stderr=log, text=True)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/static/style.css", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.proc.kill()
        pytest.fail("wlisp serve did not start: " + self.log.read_text())

    def stop(self) -> str:
        """Stop it; what it logged."""
        self.proc.terminate()
        self.proc.wait(10)
        return self.log.read_text()


@pytest.fixture
def server(project):
    s = Server(project)
    yield s.url
    s.stop()


def get(url: str, method: str = "GET", headers: dict | None = None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method,
                                                           headers=headers or {}),
                                    timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def instances(html: str, node: str) -> list[tuple[str, str, str]]:
    """(status, link, text) of each instance chip of `node` on a run page."""
    start = html.index(f'data-node="{node}"')
    box = html[start:html.index("</div>", html.index('class="instances"', start))]
    return re.findall(r'<a class="instance (\w+)" href="([^"]+)"[^>]*>([^<]*)</a>', box)


@pytest.fixture
def browser():
    if os.environ.get("WLISP_REQUIRE_BROWSER"):  # CI: a missing browser is a failure
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def test_read_only_and_safe_without_a_browser(project, server):
    assert wlisp(project, "run", "f.wl", "-i", "p=<i>x</i>", "-q").returncode == 0
    db = project / ".wlisp" / "wlisp.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    status, html, headers = get(server + "/")
    assert status == 200 and "script-src 'self'" in headers["content-security-policy"]
    run_id = json.loads(wlisp(project, "runs", "--json").stdout)[0]["id"]
    assert f'href="/runs/{run_id}"' in html
    status, html, _ = get(f"{server}/runs/{run_id}/steps/main/second")
    assert status == 200 and "&lt;script&gt;window.pwned" in html and "<script>window" not in html
    for bad in ("/runs/..%2F..%2Fetc%2Fpasswd", "/runs/nosuch", "/runs/x/steps/..%2F..%2Fwlisp.db",
                f"/runs/{run_id}/steps/../../../etc/passwd", "/static/..%2F__init__.py"):
        code, body, _ = get(server + bad)
        assert code == 404 and "root:" not in body, bad
    assert get(server + "/", "POST")[0] == 405  # nothing can be changed
    assert get(f"{server}/runs/{run_id}", "DELETE")[0] == 405
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_serve_listens_on_this_machine_only_by_default(project, server):
    port = int(server.rsplit(":", 1)[1])
    assert _listening(port) == ["127.0.0.1"]


def _listening(port: int) -> list[str]:
    """The addresses a TCP socket listens on at `port` (from /proc/net/tcp)."""
    found = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@needs_browser
def test_the_browser_shows_runs_a_finished_run_and_html_output_as_text(project, server,
                                                                        browser, tmp_path):
    assert wlisp(project, "run", "f.wl", "-i", "p=<img src=x onerror=alert(1)>",
                 "-q").returncode == 0
    (project / "GO").write_text("")
    assert wlisp(project, "run", "f.wl", "-i", "p=wait", "-q").returncode == 0
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(server + "/")
    assert page.locator("tr.run").count() == 2
    page.screenshot(path=str(tmp_path / "runs.png"), full_page=True)
    page.goto(server + "/?status=failed")
    assert page.locator("tr.run").count() == 0
    page.goto(server + "/?status=completed&workflow=main")
    assert page.locator("tr.run").count() == 2
    page.locator("tr.run a").last.click()  # the older run: the HTML-answering one
    page.wait_for_selector("#graph .node")
    nodes = {n.get_attribute("data-node"): n.get_attribute("data-status")
             for n in page.locator("#graph .node").all()}
    assert nodes == {"main/first": "completed", "main/second": "completed"}
    page.locator('.node[data-node="main/second"] a.instance').click()
    page.wait_for_selector("pre.output")
    shown = page.inner_text("pre.output")
    assert "<script>window.pwned = 1</script><b>bold</b> &" in shown  # text, as written
    assert page.locator("pre.output b").count() == 0 and page.locator("pre img").count() == 0
    assert page.evaluate("window.pwned") is None  # ... and never run
    assert "<img src=x onerror=alert(1)>" in page.inner_text("pre.prompt")


@needs_browser
def test_the_run_page_follows_a_running_run(project, server, browser):
    run = subprocess.Popen([wlisp_bin(), "run", "f.wl", "-i", "p=wait", "-q"], cwd=project,
                           env={k: v for k, v in os.environ.items() if k != "WLISP_HOME"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(100):  # the run is journaled and its second step has started
            rows = json.loads(wlisp(project, "runs", "--json").stdout or "[]")
            if rows and (project / ".wlisp" / "runs" / rows[0]["id"] / "steps" / "main" /
                         "second").exists():
                break
            time.sleep(0.1)
        page = browser.new_page()
        page.goto(f"{server}/runs/{rows[0]['id']}")
        second = page.locator('.node[data-node="main/second"]')
        assert second.get_attribute("data-status") == "running"
        assert page.locator('.node[data-node="main/first"]').get_attribute(
            "data-status") == "completed"
        assert page.inner_text("#run-status") == "running"
        (project / "GO").write_text("")  # the agent finishes; the page updates by itself
        page.wait_for_selector('.node[data-node="main/second"][data-status="completed"]',
                               timeout=15000)
        page.wait_for_function("document.getElementById('run-status').textContent"
                               " === 'completed'", timeout=15000)
    finally:
        run.wait(30)


def test_only_this_machine_s_names_are_served(project):
    """A page elsewhere that rebinds its own name to 127.0.0.1 gets nothing (DNS
    rebinding): only the names of this machine and the one served on are answered."""
    assert wlisp(project, "run", "f.wl", "-i", "p=x", "--executor", "mock", "-q").returncode == 0
    for host in ("127.0.0.1", "127.0.0.2")[:2 if _can_listen("127.0.0.2") else 1]:
        s = Server(project, host)
        port = s.url.rsplit(":", 1)[1]
        try:
            for name in (f"{host}:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
                assert get(s.url + "/", headers={"Host": name})[0] == 200, name
            for name in (f"attacker.example:{port}", "attacker.example", f"127.0.0.3:{port}"):
                code, body, _ = get(s.url + "/", headers={"Host": name})
                assert code == 400 and "runs" not in body, name
            assert get(f"{s.url}/runs/x/events", headers={"Host": "evil:1"})[0] == 400
        finally:
            s.stop()


def _can_listen(host: str) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, 0))
        except OSError:
            return False
    return True


def test_what_cannot_be_shown_is_said_on_a_page_never_a_traceback(project):
    s = Server(project)
    try:
        run = "/runs/r1"
        for path in ("/", run, f"{run}/steps/main/first", f"{run}/report", f"{run}/events"):
            code, body, _ = get(s.url + path)
            assert code == 404 and "no journal at" in body, path
        assert wlisp(project, "run", "f.wl", "-i", "p=x", "--executor", "mock", "--run-id",
                     "r1", "-q").returncode == 0
        for path in ("/runs/nosuch", "/runs/nosuch/steps/main/first", "/runs/nosuch/report",
                     "/runs/nosuch/events"):
            code, body, _ = get(s.url + path)
            assert code == 404 and "no run `nosuch`" in body, path
        code, body, _ = get(f"{s.url}{run}/steps/main/nosuch")
        assert code == 404 and "main/nosuch" in body
        db = project / ".wlisp" / "wlisp.db"
        with sqlite3.connect(db) as c:  # a spec that is JSON but no WorkflowSpec
            c.execute("UPDATE runs SET spec='{}'")
        for path in (run, f"{run}/events"):
            code, body, _ = get(s.url + path)
            assert code == 500 and "spec of run `r1` cannot be read" in body, path
        db.write_bytes(b"not a database " * 1000)
        for path in ("/", run, f"{run}/steps/main/first", f"{run}/report", f"{run}/events"):
            code, body, _ = get(s.url + path)
            assert code == 500 and "is damaged" in body and "no run" not in body, path
    finally:
        log = s.stop()
    assert "Traceback" not in log and "Exception" not in log, log


NESTED = ('(defagent w)\n(defworkflow main [xs] (map (fn [x] (map (fn [y] '
          '(spawn w (fmt "{x} {y}"))) xs)) ["a" "b"]))\n')


def test_a_run_time_map_inside_a_static_map_shows_its_steps(project, server):
    (project / "m.wl").write_text(NESTED)
    assert wlisp(project, "run", "m.wl", "-i", 'xs=["1","2"]', "--executor", "mock",
                 "--run-id", "r2", "-q").returncode == 0
    code, html, _ = get(f"{server}/runs/r2")
    assert code == 200
    for item, x in (("0", "a"), ("1", "b")):
        node = f"main/map[{item}]/map/w"
        assert re.search(f'data-node="{re.escape(node)}" data-status="completed"', html)
        assert instances(html, node) == [  # linked, and named by the items' values
            ("completed", f"/runs/r2/steps/main/map%5B{item}%5D/map%5B{i}%5D/w", f"[{i}] {y}")
            for i, y in ((0, "1"), (1, "2"))]
        code, page, _ = get(server + instances(html, node)[1][1])
        assert code == 200 and f"[w] {x} 2" in page


def test_a_killed_run_shows_as_interrupted_not_running(project, server):
    run = subprocess.Popen([wlisp_bin(), "run", "f.wl", "-i", "p=wait", "--run-id", "r3", "-q"],
                           cwd=project, env={k: v for k, v in os.environ.items()
                                             if k != "WLISP_HOME"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        prompt = project / ".wlisp" / "runs" / "r3" / "steps" / "main" / "second" / "1" / \
            "prompt.md"
        first_done = 'data-node="main/first" data-status="completed"'
        for _ in range(400):  # `second` waiting, `first` (run beside it) journaled
            if prompt.exists() and first_done in get(f"{server}/runs/r3")[1]:
                break
            time.sleep(0.05)
        assert get(f"{server}/runs/r3")[1].count("running") > 1
        run.send_signal(signal.SIGKILL)
        run.wait(10)
    finally:
        run.kill()
        (project / "GO").write_text("")
    code, html, _ = get(f"{server}/runs/r3")
    assert code == 200 and 'class="status interrupted">interrupted' in html
    assert "wlisp resume r3" in html and 'data-live="false"' in html
    assert 'data-node="main/first" data-status="completed"' in html
    assert 'data-node="main/second" data-status="interrupted"' in html
    assert 'class="status interrupted">interrupted' in get(server + "/")[1]
    code, step, _ = get(f"{server}/runs/r3/steps/main/second")  # what it was given
    assert code == 200 and 'class="status interrupted">interrupted' in step
    assert '<pre class="prompt">wait</pre>' in step
    started = time.monotonic()
    code, events, _ = get(f"{server}/runs/r3/events")  # ends at once: nothing will change
    assert code == 200 and events.endswith("event: done\ndata: interrupted\n\n")
    assert time.monotonic() - started < 5
