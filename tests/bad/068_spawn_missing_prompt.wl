; expect: W0301|W0302 8:3
; xfail: takes `:returns` as the prompt and reports W0302 `expected a keyword option for spawn, got Review` at `Review`, instead of a missing prompt at the spawn
; A spawn without a prompt.
(defagent reviewer :role :verify)
(defschema Review {:approve bool})

(defworkflow main [diff]
  (spawn reviewer :returns Review))
