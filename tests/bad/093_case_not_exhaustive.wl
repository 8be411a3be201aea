; expect: W0310 10:5
;
; A `case` over an enum field of a step's answer must route every value, or have
; :else. "other" is not routed here.
(defagent triager)
(defagent fixer)
(defschema Triage {:kind (enum "bug" "question" "other")})
(defworkflow main [ticket]
  (let [t (spawn triager ticket :returns Triage)]
    (case t.kind
      "bug" (spawn fixer ticket)
      "question" (spawn fixer (fmt "Answer: {ticket}")))))
