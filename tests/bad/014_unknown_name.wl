; expect: W0201 7:35
; message: did you mean `document`
; A typo in a workflow parameter name.
(defagent summarizer :role :custom :system "You summarize documents.")

(defworkflow main [document]
  (let [summary (spawn summarizer documnet)]
    summary))
