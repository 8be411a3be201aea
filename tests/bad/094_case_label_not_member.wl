; expect: W0310 10:7
;
; A label that the enum cannot take is a typo or a stale branch.
(defagent triager)
(defagent fixer)
(defschema Triage {:kind (enum "bug" "question")})
(defworkflow main [ticket]
  (let [t (spawn triager ticket :returns Triage)]
    (case t.kind
      "bgu" (spawn fixer ticket)
      :else (spawn fixer (fmt "Answer: {ticket}")))))
