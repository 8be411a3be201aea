; expect: W0305 10:3
; note: retry
; The macro expands to a loop without :max.
(defagent worker :role :implement)

(defmacro retry [body]
  `(loop [attempt nil] :until (fn [r] r.success) ~body))

(defworkflow main [task]
  (retry (spawn worker (fmt "Do: {task}"))))
