; expect: W0502 3:9
; Imports may not leave the importing file's directory tree.
(import "../shared/prompts.wl")

(defagent reviewer :role :verify)

(defworkflow main [diff]
  (spawn reviewer diff))
