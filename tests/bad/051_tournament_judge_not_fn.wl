; expect: W0303|W0307 8:15
; The judge is a string, not a function.
(defagent poet :role :custom)

(defworkflow main [theme]
  (tournament [(spawn poet (fmt "A haiku about {theme}"))
               (spawn poet (fmt "A tanka about {theme}"))]
              "pick the better poem"))
