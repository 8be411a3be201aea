; expect: W0205 10:60
;
; message: did you mean `Review`
; `:returns` names a schema that does not exist (one error, no cascade on r.approve).
(defagent reviewer :role :verify)

(defschema Review {:approve bool :comments (list-of string)})

(defworkflow main [diff]
  (let [r (spawn reviewer (fmt "Review:\n{diff}") :returns Reviw)]
    (if r.approve "ok" "changes requested")))
