; expect: W0203 7:10
; message: did you mean `reviewer`
; Spawning an agent that was never declared.
(defagent reviewer :role :verify :system "You review code.")

(defworkflow main [diff]
  (spawn reviwer (fmt "Review this change:\n{diff}")))
