; expect: W0201 7:46, W0203 11:12
; One error in each of two workflows.
(defagent helper :role :custom)
(defagent router :role :custom)

(defworkflow triage [ticket]
  (spawn router (str "Triage with priority " priorty ": " ticket)))

(defworkflow main [ticket]
  (let [t (triage ticket)]
    (spawn hepler (fmt "Handle:\n{t}"))))
