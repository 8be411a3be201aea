; expect: W0306 6:9
;
; message: explore
; :wizard is not a role; the message should list the valid ones.
(defagent gandalf
  :role :wizard
  :system "You shall not pass bad code.")

(defworkflow main [diff]
  (spawn gandalf (fmt "Guard this change:\n{diff}")))
