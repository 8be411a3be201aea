; expect: W0206|W0201 7:27
;
; A {hole} in :command that is not a declared parameter.
(deftool search
  :description "Search the repository"
  :params {:pattern string}
  :command ["grep" "-rn" "{patern}" "."])

(defagent finder :role :explore :tools [search])

(defworkflow main [q]
  (spawn finder (fmt "Find where {q} is handled")))
