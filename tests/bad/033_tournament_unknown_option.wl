; expect: W0207 16:15
; message: did you mean
; message: format
; `:fromat` is a typo for `:format`.
(defagent poet :role :custom)
(defagent judge :role :verify)

(defn pick [a b]
  (spawn judge (fmt "Which poem is better?\nA:\n{a}\nB:\n{b}")))

(defworkflow main [theme]
  (tournament [(spawn poet (fmt "A haiku about {theme}"))
               (spawn poet (fmt "A limerick about {theme}"))
               (spawn poet (fmt "A sonnet about {theme}"))]
              pick
              :fromat :round-robin))
