; expect: W0405|W0403 11:3
;
; note: with-retry
; A macro that expands to a call of itself never finishes expanding.
(defagent helper :role :custom)

(defmacro with-retry [body]
  `(with-retry ~body))

(defworkflow main [q]
  (with-retry (spawn helper q)))
