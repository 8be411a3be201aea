; expect: W0501 3:9
; The imported file does not exist.
(import "lib/prompt_helpers.wl")

(defagent reviewer :role :verify)

(defworkflow main [diff]
  (spawn reviewer diff))
