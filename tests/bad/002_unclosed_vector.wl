; expect: W0102 12:20
; A vector of extra review aspects is left open at the end of the file.
(defagent reviewer :role :verify)

(def aspects ["correctness" "security" "readability"])

(defworkflow main [diff]
  (map (fn [a] (spawn reviewer (fmt "Review {a}:\n{diff}")))
       aspects
       :limit 2))

(def extra-aspects ["performance" "style"
