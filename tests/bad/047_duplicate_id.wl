; expect: W0304 7:61
; Two steps with the same explicit :id in one scope.
(defagent reviewer :role :verify)

(defworkflow main [diff]
  (let [a (spawn reviewer (fmt "Security review:\n{diff}") :id "review")
        b (spawn reviewer (fmt "Style review:\n{diff}") :id "review")]
    [a b]))
