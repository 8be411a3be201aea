; expect: W0108 6:25
;
; A quote right before a closing paren quotes nothing.
(defagent triager :role :custom)

(def tags '(bug feature '))

(defworkflow main [ticket]
  (spawn triager (fmt "Tag this ticket with one of {tags}:\n{ticket}")))
