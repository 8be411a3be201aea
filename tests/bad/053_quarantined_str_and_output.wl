; expect: W0401 9:39, W0401 10:48
;
; A spawn quarantined with :trust; its raw output reaches two prompts.
(defagent fetcher :role :explore)
(defagent writer :role :implement)

(defworkflow main [url]
  (let [page (spawn fetcher (fmt "Fetch {url}") :trust :quarantined)]
    [(spawn writer (str "Summarize: " page))
     (spawn writer (fmt "List the headings of: {page.output}"))]))
