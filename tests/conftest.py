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
