; expect: W0305 7:3
; Every loop needs :max, even with :until.
(defagent fixer :role :implement)
(defschema Attempt {:fixed bool :patch string})

(defworkflow main [bug]
  (loop [attempt nil]
    :until (fn [a] a.fixed)
    (spawn fixer (fmt "Fix: {bug}\nPrevious attempt: {attempt}") :returns Attempt)))
