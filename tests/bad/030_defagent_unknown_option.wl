; expect: W0207 8:3
; xfail: cascade: the agent is dropped, so an extra W0203 `unknown agent reviewer` at the spawn
; message: did you mean
; message: system
; `:systm` is a typo for `:system`.
(defagent reviewer
  :role :verify
  :systm "You are a careful reviewer.")

(defworkflow main [diff]
  (spawn reviewer diff))
