; expect: W0301|W0302 8:5
; `if` takes a condition and two branches.
(defagent checker :role :verify)
(defschema Verdict {:ok bool})

(defworkflow main [claim]
  (let [v (spawn checker (fmt "Is this true? {claim}") :returns Verdict)]
    (if v.ok "true" "false" "unknown")))
