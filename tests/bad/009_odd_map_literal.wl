; expect: W0104 6:11
; The budget map has a key without a value.
(defagent planner :role :plan)

(defworkflow main [goal]
  :budget {:steps 20 :tokens}
  (spawn planner (fmt "Plan the work for: {goal}")))
