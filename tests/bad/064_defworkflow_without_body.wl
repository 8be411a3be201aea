; expect: W0302 5:1
; A workflow with options but no body.
(defagent planner :role :plan)

(defworkflow main [goal]
  :description "Plan the work for a goal"
  :budget {:steps 5})
