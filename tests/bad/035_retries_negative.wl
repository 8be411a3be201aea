; expect: W0306 6:12
;
; Retries cannot be negative.
(defagent flaky-api-caller
  :role :custom
  :retries -1
  :timeout 30)

(defworkflow main [endpoint]
  (spawn flaky-api-caller (fmt "Call {endpoint} and report the status")))
