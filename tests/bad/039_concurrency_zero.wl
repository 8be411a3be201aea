; expect: W0306 6:16
; A workflow with concurrency 0 could never start a step.
(defagent linter :role :verify)

(defworkflow main [files]
  :concurrency 0
  (map (fn [f] (spawn linter (fmt "Lint {f}"))) files))
