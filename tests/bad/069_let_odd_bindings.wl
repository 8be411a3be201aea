; expect: W0302 9:9
;
; The last let binding has no value.
(defagent writer :role :implement)
(defagent critic :role :verify)

(defworkflow main [topic]
  (let [draft (spawn writer (fmt "Write about {topic}"))
        review]
    (spawn critic (fmt "Critique:\n{draft}"))))
