"""`(include-text "prompts/x.md")`: prompts kept in files, read at compile time from
the workflow's own tree (the confinement of `import`), part of each step's hash so an
incremental re-run redoes exactly the steps whose prompt file changed."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from .conftest import wlisp_bin

PROGRAM = """(defagent w)
(defworkflow main []
  [(spawn w (include-text "prompts/plan.md") :id "plan")
   (spawn w (str (include-text "prompts/review.md") " now") :id "review")])
"""


def cli(*args, cwd):
    return subprocess.run([wlisp_bin(), *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "WLISP_HOME": str(cwd / "state")}, timeout=60)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "plan.md").write_text("Plan the change.\n")
    (tmp_path / "prompts" / "review.md").write_text("Review the plan")
    (tmp_path / "main.wl").write_text(PROGRAM)
    return tmp_path


def test_prompts_come_from_files(project):
    res = cli("compile", "main.wl", cwd=project)
    assert res.returncode == 0, res.stderr
    prompts = [n["prompt"] for n in json.loads(res.stdout)["graph"]["nodes"]]
    assert prompts[0] == "Plan the change.\n"
    assert "Review the plan now" in json.dumps(prompts[1])


def test_changing_one_prompt_file_reruns_only_its_step(project):
    first = cli("run", "main.wl", "--json", cwd=project)
    assert first.returncode == 0, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    (project / "prompts" / "review.md").write_text("Review the plan strictly")
    again = cli("run", "main.wl", "--json", "--resume", run_id, cwd=project)
    assert again.returncode == 0, again.stderr
    nodes = json.loads(again.stdout)["nodes"]
    assert nodes["main/plan"].get("reused") and not nodes["main/review"].get("reused")


@pytest.mark.parametrize("target, code, words", [
    ('"../outside.md"', "W0502", "outside"),
    ('"/etc/hostname"', "W0502", "absolute path"),
    ('"prompts/link.md"', "W0502", "outside"),
    ('"prompts/missing.md"', "W0501", "no such file"),
    ('"prompts/binary.md"', "W0505", "cannot read"),
    ("5", "W0303", "file name"),
])
def test_files_outside_the_tree_or_unreadable_are_diagnostics(project, target, code, words):
    (project.parent / "outside.md").write_text("secret")
    (project / "prompts" / "link.md").symlink_to(project.parent / "outside.md")
    (project / "prompts" / "binary.md").write_bytes(b"\xff\xfe\x00bad")
    (project / "bad.wl").write_text(f'(defagent w)\n(defworkflow main [] '
                                    f'(spawn w (include-text {target})))\n')
    res = cli("check", "bad.wl", cwd=project)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"error[{code}]" in res.stderr and words in res.stderr and "bad.wl:2:" in res.stderr
