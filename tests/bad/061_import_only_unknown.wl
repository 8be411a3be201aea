; expect: W0201 4:33
; message: did you mean `review-prompt`
; `:only` names something the module does not define.
(import "lib/prompts.wl" :only [review-promt])

(defagent reviewer :role :verify)

(defworkflow main [diff]
  (spawn reviewer (str review-prompt diff)))
