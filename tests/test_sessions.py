"""`:continue x`: a step runs in the session of an earlier step of the same agent.
A data dependency on x, checked at compile time, journaled, kept across a resume."""

from __future__ import annotations

import json

import pytest

from wlisp.contract import StepOutcome, StepSpec, step_hash
from wlisp.errors import WlispError
from wlisp.ir.spec import WorkflowSpec
from wlisp.lang.api import compile
from wlisp.runtime import resume, run

from .recording import Recorder

SRC = ('(defagent fixer) (defagent reviewer)\n'
       '(defworkflow main [] (let [a (spawn fixer "fix it") r (spawn reviewer (fmt "review '
       '{a}")) b (spawn fixer (fmt "address: {r}") :continue a)] b))')


def test_continue_compiles_to_a_session_expression_and_a_dependency():
    spec = compile(SRC)
    b = spec.graph.nodes[2]
    assert b.session == {"get": {"ref": "main/a"}, "path": ["session_id"]}
    assert WorkflowSpec.from_json(spec.to_json()).graph.nodes[2].session == b.session


@pytest.mark.parametrize("src, message", [
    ('(defagent w) (defagent v) (defworkflow main [] (let [a (spawn w "x")] '
     '(spawn v "y" :continue a)))', "needs a step of the same agent"),
    ('(defagent w) (defworkflow main [] (spawn w "y" :continue "abc"))',
     "takes an earlier step, not a string"),
    ('(defagent w) (defworkflow main [] (let [xs (map (fn [i] (spawn w "x")) [1 2])] '
     '(spawn w "y" :continue xs)))', "takes an earlier step"),
])
def test_continue_takes_an_earlier_step_of_the_same_agent(src, message):
    with pytest.raises(WlispError) as info:
        compile(src)
    d = info.value.diagnostics[0]
    assert d.code == "W0303" and message in d.message and d.span is not None


def test_a_trusted_step_cannot_continue_a_quarantined_conversation():
    with pytest.raises(WlispError) as info:
        compile('(defagent w) (defworkflow main [] (let [a (spawn w "read" :trust '
                ':quarantined :returns {:n int})] [a.n (spawn w "go on" :continue a)]))')
    assert [d.code for d in info.value.diagnostics] == ["W0401"]
    assert "session" in info.value.diagnostics[0].message


def test_the_executor_gets_the_session_and_a_resume_keeps_it(tmp_path):
    spec = compile(SRC)
    first = Recorder(answers={"fixer": lambda s: "FAIL" if s.parent_session_id else
                              StepOutcome(s.task_id, "sess-42", s.agent, "fixed", True)})
    res = run(spec, first, {}, store=str(tmp_path), run_id="r1")
    assert res.status == "failed"
    b_call = [c for c in first.calls if c.task_id == "main/b"][0]
    assert b_call.parent_session_id == "sess-42"
    again = Recorder()
    res = resume("r1", again, store=str(tmp_path))
    assert res.status == "completed"
    assert [c.task_id for c in again.calls] == ["main/b"]  # a and r were journaled
    assert again.calls[0].parent_session_id == "sess-42"


def test_continuing_another_session_is_another_step_hash():
    plain = StepSpec(task_id="t", agent="a", prompt="p")
    assert step_hash(plain) != step_hash(StepSpec(task_id="t", agent="a", prompt="p",
                                                  parent_session_id="s1"))
    assert step_hash(plain) == step_hash(StepSpec(task_id="t", agent="a", prompt="p"))


def test_the_mock_executor_stays_in_the_continued_session():
    import wlisp
    from wlisp.executors.mock import MockExecutor

    res = wlisp.run(compile('(defagent w) (defworkflow main [] (let [a (spawn w "x") '
                            'b (spawn w "y" :continue a)] [a.session-id b.session-id]))'),
                    executor=MockExecutor(), inputs={})
    assert res.value[0] == res.value[1] == "mock-main/a"


def test_an_executor_that_cannot_continue_says_so(tmp_path):
    import sys

    from wlisp.executors.command import CommandExecutor

    spec = compile('(defagent w :retries 0) (defworkflow main [] (let [a (spawn w "x") '
                   'b (spawn w "y" :continue a)] b))')
    res = run(spec, CommandExecutor([sys.executable, "-c", "print(1)"]), {})
    assert res.status == "failed" and "no {session} placeholder" in res.error
    ok = CommandExecutor([sys.executable, "-c", "import sys; print(sys.argv[1:])",
                          ["--resume", "{session}"]])
    res = run(spec, ok, {})
    assert res.status == "completed" and "'--resume', 'cmd-main/a'" in res.value["output"]
    assert json.loads(spec.to_json())  # the spec stays plain JSON
