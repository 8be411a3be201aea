"""Runtime semantics of every form (SPEC §4, §6, §7), with a recording executor."""

import asyncio
import json

import pytest

from wlisp.contract import EventList, StepOutcome, StepSpec
from wlisp.errors import WlispError
from wlisp.lang.api import compile
from wlisp.runtime import VirtualClock, run, run_async

from .recording import Recorder

AGENTS = """
(defagent writer :role :implement)
(defagent critic :role :verify)
(defagent judge)
(defagent slow)
"""


def wf(body, params="", extra=""):
    return compile(AGENTS + extra + f"(defworkflow main [{params}] {body})", "t.wl")


def go(spec, ex, inputs=None, **kw):
    return run(spec, ex, inputs or {}, retry_base=0.0, **kw)


# --- the executor seam ------------------------------------------------------------

def test_step_types_round_trip_and_load_legacy_json():
    spec = StepSpec(task_id="t1", agent="a", description="d", prompt="p", max_steps=3,
                    output_schema={"type": "object"}, attempt=2)
    assert StepSpec.from_json(spec.to_json()) == spec
    assert "model" not in json.loads(spec.to_json())
    old = StepSpec.from_json('{"task_id":"t","agent":"a","description":"d","prompt":"p"}')
    assert old.output_schema is None and old.attempt == 1
    out = StepOutcome(task_id="t1", session_id="s", agent="a", output="ok", success=True,
                      structured={"v": 1}, usage={"input_tokens": 1})
    assert StepOutcome.from_json(out.to_json()) == out
    legacy = StepOutcome.from_json('{"task_id":"t","session_id":"s","agent":"a","output":"o",'
                                   '"success":true}')
    assert legacy.structured is None and legacy.usage is None
    failed = StepOutcome.failed("t", "a", "why")
    assert not failed.success and failed.output == "why" and failed.session_id == "task-run-t"


def test_fanout_results_in_input_order_and_bound_respected():
    spec = wf('(map (fn [i] (spawn writer (fmt "{i}"))) (range 12))')
    ex = Recorder(latency=0.01, concurrency_hint=3,
                  latencies={f"main/map[{i}]/writer": 0.03 - i * 0.002 for i in range(12)})
    res = go(spec, ex)
    assert res.status == "completed"
    assert [v["output"] for v in res.value] == [f"writer: {i}" for i in range(12)]
    assert ex.max_active == 3


def test_the_smallest_bound_wins_and_bad_bounds_are_errors():
    spec = wf('(map (fn [i] (spawn writer (fmt "{i}"))) (range 8))', extra="")
    spec.concurrency = 4
    ex = Recorder(latency=0.01, concurrency_hint=6)
    assert go(spec, ex, concurrency=2).status == "completed"
    assert ex.max_active == 2
    ex2 = Recorder(latency=0.01, concurrency_hint=6)
    go(spec, ex2)
    assert ex2.max_active == 4
    with pytest.raises(WlispError):
        go(spec, Recorder(), concurrency=0)


@pytest.mark.parametrize("behaviour,needle", [
    ("RAISE", "executor raised RuntimeError: boom"),
    ("GARBAGE", "not a StepOutcome"),
    ("WRONG_ID", "answered for task `someone-else`"),
    ("FAIL", "agent gave up"),
])
def test_a_bad_step_fails_alone(behaviour, needle):
    spec = wf('(let [a (spawn writer "a") b (spawn critic "b") c (spawn judge "c")] [a b c])')
    ex = Recorder({"critic": behaviour})
    res = go(spec, ex)
    nodes = res.nodes
    assert nodes["main/b"]["status"] == "failed"
    assert needle in nodes["main/b"]["error"]
    assert nodes["main/a"]["status"] == "completed"
    assert nodes["main/c"]["status"] == "completed"
    assert res.status == "failed" and needle in res.error


def test_a_hanging_step_times_out_and_siblings_finish():
    spec = wf('[(spawn slow "forever" :timeout 0.2 :retries 0) (spawn writer "quick")]')
    ex = Recorder({"slow": "HANG"})
    res = go(spec, ex)
    assert res.nodes["main/slow"]["status"] == "failed"
    assert "timed out after 0.2s" in res.nodes["main/slow"]["error"]
    assert res.nodes["main/writer"]["status"] == "completed"


def test_transient_errors_are_retried_with_backoff():
    attempts = []

    def flaky(spec):
        attempts.append(spec.attempt)
        return "TRANSIENT" if spec.attempt < 3 else "finally"

    clock = VirtualClock()  # backoff sleeps take no real time; it records them
    spec = wf('(spawn writer "x" :retries 3)')
    events = EventList()
    res = run(spec, Recorder({"writer": flaky}), {}, clock=clock, events=events,
              retry_base=1.0)
    delays = clock.sleeps
    assert res.status == "completed" and res.value["output"] == "finally"
    assert attempts == [1, 2, 3] and res.nodes["main/writer"]["attempts"] == 3
    assert len(delays) == 2 and 0.5 <= delays[0] <= 1.5 and 1.0 <= delays[1] <= 3.0
    assert events.kinds("main/writer").count("retried") == 2


def test_transient_errors_give_up_after_retries():
    res = go(wf('(spawn writer "x" :retries 1)'), Recorder({"writer": "TRANSIENT"}))
    assert res.status == "failed" and res.nodes["main/writer"]["attempts"] == 2


def test_structured_output_is_validated_and_retried_with_the_errors():
    def answer(spec):
        if spec.attempt == 1:
            return StepOutcome(task_id=spec.task_id, agent="critic", output='{"score": "high"}')
        assert "previous answer was invalid" in spec.prompt and "score" in spec.prompt
        return StepOutcome(task_id=spec.task_id, agent="critic",
                           output='Sure:\n```json\n{"score": 0.7}\n```')
    spec = wf('(let [r (spawn critic "rate" :returns {:score number})] r.score)')
    res = go(spec, Recorder({"critic": answer}))
    assert res.status == "completed" and res.value == 0.7


def test_structured_output_failure_after_retries():
    spec = wf('(spawn critic "rate" :returns {:score number} :retries 1)')
    res = go(spec, Recorder({"critic": "not json at all"}))
    assert res.status == "failed"
    assert "not JSON" in res.nodes["main/critic"]["error"]
    assert res.nodes["main/critic"]["attempts"] == 2


def test_body_forms_run_in_order():
    spec = wf('(do (spawn writer "first") (spawn critic "second"))')
    ex = Recorder(latency=0.02)
    res = go(spec, ex)
    assert res.status == "completed" and ex.ids() == ["main/writer", "main/critic"]
    assert ex.max_active == 1


def test_let_bindings_run_concurrently():
    spec = wf('(let [a (spawn writer "a") b (spawn critic "b")] [a b])')
    ex = Recorder(latency=0.05)
    go(spec, ex)
    assert ex.max_active == 2


def test_loop_until_and_loop_info():
    scores = iter([0.2, 0.5, 0.9, 1.0])
    spec = wf("""
(let [d (loop [prev nil] :max 5 :until (fn [v] (>= v.score 0.8))
          (spawn critic (fmt "try again after {prev}") :returns {:score number}))]
  [d.score (loop-info d)])""")
    ex = Recorder({"critic": lambda s: {"score": next(scores)}})
    res = go(spec, ex)
    assert res.value == [0.9, {"iterations": 3, "stopped": "until"}]
    assert ex.ids() == [f"main/d@{k}/critic" for k in (1, 2, 3)]
    assert '"score": 0.2' in ex.calls[1].prompt  # prev is the previous iteration's outcome


def test_loop_stops_on_signal_and_on_max():
    spec = wf("(let [x (loop [p nil] :max 4 (spawn writer \"go\")) y (loop-info x)] y)")
    assert go(spec, Recorder()).value == {"iterations": 4, "stopped": "max"}
    calls = iter([{"loop_continue": True}, {"loop_continue": False}])
    res = go(spec, Recorder({"writer": lambda s: next(calls)}))
    assert res.value == {"iterations": 2, "stopped": "signal"}


def test_a_failed_iteration_fails_the_loop():
    spec = wf('(loop [p nil] :max 3 (spawn writer "go" :retries 0))')
    res = go(spec, Recorder({"writer": "FAIL"}))
    assert res.status == "failed"
    assert res.nodes["main/loop"]["status"] == "failed"
    assert "iteration 1" in res.nodes["main/loop"]["error"]


def test_classify_routes_and_prunes():
    spec = wf("""
(classify (spawn judge "triage")
  (:bug (spawn writer "fix the bug"))
  (:feature (spawn critic "spec it")))""")
    ex = Recorder({"judge": "Feature"})   # bare label as text, any case
    res = go(spec, ex)
    assert res.status == "completed" and res.value["output"] == "critic: spec it"
    assert "main/bug/writer" not in ex.ids()
    assert res.nodes["main/bug/writer"]["status"] == "pruned"
    assert ex.calls[0].output_schema["properties"]["label"]["enum"] == ["bug", "feature"]


def test_classify_without_match_names_value_and_labels():
    spec = wf('(classify (spawn judge "triage") (:bug 1) (:feature 2))')
    res = go(spec, Recorder({"judge": {"label": "question"}}))
    assert res.status == "failed"
    # the schema rejects the label first (retry, then failure): the step fails
    assert "question" in json.dumps(res.nodes)


def test_expression_classifier_no_match():
    spec = wf("(case x :a 1 :b 2)", params="x")
    res = go(spec, Recorder(), {"x": "zzz"})
    err = res.nodes["main/case"]["error"]
    assert res.status == "failed" and '"zzz"' in err and "a, b" in err


def test_if_over_runtime_value():
    spec = wf('(if (> n 2) (spawn writer "big") (spawn critic "small"))', params="n")
    ex = Recorder()
    assert go(spec, ex, {"n": 5}).value["agent"] == "writer"
    assert ex.ids() == ["main/writer"]
    assert go(spec, Recorder(), {"n": 1}).nodes["main/writer"]["status"] == "pruned"


def test_single_elimination_bracket_with_a_bye():
    spec = wf("""
(let [best (tournament [(spawn writer "e0") (spawn writer "e1") (spawn writer "e2")
                        (spawn writer "e3") (spawn writer "e4")]
                       (fn [a b] (spawn judge (fmt "A={a} B={b}"))))]
  [best.output (tournament-info best)])""")
    # the judge prefers the entrant with the higher number
    def judge(spec):
        a = int(spec.prompt.split("A=writer: e")[1][0])
        b = int(spec.prompt.split("B=writer: e")[1][0])
        return {"winner": "a" if a > b else "b"}
    res = go(spec, Recorder({"judge": judge}))
    value, info = res.value
    assert value == "writer: e4"
    rounds = [[(m["a"], m["b"], m["winner"]) for m in r] for r in info["rounds"]]
    assert rounds == [[(0, 1, 1), (2, 3, 3)], [(1, 3, 3)], [(4, 3, 4)]] or \
        rounds == [[(0, 1, 1), (2, 3, 3)], [(1, 3, 3), ], [(3, 4, 4)]]


def test_round_robin_ties_go_to_the_lower_index():
    spec = wf("""
(tournament [(spawn writer "x") (spawn writer "y") (spawn writer "z")]
            (fn [a b] (spawn judge "pick")) :format :round-robin)""")
    answers = iter(["a", "b", "a"])  # 0 beats 1, 2 beats 0, 1 beats 2: one win each
    res = go(spec, Recorder({"judge": lambda s: {"winner": next(answers)}}, latency=0))
    assert res.value["output"] == "writer: x"


def test_a_judge_answering_neither_fails_the_tournament():
    spec = wf('(tournament [(spawn writer "x") (spawn writer "y")] (fn [a b] (spawn judge "?")))')
    res = go(spec, Recorder({"judge": StepOutcome(task_id="main/tournament/match[1.1]/judge",
                                                  agent="judge", output="both are great")}))
    assert res.status == "failed"
    assert "match 1.1" in res.nodes["main/tournament"]["error"] or \
        "main/tournament/match[1.1]/judge" in res.nodes


def test_runtime_map_limit_and_order():
    spec = wf('(map (fn [x] (spawn writer (fmt "item {x}"))) items :limit 2)', params="items")
    ex = Recorder(latency=0.02)
    res = go(spec, ex, {"items": ["a", "b", "c", "d", "e"]})
    assert [v["output"] for v in res.value] == [f"writer: item {x}" for x in "abcde"]
    assert ex.max_active == 2
    assert ex.ids()[0] == "main/map[0]/writer"


def test_pipeline_chains_are_independent_and_stop_early():
    spec = wf("""
(pipeline items
  (fn [prev item] (spawn writer (fmt "draft {item}")))
  (fn [prev item] (when (!= item "stop") (spawn critic (fmt "review {prev}")))))""",
              params="items")
    ex = Recorder(latencies={"main/pipeline[1]/stage1/writer": 0.2})
    res = go(spec, ex, {"items": ["a", "slow", "stop"]})
    outs = [v["output"] if v else None for v in res.value]
    assert outs == ["critic: review writer: draft a", "critic: review writer: draft slow",
                    "writer: draft stop"]
    ids = ex.ids()
    # item 0's second stage does not wait for item 1's slow first stage
    assert ids.index("main/pipeline[0]/stage2/critic") < \
        ids.index("main/pipeline[1]/stage2/critic")


def test_pipeline_failure_stops_only_its_chain():
    spec = wf("""
(pipeline ["ok" "bad"]
  (fn [prev item] (spawn writer (fmt "{item}") :retries 0))
  (fn [prev item] (spawn critic (fmt "after {prev}"))))""")
    ex = Recorder({"writer": lambda s: "FAIL" if "bad" in s.prompt else "fine"})
    res = go(spec, ex)
    assert res.status == "completed"
    assert res.value[0]["agent"] == "critic" and res.value[1]["success"] is False
    assert "main/pipeline[1]/stage2/critic" not in ex.ids()


def test_try_catch_and_fail():
    spec = wf('(try (spawn writer "x" :retries 0) :catch (fn [e] (fmt "caught: {e.message}")))')
    res = go(spec, Recorder({"writer": "FAIL"}))
    assert res.status == "completed" and res.value == "caught: agent gave up"
    res = go(wf('(try (fail "nope"))'), Recorder())
    assert res.status == "completed" and res.value is None
    res = go(wf('(do (spawn writer "a") (fail "stop here") (spawn critic "never"))'), Recorder())
    assert res.status == "failed" and "stop here" in res.error
    assert res.nodes["main/critic"]["status"] == "skipped"


def test_failure_skips_dependents_and_fails_the_run():
    spec = wf('(let [a (spawn writer "a" :retries 0) b (spawn critic (fmt "use {a}"))] b)')
    ex = Recorder({"writer": "FAIL"})
    res = go(spec, ex)
    assert res.status == "failed"
    assert res.nodes["main/b"]["status"] == "skipped"
    assert ex.ids() == ["main/a"]


def test_quarantined_steps_get_no_tools():
    spec = compile("""
(deftool grep :params {:q string} :command ["grep" "{q}"])
(defagent reader :tools [grep] :trust :quarantined)
(defagent helper :tools [grep])
(defworkflow main [] [(get (spawn reader "read" :returns {:n int}) :n) (spawn helper "help")])""")
    ex = Recorder()
    go(spec, ex)
    by_agent = {c.agent: c for c in ex.calls}
    assert by_agent["reader"].tools is None and by_agent["reader"].trust == "quarantined"
    assert by_agent["helper"].tools[0]["command"] == ["grep", "{q}"]


def test_step_budget_exhausts_and_cancels_in_flight():
    spec = wf('(map (fn [i] (spawn slow (fmt "{i}"))) (range 10))')
    spec.budget = {"steps": 4}
    ex = Recorder(latency=0.05, concurrency_hint=2)
    res = go(spec, ex)
    assert res.status == "budget_exhausted" and "step budget" in res.error
    assert len(ex.calls) == 4
    statuses = {v["status"] for v in res.nodes.values()}
    assert statuses <= {"completed", "cancelled"}


def test_wall_budget():
    spec = wf('(spawn slow "long")')
    spec.budget = {"wall": 0.1}
    res = go(spec, Recorder({"slow": "HANG"}))
    assert res.status == "budget_exhausted"
    assert res.nodes["main/slow"]["status"] == "cancelled"


def test_token_budget():
    spec = wf('(do (spawn writer "a") (spawn writer "b") (spawn writer "c"))')
    spec.budget = {"tokens": 20}
    res = go(spec, Recorder())
    assert res.status == "budget_exhausted" and "token budget" in res.error


def test_human_gate_pauses_and_answers_continue():
    spec = wf('(let [ok (human "Ship it?")] (if ok (spawn writer "ship") "held"))')
    res = go(spec, Recorder())
    assert res.status == "paused" and res.gates == {"main/ok": "Ship it?"}
    res = go(spec, Recorder(), answers={"main/ok": True})
    assert res.status == "completed" and res.value["output"] == "writer: ship"


def test_inputs_are_checked():
    spec = wf('(spawn writer (fmt "{x}"))', params="x")
    with pytest.raises(WlispError, match="needs input `x`"):
        go(spec, Recorder())
    with pytest.raises(WlispError, match="no input `y`"):
        go(spec, Recorder(), {"x": 1, "y": 2})


def test_every_node_ends_in_a_final_status_and_events_flow():
    spec = wf("""
(let [a (spawn writer "a") b (classify (spawn judge "j") (:x (spawn critic "x")) (:else nil))]
  [a b])""")
    events = EventList()
    res = go(spec, Recorder({"judge": "other"}), events=events)
    assert {v["status"] for v in res.nodes.values()} <= {"completed", "pruned"}
    kinds = events.kinds()
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert "pruned" in kinds and kinds.count("started") == kinds.count("finished")


def test_run_async_is_the_same():
    spec = wf('(spawn writer "x")')
    res = asyncio.run(run_async(spec, Recorder(), {}))
    assert res.status == "completed" and res.run_id


def test_exclusive_agents_run_one_step_at_a_time():
    spec = compile("""
(defagent editor :exclusive true)
(defagent reader)
(defworkflow main []
  [(spawn editor "1") (spawn editor "2") (spawn editor "3") (spawn reader "a") (spawn reader "b")])""")
    ex = Recorder(latency=0.02)
    assert go(spec, ex).status == "completed"
    assert ex.per_agent_max["editor"] == 1 and ex.per_agent_max["reader"] == 2


def test_mock_executor_answers_valid_structured_output():
    from wlisp.executors.mock import MockExecutor

    spec = wf("""
(let [v (spawn critic "grade" :returns {:passed bool :overall_score number :tags (list-of string)
                                        :level (enum "low" "high") :note (optional string)})
      route (classify (spawn judge "route") (:x "went x") (:y "went y"))]
  [v.passed v.level route])""")
    res = go(spec, MockExecutor())
    assert res.status == "completed" and res.value == [True, "low", "went x"]


@pytest.mark.parametrize("journaled", [False, True])
def test_a_finished_run_leaves_no_reference_cycles(journaled, tmp_path):
    """Everything a run allocates is freed by reference counting when the run is over:
    a cycle through the scheduler would keep the whole run (records, outcomes, plans)
    alive until the garbage collector walks it, which made every collection slow."""
    import gc

    spec = wf('(let [a (spawn writer "a") b (map (fn [i] (spawn critic (fmt "{i} {a}"))) '
              '(range 3))] (loop [x nil] :max 2 (classify (spawn judge "j") '
              '(:ok (try (spawn writer "w") :catch (fn [e] "caught"))) (:else (fail "no")))))')
    kinds = ("NodeRecord", "NodePlan", "StepOutcome", "Scheduler", "RunState")

    async def one_run():
        store = {"store": str(tmp_path)} if journaled else {}
        res = await run_async(spec, Recorder(), {}, retry_base=0.0, **store)
        assert res.status in ("completed", "failed")

    loop = asyncio.new_event_loop()
    gc.disable()
    try:
        loop.run_until_complete(one_run())  # warm: lazily built tables are not the run's
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        loop.run_until_complete(one_run())
        gc.collect()
        leaked = sorted({type(o).__name__ for o in gc.garbage} & set(kinds))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        loop.close()
    assert leaked == []


def test_a_run_leaves_the_collectors_state_as_it_found_it():
    """Runs freeze the heap they start with (less for the collector to scan), and undo
    it; a program that froze objects itself keeps them frozen."""
    import gc

    spec = wf('(spawn writer "a")')
    thresholds = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    go(spec, Recorder())
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        go(spec, Recorder())
        # the program's freeze is still in place (not undone: that would make it 0; a
        # few frozen objects may have died meanwhile)
        assert gc.get_freeze_count() > frozen * 0.9
    finally:
        gc.unfreeze()


def test_runs_at_once_in_one_process_leave_the_collector_as_they_found_it():
    """The first run in sets the thresholds, the last one out restores them, even when
    the first one in is the first one out."""
    import gc

    spec = wf('(spawn writer "a")')
    thresholds = gc.get_threshold()

    async def both():
        first = asyncio.ensure_future(run_async(spec, Recorder(latency=0.1), {}))
        await asyncio.sleep(0.02)
        second = asyncio.ensure_future(run_async(spec, Recorder(latency=1.0), {}))
        done = await first  # in first, out first
        assert not second.done()
        return done, await second
    first, second = asyncio.run(both())
    assert first.status == second.status == "completed"
    assert gc.get_threshold() == thresholds and gc.get_freeze_count() == 0
