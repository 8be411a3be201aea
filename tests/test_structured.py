"""Structured answers (issue 12): strict schemas go to models, answers are read
leniently — every required field present, extra fields accepted and dropped."""

import pytest

import wlisp
from wlisp.runtime.structured import drop_extras, lenient, validate

from .recording import Recorder

SRC = """
(defagent a)
(defschema Item {:name string :tags (list-of {:t string})})
(defworkflow main [] (spawn a "x" :returns {:ok bool :items (list-of Item)
                                             :maybe (optional {:n int})}))
"""


def run_answer(answer):
    spec = wlisp.compile(SRC, "t.wl")
    ex = Recorder({"a": answer})
    return wlisp.run(spec, ex, {}), ex, spec


def test_extra_fields_are_accepted_and_dropped_at_every_level():
    res, ex, spec = run_answer({"ok": True, "extra": 1, "maybe": {"n": 2, "x": 3},
                                "items": [{"name": "n", "more": True,
                                           "tags": [{"t": "a", "u": "b"}]}]})
    assert res.status == "completed" and len(ex.calls) == 1
    assert res.value["structured"] == {"ok": True, "maybe": {"n": 2},
                                       "items": [{"name": "n", "tags": [{"t": "a"}]}]}
    # the model was still sent the strict schema
    assert ex.calls[0].output_schema["additionalProperties"] is False


@pytest.mark.parametrize("answer", [{"items": []}, {"ok": "yes", "items": []},
                                    {"ok": True, "items": [{"tags": []}]}])
def test_missing_or_mistyped_required_fields_still_fail(answer):
    res, ex, _ = run_answer(answer)
    assert res.status == "failed" and len(ex.calls) == 3  # retried with the errors


def test_lenient_and_drop_extras_on_plain_schemas():
    strict = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"],
              "additionalProperties": False}
    assert validate({"a": 1, "b": 2}, strict) and not validate({"a": 1, "b": 2},
                                                                lenient(strict))
    assert drop_extras({"a": 1, "b": 2}, strict) == {"a": 1}
    assert lenient(strict)["required"] == ["a"] and "additionalProperties" in strict
