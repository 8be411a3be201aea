; expect: W0306 9:15
;
; `:limit 0` would never run a body.
(defagent reviewer :role :verify)

(defworkflow main [files]
  (map (fn [f] (spawn reviewer (fmt "Review {f}")))
       files
       :limit 0))
