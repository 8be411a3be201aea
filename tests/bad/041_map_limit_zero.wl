; expect: W0306 9:15
; xfail: caret on the whole `(map` form instead of the value `0`; loop `:max 0` (034) points at the value
; `:limit 0` would never run a body.
(defagent reviewer :role :verify)

(defworkflow main [files]
  (map (fn [f] (spawn reviewer (fmt "Review {f}")))
       files
       :limit 0))
