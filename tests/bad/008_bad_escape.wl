; expect: W0105 6:66
; `\q` is not a valid string escape.
(defagent shell-helper :role :implement)

(defworkflow main [path]
  (spawn shell-helper (fmt "List files matching {path} with grep \q, then report.")))
