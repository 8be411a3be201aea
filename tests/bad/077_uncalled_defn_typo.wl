; expect: W0203 11:10
;
;
; A typo inside a helper that no workflow calls yet: `check` should still report it.
(defagent reviewer :role :verify)

(defn review [diff]
  (spawn reviewer (fmt "Review:\n{diff}")))

(defn security-review [diff]
  (spawn reviewr (fmt "Security review:\n{diff}")))

(defworkflow main [diff]
  (review diff))
