; expect: W0203 6:10
; The file starts with a UTF-8 byte order mark: it is skipped, and columns are those
; an editor shows.
(defagent reviewer :role :verify)
(defworkflow main [diff]
  (spawn reviwer (fmt "Review:\n{diff}")))
