; expect: W0206 9:12
; message: did you mean `score`
; `r.scroe` is not a field of the Grade schema.
(defagent grader :role :verify)
(defschema Grade {:score int :feedback string})

(defworkflow main [answer]
  (let [r (spawn grader (fmt "Grade this answer:\n{answer}") :returns Grade)]
    (if (> r.scroe 7) "pass" r.feedback)))
