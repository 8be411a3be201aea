; expect: W0201 8:6
; message: did you mean `upper`
; `uper` is a typo for the builtin `upper`.
(defagent classifier-bot :role :custom)

(defworkflow main [ticket]
  (let [label (spawn classifier-bot (str "Label this ticket: " ticket))]
    (uper label.output)))
