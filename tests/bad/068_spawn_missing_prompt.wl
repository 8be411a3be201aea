; expect: W0301|W0302 8:3
;
; A spawn without a prompt.
(defagent reviewer :role :verify)
(defschema Review {:approve bool})

(defworkflow main [diff]
  (spawn reviewer :returns Review))
