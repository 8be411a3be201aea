; expect: W0107 7:21
; `1e999` is infinite, and JSON has no infinity.
(defagent scorer :role :verify)

(defworkflow main [essay]
  (let [s (spawn scorer (fmt "Score this essay from 0 to 1:\n{essay}"))]
    (if (> s.output 1e999) "off the scale" s.output)))
