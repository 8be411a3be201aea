; The design → plan → implement stack. An architect designs the change, a planner
; turns the approved design into steps, a coder carries out the approved plan. Each
; phase is a draft → review → revise loop with its own checklist, and the first phase
; that is not APPROVED stops the stack, saying which phase and why.

(import patterns)

(deftool run-tests
  :description "Run the project's test suite"
  :command ["python" "-m" "pytest" "-q"])

(defagent architect :role :plan
  :system "You design software changes: components, data, interfaces and risks.")
(defagent planner :role :plan
  :system "You turn a design into small, ordered, testable steps.")
(defagent coder :role :implement :exclusive true :tools [run-tests]
  :system "You implement plans in this repository, test first.")
(defagent reviewer :role :verify
  :system "You are a demanding staff engineer. Approve only what you would ship.")

(defworkflow main [brief]
  :description "Design, plan and implement a change, with a review loop at each phase"
  :budget {:steps 40}
  (phases [design (review-revise architect reviewer
                    (fmt (include-text "prompts/design.md"))
                    :checklist "Does it meet the brief? Are interfaces and risks explicit?")
           plan (review-revise planner reviewer
                  (fmt (include-text "prompts/plan.md"))
                  :checklist "Is every step small, ordered and testable? Is the design covered?")
           change (review-revise coder reviewer
                    (fmt (include-text "prompts/change.md"))
                    :max 4
                    :checklist "Do the tests pass? Does the change follow the plan?")]
    {:status "APPROVED"
     :rounds {:design design.rounds :plan plan.rounds :change change.rounds}
     :change change.draft.output}))
