; expect: W0306|W0303 6:59
; :timeout takes a number of seconds, not a string.
(defagent researcher :role :explore)

(defworkflow main [question]
  (spawn researcher (fmt "Research: {question}") :timeout "x"))
