; expect: W0203 11:14
; message: did you mean `reviewer`
; note: review-by
; The misspelled agent is passed as a macro argument; the caret stays on it.
(defagent reviewer :role :verify)

(defmacro review-by [agent diff]
  `(spawn ~agent (str "Review this change:\n" ~diff) :role :verify))

(defworkflow main [diff]
  (review-by reviwer diff))
