; expect: W0306 8:10
; A loop must run at least once.
(defagent critic :role :verify)
(defagent author :role :implement)

(defworkflow main [draft]
  (loop [d draft]
    :max 0
    (let [c (spawn critic (fmt "Critique:\n{d}"))]
      (spawn author (fmt "Revise using the critique:\n{c}\n\nDraft:\n{d}")))))
