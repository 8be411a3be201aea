; expect: W0207 9:43
; message: did you mean
; message: returns
; `:retruns` is a typo for `:returns`.
(defagent reviewer :role :verify)
(defschema Review {:approve bool})

(defworkflow main [diff]
  (spawn reviewer (fmt "Review:\n{diff}") :retruns Review))
