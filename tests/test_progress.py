"""Progress display: plain lines for pipes, a rich tree for terminals."""

import io

from rich.console import Console

from wlisp.cli.progress import LiveProgress, PlainProgress
from wlisp.lang.api import compile
from wlisp.runtime import run

from .recording import Recorder

SPEC = compile("""
(defagent writer)
(defagent critic)
(defworkflow main []
  (let [a (spawn writer "a") b (spawn critic "b" :retries 0)] [a b]))""")


def test_plain_progress_lines():
    out = io.StringIO()
    res = run(SPEC, Recorder({"critic": "FAIL"}), {}, events=PlainProgress(out))
    text = out.getvalue()
    assert res.status == "failed"
    assert "✓ finished  main/a [writer]" in text and "15 tok" in text
    assert "✗ failed    main/b [critic]" in text and "agent gave up" in text
    assert text.strip().splitlines()[-1].endswith("run failed")


def test_live_progress_renders_a_tree():
    live = LiveProgress("main (test)")
    live.console = Console(file=io.StringIO(), force_terminal=True, width=100)
    run(SPEC, Recorder({"critic": "FAIL"}), {}, events=live)
    console = Console(record=True, width=100, file=io.StringIO())
    console.print(live._render())
    text = console.export_text()
    assert "main (test)" in text and "main/a" not in text  # labels: the user's names
    assert "✓ a [writer]" in text and "✗ b [critic]" in text and "agent gave up" in text
