; expect: W0205|W0303 6:11
; xfail: W0205 is reported with no source location at all (span is None)
; A tool's :params must be a schema, not a string.
(deftool search
  :description "Search the repository"
  :params "pattern"
  :command ["grep" "-rn" "{pattern}" "."])

(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper q))
