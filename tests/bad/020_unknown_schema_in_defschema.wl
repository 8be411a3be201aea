; expect: W0205 6:53
; xfail: cascade: an extra W0205 `unknown schema Review` at the `:returns Review` use
; message: did you mean `Finding`
; A schema refers to a misspelled schema (one error, no cascade at :returns Review).
(defschema Finding {:severity (enum "low" "high") :summary string})
(defschema Review {:approve bool :findings (list-of Findng)})

(defagent reviewer :role :verify)

(defworkflow main [diff]
  (spawn reviewer (fmt "Review:\n{diff}") :returns Review))
