; expect: W0207 8:3
;
; message: did you mean
; message: system
; `:systm` is a typo for `:system`.
(defagent reviewer
  :role :verify
  :systm "You are a careful reviewer.")

(defworkflow main [diff]
  (spawn reviewer diff))
