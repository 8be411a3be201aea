; expect: W0201 7:60
; message: did you mean `text`
; Non-ASCII text before the bad hole: the column counts characters.
(defagent translator :role :custom)

(defworkflow main [text]
  (spawn translator (fmt "Traduis en français — « naïf » : {txt}")))
