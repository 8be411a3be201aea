; expect: W0309 6:52
; :model must be known at compile time, not taken from a workflow input.
(defagent writer :role :implement)

(defworkflow main [topic model]
  (spawn writer (fmt "Write about {topic}") :model model))
