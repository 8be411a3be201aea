; expect: W0306 6:9, W0204 7:22, W0207 10:3, W0306 11:60, W0203 12:12
; Five different mistakes in one review pipeline.
(deftool run-linter :command ["ruff" "check" "."])

(defagent reviewer
  :role :auditor
  :tools [run-linter run-tests])

(defworkflow main [diff]
  :concurency 2
  (let [r (spawn reviewer (fmt "Review:\n{diff}") :retries -2)]
    (spawn reviwer (fmt "Double-check this review:\n{r}"))))
