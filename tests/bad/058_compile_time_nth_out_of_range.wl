; expect: W0403 7:19
; xfail: reported as W0303 (wrong type of value) instead of W0403, plus cascade W0201 `unknown name third-aspect`
; A compile-time index out of range.
(defagent reviewer :role :verify)

(def aspects ["correctness" "security"])
(def third-aspect (nth aspects 2))

(defworkflow main [diff]
  (spawn reviewer (fmt "Review {third-aspect}:\n{diff}")))
