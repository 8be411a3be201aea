import os
import sys

import pytest

from wlisp.api import check, compile

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
