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
