; expect: W0204 16:21
;
; message: did you mean `grep`
; The agent lists a tool that was never declared.
(deftool run-tests
  :description "Run the test suite"
  :command ["pytest" "-q"])

(deftool grep
  :description "Search the code base"
  :params {:pattern string}
  :command ["grep" "-rn" "{pattern}" "."])

(defagent fixer
  :role :implement
  :tools [run-tests grpe]
  :system "You fix failing tests.")

(defworkflow main [failure]
  (spawn fixer (fmt "Fix this failure:\n{failure}")))
