; expect: W0201 7:47
; message: did you mean `aspect`
; A fmt hole names an unknown variable; the caret points at the hole.
(defagent reviewer :role :verify)

(defn review [aspect diff]
  (spawn reviewer (fmt "Review the change for {aspct}:\n{diff}")))

(defworkflow main [diff]
  (review "security" diff))
