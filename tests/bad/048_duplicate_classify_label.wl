; expect: W0302|W0304 11:6
; The label :bug appears twice.
(defagent triager :role :custom)
(defagent bug-fixer :role :implement)
(defagent doc-writer :role :implement)

(defworkflow main [ticket]
  (classify (spawn triager (fmt "Is this a bug or a docs request?\n{ticket}"))
    (:bug (spawn bug-fixer ticket))
    (:docs (spawn doc-writer ticket))
    (:bug (spawn doc-writer ticket))
    (:else "unrouted")))
