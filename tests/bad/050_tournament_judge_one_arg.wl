; expect: W0301|W0303 9:15
; The judge must take two entrants.
(defagent poet :role :custom)
(defagent judge :role :verify)

(defworkflow main [theme]
  (tournament [(spawn poet (fmt "A haiku about {theme}"))
               (spawn poet (fmt "A tanka about {theme}"))]
              (fn [a] (spawn judge (fmt "Is this poem good?\n{a}")))))
