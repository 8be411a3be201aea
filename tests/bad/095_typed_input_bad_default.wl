; expect: W0303 6:38, W0302 8:27
;
; A typed parameter's default must be of its type; a parameter is `name`,
; `(name Type)` or `(name Type default)`.
(defagent writer)
(defworkflow main [brief (rounds int "three")]
  (spawn writer brief))
(defworkflow other [brief [rounds]]
  (spawn writer brief))
