; expect: W0103 6:38
; One closing paren too many after the workflow.
(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper (fmt "Answer: {q}"))))
