; expect: W0106 6:8
; A triple-quoted prompt closed with only two quotes.
(defagent summarizer :role :custom)

(defn prompt-for [doc]
  (fmt """
    Summarize the document below in three bullet points.

    {doc}
    ""))

(defworkflow main [doc]
  (spawn summarizer (prompt-for doc)))
