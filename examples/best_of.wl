; Best of four: four implementations in different styles, judged pairwise in a
; single-elimination bracket (the standard library's `best-of`).

(import patterns)

(defagent coder :role :implement :system "You write small, correct Python functions.")
(defagent judge :role :verify :system "You compare two implementations for correctness and clarity.")

(defworkflow main [task]
  (let [best (best-of coder judge (fmt "Implement {task} in Python.")
                      :approaches ["straightforward" "defensive" "functional" "minimal"]
                      :criteria "correctness first, then clarity")]
    {:winner best.output
     :bracket (tournament-info best)}))
