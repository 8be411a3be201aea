; Workflow patterns, written in wlisp (import with `(import patterns)`).
; Each takes agents and prompts as arguments, so the same shape serves many jobs.

(defn fanout-synthesize
  "N workers in parallel on the same task, then one synthesizer over all of them."
  [workers synthesizer task]
  (let [results (map (fn [w] (spawn w task)) workers)]
    (spawn synthesizer (fmt "Combine these results into one answer.\n\nTask: {task}\n\n{results}"))))

(defn map-reduce
  "Map a function over items (at most `limit` at a time), then reduce with one agent."
  [f items limit reducer instruction]
  (let [parts (map f items :limit limit)]
    (spawn reducer (fmt "{instruction}\n\n{parts}"))))
