; expect: W0206|W0201 7:27
; xfail: cascade: the tool is dropped, giving extra W0201 `search`, W0306 on :tools and W0203 `unknown agent finder`
; A {hole} in :command that is not a declared parameter.
(deftool search
  :description "Search the repository"
  :params {:pattern string}
  :command ["grep" "-rn" "{patern}" "."])

(defagent finder :role :explore :tools [search])

(defworkflow main [q]
  (spawn finder (fmt "Find where {q} is handled")))
