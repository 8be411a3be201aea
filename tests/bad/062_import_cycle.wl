; expect: W0503 lib/cycle_b.wl:3:9
; lib/cycle_a.wl and lib/cycle_b.wl import each other.
(import "lib/cycle_a.wl")

(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper (str a-prompt q)))
