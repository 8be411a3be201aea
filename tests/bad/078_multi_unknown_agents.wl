; expect: W0203 8:22, W0203 9:22, W0203 10:12
; Three misspelled agents: all three must be reported.
(defagent researcher :role :explore)
(defagent writer :role :implement)
(defagent editor :role :verify)

(defworkflow main [topic]
  (let [notes (spawn reseacher (fmt "Research {topic}"))
        draft (spawn writter (fmt "Write about {topic} using:\n{notes}"))]
    (spawn editr (fmt "Edit:\n{draft}"))))
