; expect: W0308 7:19
;
; `~` without an enclosing quasiquote.
(defagent reviewer :role :verify)

(def aspects ["security" "style"])
(def first-aspect ~(first aspects))

(defworkflow main [diff]
  (spawn reviewer (fmt "Review {first-aspect}:\n{diff}")))
