; expect: W0206 10:72
; message: did you mean `feedback`
; A misspelled field inside a fmt hole; the caret points at the hole.
(defagent grader :role :verify)
(defagent coach :role :custom)
(defschema Grade {:score int :feedback string})

(defworkflow main [answer]
  (let [g (spawn grader (fmt "Grade:\n{answer}") :returns Grade)]
    (spawn coach (fmt "The grade was {g.score}. Explain this feedback: {g.feedbak}"))))
