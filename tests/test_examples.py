"""Every example runs offline, with `mock` and with its scripted answers, from the CLI."""

import glob
import json
import os
import subprocess

import pytest

from .conftest import ROOT, wlisp_bin

INPUTS = {"review_panel": ["diff=@README.md"], "triage": ["ticket=The export crashes"],
          "essay_loop": ["topic=tide pools"], "best_of": ["task=fizzbuzz(n)"],
          "research": ["question=Why did containers win?"]}
EXPECTED = {  # with the scripted answers
    "review_panel": lambda v: v.startswith("changes requested"),
    "triage": lambda v: "export crash is fixed" in v,
    "essay_loop": lambda v: v == {"score": 0.86, "rounds": 2},
    "best_of": lambda v: v["winner"].endswith("# v2") and v["bracket"]["winner"] == 1,
    "research": lambda v: v.startswith("Containers won"),
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
