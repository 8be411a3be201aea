; expect: W0201 10:16
; A bad hole inside a dedented triple-quoted prompt: the caret must point into
; the source line, not into the dedented text.
(defagent reviewer :role :verify)

(defn review [aspect diff]
  (spawn reviewer
    (fmt """
      Review the following change for {aspect}.
      Focus on {severty} issues first.

      {diff}
      """)))

(defworkflow main [diff]
  (review "correctness" diff))
