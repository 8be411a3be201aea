; expect: W0102 8:1
; Budget presets kept as a data map at the end of the file; the `}` is missing.
(defagent planner :role :plan)

(defworkflow main [goal]
  (spawn planner (fmt "Plan: {goal}")))

{:small {:steps 5} :large {:steps 50}
