; expect: W0207|W0306 8:12
;
; message: steps
; `:stepz` is not a budget key.
(defagent planner :role :plan)

(defworkflow main [goal]
  :budget {:stepz 10 :tokens 50000}
  (spawn planner (fmt "Plan: {goal}")))
