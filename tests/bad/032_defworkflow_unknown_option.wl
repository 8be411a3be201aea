; expect: W0207 9:3
; message: did you mean
; message: budget
; `:budgt` is a typo for `:budget`.
(defagent planner :role :plan)

(defworkflow main [goal]
  :description "Plan a project"
  :budgt {:steps 5}
  (spawn planner (fmt "Plan: {goal}")))
