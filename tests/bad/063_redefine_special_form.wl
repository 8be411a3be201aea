; expect: W0202 5:6
; `spawn` is a special form and cannot be redefined.
(defagent writer :role :implement)

(def spawn 1)

(defworkflow main [topic]
  (spawn writer topic))
