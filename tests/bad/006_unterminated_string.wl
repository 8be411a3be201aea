; expect: W0106 6:17
; The prompt string is never closed; it runs to the end of the file.
(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper "Answer the question:
    (be brief)))
