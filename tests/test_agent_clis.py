"""The real agent CLIs (claude, codex, llm) run by wlisp against fake vendor servers
on 127.0.0.1, offline by construction: each scenario runs in a network namespace of
its own where only loopback exists (tests/cli_harness.py), with a recording proxy
that shows any other address a CLI wanted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, wlisp_bin

HARNESS = os.path.join(ROOT, "tests", "cli_harness.py")
# where .ci/run installs the pinned CLIs (npm prefix; llm in a venv of its own)
CLI_HOME = os.environ.get("WLISP_AGENT_CLIS", os.path.join(os.path.dirname(ROOT), "clis"))
CLI_PATH = os.pathsep.join([os.path.join(CLI_HOME, "node_modules", ".bin"),
                            os.path.join(CLI_HOME, "llm", "bin"), os.environ["PATH"]])


def found(program: str) -> str | None:
    return shutil.which(program, path=CLI_PATH)


def need(program: str):
    """Skip when the CLI is not installed here; in CI (which installs them) fail."""
    if found(program) is None:
        if os.environ.get("WLISP_REQUIRE_AGENT_CLIS"):
            pytest.fail(f"`{program}` is not installed ({CLI_HOME}); .ci/run installs it")
        pytest.skip(f"`{program}` is not installed")


NETNS = shutil.which("unshare") is not None and subprocess.run(
    ["unshare", "-rn", "true"], capture_output=True).returncode == 0


def scenario(tmp_path, vendor: str, toml: str, program: str, commands: list[list[str]],
             script: dict | None = None, env: dict | None = None,
             files: dict | None = None, then: dict | None = None) -> dict:
    """Run `wlisp` commands in tmp_path against the fake `vendor`; the harness report."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    files = {str(tmp_path / "wlisp.toml"): toml, str(tmp_path / "main.wl"): program,
             **(files or {})}
    job = {"vendor": vendor, "script": script or {}, "files": files, "cwd": str(tmp_path),
           "watch": CLI_HOME, "then": then,
           "commands": [[wlisp_bin(), *c] for c in commands],
           "env": {"PATH": CLI_PATH, "HOME": str(home), "WLISP_HOME": str(tmp_path / "state"),
                   "WLISP_NETNS": "1" if NETNS else "", **(env or {})}}
    prefix = ["unshare", "-rn"] if NETNS else []
    res = subprocess.run([*prefix, sys.executable, HARNESS], input=json.dumps(job),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout)
    assert report["proxied"] == [], f"a CLI tried to leave loopback: {report['proxied']}"
    return report


def value_of(run: dict):
    assert run["code"] == 0, run["stderr"][-2000:]
    return json.loads(run["stdout"])["value"]


# --- Claude Code -------------------------------------------------------------------------

CLAUDE_TOML = """
[executors.claude]
type = "claude-code"
env = { ANTHROPIC_BASE_URL = "{url}" }
[agents]
default = "claude"
"""
CLAUDE_ENV = {"ANTHROPIC_API_KEY": "sk-ant-test-key-123"}


@pytest.fixture
def claude():
    need("claude")


def test_claude_plain_step_with_system_and_no_model(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML,
                      '(defagent w :system "Answer in French.")\n'
                      '(defworkflow main [] (spawn w "Say hello"))\n',
                      [["run", "main.wl", "--json"]], env=CLAUDE_ENV)
    value = value_of(report["runs"][0])
    assert value["output"] == "Hello from the fake model." and value["success"]
    call = [r for r in report["requests"] if r["path"].startswith("/v1/messages")][0]
    assert call["headers"]["x-api-key"] == CLAUDE_ENV["ANTHROPIC_API_KEY"]
    assert "Answer in French." in json.dumps(call["body"]["system"])
    assert call["body"]["messages"][0]["content"][-1]["text"].strip().endswith("Say hello")
    assert call["body"]["model"]  # claude's own default: no `--model ""`
    # usage counts every token processed (cache reads and writes included) and the cost
    assert value["usage"]["input_tokens"] == 100 + 4000 + 600
    assert value["usage"]["cache_read_input_tokens"] == 4000
    assert value["usage"]["cost"] > 0
    assert len(value["session_id"]) == 36  # claude's own session id


def test_claude_model_and_structured_answer_on_the_first_attempt(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML,
                      '(defagent w :model "claude-test-1")\n'
                      '(defworkflow main [] (get (spawn w "Rate it" :returns {:score int}) '
                      ':score))\n',
                      [["run", "main.wl", "--json"]], script={"structured": {"score": 7}},
                      env=CLAUDE_ENV)
    assert value_of(report["runs"][0]) == 7
    # claude's stream reached the run's events as it happened: the tool it used
    assert "⚙ tool      main/w [w]: StructuredOutput" in report["runs"][0]["stderr"]
    calls = [r for r in report["requests"] if r["path"].startswith("/v1/messages")]
    assert {c["body"]["model"] for c in calls} == {"claude-test-1"}
    tools = {t["name"]: t for t in calls[0]["body"]["tools"]}
    assert tools["StructuredOutput"]["input_schema"]["properties"]["score"]["type"] == "integer"


def test_claude_api_error_is_the_step_error(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML,
                      '(defagent w :model "nope" :retries 0)\n'
                      '(defworkflow main [] (spawn w "hi"))\n',
                      [["run", "main.wl"]],
                      script={"errors": [[400, "model: nope is not a model"]] * 20},
                      env=CLAUDE_ENV)
    run = report["runs"][0]
    assert run["code"] == 1 and "API Error: 400 model: nope is not a model" in run["stderr"]
    assert "(no stderr)" not in run["stderr"]


def test_claude_rate_limit_is_retried(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML,
                      '(defagent w :retries 2)\n(defworkflow main [] (spawn w "hi"))\n',
                      [["run", "main.wl", "--json"]],
                      script={"errors": [[429, "rate limited, slow down"]] * 2},
                      env={**CLAUDE_ENV, "CLAUDE_CODE_MAX_RETRIES": "0"})
    value = value_of(report["runs"][0])
    assert value["output"] == "Hello from the fake model."
    assert report["runs"][0]["stderr"].count("retried") == 2  # by wlisp, with backoff


def test_claude_fan_out_of_three(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML,
                      '(defagent w)\n(defworkflow main [] '
                      '(map (fn [i] (spawn w (fmt "part {i}"))) [1 2 3]))\n',
                      [["run", "main.wl", "--json"]], env=CLAUDE_ENV)
    values = value_of(report["runs"][0])
    assert [v["success"] for v in values] == [True] * 3
    assert len({v["session_id"] for v in values}) == 3


# --- Codex ---------------------------------------------------------------------------------

CODEX_TOML = """
[executors.codex]
type = "codex"
env = { CODEX_HOME = "codex-home" }
[agents]
default = "codex"
"""
CODEX_CONFIG = """
model_provider = "fake"
[model_providers.fake]
name = "fake"
base_url = "{url}/v1"
wire_api = "responses"
env_key = "FAKE_OPENAI_KEY"
"""
CODEX_ENV = {"FAKE_OPENAI_KEY": "sk-fake-openai-123"}


def codex_scenario(tmp_path, program, commands, script=None):
    """Codex reads its provider from CODEX_HOME/config.toml (written with the server's
    address inside the namespace); the profile passes the provider's key on."""
    (tmp_path / "codex-home").mkdir()
    toml = CODEX_TOML.replace('"codex-home"', f'"{tmp_path / "codex-home"}"').replace(
        "[agents]", 'pass_env = ["FAKE_OPENAI_KEY"]\n[agents]')
    return scenario(tmp_path, "responses", toml, program, commands, script=script,
                    env=CODEX_ENV,
                    files={str(tmp_path / "codex-home" / "config.toml"): CODEX_CONFIG})


@pytest.fixture
def codex():
    need("codex")


def test_codex_plain_step_outside_a_git_repository_without_a_model(tmp_path, codex):
    report = codex_scenario(tmp_path, '(defagent w :system "Be terse.")\n'
                            '(defworkflow main [] (spawn w "Say hello"))\n',
                            [["run", "main.wl", "--json"]])
    value = value_of(report["runs"][0])
    assert value["output"] == "Hello from the fake model."
    call = [r for r in report["requests"] if r["path"].endswith("/responses")][0]
    assert call["headers"]["authorization"] == "Bearer " + CODEX_ENV["FAKE_OPENAI_KEY"]
    assert "Be terse." in json.dumps(call["body"]["input"])  # the agent's system prompt
    assert value["usage"]["input_tokens"] == 4700
    assert value["usage"]["cache_read_input_tokens"] == 4000
    assert len(value["session_id"]) == 36  # codex's thread id


def test_codex_model_and_output_schema(tmp_path, codex):
    report = codex_scenario(tmp_path, '(defagent w :model "gpt-test")\n'
                            '(defworkflow main [] (get (spawn w "Rate" :returns {:score int}) '
                            ':score))\n', [["run", "main.wl", "--json"]],
                            script={"structured": {"score": 9}})
    assert value_of(report["runs"][0]) == 9
    call = [r for r in report["requests"] if r["path"].endswith("/responses")][0]
    assert call["body"]["model"] == "gpt-test"
    assert call["body"]["text"]["format"]["schema"]["properties"]["score"]["type"] == "integer"


def test_codex_api_error_is_the_step_error(tmp_path, codex):
    report = codex_scenario(tmp_path, '(defagent w :retries 0)\n'
                            '(defworkflow main [] (spawn w "hi"))\n', [["run", "main.wl"]],
                            script={"errors": [[400, "unknown model gpt-nope"]] * 20})
    run = report["runs"][0]
    assert run["code"] == 1 and "unknown model gpt-nope" in run["stderr"]


# --- llm ----------------------------------------------------------------------------------

LLM_TOML = """
[executors.llm]
type = "llm"
[agents]
default = "llm"
"""


@pytest.fixture
def llm():
    need("llm")


def test_llm_fan_out_on_a_fresh_llm_home(tmp_path, llm):
    """Three llm processes at once used to race on llm's logs.db (8 of 8 runs failed)."""
    report = scenario(tmp_path, "none", LLM_TOML,
                      '(defagent w :model "echo" :system "Be brief.")\n(defworkflow main [] '
                      '(map (fn [i] (spawn w (fmt "part {i}"))) [1 2 3 4 5 6]))\n',
                      [["run", "main.wl", "--json"]],
                      env={"LLM_USER_PATH": str(tmp_path / "llm-home")})
    values = value_of(report["runs"][0])
    assert len(values) == 6 and all(v["success"] for v in values)
    echoed = [json.loads(v["output"]) for v in values]
    assert [e["prompt"] for e in echoed] == [f"part {i}" for i in range(1, 7)]
    assert {e["system"] for e in echoed} == {"Be brief."}
    assert all(v["usage"]["input_tokens"] > 0 for v in values)


def test_claude_timeout_kills_the_whole_process_tree(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML,
                      '(defagent w :timeout 4 :retries 0)\n'
                      '(defworkflow main [] (spawn w "think forever"))\n',
                      [["run", "main.wl"]], script={"delay": 30}, env=CLAUDE_ENV)
    run = report["runs"][0]
    assert run["code"] == 1 and "timed out after 4" in run["stderr"]
    assert report["alive"] == []  # neither claude nor anything it started


# --- sessions: `:continue` ----------------------------------------------------------------

CONTINUED = ('(defagent w :retries 0)\n(defworkflow main [] (let [a (spawn w "Write a plan") '
             'b (spawn w "Now shorten it" :continue a)] [a.session-id b.session-id b]))\n')


def test_claude_continues_a_session_across_steps_and_across_a_resume(tmp_path, claude):
    report = scenario(tmp_path, "anthropic", CLAUDE_TOML, CONTINUED,
                      [["run", "main.wl", "--json"], ["resume", "{run_id}", "--json"]],
                      script={"errors": [None] + [[400, "prompt rejected, try later"]] * 50},
                      then={"errors": []}, env=CLAUDE_ENV)
    first, resumed = report["runs"]
    assert first["code"] == 1 and "prompt rejected" in first["stderr"]
    calls = [r for r in report["requests"] if r["path"].startswith("/v1/messages")]
    firsts = [c for c in calls if "Write a plan" in json.dumps(c["body"]["messages"])
              and "Now shorten it" not in json.dumps(c["body"]["messages"])]
    assert len(firsts) == 1  # a ran once: the resume reused it from the journal
    history = json.dumps(calls[-1]["body"]["messages"])
    assert "Write a plan" in history and "Now shorten it" in history  # a's conversation
    a_session, b_session, b = value_of(resumed)
    assert b["output"] == "Hello from the fake model." and a_session and b_session


def test_codex_continues_a_session(tmp_path, codex):
    report = codex_scenario(tmp_path, CONTINUED, [["run", "main.wl", "--json"]])
    a_session, b_session, b = value_of(report["runs"][0])
    assert a_session == b_session  # codex resumes the same thread
    calls = [r for r in report["requests"] if r["path"].endswith("/responses")]
    assert "Write a plan" in json.dumps(calls[1]["body"]["input"])


def test_llm_refuses_to_continue_a_session(tmp_path, llm):
    report = scenario(tmp_path, "none", LLM_TOML, CONTINUED.replace(":retries 0", ':model "echo"'),
                      [["run", "main.wl"]], env={"LLM_USER_PATH": str(tmp_path / "llm-home")})
    run = report["runs"][0]
    assert run["code"] == 1 and "cannot continue a session" in run["stderr"]


# --- Gemini CLI ---------------------------------------------------------------------------

GEMINI_TOML = """
[executors.gemini]
type = "gemini-cli"
env = { GOOGLE_GEMINI_BASE_URL = "{url}" }
[agents]
default = "gemini"
"""
# Gemini CLI ignores a defaults file below a directory others may write (like /tmp):
# the executor keeps its defaults in the cache directory of the real home
GEMINI_ENV = {"GEMINI_API_KEY": "gemini-test-key-123",
              "XDG_CACHE_HOME": os.path.expanduser("~/.cache")}


@pytest.fixture
def gemini():
    need("gemini")


def gemini_calls(report):
    return [r for r in report["requests"] if "Content" in r["path"]]


def test_gemini_plain_step_without_a_model_and_with_a_system_prompt(tmp_path, gemini):
    report = scenario(tmp_path, "gemini", GEMINI_TOML,
                      '(defagent w :system "Answer in French.")\n'
                      '(defworkflow main [] (spawn w "Say hello"))\n',
                      [["run", "main.wl", "--json"]], env=GEMINI_ENV)
    value = value_of(report["runs"][0])
    assert value["output"] == "Hello from the fake model." and len(value["session_id"]) == 36
    main = [c for c in gemini_calls(report) if "stream" in c["path"]][-1]
    assert main["headers"]["x-goog-api-key"] == GEMINI_ENV["GEMINI_API_KEY"]
    said = json.dumps(main["body"]["contents"])
    assert "Answer in French." in said and "Say hello" in said
    # every model the CLI called for the step counts (its own router included)
    assert value["usage"]["input_tokens"] == 4700 * len(gemini_calls(report))
    assert value["usage"]["cache_read_input_tokens"] == 4000 * len(gemini_calls(report))


def test_gemini_model_and_structured_answer(tmp_path, gemini):
    report = scenario(tmp_path, "gemini", GEMINI_TOML,
                      '(defagent w :model "gemini-test-1")\n'
                      '(defworkflow main [] (get (spawn w "Rate" :returns {:score int}) '
                      ':score))\n', [["run", "main.wl", "--json"]],
                      script={"structured": {"score": 3}}, env=GEMINI_ENV)
    assert value_of(report["runs"][0]) == 3
    paths = [c["path"] for c in gemini_calls(report)]
    assert paths == ["/v1beta/models/gemini-test-1:streamGenerateContent?alt=sse"]


def test_gemini_api_error_and_fan_out(tmp_path, gemini):
    report = scenario(tmp_path, "gemini", GEMINI_TOML,
                      '(defagent w :model "gemini-nope" :retries 0)\n'
                      '(defworkflow main [] (map (fn [i] (spawn w (fmt "part {i}"))) '
                      '[1 2 3]))\n', [["run", "main.wl"], ["run", "main.wl", "--json"]],
                      script={"errors": [[400, "model gemini-nope not found"]] * 3},
                      then={"errors": []}, env=GEMINI_ENV)
    failed, ok = report["runs"]
    assert failed["code"] == 1 and "model gemini-nope not found" in failed["stderr"]
    assert [v["success"] for v in value_of(ok)] == [True] * 3


def documented_profiles() -> str:
    """The first TOML block under "Profiles for common agent CLIs" in the docs."""
    text = open(os.path.join(ROOT, "docs", "executors.md"), encoding="utf-8").read()
    section = text[text.index("### Profiles for common agent CLIs"):]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_the_documented_profiles_run_as_written(tmp_path, claude, codex, llm, gemini):
    toml = documented_profiles()
    assert all(f"[executors.{n}]" in toml for n in ("claude", "codex", "llm", "gemini"))
    program = ('(defagent a :executor "claude")\n(defagent b :executor "codex")\n'
               '(defagent c :executor "llm" :model "echo")\n(defagent d :executor "gemini")\n'
               '(defworkflow main [] [(spawn a "hi") (spawn b "hi") (spawn c "hi") '
               '(spawn d "hi")])\n')
    (tmp_path / "codex-home").mkdir()
    report = scenario(tmp_path, "any", toml, program, [["run", "main.wl", "--json"]],
                      env={**CLAUDE_ENV, **CODEX_ENV, **GEMINI_ENV,
                           "ANTHROPIC_BASE_URL": "{url}", "GOOGLE_GEMINI_BASE_URL": "{url}",
                           "CODEX_HOME": str(tmp_path / "codex-home"),
                           "LLM_USER_PATH": str(tmp_path / "llm-home")},
                      files={str(tmp_path / "codex-home" / "config.toml"):
                             CODEX_CONFIG})
    claude_says, codex_says, llm_says, gemini_says = value_of(report["runs"][0])
    assert claude_says["output"] == codex_says["output"] == gemini_says["output"] == \
        "Hello from the fake model."
    assert json.loads(llm_says["output"])["prompt"] == "hi"
    assert {r["path"].split("?")[0] for r in report["requests"]} >= {"/v1/messages",
                                                                      "/v1/responses"}
