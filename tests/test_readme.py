"""The README is the front door: its workflow compiles and runs, and the diagnostic it
shows is the one wlisp prints for the typo it describes."""

import os
import re
import subprocess

from .conftest import ROOT, wlisp_bin

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
WORKFLOW = re.search(r"```clojure\n(.*?)```", README, re.S).group(1)


def test_readme_workflow_runs_with_mock(tmp_path):
    path = tmp_path / "review.wl"
    path.write_text(WORKFLOW)
    res = subprocess.run([wlisp_bin(), "run", "review.wl", "-i", "diff=+print(1)", "-q",
                          "--no-journal"], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "approved"


def test_readme_diagnostic_is_real(tmp_path):
    shown = re.search(r"```\n(review\.wl:.*?)```", README, re.S).group(1).strip()
    (tmp_path / "review.wl").write_text(WORKFLOW.replace("(spawn reviewer", "(spawn reviwer", 1))
    res = subprocess.run([wlisp_bin(), "check", "review.wl"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.startswith(shown)


def test_the_quick_start_is_two_commands_and_ci_runs_the_second():
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert len(commands) == 2 and commands[1] == "uv run pytest"
    assert "uv run pytest" in open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    first = commands[0].split()
    assert first[:3] == ["uv", "run", "wlisp"]
    env = {**os.environ}
    res = subprocess.run([wlisp_bin(), *shlex_split(commands[0])[3:]], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip()


def shlex_split(text):
    import shlex

    return shlex.split(text)
