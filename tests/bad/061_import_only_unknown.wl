; expect: W0201 5:33, W0201 10:24
; message: did you mean `review-prompt`
; `:only` names something the module does not define; because of that typo,
; `review-prompt` really is not imported, so its use is a second genuine error.
(import "lib/prompts.wl" :only [review-promt])

(defagent reviewer :role :verify)

(defworkflow main [diff]
  (spawn reviewer (str review-prompt diff)))
