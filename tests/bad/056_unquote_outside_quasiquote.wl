; expect: W0308 7:19
; xfail: cascade: an extra W0201 `unknown name first-aspect` where the workflow uses it
; `~` without an enclosing quasiquote.
(defagent reviewer :role :verify)

(def aspects ["security" "style"])
(def first-aspect ~(first aspects))

(defworkflow main [diff]
  (spawn reviewer (fmt "Review {first-aspect}:\n{diff}")))
