"""Property: the outcome of a run depends on the executor's answers, never on timing.

Random DAGs of steps (each reading a random set of earlier steps), random
latencies and random failures: node statuses and the final value must match a
simple reference model, and be identical under two different timings.
"""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wlisp.lang.api import compile
from wlisp.runtime import run_async

from .recording import Recorder


@st.composite
def dags(draw):
    n = draw(st.integers(1, 9))
    deps = [sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else []
            for i in range(n)]
    failing = draw(st.sets(st.integers(0, n - 1), max_size=2))
    order_mode = draw(st.sampled_from(["let", "do"]))
    timings = [draw(st.lists(st.sampled_from([0, 0.001, 0.003, 0.006]), min_size=n,
                             max_size=n)) for _ in range(2)]
    return n, deps, failing, order_mode, timings


def program(n, deps, order_mode):
    if order_mode == "do":  # body forms: each waits for the previous one, no data deps
        steps = " ".join(f'(spawn w{i % 3} "step {i}" :retries 0 :id "s{i}")' for i in range(n))
        return ("(defagent w0) (defagent w1) (defagent w2)\n"
                f"(defworkflow main [] (do {steps}))")
    lines = []
    for i in range(n):
        holes = " ".join(f"{{s{d}}}" for d in deps[i])
        lines.append(f'  s{i} (spawn w{i % 3} (fmt "step {i} {holes}") :retries 0)')
    sinks = " ".join(f"s{i}" for i in range(n))
    body = f"[{sinks}]" if order_mode == "let" else f"(do {sinks})"
    return ("(defagent w0) (defagent w1) (defagent w2)\n(defworkflow main []\n (let [\n"
            + "\n".join(lines) + f"]\n  {body}))")


def model(n, deps, failing):
    status = []
    for i in range(n):
        if any(status[d] != "completed" for d in deps[i]):
            status.append("skipped")
        elif i in failing:
            status.append("failed")
        else:
            status.append("completed")
    return status


def node_id(i, mode):
    return f"main/s{i}"  # a binding's one step takes its name; `:id "s{i}"` the same


async def execute(spec, n, failing, timing, mode):
    latencies = {node_id(i, mode): timing[i] for i in range(n)}

    def answer(step):
        i = int(step.prompt.split()[1])
        return "FAIL" if i in failing else f"out-{i}"
    ex = Recorder({f"w{k}": answer for k in range(3)}, latencies=latencies)
    return await run_async(spec, ex, {})


@given(dags())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_statuses_and_value_do_not_depend_on_timing(case):
    n, deps, failing, order_mode, timings = case
    spec = compile(program(n, deps, order_mode), "dag.wl")
    first = asyncio.run(execute(spec, n, failing, timings[0], order_mode))
    second = asyncio.run(execute(spec, n, failing, timings[1], order_mode))
    statuses = {k: v["status"] for k, v in first.nodes.items()}
    assert statuses == {k: v["status"] for k, v in second.nodes.items()}
    assert (first.status, first.value) == (second.status, second.value)
    expected = model(n, deps, failing)
    got = [statuses.get(node_id(i, order_mode), "never") for i in range(n)]
    if order_mode == "let":
        assert got == expected
        assert first.status == ("failed" if failing else "completed")
        if not failing:
            assert [v["output"] for v in first.value] == [f"out-{i}" for i in range(n)]
    else:
        # in a `do` body each step also waits for the previous one: after the first
        # failure every later step is skipped
        first_fail = min(failing, default=n)
        assert all(s == "completed" for s in got[:first_fail])
        assert all(s == "skipped" for s in got[first_fail + 1:])
        assert first.status == ("failed" if failing else "completed")
