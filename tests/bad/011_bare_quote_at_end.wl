; expect: W0108 8:1
; A quote at the very end of the file quotes nothing.
(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper q))

'
