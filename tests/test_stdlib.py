"""The standard library's workflow patterns (stdlib/patterns.wl), compiled and run
with scripted answers: node shapes, values, and the routes each pattern can take."""

import os

import pytest

import wlisp
from wlisp.lang.api import check
from wlisp.lang.reader import read
from wlisp.values.datum import List, Symbol

from .conftest import ROOT
from .recording import Recorder

AGENTS = """
(import patterns)
(defagent worker :role :implement)
(defagent critic :role :verify)
(defagent boss :role :plan)
(defagent skeptic :role :verify)
"""
PATTERNS = ["fanout-synthesize", "generate-and-filter", "verify-rules", "gen-eval",
            "classify-and-act", "best-of", "review-revise", "map-reduce", "phases"]


class Scripted(wlisp.ScriptedExecutor):
    """Scripted answers that also keep every StepSpec, to look at prompts."""

    def __init__(self, rules):
        super().__init__(rules)
        self.specs = []

    async def execute_step(self, spec, events=None):
        self.specs.append(spec)
        return await super().execute_step(spec, events)

    def prompts(self, agent):
        return [s.prompt for s in self.specs if s.agent == agent]


def run(body, answers, params="[task]", **inputs):
    spec = wlisp.compile(f"{AGENTS}(defworkflow main {params}\n{body})", "t.wl")
    ex = answers if isinstance(answers, Recorder) else Scripted(answers)
    result = wlisp.run(spec, ex, inputs or {"task": "T"})
    return result, ex


def steps(result):
    """Instance ids of the agent steps that ran, in id order."""
    return sorted(k for k, n in result.nodes.items()
                  if n["status"] == "completed" and n.get("outcome"))


def test_every_pattern_is_a_documented_definition():
    path = os.path.join(ROOT, "stdlib", "patterns.wl")
    forms = read(open(path, encoding="utf-8").read(), path)
    docs = {f[1].name: f[2] for f in forms if isinstance(f, List) and len(f) > 3
            and f[0] in (Symbol("defn"), Symbol("defmacro"))}
    for name in PATTERNS:
        assert isinstance(docs.get(name), str) and len(docs[name]) > 40, name
    page = open(os.path.join(ROOT, "docs", "patterns.md"), encoding="utf-8").read()
    assert all(f"## `{name}`" in page for name in PATTERNS)


# --- options ---------------------------------------------------------------------


def test_an_unknown_option_is_a_compile_error_pointing_at_the_call():
    src = PRELUDE_FOR_OPTIONS + "(defworkflow main [task] (gen-eval worker critic task :maxx 2))\n"
    (d,) = check(src, "opts.wl")
    assert d.code == "W0403"
    assert d.message == "gen-eval: unknown option :maxx; it takes :max, :criteria, :threshold"
    assert d.span.file == "<stdlib>/patterns.wl"
    assert any(span and span.file == "opts.wl" and span.line == src.count("\n")
               for _, span in d.notes)


def test_options_without_a_value_are_a_compile_error():
    src = PRELUDE_FOR_OPTIONS + ("(defworkflow main [task] "
                                 "(fanout-synthesize [worker] boss task :instruction))\n")
    (d,) = check(src, "opts.wl")
    assert d.code == "W0403" and "`:key value` pairs" in d.message


PRELUDE_FOR_OPTIONS = """(import patterns)
(defagent worker)
(defagent critic)
(defagent boss)
"""


# --- fan-out ---------------------------------------------------------------------


def test_fanout_synthesize_runs_every_worker_then_one_synthesizer_over_all():
    result, ex = run('(fanout-synthesize [worker critic] boss task :instruction "Merge them.")',
                     [{"agent": "worker", "output": "from the worker"},
                      {"agent": "critic", "output": "from the critic"},
                      {"agent": "boss", "output": "merged"}])
    assert result.status == "completed" and result.value["output"] == "merged"
    assert steps(result) == ["main/boss", "main/results[0]/worker",
                             "main/results[1]/critic"]
    [prompt] = ex.prompts("boss")
    assert prompt.startswith("Merge them.") and "from the worker\n\nfrom the critic" in prompt


def test_fanout_synthesize_returns_validates_the_synthesizers_answer():
    src = "(defschema Answer {:answer string})\n" \
          "(defworkflow main [task] (fanout-synthesize [worker worker] boss task " \
          ":returns Answer))"
    spec = wlisp.compile(AGENTS + src, "t.wl")
    assert spec.schemas["Answer"]["required"] == ["answer"]
    boss = next(n for n in spec.graph.nodes if n.id == "main/boss")
    assert boss.returns == "Answer"


def test_generate_and_filter_asks_n_independent_generators_then_filters_once():
    result, ex = run("(generate-and-filter worker boss task :n 4)",
                     [{"agent": "worker", "outputs": ["idea A", "idea B", "idea A", "idea C"]},
                      {"agent": "boss", "output": "A, B, C"}])
    assert result.value["output"] == "A, B, C"
    assert len(ex.prompts("worker")) == 4 and len(set(ex.prompts("worker"))) == 4
    assert "generator 3 of 4" in ex.prompts("worker")[2]
    assert all(i in ex.prompts("boss")[0] for i in ("idea A", "idea B", "idea C"))


def test_map_reduce_bounds_concurrency_and_reduces_in_input_order():
    rec = Recorder({"worker": lambda s: s.prompt.upper(), "boss": "done"}, latency=0.02)
    result, _ = run('(map-reduce (fn [x] (spawn worker x)) ["a" "b" "c" "d" "e"] boss :limit 2)',
                    rec)
    assert result.status == "completed" and rec.per_agent_max["worker"] == 2
    assert "A\n\nB\n\nC\n\nD\n\nE" in rec.calls[-1].prompt
    assert rec.calls[-1].task_id == "main/boss"


# --- verification ------------------------------------------------------------------

RULES = '["no jargon" "cites a source"]'
FLAGS = [{"agent": "critic", "prompt": "no jargon",
          "structured": {"complies": False, "evidence": "'synergy'"}},
         {"agent": "critic", "prompt": "cites a source",
          "structured": {"complies": True, "evidence": "[1]"}}]


def test_verify_rules_runs_one_verifier_per_rule_and_reports_violations():
    result, ex = run(f"(verify-rules critic task {RULES})", FLAGS)
    assert result.value["passed"] is False
    assert result.value["violations"] == [{"rule": "no jargon", "violated": True,
                                           "evidence": "'synergy'"}]
    assert [c["violated"] for c in result.value["checks"]] == [True, False]
    assert steps(result) == ["main/checks[0]/check", "main/checks[1]/check"]
    assert all("Rule: " in p for p in ex.prompts("critic"))


def test_verify_rules_skeptic_rechecks_only_flags_and_suppresses_false_positives():
    result, ex = run(f"(verify-rules critic task {RULES} :skeptic skeptic)",
                     FLAGS + [{"agent": "skeptic", "structured": {
                         "upheld": False, "reason": "'synergy' is quoted, not used"}}])
    assert result.value["passed"] is True and result.value["violations"] == []
    assert result.value["checks"][0]["evidence"] == "'synergy' is quoted, not used"
    [prompt] = ex.prompts("skeptic")  # the complying rule is not re-checked
    assert "Rule: no jargon" in prompt and "'synergy'" in prompt
    assert result.nodes["main/checks[1]/recheck"]["status"] == "pruned"


def test_verify_rules_skeptic_upholds_a_real_violation():
    result, _ = run(f"(verify-rules critic task {RULES} :skeptic skeptic)",
                    FLAGS + [{"agent": "skeptic", "structured": {"upheld": True,
                                                                 "reason": "used twice"}}])
    assert result.value["passed"] is False
    assert result.value["violations"][0] == {"rule": "no jargon", "violated": True,
                                             "evidence": "used twice"}


def verdict(passed, score, feedback="ok"):
    return {"passed": passed, "overall_score": score, "feedback": feedback,
            "details": [{"criterion": "short", "passed": passed, "score": score,
                         "feedback": feedback}]}


def test_gen_eval_feeds_feedback_into_the_next_attempt_and_stops_when_passed():
    result, ex = run('(gen-eval worker critic task :max 4 :criteria ["short"])',
                     [{"agent": "worker", "outputs": ["draft one", "draft two"]},
                      {"agent": "critic", "outputs": [verdict(False, 0.3, "too long"),
                                                      verdict(True, 0.9)]}])
    assert result.status == "completed"
    v = result.value
    assert v["passed"] is True and v["attempts"] == 2 and v["draft"]["output"] == "draft two"
    assert v["verdict"]["structured"]["overall_score"] == 0.9
    first, second = ex.prompts("worker")
    assert "- short" in first and "previous attempt" not in first
    assert "draft one" in second and "too long" in second and "- short: 0.3" in second
    assert "Work:\ndraft two" in ex.prompts("critic")[1]
    assert len(ex.specs) == 4  # nothing after the pass
    schema = ex.specs[1].output_schema
    assert schema["required"] == ["passed", "overall_score", "feedback"]  # the seed's
    assert "details" in schema["properties"]
    assert schema["properties"]["overall_score"] == {"type": "number", "minimum": 0,
                                                     "maximum": 1}


def test_gen_eval_gives_up_after_max_attempts():
    result, ex = run("(gen-eval worker critic task :max 2)",
                     [{"agent": "worker", "output": "meh"},
                      {"agent": "critic", "structured": verdict(False, 0.2)}])
    assert result.status == "completed"
    assert result.value["passed"] is False and result.value["attempts"] == 2
    assert len(ex.specs) == 4


def test_gen_eval_threshold_asks_for_a_minimum_score_on_top_of_passed():
    result, _ = run("(gen-eval worker critic task :max 3 :threshold 0.8)",
                    [{"agent": "worker", "output": "x"},
                     {"agent": "critic", "outputs": [verdict(True, 0.6), verdict(True, 0.85)]}])
    assert result.value["passed"] is True and result.value["attempts"] == 2


def review(decision, summary="", issues=()):
    return {"decision": decision, "summary": summary, "issues": list(issues)}


@pytest.mark.parametrize("reviews, status, rounds", [
    ([review("REVISE", "tighten", ["too vague"]), review("APPROVED")], "APPROVED", 2),
    ([review("REVISE", "tighten"), review("BLOCKED", "the brief contradicts itself")],
     "BLOCKED", 2),
    ([review("REVISE", "again")], "EXHAUSTED", 3),
])
def test_review_revise_returns_a_status_the_caller_can_route_on(reviews, status, rounds):
    body = """(let [r (review-revise worker critic task :max 3 :checklist "Is it short?")]
                (case r.status "APPROVED" {:ok r.draft.output :rounds r.rounds}
                               :else {:stopped r.status :rounds r.rounds}))"""
    result, ex = run(body, [{"agent": "worker", "outputs": ["v1", "v2", "v3"]},
                            {"agent": "critic", "outputs": reviews}])
    assert result.status == "completed"
    expected = {"ok": "v2", "rounds": 2} if status == "APPROVED" else \
        {"stopped": status, "rounds": rounds}
    assert result.value == expected
    drafts = ex.prompts("worker")
    assert len(drafts) == rounds and drafts[0] == "T"
    assert "Your previous draft:\nv1" in drafts[1] and "- too vague" in drafts[1] or \
        status != "APPROVED"
    assert all(p.startswith("Review this draft. Is it short?") for p in ex.prompts("critic"))
    assert ex.specs[1].output_schema["properties"]["decision"]["enum"] == [
        "APPROVED", "REVISE", "BLOCKED"]


def test_phases_stop_at_the_first_phase_that_is_not_approved():
    body = """(phases [design (review-revise worker critic task :checklist "DESIGN")
                      plan (review-revise boss critic (fmt "Plan {design.draft}")
                                          :checklist "PLAN")
                      code (review-revise worker critic plan.draft :checklist "CODE")]
                {:status "APPROVED" :plan plan.draft.output})"""
    rules = [{"agent": "critic", "prompt": "DESIGN", "structured": review("APPROVED")},
             {"agent": "critic", "prompt": "PLAN", "structured": review("BLOCKED", "no")},
             {"output": "text"}]
    result, ex = run(body, rules)
    assert result.status == "completed"
    assert result.value["status"] == "BLOCKED" and result.value["phase"] == "plan"
    assert result.value["result"]["review"]["structured"]["summary"] == "no"
    assert not any("CODE" in p for p in ex.prompts("critic"))  # never reached
    rules[1] = {"agent": "critic", "prompt": "PLAN", "structured": review("APPROVED")}
    rules.insert(2, {"agent": "critic", "prompt": "CODE", "structured": review("APPROVED")})
    result, _ = run(body, rules)
    assert result.value == {"status": "APPROVED", "plan": "text"}


def test_flagship_stack_stops_at_a_blocked_plan_without_implementing():
    spec = wlisp.compile_file(os.path.join(ROOT, "examples", "design_plan_implement.wl"))
    ex = Scripted([{"agent": "reviewer", "prompt": "small, ordered",
                    "structured": review("BLOCKED", "needs a product decision")},
                   {"agent": "reviewer", "structured": review("APPROVED")},
                   {"output": "a draft"}])
    result = wlisp.run(spec, ex, {"brief": "b"})
    assert result.status == "completed"
    assert result.value["status"] == "BLOCKED" and result.value["phase"] == "plan"
    assert {s.agent for s in ex.specs} == {"architect", "planner", "reviewer"}


# --- routing and selection -----------------------------------------------------------

CLASSIFY = """(classify-and-act boss {input}
               {{:bug (fn [t] (spawn worker (fmt "Fix: {{t}}")))
                :question (fn [t] (spawn critic (fmt "Answer: {{t}}")))}}
               {opts})"""


def test_classify_and_act_runs_the_chosen_branch_on_the_input_and_prunes_the_rest():
    result, ex = run(CLASSIFY.format(input="task", opts=""),
                     [{"agent": "boss", "output": "question"}, {"agent": "critic",
                                                               "output": "42"}], task="why?")
    assert result.value["output"] == "42"
    assert ex.prompts("critic") == ["Answer: why?"]
    assert "Labels: bug, question" in ex.prompts("boss")[0]
    assert ex.specs[0].output_schema["properties"]["label"]["enum"] == ["bug", "question"]
    assert result.nodes["main/bug/worker"]["status"] == "pruned"


def test_classify_and_act_else_handles_what_fits_no_label():
    opts = ':else (fn [t] (fmt "logged {t}")) :instruction "Sort this ticket."'
    result, ex = run(CLASSIFY.format(input="task", opts=opts),
                     [{"agent": "boss", "output": "other"}], task="hi")
    assert result.value == "logged hi"
    assert ex.prompts("boss")[0].startswith("Sort this ticket.")
    assert "other" in ex.specs[0].output_schema["properties"]["label"]["enum"]


def test_classify_and_act_evaluates_its_input_once_in_the_callers_scope():
    # `item` and `handlers` are names the macro uses inside; the caller's win.
    body = """(let [item "mine" handlers (spawn worker "summarise")]
                {CLASSIFY})""".replace("{CLASSIFY}", CLASSIFY.format(
        input='(fmt "{item}: {handlers}")', opts=""))
    result, ex = run(body, [{"agent": "worker", "prompt": "summarise", "output": "S"},
                            {"agent": "boss", "output": "bug"},
                            {"agent": "worker", "output": "fixed"}])
    assert result.value["output"] == "fixed"
    assert ex.prompts("worker") == ["summarise", "Fix: mine: S"]


def test_best_of_judges_n_candidates_in_a_bracket():
    body = """(let [best (best-of worker critic task :n 4 :criteria "speed")]
                {:winner best.output :bracket (tournament-info best)})"""
    result, ex = run(body, [{"agent": "worker", "outputs": ["c1", "c2", "c3", "c4"]},
                            {"agent": "critic", "outputs": ["b", "a", "b"]}])
    assert result.value["winner"] == "c3"
    assert [[m["winner"] for m in r] for r in result.value["bracket"]["rounds"]] == [[1, 2],
                                                                                      [2]]
    assert all("Judge by speed" in p for p in ex.prompts("critic"))
    assert "Candidate 2 of 4" in ex.prompts("worker")[1]


def test_best_of_approaches_and_round_robin():
    body = """(let [best (best-of worker critic task :approaches ["x" "y" "z"]
                                   :format :round-robin)]
                (tournament-info best))"""
    result, ex = run(body, [{"agent": "worker", "outputs": ["X", "Y", "Z"]},
                            {"agent": "critic", "output": "b"}])
    assert result.value["format"] == "round-robin"
    assert sum(len(r) for r in result.value["rounds"]) == 3  # every pair once
    assert [p.split("Approach: ")[1] for p in ex.prompts("worker")] == ["x", "y", "z"]


def test_verify_rules_and_map_reduce_take_runtime_lists_too():
    body = """[(verify-rules critic task rules :skeptic skeptic)
               (map-reduce (fn [r] (spawn worker (fmt "apply {r}"))) rules boss :limit 1)]"""
    result, ex = run(body, FLAGS + [{"agent": "skeptic", "structured": {
        "upheld": True, "reason": "r"}}, {"agent": "worker", "output": "w"},
        {"agent": "boss", "output": "b"}], params="[task rules]",
        task="T", rules=["no jargon", "cites a source"])
    assert result.status == "completed"
    report, reduced = result.value
    assert [c["violated"] for c in report["checks"]] == [True, False]
    assert reduced["output"] == "b" and ex.prompts("worker") == ["apply no jargon",
                                                                 "apply cites a source"]


def test_gen_eval_takes_the_seeds_verdict_with_or_without_details_and_extras():
    """Regression: details were required and extra fields refused, so a critic answering
    the seed's three fields was retried three times and the step failed."""
    for verdict in ({"passed": True, "overall_score": 0.9, "feedback": "ok"},
                    {"passed": True, "overall_score": 0.9, "feedback": "ok", "skill": "prose",
                     "details": [{"criterion": "c", "passed": True, "score": 1,
                                  "feedback": "f", "weight": 2}]}):
        result, ex = run("(gen-eval worker critic task :max 3)",
                         [{"agent": "worker", "output": "draft"},
                          {"agent": "critic", "output": verdict}])
        assert result.status == "completed", result.error
        assert result.value["passed"] is True and len(ex.prompts("critic")) == 1
        kept = result.value["verdict"]["structured"]
        assert "skill" not in kept and kept["feedback"] == "ok"  # extras dropped
        assert all("weight" not in d for d in kept.get("details", []))
