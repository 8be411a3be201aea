; expect: W0301 7:5
; A local function called with too many arguments.
(defagent writer :role :implement)

(defworkflow main [topic]
  (let [ask (fn [q] (spawn writer q))]
    (ask (fmt "Outline {topic}") :fast)))
