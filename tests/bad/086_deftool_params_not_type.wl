; expect: W0205|W0303 6:11
;
; A tool's :params must be a schema, not a string.
(deftool search
  :description "Search the repository"
  :params "pattern"
  :command ["grep" "-rn" "{pattern}" "."])

(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper q))
