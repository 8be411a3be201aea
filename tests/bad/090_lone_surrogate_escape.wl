; expect: W0105 6:44
; `\ud83d` is half of a surrogate pair; alone it is not a character.
(defagent greeter :role :custom)

(defworkflow main [name]
  (spawn greeter (fmt "Say hello to {name} \ud83d and wave.")))
