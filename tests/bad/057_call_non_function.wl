; expect: W0307 8:20
; A string called as if it were a function.
(defagent reviewer :role :verify)

(def review-prompt "Review this change carefully:")

(defworkflow main [diff]
  (spawn reviewer (review-prompt diff)))
