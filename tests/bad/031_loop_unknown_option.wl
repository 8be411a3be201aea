; expect: W0207 11:5
; message: did you mean
; message: until
; `:untill` is a typo for `:until`.
(defagent editor :role :implement)
(defschema Edit {:text string :done bool})

(defworkflow main [draft]
  (loop [d draft]
    :max 4
    :untill (fn [e] e.done)
    (spawn editor (fmt "Improve:\n{d}") :returns Edit)))
