; expect: W0103 6:55
; `(fmt ...]` closes a list with a square bracket.
(defagent helper :role :custom)

(defworkflow main [question]
  (let [answer (spawn helper (fmt "Answer: {question}"]))]
    answer))
