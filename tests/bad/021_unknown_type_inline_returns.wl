; expect: W0205 7:35
; `integer` is not a type of the schema language (`int` is).
(defagent scorer :role :verify)

(defworkflow main [essay]
  (let [s (spawn scorer (fmt "Score this essay 1-10:\n{essay}")
                 :returns {:score integer :reason string})]
    s.score))
