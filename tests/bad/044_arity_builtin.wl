; expect: W0301 6:15
; `upper` takes one argument.
(defagent writer :role :implement)

(defworkflow main [topic]
  (let [title (upper topic "!")]
    (spawn writer (fmt "Write about {title}"))))
