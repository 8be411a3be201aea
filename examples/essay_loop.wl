; Generate → evaluate → retry: a writer drafts, a fresh-context critic scores the draft,
; and the feedback goes into the next attempt until the critic passes it.

(defagent writer :role :implement :system "You write clear, vivid prose.")
(defagent critic :role :verify :system "You grade essays strictly against the criteria.")

(defschema Verdict
  {:passed bool
   :overall_score number
   :feedback string})

(defworkflow main [topic]
  :budget {:steps 12}
  (let [final (loop [attempt nil] :max 4 :until (fn [v] v.passed)
                (let [draft (spawn writer
                              (if attempt
                                (fmt "Rewrite your essay on {topic}. Reviewer feedback: {attempt.feedback}")
                                (fmt "Write a 300-word essay on {topic}.")))]
                  (spawn critic (fmt "Grade this essay on {topic}:\n\n{draft}") :returns Verdict)))]
    {:score final.overall_score
     :rounds (get (loop-info final) :iterations)}))
