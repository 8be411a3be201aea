; expect: W0206 7:5
; The spawn has no :returns schema, so `draft.title` is not a field of its outcome.
(defagent writer :role :implement)

(defworkflow main [topic]
  (let [draft (spawn writer (fmt "Write a title and a body about {topic}"))]
    draft.title))
