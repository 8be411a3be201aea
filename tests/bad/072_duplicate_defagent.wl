; expect: W0202 7:11
;
;
; The same agent declared twice with different roles.
(defagent reviewer :role :verify :system "You review code.")
(defagent writer :role :implement)
(defagent reviewer :role :plan :system "You plan work.")

(defworkflow main [diff]
  (spawn reviewer diff))
