import os
import sys

import pytest
from hypothesis import settings

from wlisp.lang.api import check, compile

# CI runs the property tests with a fixed seed, so a landing never depends on luck;
# local runs explore new examples every time (WLISP_FUZZ=N raises the count).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wlisp_bin() -> str:
    """The `wlisp` console script of the interpreter running the tests."""
    return os.path.join(os.path.dirname(sys.executable), "wlisp")


@pytest.fixture
def compile_src():
    def run(text, workflow=None, filename="t.wl"):
        return compile(text, filename, workflow)
    return run


@pytest.fixture
def diags():
    def run(text, filename="t.wl"):
        return [(d.code, d.span.line if d.span else None, d.span.col if d.span else None)
                for d in check(text, filename)]
    return run


# --- no journal left in the checkout ------------------------------------------------------
# Runs are journaled in the project (the nearest wlisp.toml or git root): a test that
# runs a workflow without saying where would leave runs in this repository, which
# then show up in the user's `wlisp runs`. Every test gets a state directory of its
# own, and the session fails if a journal appears in the checkout anyway.

def _journals():
    found = set()
    for here, dirs, _files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv", "venv", "node_modules")]
        if ".wlisp" in dirs:
            found.add(os.path.join(here, ".wlisp"))
    return found


_BEFORE = _journals()


@pytest.fixture(autouse=True)
def _state_outside_the_checkout(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("WLISP_HOME", str(tmp_path_factory.mktemp("wlisp-home")))


def pytest_sessionfinish(session, exitstatus):
    left = sorted(_journals() - _BEFORE)
    if left:
        print(f"\ntests left journals in the checkout: {', '.join(left)}", file=sys.stderr)
        session.exitstatus = 1
