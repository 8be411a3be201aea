; expect: W0303|W0306 7:12
;
; :command must be an argv vector, never a shell string.
(deftool search
  :description "Search the repository"
  :params {:pattern string}
  :command "grep -rn {pattern} .")

(defagent finder :role :explore :tools [search])

(defworkflow main [q]
  (spawn finder (fmt "Find where {q} is handled")))
