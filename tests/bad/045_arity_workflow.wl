; expect: W0301 10:11
; Calling a workflow with too few inputs.
(defagent summarizer :role :custom)
(defagent translator :role :custom)

(defworkflow summarize [doc style]
  (spawn summarizer (fmt "Summarize in a {style} style:\n{doc}")))

(defworkflow main [doc]
  (let [s (summarize doc)]
    (spawn translator (fmt "Translate to French:\n{s}"))))
