; expect: W0303 7:17
; A map key must be data: `+` is a builtin function.
(defagent planner :role :plan)

(defworkflow main [goal]
  (let [plan (spawn planner (fmt "Plan: {goal}"))]
    {:plan plan + plan}))
