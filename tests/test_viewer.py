"""`wlisp serve`: the run viewer, a real uvicorn server on 127.0.0.1 over a real journal,
looked at with a real headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
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


@pytest.fixture
def server(project):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "WLISP_HOME"}
    proc = subprocess.Popen([wlisp_bin(), "serve", "--port", str(port)], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/static/style.css", timeout=1)
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("wlisp serve did not start: " + proc.stderr.read())
    yield url
    proc.terminate()
    proc.wait(10)


def get(url: str, method: str = "GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method),
                                    timeout=10) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


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
