; expect: W0203 11:3
; note: ask-twice
; The macro's template spawns an undeclared agent; the error is reported at the
; call site, with a note about the macro expansion.
(defagent helper :role :custom)

(defmacro ask-twice [q]
  `(parallel (spawn helpr ~q) (spawn helper ~q)))

(defworkflow main [question]
  (ask-twice (fmt "Answer briefly: {question}")))
