; expect: W0404 7:15
; A tournament with a single static entrant.
(defagent poet :role :custom)
(defagent judge :role :verify)

(defworkflow main [theme]
  (tournament [(spawn poet (fmt "A haiku about {theme}"))]
              (fn [a b] (spawn judge (fmt "A:\n{a}\nB:\n{b}\nWhich is better?")))))
