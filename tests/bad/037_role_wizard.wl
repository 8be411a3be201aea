; expect: W0306 6:9
; xfail: cascade: the agent is dropped, so an extra W0203 `unknown agent gandalf` at the spawn
; message: explore
; :wizard is not a role; the message should list the valid ones.
(defagent gandalf
  :role :wizard
  :system "You shall not pass bad code.")

(defworkflow main [diff]
  (spawn gandalf (fmt "Guard this change:\n{diff}")))
