; expect: W0201 6:57
; Escapes before the bad hole: the column counts source characters.
(defagent triager :role :custom)

(defworkflow main [ticket]
  (spawn triager (fmt "Ticket:\n\t{ticket}\n\tPriority: {priorty}")))
