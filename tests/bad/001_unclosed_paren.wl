; expect: W0102 5:1
; A writer drafts an essay; the closing paren of defworkflow is missing.
(defagent writer :role :implement :system "You write clear prose.")

(defworkflow main [topic]
  :description "Draft an essay"
  (let [draft (spawn writer (fmt "Write a short essay on {topic}."))]
    draft)
