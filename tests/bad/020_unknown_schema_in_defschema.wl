; expect: W0205 6:53
;
; message: did you mean `Finding`
; A schema refers to a misspelled schema (one error, no cascade at :returns Review).
(defschema Finding {:severity (enum "low" "high") :summary string})
(defschema Review {:approve bool :findings (list-of Findng)})

(defagent reviewer :role :verify)

(defworkflow main [diff]
  (spawn reviewer (fmt "Review:\n{diff}") :returns Review))
