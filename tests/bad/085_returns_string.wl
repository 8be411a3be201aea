; expect: W0205|W0303 8:52
;
; :returns given the schema's name as a string instead of the schema.
(defagent reviewer :role :verify)
(defschema Review {:approve bool :comments (list-of string)})

(defworkflow main [diff]
  (spawn reviewer (fmt "Review:\n{diff}") :returns "Review"))
