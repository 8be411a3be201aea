; expect: W0107 7:10
; `1abc` is neither a number nor a symbol.
(defagent editor :role :implement)

(defworkflow main [draft]
  (loop [d draft]
    :max 1abc
    (spawn editor (fmt "Tighten this draft:\n{d}"))))
