; expect: W0306 8:56
; message: quarantined
; :maybe is not a trust level (one error; no quarantine cascade).
(defagent fetcher :role :explore)
(defagent writer :role :implement)

(defworkflow main [url]
  (let [page (spawn fetcher (fmt "Fetch {url}") :trust :maybe)]
    (spawn writer (fmt "Summarize: {page}"))))
