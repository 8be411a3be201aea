; Half of an import cycle (see import_cycle.wl).
; It imports cycle_b.wl, which imports this file.
(import "cycle_b.wl")
(def a-prompt "from a: ")
