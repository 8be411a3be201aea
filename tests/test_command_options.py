"""The generic command executor's options for real agent CLIs: optional argv
groups, the inline schema, transient exits retried with backoff, a home per step,
and a JSON error envelope on stdout of a failed run. Real subprocesses."""

from __future__ import annotations

import asyncio
import json
import sys

from wlisp.contract import StepSpec
from wlisp.executors.command import CommandExecutor
from wlisp.lang.api import compile
from wlisp.runtime import run

ARGV = "import json, sys; sys.stdin.read(); print(json.dumps(sys.argv[1:]))"


def step(**kw):
    return StepSpec(task_id="main/w", agent="w", prompt="go", **kw)


def argv_of(ex, spec):
    out = asyncio.run(ex.execute_step(spec))
    assert out.success, out.error
    return json.loads(out.output)


def test_a_group_is_left_out_when_a_placeholder_in_it_is_empty():
    ex = CommandExecutor([sys.executable, "-c", ARGV, "-p", ["--model", "{model}"],
                          ["--system", "{system}", "--strict"]])
    assert argv_of(ex, step()) == ["-p"]
    assert argv_of(ex, step(model="m1")) == ["-p", "--model", "m1"]
    assert argv_of(ex, step(model="m1", system="be brief")) == [
        "-p", "--model", "m1", "--system", "be brief", "--strict"]


def test_the_schema_inline_and_as_a_file():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    ex = CommandExecutor([sys.executable, "-c", ARGV, ["--json-schema", "{schema}"],
                          ["--schema-file", "{schema_file}"]])
    args = argv_of(ex, step(output_schema=schema))
    assert args[0] == "--json-schema" and json.loads(args[1]) == schema
    assert args[2] == "--schema-file" and args[3].endswith("schema.json")
    assert argv_of(ex, step()) == []


FLAKY = """
import os, sys
sys.stdin.read()
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    print("Error: 429 Too Many Requests (rate limit)", file=sys.stderr)
    sys.exit(1)
print("second try worked")
"""


def test_a_transient_exit_is_retried_with_backoff(tmp_path):
    spec = compile('(defagent w :retries 2) (defworkflow main [] (spawn w "go"))')
    marker = str(tmp_path / "tried")
    ex = CommandExecutor([sys.executable, "-c", FLAKY, marker],
                         transient_pattern="rate limit|overloaded|429")
    res = run(spec, ex, {}, retry_base=0.01)
    assert res.status == "completed" and res.value["output"].strip() == "second try worked"
    assert res.nodes["main/w"]["attempts"] == 2


def test_without_a_rule_a_failed_exit_is_final(tmp_path):
    spec = compile('(defagent w :retries 2) (defworkflow main [] (spawn w "go"))')
    ex = CommandExecutor([sys.executable, "-c", FLAKY, str(tmp_path / "tried")])
    res = run(spec, ex, {}, retry_base=0.01)
    assert res.status == "failed" and res.nodes["main/w"]["attempts"] == 1
    assert "429 Too Many Requests" in res.error


def test_exit_codes_can_be_transient(tmp_path):
    code = "import sys; sys.stdin.read(); sys.exit(75)"
    out = asyncio.run(CommandExecutor([sys.executable, "-c", code],
                                      transient_exit_codes=[75]).execute_step(step()))
    assert not out.success and out.finish_reason == "transient"


HOME = "import os, sys; sys.stdin.read(); open(os.path.join(os.environ['HOME'], 'db'), 'a'); " \
       "print(os.environ['HOME'], sorted(os.listdir(os.environ['HOME'])))"


def test_each_step_gets_a_home_of_its_own_when_asked():
    spec = compile('(defagent w) (defworkflow main [] (map (fn [i] (spawn w (fmt "{i}"))) '
                   '[1 2 3]))')
    res = run(spec, CommandExecutor([sys.executable, "-c", HOME], isolated_home=True), {})
    homes = [v["output"].split()[0] for v in res.value]
    assert res.status == "completed" and len(set(homes)) == 3
    assert all(v["output"].strip().endswith("['db']") for v in res.value)


ENVELOPE = ("import json, sys; sys.stdin.read(); print(json.dumps({'type': 'result', "
            "'is_error': True, 'result': 'API Error: 400 model not found'})); sys.exit(1)")


def test_an_error_envelope_on_stdout_of_a_failed_run_is_the_message():
    out = asyncio.run(CommandExecutor([sys.executable, "-c", ENVELOPE]).execute_step(step()))
    assert not out.success and "API Error: 400 model not found" in out.error
    assert "(no stderr)" not in out.error


def test_the_options_load_from_wlisp_toml(tmp_path):
    from wlisp.errors import WlispError
    from wlisp.executors.config import load_config
    from wlisp.executors.profiles import build_profile

    path = tmp_path / "wlisp.toml"
    path.write_text('[executors.cli]\ntype = "command"\n'
                    f'argv = ["{sys.executable}", "-c", "print(1)", ["--model", "{{model}}"]]\n'
                    'transient_exit_codes = [75]\ntransient_pattern = "overloaded"\n'
                    'isolated_home = true\n')
    ex = build_profile(load_config(str(path)), "cli")
    assert ex.argv[-1] == ["--model", "{model}"] and ex.isolated_home
    path.write_text('[executors.cli]\ntype = "command"\nargv = ["x"]\n'
                    'transient_pattern = "(unclosed"\n')
    try:
        load_config(str(path))
    except WlispError as err:
        assert "transient_pattern" in str(err) and "regular expression" in str(err)
    else:
        raise AssertionError("an invalid pattern loaded")


STREAM = ("import json, sys, time; sys.stdin.read()\n"
          "for i in range(3):\n"
          "    print(json.dumps({'n': i}), flush=True); time.sleep(0.2)\n")


class Streaming(CommandExecutor):
    """A CLI that prints JSON lines: each line is seen while the process still runs."""

    streaming = True

    def on_line(self, spec, line, events):
        import time
        self.seen.append((json.loads(line)["n"], time.monotonic()))


def test_a_streaming_cli_is_read_line_by_line_as_it_runs():
    import time
    ex = Streaming([sys.executable, "-c", STREAM])
    ex.seen = []
    t0 = time.monotonic()
    out = asyncio.run(ex.execute_step(step()))
    done = time.monotonic()
    assert out.success and [n for n, _ in ex.seen] == [0, 1, 2]
    assert ex.seen[0][1] - t0 < done - t0 - 0.3  # the first line came well before the end
    assert out.output.count("\n") == 3
