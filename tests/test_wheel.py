"""The wheel ships the grammar and the standard library: build, install, compile."""

import os
import site
import subprocess
import sys
import textwrap
import zipfile

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_wheel_installs_and_compiles_in_a_fresh_venv(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(dist), ROOT], check=True, capture_output=True)
    (wheel,) = dist.glob("wlisp-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies come from the test interpreter's site-packages (offline and fast);
    # a plain path entry does not run that directory's editable-install hooks.
    site_dir = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"],
                              check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site_dir, "deps.pth"), "w") as f:
        f.write("\n".join(p for p in site.getsitepackages()) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True)
    prog = tmp_path / "w.wl"
    prog.write_text(textwrap.dedent("""
        (import patterns)
        (defagent a)
        (defagent b)
        (defworkflow main [task] (fanout-synthesize [a a] b task))
    """))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(venv / "bin" / "wlisp"), "compile", str(prog)], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert '"name": "main"' in out.stdout
    where = subprocess.run([str(py), "-c", "import wlisp, os; print(os.path.dirname(wlisp.__file__))"],
                           cwd=tmp_path, capture_output=True, text=True, env=env).stdout.strip()
    assert str(venv) in where, "the test must exercise the installed wheel, not the checkout"
    # the run viewer's templates and assets are in the wheel: it works offline
    names = zipfile.ZipFile(wheel).namelist()
    for asset in ("wlisp/cli/viewer/static/style.css", "wlisp/cli/viewer/static/live.js",
                  "wlisp/cli/viewer/templates/run.html", "wlisp/cli/viewer/templates/_graph.html"):
        assert asset in names, asset
    served = subprocess.run([str(py), "-c", "from wlisp.cli.viewer import create_app; "
                             "print(create_app('.').routes[-1].app.directory)"],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert served.returncode == 0 and str(venv) in served.stdout, served.stderr
