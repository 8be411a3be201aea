; Generate → evaluate → retry: a writer drafts, a fresh-context critic grades the
; draft against the criteria with the seed's verdict schema, and the feedback goes
; into the next attempt until the critic passes it (the standard library's `gen-eval`).

(import patterns)

(defagent writer :role :implement :system "You write clear, vivid prose.")
(defagent critic :role :verify :system "You grade essays strictly against the criteria.")

(defworkflow main [topic]
  :budget {:steps 12}
  (let [essay (gen-eval writer critic (fmt "Write a 300-word essay on {topic}.")
                        :max 4
                        :criteria ["opens with a concrete image"
                                   "every claim is accurate"
                                   "at most 300 words"])]
    {:score essay.verdict.overall_score
     :rounds essay.attempts}))
