; expect: W0203 11:12
; message: did you mean `fixer`
; The unknown agent is inside a helper function that the workflow calls.
(defagent tester :role :verify)
(defagent fixer :role :implement)

(defn fix-until-green [code]
  (loop [c code]
    :max 3
    :until (fn [r] r.success)
    (spawn fixr (fmt "Make the tests pass:\n{c}"))))

(defworkflow main [code]
  (fix-until-green code))
