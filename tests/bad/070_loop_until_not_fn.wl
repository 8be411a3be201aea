; expect: W0303|W0307 8:12
; :until must be a function of the iteration value.
(defagent editor :role :implement)

(defworkflow main [draft]
  (loop [d draft]
    :max 3
    :until 5
    (spawn editor (fmt "Improve:\n{d}"))))
