; expect: W0107|W0101 6:19
; A lone `:` is not a keyword.
(defagent helper :role :custom)

(defworkflow main [q]
  (spawn helper q : 3))
