; expect: W0309 7:10
; :max must be known at compile time.
(defagent editor :role :implement)

(defworkflow main [draft rounds]
  (loop [d draft]
    :max rounds
    (spawn editor (fmt "Improve:\n{d}"))))
