; expect: W0301 10:4
; `review` takes two arguments.
(defagent reviewer :role :verify)

(defn review [aspect diff]
  (spawn reviewer (fmt "Review {aspect}:\n{diff}")))

(defworkflow main [diff]
  [(review "security" diff)
   (review diff)])
