"""The openai executor through the real SDK against a real HTTP server on loopback."""

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from wlisp.contract import StepSpec
from wlisp.lang.api import compile
from wlisp.runtime import run, run_async

from .chat_server import ChatServer, completion
from .conftest import wlisp_bin

openai = pytest.importorskip("openai")

from wlisp.executors.openai_api import OpenAIExecutor  # noqa: E402


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def executor(server, **kw):
    return OpenAIExecutor(base_url=server.url, api_key_env="TEST_KEY", model="m",
                          timeout=kw.pop("timeout", 5), **kw)


def test_plain_text_with_system_prompt_and_usage(server, monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-test-123")
    server.replies = [completion("Hello there", prompt_tokens=7, completion_tokens=3)]
    spec = compile('(defagent greeter :system "Be brief.") '
                   '(defworkflow main [] (spawn greeter "Say hi"))')
    res = run(spec, executor(server, prices={"m": {"input": 1.0, "output": 2.0}}), {})
    assert res.status == "completed" and res.value["output"] == "Hello there"
    assert res.value["usage"] == {"input_tokens": 7, "output_tokens": 3, "cost": 1.3e-05}
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer sk-test-123"
    assert req["body"]["messages"] == [{"role": "system", "content": "Be brief."},
                                       {"role": "user", "content": "Say hi"}]


def test_json_schema_answers(server):
    server.replies = [completion('{"score": 0.8, "reason": "solid"}')]
    spec = compile("(defagent critic) (defworkflow main [] "
                   "(let [r (spawn critic \"rate\" :returns {:score number :reason string})] "
                   "[r.score r.reason]))")
    res = run(spec, executor(server), {})
    assert res.value == [0.8, "solid"]
    rf = server.requests[0]["body"]["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"]["required"] == [
        "score", "reason"]


def test_servers_without_json_schema_get_json_object(server):
    server.replies = [{"status": 400, "body": {"error": {"message": "response_format "
                                                         "json_schema is not supported"}}},
                      completion('{"ok": true}')]
    spec = compile("(defagent a) (defworkflow main [] "
                   "(let [r (spawn a \"go\" :returns {:ok bool})] r.ok))")
    res = run(spec, executor(server), {})
    assert res.status == "completed" and res.value is True
    second = server.requests[1]["body"]
    assert second["response_format"] == {"type": "json_object"}
    assert "JSON Schema" in second["messages"][-1]["content"]


def test_tool_calls_over_several_rounds(server, tmp_path):
    server.replies = [
        completion(tool_calls=[("count", {"word": "alpha"}), ("count", {"word": "beta"})]),
        completion(tool_calls=[("nosuch", {}), ("fails", {})]),
        completion("alpha=5 beta=4"),
    ]
    spec = compile(f"""
(deftool count :description "letters in a word" :params {{:word string}}
  :command ["{sys.executable}" "-c" "import sys; print(len(sys.argv[1]))" "{{word}}"])
(deftool fails :command ["{sys.executable}" "-c" "import sys; sys.exit(2)"])
(defagent counter :tools [count fails] :max-steps 5)
(defworkflow main [] (spawn counter "count letters"))""")
    res = run(spec, executor(server), {})
    assert res.status == "completed" and res.value["output"] == "alpha=5 beta=4"
    assert res.value["usage"]["input_tokens"] == 30  # three rounds
    second = server.requests[1]["body"]["messages"]
    tool_msgs = [m for m in second if m["role"] == "tool"]
    assert [m["content"].strip() for m in tool_msgs] == ["5", "4"]
    assert server.requests[0]["body"]["tools"][0]["function"]["name"] == "count"
    third = [m for m in server.requests[2]["body"]["messages"] if m["role"] == "tool"][-2:]
    assert "unknown tool `nosuch`" in third[0]["content"]
    assert "exited with 2" in json.loads(third[1]["content"])["error"]


def test_iteration_cap_and_finish_reasons(server):
    server.replies = [completion(tool_calls=[("ghost", {})])] * 3
    spec = compile('(defagent a) (defworkflow main [] (spawn a "loop" :max-steps 3 :retries 0))')
    res = run(spec, executor(server), {})
    node = res.nodes["main/a"]
    assert res.status == "failed" and node["outcome"]["finish_reason"] == "unknown_tool"
    assert len(server.requests) == 3


def test_rate_limit_is_retried_by_the_runtime(server):
    server.replies = [{"status": 429, "body": {"error": {"message": "slow down"}}},
                      completion("finally")]
    spec = compile('(defagent a) (defworkflow main [] (spawn a "x" :retries 2))')
    res = run(spec, executor(server), {}, retry_base=0.01)
    assert res.status == "completed" and res.value["output"] == "finally"
    assert res.nodes["main/a"]["attempts"] == 2


def test_malformed_json_is_a_failed_step(server):
    server.replies = ["MALFORMED"]
    spec = compile('(defagent a) (defworkflow main [] (spawn a "x" :retries 0))')
    res = run(spec, executor(server), {})
    assert res.status == "failed" and "bad API response" in res.nodes["main/a"]["error"]


def test_a_hanging_server_times_out_as_a_transient_failure(server):
    server.replies = ["HANG", completion("second try")]
    spec = compile('(defagent a) (defworkflow main [] (spawn a "x" :retries 1))')
    res = run(spec, executor(server, timeout=0.5), {}, retry_base=0.01)
    assert res.status == "completed" and res.value["output"] == "second try"


def test_token_and_cost_budgets_use_real_usage(server):
    server.replies = [completion("a", prompt_tokens=60, completion_tokens=50),
                      completion("b", prompt_tokens=60, completion_tokens=50)]
    spec = compile('(defagent a) (defworkflow main [] :budget {:tokens 150} '
                   '(do (spawn a "one") (spawn a "two") (spawn a "three")))')
    res = run(spec, executor(server), {})
    assert res.status == "budget_exhausted" and "token budget of 150" in res.error
    assert len(server.requests) == 2


def test_one_executor_serves_consecutive_runs_each_on_its_own_loop(server):
    server.replies = [completion("first"), completion("second"), completion("third")]
    spec = compile('(defagent a) (defworkflow main [] (spawn a "x" :retries 0))')
    ex = executor(server)
    for expected in ("first", "second", "third"):
        res = run(spec, ex, {})
        assert res.status == "completed", res.error or res.nodes
        assert res.value["output"] == expected


def test_clients_made_per_run_are_closed_when_the_run_ends(server, monkeypatch):
    made = []

    class Recorded(openai.AsyncOpenAI):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            made.append(self)

    monkeypatch.setattr(openai, "AsyncOpenAI", Recorded)
    spec = compile('(defagent a) (defworkflow main [] [(spawn a "x") (spawn a "y")])')
    ex = executor(server)
    for _ in range(2):
        assert run(spec, ex, {}).status == "completed"
    assert len(made) == 2  # one per run (two steps each), never one across runs
    assert all(client.is_closed() for client in made)


def test_a_client_given_by_the_caller_is_used_and_left_open(server):
    spec = compile('(defagent a) (defworkflow main [] (spawn a "x"))')

    async def main():  # the caller's client lives in the caller's loop; the caller closes it
        async with openai.AsyncOpenAI(base_url=server.url, api_key="sk-given",
                                      max_retries=0) as client:
            res = await run_async(spec, OpenAIExecutor(client=client, model="m"), {})
            assert not client.is_closed()
        return res

    assert asyncio.run(main()).status == "completed"
    assert server.requests[0]["auth"] == "Bearer sk-given"


def test_continue_replays_the_conversation_even_from_a_new_executor(server, tmp_path):
    """Chat completions keep no session: the executor keeps each conversation in a file
    and `:continue` replays it (as after a resume, with a new executor object)."""
    server.replies = [completion("Plan: A then B"), completion("Shorter: A, B")]
    spec = compile('(defagent w :system "Be brief.") (defworkflow main [] '
                   '(let [a (spawn w "Write a plan")] [a (spawn w "Shorten it" :continue a)]))')
    res = run(spec, executor(server, sessions_dir=str(tmp_path)), {})
    assert res.status == "completed", res.error
    first, second = res.value
    assert second["output"] == "Shorter: A, B" and first["session_id"].startswith("conv-")
    assert server.requests[1]["body"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Write a plan"},
        {"role": "assistant", "content": "Plan: A then B"},
        {"role": "user", "content": "Shorten it"}]
    server.replies = [completion("Again")]
    later = executor(server, sessions_dir=str(tmp_path))
    step = StepSpec(task_id="t", agent="w", prompt="One more", parent_session_id=second[
        "session_id"])
    out = asyncio.run(later.execute_step(step))
    assert out.output == "Again" and len(server.requests[2]["body"]["messages"]) == 6
    assert len(list(tmp_path.iterdir())) == 3  # only conversations that are continued
    gone = StepSpec(task_id="t", agent="w", prompt="x", parent_session_id="conv-" + "0" * 32)
    out = asyncio.run(later.execute_step(gone))
    assert not out.success and "cannot continue session" in out.error


# --- streaming -------------------------------------------------------------------------

class Lines:
    """An event sink that keeps each `agent` line with the moment it arrived."""

    def __init__(self):
        self.lines: list[tuple[float, str]] = []

    def emit(self, e):
        if e.kind == "agent":
            self.lines.append((time.monotonic(), e.message))


def test_answers_stream_line_by_line_and_come_back_whole(server, tmp_path):
    answer = "Plan:\n1. read the code\n2. write the test\n" + "x" * 450 + "\nDone."
    server.chunk_delay = 0.002
    server.replies = [completion(tool_calls=[("echo", {"text": "hi"})], prompt_tokens=4,
                                 completion_tokens=2),
                      completion(answer, prompt_tokens=7, completion_tokens=30)]
    spec = compile(f"""
(deftool echo :command ["{sys.executable}" "-c" "import sys; print(sys.argv[1])" "{{text}}"]
  :params {{:text string}})
(defagent a :tools [echo])
(defworkflow main [] (spawn a "go"))""")
    sink = Lines()
    res = run(spec, executor(server), {}, events=sink)
    ended = time.monotonic()
    assert res.status == "completed" and res.value["output"] == answer  # chunks rejoined
    assert res.value["usage"]["input_tokens"] == 11 and res.value["usage"]["output_tokens"] == 32
    assert all(r["body"]["stream"] is True for r in server.requests)
    tool = [m for m in server.requests[1]["body"]["messages"] if m["role"] == "tool"][0]
    assert tool["content"].strip() == "hi"  # the streamed tool call ran
    said = [text for _, text in sink.lines]
    assert said[:3] == ["Plan:", "1. read the code", "2. write the test"]
    assert "".join(said[3:-1]) == "x" * 450 and said[-1] == "Done."
    assert sink.lines[0][0] < ended - 0.1  # the first line came while the answer streamed


def test_a_server_that_refuses_streaming_is_asked_whole_and_remembered(server):
    server.streaming = False
    server.replies = [completion("one"), completion("two")]
    spec = compile('(defagent a) (defworkflow main [] '
                   '(let [x (spawn a "1") y (spawn a "2" :after [x])] [x y]))')
    ex = executor(server)
    res = run(spec, ex, {}, events=Lines())
    assert [v["output"] for v in res.value] == ["one", "two"]
    assert [r["body"].get("stream") for r in server.requests] == [True, None, None]


def test_wlisp_run_verbose_prints_the_streamed_lines(server, tmp_path):
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.api]\ntype = "openai"\nbase_url = "{server.url}"\n'
        'api_key_env = "T_KEY"\nmodel = "m"\n[agents]\ndefault = "api"\n')
    (tmp_path / "m.wl").write_text('(defagent a)\n(defworkflow main [] (spawn a "go"))\n')
    server.replies = [completion("first line\nsecond line")]
    res = subprocess.run([wlisp_bin(), "run", "m.wl", "-v"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "T_KEY": "k",
                                                     "WLISP_HOME": str(tmp_path / "st")})
    assert res.returncode == 0, res.stderr
    said = [ln.split("│ ", 1)[1] for ln in res.stderr.splitlines() if "│ main/a:" in ln]
    assert said == ["main/a: first line", "main/a: second line"]
    (live,) = (tmp_path / "st").glob("runs/*/steps/main/a/1/live.log")
    assert live.read_text() == "first line\nsecond line\n"


def test_a_long_streamed_line_is_cut_where_no_secret_can_be(server, tmp_path):
    """A line with no newline is shown in pieces; a piece never ends inside the API key,
    which masking must see whole (here it would straddle the 200th character)."""
    (tmp_path / "wlisp.toml").write_text(
        f'[executors.api]\ntype = "openai"\nbase_url = "{server.url}"\n'
        'api_key_env = "T_KEY"\nmodel = "m"\n[agents]\ndefault = "api"\n')
    (tmp_path / "m.wl").write_text('(defagent a)\n(defworkflow main [] (spawn a "go"))\n')
    key = "sk-streamed-0123456789"
    server.replies = [completion("w" * 190 + " " + key + " " + "z" * 300)]
    res = subprocess.run([wlisp_bin(), "run", "m.wl", "-v"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "T_KEY": key,
                                                     "WLISP_HOME": str(tmp_path / "st")})
    assert res.returncode == 0, res.stderr
    (live,) = (tmp_path / "st").glob("runs/*/steps/main/a/1/live.log")
    assert "".join(live.read_text().splitlines()) == "w" * 190 + " *** " + "z" * 300
    assert "sk-str" not in live.read_text() + res.stderr + res.stdout
