; expect: W0202 7:11
; xfail: no diagnostic: a second (defagent reviewer ...) silently replaces the first
; xfail-compile: compiles without error
; The same agent declared twice with different roles.
(defagent reviewer :role :verify :system "You review code.")
(defagent writer :role :implement)
(defagent reviewer :role :plan :system "You plan work.")

(defworkflow main [diff]
  (spawn reviewer diff))
