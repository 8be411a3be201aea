"""Real executors: `command` with real subprocesses, config files and routing."""

import asyncio
import os
import sys
import time

import pytest

from wlisp.contract import StepSpec
from wlisp.errors import WlispError
from wlisp.executors.command import CommandExecutor
from wlisp.executors.config import load_config
from wlisp.executors.profiles import Router, make_executor
from wlisp.lang.api import compile
from wlisp.runtime import run

FAKE = os.path.join(os.path.dirname(__file__), "fixtures", "fake_agent.py")


def step(prompt="hello", **kw):
    return StepSpec(task_id=kw.pop("task_id", "main/x/agent"), agent=kw.pop("agent", "writer"),
                    prompt=prompt, **kw)


def execute(ex, spec):
    return asyncio.run(ex.execute_step(spec))


def test_command_success_passes_placeholders_env_and_stdin():
    ex = CommandExecutor([sys.executable, FAKE, "echo", "{model}"])
    out = execute(ex, step("write a haiku", model="tiny-1"))
    assert out.success
    assert out.output.strip() == "writer (main/x/agent, model tiny-1): write a haiku"


def test_a_placeholder_is_one_argv_element_never_a_shell_string():
    ex = CommandExecutor([sys.executable, FAKE, "echo", "{model}"])
    out = execute(ex, step("x", model="a b; rm -rf /"))
    assert "model a b; rm -rf /" in out.output


def test_command_failure_carries_the_stderr_tail():
    out = execute(CommandExecutor([sys.executable, FAKE, "fail"]), step())
    assert not out.success and "exited with 3" in out.error
    assert "last words: disk full" in out.error and len(out.error) < 2200


def test_command_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    ex = CommandExecutor([sys.executable, FAKE, "hang", str(pidfile)], timeout=1.0)
    t0 = time.monotonic()
    out = execute(ex, step())
    assert time.monotonic() - t0 < 10
    assert not out.success and out.finish_reason == "timeout"
    child = int(pidfile.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the agent's child process survived the timeout")


def test_huge_output_and_non_utf8_bytes():
    out = execute(CommandExecutor([sys.executable, FAKE, "huge"]), step())
    assert out.success and len(out.output) == 20_000_000
    out = execute(CommandExecutor([sys.executable, FAKE, "bytes"]), step())
    assert out.success and out.output == "caf\ufffd \ufffd ok"


def test_json_envelope_gives_text_and_usage():
    out = execute(CommandExecutor([sys.executable, FAKE, "envelope"]), step())
    assert out.output == "enveloped answer"
    assert out.usage == {"input_tokens": 12, "output_tokens": 34, "cost": 0.0021}


def test_schema_file_and_output_file():
    schema = {"type": "object", "properties": {"a": {}, "b": {}}}
    out = execute(CommandExecutor([sys.executable, FAKE, "structured"]),
                  step(output_schema=schema))
    assert out.output.strip() == '{"a": "filled", "b": "filled"}'
    out = execute(CommandExecutor([sys.executable, FAKE, "file"], output_file=True), step())
    assert out.output == "from the output file"


def test_missing_program_is_a_failed_step():
    out = execute(CommandExecutor(["/no/such/agent"]), step())
    assert not out.success and "cannot start `/no/such/agent`" in out.error


def test_workflow_end_to_end_with_a_command_agent_and_structured_output(tmp_path):
    spec = compile("""
(defagent filler)
(defworkflow main [] (let [r (spawn filler "fill" :returns {:a string :b string})] r.a))""")
    ex = CommandExecutor([sys.executable, FAKE, "structured"])
    res = run(spec, ex, {})
    assert res.status == "completed" and res.value == "filled"


def write(tmp_path, text):
    p = tmp_path / "wlisp.toml"
    p.write_text(text)
    return str(p)


def test_config_errors_name_file_line_and_key(tmp_path):
    path = write(tmp_path, '[executors.claude]\ntype = "command"\nargv = "claude -p"\n')
    with pytest.raises(WlispError) as info:
        load_config(path)
    d = info.value.diagnostics[0]
    assert d.span.file == path and d.span.line == 3 and "argv" in d.message
    path = write(tmp_path, '[executors.x]\ntype = "comand"\n')
    with pytest.raises(WlispError, match="did you mean `command`"):
        load_config(path)
    path = write(tmp_path, '[executors.x]\ntype = "mock"\nlatenct = 1\n')
    with pytest.raises(WlispError) as info:
        load_config(path)
    assert info.value.diagnostics[0].span.line == 3
    path = write(tmp_path, '[agents]\ndefault = "nope"\n')
    with pytest.raises(WlispError, match="unknown executor profile `nope`"):
        load_config(path)
    path = write(tmp_path, '[executors.x\ntype = 1\n')
    with pytest.raises(WlispError, match="invalid TOML"):
        load_config(path)


def test_env_references_are_expanded_and_missing_ones_named(tmp_path, monkeypatch):
    path = write(tmp_path, f'[executors.c]\ntype = "command"\nargv = ["{sys.executable}", '
                 f'"{FAKE}"]\nenv = {{ TOKEN = "${{MY_TOKEN}}" }}\n')
    monkeypatch.delenv("MY_TOKEN", raising=False)
    with pytest.raises(WlispError, match="`MY_TOKEN` is not set"):
        make_executor("c", config=load_config(path))
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    assert make_executor("c", config=load_config(path)).env == {"TOKEN": "s3cret"}


def test_router_sends_each_agent_to_its_profile(tmp_path):
    path = write(tmp_path, f"""
[executors.cli]
type = "command"
argv = ["{sys.executable}", "{FAKE}", "echo", "cli-model"]

[executors.offline]
type = "mock"

[agents]
default = "offline"
writer = "cli"
""")
    spec = compile("""
(defagent writer)
(defagent critic)
(defagent special :executor "cli")
(defworkflow main [] [(spawn writer "w") (spawn critic "c") (spawn special "s")])""")
    ex = make_executor(config=load_config(path))
    assert isinstance(ex, Router)
    res = run(spec, ex, {})
    outs = [v["output"] for v in res.value]
    assert "model cli-model): w" in outs[0]
    assert outs[1] == "[critic] c"
    assert "model cli-model): s" in outs[2]


def test_unknown_executor_name_is_a_usage_error(tmp_path):
    with pytest.raises(WlispError, match="unknown executor `clade`"):
        make_executor("clade", config=load_config(write(tmp_path, '[executors.claude]\n'
                                                        'type = "mock"\n')))


@pytest.mark.parametrize("rule, key", [
    (5, "answer #1"), ("output", "answer #1"), ({"delay": "slow"}, "`delay`"),
    ({"delay": -1}, "`delay`"), ({"times": "x"}, "`times`"), ({"times": 1.5}, "`times`"),
    ({"prompt": 5}, "`prompt`"), ({"node": ["a"]}, "`node`"), ({"agent": 1}, "`agent`"),
    ({"fail": True}, "`fail`"), ({"transient": "yes"}, "`transient`"),
    ({"usage": {"input_tokens": "many"}}, "`usage.input_tokens`"),
    ({"usage": {"cost": -1}}, "`usage.cost`"), ({"usage": 3}, "`usage`"),
    ({"outputs": "one"}, "`outputs`"), ({"outputs": []}, "`outputs`"),
])
def test_a_scripted_rule_with_a_wrong_value_is_w0702_naming_the_key(rule, key):
    from wlisp.executors.scripted import ScriptedExecutor

    with pytest.raises(WlispError) as info:
        ScriptedExecutor([{"output": "fine"}, rule] if key != "answer #1" else [rule],
                         source="a.toml")
    d = info.value.diagnostics[0]
    assert d.code == "W0702" and key in d.message, d.message
    assert ("answer #1" if key == "answer #1" else "answer #2") in d.message


def test_a_scripted_record_must_be_a_file_name(tmp_path):
    from wlisp.executors.scripted import ScriptedExecutor

    path = tmp_path / "a.toml"
    path.write_text('record = 5\n[[answer]]\noutput = "x"\n')
    with pytest.raises(WlispError, match="`record` must be a file name"):
        ScriptedExecutor.from_file(str(path))
