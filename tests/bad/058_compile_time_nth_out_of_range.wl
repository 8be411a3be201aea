; expect: W0403 7:19
;
; A compile-time index out of range.
(defagent reviewer :role :verify)

(def aspects ["correctness" "security"])
(def third-aspect (nth aspects 2))

(defworkflow main [diff]
  (spawn reviewer (fmt "Review {third-aspect}:\n{diff}")))
