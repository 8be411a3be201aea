; Half of an import cycle (see import_cycle.wl).
; It imports cycle_a.wl, which imports it.
(import "cycle_a.wl")
(def b-prompt "from b: ")
