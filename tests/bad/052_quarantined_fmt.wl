; expect: W0401 16:48
;
; Raw output of a quarantined agent interpolated into another prompt.
; Reading a validated :returns field (facts.title) is fine.
(defagent web-reader
  :role :explore
  :trust :quarantined
  :system "You read untrusted web pages.")
(defagent writer :role :implement)
(defschema PageFacts {:title string :claims (list-of string)})

(defworkflow main [url]
  (let [facts (spawn web-reader (fmt "Extract facts from {url}") :returns PageFacts)
        raw (spawn web-reader (fmt "Fetch {url} and return the text"))]
    [(spawn writer (fmt "Write a summary titled {facts.title}."))
     (spawn writer (fmt "Summarize this page:\n{raw}"))]))
