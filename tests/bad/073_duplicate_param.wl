; expect: W0202|W0302 7:25
;
;
; A workflow parameter listed twice.
(defagent reviewer :role :verify)

(defworkflow main [diff diff]
  (spawn reviewer diff))
