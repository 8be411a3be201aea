; Best of four: four independent implementations, judged pairwise in a bracket.

(defagent coder :role :implement :system "You write small, correct Python functions.")
(defagent judge :role :verify :system "You compare two implementations for correctness and clarity.")

(defworkflow main [task]
  (let [candidates (map (fn [style] (spawn coder (fmt "Implement {task}. Style: {style}.")))
                        ["straightforward" "defensive" "functional" "minimal"])
        best (tournament candidates
                         (fn [a b] (spawn judge (fmt "Which is better?\n\nA:\n{a}\n\nB:\n{b}"))))]
    {:winner best.output
     :bracket (tournament-info best)}))
