"""OpenTelemetry: every run a trace, sent by the official OTLP/HTTP exporter to a real
receiver on 127.0.0.1 (tests/otlp_receiver.py) from real `wlisp run` processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("opentelemetry.sdk")

from .chat_server import ChatServer, completion  # noqa: E402
from .conftest import wlisp_bin  # noqa: E402
from .otlp_receiver import OTLPReceiver  # noqa: E402

# an agent that answers with the trace context it was given; with a FAIL file it fails
# once with exit 75 (transient), with a BROKEN file every time (exit 1)
AGENT = """import os, sys
prompt = sys.stdin.read()
if os.path.exists("BROKEN"):
    sys.exit("broken")
if os.path.exists("FAIL"):
    os.remove("FAIL")
    sys.exit(75)
print(os.environ.get("TRACEPARENT", "none") + " " + prompt)
"""

FLOW = """(defagent w)
(defworkflow main []
  (let [r (loop [p nil] :max 2 (spawn w "secret plan"))
        s (spawn w "again")]
    [r s]))
"""


@pytest.fixture
def receiver():
    with OTLPReceiver() as r:
        yield r


def project(tmp_path, flow=FLOW):
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.cmd]\ntype = "command"\nargv = [{json.dumps(sys.executable)}, "-c", '
        f'{json.dumps(AGENT)}]\ncwd = "."\ntransient_exit_codes = [75]\n'
        '[agents]\ndefault = "cmd"\n')
    (tmp_path / "f.wl").write_text(flow)


def wlisp(tmp_path, receiver, *args, env=None):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **(env or {})}
    env.update(WLISP_HOME=str(tmp_path / "state"), OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
    return subprocess.run([wlisp_bin(), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)


def by_id(spans):
    return {s["span_id"]: s for s in spans}


def test_a_run_is_one_trace_whose_spans_mirror_the_workflow(tmp_path, receiver):
    project(tmp_path)
    res = wlisp(tmp_path, receiver, "run", "f.wl", "--json")
    assert res.returncode == 0, res.stderr
    spans = receiver.spans
    assert receiver.requests[0] == {"path": "/v1/traces", "type": "application/x-protobuf"}
    assert len({s["trace_id"] for s in spans}) == 1
    (root,) = [s for s in spans if s["parent"] is None]
    run_id = json.loads(res.stdout)["run_id"]
    assert root["name"] == "workflow main" and root["attributes"]["wlisp.run.id"] == run_id
    assert root["attributes"]["wlisp.status"] == "completed"
    assert root["resource"]["service.name"] == "wlisp"
    spans_by = by_id(spans)
    nodes = {s["attributes"]["wlisp.node.id"]: s for s in spans if s["name"].startswith(
        ("spawn", "loop"))}
    assert set(nodes) == {"main/r", "main/r@1/w", "main/r@2/w", "main/s"}
    loop = nodes["main/r"]
    assert loop["parent"] == root["span_id"] and loop["attributes"]["wlisp.iterations"] == 2
    assert loop["attributes"]["code.filepath"] == "f.wl"
    assert nodes["main/r@2/w"]["parent"] == loop["span_id"]  # a step inside its loop
    attempts = receiver.named("invoke_agent")
    assert len(attempts) == 3
    for a in attempts:
        step = spans_by[a["parent"]]
        assert step["name"].startswith("spawn ") and \
            step["attributes"]["wlisp.node.id"] == a["attributes"]["wlisp.node.id"]
        assert a["attributes"]["gen_ai.operation.name"] == "invoke_agent"
        assert a["attributes"]["gen_ai.agent.name"] == "w"
    # the agent process got the attempt's span as its parent (W3C traceparent)
    said = json.loads(res.stdout)["value"][1]["output"].split()[0]
    s_attempt = next(a for a in attempts if a["attributes"]["wlisp.node.id"] == "main/s")
    assert said.split("-")[1:3] == [s_attempt["trace_id"], s_attempt["span_id"]]
    # privacy: no prompt and no output in the trace unless asked for
    assert "secret plan" not in json.dumps(spans)


def test_prompts_and_outputs_only_when_asked(tmp_path, receiver):
    project(tmp_path)
    res = wlisp(tmp_path, receiver, "run", "f.wl", "--otel-content")
    assert res.returncode == 0, res.stderr
    attempt = next(a["attributes"] for a in receiver.named("invoke_agent")  # `r` and `s`
                   if a["attributes"]["wlisp.node.id"] == "main/r@1/w")  # run side by side
    assert json.loads(attempt["gen_ai.input.messages"]) == [
        {"role": "user", "content": "secret plan"}]
    assert "secret plan" in json.loads(attempt["gen_ai.output.messages"])[0]["content"]


def test_a_retried_attempt_says_why(tmp_path, receiver):
    project(tmp_path, '(defagent w)\n(defworkflow main [] (spawn w "x"))\n')
    (tmp_path / "FAIL").write_text("")
    res = wlisp(tmp_path, receiver, "run", "f.wl")
    assert res.returncode == 0, res.stderr
    first, second = sorted(receiver.named("invoke_agent"),
                           key=lambda s: s["attributes"]["wlisp.attempt"])
    assert first["status"] == 2 and first["attributes"]["error.type"] == "transient"
    assert "exited with 75" in second["attributes"]["wlisp.retry_reason"]
    assert second["status"] != 2


def test_an_answer_that_does_not_fit_its_schema_is_a_failed_attempt_in_the_trace(
        tmp_path, receiver):
    """The agent succeeded, its answer did not fit `:returns`: the runner retries, and
    the trace says that attempt failed and why the next one ran."""
    project(tmp_path, '(defagent w)\n(defworkflow main [] '
                      '(spawn w "x" :returns {:n int} :retries 1))\n')
    res = wlisp(tmp_path, receiver, "run", "f.wl")
    assert res.returncode == 1  # the agent never answers JSON
    first, second = sorted(receiver.named("invoke_agent"),
                           key=lambda s: s["attributes"]["wlisp.attempt"])
    assert first["status"] == 2 and second["status"] == 2
    assert "JSON" in second["attributes"]["wlisp.retry_reason"]


def test_a_resumed_run_links_to_its_first_trace_and_marks_reused_steps(tmp_path, receiver):
    project(tmp_path, '(defagent w)\n(defworkflow main [] (let [a (spawn w "a") '
                      'b (spawn w (fmt "b {a}") :retries 0)] b))\n')
    (tmp_path / "BROKEN").write_text("")  # the first run fails at its first step
    first = wlisp(tmp_path, receiver, "run", "f.wl")
    assert first.returncode == 1
    (tmp_path / "BROKEN").unlink()
    (first_root,) = [s for s in receiver.spans if s["parent"] is None]
    assert first_root["attributes"]["wlisp.status"] == "failed" and first_root["status"] == 2
    first_trace = first_root["trace_id"]
    receiver.spans.clear()
    again = wlisp(tmp_path, receiver, "resume", "last")
    assert again.returncode == 0, again.stderr
    (root,) = [s for s in receiver.spans if s["parent"] is None]
    assert root["trace_id"] != first_trace
    assert [(lk["trace_id"], lk["attributes"]["wlisp.link"]) for lk in root["links"]] == [
        (first_trace, "resumes")]
    receiver.spans.clear()
    third = wlisp(tmp_path, receiver, "resume", "last")  # everything reused now
    assert third.returncode == 0, third.stderr
    steps = [s for s in receiver.spans if s["name"].startswith("spawn ")]
    assert steps and all(s["attributes"]["wlisp.reused"] is True for s in steps)
    assert receiver.named("invoke_agent") == []  # nothing ran, nothing claims it did


def test_the_openai_executor_sends_the_traceparent_header(tmp_path, receiver):
    with ChatServer() as server:
        server.replies = [completion("hello")]
        (tmp_path / "wlisp.toml").write_text(
            f'[executors.api]\ntype = "openai"\nbase_url = "{server.url}"\n'
            'api_key_env = "T_KEY"\nmodel = "m"\n[agents]\ndefault = "api"\n')
        (tmp_path / "f.wl").write_text('(defagent a)\n(defworkflow main [] (spawn a "hi"))\n')
        res = wlisp(tmp_path, receiver, "run", "f.wl", env={"T_KEY": "k"})
        assert res.returncode == 0, res.stderr
        header = server.requests[0]["traceparent"]
    (attempt,) = receiver.named("invoke_agent")
    assert header.split("-")[1:3] == [attempt["trace_id"], attempt["span_id"]]
    assert attempt["attributes"]["gen_ai.usage.input_tokens"] == 10
    assert attempt["attributes"]["gen_ai.usage.output_tokens"] == 5


def test_without_an_endpoint_nothing_of_opentelemetry_is_loaded(tmp_path):
    code = ("import sys, wlisp\n"
            "spec = wlisp.compile('(defagent w) (defworkflow main [] (spawn w \"x\"))')\n"
            "res = wlisp.run(spec, wlisp.MockExecutor(), {})\n"
            "print(res.status, any(m.startswith('opentelemetry') for m in sys.modules))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=env, cwd=tmp_path).stdout
    assert out.split() == ["completed", "False"]


def test_a_collector_that_is_not_there_costs_a_warning_and_a_bad_url_is_refused(tmp_path):
    project(tmp_path)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
           "WLISP_HOME": str(tmp_path / "state")}

    def run(url):
        return subprocess.run([wlisp_bin(), "run", "f.wl", "--otel", url], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)
    res = run("http://127.0.0.1:9")  # discard: nothing listens
    assert res.returncode == 0, res.stderr
    assert "warning: no trace collector answers at http://127.0.0.1:9" in res.stderr
    assert "Transient error" not in res.stderr and "Traceback" not in res.stderr
    res = run("notaurl")
    assert res.returncode == 2 and "--otel needs an http:// or https:// URL" in res.stderr
