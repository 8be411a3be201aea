; expect: W0202|W0302 7:25
; xfail: no diagnostic for the workflow parameter `diff` listed twice
; xfail-compile: compiles without error
; A workflow parameter listed twice.
(defagent reviewer :role :verify)

(defworkflow main [diff diff]
  (spawn reviewer diff))
