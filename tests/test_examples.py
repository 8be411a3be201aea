"""Every example runs offline, with `mock` and with its scripted answers, from the CLI."""

import glob
import json
import os
import subprocess

import pytest

from .conftest import ROOT, wlisp_bin

INPUTS = {"review_panel": ["diff=@README.md"], "triage": ["ticket=The export crashes"],
          "essay_loop": ["topic=tide pools"], "best_of": ["task=fizzbuzz(n)"],
          "research": ["question=Why did containers win?"],
          "design_plan_implement": ["brief=Let users export the reports table as CSV"]}
EXPECTED = {  # with the scripted answers
    "review_panel": lambda v: v.startswith("changes requested"),
    "triage": lambda v: "export crash is fixed" in v,
    "essay_loop": lambda v: v == {"score": 0.86, "rounds": 2},
    "best_of": lambda v: v["winner"].endswith("# v2") and v["bracket"]["winner"] == 1,
    "research": lambda v: v.startswith("Containers won"),
    "design_plan_implement": lambda v: v["status"] == "APPROVED"
    and v["rounds"] == {"design": 2, "plan": 1, "change": 2} and "all 212 tests pass" in v["change"],
}
EXAMPLES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "examples",
                                                                           "*.wl")))


def wlisp(*args):
    return subprocess.run([wlisp_bin(), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def test_every_example_is_listed_here():
    assert set(EXAMPLES) == set(INPUTS)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_with_mock(name):
    args = [a for i in INPUTS[name] for a in ("--input", i)]
    res = wlisp("run", f"examples/{name}.wl", "--executor", "mock", "--json", *args)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == "completed"
    assert all(n["status"] in ("completed", "pruned") for n in out["nodes"].values())


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_with_scripted_answers(name):
    args = [a for i in INPUTS[name] for a in ("--input", i)]
    res = wlisp("run", f"examples/{name}.wl", "--executor", "scripted", "--answers",
                f"examples/{name}.answers.toml", "--json", *args)
    assert res.returncode == 0, res.stderr
    value = json.loads(res.stdout)["value"]
    if isinstance(value, dict) and "output" in value and "task_id" in value:
        value = value["output"]
    assert EXPECTED[name](value), value


def test_check_is_clean_on_examples_and_stdlib():
    files = sorted(glob.glob(os.path.join(ROOT, "examples", "*.wl"))
                   + glob.glob(os.path.join(ROOT, "stdlib", "*.wl")))
    res = wlisp("check", *files)
    assert res.returncode == 0, res.stderr


def test_switch_example_runs_with_three_executors_chosen_by_config(tmp_path, monkeypatch):
    """The same workflow with mock, a command-line agent and an OpenAI-compatible
    server, switched only by wlisp.toml."""
    from .chat_server import ChatServer, completion

    src = "examples/switch/summarize.wl"
    args = ["run", src, "-i", "text=wlisp is a lisp for agents", "--json", "-q",
            "--state-dir", str(tmp_path / "state")]
    mock = json.loads(wlisp(*args).stdout)
    assert mock["status"] == "completed" and mock["value"]["summary"].startswith("[summarizer]")
    cli = wlisp(*args, "--config", "examples/switch/command.toml")
    assert cli.returncode == 0, cli.stderr
    assert "agent: summarizer" in json.loads(cli.stdout)["value"]["summary"]
    with ChatServer() as server:
        server.replies = [completion("- a lisp\n- for agents"),
                          completion('{"faithful": true, "missing": []}')]
        toml = open(os.path.join(ROOT, "examples/switch/openai.toml")).read()
        cfg = tmp_path / "wlisp.toml"
        cfg.write_text(toml.replace("http://127.0.0.1:8080/v1", server.url))
        env = {**os.environ, "OPENAI_API_KEY": "sk-local"}
        res = subprocess.run([wlisp_bin(), *args, "--config", str(cfg)], capture_output=True,
                             text=True, cwd=ROOT, env=env, timeout=60)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["value"] == {"summary": "- a lisp\n- for agents", "faithful": True}
        assert out["usage"]["tokens"] == 30
        assert server.requests[1]["body"]["model"] == "qwen2.5-7b-instruct"
