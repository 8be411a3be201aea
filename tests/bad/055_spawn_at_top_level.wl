; expect: W0406 6:12
;
; A spawn outside any workflow (one error; no cascade on `intro`).
(defagent writer :role :implement)

(def intro (spawn writer "Write a one-line intro for our newsletter."))

(defworkflow main [topic]
  (spawn writer (fmt "{intro}\n\nNow write about {topic}")))
